"""The upgrade's other faces: the notebook view and its workbench tab, the HTML report section and
notebook 06 (on the sample, and on the real Talos v1.10 checkouts moving from 6.12.117 to 7.2.12)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from engine_fixtures import DATA
from nbclient import NotebookClient

from talosnb.app.upgrade import Upgrade
from talosnb.core.paths import sample_dir
from talosnb.inputs.kernel_tree import write_tarball
from talosnb.widgets import UpgradeView, workbench

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = sample_dir()
NOTEBOOK = ROOT / "notebooks" / "06-kernel-upgrade.ipynb"


@pytest.fixture(autouse=True)
def no_inputs(monkeypatch):
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "s", ignore=shutil.ignore_patterns("seed", "regenerate.sh"))
    write_tarball(tmp_path / "s" / "linux-next", tmp_path / "linux-7.2.0.tar.xz", top="linux-7.2.0")
    return tmp_path


def test_view_filters_and_writes_the_accepted_edits(sample_copy):
    root = sample_copy / "s"
    upgrade = Upgrade.open(root / "pkgs", root / "talos", root / "linux",
                           to_kernel_src=sample_copy / "linux-7.2.0.tar.xz")
    view = UpgradeView(upgrade)
    assert repr(view) == "UpgradeView(6.12.0 -> 7.2.0)"
    every = view.filtered()
    assert set(every["section"]) == {"choices", "modules", "new"}     # errors and warnings by default
    assert set(every["level"]) <= {"error", "warning"}
    view.section.value = "modules"
    assert set(view.filtered()["section"]) == {"modules"}
    view.section.value = "(any)"
    view.level.value = ("error", "warning", "info")
    view.menu.value = "Device Drivers"
    assert list(view.filtered()["entry"]) == ["NETKIT", "NETKIT"]           # new on both arches
    view.menu.value = "(any)"
    view.arch.value = "arm64"
    view.text.value = "wireguard"
    assert {(r.arch, r.kind) for r in view.filtered().itertuples()} == {("arm64", "module-moved")}
    # the why-not tree of the selected choice
    assert "init/Kconfig:72" in view.why.value
    # reject one edit, accept the others, write
    key = "amd64:not-built:kernel/drivers/net/dummy.ko"
    view._checks[key].value = False
    assert key not in view.accepted() and len(view.accepted()) == len(upgrade.report().edits()) - 1
    saved = view.write()
    assert saved is not None and "talosnb-ok" in view.result.value
    listed = (root / "talos" / "hack" / "modules-amd64.txt").read_text()
    assert "kernel/drivers/net/dummy.ko\n" in listed and "kernel/drivers/net/vpn/wireguard/wireguard.ko\n" in listed
    assert "linux_version: 7.2.0" in (root / "pkgs" / "Pkgfile").read_text()


def test_view_shows_a_refused_write_in_red():
    upgrade = Upgrade.open()        # the sample's next tree is a folder: no hashes for the Pkgfile
    view = UpgradeView(upgrade)
    assert view.write() is None
    assert "talosnb-err" in view.result.value and "can&#x27;t be bumped" in view.result.value


def test_workbench_upgrade_tab():
    wb = workbench()
    assert wb.titles[-1] == "Upgrade"
    tab = wb.upgrade
    assert tab.to_kernel_src.value == "" and "sample's next release" in tab.to_kernel_src.placeholder
    view = tab.start()
    assert view is not None and view.upgrade.to_version == "7.2.0"
    tab.to_kernel_src.value = "/nonexistent/linux"
    assert tab.start() is None and "talosnb-err" in tab.body.children[0].value


def test_report_has_an_upgrade_section(tmp_path, engine_cache):
    out = tmp_path / "r.html"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TALOSNB_CACHE_DIR": str(engine_cache),
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "talosnb", "report", "-o", str(out), "--upgrade-to",
                             str(SAMPLE / "linux-next"), "--format", "json"], capture_output=True, text=True,
                            env=env, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["upgrade"]["choices"]["error"] == 11
    page = out.read_text()
    assert "<h2>Kernel upgrade 6.12.0 -&gt; 7.2.0</h2>" in page
    for title in ("Choices not honoured", "New symbols", "Removed symbols", "Module lists", "Patches", "The bump"):
        assert f"<h3>{title}</h3>" in page
    assert 'id="upgrade-choices-table"' in page and "fs/Kconfig:52" in page
    assert not re.search(r"(src|href)=\"https?:", page)                          # nothing loaded from elsewhere


# --- notebook 06 --------------------------------------------------------------------

PROBE = '''import json as _json
from talosnb.present.upgrade import summary_lines as _summary_lines
print(_json.dumps({"summary": _summary_lines(report), "errors": report.errors(),
                   "written": [p.name for p in result.written] if result is not None else None,
                   "scratch": str(upgrade.workspace.scratch), "edits": len(report.edits()),
                   "sections": sorted(set(findings["section"]))}))'''


def run_notebook(parameters: dict) -> tuple[nbformat.NotebookNode, dict]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
    nb.cells.insert(index + 1, injected)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    return nb, json.loads(nb.cells[-1].outputs[-1].text)


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_notebook_on_the_sample_writes_a_scratch_copy(engine_cache, monkeypatch):
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    before = _digests(SAMPLE)
    _nb, probe = run_notebook({})
    assert probe["summary"][0] == "upgrade 6.12.0 -> 7.2.0"
    assert probe["written"] == ["config-amd64", "config-arm64", "modules-amd64.txt", "modules-arm64.txt", "Pkgfile"]
    assert "talosnb-scratch-" in probe["scratch"] and not Path(probe["scratch"]).exists()
    assert _digests(SAMPLE) == before


def test_notebook_on_real_talos_v110(trees, engine_cache, monkeypatch, tmp_path):
    data = DATA["v1.10"]
    if not (data / "pkgs").is_dir():
        pytest.skip("the Talos v1.10 data is not in ../shared")
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    before = _digests(data)
    _nb, probe = run_notebook({"pkgs": str(data / "pkgs"), "talos": str(data / "talos"),
                               "kernel_src": str(trees["6.12"]), "to_kernel_src": str(trees["7.2"]),
                               "sha256": "0" * 64, "sha512": "1" * 128})
    assert probe["summary"][0] == "upgrade 6.12.117 -> 7.2.12"
    assert probe["errors"] > 50 and probe["edits"] > 10
    assert probe["written"] == ["config-amd64", "config-arm64", "modules-amd64.txt", "modules-arm64.txt", "Pkgfile"]
    assert _digests(data) == before            # written to a scratch copy, the checkouts untouched
