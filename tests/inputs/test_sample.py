"""The embedded sample end to end: every command works on it with no arguments, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package is not installed in the venv
    sys.path.insert(0, str(ROOT))

from talosnb.core.arches import ARCHES, srcarch
from talosnb.core.paths import sample_dir
from talosnb.kbuild import build_kbuild_map

SAMPLE_TREE = sample_dir() / "linux"


def run_talosnb(*args: str, cache: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m talosnb ARGS`` with no TALOSNB_* inputs, so the embedded sample is used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALOSNB_") or k == "TALOSNB_CONFIG_DIR"}
    env["TALOSNB_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, check=False)


@pytest.mark.parametrize("arch", ARCHES)
def test_sample_tree_reads_like_a_real_tree(arch):
    kernel_srcarch = srcarch(arch)
    kmap = build_kbuild_map(SAMPLE_TREE, kernel_srcarch)
    # The arch Makefile (flags, extra directory lists) and the arch Kbuild (what
    # arch/$(SRCARCH)/ builds) are both read, as in Linux.
    assert {f"arch/{kernel_srcarch}/Makefile", f"arch/{kernel_srcarch}/Kbuild"} <= set(kmap.files)
    assert kmap.unevaluated == []
    assert kmap.kernel_version == "6.12.0"
    if arch == "amd64":
        # Reached only through drivers-$(CONFIG_PCI) in arch/x86/Makefile ($(ARCH_DRIVERS)).
        assert "arch/x86/pci" in kmap.directories
        assert "kernel/arch/x86/kernel/msr.ko" in kmap.modules
    else:
        assert "kernel/arch/arm64/crypto/aes-ce-cipher.ko" in kmap.modules
        assert not any(d.startswith("arch/x86") for d in kmap.directories)


def test_check_with_no_arguments_reports_the_deliberate_inconsistencies(tmp_path):
    result = run_talosnb("check", cache=tmp_path / "cache", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "2 error(s)" in result.stdout
    result = run_talosnb("check", "--format", "json", "--info", cache=tmp_path / "cache", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    errors = {(f["arch"], f["entry"], f["kind"]) for f in report["findings"] if f["level"] == "error"}
    assert errors == {("arm64", "kernel/drivers/block/nbd.ko", "builtin"),
                      ("amd64", "kernel/drivers/net/dummy.ko", "not-built")}
    assert report["errors"] == 2 and report["tree_version"] == "6.12.0"
    # The =m modules upstream leaves out are informational, never errors.
    unlisted = {(f["arch"], f["entry"]) for f in report["findings"] if f["kind"] == "unlisted-module"}
    assert ("amd64", "kernel/crypto/crypto_user.ko") in unlisted
    assert all(f["fix"] is None or isinstance(f["fix"], str) for f in report["findings"])
