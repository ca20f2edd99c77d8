"""The Build gates section of the HTML report, and `talosnb report --gate`."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import DATA, SHARED

from talosnb.analyses import gates
from talosnb.app.session import Session
from talosnb.present.gates import hardening_table
from talosnb.present.report import gates_html, report_html

ROOT = Path(__file__).resolve().parents[2]
CHECKER = SHARED / "tools" / "kernel-hardening-checker-aa94036c6a86f1d0f76624cf6047264af5b2f525.tar.gz"


def _section(document: str, anchor: str) -> str:
    start = document.index(f'<section id="{anchor}">')
    return document[start:document.index("</section>", start)]


def test_sample_report_has_the_gates_section(sample):
    session = Session.open(sample / "pkgs", sample / "talos", sample / "linux")
    report = gates.run_gates(session)
    document = report_html(session, gates=report)
    section = _section(document, "build-gates")
    assert "<h2>Build gates</h2>" in section
    text = html.unescape(re.sub(r"<[^>]+>", " ", section))
    assert "olddefconfig" in text and "the config is what olddefconfig writes" in text
    assert "the Pkgfile pins no kernel-hardening-checker (no kspp_ref)" in text        # not run on the sample
    assert "kernel/drivers/net/dummy.ko" in text and "kernel/drivers/block/nbd.ko" in text
    assert 'id="gate-findings-table"' in section
    assert "kernel-hardening-checker, both arches" not in section                   # no checker: no table
    assert '<section id="build-gates">' not in report_html(session)                # only when asked for


def test_real_report_has_the_checkers_table(trees):
    if not CHECKER.is_file():
        pytest.skip("../shared/tools is not present")
    session = Session.open(DATA["v1.10"] / "pkgs", DATA["v1.10"] / "talos", trees["6.12"])
    report = gates.run_gates(session, ["hardening"], hardening_checker=str(CHECKER))
    fragment = str(gates_html(report))
    assert 'id="hardening-table"' in fragment
    rows = re.findall(r"<tr><td>CONFIG_\w+</td>", fragment)
    assert len(rows) == len(hardening_table(report)) > 200
    assert "ignored by the filter (line 17: enabled for backwards compat" in html.unescape(fragment)


def test_report_command_adds_the_gates(sample, tmp_path, engine_cache):
    out = tmp_path / "kernel.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALOSNB_") or k == "TALOSNB_CONFIG_DIR"}
    env.update(TALOSNB_CACHE_DIR=str(engine_cache), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "talosnb", "report", "--output", str(out), "--gate", "all",
                             "--format", "json", "--pkgs", str(sample / "pkgs"), "--talos", str(sample / "talos"),
                             "--kernel-src", str(sample / "linux")],
                            capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["gates"] == {"olddefconfig": {"amd64": "pass", "arm64": "pass"},
                                "hardening": {"amd64": "not-run", "arm64": "not-run"},
                                "modules": {"amd64": "fail", "arm64": "fail"}}
    assert '<section id="build-gates">' in out.read_text()
