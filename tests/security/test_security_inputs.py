"""Bad input ends with a message, never a hang, a memory blow-up or a traceback: a config that is a
symlink to /dev/zero or a FIFO is refused before it is read; a notebook parameter of 5000 digits or
1e400 is refused (exit 2) instead of crashing or passing inf on. On a copy of the embedded sample."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from engine_fixtures import SAMPLE
from faults import can_drop_privileges, talosnb

from talosnb.core.errors import InputError
from talosnb.core.fileio import read_text
from talosnb.present.notebook import parse_value


@pytest.fixture
def sample(tmp_path) -> Path:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    return root


def args(root: Path) -> list[str]:
    return ["--pkgs", str(root / "pkgs"), "--talos", str(root / "talos"), "--kernel-src", str(root / "linux")]


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_a_config_that_is_a_device_or_a_fifo_is_refused_not_read(sample, tmp_path, kind):
    config = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    config.unlink()
    if kind == "dev-zero":
        config.symlink_to("/dev/zero")
    else:
        os.mkfifo(config)
    run = talosnb("get", "DEFAULT_HOSTNAME", "--arch", "amd64", *args(sample),
                  env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")}, timeout=60)
    assert run.returncode == 2, run.stderr
    assert "not a regular file" in run.stderr and "config-amd64" in run.stderr


def test_an_oversized_text_input_is_refused(tmp_path, monkeypatch):
    from talosnb.core import fileio
    monkeypatch.setattr(fileio, "MAX_TEXT_BYTES", 1000)
    big = tmp_path / "config"
    big.write_text("# x\n" * 1000)
    with pytest.raises(InputError, match="larger than"):
        read_text(big, what="config")


@pytest.mark.parametrize("value", ["1e400", "-1e999", "9" * 5000])
def test_an_absurd_number_parameter_is_refused(value):
    with pytest.raises(InputError, match="number"):
        parse_value(value)


def test_export_with_an_absurd_number_exits_2(tmp_path):
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "00-workbench.ipynb"
    run = talosnb("export", str(notebook), "-o", str(tmp_path / "out.html"), "-p", "arch", "1e400",
                  env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")}, timeout=120)
    assert run.returncode == 2 and "too large" in run.stderr, run.stderr


def with_cr(config: Path, which: str) -> int:
    """Give the config CR LF line endings (every line, or only one): returns the first such line."""
    lines = config.read_bytes().split(b"\n")
    first = 1 if which == "every line" else next(i for i, ln in enumerate(lines, 1) if ln.startswith(b"CONFIG_"))
    if which == "every line":
        lines = [ln + b"\r" if ln else ln for ln in lines]
    else:
        lines[first - 1] += b"\r"
    config.write_bytes(b"\n".join(lines))
    return first


@pytest.mark.parametrize("which", ["every line", "one line"])
def test_cr_line_endings_fail_the_olddefconfig_gate_naming_the_line(sample, which):
    from engine_fixtures import open_session

    from talosnb.analyses.gates import olddefconfig_gate
    config = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    first = with_cr(config, which)
    session = open_session(Path(os.environ["TALOSNB_CACHE_DIR"]), pkgs=sample / "pkgs", talos=sample / "talos",
                           kernel_src=sample / "linux", arch="amd64", kbuild=False)
    result = olddefconfig_gate(session.configs["amd64"])
    assert result.status == "fail", result.summary
    [finding] = [f for f in result.findings if f.kind == "olddefconfig-line-endings"]
    assert finding.where == f"{config}:{first}" and "CR LF" in finding.message and "LF" in finding.fix


def test_cr_line_endings_are_a_change_in_diff_and_normalize(sample, tmp_path):
    config = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    count = sum(1 for line in config.read_bytes().split(b"\n") if line)
    with_cr(config, "every line")
    env = {"TALOSNB_CACHE_DIR": str(tmp_path / "cache")}
    run = talosnb("diff", "--arch", "amd64", *args(sample), env=env)
    assert run.returncode == 0, run.stderr
    assert "1 difference(s)" in run.stdout and f"line endings: {count} line(s) end in CR LF" in run.stdout, run.stdout
    out = tmp_path / "config-amd64"
    run = talosnb("normalize", "--arch", "amd64", *args(sample), "--output", str(out), env=env)
    assert run.returncode == 0, run.stderr
    assert "1 change(s)" in run.stdout and "line endings" in run.stdout, run.stdout
    assert b"\r" not in out.read_bytes() and out.read_bytes() == config.read_bytes().replace(b"\r\n", b"\n")


def test_a_list_of_many_unknown_entries_gets_a_bounded_number_of_suggestions(sample):
    """A "did you mean" compares an entry with every module name of the tree (≈20 ms on a real tree):
    only the first MAX_SUGGESTED unknown entries of a check get one, the others say why not, so a
    list of 100,000 misspelt lines is checked in seconds (benchmarks/bench_module_lists.py)."""
    from engine_fixtures import open_session

    from talosnb.analyses import modules
    module_list = sample / "talos" / "hack" / "modules-amd64.txt"
    count = modules.MAX_SUGGESTED + 5
    typos = [f"kernel/drivers/block/nbd{i:02d}.ko" for i in range(count)]   # each close to nbd
    module_list.write_text(module_list.read_text() + "".join(f"{t}\n" for t in typos))
    session = open_session(Path(os.environ["TALOSNB_CACHE_DIR"]), pkgs=sample / "pkgs", talos=sample / "talos",
                           kernel_src=sample / "linux", arch="amd64")
    unknown = [f for f in session.check_modules(unlisted=False) if f.kind == "not-in-tree"]
    assert sorted(f.entry for f in unknown) == sorted(typos)
    suggested = [f for f in unknown if "did you mean kernel/drivers/block/nbd.ko?" in f.message]
    assert len(suggested) == modules.MAX_SUGGESTED
    assert [f.entry for f in suggested] == typos[:modules.MAX_SUGGESTED]   # the first ones, in list order
    assert all("not compared with the tree's module names" in f.message for f in unknown if f not in suggested)


BIG = "9" * 5000


@pytest.mark.parametrize("where", ["Pkgfile linux_version", "config header", "Makefile VERSION",
                                   "Makefile PATCHLEVEL"])
def test_a_version_of_thousands_of_digits_is_refused_naming_its_line(sample, where):
    from engine_fixtures import open_session
    edits = {"Pkgfile linux_version": (sample / "pkgs" / "Pkgfile", r"(?m)^(\s*linux_version: ).*$", rf"\g<1>{BIG}.1"),
             "config header": (sample / "pkgs" / "kernel" / "build" / "config-amd64", r"Linux/x86 6\.12\.0",
                               f"Linux/x86 6.{BIG}.0"),
             "Makefile VERSION": (sample / "linux" / "Makefile", r"(?m)^VERSION = 6$", f"VERSION = {BIG}"),
             "Makefile PATCHLEVEL": (sample / "linux" / "Makefile", r"(?m)^PATCHLEVEL = 12$", f"PATCHLEVEL = {BIG}")}
    import re
    path, pattern, replacement = edits[where]
    text, count = re.subn(pattern, replacement, path.read_text(), count=1)
    assert count == 1
    path.write_text(text)
    line = text[:text.index(BIG)].count("\n") + 1
    with pytest.raises(InputError) as caught:
        open_session(Path(os.environ["TALOSNB_CACHE_DIR"]), pkgs=sample / "pkgs", talos=sample / "talos",
                     kernel_src=sample / "linux", arch="amd64", kbuild=False)
    assert caught.value.where == f"{path}:{line}" and caught.value.exit_code == 2
    assert caught.value.hint and len(str(caught.value)) < 400   # the number is cut short in the message


def test_a_latin1_config_is_refused_naming_the_line_and_what_to_do(sample, tmp_path):
    config = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    data = config.read_bytes().replace(b'CONFIG_DEFAULT_HOSTNAME="(none)"', 'CONFIG_DEFAULT_HOSTNAME="café"'.encode("latin-1"))
    config.write_bytes(data)
    line = data[:data.index(b"caf\xe9")].count(b"\n") + 1
    run = talosnb("get", "DEFAULT_HOSTNAME", "--arch", "amd64", *args(sample),
                  env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")})
    assert run.returncode == 2, run.stderr
    assert f"{config}:{line}" in run.stderr and "not UTF-8" in run.stderr and "iconv" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_a_file_where_the_patches_folder_should_be_is_refused(sample):
    from talosnb.inputs.patches import find_patches
    patches = sample / "pkgs" / "kernel" / "build" / "patches"
    assert find_patches(patches) == []      # no folder: nothing to apply, as the build does
    patches.write_text("not a folder\n")
    with pytest.raises(InputError, match="not a folder") as caught:
        find_patches(patches)
    assert caught.value.where == str(patches) and "without the pkgs patches" in str(caught.value.hint)


@pytest.mark.skipif(not can_drop_privileges(), reason="cannot drop root's file privileges here")
def test_an_unreadable_patches_folder_is_refused_not_read_as_empty(sample, tmp_path):
    patches = sample / "pkgs" / "kernel" / "build" / "patches"
    patches.mkdir()
    (patches / "0001-x.patch").write_text("--- a/Kconfig\n+++ b/Kconfig\n")
    patches.chmod(0)
    try:
        run = talosnb("get", "DEFAULT_HOSTNAME", "--arch", "amd64", *args(sample), preexec="unprivileged",
                      env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")})
    finally:
        patches.chmod(0o755)
    assert run.returncode == 2, run.stderr
    assert "cannot read the patches folder" in run.stderr and str(patches) in run.stderr, run.stderr
