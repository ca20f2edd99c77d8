"""Benchmark the kernel upgrade report: both arches, from one tree to another, cold and warm,
against the kernel's own tools in the same run.

    .venv/bin/python benchmarks/bench_upgrade.py [--old TREE] [--new TREE] [--data TALOS_DATA_DIR] [--repeat N]

Defaults: Talos v1.10 from the Linux 6.12.117 skeleton to 7.2.12 (../shared). Each run is a fresh
process (`Upgrade.open` + `report()`, the work `talosnb upgrade` does before printing):

- cold: both trees parsed and both Kbuild maps built (the extracted trees are kept, as after a first
  `--kernel-src`), with the progress steps counted;
- warm: everything from the on-disk caches;
- the whole `talosnb upgrade` command, warm (interpreter start, imports, report, printing, exit).

The kernel's own tools doing the nearest thing, timed in the same run: `conf --olddefconfig` and
`conf --listnewconfig` of both configs on the new tree (host gcc), built once from the new tree.

Targets (2 cores): warm <= 2 s, cold <= 15 s.
"""

from __future__ import annotations

import argparse
import json
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

from oracle import KernelConf

from talosnb.inputs.kernel_tree import open_kernel_tree
from talosnb.kconfig import toolchain

SHARED = ROOT.parent / "shared"
TARGETS = {"warm": 2.0, "cold": 15.0}

RUN = r"""
import json, sys, time
start = time.perf_counter()
from talosnb.app.upgrade import Upgrade

class Steps:
    count = 0
    def start(self, total): pass
    def step(self, text): Steps.count += 1
    def done(self, text): pass

upgrade = Upgrade.open(sys.argv[1], sys.argv[2], sys.argv[3], to_kernel_src=sys.argv[4], steps=Steps())
opened = time.perf_counter()
report = upgrade.report()
done = time.perf_counter()
print(json.dumps({"open": opened - start, "report": done - opened, "total": done - start, "steps": Steps.count,
                  "errors": report.errors(), "choices": len(report.choices()), "edits": len(report.edits())}))
"""


def run_once(cache: Path, data: Path, old: Path, new: Path) -> dict:
    env = {**os.environ, "TALOSNB_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
        env.pop(name, None)
    wall = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", RUN, str(data / "pkgs"), str(data / "talos"), str(old), str(new)],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    out = json.loads(result.stdout.splitlines()[-1])
    out["process"] = time.perf_counter() - wall
    # the whole command, as a person runs it (start, imports, report, printing, exit)
    wall = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "talosnb", "upgrade", "--pkgs", str(data / "pkgs"), "--talos",
                             str(data / "talos"), "--kernel-src", str(old), "--to-kernel-src", str(new)],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode not in (0, 1):
        raise SystemExit(result.stderr[-3000:])
    out["cli"] = time.perf_counter() - wall
    return out


def conf_run(kc: KernelConf, data: Path) -> float:
    """conf --olddefconfig and --listnewconfig of both configs on the new tree (host gcc)."""
    start = time.perf_counter()
    host = toolchain.host_env(rustc="talosnb-no-rustc")
    for arch in ("amd64", "arm64"):
        text = (data / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text()
        with tempfile.TemporaryDirectory() as work:
            path = Path(work) / ".config"
            path.write_text(text)
            subprocess.run([str(kc.conf), "-s", "--listnewconfig", "Kconfig"], cwd=work, check=True,
                           env=kc.env(arch, host, path), capture_output=True)
            kc._run_conf(path, arch, host, work)
    return time.perf_counter() - start


def report(label: str, seconds: float, target: float | None = None, ratio: float | None = None) -> None:
    line = f"{label:<52} {seconds:7.2f} s"
    if ratio is not None:
        line += f"   ({ratio:.2f}x the kernel's tools)"
    if target is not None:
        line += f"   (target <= {target} s: {'ok' if seconds <= target else 'SLOWER THAN TARGET'})"
    print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, default=SHARED / "kernel/linux-6.12.117-kbuild.tar.xz")
    parser.add_argument("--new", type=Path, default=SHARED / "kernel/linux-7.2.12-kbuild.tar.xz")
    parser.add_argument("--data", type=Path, default=SHARED / "data/talos-v1.10")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for path in (args.old, args.new, args.data):
        if not path.exists():
            parser.error(f"{path} not found")
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as scratch:
        scratch = Path(scratch)
        cache = scratch / "cache"
        os.environ["TALOSNB_CACHE_DIR"] = str(cache)
        start = time.perf_counter()
        old, new = open_kernel_tree(args.old).path, open_kernel_tree(args.new).path
        print(f"{'extract both trees (not part of the targets)':<52} {time.perf_counter() - start:7.2f} s")
        kc = KernelConf(new, scratch / "conf")
        cold, warm, tools = [], [], []
        for _ in range(args.repeat):
            # each round: the kernel's tools, then talosnb cold, then warm, so machine load hits all alike
            tools.append(conf_run(kc, args.data))
            for folder in ("kconfig", "kbuild"):
                shutil.rmtree(cache / folder, ignore_errors=True)
            cold.append(run_once(cache, args.data, old, new))
            warm.append(run_once(cache, args.data, old, new))
        base = statistics.median(tools)
        report("kernel's conf: olddefconfig + listnewconfig, 2 arches", base)
        for label, runs, key in (("talosnb cold (parse + Kbuild + report)", cold, "cold"),
                                 ("talosnb warm (caches + report)", warm, "warm")):
            total = statistics.median(r["total"] for r in runs)
            report(label, total, TARGETS[key], total / base)
            print(f"    open {statistics.median(r['open'] for r in runs):.2f} s, report "
                  f"{statistics.median(r['report'] for r in runs):.2f} s, {runs[0]['steps']} progress steps")
        print(f"{'talosnb upgrade, the whole command, warm':<52} {statistics.median(r['cli'] for r in warm):7.2f} s")
        print(f"    {warm[0]['choices']} choices not honoured, {warm[0]['errors']} errors, "
              f"{warm[0]['edits']} module-list edits proposed")
        print(f"    load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
