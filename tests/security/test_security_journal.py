"""A journal found in a checkout is data someone else may have written (a pull request, an
unpacked archive): finishing an interrupted write only ever renames a temporary file talosnb
made (its naming, beside its target, a regular file of this user, not a symlink) onto a target
in the journal's own folder. Everything else is refused, named, and left alone; a journal that
git tracks is named as a likely attack. Each case is the attack itself, on copies of the real
Talos pkgs checkout, with a file outside the checkout that must not change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from engine_fixtures import DATA, SAMPLE
from faults import copy_checkouts, talosnb

from talosnb.core.errors import TalosnbWarning
from talosnb.core.fileio import JOURNAL_PREFIX, digest, recover
from talosnb.inputs.checkouts import PkgsCheckout

needs_shared = pytest.mark.skipif(not DATA["v1.10"].is_dir(), reason="../shared is not beside the project")
JOURNAL = f"{JOURNAL_PREFIX}20260101T000000-4242-0badc0de.json"
PAYLOAD = b"echo pwned\n"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main",
                    *args], cwd=cwd, check=True, capture_output=True)


def journal(folder: Path, renames: list[dict], *, folders: list[Path] | None = None,
            primary: Path | None = None) -> Path:
    body = {"format": 1, "id": JOURNAL[len(JOURNAL_PREFIX):-5], "primary": str(primary or folder),
            "folders": [str(f) for f in (folders or [folder])], "renames": renames}
    path = folder / JOURNAL
    path.write_text(json.dumps(body, indent=1, sort_keys=True))
    return path


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file outside every checkout (a shell start-up file)."""
    home = tmp_path / "home"
    home.mkdir()
    path = home / ".bashrc"
    path.write_text("# the user's own\n")
    return path


@pytest.fixture
def pkgs(tmp_path) -> Path:
    return copy_checkouts(DATA["v1.10"], tmp_path / "work") / "pkgs"


def recovered(folder: Path) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TalosnbWarning)
        recover(folder)
    return " ".join(str(w.message) for w in caught if issubclass(w.category, TalosnbWarning))


@needs_shared
def test_a_journal_committed_to_a_cloned_checkout_writes_nothing_outside_it(tmp_path, victim):
    """The pull-request attack: a journal and a payload committed into pkgs; the user clones it and
    opens it (any command does): the file outside stays, and the journal is called an attack."""
    origin = copy_checkouts(DATA["v1.10"], tmp_path / "origin") / "pkgs"
    clone = tmp_path / "clone"
    build = clone / "kernel" / "build"
    (origin / "kernel" / "build" / "payload").write_bytes(PAYLOAD)
    journal(origin / "kernel" / "build", [{"tmp": str(build / "payload"), "target": str(victim),
                                           "old": digest(victim.read_bytes()), "new": digest(PAYLOAD)}],
            folders=[build], primary=build)
    git(origin, "init", "-q")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "x")
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    with pytest.warns(TalosnbWarning, match="tracked by git") as caught:
        PkgsCheckout(clone)
    message = " ".join(str(w.message) for w in caught)
    assert "attack" in message and JOURNAL in message
    assert victim.read_text() == "# the user's own\n"
    assert (build / JOURNAL).exists() and (build / "payload").read_bytes() == PAYLOAD   # left alone


def _cases(build: Path, victim: Path) -> dict[str, tuple[list[dict], dict]]:
    tmp = build / ".config-amd64.talosnb-abcd1234.tmp"
    old = digest(victim.read_bytes())
    new = digest(PAYLOAD)
    return {
        "target outside the folder": ([{"tmp": str(tmp), "target": str(victim), "old": old, "new": new}], {}),
        "target reached by ..": ([{"tmp": str(tmp), "target": str(build / ".." / ".." / ".." / ".." / "home" / ".bashrc"),
                                   "old": old, "new": new}], {}),
        "new file outside (old null)": ([{"tmp": str(tmp), "target": str(victim.parent / ".profile"),
                                          "old": None, "new": new}], {}),
        "temp file elsewhere": ([{"tmp": str(victim), "target": str(build / "config-amd64"),
                                  "old": digest((build / "config-amd64").read_bytes()), "new": old}], {}),
        "temp file through /proc": ([{"tmp": "/proc/self/fd/0", "target": str(build / "config-amd64"),
                                      "old": digest((build / "config-amd64").read_bytes()), "new": new}], {}),
        "not talosnb's naming": ([{"tmp": str(build / "payload"), "target": str(build / "config-amd64"),
                                   "old": digest((build / "config-amd64").read_bytes()), "new": new}], {}),
        "a folder of its own naming another": ([{"tmp": str(victim.parent / ".bashrc.talosnb-abcd1234.tmp"),
                                                 "target": str(victim), "old": old, "new": new}],
                                               {"folders": [build, victim.parent], "primary": build}),
    }


@needs_shared
@pytest.mark.parametrize("case", ["target outside the folder", "target reached by ..", "new file outside (old null)",
                                  "temp file elsewhere", "temp file through /proc", "not talosnb's naming",
                                  "a folder of its own naming another"])
def test_a_journal_naming_anything_but_its_own_temp_and_folder_is_refused(pkgs, victim, case):
    build = pkgs / "kernel" / "build"
    before = {p.name: p.read_bytes() for p in build.iterdir() if p.is_file()}
    (build / ".config-amd64.talosnb-abcd1234.tmp").write_bytes(PAYLOAD)
    (build / "payload").write_bytes(PAYLOAD)
    (victim.parent / ".bashrc.talosnb-abcd1234.tmp").write_bytes(PAYLOAD)
    renames, extra = _cases(build, victim)[case]
    journal(build, renames, **extra)
    message = recovered(build)
    assert "refused" in message and JOURNAL in message, message
    assert victim.read_text() == "# the user's own\n" and not (victim.parent / ".profile").exists()
    for name, data in before.items():
        assert (build / name).read_bytes() == data, name
    assert (build / JOURNAL).exists()   # left alone for the user to look at
    assert (victim.parent / ".bashrc.talosnb-abcd1234.tmp").exists()


@needs_shared
def test_a_temp_file_that_is_a_symlink_or_another_users_is_refused(pkgs, victim):
    build = pkgs / "kernel" / "build"
    config = build / "config-amd64"
    before = config.read_bytes()
    tmp = build / ".config-amd64.talosnb-abcd1234.tmp"
    tmp.symlink_to(victim)
    journal(build, [{"tmp": str(tmp), "target": str(config), "old": digest(before),
                     "new": digest(victim.read_bytes())}])
    message = recovered(build)
    assert "refused" in message and "symlink" in message
    assert config.read_bytes() == before and tmp.is_symlink()
    tmp.unlink()
    if os.geteuid() == 0:   # a temporary file this user does not own (only root can make one here)
        tmp.write_bytes(PAYLOAD)
        os.chown(tmp, 12345, 12345)
        message = recovered(build)
        assert "refused" in message and "owned" in message
        assert config.read_bytes() == before


@needs_shared
def test_an_uncommitted_journal_never_deletes_a_file_that_is_not_its_temp(pkgs):
    """Undoing a write that never reached its commit point removes its temporary files: only those."""
    build = pkgs / "kernel" / "build"
    config = build / "config-amd64"
    before = config.read_bytes()
    elsewhere = pkgs.parent / "other"
    elsewhere.mkdir()
    journal(build, [{"tmp": str(config), "target": str(build / "config-arm64"), "old": None, "new": digest(b"")}],
            folders=[build, elsewhere], primary=elsewhere)
    message = recovered(build)
    assert "refused" in message
    assert config.read_bytes() == before


def test_an_oversized_or_linked_journal_is_refused(tmp_path, victim):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / JOURNAL).symlink_to(victim)
    assert "refused" in recovered(folder)
    assert victim.read_text() == "# the user's own\n" and (folder / JOURNAL).is_symlink()
    (folder / JOURNAL).unlink()
    (folder / JOURNAL).write_bytes(b" " * (2 << 20))
    assert "refused" in recovered(folder)


def test_get_on_a_cloned_checkout_with_a_planted_journal_leaves_the_outside_alone(tmp_path, victim):
    """The whole program, as the attack ran it: a read-only `get` on a fresh clone."""
    origin = tmp_path / "origin"
    shutil.copytree(SAMPLE / "pkgs", origin)
    clone = tmp_path / "clone"
    build = clone / "kernel" / "build"
    (origin / "kernel" / "build" / ".bashrc.talosnb-abcd1234.tmp").write_bytes(PAYLOAD)
    journal(origin / "kernel" / "build",
            [{"tmp": str(build / ".bashrc.talosnb-abcd1234.tmp"), "target": str(victim),
              "old": digest(victim.read_bytes()), "new": digest(PAYLOAD)}], folders=[build], primary=build)
    git(origin, "init", "-q")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "x")
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    run = talosnb("get", "CONFIG_NET", "--pkgs", str(clone), "--talos", str(SAMPLE / "talos"),
                  "--kernel-src", str(SAMPLE / "linux"), env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")})
    assert victim.read_text() == "# the user's own\n"
    assert "tracked by git" in run.stderr and "attack" in run.stderr, run.stderr
    assert run.returncode == 0, run.stderr
