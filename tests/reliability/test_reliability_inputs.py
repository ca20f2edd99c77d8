"""Bad input never gets a traceback or a silent guess: each malformed input below, given to the
command line on a copy of the real Talos v1.10 checkouts, gets a message naming the file (and line)
and what to do, the documented exit code, and no file anywhere in the checkouts changes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from engine_fixtures import DATA, SAMPLE
from faults import can_drop_privileges, copy_checkouts, talosnb

from talosnb.cli.main import main

pytestmark = pytest.mark.skipif(not DATA["v1.10"].is_dir(), reason="../shared is not beside the project")


def digest_all(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            out[str(path)] = "dir"
    return out


def config(root: Path, arch: str = "amd64") -> Path:
    return root / "pkgs" / "kernel" / "build" / f"config-{arch}"


def module_list(root: Path, arch: str = "arm64") -> Path:
    return root / "talos" / "hack" / f"modules-{arch}.txt"


def edit_config(root: Path, change: Callable[[str], str], arch: str = "amd64") -> None:
    path = config(root, arch)
    path.write_bytes(change(path.read_bytes().decode()).encode("utf-8", "surrogateescape"))


def insert_line(line: str, before: str = "CONFIG_NR_CPUS=") -> Callable[[str], str]:
    return lambda text: text.replace(before, f"{line}\n{before}", 1)


def cut_in_a_menu(text: str) -> str:
    # end the file right after a line inside 'Device Drivers', at a line boundary
    start = text.index("\n# Device Drivers\n")
    return text[: text.index("\n", start + 5000) + 1]


@dataclass
class Case:
    args: list[str]                      # the command and its own arguments ({root}, {tree} filled in)
    code: int
    says: tuple[str, ...]                # every one of these is in the output
    setup: Callable[[Path], None] | None = None
    never: tuple[str, ...] = ()          # none of these is
    inputs: bool = True                  # add --pkgs/--talos/--kernel-src


def fragment(text: str, name: str = "frag.config") -> Callable[[Path], None]:
    return lambda root: (root / name).write_text(text)


CASES: dict[str, Case] = {
    # --- config files: truncated, damaged, split differently by other tools
    "config cut mid-line": Case(["normalize", "--arch", "amd64"], 2, ("ends in the middle of line",
                                "looks truncated", "config-amd64:"),
                                lambda r: edit_config(r, lambda t: t[: len(t) * 2 // 3])),
    "config cut at a line end inside a menu": Case(["normalize", "--arch", "amd64"], 2,
                                                   ("lacks the '# end of", "looks truncated"),
                                                   lambda r: edit_config(r, cut_in_a_menu),
                                                   never=("--allow-drop", "not defined")),
    "config empty": Case(["normalize", "--arch", "amd64"], 2, ("config is empty",),
                         lambda r: config(r).write_text("")),
    "config line without value": Case(["normalize", "--arch", "amd64"], 2, ("malformed line 'CONFIG_MODULES'",),
                                      lambda r: edit_config(r, insert_line("CONFIG_MODULES"))),
    "config bad bool": Case(["get", "MODULES"], 2, ("'maybe' is not a valid bool value for CONFIG_MODULES",),
                            lambda r: edit_config(r, insert_line("CONFIG_MODULES=maybe"))),
    "config unquoted string": Case(["normalize", "--arch", "amd64"], 2, ("not a valid string value",),
                                   lambda r: edit_config(r, insert_line("CONFIG_LOCALVERSION=talos"))),
    "config space after value": Case(["normalize", "--arch", "amd64"], 2, ("whitespace after the value",),
                                     lambda r: edit_config(r, lambda t: t.replace("CONFIG_NR_CPUS=512",
                                                                                  "CONFIG_NR_CPUS=512 ", 1))),
    "config text after is not set": Case(["normalize", "--arch", "amd64"], 2, ("text after 'is not set'",),
                                         lambda r: edit_config(r, insert_line("# CONFIG_MODULES is not set (why)"))),
    "config form feed inside a line": Case(["get", "NR_CPUS", "--arch", "amd64"], 2, ("not a valid int value",),
                                           lambda r: edit_config(r, lambda t: t.replace(
                                               "CONFIG_NR_CPUS=512", "CONFIG_NR_CPUS=7\fCONFIG_NR_CPUS=64", 1))),
    "config U+2028 inside a line": Case(["get", "NR_CPUS", "--arch", "amd64"], 2, ("whitespace after the value",),
                                        lambda r: edit_config(r, lambda t: t.replace(
                                            "CONFIG_NR_CPUS=512", "CONFIG_NR_CPUS=7\u2028", 1))),
    "config with a BOM": Case(["normalize", "--arch", "amd64"], 2, ("malformed line '\\ufeff#'",),
                              lambda r: edit_config(r, lambda t: "\ufeff" + t)),
    "config NUL byte": Case(["normalize", "--arch", "amd64"], 2, ("not a valid bool value",),
                            lambda r: edit_config(r, lambda t: t.replace("CONFIG_MODULES=y", "CONFIG_MODULES=y\0", 1))),
    "config not UTF-8": Case(["normalize", "--arch", "amd64"], 2, ("is not UTF-8 text",),
                             lambda r: config(r).write_bytes(config(r).read_bytes() + b"# \xff\xfe\n")),
    "config of the other arch": Case(["normalize", "--arch", "amd64"], 2, ("this is a Linux/arm64 config",),
                                     lambda r: shutil.copy(config(r, "arm64"), config(r))),
    "config is a folder": Case(["normalize", "--arch", "amd64"], 2, ("is a folder, expected a file",),
                               lambda r: (config(r).unlink(), config(r).mkdir())),
    "config missing": Case(["normalize", "--arch", "amd64"], 2, ("kernel config for amd64 not found",),
                           lambda r: config(r).unlink()),
    "config line for an unknown symbol": Case(["normalize", "--arch", "amd64"], 1,
                                              ("CONFIG_TALOSNB_NO_SUCH is not defined", "--allow-drop"),
                                              lambda r: edit_config(r, insert_line("CONFIG_TALOSNB_NO_SUCH=y"))),
    "config of another series, even with --allow-drop": Case(
        ["normalize", "--allow-drop"], 1, ("made for Linux 6.18.45", "another series", "--allow-series-change",
                                            "nothing was written"),
        lambda r: [shutil.copy(DATA["main"] / "pkgs" / "kernel" / "build" / f"config-{a}", config(r, a))
                   for a in ("amd64", "arm64")]),
    # --- set
    "set: not an assignment": Case(["set", "BLK_DEV_NBD"], 2, ("argument 1: not an assignment",)),
    "set: a symbol twice": Case(["set", "ATA_OVER_ETH=m", "CONFIG_ATA_OVER_ETH=y"], 2,
                                ("given more than once: CONFIG_ATA_OVER_ETH (m, y)",)),
    "set: unknown symbol": Case(["set", "TALOSNB_NO_SUCH=y"], 2, ("CONFIG_TALOSNB_NO_SUCH is not defined",)),
    "set: bad value": Case(["set", "MODULES=maybe"], 2, ("'maybe' is not a valid value for CONFIG_MODULES",)),
    "set: two bad values, both said": Case(["set", "MODULES=maybe", "NR_CPUS=many"], 2,
                                           ("2 bad values", "CONFIG_MODULES", "CONFIG_NR_CPUS")),
    "set: module list without talos": Case(["set", "ATA_OVER_ETH=m", "--add-to-module-list", "--pkgs", "{root}/pkgs",
                                            "--kernel-src", "{tree}"], 2, ("needs a talos checkout",), inputs=False),
    # --- merge
    "merge: every bad value": Case(["merge", "{root}/frag.config"], 2,
                                   ("frag.config:1", "frag.config:3", "frag.config:4"),
                                   fragment("CONFIG_MODULES=maybe\nCONFIG_ATA_OVER_ETH=m\nCONFIG_NR_CPUS=x\n"
                                            "CONFIG_HZ=fast\n")),
    "merge: lines that are not assignments": Case(["merge", "{root}/frag.config"], 2,
                                                  ("2 line(s) in the fragments are not assignments", "frag.config:2"),
                                                  fragment("CONFIG_MODULES=y\nMODULES\n\nnonsense here\n")),
    "merge: fragment missing": Case(["merge", "{root}/none.config"], 2, ("config fragment not found",)),
    "merge: fragment is a folder": Case(["merge", "{root}/pkgs"], 2, ("is a folder, expected a file",)),
    "merge: empty fragment": Case(["merge", "{root}/frag.config"], 2, ("hold no assignments",),
                                  fragment("# only a comment\n")),
    # --- module lists
    "modules: ../ entry": Case(["modules", "add", "../../etc/passwd"], 2, ("not a normalized path",),
                               never=("use etc/passwd", "use ../")),
    "modules: absolute entry": Case(["modules", "add", "/etc/passwd"], 2, ("absolute path",),
                                    never=("use etc/passwd",)),
    "modules: absolute entry leaving /lib/modules": Case(["modules", "add", "/lib/modules/6.12/../../../etc/passwd"],
                                                         2, ("absolute path",), never=("use etc/passwd", "use ..")),
    "modules: BOM in an entry": Case(["modules", "add", "\ufeffkernel/drivers/block/aoe/aoe.ko"], 2,
                                     ("invisible character U+FEFF", "use kernel/drivers/block/aoe/aoe.ko"),
                                     never=("kernel/\ufeff",)),
    "modules: list with CRLF": Case(["check"], 2, ("carriage return", "modules-arm64.txt:1"),
                                    lambda r: module_list(r).write_bytes(module_list(r).read_bytes().replace(b"\n", b"\r\n"))),
    "modules: list with a comment": Case(["check"], 2, ("comments are not allowed", "modules-arm64.txt:1"),
                                         lambda r: module_list(r).write_text("# mine\n" + module_list(r).read_text())),
    "modules: list is a folder": Case(["check"], 2, ("is a folder, expected a file",),
                                      lambda r: (module_list(r).unlink(), module_list(r).mkdir())),
    "modules: an entry naming nothing": Case(["modules", "add", "talosnb_no_such_module"], 2,
                                             ("talosnb_no_such_module",)),
    "modules: list is a symlink out of the checkout": Case(
        ["modules", "add", "aoe"], 1, ("is a symlink to", "--follow-symlinks", "nothing was written"),
        lambda r: ((r / "elsewhere.txt").write_bytes(module_list(r).read_bytes()), module_list(r).unlink(),
                   module_list(r).symlink_to(r / "elsewhere.txt"))),
    # --- compare
    "compare: unknown values": Case(["compare", "--values", "q,z"], 2, ("no symbol has the value 'q'",)),
    "compare: one value": Case(["compare", "--values", "m"], 2, ("expected two values",)),
    "compare: one arch": Case(["compare", "--arch", "amd64"], 2, ("leaves one out",)),
    # --- the inputs themselves
    "pkgs folder missing": Case(["get", "MODULES", "--pkgs", "{root}/nowhere", "--kernel-src", "{tree}"], 2,
                                ("pkgs checkout not found", "/nowhere"), inputs=False),
    "pkgs is a file": Case(["get", "MODULES", "--pkgs", "{root}/pkgs/Pkgfile", "--kernel-src", "{tree}"], 2,
                           ("pkgs checkout is not a folder",), inputs=False),
    "kernel source neither folder nor tarball": Case(
        ["get", "MODULES", "--pkgs", "{root}/pkgs", "--kernel-src", "{root}/pkgs/Pkgfile"], 2,
        ("neither a folder nor a tarball",), inputs=False),
    "kernel tarball corrupt": Case(["get", "MODULES", "--pkgs", "{root}/pkgs", "--kernel-src", "{root}/bad.tar.xz"],
                                   2, ("corrupt or truncated", "bad.tar.xz"),
                                   lambda r: (r / "bad.tar.xz").write_bytes(b"\xfd7zXZ\0" + b"garbage" * 100),
                                   inputs=False),
    "Kconfig source naming a folder": Case(
        ["get", "MODULES", "--pkgs", "{root}/pkgs", "--kernel-src", "{root}/linux"], 2,
        ("Kconfig:", "names a folder"), lambda r: sample_tree_with(r, 'source "drivers"\n'), inputs=False),
    "Kconfig source of an unknown $(shell) in recorded mode": Case(
        ["get", "MODULES", "--pkgs", "{root}/pkgs", "--kernel-src", "{root}/linux"], 2,
        ("Kconfig:", "could not open"), lambda r: sample_tree_with(r, 'source "$(shell,echo drivers)"\n'),
        inputs=False),
    "unknown arch": Case(["get", "MODULES", "--arch", "x86"], 2, ("invalid choice",)),
}


def sample_tree_with(root: Path, line: str) -> None:
    shutil.copytree(SAMPLE / "linux", root / "linux")
    kconfig = root / "linux" / "Kconfig"
    kconfig.write_text(kconfig.read_text() + line)


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.fixture
def work(tmp_path, monkeypatch, engine_cache) -> Path:
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
        monkeypatch.delenv(name, raising=False)
    return copy_checkouts(DATA["v1.10"], tmp_path / "work")


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input(work, trees, capsys, name):
    case = CASES[name]
    if case.setup:
        case.setup(work)
    before = digest_all(work)
    fill = {"root": str(work), "tree": str(trees["6.12"])}
    args = [a.format(**fill) for a in case.args]
    if case.inputs:
        args += ["--pkgs", str(work / "pkgs"), "--talos", str(work / "talos"), "--kernel-src", str(trees["6.12"])]
    try:
        code = main(args)
    except SystemExit as e:   # argparse's own usage errors
        code = e.code
    out = capsys.readouterr()
    said = out.out + out.err
    assert code == case.code, said
    for text in case.says:
        assert text in said, said
    for text in case.never:
        assert text not in said, said
    assert "Traceback" not in said and "internal error" not in said
    assert digest_all(work) == before, "a file changed"


# --------------------------------------------------------------------------- permissions

needs_unprivileged = pytest.mark.skipif(not can_drop_privileges(), reason="cannot drop root's file privileges here")


@needs_unprivileged
@pytest.mark.parametrize("folder, says", [
    ("pkgs", "cannot open the pkgs checkout"),
    ("pkgs/kernel/build", "kernel/build"),
    ("talos/hack", "talos/hack"),
    ("talos", "cannot open the talos checkout"),
])
def test_unreadable_folder_is_named(work, trees, folder, says):
    target = work / folder
    before = digest_all(work)
    target.chmod(0)
    try:
        result = talosnb("check", "--pkgs", str(work / "pkgs"), "--talos", str(work / "talos"), "--kernel-src",
                         str(trees["6.12"]), preexec="unprivileged",
                         env={"TALOSNB_CACHE_DIR": os.environ["TALOSNB_CACHE_DIR"]})
    finally:
        target.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert digest_all(work) == before


@needs_unprivileged
def test_unreadable_config_is_named(work, trees):
    config(work).chmod(0)
    try:
        result = talosnb("get", "MODULES", "--pkgs", str(work / "pkgs"), "--kernel-src", str(trees["6.12"]),
                         preexec="unprivileged", env={"TALOSNB_CACHE_DIR": os.environ["TALOSNB_CACHE_DIR"]})
    finally:
        config(work).chmod(0o644)
    assert result.returncode == 2 and str(config(work)) in result.stderr, result.stderr
    assert "permission denied" in result.stderr.lower() and "Traceback" not in result.stderr


@needs_unprivileged
def test_unreadable_cache_folder(tmp_path):
    """The caches are only an optimisation: an unreadable one is said, and the work done without it;
    a tarball, which must be extracted somewhere, is a clear error naming the folder."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "kconfig").mkdir()
    for folder in (cache / "kconfig", cache):
        folder.chmod(0)
    try:
        env = {"TALOSNB_CACHE_DIR": str(cache)}
        args = ["--pkgs", str(SAMPLE / "pkgs"), "--kernel-src", str(SAMPLE / "linux")]
        result = talosnb("get", "MODULES", *args, preexec="unprivileged", env=env)
        assert result.returncode == 0, result.stderr
        assert "talosnb: warning:" in result.stderr and "cache" in result.stderr
        tarball = tmp_path / "linux-6.12.0.tar.xz"
        from talosnb.inputs.kernel_tree import write_tarball
        write_tarball(SAMPLE / "linux", tarball, top="linux-6.12.0")
        result = talosnb("get", "MODULES", "--pkgs", str(SAMPLE / "pkgs"), "--kernel-src", str(tarball),
                         preexec="unprivileged", env=env)
        assert result.returncode == 2, result.stderr
        assert str(cache) in result.stderr and "TALOSNB_CACHE_DIR" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        for folder in (cache, cache / "kconfig"):
            folder.chmod(0o755)


def test_the_program_itself_never_prints_a_traceback_for_bad_input(work, trees):
    """One run through a fresh interpreter (the others call main() in this process)."""
    edit_config(work, lambda t: t[: len(t) // 2])
    result = talosnb("normalize", "--pkgs", str(work / "pkgs"), "--kernel-src", str(trees["6.12"]),
                     env={"TALOSNB_CACHE_DIR": os.environ["TALOSNB_CACHE_DIR"]})
    assert result.returncode == 2 and "looks truncated" in result.stderr
    assert result.stderr.startswith("talosnb normalize: error: ") and "Traceback" not in result.stderr


def test_subprocess_helper_sanity():
    assert subprocess.run(["true"], check=False).returncode == 0


# --------------------------------------------------------------------------- honest answers

@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_every_cut_of_a_real_config_is_called_truncated(trees, engine_cache, monkeypatch, arch):
    """Cut the real config at random points (mid-line or at a line end): each cut is reported as a
    truncated file, never as symbols the tree lacks (which once advised --allow-drop)."""
    import random

    from talosnb.core.errors import InputError
    from talosnb.kconfig.config import Config
    from talosnb.kconfig.tree import KconfigTree
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    tree = KconfigTree.load(trees["6.12"], arch)
    text = (DATA["v1.10"] / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text()
    assert Config.from_text(tree, text).text()   # the whole file loads
    rng = random.Random(arch)
    # the last top-level lines hold no menu: a cut there leaves a file conf could have written
    last_menu_end = text.rindex("# end of ")
    missed = []
    for _ in range(60):
        cut = rng.randrange(200, last_menu_end)
        for piece in (text[:cut], text[: text.rindex("\n", 0, cut) + 1]):
            with pytest.raises(InputError) as e:
                Config.from_text(tree, piece, source=f"config-{arch}")
            if "looks truncated" not in e.value.message:
                missed.append((cut, e.value.message[:80]))
    assert not missed


HOSTILE_LINES = ["CONFIG_NR_CPUS=7\fCONFIG_NR_CPUS=64", "CONFIG_NR_CPUS=7\u2028", "CONFIG_NR_CPUS=7 ",
                 "CONFIG_NR_CPUS=7\r", "CONFIG_NR_CPUS=7\x0b", "CONFIG_NR_CPUS=7\x1c", "CONFIG_NR_CPUS=7\x85",
                 "CONFIG_NR_CPUS=7\t", "CONFIG_MODULES=y\u2029", "# CONFIG_MODULES is not set\u2028",
                 "# CONFIG_MODULES is not set ", "# CONFIG_MODULES is not set\f", "\fCONFIG_NR_CPUS=7",
                 "CONFIG_LOCALVERSION=\"a\u2028b\"", "CONFIG_NR_CPUS=7\r\r", "CONFIG_NR_CPUS=\u0037"]


@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_checks_and_loader_read_every_line_alike(trees, engine_cache, monkeypatch, line):
    """One splitter (the kernel's: at \\n only): a line the checks accept is loaded with exactly the
    value they saw; any line the two could read differently is refused."""
    from talosnb.core import dotconfig
    from talosnb.core.errors import InputError
    from talosnb.kconfig.config import Config
    from talosnb.kconfig.tree import KconfigTree
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    tree = KconfigTree.load(trees["6.12"], "amd64")
    text = (DATA["v1.10"] / "pkgs" / "kernel" / "build" / "config-amd64").read_text()
    edited = text.replace("CONFIG_NR_CPUS=512\n", line + "\n", 1)
    try:
        config = Config.from_text(tree, edited)
    except InputError as e:
        assert "config-" in e.message or "<config>" in e.message or "line" in e.message
        return
    # accepted: every value loaded is the value of the (last) line as conf reads it
    last = {}
    for raw in dotconfig.split_lines(edited):
        parsed = dotconfig.parse_line(raw)
        if parsed and parsed.symbol in ("NR_CPUS", "MODULES", "LOCALVERSION"):
            last[parsed.symbol] = dotconfig.unquote(parsed.value) if parsed.is_set else "n"
    for symbol, expected in last.items():
        assert config.value(symbol) == expected, (line, symbol)
