"""The build gates' speed, against the build's own tools in the same run.

    .venv/bin/python benchmarks/bench_gates.py [--tree DIR_OR_TARBALL] [--data TALOS_DATA_DIR]
                                               [--checker DIR_OR_TARBALL] [--repeat N]

Defaults: the 6.12.117 skeleton, the Talos v1.10 checkouts and the kernel-hardening-checker
archive of their kspp_ref in ../shared. The cache is warmed first (parsed trees, Kbuild
maps, the unpacked checker), as after a first run. Per round, in turn:

- talosnb: all three gates on both arches, in-process (session open + gates), and the
  `talosnb check` command end to end (a fresh Python, imports included);
- talosnb: the olddefconfig gate alone on both arches (session open + gate, and the gate
  on loaded configs);
- the kernel's `scripts/kconfig/conf --olddefconfig` for both arches (what pkgs CI runs for
  the first gate; built once from the tree with make, gcc, flex, bison);
- the build's hardening step for both arches (`kernel-hardening-checker ... | filter`, the
  line of kernel/build/pkg.yaml run with bash).

Targets (2 cores): all three gates, both arches, warm <= 3 s; the olddefconfig gate <= 0.5 s.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
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
ARCHES = ("amd64", "arm64")
TARGETS = {"all": 3.0, "olddefconfig": 0.5}


CPU: dict[str, list[float]] = {}


def _cpu() -> float:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _timed(fn, key: str | None = None) -> float:
    """Wall seconds of fn(); its CPU seconds (this process and its children: far less sensitive to
    the machine's load than wall time) go to CPU[key]."""
    # the sessions of earlier rounds are garbage with many cycles: collect them outside the clock,
    # as a command (one session per process) never pays for them
    gc.collect()
    cpu, start = _cpu(), time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    if key is not None:
        CPU.setdefault(key, []).append(_cpu() - cpu)
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"))
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "talos-v1.10")
    parser.add_argument("--checker", default=str(SHARED / "tools" /
                                                 "kernel-hardening-checker-aa94036c6a86f1d0f76624cf6047264af5b2f525.tar.gz"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pkgs, talos = args.data / "pkgs", args.data / "talos"
    for path in (args.tree, pkgs, talos, args.checker):
        if not Path(path).exists():
            parser.error(f"{path} not found")

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-gates-") as scratch:
        os.environ["TALOSNB_CACHE_DIR"] = str(Path(scratch) / "cache")
        from talosnb.analyses import gates
        from talosnb.analyses.edit import editors_of, fix_verifier
        from talosnb.app.session import Session
        from talosnb.inputs import hardening
        from talosnb.inputs.kernel_tree import open_kernel_tree

        tree = open_kernel_tree(args.tree).path

        def open_session() -> Session:
            return Session.open(pkgs, talos, tree, kbuild=True)

        def all_gates() -> gates.GateReport:
            session = open_session()
            editors = editors_of(session.configs)
            return gates.run_gates(session, hardening_checker=args.checker, editors=editors,
                                   verify_fix=fix_verifier(editors))

        warm = all_gates()        # fills the cache: parsed trees, Kbuild maps, the unpacked checker
        print("verdicts:", warm.statuses())
        checker = hardening.open_checker(args.checker)
        step = hardening.read_step(pkgs / "kernel" / "build")
        conf = None
        try:
            from oracle import KernelConf, missing_tools
            if not missing_tools():
                from engine_fixtures import host_toolchain
                conf = KernelConf(tree, Path(scratch) / "conf")
                toolchain = host_toolchain()
        except ImportError:
            pass
        if conf is None:
            print("(no make/gcc/flex/bison: the kernel's conf is not timed)")
        line = next(ln.strip() for ln in (pkgs / "kernel" / "build" / "pkg.yaml").read_text().splitlines()
                    if "bin/kernel-hardening-checker" in ln)
        line = (line.replace("/toolchain/kernel-hardening-checker/", f"{checker.path}/")
                    .replace("/pkg/", f"{pkgs / 'kernel' / 'build'}/").replace("python3", sys.executable))
        work = Path(scratch) / "src"
        work.mkdir()

        def build_step() -> None:
            for arch in ARCHES:
                (work / ".config").write_text((pkgs / "kernel" / "build" / f"config-{arch}").read_text())
                subprocess.run(["bash", "-c", line], cwd=work, env={**os.environ, "CARCH": arch},
                               capture_output=True, check=False)

        def kernel_conf() -> None:
            for arch in ARCHES:
                conf.olddefconfig((pkgs / "kernel" / "build" / f"config-{arch}").read_text(), arch, toolchain)

        def command() -> None:
            subprocess.run([sys.executable, "-m", "talosnb", "check", "--pkgs", str(pkgs), "--talos", str(talos),
                            "--kernel-src", str(tree), "--hardening-checker", args.checker],
                           capture_output=True, check=False, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})

        loaded = open_session()

        times: dict[str, list[float]] = {k: [] for k in
                                         ("all", "command", "olddefconfig", "olddefconfig loaded", "conf", "step")}
        for _round in range(args.repeat):
            times["all"].append(_timed(all_gates, "all"))
            times["command"].append(_timed(command, "command"))
            times["olddefconfig"].append(_timed(lambda: gates.run_gates(Session.open(pkgs, None, tree),
                                                                        ["olddefconfig"]), "olddefconfig"))
            times["olddefconfig loaded"].append(_timed(lambda: gates.run_gates(loaded, ["olddefconfig"]),
                                                       "olddefconfig loaded"))
            if conf is not None:
                times["conf"].append(_timed(kernel_conf, "conf"))
            times["step"].append(_timed(build_step, "step"))
        med = {k: statistics.median(v) for k, v in times.items() if v}
        cpu = {k: statistics.median(v) for k, v in CPU.items() if v}
        load = os.getloadavg()[0]

        def row(label: str, key: str, target: float | None = None, against: str | None = None) -> None:
            text = f"{label:<66} {med[key]:6.2f} s (cpu {cpu[key]:5.2f} s)"
            if against and against in med:
                ratio = med[against] / med[key]
                what = {"tools": "conf + the hardening step", "conf": "conf"}[against]
                text += (f"  ({ratio:.1f}x faster than {what})" if ratio >= 1
                         else f"  ({1 / ratio:.1f}x slower than {what})")
            if target is not None:
                text += f"   target <= {target} s: {'ok' if med[key] <= target else 'SLOWER THAN TARGET'}"
            print(text)

        both = {k: med[k] for k in ("conf", "step") if k in med}
        if len(both) == 2:
            med["tools"] = both["conf"] + both["step"]
        print(f"median of {args.repeat} rounds, both arches, warm cache, load average {load:.1f} on "
              f"{os.cpu_count()} cores (step = {step.where}); wall seconds, and CPU seconds of the process "
              "and its children:")
        if "conf" in med:
            row("kernel's conf --olddefconfig (host compiler), both arches", "conf")
        row("the build's hardening step (checker | filter), both arches", "step")
        row("talosnb: all three gates (open + olddefconfig + hardening + modules)", "all", TARGETS["all"], "tools")
        row("talosnb check (the command: fresh Python, imports, output)", "command", TARGETS["all"], "tools")
        row("talosnb: the olddefconfig gate (open + gate)", "olddefconfig", TARGETS["olddefconfig"], "conf")
        row("talosnb: the olddefconfig gate on loaded configs", "olddefconfig loaded", TARGETS["olddefconfig"], "conf")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
