"""Toolchain lines assigned with `set`/`merge` and taken with `--toolchain-from`, against conf.

The judge is the kernel's conf in the 7.2.12 tree run with another toolchain (wrappers of clang-22
that its probes take for clang 21.1.8 and pahole 1.29, see conftest.retarget_conf): what
talosnb writes after re-recording the toolchain lines of Talos main's config must be what conf
writes with that toolchain, through the command line and the Workspace alike.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import DATA, RETARGET, SHARED, TARBALLS, have_clang

from talosnb.analyses.edit import Assignment
from talosnb.app.workspace import Workspace
from talosnb.present.edit import TOOLCHAIN_HEADING, change_text

ROOT = Path(__file__).resolve().parents[2]
ARCHES = ("amd64", "arm64")
TARBALL = SHARED / "kernel" / TARBALLS["7.2"]
ASSIGNMENTS = [f'{name}="{value}"' if not value.isdigit() else f"{name}={value}" for name, value in RETARGET.items()]

pytestmark = pytest.mark.skipif(not have_clang(), reason="clang-22, lld-22, llvm-22 are not installed "
                                "(apt-get install clang-22 lld-22 llvm-22)")


def _pkgs(tmp_path: Path, texts: dict[str, str]) -> Path:
    """A copy of Talos main's pkgs checkout holding `texts` as its config-ARCH files."""
    pkgs = tmp_path / "pkgs"
    shutil.copytree(DATA["main"] / "pkgs", pkgs)
    for arch, text in texts.items():
        (pkgs / "kernel" / "build" / f"config-{arch}").write_text(text)
    return pkgs


def _talosnb(cache: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items()
               if key not in ("LLVM", "CC", "TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC")}
    environ.update({"TALOSNB_CACHE_DIR": str(cache), "RUSTC": "talosnb-no-rustc", **env})
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True,
                          env=environ, check=False, cwd=ROOT)


def _inputs(pkgs: Path, arch: str) -> list[str]:
    # the kbuild tarball, as a user gives it (extracted once into the session's cache folder)
    return ["--pkgs", str(pkgs), "--kernel-src", str(TARBALL), "--arch", arch]


@pytest.mark.parametrize("arch", ARCHES)
def test_cli_set_of_toolchain_lines_writes_what_conf_writes_with_that_toolchain(retarget_conf, engine_cache,
                                                                               tmp_path, arch):
    texts = retarget_conf[arch]
    pkgs = _pkgs(tmp_path, {arch: texts["base"]})
    result = _talosnb(engine_cache, "set", *_inputs(pkgs, arch), "--format", "json", *ASSIGNMENTS)
    assert result.returncode == 0, result.stderr
    assert (pkgs / "kernel" / "build" / f"config-{arch}").read_text() == texts["want"]
    change = json.loads(result.stdout)["changes"][arch]
    assert change["applied"] and {c["command"] for c in change["toolchain"]} >= {
        "$CC_VERSION_TEXT", "$PAHOLE_VERSION", "CC_VERSION"}
    # more than the three lines: what reads the versions recomputes (AS_VERSION = CLANG_VERSION with LLVM's as)
    assert {"CLANG_VERSION", "AS_VERSION", "PAHOLE_VERSION"} <= {c["symbol"] for c in change["cascade"]}


def test_cli_text_puts_the_probes_under_their_heading_before_the_cascade(retarget_conf, engine_cache, tmp_path):
    pkgs = _pkgs(tmp_path, {"amd64": retarget_conf["amd64"]["base"]})
    result = _talosnb(engine_cache, "set", *_inputs(pkgs, "amd64"), "--dry-run", *ASSIGNMENTS)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert TOOLCHAIN_HEADING in out
    heading = out.index(TOOLCHAIN_HEADING)
    assert heading < out.index("  CLANG_VERSION: 220108 -> 210108  (requested)")
    assert heading < out.index("CC_VERSION: 220108 -> 210108  (read by GCC_VERSION, CLANG_VERSION)")
    assert (pkgs / "kernel" / "build" / "config-amd64").read_text() == retarget_conf["amd64"]["base"]


@pytest.mark.parametrize("arch", ARCHES)
def test_cli_toolchain_from_a_config_made_with_another_toolchain_gives_what_conf_gives(
        retarget_conf, engine_cache, tmp_path, arch):
    texts = retarget_conf[arch]
    pkgs = _pkgs(tmp_path, {arch: texts["base"]})
    child = tmp_path / f"config-{arch}.bumped"
    child.write_text(texts["child"])
    result = _talosnb(engine_cache, "normalize", *_inputs(pkgs, arch), "--toolchain-from", str(child))
    assert result.returncode == 0, result.stderr
    assert (pkgs / "kernel" / "build" / f"config-{arch}").read_text() == texts["want"]
    assert f"{arch}: toolchain taken from {child}" in result.stdout and TOOLCHAIN_HEADING in result.stdout


def test_cli_set_with_toolchain_from_reports_no_toolchain_line_as_drift(retarget_conf, engine_cache, tmp_path):
    """set on top of a taken toolchain: the toolchain lines are said once, under the taken toolchain."""
    texts = retarget_conf["amd64"]
    pkgs = _pkgs(tmp_path, {"amd64": texts["base"]})
    child = tmp_path / "child"
    child.write_text(texts["child"])
    result = _talosnb(engine_cache, "set", *_inputs(pkgs, "amd64"), "--toolchain-from", str(child),
                      "--format", "json", "USB_SERIAL=m")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["toolchain_from"]["amd64"]["toolchain"]
    assert not any("CLANG_VERSION" in line for line in payload["normalized"].get("amd64", []))
    written = (pkgs / "kernel" / "build" / "config-amd64").read_text()
    assert "CONFIG_CLANG_VERSION=210108\n" in written and "CONFIG_USB_SERIAL=m\n" in written


def test_bad_toolchain_options_are_bad_input(retarget_conf, engine_cache, tmp_path):
    pkgs = _pkgs(tmp_path, {"amd64": retarget_conf["amd64"]["base"]})
    for extra, words in ((["--toolchain-from", str(tmp_path / "missing")], "missing"),
                         (["--toolchain-from", str(DATA["main"] / "pkgs" / "kernel" / "build" / "config-arm64")],
                          "config for arm64"),
                         (["--llvm=-22"], "--toolchain host"),
                         (["--toolchain", "host", "--llvm=-22", "--toolchain-from", str(pkgs)], "recorded")):
        result = _talosnb(engine_cache, "normalize", *_inputs(pkgs, "amd64"), "--dry-run", *extra)
        assert result.returncode == 2, (extra, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_host_mode_refuses_a_toolchain_assignment(retarget_conf, engine_cache, tmp_path):
    """--llvm=-22 picks clang-22 as `make LLVM=-22` does; its answers decide the toolchain lines."""
    base = retarget_conf["amd64"]["base"]
    pkgs = _pkgs(tmp_path, {"amd64": base})
    result = _talosnb(engine_cache, "set", *_inputs(pkgs, "amd64"), "--toolchain", "host", "--llvm=-22",
                      "--format", "json", "PAHOLE_VERSION=129")
    assert result.returncode == 1, result.stderr
    payload = json.loads(result.stdout)
    refusal = payload["changes"]["amd64"]["refusals"][0]
    assert refusal["symbol"] == "PAHOLE_VERSION" and refusal["fix"] is None
    assert "toolchain line" in refusal["reasons"][0]["text"] and "--toolchain recorded" in refusal["reasons"][0]["text"]
    assert (pkgs / "kernel" / "build" / "config-amd64").read_text() == base


@pytest.fixture
def workspace(retarget_conf, engine_cache, tmp_path) -> Workspace:
    pkgs = _pkgs(tmp_path, {arch: retarget_conf[arch]["base"] for arch in ARCHES})
    return Workspace.open(pkgs, kernel_src=TARBALL, kbuild=False)


def test_workspace_set_is_what_the_cli_does_and_undo_restores_every_byte(workspace, retarget_conf, engine_cache,
                                                                         tmp_path):
    cli_pkgs = _pkgs(tmp_path / "cli", {arch: retarget_conf[arch]["base"] for arch in ARCHES})
    result = _talosnb(engine_cache, "set", "--pkgs", str(cli_pkgs), "--kernel-src", str(TARBALL),
                      "--format", "json", *ASSIGNMENTS)
    assert result.returncode == 0, result.stderr
    outcome = workspace.set([Assignment(name, value) for name, value in RETARGET.items()])
    assert outcome.applied and not outcome.blocked
    assert json.loads(json.dumps(outcome.as_dict()["changes"])) == json.loads(result.stdout)["changes"]
    for arch in ARCHES:
        assert workspace.configs[arch].text() == retarget_conf[arch]["want"]
        assert (cli_pkgs / "kernel" / "build" / f"config-{arch}").read_text() == retarget_conf[arch]["want"]
        assert TOOLCHAIN_HEADING in change_text(outcome[arch])
    workspace.undo()
    for arch in ARCHES:
        assert workspace.configs[arch].text() == retarget_conf[arch]["base"]
    assert not any(p.changed for p in workspace.pending())


def test_workspace_merge_of_a_fragment_with_toolchain_lines(workspace, retarget_conf):
    """Fragment lines for toolchain lines re-record; the other lines apply on top; one undo step."""
    lines = [Assignment(name, value, f"bump.config:{i}") for i, (name, value) in enumerate(RETARGET.items(), 1)]
    outcome = workspace.merge([*lines, Assignment("GCC_VERSION", "140200", "bump.config:4")])
    for arch in ARCHES:
        change = outcome[arch]
        # GCC_VERSION follows CC_IS_GCC in a clang config: listed as unmet, the rest kept
        assert [r.assignment.symbol for r in change.refusals] == ["GCC_VERSION"]
        assert "follows" in change.refusals[0].reasons[0].text
        assert workspace.configs[arch].text() == retarget_conf[arch]["want"]
    workspace.undo()
    assert all(workspace.configs[arch].text() == retarget_conf[arch]["base"] for arch in ARCHES)
