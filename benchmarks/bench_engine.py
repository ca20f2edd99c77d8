"""Engine speed against the kernel's own scripts/kconfig/conf, measured in one run.

    .venv/bin/python benchmarks/bench_engine.py [--tree DIR_OR_TARBALL --pkgs DIR [--llvm SUFFIX]] [--repeat N]

Defaults: two setups from ../shared, the 6.12.117 skeleton with the Talos v1.10
configs (conf with the host's gcc) and the 7.2.12 skeleton with the Talos main
configs (conf with clang-22, as `make LLVM=-22 olddefconfig` runs it; gcc when
clang-22 is not installed). Prints, per arch: conf --olddefconfig, talosnb cold
(parse + load + normalize, no cache), talosnb warm (parsed tree from the
on-disk cache), their ratios, and the peak RSS of one process holding both
arches. The three are timed in turn in each round, so they share whatever else
the machine runs. conf runs in the environment make gives it (read from a real
make run), talosnb in recorded mode (no compiler run).
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


def _child(tree: str, pkgs: str, arch: str, mode: str) -> float:
    """Time one load+normalize in a fresh process (cold or warm cache)."""
    code = (
        # the clock starts after the imports: a session pays them once, not per arch
        "import time,sys;"
        "from talosnb.kconfig.tree import KconfigTree; from talosnb.kconfig.config import Config;"
        "t=time.perf_counter();"
        f"tree=KconfigTree.load({tree!r},{arch!r},use_cache={mode == 'warm'});"
        f"Config.load(tree,{pkgs!r}+'/kernel/build/config-{arch}').text();"
        "print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ})
    return float(out.stdout.strip().splitlines()[-1])


def _both_arches_rss(tree: str, pkgs: str) -> float:
    code = (
        "import resource;"
        "from talosnb.kconfig.tree import KconfigTree; from talosnb.kconfig.config import Config;"
        f"c=[Config.load(KconfigTree.load({tree!r},a),{pkgs!r}+'/kernel/build/config-'+a) for a in"
        " ('amd64','arm64')];"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", help="kernel folder or tarball (with --pkgs)")
    parser.add_argument("--pkgs", help="pkgs checkout whose kernel/build/config-ARCH are loaded")
    parser.add_argument("--llvm", help="conf's compiler as make's LLVM= (e.g. -22); default: gcc")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if bool(args.tree) != bool(args.pkgs):
        parser.error("--tree and --pkgs go together")
    clang = shutil.which("clang-22") and shutil.which("ld.lld-22") and "-22"
    setups = [(args.tree, args.pkgs, args.llvm)] if args.tree else [
        (str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"), str(SHARED / "data" / "talos-v1.10" / "pkgs"), None),
        (str(SHARED / "kernel" / "linux-7.2.12-kbuild.tar.xz"), str(SHARED / "data" / "talos-main" / "pkgs"), clang),
    ]
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        os.environ["TALOSNB_CACHE_DIR"] = str(Path(work) / "cache")
        for i, (tree, pkgs, llvm) in enumerate(setups):
            _bench(Path(work) / f"setup{i}", tree, pkgs, llvm, args.repeat)
        print(f"(benchmark process itself: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    return 0


def _bench(work: Path, tree_arg: str, pkgs: str, llvm: str | None, repeat: int) -> None:
    from talosnb.inputs.kernel_tree import open_kernel_tree
    from tests.oracle import KernelConf

    tree = str(open_kernel_tree(tree_arg).path)
    conf = KernelConf(tree, work / "conf")
    variables = {"RUSTC": "talosnb-no-rustc", **({"LLVM": llvm} if llvm else {})}
    print(f"\ntree {conf.version}, configs {pkgs}, conf with {'LLVM=' + llvm if llvm else 'gcc'}; "
          f"{repeat} runs each, medians in seconds")
    print(f"{'arch':6} {'conf':>7} {'cold':>7} {'cold/conf':>9} {'warm':>7} {'conf/warm':>9}")
    for arch in ("amd64", "arm64"):
        env = conf.make_env(arch, variables)
        text = (Path(pkgs) / "kernel" / "build" / f"config-{arch}").read_text()
        _child(tree, pkgs, arch, "warm")  # fills the cache
        conf_times, cold, warm = [], [], []
        # one of each per round, so that a busy machine slows all three alike
        for _ in range(repeat):
            t = time.perf_counter()
            conf.olddefconfig(text, arch, env)
            conf_times.append(time.perf_counter() - t)
            cold.append(_child(tree, pkgs, arch, "cold"))
            warm.append(_child(tree, pkgs, arch, "warm"))
        c, k, w = (statistics.median(x) for x in (conf_times, cold, warm))
        print(f"{arch:6} {c:7.2f} {k:7.2f} {k / c:9.2f} {w:7.2f} {c / w:9.1f}")
    print(f"peak RSS, both arches loaded in one process: {_both_arches_rss(tree, pkgs):.0f} MB")


if __name__ == "__main__":
    raise SystemExit(main())
