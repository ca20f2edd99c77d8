"""Module dependencies and the modules gate with system extensions: how much of depmod's modules.dep
talosnb predicts without a build, and how fast the gate runs.

    .venv/bin/python benchmarks/bench_modules.py [--source TARBALL] [--oracle DIR] [--repeat N]

Defaults: the full 6.12.117 source (/usr/src/linux-source-6.12.tar.xz), Debian's real 6.12.117
amd64/arm64 builds ($TALOSNB_ORACLE_DIR, else ~/.cache/talosnb-oracle: config, modules.dep), the
6.12.117 and 6.18.15 skeletons and the Talos v1.10 / main checkouts with their extensions in
../shared. The caches are warmed first (Kbuild maps, parsed trees, the source's exports: the
first read of the full tarball takes minutes).

1. Against modules.dep (depmod on the built .ko files), per arch: the dependency pairs (module,
   module it needs, transitively, as modules.dep lists them) predicted from the source's exports,
   and from Kconfig/Kbuild alone; how many of modules.dep's pairs that is, and the pairs predicted
   that modules.dep doesn't have.
2. The real lists (talos's and every extension's): the missing-dependency errors and warnings
   the modules gate reports (with the source: v1.10 on 6.12.117; without: main on 6.18.15).
3. The modules gate with extensions, both arches, warm (session open excluded and included).
   Target: <= 1 s warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
ARCHES = ("amd64", "arm64")
TARGET = 1.0


def oracle_pairs(folder: Path) -> set[tuple[str, str]]:
    pairs = set()
    for line in (folder / "modules.dep").read_text().splitlines():
        module, _, rest = line.partition(":")
        pairs |= {(module.removesuffix(".xz"), d.removesuffix(".xz")) for d in rest.split()}
    return pairs


def measure_oracle(source: Path, oracle: Path) -> None:
    from talosnb.analyses.dependencies import closure, kconfig_selects, module_dependencies
    from talosnb.inputs.kernel_tree import open_kernel_tree
    from talosnb.kbuild import load_kbuild_map, read_config_values
    from talosnb.kbuild.symbols import load_symbols
    from talosnb.kconfig.tree import KconfigTree

    tree = open_kernel_tree(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz")
    start = time.perf_counter()
    symbols = load_symbols(source)
    print(f"source exports ({source.name}): {len(symbols.exports)} objects export, read in "
          f"{time.perf_counter() - start:.2f} s (cached after the first run)")
    for arch, srcarch in zip(ARCHES, ("x86", "arm64"), strict=True):
        folder = oracle / f"6.12.117+deb12-{arch}"
        kmap = load_kbuild_map(tree.path, srcarch)
        values = read_config_values(folder / "config")
        truth = oracle_pairs(folder)
        selects = kconfig_selects(KconfigTree.load(tree.path, arch).kconf)
        for mode, kwargs in (("source exports", {"symbols": symbols}), ("Kconfig/Kbuild only", {"selects": selects})):
            start = time.perf_counter()
            direct = module_dependencies(kmap, values, **kwargs)
            took = time.perf_counter() - start
            pairs = {(m, d) for m, needs in closure(direct).items() for d in needs}
            edges = {(m, d.needs) for m, deps in direct.items() for d in deps}
            hit = len(pairs & truth)
            print(f"{arch:5} {mode:20} modules.dep pairs {len(truth):6}  predicted {hit:6} ({hit / len(truth):6.1%})"
                  f"  not in modules.dep {len(pairs - truth):5} ({len(pairs - truth) / max(len(pairs), 1):5.1%})"
                  f"  direct edges {len(edges):5}, {sum(1 for e in edges if e not in truth):4} not in modules.dep"
                  f"  [{took:.2f} s, every module]")


def gate_findings(release: str, kernel: Path) -> None:
    from talosnb.app.workspace import Workspace

    folder = SHARED / "data" / release
    ws = Workspace.open(folder / "pkgs", folder / "talos", kernel, extensions=folder / "extensions")
    frame = ws.findings()
    for kind in ("missing-dependency", "possible-missing-dependency"):
        rows = frame[frame["kind"] == kind]
        print(f"{release} on {kernel.name}: {len(rows)} {kind} finding(s)"
              f" over {len(ws.module_lists)} talos and {len(ws.extension_lists)} extension lists")
        for row in rows.itertuples():
            print(f"    {row.level} {row.arch} {row.entry} -> {row.needs} [{row.list}]")


def time_gate(release: str, kernel: Path, repeat: int) -> None:
    from talosnb.app.workspace import Workspace

    folder = SHARED / "data" / release
    opened, gated, cpu = [], [], []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        ws = Workspace.open(folder / "pkgs", folder / "talos", kernel, extensions=folder / "extensions")
        middle, middle_cpu = time.perf_counter(), time.process_time()
        report = ws.gates(["modules"])
        end = time.perf_counter()
        opened.append(end - start)
        gated.append(end - middle)
        cpu.append(time.process_time() - middle_cpu)
    opened, gated, cpu = opened[1:], gated[1:], cpu[1:]     # the first round warms the caches
    # CPU time too: on a shared machine the wall time says more about the load than about the gate
    print(f"modules gate + extensions, both arches, {release} on {kernel.name}: gate {statistics.median(gated):.2f} s"
          f" wall, {statistics.median(cpu):.2f} s CPU (target <= {TARGET} s), with the session open "
          f"{statistics.median(opened):.2f} s; {'failed' if report.failed else 'passed'}; median of {repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path("/usr/src/linux-source-6.12.tar.xz"))
    parser.add_argument("--oracle", type=Path, default=Path(os.environ.get(
        "TALOSNB_ORACLE_DIR", Path.home() / ".cache" / "talosnb-oracle")))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gate-only", action="store_true", help="only time the gate (no oracle, no findings)")
    args = parser.parse_args()
    if not args.gate_only:
        measure_oracle(args.source, args.oracle)
        gate_findings("talos-v1.10", args.source)
        gate_findings("talos-main", SHARED / "kernel" / "linux-6.18.15-kbuild.tar.xz")
    time_gate("talos-main", SHARED / "kernel" / "linux-6.18.15-kbuild.tar.xz", args.repeat)
    time_gate("talos-v1.10", args.source, args.repeat)


if __name__ == "__main__":
    main()
