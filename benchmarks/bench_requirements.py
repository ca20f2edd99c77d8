"""`talosnb requirements` as a user runs it (a fresh process, warm cache), against the kernel's tool.

    .venv/bin/python benchmarks/bench_requirements.py [--tree TARBALL] [--data DIR] [--repeat N]

Defaults: Talos main's configs and module lists and the 6.18.15 tree in ../shared. Timed, in
turn in each round:

- ``talosnb requirements`` for every workload profile on both arches (a fresh ``python -m
  talosnb`` process: start-up, imports, the parsed trees from the cache, the configs loaded and
  checked, every requirement's status, the why-not and verified fix of each one not met, the
  output); the first, cold run fills the caches and is not counted;
- the kernel's own ``scripts/config --file config-ARCH --state SYMBOL``, once per requirement
  symbol and arch (how the same question is asked of a .config without talosnb: it reads the
  file's line, knows no dependency, no module name, no module list and no fix);
- the kernel's ``scripts/kconfig/conf --olddefconfig`` of both configs (what reading the configs
  against the tree costs the kernel's own tool), built once from the same tree.

A warm run with unchanged inputs reads its kept answer back (:mod:`talosnb.app.answers`): the
interpreter, the command line's imports, finding the inputs and checking that nothing the
answer was made from changed. The processes run with their bytecode written, as an installed
talosnb has it (pip compiles it at install): ``PYTHONDONTWRITEBYTECODE`` is dropped from their
environment. The CPU seconds of each process are printed too: on a busy machine they say what the
wall time can't.

Target: the whole talosnb process <= 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
ARCHES = ("amd64", "arm64")


CPU: list[float] = []


def _run(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0, 1)) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, env=env, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr.decode()[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-6.18.15-kbuild.tar.xz"))
    parser.add_argument("--data", default=str(SHARED / "data" / "talos-main"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from talosnb.analyses import requirements as rq

    data = Path(args.data)
    symbols = sorted({n for r in rq.select(rq.load_profiles()) if r.kind == "symbol" for n in r.names})
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        # the kernel's scripts/config, from the same tree
        with tarfile.open(args.tree) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("/scripts/config"))
            tar.extract(member, work, filter="data")
        script = Path(work) / member.name
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TALOSNB_") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(TALOSNB_CACHE_DIR=os.environ.get("TALOSNB_CACHE_DIR", str(Path(work) / "cache")),
                   PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "talosnb", "requirements", "--pkgs", str(data / "pkgs"),
                   "--talos", str(data / "talos"), "--kernel-src", args.tree]
        from talosnb.inputs.kernel_tree import open_kernel_tree
        from talosnb.kconfig.toolchain import host_env
        from tests.oracle import KernelConf, missing_tools

        conf = None
        if not missing_tools():
            os.environ["TALOSNB_CACHE_DIR"] = env["TALOSNB_CACHE_DIR"]
            conf = KernelConf(open_kernel_tree(args.tree).path, Path(work) / "conf")
        host = host_env(rustc="talosnb-no-rustc")
        texts = {arch: (data / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text() for arch in ARCHES}
        cold = _run(command, env)
        CPU.clear()
        ours, theirs, confs = [], [], []
        for _ in range(args.repeat):
            ours.append(_run(command, env))
            if conf is not None:
                t = time.perf_counter()
                for arch in ARCHES:
                    conf.olddefconfig(texts[arch], arch, host)
                confs.append(time.perf_counter() - t)
            t = time.perf_counter()
            for arch in ARCHES:
                config = data / "pkgs" / "kernel" / "build" / f"config-{arch}"
                for name in symbols:
                    subprocess.run(["bash", str(script), "--file", str(config), "--state", name],
                                   capture_output=True, check=False)
            theirs.append(time.perf_counter() - t)
        warm, tool = statistics.median(ours), statistics.median(theirs)
        print(f"requirements of {len(rq.load_profiles())} workloads ({len(symbols)} symbols and the module "
              f"names), both arches, {data.name} on {Path(args.tree).name}; median of {args.repeat}")
        print(f"  talosnb requirements, cold (caches filled):            {cold:6.2f} s")
        print(f"  talosnb requirements, warm, the whole process:         {warm:6.2f} s  (target 0.5 s; "
              f"{statistics.median(CPU):.2f} s CPU)")
        if confs:
            olddefconfig = statistics.median(confs)
            print(f"  conf --olddefconfig, both configs:                     {olddefconfig:6.2f} s  "
                  f"({warm / olddefconfig:.2f}x conf)")
        print(f"  scripts/config --state, once per symbol and arch:      {tool:6.2f} s  "
              f"({tool / warm:.1f}x talosnb's time)")
        print(f"  load average: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
