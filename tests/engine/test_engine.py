"""The Kconfig engine against the kernel's own conf, on real Talos configs and real trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import DATA, host_toolchain, real_config

from talosnb.core.dotconfig import read_values as written_values
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff
from talosnb.kconfig.tree import KconfigTree

ARCHES = ("amd64", "arm64")


@pytest.fixture
def oracle_n(conf_v110) -> dict[str, str]:
    return conf_v110


def normalize(tree_path, arch, text, mode="recorded", **kw) -> str:
    host = host_toolchain() if mode == "host" else None
    tree = KconfigTree.load(tree_path, arch, toolchain_mode=mode, host=host, **kw)
    return Config.from_text(tree, text).text()


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("mode", ["recorded", "host"])
def test_normalize_of_conf_output_is_byte_identical(trees, oracle_n, arch, mode):
    got = normalize(trees["6.12"], arch, oracle_n[arch], mode)
    assert config_diff(oracle_n[arch], got) == []
    assert got == oracle_n[arch]


def _pkgs_checkout(root: Path, arch: str, text: str) -> Path:
    pkgs = root / "pkgs"
    (pkgs / "kernel" / "build").mkdir(parents=True)
    (pkgs / "kernel" / "build" / f"config-{arch}").write_text(text)
    (pkgs / "Pkgfile").write_text((DATA["v1.10"] / "pkgs" / "Pkgfile").read_text())
    return pkgs


@pytest.mark.parametrize("arch", ARCHES)
def test_recorded_mode_needs_no_compiler(trees, oracle_n, arch, tmp_path, engine_cache):
    pkgs = _pkgs_checkout(tmp_path, arch, oracle_n[arch])
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {"PATH": str(empty_bin), "TALOSNB_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "talosnb", "normalize", "--pkgs", str(pkgs),
                             "--kernel-src", str(trees["6.12"]), "--arch", arch, "--format", "json"],
                            capture_output=True, text=True, env=env, check=False,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["configs"][arch]["changes"] == []
    assert (pkgs / "kernel" / "build" / f"config-{arch}").read_text() == oracle_n[arch]


@pytest.mark.parametrize("arch", ARCHES)
def test_recorded_mode_keeps_toolchain_lines(trees, conf_v110, arch):
    raw = real_config("v1.10", arch)
    tree = KconfigTree.load(trees["6.12"], arch)
    config = Config.from_text(tree, raw)
    ours = config.text()
    conf = conf_v110[arch]     # the kernel's conf on raw with the host's compiler
    ours_changed = {c.symbol for c in config_diff(raw, ours)}
    conf_changed = {c.symbol for c in config_diff(raw, conf)}
    toolchain_symbols = {user for users in tree.kconf.talosnb_probe_users.values() for user in users}
    print(f"\n{arch}: talosnb changes {len(ours_changed)}: {sorted(ours_changed)}")
    print(f"{arch}: conf with the host compiler changes {len(conf_changed)}: {sorted(conf_changed)}")
    assert ours_changed <= conf_changed
    raw_values, our_values = written_values(raw), written_values(ours)
    for name in sorted(toolchain_symbols):
        assert raw_values.get(name) == our_values.get(name), name
    # the host compiler really is different: conf rewrites toolchain lines talosnb keeps
    assert conf_changed & toolchain_symbols
    assert "CC_VERSION_TEXT" in toolchain_symbols and "GCC_VERSION" in toolchain_symbols


@pytest.mark.parametrize("release,series", [("v1.10", "6.12"), ("main", "7.2")])
@pytest.mark.parametrize("arch", ARCHES)
def test_normalize_is_idempotent(trees, release, series, arch):
    once = normalize(trees[series], arch, real_config(release, arch))
    assert normalize(trees[series], arch, once) == once


@pytest.mark.parametrize("arch", ARCHES)
def test_talos_main_loads_on_a_newer_tree_and_reports_what_it_lacks(trees, arch):
    from talosnb.core.versions import compare_versions

    tree = KconfigTree.load(trees["7.2"], arch)
    config = Config.from_text(tree, real_config("main", arch), source=f"config-{arch}")
    assert config.recorded_version == "6.18.45"
    check = compare_versions(tree.version, config.recorded_version, "config header")
    assert check is not None and check.kind == "mismatch"
    unknown = [note for note in config.notes if note.kind == "unknown-symbol"]
    assert unknown, "6.18 symbols removed by 7.2 should be listed"
    assert all(note.where.startswith(f"config-{arch}:") for note in unknown)
    assert config.text().startswith("#\n# Automatically generated file; DO NOT EDIT.\n# Linux/")


def test_cached_tree_gives_the_same_result(trees, engine_cache):
    raw = real_config("v1.10", "amd64")
    cold = KconfigTree.load(trees["6.12"], "amd64", use_cache=False)
    first = Config.from_text(cold, raw).text()
    KconfigTree.load(trees["6.12"], "amd64")  # writes the cache
    warm = KconfigTree.load(trees["6.12"], "amd64")
    assert warm.from_cache
    assert Config.from_text(warm, raw).text() == first


def test_cache_is_invalidated_when_a_kconfig_file_changes(tmp_path, monkeypatch):
    import shutil

    from talosnb.core.paths import sample_dir

    tree = tmp_path / "linux"
    shutil.copytree(sample_dir() / "linux", tree)
    KconfigTree.load(tree, "amd64")
    assert KconfigTree.load(tree, "amd64").from_cache
    kconfig = tree / "init" / "Kconfig"
    kconfig.write_text(kconfig.read_text() + "\nconfig TALOSNB_TEST_NEW\n\tbool \"new\"\n")
    again = KconfigTree.load(tree, "amd64")
    assert not again.from_cache
    assert "TALOSNB_TEST_NEW" in again.kconf.syms


def test_both_arches_side_by_side(trees):
    amd = Config.from_text(KconfigTree.load(trees["6.12"], "amd64"), real_config("v1.10", "amd64"))
    arm = Config.from_text(KconfigTree.load(trees["6.12"], "arm64"), real_config("v1.10", "arm64"))
    assert amd.value("X86_64") == "y" and not arm.has_symbol("X86_64")
    assert arm.value("ARM64") == "y" and not amd.has_symbol("ARM64")
    assert amd.text().splitlines()[2] == "# Linux/x86 6.12.117 Kernel Configuration"
    assert arm.text().splitlines()[2] == "# Linux/arm64 6.12.117 Kernel Configuration"
    assert os.environ.get("ARCH") != "arm64"  # the parse does not leak its environment


def test_check_command_on_real_talos_v1_10(trees, tmp_path):
    result = subprocess.run([sys.executable, "-m", "talosnb", "check", "--gate", "modules", "--format", "json",
                             "--pkgs", str(DATA["v1.10"] / "pkgs"), "--talos", str(DATA["v1.10"] / "talos"),
                             "--kernel-src", str(trees["6.12"])],
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "TALOSNB_CACHE_DIR": str(tmp_path)},
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == 0 and report["tree_version"] == "6.12.117"
