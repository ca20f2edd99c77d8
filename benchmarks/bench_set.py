"""A guarded `talosnb set` with --add-to-module-list, whole process and in process, and the work it does.

    .venv/bin/python benchmarks/bench_set.py [--repeat N] [--assignment SYMBOL=VALUE] [--arch ARCH]

Runs on a copy of the embedded sample (the sample itself is never written): each round puts
the copy's files back, then times

- the whole process: `python -m talosnb set --arch ARCH --add-to-module-list SYMBOL=VALUE` with a
  warm cache (the parsed tree is cached on disk by the first run), interpreter start-up and
  imports included, writing config-ARCH and modules-ARCH.txt;
- in process: the same set and save on a Workspace already open (what a click in the
  workbench costs, plus the write).

Then it counts, in process, the work one such set does: edits attempted per arch, undo/redo
steps taken to measure a guard's "before", full module-list checks, and .config texts built.
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
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "data" / "sample"
FILES = ("pkgs/kernel/build/config-amd64", "pkgs/kernel/build/config-arm64",
         "talos/hack/modules-amd64.txt", "talos/hack/modules-arm64.txt")


def _restore(root: Path) -> None:
    for name in FILES:
        shutil.copyfile(SAMPLE / name, root / name)


def _counting(counts: Counter, owner: Any, name: str, label: str) -> Callable[[], None]:
    """Count calls of owner.name under `label`; returns the function that puts it back."""
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts[label] += 1
        return original(*args, **kwargs)
    setattr(owner, name, counted)
    return lambda: setattr(owner, name, original)


def count_work(root: Path, assignment: str, arch: str) -> Counter:
    """What one set + save does, counted by wrapping the functions that do the work."""
    from talosnb.analyses import edit, modules
    from talosnb.app.workspace import Workspace
    from talosnb.kconfig.config import Config

    _restore(root)
    ws = Workspace.open(root / "pkgs", root / "talos", root / "linux", arch=arch)
    counts: Counter = Counter()
    undo = [_counting(counts, edit.Editor, "set", "Editor.set (edits tried, dry runs included)"),
            _counting(counts, edit.Editor, "undo", "Editor.undo"),
            _counting(counts, edit.Editor, "redo", "Editor.redo"),
            _counting(counts, modules, "check_module_lists", "full module-list checks"),
            _counting(counts, Config, "text", "Config.text (a .config built)")]
    if hasattr(edit.Editor, "attempt"):
        undo.append(_counting(counts, edit.Editor, "attempt", "Editor.attempt (edits tried)"))
    try:
        outcome = ws.set([assignment], arches=[arch], add_to_module_list=True)
        assert not outcome.blocked, outcome.blocked
        ws.save()
    finally:
        for put_back in undo:
            put_back()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--assignment", default="VIRTIO_NET=m",
                        help="a symbol the sample builds in (y), set to m: its .ko joins the list")
    parser.add_argument("--arch", default="amd64")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        root = Path(work) / "sample"
        for part in ("pkgs", "talos", "linux"):
            shutil.copytree(SAMPLE / part, root / part)
        env = {**os.environ, "TALOSNB_CACHE_DIR": str(Path(work) / "cache"), "PYTHONPATH": str(ROOT)}
        os.environ["TALOSNB_CACHE_DIR"] = env["TALOSNB_CACHE_DIR"]
        argv = [sys.executable, "-m", "talosnb", "set", "--pkgs", str(root / "pkgs"), "--talos",
                str(root / "talos"), "--kernel-src", str(root / "linux"), "--arch", args.arch,
                "--add-to-module-list", args.assignment]
        from talosnb.app.workspace import Workspace

        whole, inner = [], []
        for round_ in range(args.repeat + 1):      # the first round fills the caches
            _restore(root)
            t = time.perf_counter()
            result = subprocess.run(argv, capture_output=True, env=env, check=False, cwd=ROOT)
            elapsed = time.perf_counter() - t
            if result.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n"
                                 f"{result.stdout.decode()[-2000:]}{result.stderr.decode()[-2000:]}")
            _restore(root)
            ws = Workspace.open(root / "pkgs", root / "talos", root / "linux", arch=args.arch)
            t = time.perf_counter()
            outcome = ws.set([args.assignment], arches=[args.arch], add_to_module_list=True)
            assert not outcome.blocked, outcome.blocked
            ws.save()
            spent = time.perf_counter() - t
            if round_:
                whole.append(elapsed)
                inner.append(spent)
        print(f"talosnb set --arch {args.arch} --add-to-module-list {args.assignment} (sample copy, warm cache)")
        print(f"  whole process: median {statistics.median(whole):.3f} s  (min {min(whole):.3f} s, "
              f"{args.repeat} runs)")
        print(f"  in process (set + save on an open Workspace): median {statistics.median(inner) * 1000:.1f} ms "
              f"(min {min(inner) * 1000:.1f} ms)")
        print("work of one set + save:")
        for label, n in sorted(count_work(root, args.assignment, args.arch).items()):
            print(f"  {label}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
