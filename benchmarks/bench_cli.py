"""Whole-process command-line speed, the way a user runs talosnb, against the kernel's own conf.

    .venv/bin/python benchmarks/bench_cli.py [--tree DIR_OR_TARBALL] [--pkgs DIR] [--repeat N]

Defaults: the 6.12.117 skeleton and the Talos v1.10 configs in ../shared. Every
timing is a fresh `python -m talosnb ...` process with a warm cache (the parsed
tree is cached on disk by the first run), interpreter start-up and imports
included; `scripts/kconfig/conf --olddefconfig` is timed in the same rounds.
Targets: `talosnb --help` <= 0.15 s, `talosnb get X` <= 0.3 s, `talosnb normalize
--dry-run` for one arch <= 0.125x conf.
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
SHARED = ROOT.parent / "shared"


def _time(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    t = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - t
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr.decode()[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"))
    parser.add_argument("--pkgs", default=str(SHARED / "data" / "talos-v1.10" / "pkgs"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from talosnb.inputs.kernel_tree import open_kernel_tree
    from talosnb.kconfig.toolchain import host_env
    from tests.oracle import KernelConf

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        env = {**os.environ, "TALOSNB_CACHE_DIR": str(Path(work) / "cache"), "PYTHONPATH": str(ROOT)}
        os.environ["TALOSNB_CACHE_DIR"] = env["TALOSNB_CACHE_DIR"]
        tree = str(open_kernel_tree(args.tree).path)
        pkgs = Path(work) / "pkgs"   # a copy: the benchmark never writes the user's checkout
        shutil.copytree(args.pkgs, pkgs)
        conf = KernelConf(tree, Path(work) / "conf")
        host = host_env(rustc="talosnb-no-rustc")
        talosnb = [sys.executable, "-m", "talosnb"]
        inputs = ["--pkgs", str(pkgs), "--kernel-src", tree]
        commands = {
            "talosnb --help": [*talosnb, "--help"],
            "talosnb get DUMMY (both arches)": [*talosnb, "get", *inputs, "DUMMY"],
            # --allow-drop: the v1.10 configs (made on 6.12.63) have lines 6.12.117 doesn't define;
            # without it the dry run is refused (exit 1) after the same work
            "talosnb normalize --dry-run --arch amd64": [*talosnb, "normalize", *inputs, "--arch", "amd64",
                                                         "--dry-run", "--allow-drop"],
        }
        for argv in commands.values():
            _time(argv, env)          # fills the caches
        text = (pkgs / "kernel" / "build" / "config-amd64").read_text()
        times: dict[str, list[float]] = {name: [] for name in commands}
        times["conf --olddefconfig (amd64)"] = []
        for _ in range(args.repeat):      # one of each per round: a busy machine slows all alike
            for name, argv in commands.items():
                times[name].append(_time(argv, env))
            t = time.perf_counter()
            conf.olddefconfig(text, "amd64", host)
            times["conf --olddefconfig (amd64)"].append(time.perf_counter() - t)
        medians = {name: statistics.median(values) for name, values in times.items()}
        conf_time = medians["conf --olddefconfig (amd64)"]
        print(f"tree {conf.version}, {args.repeat} runs each, whole processes, warm cache, medians")
        for name, value in medians.items():
            ratio = f"  ({value / conf_time:.3f}x conf)" if "normalize" in name else ""
            print(f"{name:45} {value:6.3f} s{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
