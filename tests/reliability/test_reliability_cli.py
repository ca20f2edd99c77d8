"""The whole write path as users run it (the Workspace save behind set/merge/normalize/modules, the
talosnb program): kill -9 and Ctrl-C at random points, concurrent runs, a full disk, a read-only
folder, and a bug, each ending truthfully."""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from engine_fixtures import DATA, SAMPLE, SHARED
from faults import KILLED, ROOT, LineKiller, copy_checkouts, fork, leftovers, talosnb, tmpfs

from talosnb import __version__
from talosnb.app.workspace import Workspace
from talosnb.cli.main import main
from talosnb.core import fileio
from talosnb.core.errors import TalosnbWarning
from talosnb.inputs.checkouts import PkgsCheckout, TalosCheckout

needs_shared = pytest.mark.skipif(not DATA["v1.10"].is_dir(), reason="../shared is not beside the project")
TARBALL = SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"
NOISE = ("Traceback", "Exception ignored", "KeyboardInterrupt", "threading")


def four_files(root: Path) -> dict[str, Path]:
    out = {f"config-{a}": root / "pkgs" / "kernel" / "build" / f"config-{a}" for a in ("amd64", "arm64")}
    out.update({f"modules-{a}.txt": root / "talos" / "hack" / f"modules-{a}.txt" for a in ("amd64", "arm64")})
    return out


def state(paths: dict[str, Path], old: dict[str, bytes], new: dict[str, bytes] | None = None) -> str:
    now = {name: p.read_bytes() for name, p in paths.items()}
    if now == old:
        return "old"
    if new is not None and now == new:
        return "new"
    return "mixed: " + ", ".join(n for n in now if now[n] != old[n])


def reopen(root: Path) -> list[str]:
    """What the next run does first: open the checkouts (finishing an interrupted write)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TalosnbWarning)
        PkgsCheckout(root / "pkgs")
        TalosCheckout(root / "talos")
    return [str(w.message) for w in caught]


def folders(root: Path) -> list[Path]:
    return [root / "pkgs" / "kernel" / "build", root / "talos" / "hack"]


# --------------------------------------------------------------------------- kill -9 in a save

@needs_shared
@pytest.mark.parametrize("half", [0, 1])
def test_kill_at_random_points_of_a_save_of_configs_and_module_lists(tmp_path, monkeypatch, half, engine_cache):
    """A real set (ATA_OVER_ETH=m, which also adds aoe.ko to both module lists) saved by the
    Workspace, as `talosnb set --add-to-module-list` does; kill -9 at a random line of the write:
    after the next open, all four files are old or all four are new, nothing is left behind."""
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    root = copy_checkouts(DATA["v1.10"], tmp_path / "work")
    paths = four_files(root)
    old = {n: p.read_bytes() for n, p in paths.items()}
    ws = Workspace.open(root / "pkgs", root / "talos", TARBALL)
    outcome = ws.set(["ATA_OVER_ETH=m"], fix=False, add_to_module_list=True)
    assert outcome.blocked is None and all(p.changed for p in ws.pending())
    count_r, count_w = os.pipe()
    commit = fileio.Transaction.commit

    def traced(killer: LineKiller):
        # trace only the transaction (tracing all of a save would make each run seconds long)
        def run(self):
            with killer:
                return commit(self)
        return run

    def count() -> None:
        killer = LineKiller(fileio.__file__)
        fileio.Transaction.commit = traced(killer)
        ws.save(allow_drop=True)
        os.write(count_w, str(killer.count).encode())
    assert fork(count) == 0
    total = int(os.read(count_r, 64))
    new = {n: p.read_bytes() for n, p in paths.items()}
    assert all(new[n] != old[n] for n in paths) and b"CONFIG_ATA_OVER_ETH=m\n" in new["config-arm64"]
    rng = random.Random(1500 + half)
    seen = {"old": 0, "new": 0}
    for at in sorted(rng.sample(range(1, total + 1), 26)):
        for n, p in paths.items():
            p.write_bytes(old[n])

        def child(at=at) -> None:
            fileio.Transaction.commit = traced(LineKiller(fileio.__file__, at))
            ws.save(allow_drop=True)
        assert fork(child) == KILLED
        reopen(root)
        now = state(paths, old, new)
        assert now in ("old", "new"), f"killed at line {at} of {total}: {now}"
        assert not leftovers(*folders(root)), (at, leftovers(*folders(root)))
        seen[now] += 1
    assert seen["old"] and seen["new"], seen


# --------------------------------------------------------------------------- Ctrl-C, SIGTERM

SLOW_WRITES = '''
import os, time
_replace, _fsync = os.replace, os.fsync
def replace(src, dst, **kwargs):
    if ".talosnb-" in str(src):
        time.sleep(0.12)          # widen the window between two renames
    return _replace(src, dst, **kwargs)
def fsync(fd):
    time.sleep(0.03)
    return _fsync(fd)
os.replace, os.fsync = replace, fsync
'''


@pytest.fixture
def slow_writes(tmp_path) -> Path:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_WRITES)
    return hook


def sample_copy(tmp_path: Path) -> Path:
    root = tmp_path / "s"
    for name in ("pkgs", "talos", "linux"):
        import shutil
        shutil.copytree(SAMPLE / name, root / name)
    return root


def sample_args(root: Path) -> list[str]:
    return ["--pkgs", str(root / "pkgs"), "--talos", str(root / "talos"), "--kernel-src", str(root / "linux")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_set_says_truthfully_what_was_written(tmp_path, slow_writes, signum):
    """Ctrl-C (or SIGTERM) at random moments of `talosnb set` on both arches: exit 130 with the files
    written completely named (or 'nothing was written'), which is exactly what is on disk; no
    Python noise; never a mix of old and new after the next run."""
    root = sample_copy(tmp_path)
    paths = {n: p for n, p in four_files(root).items()}
    old = {n: p.read_bytes() for n, p in paths.items()}
    env = {"TALOSNB_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": f"{slow_writes}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "talosnb", "set", "CRYPTO_USER=y", "TLS=y", *sample_args(root),
               "--ignore-module-list"]
    full = {**os.environ, **env}
    done = subprocess.run(command, capture_output=True, text=True, env=full, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    new = {n: p.read_bytes() for n, p in paths.items()}
    # the runs below find the cache warm: time one such run (the first one also parsed the tree)
    for n, p in paths.items():
        p.write_bytes(old[n])
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=full, check=False, timeout=120)
    duration = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    rng = random.Random(int(signum))
    outcomes = {}
    for _ in range(12):
        for n, p in paths.items():
            p.write_bytes(old[n])
        started = time.monotonic()
        # a test runner's worker may ignore SIGINT, and a child inherits that: give it the default back
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
        # most of a run is starting and loading; aim at the write, which comes last
        time.sleep(duration * rng.uniform(0.45, 1.0))
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            # it ended before the signal: runs got faster (the other tests' load changes), aim earlier
            duration = min(duration, time.monotonic() - started) * 0.8
        for word in NOISE:
            assert word not in err, err
        if proc.returncode == 0:
            outcome = "finished"
            assert state(paths, old, new) == "new"
        else:
            assert proc.returncode == 130, (proc.returncode, err)
            assert "interrupted" in err
            said = re.search(r"written completely before the interruption: (.*); nothing else was changed", err)
            on_disk = {n for n, p in paths.items() if p.read_bytes() != old[n]}
            if said:
                outcome = "written"
                assert {Path(f).name for f in said[1].split(", ")} == on_disk, err
            else:
                outcome = "nothing"
                assert "nothing was written" in err and not on_disk, err
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        reopen(root)
        assert state(paths, old, new) in ("old", "new")
        assert not leftovers(*folders(root))
    assert len(outcomes) >= 2, outcomes   # the signals fell in different phases


def test_killed_run_is_finished_by_the_next_run_which_says_so(tmp_path):
    root = sample_copy(tmp_path)
    paths = four_files(root)
    old = {n: p.read_bytes() for n, p in paths.items()}
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text('''
import os
_replace = os.replace
_done = []
def replace(src, dst, **kwargs):
    result = _replace(src, dst, **kwargs)
    if ".talosnb-" in str(src) and "journal" not in str(src):
        _done.append(dst)
        if len(_done) == 1:
            os.kill(os.getpid(), 9)   # right after the first of the renames
    return result
os.replace = replace
''')
    env = {"TALOSNB_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": f"{hook}{os.pathsep}{ROOT}"}
    killed = subprocess.run([sys.executable, "-m", "talosnb", "set", "CRYPTO_USER=y", *sample_args(root),
                             "--ignore-module-list"], capture_output=True, text=True,
                            env={**os.environ, **env}, check=False, timeout=120)
    assert killed.returncode == -9
    assert state(paths, old).startswith("mixed")   # one config written, the other pending
    after = talosnb("get", "CRYPTO_USER", *sample_args(root), env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")})
    assert after.returncode == 0, after.stderr
    assert "talosnb: warning: an earlier talosnb run was interrupted while writing; finished writing" in after.stderr
    assert "config-amd64" in after.stderr or "config-arm64" in after.stderr
    configs = [p.read_text() for n, p in paths.items() if n.startswith("config")]
    assert all("CONFIG_CRYPTO_USER=y\n" in text for text in configs)
    assert not leftovers(*folders(root))


# --------------------------------------------------------------------------- concurrent runs

def test_concurrent_set_runs_serialize_or_refuse(tmp_path, monkeypatch):
    """Pairs of `talosnb set` runs started together on one checkout, each changing another symbol
    on both arches: a run that says it wrote has its change in the files; a refused one exits 1
    saying the files changed on disk; never two 'written' with one change lost."""
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    root = sample_copy(tmp_path)
    configs = {n: p for n, p in four_files(root).items() if n.startswith("config")}
    old = {n: p.read_bytes() for n, p in configs.items()}
    args = sample_args(root)
    with contextlib.redirect_stdout(io.StringIO()):
        # trees parsed and cached, every module imported, before the runs are forked
        assert main(["set", "CRYPTO_USER=y", *args, "--ignore-module-list", "--dry-run"]) == 0
    requests = {"a": ("CRYPTO_USER=y", b"CONFIG_CRYPTO_USER=y\n"), "b": ("TLS=y", b"CONFIG_TLS=y\n")}
    tally = {}
    for pair in range(52):
        for n, p in configs.items():
            p.write_bytes(old[n])
        go_r, go_w = os.pipe()
        pids = {}
        for tag, (assignment, _) in requests.items():
            pid = os.fork()
            if pid == 0:  # pragma: no cover -- a talosnb run
                code = 99
                try:
                    os.read(go_r, 1)
                    if tag == "b" and pair % 2:
                        time.sleep(random.random() * 0.01)
                    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as e:
                        code = main(["set", assignment, *args, "--ignore-module-list", "--no-fix"])
                    if code == 1 and "changed on disk" not in e.getvalue():
                        code = 98
                finally:
                    os._exit(code)
            pids[tag] = pid
        os.write(go_w, b"ab")
        codes = {tag: os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for tag, pid in pids.items()}
        os.close(go_r)
        os.close(go_w)
        assert set(codes.values()) <= {0, 1}, codes
        assert 0 in codes.values(), codes
        for tag, code in codes.items():
            if code == 0:
                assert all(requests[tag][1] in p.read_bytes() for p in configs.values()), (pair, tag)
        key = "both written" if list(codes.values()) == [0, 0] else "one refused"
        tally[key] = tally.get(key, 0) + 1
        assert not leftovers(*folders(root))
    assert tally.get("one refused"), tally


# --------------------------------------------------------------------------- disk full, read-only

@needs_shared
def test_disk_full_during_a_two_arch_set(tmp_path, engine_cache):
    size = sum(p.stat().st_size for p in four_files(DATA["v1.10"]).values())
    with tmpfs(tmp_path / "disk", size // 1024 + 400) as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here (the injected ENOSPC tests cover the same path)")
        root = copy_checkouts(DATA["v1.10"], disk)
        paths = four_files(root)
        old = {n: p.read_bytes() for n, p in paths.items()}
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        # room for one new config, not for two
        (disk / "filler").write_bytes(b"\0" * (free - len(old["config-amd64"]) - 32 * 1024))
        result = talosnb("set", "ATA_OVER_ETH=m", "--add-to-module-list", "--allow-drop", "--no-fix",
                         "--pkgs", str(root / "pkgs"), "--talos", str(root / "talos"), "--kernel-src", str(TARBALL),
                         env={"TALOSNB_CACHE_DIR": str(engine_cache)})
        assert result.returncode == 2, result.stderr
        assert "No space left on device" in result.stderr and "nothing was written" in result.stderr
        assert "free some space" in result.stderr
        for word in NOISE:
            assert word not in result.stderr
        assert state(paths, old) == "old" and not leftovers(*folders(root))


def test_read_only_module_list_folder_leaves_the_configs_unchanged(tmp_path):
    """set DUMMY=m --add-to-module-list writes both configs and modules-arm64.txt in one save; with
    hack/ immutable the list can't be written, and so neither config is."""
    root = sample_copy(tmp_path)
    paths = four_files(root)
    old = {n: p.read_bytes() for n, p in paths.items()}
    hack = root / "talos" / "hack"
    if subprocess.run(["chattr", "+i", str(hack)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not possible here")
    try:
        result = talosnb("set", "DUMMY=m", "--add-to-module-list", *sample_args(root),
                         env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")})
    finally:
        subprocess.run(["chattr", "-i", str(hack)], check=False)
    assert result.returncode == 2, result.stderr
    assert "Operation not permitted" in result.stderr and str(hack / "modules-arm64.txt") in result.stderr
    assert "nothing was written" in result.stderr and "config-amd64" in result.stderr
    for word in NOISE:
        assert word not in result.stderr
    assert state(paths, old) == "old" and not leftovers(*folders(root))


# --------------------------------------------------------------------------- the last resort

def test_an_unexpected_exception_is_a_bug_report_with_the_version_exit_3(tmp_path, monkeypatch, capsys):
    root = sample_copy(tmp_path)
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    import talosnb.cli.get as get_command

    def broken(args):
        return {}["no such key"]
    monkeypatch.setattr(get_command, "run", broken)
    assert main(["get", "MODULES", *sample_args(root)]) == 3
    err = capsys.readouterr().err
    assert f"bug in talosnb {__version__}" in err and "KeyError" in err and "please report it" in err
    assert "Traceback" not in err and "TALOSNB_DEBUG=1" in err
    monkeypatch.setenv("TALOSNB_DEBUG", "1")
    assert main(["get", "MODULES", *sample_args(root), "--format", "json"]) == 3
    captured = capsys.readouterr()
    assert "Traceback" in captured.err and '"bug": true' in captured.out and '"exit_code": 3' in captured.out


def test_an_os_error_no_check_caught_names_the_path_exit_2(tmp_path, monkeypatch, capsys):
    root = sample_copy(tmp_path)
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    import talosnb.cli.get as get_command

    def unreadable(args):
        raise PermissionError(13, "Permission denied", str(root / "pkgs" / "somewhere"))
    monkeypatch.setattr(get_command, "run", unreadable)
    assert main(["get", "MODULES", *sample_args(root)]) == 2
    err = capsys.readouterr().err
    assert f"{root / 'pkgs' / 'somewhere'}: cannot access it: Permission denied" in err
    assert "check the permissions" in err


def test_ctrl_c_during_start_up_is_an_interruption_not_a_traceback(tmp_path):
    """Ctrl-C while Python is still importing talosnb (the first tenths of a second of any command):
    exit 130 with a one-line message, no traceback, or the command finished before the signal."""
    root = sample_copy(tmp_path)
    env = {**os.environ, "TALOSNB_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "talosnb", "get", "DUMMY", *sample_args(root)]
    # Python's own start (before any talosnb code runs) is not talosnb's to handle: aim past it
    bare = []
    for _ in range(3):
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        bare.append(time.monotonic() - start)
    python_start = sorted(bare)[1]
    interrupted = 0
    for delay in (python_start + d for d in (0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3)):
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
        if err.startswith("Fatal Python error: init_import_site"):
            continue      # this run was still in Python's own start (a loaded machine)
        for word in NOISE:
            assert word not in err, (delay, err)
        assert proc.returncode in (0, 130), (delay, proc.returncode, err)
        if proc.returncode == 130:
            interrupted += 1
            assert "interrupted" in err, err
    assert interrupted, "every run finished before its Ctrl-C: nothing was tested"
