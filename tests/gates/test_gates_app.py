"""The gates in the app layer: Workspace.gates, the set/merge guard (warn, or refuse with strictness)
through both faces, and the Build gates view driven as a person would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import DATA, SHARED

from talosnb.analyses.edit import parse_assignment
from talosnb.core.dotconfig import read_values
from talosnb.present.edit import outcome_text
from talosnb.widgets import ExploreView, GatesView, Workspace, workbench

ROOT = Path(__file__).resolve().parents[2]
CHECKER = SHARED / "tools" / "kernel-hardening-checker-aa94036c6a86f1d0f76624cf6047264af5b2f525.tar.gz"
ARCHES = ("amd64", "arm64")


@pytest.fixture
def real(trees, tmp_path) -> Workspace:
    if not CHECKER.is_file():
        pytest.skip("../shared/tools is not present")
    return Workspace.open(DATA["v1.10"] / "pkgs", DATA["v1.10"] / "talos", trees["6.12"], scratch=True,
                          hardening_checker=str(CHECKER))


def _pkgs_copy(root: Path) -> Path:
    pkgs = root / "pkgs"
    shutil.copytree(DATA["v1.10"] / "pkgs", pkgs)
    for path in pkgs.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return pkgs


# --------------------------------------------------------------------------- the guard


def test_a_change_that_breaks_the_hardening_gate_is_kept_with_a_warning(real):
    assert real.gates(["hardening"]).statuses() == {"hardening": {"amd64": "pass", "arm64": "pass"}}
    outcome = real.set(["RANDOMIZE_BASE=n"])
    assert outcome.applied and outcome.blocked is None
    broken = {b.arch: [f.entry for f in b.findings] for b in outcome.gates.broken}
    assert set(broken) == set(ARCHES) and all("CONFIG_RANDOMIZE_BASE" in e for e in broken.values())
    assert "WARNING: amd64: the hardening gate passed before and fails with this change" in outcome_text(outcome)
    assert real.gates(["hardening"]).statuses() == {"hardening": {"amd64": "fail", "arm64": "fail"}}
    real.undo()
    assert real.gates(["hardening"]).statuses() == {"hardening": {"amd64": "pass", "arm64": "pass"}}


def test_strict_refuses_it_and_changes_nothing(real):
    before = {arch: c.written() for arch, c in real.configs.items()}
    outcome = real.set(["STACKPROTECTOR_STRONG=n"], strict=True)
    assert not outcome.applied and "the hardening gate passed before and fails" in outcome.blocked
    assert {arch: c.written() for arch, c in real.configs.items()} == before
    assert real.history == []
    merged = real.merge([parse_assignment("# CONFIG_STACKPROTECTOR_STRONG is not set")], strict=True)
    assert merged.blocked and {arch: c.written() for arch, c in real.configs.items()} == before


def test_a_change_away_from_the_checks_runs_no_checker(real, monkeypatch):
    real.set(["DUMMY=m"])                      # the first edit (saving also normalizes the drift)
    from talosnb.inputs import hardening

    runs = []
    original = hardening.run_step
    monkeypatch.setattr(hardening, "run_step", lambda *a, **k: runs.append(a[-1]) or original(*a, **k))
    outcome = real.set(["WIREGUARD=m"])
    assert outcome.applied and outcome.gates.broken == [] and runs == []


def test_without_a_checker_at_hand_the_guard_says_so(trees, tmp_path, engine_cache):
    ws = Workspace.open(DATA["v1.10"] / "pkgs", None, trees["6.12"], scratch=True)
    outcome = ws.set(["RANDOMIZE_BASE=n"])
    assert outcome.applied and outcome.gates.broken == []
    assert outcome.gates.unchecked and "hardening gate not checked" in outcome_text(outcome)


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALOSNB_") or k == "TALOSNB_CONFIG_DIR"}
    env.update(TALOSNB_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False)


def test_the_command_line_warns_and_strict_refuses(trees, tmp_path, engine_cache):
    if not CHECKER.is_file():
        pytest.skip("../shared/tools is not present")
    pkgs = _pkgs_copy(tmp_path)
    config = pkgs / "kernel" / "build" / "config-amd64"
    before = config.read_text()
    inputs = ["--pkgs", str(pkgs), "--kernel-src", str(trees["6.12"]), "--arch", "amd64",
              "--hardening-checker", str(CHECKER), "--allow-drop"]
    refused = _cli("set", "RANDOMIZE_BASE=n", "--strict", "--format", "json", *inputs, cache=engine_cache)
    assert refused.returncode == 1, refused.stderr
    payload = json.loads(refused.stdout)
    assert "the hardening gate passed before and fails" in payload["blocked"]
    assert payload["gates"]["broken"][0]["findings"][0]["entry"] == "CONFIG_RANDOMIZE_BASE"
    assert config.read_text() == before
    fragment = tmp_path / "off.config"
    fragment.write_text("# CONFIG_RANDOMIZE_BASE is not set\n")
    refused = _cli("merge", str(fragment), "--strict", *inputs, cache=engine_cache)
    assert refused.returncode == 1 and "nothing was changed" in refused.stdout and config.read_text() == before
    warned = _cli("set", "RANDOMIZE_BASE=n", *inputs, cache=engine_cache)
    assert warned.returncode == 0, warned.stderr
    assert "WARNING: amd64: the hardening gate passed before and fails with this change" in warned.stdout
    assert read_values(config.read_text())["RANDOMIZE_BASE"] == "n"


# --------------------------------------------------------------------------- the view


def test_gates_view_on_the_sample(sample):
    ws = Workspace.open(sample / "pkgs", sample / "talos", sample / "linux")
    view = GatesView(ws)
    assert "not-run" in view.summary.value and "fail" in view.summary.value
    labels = [label for label, _ in view.findings_list.options]
    assert any("amd64 kernel/drivers/net/dummy.ko" in label for label in labels)
    view.gate.value = "modules"
    view.arch.value = "amd64"
    (_label, index), = view.findings_list.options
    view.findings_list.value = index
    assert "is not built" in view.detail.value and not view.fix_button.disabled
    assert view.fix_button.description == "set DUMMY=m on amd64"
    view.fix_button.click()
    assert ws.gates().status("modules", "amd64") == "pass"
    assert "DUMMY" in view.outcome.value
    assert view.findings_list.options == ()            # amd64's only module-list error is gone
    # the buttons don't keep naming the finding just fixed while another row shows
    view.arch.value = view.ANY
    assert view.findings_list.options and view.findings_list.value is None
    assert view.fix_button.disabled and view.fix_button.description == "apply fix"
    assert view.open_symbol_button.description == "show symbol"
    ws.undo()
    assert ws.gates().status("modules", "amd64") == "fail"
    wb = workbench(ws)
    wb.show(wb.gates)
    assert wb.titles[wb.selected_index] == "Build gates" and not wb.gates.stale


def test_gates_view_on_real_data_with_the_checkers_table(real):
    view = GatesView(real)
    assert view.table.frame.shape[0] > 200
    view.table_status.value = "gate"
    assert len(view.table.frame) == 0                  # v1.10 passes the gate
    view.table_status.value = "fail"
    assert len(view.table.frame) > 20 and "ignored by the filter" in view.table.table.value
    view.table_arch.value = "arm64"
    assert not any(c.startswith("amd64") for c in view.table.frame.columns)
    # a change made in another view shows up here, with its fix
    ex = ExploreView(real)
    ex.select("RANDOMIZE_BASE")
    ex.value_buttons[("both", "n")].click()
    assert "a build gate fails now" in ex.outcome.children[0].value
    view.gate.value = "hardening"
    labels = [label for label, _ in view.findings_list.options]
    assert any("amd64 CONFIG_RANDOMIZE_BASE" in label for label in labels)
    index = next(i for label, i in view.findings_list.options if "amd64 CONFIG_RANDOMIZE_BASE" in label)
    view.findings_list.value = index
    assert view.fix_button.description == "set RANDOMIZE_BASE=y on amd64"
    view.fix_button.click()
    assert real.gates(["hardening"]).status("hardening", "amd64") == "pass"
