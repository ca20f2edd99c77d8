"""The command line and the widgets' Workspace are two faces of one application layer: the same edit
through either is applied or refused alike, writes the same files, and says the same facts.

Each case runs on two fresh copies of the embedded sample, one per face, and compares the files
each copy holds afterwards byte for byte, whether the edit was refused, and the facts the refusal
names (the file, the module, the override)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_fixtures import SAMPLE

from talosnb.app.session import Session
from talosnb.app.workspace import Workspace
from talosnb.cli import main
from talosnb.core.errors import FileChangedError, InputError, RefusedError, TalosnbError


def _copy(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(SAMPLE, root)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted([*(root / "pkgs").rglob("*"), *(root / "talos").rglob("*")]) if p.is_file()}


def _inputs(root: Path) -> list[str]:
    return ["--pkgs", str(root / "pkgs"), "--talos", str(root / "talos"), "--kernel-src", str(root / "linux")]


def _workspace(root: Path) -> Workspace:
    return Workspace(Session.open(root / "pkgs", root / "talos", root / "linux"))


def _cli(root: Path, capsys, *args: str) -> tuple[int, str]:
    code = main([*args[:1], *_inputs(root), *args[1:]])
    out = capsys.readouterr()
    return code, out.out + out.err


def _ws(root: Path, action: Callable[[Workspace], object]) -> tuple[bool, str]:
    """Run `action` on a Workspace and save; (refused?, what it said)."""
    ws = _workspace(root)
    try:
        outcome = action(ws)
        blocked = getattr(outcome, "blocked", None)
        if blocked:
            return True, blocked
        ws.save()
    except TalosnbError as e:
        return True, str(e)
    return False, ""


@pytest.fixture
def pair(tmp_path):
    return _copy(tmp_path, "cli"), _copy(tmp_path, "ws")


def test_an_edit_that_takes_effect_writes_the_same_files(pair, capsys):
    cli_root, ws_root = pair
    code, _ = _cli(cli_root, capsys, "set", "DUMMY=m", "--add-to-module-list")
    refused, _ = _ws(ws_root, lambda ws: ws.set(["DUMMY=m"], add_to_module_list=True))
    assert code == 0 and not refused
    assert _files(cli_root) == _files(ws_root) != _files(SAMPLE)


def test_module_list_guard(pair, capsys):
    """BLK_DEV_NBD=y builds nbd.ko in, and the amd64 list names nbd.ko: refused by both faces."""
    cli_root, ws_root = pair
    code, said = _cli(cli_root, capsys, "set", "--arch", "amd64", "BLK_DEV_NBD=y")
    refused, ws_said = _ws(ws_root, lambda ws: ws.set(["BLK_DEV_NBD=y"], arches=["amd64"]))
    assert code == 1 and refused
    assert _files(cli_root) == _files(ws_root) == _files(SAMPLE)
    for text in (said, ws_said):
        assert "lists modules this change stops building" in text
    assert "--ignore-module-list" in said and "ignore_module_list=True" in ws_said
    # and past it, the same way
    code, _ = _cli(cli_root, capsys, "set", "--arch", "amd64", "BLK_DEV_NBD=y", "--ignore-module-list")
    refused, _ = _ws(ws_root, lambda ws: ws.set(["BLK_DEV_NBD=y"], arches=["amd64"], ignore_module_list=True))
    assert code == 0 and not refused and _files(cli_root) == _files(ws_root) != _files(SAMPLE)


def test_an_assignment_that_cannot_take_effect_changes_no_arch(pair, capsys):
    cli_root, ws_root = pair
    code, said = _cli(cli_root, capsys, "set", "MVPP2=m", "DUMMY=m")
    refused, _ = _ws(ws_root, lambda ws: ws.set(["MVPP2=m", "DUMMY=m"]))
    assert code == 1 and refused and "can't take effect" in said
    assert _files(cli_root) == _files(ws_root) == _files(SAMPLE)


def test_dropped_lines(pair, capsys):
    cli_root, ws_root = pair
    for root in pair:
        config = root / "pkgs" / "kernel" / "build" / "config-amd64"
        config.write_text(config.read_text() + "CONFIG_NO_SUCH_SYMBOL_XYZ=y\n")
    before = _files(cli_root)
    code, said = _cli(cli_root, capsys, "set", "DUMMY=m")
    ws = _workspace(ws_root)
    ws.set(["DUMMY=m"])
    with pytest.raises(RefusedError) as refusal:
        ws.save()
    assert code == 1 and refusal.value.exit_code == 1
    assert _files(cli_root) == _files(ws_root) == before
    for text in (said, str(refusal.value)):
        assert "NO_SUCH_SYMBOL_XYZ" in text and "Writing would drop them" in text
    assert "--allow-drop" in said and "allow_drop=True" in str(refusal.value)
    code, _ = _cli(cli_root, capsys, "set", "DUMMY=m", "--allow-drop")
    ws.save(allow_drop=True)
    assert code == 0 and _files(cli_root) == _files(ws_root) != before


def test_a_file_changed_on_disk_is_not_overwritten_and_nothing_is_written(pair, capsys, monkeypatch):
    cli_root, ws_root = pair
    from talosnb.analyses import edit
    original = edit.attempt_symbols

    def someone_else_writes(root: Path):
        def racing(*args, **kwargs):
            result = original(*args, **kwargs)
            with open(root / "pkgs" / "kernel" / "build" / "config-arm64", "a") as f:
                f.write("# edited elsewhere\n")
            return result
        return racing

    monkeypatch.setattr(edit, "attempt_symbols", someone_else_writes(cli_root))
    code, said = _cli(cli_root, capsys, "set", "DUMMY=m")
    monkeypatch.setattr(edit, "attempt_symbols", someone_else_writes(ws_root))
    ws = _workspace(ws_root)
    ws.set(["DUMMY=m"])
    with pytest.raises(FileChangedError) as refusal:
        ws.save()
    assert code == refusal.value.exit_code
    assert _files(cli_root) == _files(ws_root)
    assert (cli_root / "pkgs/kernel/build/config-amd64").read_bytes() == \
        (SAMPLE / "pkgs/kernel/build/config-amd64").read_bytes()
    for text in (said, str(refusal.value)):
        assert "config-arm64" in text and "changed on disk" in text and "nothing was written" in text
    assert "--force" in said and "force=True" in str(refusal.value)


def test_the_embedded_sample_is_never_written(capsys, monkeypatch):
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
        monkeypatch.delenv(name, raising=False)
    before = _files(SAMPLE)
    code = main(["set", "DUMMY=m"])
    said = capsys.readouterr().err
    ws = Workspace(Session.open())            # the sample itself, not the scratch copy open() makes
    ws.set(["DUMMY=m"])
    with pytest.raises(InputError) as refusal:
        ws.save()
    assert code == refusal.value.exit_code == 2
    assert "read-only" in said and "read-only" in str(refusal.value)
    assert _files(SAMPLE) == before


@pytest.mark.parametrize("entry, fact", [("no_such_module_xyz", "no module named no_such_module_xyz"),
                                         ("CONFIG_NO_SUCH_SYMBOL_XYZ", "not defined"),
                                         ("LOG_BUF_SHIFT", "never built as a module")])
def test_list_entries_that_name_nothing_change_nothing(pair, capsys, entry, fact):
    cli_root, ws_root = pair
    code = main(["modules", "add", *_inputs(cli_root), entry])
    out = capsys.readouterr()
    said = out.out + out.err
    refused, ws_said = _ws(ws_root, lambda ws: ws.edit_modules("add", [entry]))
    assert code == 2 and refused
    assert fact in said and fact in ws_said and "nothing changed" in said and "nothing changed" in ws_said
    assert _files(cli_root) == _files(ws_root) == _files(SAMPLE)
