"""Benchmark the Kbuild map: cold build, warm load from the disk cache, checking both arches.

    .venv/bin/python benchmarks/bench_kbuild.py [--tree TARBALL_OR_DIR] [--data TALOS_DATA_DIR]

A tarball is extracted once into talosnb's cache ($TALOSNB_CACHE_DIR), like the command line does.

Targets (2 cores): cold build <= 3 s per arch, warm <= 0.2 s, check of both arches <= 0.5 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talosnb.analyses.modules import ModuleList, check_module_lists
from talosnb.core.arches import ARCHES
from talosnb.core.arches import srcarch as arch_srcarch
from talosnb.inputs.kernel_tree import open_kernel_tree
from talosnb.kbuild import (  # after the sys.path line: runs from a checkout, not installed
    build_kbuild_map,
    load_kbuild_map,
    read_config_values,
)

SHARED = ROOT.parent / "shared"
TARGETS = {"cold": 3.0, "warm": 0.2, "check": 0.5}


def report(label: str, seconds: float, target: float) -> None:
    verdict = "ok" if seconds <= target else "SLOWER THAN TARGET"
    print(f"{label:<40} {seconds:7.3f} s   (target <= {target} s: {verdict})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=SHARED / "kernel/linux-6.12.117-kbuild.tar.xz",
                        help="kernel tree folder or Kbuild skeleton tarball")
    parser.add_argument("--data", type=Path, default=SHARED / "data/talos-v1.10",
                        help="folder with pkgs/kernel/build/config-ARCH and talos/hack/modules-ARCH.txt")
    args = parser.parse_args()
    if not args.tree.exists():
        parser.error(f"{args.tree} not found; pass --tree")
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as scratch:
        scratch = Path(scratch)
        # A tarball is extracted once into talosnb's cache, as the command line does.
        start = time.perf_counter()
        tree = open_kernel_tree(args.tree).path
        print(f"{'open tree (not part of targets)':<40} {time.perf_counter() - start:7.3f} s")
        cache = scratch / "cache"
        maps = {}
        for arch, srcarch in ((a, arch_srcarch(a)) for a in ARCHES):
            start = time.perf_counter()
            kmap = build_kbuild_map(tree, srcarch)
            report(f"map build cold, {srcarch}", time.perf_counter() - start, TARGETS["cold"])
            print(f"    {len(kmap.modules)} objects that can be modules, {len(kmap.directories)} directories, "
                  f"{len(kmap.unevaluated)} unevaluated constructs")
            load_kbuild_map(tree, srcarch, cache_dir=cache)  # fills the cache
            start = time.perf_counter()
            maps[arch] = load_kbuild_map(tree, srcarch, cache_dir=cache)
            report(f"map load warm (cache), {srcarch}", time.perf_counter() - start, TARGETS["warm"])
        data = args.data
        if not (data / "talos/hack").is_dir():
            print(f"no Talos data at {data}; skipping the check benchmark")
            return 0
        lists = {a: ModuleList.load(data / f"talos/hack/modules-{a}.txt", a) for a in maps}
        values = {a: read_config_values(data / f"pkgs/kernel/build/config-{a}") for a in maps}
        version = maps["amd64"].kernel_version
        start = time.perf_counter()
        findings = check_module_lists(lists, values, maps, tree_version=version)
        report("check both arches (loaded values)", time.perf_counter() - start, TARGETS["check"])
        levels = {lv: sum(f.level == lv for f in findings) for lv in ("error", "warning", "info")}
        print(f"    findings: {levels}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
