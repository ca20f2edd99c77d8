"""Benchmark the Menu tree view and the symbol panel on real configs: sizes and click timings.

    .venv/bin/python benchmarks/bench_widgets.py [--pkgs DIR --kernel-src PATH] [--cache-dir DIR]
                                                 [--repeat N]

Without --pkgs/--kernel-src the Talos v1.10 configs and the 6.12.117 tree in ../shared are used.
Timed in the kernel's Python, as a click is handled (message in -> rows out to the browser):

- the merged tree's size (rows, per arch) and the first render of the view (building the merged
  tree, the top-level rows);
- opening menus (Device Drivers, then the menus down to IGB), collapsing, a filter change and a
  text filter, toggling a value (through Workspace.set, cascade shown), the symbol panel;
- the rows sent to the browser for the largest open menu (count and JSON bytes);
- for comparison, the same largest menu as plain ipywidgets (one HBox with a Button per arch and a
  Label per row): the widget models the kernel has to create and send.

In a browser, click to rows drawn: `pytest -s tests/ui/test_browser.py` prints the expand and toggle
times it sees in JupyterLab (embedded sample).

Targets (2 cores): first render <= 1 s; expanding a menu <= 100 ms; a toggle <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
TARGETS = {"first render": 1.0, "expand": 0.100, "toggle": 0.100}


def line(label: str, seconds: float, target: float | None = None) -> None:
    verdict = "" if target is None else (f"  (target <= {target * 1000:.0f} ms: "
                                         f"{'ok' if seconds <= target else 'SLOWER THAN TARGET'})")
    print(f"{label:<60} {seconds * 1000:8.1f} ms{verdict}")


def median_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pkgs", type=Path, default=SHARED / "data" / "talos-v1.10" / "pkgs")
    parser.add_argument("--kernel-src", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="talosnb-bench-widgets-"))
    os.environ["TALOSNB_CACHE_DIR"] = str(args.cache_dir or work / "cache")
    kernel = args.kernel_src
    if kernel is None:
        with tarfile.open(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz") as tar:
            tar.extractall(work, filter="data")
        kernel = work / "linux-source-6.12"

    from talosnb.analyses import menu
    from talosnb.analyses.symbol import symbol_panel
    from talosnb.widgets import MenuTreeView, Workspace
    from talosnb.widgets.menu_tree import TreeWidget

    Workspace.open(args.pkgs, None, kernel, kbuild=True, scratch=True)       # warm the parse and Kbuild caches
    ws = Workspace.open(args.pkgs, None, kernel, kbuild=True, scratch=True)   # as the workbench opens it
    print(f"Linux {ws.session.tree_version}, configs {', '.join(ws.arches)} ({args.pkgs})")

    start = time.perf_counter()
    view = MenuTreeView(ws)
    first = time.perf_counter() - start
    tree = view.tree
    print(f"merged tree: {len(tree)} rows; " + ", ".join(
        f"{arch}: {sum(1 for r in tree.rows if arch in r.nodes)} menu nodes" for arch in ws.arches)
        + f"; {sum(1 for r in tree.rows if len(r.nodes) > 1)} shared by both")
    line("first render (merged tree built, top-level rows)", first, TARGETS["first render"])
    line("  of which building the merged tree again", median_of(lambda: menu.MenuTree(ws.configs), 1))

    def expand_path(name: str) -> list[float]:
        times = []
        for row_id in tree.path(tree.find(name)[0]):
            start = time.perf_counter()
            view._message(None, {"event": "expand", "id": row_id}, None)
            times.append(time.perf_counter() - start)
        return times

    times = expand_path("IGB")
    labels = [tree.rows[i].prompt() for i in tree.path(tree.find("IGB")[0])]
    for label, seconds in zip(labels, times, strict=True):
        line(f"expand {label}", seconds, TARGETS["expand"])
    rows = view.view.rows
    payload = len(json.dumps(rows))
    print(f"rows listed with the path to IGB open: {len(rows)} ({payload / 1024:.0f} KiB as JSON)")
    view.collapse_all()
    dd = next(r["id"] for r in view.view.rows if r["text"].startswith("Device Drivers"))
    def expand_dd():
        view.collapse(dd)
        view._message(None, {"event": "expand", "id": dd}, None)
    line(f"expand Device Drivers again (median of {args.repeat}, rows cached)",
         median_of(expand_dd, args.repeat), TARGETS["expand"])
    biggest = max(range(len(tree)), key=lambda i: len(tree.children(i, "visible")))
    print(f"largest menu: {tree.rows[biggest].prompt()} ({len(tree.children(biggest, 'visible'))} entries shown)")

    for mode in ("all", "differs", "set"):
        view.mode.value = "visible"
        start = time.perf_counter()
        view.mode.value = mode
        line(f"filter '{mode}' (first, the whole tree looked at)", time.perf_counter() - start)
    view.mode.value = "visible"
    start = time.perf_counter()
    view.text.value = "igb"
    line("text filter 'igb' (paths to the matches opened)", time.perf_counter() - start)
    view.text.value = ""

    view.reveal("DUMMY")
    dummy = tree.find("DUMMY")[0]
    view._message(None, {"event": "toggle", "id": dummy, "arch": "amd64"}, None)    # builds the editors
    toggles = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        view._message(None, {"event": "toggle", "id": dummy, "arch": "amd64"}, None)
        toggles.append(time.perf_counter() - start)
    line(f"toggle DUMMY on amd64 (median of {args.repeat}, cascade shown, rows redrawn)",
         statistics.median(toggles), TARGETS["toggle"])
    line(f"toggle DUMMY on amd64 (max of {args.repeat})", max(toggles))
    line("symbol panel of NR_CPUS (both arches)",
         median_of(lambda: symbol_panel(ws.configs, "NR_CPUS"), args.repeat))

    # the same largest menu as plain ipywidgets: every cell a widget model to create and send
    import ipywidgets as widgets
    shown = tree.children(biggest, "visible")
    def plain():
        boxes = []
        for row_id in shown:
            data = view._row_data(row_id)
            cells = [widgets.Button(description=c["notation"] or " ", layout=widgets.Layout(width="60px"))
                     for c in data["cells"].values()]
            boxes.append(widgets.HBox([*cells, widgets.Label(data["text"])]))
        box = widgets.VBox(boxes)
        for b in boxes:
            for w in b.children:
                w.close()
            b.close()
        box.close()
    models = len(shown) * (len(ws.arches) + 1 + 2)    # buttons, label, HBox, the two layouts of buttons
    line(f"plain ipywidgets for that menu ({len(shown)} rows, ~{models} models)", median_of(plain, 1))
    one = TreeWidget(arches=ws.arches)
    def anywidget_rows():
        one.rows = [view._row_data(i) for i in shown]
    line("the anywidget for that menu (1 model, rows as data)", median_of(anywidget_rows, args.repeat))

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
