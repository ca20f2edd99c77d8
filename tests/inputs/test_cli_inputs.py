"""Bad input through the command line: clear message with file:line, exit 2, nothing modified."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from talosnb.core.paths import sample_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pkgs(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "pkgs"
    shutil.copytree(sample_dir() / "pkgs", copy)
    return copy


def run(*args: str, env_dir: Path) -> subprocess.CompletedProcess:
    import os
    env = {**os.environ, "TALOSNB_CACHE_DIR": str(env_dir / "cache")}
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=False)


def talosnb(pkgs: Path, *args: str) -> subprocess.CompletedProcess:
    return run(args[0], "--pkgs", str(pkgs), "--kernel-src", str(sample_dir() / "linux"), *args[1:],
               env_dir=pkgs.parent)


def config(pkgs: Path, arch: str = "amd64") -> Path:
    return pkgs / "kernel" / "build" / f"config-{arch}"


def test_sample_normalizes_to_itself(pkgs):
    before = config(pkgs).read_bytes()
    result = talosnb(pkgs, "normalize", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["configs"]["amd64"]["changes"] == [] and report["configs"]["arm64"]["changes"] == []
    assert report["tree_version"] == "6.12.0"
    assert config(pkgs).read_bytes() == before


def _break(pkgs: Path, line_no: int, new_line: str) -> tuple[Path, bytes]:
    path = config(pkgs)
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(line_no - 1, new_line + "\n")
    path.write_text("".join(lines))
    return path, path.read_bytes()


@pytest.mark.parametrize("bad_line,expect", [
    ("CONFIG_MODULES", "malformed line"),
    ("this is not a config line", "malformed line"),
    ("CONFIG_MODULES=maybe", "not a valid bool value for CONFIG_MODULES"),
    ('CONFIG_CC_VERSION_TEXT=unquoted', "not a valid string value"),
])
def test_bad_line_is_refused_with_file_and_line(pkgs, bad_line, expect):
    path, before = _break(pkgs, 8, bad_line)
    result = talosnb(pkgs, "normalize", "--arch", "amd64")
    assert result.returncode == 2
    assert f"{path}:8:" in result.stderr and expect in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_unknown_symbol_in_config_is_reported_and_not_silently_dropped(pkgs):
    path, before = _break(pkgs, 8, "CONFIG_NO_SUCH_SYMBOL_X=y")
    result = talosnb(pkgs, "normalize", "--arch", "amd64")
    assert result.returncode == 1
    assert f"{path}:8: CONFIG_NO_SUCH_SYMBOL_X is not defined" in result.stdout
    assert "--allow-drop" in result.stdout
    assert path.read_bytes() == before
    result = talosnb(pkgs, "normalize", "--arch", "amd64", "--allow-drop")
    assert result.returncode == 0
    assert "NO_SUCH_SYMBOL_X" not in path.read_text()


def test_config_of_the_other_arch_is_refused(pkgs):
    shutil.copy(config(pkgs, "arm64"), config(pkgs, "amd64"))
    before = config(pkgs).read_bytes()
    result = talosnb(pkgs, "normalize", "--arch", "amd64")
    assert result.returncode == 2
    assert "Linux/arm64 config, not a config for amd64" in result.stderr
    assert config(pkgs).read_bytes() == before


def test_missing_and_empty_config(pkgs):
    config(pkgs).write_text("")
    result = talosnb(pkgs, "normalize", "--arch", "amd64")
    assert result.returncode == 2 and "config is empty" in result.stderr
    config(pkgs).unlink()
    result = talosnb(pkgs, "get", "MODULES", "--arch", "amd64")
    assert result.returncode == 2 and "config-amd64" in result.stderr


def test_unknown_symbol_in_get_suggests_close_names(pkgs):
    result = talosnb(pkgs, "get", "MODULE")
    assert result.returncode == 2
    assert "CONFIG_MODULE is not defined" in result.stderr and "did you mean MODULES" in result.stderr


def test_get_reports_value_and_where_defined(pkgs):
    result = talosnb(pkgs, "get", "CONFIG_MODULES", "--format", "json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)["symbols"]
    assert {i["arch"] for i in info} == {"amd64", "arm64"}
    assert all(i["value"] == "y" and i["defined_at"][0].startswith("init/Kconfig:") for i in info)


def test_missing_kernel_tree_and_unknown_arch(pkgs):
    result = run("get", "MODULES", "--pkgs", str(pkgs), "--kernel-src", str(pkgs / "nope"), env_dir=pkgs.parent)
    assert result.returncode == 2 and "not found" in result.stderr
    result = run("get", "MODULES", "--arch", "riscv", env_dir=pkgs.parent)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_file_changed_on_disk_is_not_overwritten(pkgs):
    from talosnb.app.session import Session
    from talosnb.core.errors import FileChangedError

    session = Session.open(pkgs, None, sample_dir() / "linux", arch="amd64")
    cfg = session.configs["amd64"]
    path = config(pkgs)
    path.write_text(path.read_text() + "# edited by someone else\n")
    edited = path.read_bytes()
    with pytest.raises(FileChangedError, match="changed on disk"):
        cfg.write()
    assert path.read_bytes() == edited
    cfg.write(force=True)
    assert b"edited by someone else" not in path.read_bytes()
