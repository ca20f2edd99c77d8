"""Benchmark the hardware lookup: the device index built cold from the kernel tarball (read as a
stream) against the kernel tool's first step, `tar -xJf` of the same tarball; and a warm lookup of a
40-device `talosctl get pcidevices -o yaml` capture as a whole `talosnb hardware` process.

    .venv/bin/python benchmarks/bench_hardware.py [--tarball /usr/src/linux-source-6.12.tar.xz]
        [--data ../shared/data/talos-v1.10] [--repeat 5]

Targets (2 cores): index cold <= 60 s, warm lookup of 40 devices <= 0.3 s (whole process).
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

from talosnb.kbuild.devices import build_device_index  # after the sys.path line: runs from a checkout

SHARED = ROOT.parent / "shared"
TARGETS = {"cold": 60.0, "warm": 0.3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=Path("/usr/src/linux-source-6.12.tar.xz"))
    parser.add_argument("--data", type=Path, default=SHARED / "data/talos-v1.10")
    parser.add_argument("--capture", type=Path, default=ROOT / "data/hardware/talosctl-pcidevices.yaml")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (apt-get install linux-source-6.12, or pass --tarball)")
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-hw-") as scratch:
        start = time.perf_counter()
        subprocess.run(["tar", "-xJf", str(args.tarball), "-C", scratch], check=True)
        tar_s = time.perf_counter() - start
        shutil.rmtree(scratch, ignore_errors=True)
    start = time.perf_counter()
    index = build_device_index(args.tarball, "6.12")
    cold = time.perf_counter() - start
    counts = index.entry_count()
    print(f"kernel tool: tar -xJf {args.tarball.name}          {tar_s:7.1f} s")
    print(f"talosnb: device index, cold (streamed)      {cold:7.1f} s  ({cold / tar_s:.2f}x tar; "
          f"target <= {TARGETS['cold']} s: {'ok' if cold <= TARGETS['cold'] else 'SLOWER THAN TARGET'})")
    print(f"  {index.c_files} C files read; entries: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    env = {**os.environ}
    command = [sys.executable, "-m", "talosnb", "hardware", str(args.capture), "--pkgs", str(args.data / "pkgs"),
               "--talos", str(args.data / "talos"), "--kernel-src", str(args.tarball), "--format", "json"]
    subprocess.run(command, capture_output=True, check=False, env=env, cwd=ROOT)   # warms the caches
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, check=False, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    if result.returncode not in (0, 1):
        print(result.stderr.decode(), file=sys.stderr)
        return 1
    warm = statistics.median(times)
    print(f"talosnb hardware, 40 devices, warm (whole process, median of {args.repeat})  {warm:6.2f} s  "
          f"(target <= {TARGETS['warm']} s: {'ok' if warm <= TARGETS['warm'] else 'SLOWER THAN TARGET'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
