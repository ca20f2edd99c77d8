"""Edit-engine speed on a real config, with the kernel's own tools timed in the same run.

    .venv/bin/python benchmarks/bench_edit.py [--tree DIR_OR_TARBALL] [--pkgs DIR] [--count N]

Defaults: the 6.12.117 skeleton and the Talos v1.10 configs in ../shared when
present. The assignments are the differential test's (same sampler, same seed).
Per arch it prints:
- set: one assignment applied with its cascade report (or refused with its
  explanation, without the fix search), then undone (median, p95 of each);
- why-not: the refusal explanation plus the verified-fix search for every
  refused assignment of the sample (median, p95, how many fixes were found);
- conf: merge_config.sh -m + conf --olddefconfig for one assignment, which is
  what the same edit costs with the kernel's own tools, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
SEED = 20261125   # the differential test's seed


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"))
    parser.add_argument("--pkgs", default=str(SHARED / "data" / "talos-v1.10" / "pkgs"))
    parser.add_argument("--count", type=int, default=100, help="assignments per arch (default 100)")
    parser.add_argument("--conf-runs", type=int, default=3, help="conf runs per arch (default 3)")
    args = parser.parse_args()

    from talosnb.analyses.edit import Editor
    from talosnb.inputs.kernel_tree import open_kernel_tree
    from talosnb.kconfig.config import Config
    from talosnb.kconfig.toolchain import host_env
    from talosnb.kconfig.tree import KconfigTree
    from tests.oracle import KernelConf, missing_tools, sample_assignments

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        os.environ.setdefault("TALOSNB_CACHE_DIR", str(Path(work) / "cache"))
        tree = open_kernel_tree(args.tree).path
        conf = None if missing_tools() else KernelConf(tree, Path(work) / "conf")
        host = host_env(rustc="talosnb-no-rustc")
        print(f"tree {tree}, {args.count} assignments per arch (seed {SEED}); times in ms unless noted")
        for arch in ("amd64", "arm64"):
            text = (Path(args.pkgs) / "kernel" / "build" / f"config-{arch}").read_text()
            editor = Editor(Config.from_text(KconfigTree.load(tree, arch), text))
            sample = sample_assignments(editor, random.Random(f"{SEED}-{arch}"), args.count)
            editor.set([], fix=False)   # the first call computes every written value once
            set_times, applied_times, undo_times, refused = [], [], [], []
            for a in sample:
                t = time.perf_counter()
                change = editor.set([a], fix=False)
                set_times.append(time.perf_counter() - t)
                if change.refusals:
                    refused.append(a)
                    continue
                applied_times.append(set_times[-1])
                if change.cascade:
                    t = time.perf_counter()
                    editor.undo()
                    undo_times.append(time.perf_counter() - t)
            why_times, found = [], 0
            for a in refused:
                t = time.perf_counter()
                change = editor.set([a], dry_run=True, fix=True)
                why_times.append(time.perf_counter() - t)
                found += bool(change.refusals and change.refusals[0].fix and change.refusals[0].fix.found)
            med = statistics.median(applied_times)
            print(f"{arch}: set, applied with its cascade: median {med * 1000:.1f} ms, "
                  f"p95 {_p95(applied_times) * 1000:.1f} ms ({len(applied_times)} assignments)")
            print(f"{arch}: set, all {len(sample)} (refusals explained, no fix search): median "
                  f"{statistics.median(set_times) * 1000:.1f} ms, p95 {_p95(set_times) * 1000:.1f} ms "
                  f"({len(refused)} refused)")
            if undo_times:
                print(f"{arch}: undo median {statistics.median(undo_times) * 1000:.1f} ms, "
                      f"p95 {_p95(undo_times) * 1000:.1f} ms")
            if why_times:
                print(f"{arch}: why-not + fix search median {statistics.median(why_times):.3f} s, "
                      f"p95 {_p95(why_times):.3f} s, max {max(why_times):.3f} s "
                      f"({found} of {len(refused)} with a verified fix)")
            if conf is not None:
                conf_times = []
                for a in sample[:args.conf_runs]:
                    t = time.perf_counter()
                    conf.merge(text, [a.line(editor.config) + "\n"], arch, host)
                    conf_times.append(time.perf_counter() - t)
                c = statistics.median(conf_times)
                print(f"{arch}: conf (merge_config.sh + olddefconfig) median {c:.2f} s: "
                      f"an applied talosnb set is {c / med:.0f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
