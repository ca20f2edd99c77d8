"""Whole-process `talosnb search`, warm, against grep over the tree's Kconfig files.

    .venv/bin/python benchmarks/bench_search.py [--tree DIR_OR_TARBALL] [--pkgs DIR] [--talos DIR] [--repeat N]

Defaults: the 6.12.117 skeleton and the Talos v1.10 checkouts in ../shared, both arches,
module names included (the Kbuild maps). Every timing is a fresh `python -m talosnb search`
process, interpreter start-up and imports included, after one run that fills the caches
(that first run is printed too). The plain tool's baseline, timed in the same rounds: `grep -ri`
of the same words over every Kconfig file of the tree (one word: grep can't take words in any
order, and says nothing of values, modules or ranks). Target: a warm search <= 0.5 s. The CPU seconds of each process are printed too: on a
busy machine they say what the wall time can't.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
QUERIES = ["nvme over tcp", "usb serial", "mellanox"]


CPU: dict[str, list[float]] = {}


def _time(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,), name: str = "") -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(name, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr.decode()[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"))
    parser.add_argument("--pkgs", default=str(SHARED / "data" / "talos-v1.10" / "pkgs"))
    parser.add_argument("--talos", default=str(SHARED / "data" / "talos-v1.10" / "talos"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from talosnb.inputs.kernel_tree import open_kernel_tree

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        env = {**os.environ, "TALOSNB_CACHE_DIR": str(Path(work) / "cache"), "PYTHONPATH": str(ROOT)}
        # as installed: Python keeps the compiled modules (a warm start reads them)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["TALOSNB_CACHE_DIR"] = env["TALOSNB_CACHE_DIR"]
        tree = str(open_kernel_tree(args.tree).path)
        pkgs = Path(work) / "pkgs"   # a copy: the benchmark never writes the user's checkout
        shutil.copytree(args.pkgs, pkgs)
        search = [sys.executable, "-m", "talosnb", "search", "--pkgs", str(pkgs), "--talos", args.talos,
                  "--kernel-src", tree]
        kconfigs = [str(p) for p in Path(tree).rglob("Kconfig*") if p.is_file()]
        cold = _time([*search, QUERIES[0]], env)
        times: dict[str, list[float]] = {}
        for _ in range(args.repeat):        # one of each per round: a busy machine slows all alike
            for query in QUERIES:
                name = f"talosnb search {query!r}"
                times.setdefault(name, []).append(_time([*search, query], env, name=name))
                word = query.split()[-1]
                times.setdefault(f"grep -ri {word!r} (Kconfig files)", []).append(
                    _time(["grep", "-i", "--", word, *kconfigs], env, ok=(0, 1)))
        load = os.getloadavg()[0]
        print(f"{len(kconfigs)} Kconfig files; {args.repeat} runs each, whole processes, medians; "
              f"load average {load:.1f}")
        print(f"{'talosnb search, first run (parses, scans Kbuild, writes the index)':60} {cold:6.3f} s")
        for query in QUERIES:
            mine = statistics.median(times[f"talosnb search {query!r}"])
            cpu = statistics.median(CPU[f"talosnb search {query!r}"])
            word = query.split()[-1]
            grep = statistics.median(times[f"grep -ri {word!r} (Kconfig files)"])
            print(f"{'talosnb search ' + repr(query):60} {mine:6.3f} s (CPU {cpu:.3f} s)  "
                  f"({mine / grep:.1f}x grep -i {word!r}: {grep:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
