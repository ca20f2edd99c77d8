"""Benchmark the notebooks and the widgets: all notebooks on the embedded sample, all notebooks on
real checkouts with a warm cache, and a toggle in the Explore view updating the cascade shown.

    .venv/bin/python benchmarks/bench_notebooks.py [--pkgs DIR --talos DIR --kernel-src PATH]
                                                   [--cache-dir DIR] [--repeat N]

Without --pkgs/--talos/--kernel-src the Talos v1.10 data and the 6.12.117 tree in ../shared are
used when present. Notebooks run through nbclient (a fresh kernel each, outputs not saved), as
`jupyter nbconvert --execute` runs them. The cache (parsed Kconfig trees, Kbuild maps, extracted
tarballs) is --cache-dir, default a new temporary folder warmed by one untimed load first.

Targets (2 cores): all notebooks on the sample <= 60 s; on real data, warm cache <= 120 s;
a toggle (click -> cascade view updated) <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # after the sys.path line: runs from a checkout, not installed
from nbclient import NotebookClient

from talosnb.analyses import edit
from talosnb.present.workspace import workspace_text
from talosnb.widgets import ExploreView, Workspace

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
SHARED = ROOT.parent / "shared"
TARGETS = {"sample": 60.0, "real": 120.0, "toggle": 0.100}


def report(label: str, seconds: float, target: float, unit: str = "s") -> None:
    verdict = "ok" if seconds <= target else "SLOWER THAN TARGET"
    if unit == "ms":
        print(f"{label:<52} {seconds * 1000:8.1f} ms  (target <= {target * 1000:.0f} ms: {verdict})")
    else:
        print(f"{label:<52} {seconds:8.1f} s   (target <= {target:.0f} s: {verdict})")


def run_notebook(path: Path, parameters: dict) -> float:
    """Execute one notebook with `parameters` injected after its parameters cell; seconds taken."""
    nb = nbformat.read(path, as_version=4)
    if parameters:
        index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
        nb.cells.insert(index + 1, cell)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def run_all(parameters: dict, label: str) -> float:
    total = 0.0
    for path in NOTEBOOKS:
        extra = {"allow_drop": True} if parameters and path.name.startswith("04-") else {}
        seconds = run_notebook(path, {**parameters, **extra})
        print(f"  {label}: {path.name:<42} {seconds:6.1f} s")
        total += seconds
    return total


def toggle_ms(workspace: Workspace, symbol: str, values: tuple[str, str], repeat: int,
              target: str = "both") -> list[float]:
    """Click the value buttons of `symbol` (for one arch, or 'both') back and forth; seconds per
    click (the library call and the cascade view rebuilt inside the click)."""
    view = ExploreView(workspace, symbol=symbol)
    view.value_buttons[(target, values[0])].click()   # the first click also builds the editors
    timings = []
    for i in range(repeat):
        value = values[(i + 1) % 2]
        start = time.perf_counter()
        view.value_buttons[(target, value)].click()
        timings.append(time.perf_counter() - start)
        assert all(c.results[symbol] == value for c in view.last_changes.values()), view.cascade_text
        assert view.outcome.children, "no cascade shown"
    return timings


def library_ms(workspace: Workspace, symbol: str, values: tuple[str, str], repeat: int,
               target: str = "both") -> list[float]:
    """The same toggles as plain edit.set_symbols calls: the part of a click that is the engine."""
    arches = None if target == "both" else [target]
    timings = []
    for i in range(repeat):
        start = time.perf_counter()
        edit.set_symbols(workspace.editors, [f"{symbol}={values[(i + 1) % 2]}"], arches=arches)
        timings.append(time.perf_counter() - start)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pkgs", type=Path, default=SHARED / "data/talos-v1.10/pkgs")
    parser.add_argument("--talos", type=Path, default=SHARED / "data/talos-v1.10/talos")
    parser.add_argument("--kernel-src", type=Path, default=SHARED / "kernel/linux-6.12.117-kbuild.tar.xz")
    parser.add_argument("--cache-dir", type=Path, help="TALOSNB_CACHE_DIR (default: a new temporary folder)")
    parser.add_argument("--repeat", type=int, default=20, help="toggles to time (default 20)")
    parser.add_argument("--skip-real", action="store_true", help="only the sample")
    args = parser.parse_args()
    real = not args.skip_real and all(p.exists() for p in (args.pkgs, args.talos, args.kernel_src))

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as scratch:
        os.environ["TALOSNB_CACHE_DIR"] = str(args.cache_dir or scratch)
        print(f"{len(NOTEBOOKS)} notebooks, cache {'--cache-dir' if args.cache_dir else 'a new temporary folder'}")

        Workspace.open(progress=False)   # warm the sample's caches (as any earlier run would have)
        sample_total = run_all({}, "sample")
        report("all notebooks, embedded sample", sample_total, TARGETS["sample"])

        inputs = {}
        if real:
            inputs = {"pkgs": str(args.pkgs), "talos": str(args.talos), "kernel_src": str(args.kernel_src)}
            start = time.perf_counter()
            workspace = Workspace.open(**inputs, progress=False, scratch=True)
            print(f"  cold load (extract, parse and scan both arches, untimed below): "
                  f"{time.perf_counter() - start:.1f} s")
            real_total = run_all(inputs, "real")
            report(f"all notebooks, {workspace_text(workspace).splitlines()[0].split(';')[0]}, warm cache",
                   real_total, TARGETS["real"])
        else:
            print("real data: skipped (pass --pkgs, --talos and --kernel-src)")

        sample = Workspace.open(progress=False)
        cases = [("sample", sample, "both", ("m", "n")), ("sample", sample, "amd64", ("m", "n"))]
        if real:
            cases += [("real", workspace, "both", ("m", "y")), ("real", workspace, "amd64", ("m", "y"))]
        for name, ws, target, values in cases:
            timings = toggle_ms(ws, "DUMMY", values, args.repeat, target)
            where = "both arches" if target == "both" else target
            report(f"toggle DUMMY on {where}, {name} (median of {args.repeat})", statistics.median(timings),
                   TARGETS["toggle"], "ms")
            engine = statistics.median(library_ms(ws, "DUMMY", values, args.repeat, target))
            print(f"  of which edit.set_symbols alone: {engine * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
