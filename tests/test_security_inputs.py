"""Bad input ends with a message, never a hang, a memory blow-up or a traceback: a config that is a
symlink to /dev/zero or a FIFO is refused before it is read; a notebook parameter of 5000 digits or
1e400 is refused (exit 2) instead of crashing or passing inf on. On a copy of the embedded sample."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from engine_fixtures import SAMPLE
from faults import talosnb

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
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "00-workbench.ipynb"
    run = talosnb("export", str(notebook), "-o", str(tmp_path / "out.html"), "-p", "arch", "1e400",
                  env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")}, timeout=120)
    assert run.returncode == 2 and "too large" in run.stderr, run.stderr
