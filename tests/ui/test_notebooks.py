"""The notebooks, executed with nbclient on real Talos v1.10 checkouts and the 6.12.117 tree.

Parameters are injected the way papermill does it (a cell after the one tagged
`parameters`), a last cell prints the key results as JSON, and nothing is saved:
the stored outputs (made on the embedded sample) are nbval's business.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest
from engine_fixtures import DATA
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SAMPLE = ROOT / "data" / "sample"

# What each notebook's probe cell reports (names of the notebook's own variables).
PROBES = {
    "00-workbench": '''{"tabs": list(wb.titles), "describe": __import__("talosnb.present.workspace", fromlist=["workspace_text"]).workspace_text(wb.workspace),
 "errors": int((wb.workspace.findings()["level"] == "error").sum()),
 "overview": wb.workspace.overview().reset_index().to_dict(orient="records")}''',
    "01-compare-architectures": '''{"counts": status_counts(df), "rows": len(df),
 "m_y": len(by_values(df, "m,y"))}''',
    "02-explore-and-toggle": '''{"fix": [str(a) for a in refused.refusals[0].fix.assignments],
 "pci": {a: len(c.cascade) for a, c in pci.items()}, "applied": [c.applied for c in pci.values()]}''',
    "03-module-lists": '''{"counts": ws.check_counts(), "lists": ws.lists_overview().to_dict(orient="records"),
 "dependencies": len(deps)}''',
    "05-build-gates": '''{"statuses": ws.gates().statuses(), "table": len(ws.hardening_checks()),
 "failing": len(hardening_frame_filter(hardening_table(ws.gates(["hardening"])), status="fail")), "history": len(ws.history)}''',
    "04-write-back-for-make-kernel": '''{"scratch": str(ws.scratch), "pending": [p.name for p in ws.pending() if p.changed],
 "written": [p.name for p in result.written], "command": result.command,
 "configs": {a: c.source for a, c in ws.configs.items()},
 "on_disk": {a: open(c.source).read() for a, c in ws.configs.items()},
 "lists_on_disk": {a: open(m.path).read() for a, m in ws.module_lists.items()}}''',
    "07-menu-tree": '''{"rows": len(view.tree),
 "top": [r["text"].removesuffix("  --->") for r in view.view.rows if r["depth"] == 0],
 "dummy": {a: c["notation"] for a, c in view._row_data(view.tree.find("DUMMY")[0])["cells"].items()}}''',
}


def run_notebook(name: str, parameters: dict, timeout: int = 600) -> tuple[nbformat.NotebookNode, dict]:
    """Execute notebooks/NAME.ipynb with `parameters` injected; returns it and its probe's JSON."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    nb.cells.append(nbformat.v4.new_code_cell(f"import json as _json\nprint(_json.dumps({PROBES[name]}))"))
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
                   ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    probe = nb.cells[-1].outputs[-1].text
    return nb, json.loads(probe)


def outputs(nb: nbformat.NotebookNode, kind: str = "text/plain") -> str:
    """Every output of one kind (streams count as text/plain), joined."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and kind == "text/plain":
                parts.append(out.text)
            elif kind in out.get("data", {}):
                parts.append(str(out.data[kind]))
    return "\n".join(parts)


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def real(trees, engine_cache, monkeypatch) -> dict:
    data = DATA["v1.10"]
    if not (data / "pkgs").is_dir():
        pytest.skip("the Talos v1.10 data is not in ../shared")
    # the kernels nbclient starts inherit the environment: one parse/Kbuild cache for the session
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    return {"pkgs": str(data / "pkgs"), "talos": str(data / "talos"), "kernel_src": str(trees["6.12"]),
            "arch": "all"}


def test_workbench_on_real_data(real):
    nb, probe = run_notebook("00-workbench", real)
    assert probe["tabs"] == ["Compare", "Explore & toggle", "Menu tree", "Modules", "Build gates", "Workloads", "Hardware",
                             "Save", "Upgrade"]
    assert probe["describe"].startswith("Linux 6.12.117 (linux-source-6.12)")
    assert probe["errors"] == 0                              # the v1.10 lists are right for v1.10
    assert {row["arch"] for row in probe["overview"]} == {"amd64", "arm64"}
    # =m lines: 426 on amd64, 164 on arm64; the 6.12.63 configs change a little on the 6.12.117 tree
    assert all(row["=m"] > 100 and row["config changes"] > 0 for row in probe["overview"])
    assert "model_id" in outputs(nb, "application/vnd.jupyter.widget-view+json")     # the tabs were shown


def test_compare_on_real_data(real):
    nb, probe = run_notebook("01-compare-architectures", real)
    counts = probe["counts"]
    assert counts["differs"] > 100 and counts["amd64-only"] > 0 and counts["arm64-only"] > 0
    assert sum(counts.values()) == probe["rows"] > 10_000
    assert probe["m_y"] > 0
    assert outputs(nb, "image/png")                          # the chart is in the output
    tables = outputs(nb, "text/html")
    assert "<td>m</td>" in tables and "<td>y</td>" in tables


def test_explore_on_real_data(real):
    nb, probe = run_notebook("02-explore-and-toggle", real)
    assert probe["fix"] == ["COMPILE_TEST=y"]
    assert min(probe["pci"].values()) > 100 and probe["applied"] == [False, False]   # a dry run
    text = outputs(nb)
    assert "MVPP2=m can't take effect" in text and "drivers/net/ethernet/marvell/Kconfig" in text
    assert "amd64 (6.12.117): 1 change(s) (not applied)" in text                      # DUMMY=m


def test_module_lists_on_real_data(real):
    nb, probe = run_notebook("03-module-lists", {**real, "extensions": str(DATA["v1.10"] / "extensions")})
    counts = probe["counts"]
    assert counts["amd64"]["error"] == 0 and counts["arm64"]["error"] == 0
    assert counts["amd64"]["info"] > 0
    # every extension list of v1.10, per arch it ships on, with no error on the 6.12.117 tree
    rows = [r for r in probe["lists"] if r["list"] != "talos"]
    assert {(r["list"], r["arch"]) for r in rows} >= {("extensions/drivers/usb-modem", "amd64"),
                                                     ("extensions/drivers/usb-modem", "arm64"),
                                                     ("extensions/storage/btrfs", "arm64")}
    assert all(r["error"] == 0 for r in rows) and sum(r["modules"] for r in rows) > 300
    # btrfs.ko needs what CONFIG_BTRFS_FS selects; the edit and its undo ran
    assert probe["dependencies"] >= 1
    assert "btrfs.ko probably needs kernel/crypto/xxhash_generic.ko" in outputs(nb, "text/plain")
    assert "remove kernel/crypto/xxhash_generic.ko" in outputs(nb)


def test_write_back_on_real_data_writes_a_scratch_copy(real):
    shared = Path(real["pkgs"]).parent
    before = _digests(shared)
    nb, probe = run_notebook("04-write-back-for-make-kernel", {**real, "allow_drop": True})
    scratch = Path(probe["scratch"])
    assert scratch.name.startswith("talosnb-scratch-")
    assert probe["written"] == ["config-amd64", "config-arm64", "modules-amd64.txt", "modules-arm64.txt"]
    assert probe["pending"] == []
    for arch in ("amd64", "arm64"):
        assert Path(probe["configs"][arch]).is_relative_to(scratch)
        assert "CONFIG_DUMMY=m\n" in probe["on_disk"][arch]
        assert "kernel/drivers/net/dummy.ko\n" in probe["lists_on_disk"][arch]
    assert not scratch.exists()                              # removed when the kernel exited
    assert "make kernel PLATFORM=linux/amd64,linux/arm64" in probe["command"]
    # the 6.12.63 configs name symbols the 6.12.117 tree lacks: the pending diff warned about them
    assert "WARNING: 7 line(s) name symbols this kernel tree doesn't define" in outputs(nb)
    assert _digests(shared) == before                        # the checkouts themselves: untouched


def test_write_back_leaves_the_embedded_sample_alone():
    before = _digests(SAMPLE)
    _nb, probe = run_notebook("04-write-back-for-make-kernel", {})
    assert probe["written"] == ["config-amd64", "config-arm64", "modules-arm64.txt"]
    assert Path(probe["configs"]["amd64"]).is_relative_to(Path(probe["scratch"]))
    assert "CONFIG_DUMMY=m\n" in probe["on_disk"]["amd64"]
    assert _digests(SAMPLE) == before
    assert not Path(probe["scratch"]).exists()


def test_build_gates_on_real_data(real):
    checker = DATA["v1.10"].parents[1] / "tools" / "kernel-hardening-checker-aa94036c6a86f1d0f76624cf6047264af5b2f525.tar.gz"
    if not checker.is_file():
        pytest.skip("../shared/tools is not present")
    nb, probe = run_notebook("05-build-gates", {**real, "hardening_checker": str(checker)})
    # the v1.10 configs pass the hardening and module-list gates; on the 6.12.117 tree (not the
    # 6.12.63 the configs were made for) olddefconfig would change some lines
    assert probe["statuses"] == {"olddefconfig": {"amd64": "fail", "arm64": "fail"},
                                 "hardening": {"amd64": "pass", "arm64": "pass"},
                                 "modules": {"amd64": "pass", "arm64": "pass"}}
    assert probe["table"] > 200 and probe["failing"] > 20 and probe["history"] == 0
    text = outputs(nb)
    assert "kernel-hardening-checker aa94036c6a86 (passes)" in text
    assert "make olddefconfig changes CONFIG_" in outputs(nb, "text/html")


def test_menu_tree_on_real_data(real):
    nb, probe = run_notebook("07-menu-tree", real)
    assert probe["rows"] > 18000 and probe["top"][:1] == ["General setup"]
    assert probe["dummy"] == {"amd64": "<*>", "arm64": "<*>"}
    text = outputs(nb)
    assert "Device Drivers" in text and "Dummy net driver support  (DUMMY)" in text
    assert "range: 2..512" in text and "range: 2..4096" in text          # NR_CPUS per arch
    assert "NaN" not in text

