"""Benchmark the hardware lookup: the device index built cold from the kernel tarball (read as a
stream) against the kernel tool's first step, `tar -xJf` of the same tarball, and against the floor
of any reader, `xz -dc | wc -c`; and a warm lookup of a 40-device `talosctl get pcidevices -o yaml`
capture as a whole `talosnb hardware` process: answered again (the kept answer) and a first lookup
of it (the answer not kept yet: configs, Kbuild maps, device index and the Workspace's change from
their caches). Python's bytecode is cached (in a scratch folder) as in an installed copy.

    .venv/bin/python benchmarks/bench_hardware.py [--tarball /usr/src/linux-source-6.12.tar.xz]
        [--data ../shared/data/talos-v1.10] [--repeat 5]

Targets (2 cores): index cold <= 60 s, warm lookup of 40 devices <= 0.3 s (whole process).
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

from talosnb.analyses.hardware import read_inputs  # after the sys.path line: runs from a checkout
from talosnb.core.paths import cache_dir
from talosnb.kbuild.devices import build_device_index

SHARED = ROOT.parent / "shared"
TARGETS = {"cold": 60.0, "warm": 0.3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=Path("/usr/src/linux-source-6.12.tar.xz"))
    parser.add_argument("--data", type=Path, default=SHARED / "data/talos-v1.10")
    parser.add_argument("--capture", type=Path, default=ROOT / "data/hardware/talosctl-pcidevices.yaml")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    devices = len(read_inputs([str(args.capture)]))
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (apt-get install linux-source-6.12, or pass --tarball)")
    start = time.perf_counter()
    subprocess.run(f"xz -dc -- '{args.tarball}' | wc -c", shell=True, check=True, capture_output=True)
    floor_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-hw-") as scratch:
        start = time.perf_counter()
        subprocess.run(["tar", "-xJf", str(args.tarball), "-C", scratch], check=True)
        tar_s = time.perf_counter() - start
        shutil.rmtree(scratch, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    index = build_device_index(args.tarball, "6.12")
    cold = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = [a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before, strict=True)]
    counts = index.entry_count()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"floor: xz -dc {args.tarball.name} | wc -c     {floor_s:7.1f} s")
    print(f"kernel tool: tar -xJf {args.tarball.name}          {tar_s:7.1f} s")
    print(f"talosnb: device index, cold (streamed)      {cold:7.1f} s  ({cold / tar_s:.2f}x tar, {cold / floor_s:.2f}x the "
          f"floor; CPU {cpu[0]:.1f} s reading + {cpu[1]:.1f} s xz; "
          f"target <= {TARGETS['cold']} s: {'ok' if cold <= TARGETS['cold'] else 'SLOWER THAN TARGET'})")
    print(f"  {index.c_files} C files read; entries: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-pyc-") as pyc:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pyc
        command = [sys.executable, "-m", "talosnb", "hardware", str(args.capture), "--pkgs", str(args.data / "pkgs"),
                   "--talos", str(args.data / "talos"), "--kernel-src", str(args.tarball), "--format", "json"]
        subprocess.run(command, capture_output=True, check=False, env=env, cwd=ROOT)   # warms the caches
        answers = cache_dir() / "hardware-answers"
        for label, forget in (("answered again", False), ("first lookup of it", True)):
            times, cpus = [], []
            for _ in range(args.repeat if not forget else max(1, args.repeat // 2)):
                if forget:
                    shutil.rmtree(answers, ignore_errors=True)
                was = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                result = subprocess.run(command, capture_output=True, check=False, env=env, cwd=ROOT)
                times.append(time.perf_counter() - start)
                now = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(now.ru_utime + now.ru_stime - was.ru_utime - was.ru_stime)
                if result.returncode not in (0, 1):
                    print(result.stderr.decode(), file=sys.stderr)
                    return 1
            warm = statistics.median(times)
            target = f"target <= {TARGETS['warm']} s: {'ok' if warm <= TARGETS['warm'] else 'SLOWER THAN TARGET'}" \
                if not forget else "no target"
            print(f"talosnb hardware, {devices} devices, warm, {label} (whole process, median of {len(times)})  "
                  f"{warm:6.2f} s, CPU {statistics.median(cpus):.2f} s  ({target}; load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
