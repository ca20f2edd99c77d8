"""What applying the pkgs patches costs, against the kernel's own conf, measured in one run.

    .venv/bin/python benchmarks/bench_patches.py [--tree DIR_OR_TARBALL] [--pkgs DIR] [--repeat N]

Defaults: the 7.2.12 skeleton and the Talos main checkout in ../shared when
present. Two patch sets are timed: the checkout's own (Talos main's: 0014 is
already upstream in 7.2.12, the rest change C files only, so the tree is read
as it is), and two patches written against the tree (a `select` and a new
driver), which make a patched copy. Per arch, a fresh process times a warm
load (find the inputs with and without the patches, parsed tree from the
cache, load the config, write it): patched against unpatched, and against
`conf --olddefconfig` on a tree patched with GNU patch the build's way. Each
round times every case in turn, so they share whatever else the machine runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
SHARED = ROOT.parent / "shared"


def _child(tree: str, pkgs: str, arch: str, patches: bool) -> float:
    """Time resolve + warm tree + load + write in a fresh process (the clock starts after imports)."""
    code = (
        "import time;"
        "from talosnb.inputs.resolve import resolve_inputs;"
        "from talosnb.kconfig.tree import KconfigTree; from talosnb.kconfig.config import Config;"
        "t=time.perf_counter();"
        f"i=resolve_inputs({pkgs!r},None,{tree!r},patches={patches});"
        f"Config.load(KconfigTree.load(i.kernel.path,{arch!r}),i.pkgs.config_path({arch!r})).text();"
        "print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(out.stdout.strip().splitlines()[-1])


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-7.2.12-kbuild.tar.xz"))
    parser.add_argument("--pkgs", default=str(SHARED / "data" / "talos-main" / "pkgs"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from oracle import KernelConf
    from sample_patches import new_symbol_patch, select_patch, write_pkgs

    from talosnb.inputs.kernel_tree import KernelTree, open_kernel_tree
    from talosnb.inputs.patches import patch_kernel_tree
    from talosnb.kconfig.toolchain import host_env

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        work_dir = Path(work)
        os.environ["TALOSNB_CACHE_DIR"] = str(work_dir / "cache")
        tree = open_kernel_tree(args.tree).path
        written = write_pkgs(work_dir / "written", Path(args.pkgs),
                             {"0001-select.patch": select_patch(tree), "0002-new-driver.patch": new_symbol_patch(tree)})
        own = Path(args.pkgs) / "kernel" / "build" / "patches"
        kernel = KernelTree.open(tree)

        print(f"tree {kernel.version}, {args.repeat} runs each, medians")
        print("applying the patches (in-process): cold = GNU patch runs, warm = from the cache")
        for label, folder in (("the checkout's own", own), ("two written here", written / "kernel/build/patches")):
            def cold(folder=folder):
                shutil.rmtree(work_dir / "cache" / "patched", ignore_errors=True)
                return patch_kernel_tree(kernel, folder)
            cold_ms = _median_ms(cold, args.repeat)
            _, report = patch_kernel_tree(kernel, folder)
            warm_ms = _median_ms(lambda folder=folder: patch_kernel_tree(kernel, folder), args.repeat)
            print(f"  {label:20} {report.summary():60} cold {cold_ms:6.1f} ms  warm {warm_ms:5.2f} ms")

        oracle_tree = work_dir / "oracle" / tree.name
        shutil.copytree(tree, oracle_tree, symlinks=True)
        for patch in sorted((written / "kernel/build/patches").glob("*.patch")):
            with open(patch, "rb") as stdin:
                subprocess.run(["patch", "-p1", "-s"], cwd=oracle_tree, stdin=stdin, check=True)
        conf = KernelConf(oracle_tree, work_dir / "conf")
        host = host_env(rustc="talosnb-no-rustc")

        print("\nwarm load with the two written patches, fresh process (seconds)")
        print(f"{'arch':6} {'conf':>7} {'unpatched':>9} {'patched':>8} {'patched/unpatched':>17} "
              f"{'conf/patched':>12}")
        for arch in ("amd64", "arm64"):
            text = (written / "kernel" / "build" / f"config-{arch}").read_text()
            for patches in (False, True):
                _child(str(tree), str(written), arch, patches)  # fills the caches
            conf_times, plain, patched = [], [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                conf.olddefconfig(text, arch, host)
                conf_times.append(time.perf_counter() - t)
                plain.append(_child(str(tree), str(written), arch, False))
                patched.append(_child(str(tree), str(written), arch, True))
            c, u, p = (statistics.median(x) for x in (conf_times, plain, patched))
            print(f"{arch:6} {c:7.2f} {u:9.3f} {p:8.3f} {p / u:17.3f} {c / p:12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
