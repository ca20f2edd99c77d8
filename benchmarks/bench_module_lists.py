"""A huge module list is checked in seconds: the "did you mean" of an entry no tree builds compares
it with every module name of the tree, so it is looked for only for the first MAX_SUGGESTED unknown
entries of a list (analyses/modules.py).

    .venv/bin/python benchmarks/bench_module_lists.py [--lines N] [--sample N] [--tree TARBALL] [--data DIR]

On the real Talos v1.10 amd64 config and list and the 6.12.117 tree's Kbuild map (the session is
opened first, warm, and not timed): a list of the real entries plus N misspelt ones (each a real
module's name with a number added, in its real folder: no tree builds it), checked as the modules
gate checks it (`check_module_lists`, every finding made). Before: every unknown entry looked up
(measured on --sample of them, per entry, then scaled to N); now: the whole list.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def misspelt_list(real: list[str], count: int) -> str:
    rnd = random.Random(1)
    modules = [e for e in real if e.startswith("kernel/")]
    extra = []
    for i in range(count):
        folder, _, file = rnd.choice(modules).rpartition("/")
        extra.append(f"{folder}/{file.removesuffix('.ko')}{i:06d}x.ko")
    return "".join(f"{e}\n" for e in sorted({*real, *extra}))


def timed_check(session, text: str, path: Path) -> tuple[float, float, list]:
    """Wall-clock and CPU seconds of one check of ``text`` (CPU time: the figure a busy machine
    changes least), and its findings."""
    from talosnb.analyses.modules import ModuleList, check_module_lists
    path.write_text(text)
    module_list = ModuleList.load(path, "amd64")
    values = session.configs["amd64"].written()     # what the config holds: not part of the check
    start, cpu = time.perf_counter(), time.process_time()
    found = check_module_lists({"amd64": module_list}, {"amd64": values},
                               {"amd64": session.kbuild_map("amd64")}, tree_version=session.tree_version,
                               list_version=session.list_version(), unlisted=False)
    return time.perf_counter() - start, time.process_time() - cpu, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000, help="misspelt entries added to the real list")
    parser.add_argument("--sample", type=int, default=300, help="unknown entries timed without the cap")
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"))
    parser.add_argument("--data", default=str(SHARED / "data" / "talos-v1.10"))
    args = parser.parse_args()

    from talosnb.analyses import modules
    from talosnb.app.session import Session

    data = Path(args.data)
    session = Session.open(data / "pkgs", data / "talos", args.tree, arch="amd64")
    real = [e.strip() for e in (data / "talos" / "hack" / "modules-amd64.txt").read_text().splitlines() if e.strip()]
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        path = Path(work) / "modules-amd64.txt"
        timed_check(session, misspelt_list(real, 0), path)    # the first check builds the map's indexes
        base, base_cpu, _ = timed_check(session, misspelt_list(real, 0), path)
        cap = modules.MAX_SUGGESTED
        modules.MAX_SUGGESTED = 10 ** 9       # before: a lookup for every unknown entry
        try:
            uncapped, uncapped_cpu, found = timed_check(session, misspelt_list(real, args.sample), path)
        finally:
            modules.MAX_SUGGESTED = cap
        per_entry = (uncapped - base) / args.sample
        per_entry_cpu = (uncapped_cpu - base_cpu) / args.sample
        now, now_cpu, found = timed_check(session, misspelt_list(real, args.lines), path)
    unknown = sum(1 for f in found if f.kind == "not-in-tree")
    suggested = sum(1 for f in found if f.kind == "not-in-tree" and "not compared" not in f.message)
    before = base + per_entry * args.lines
    before_cpu = base_cpu + per_entry_cpu * args.lines
    print(f"list: {len(real)} real lines + {args.lines} misspelt ones (amd64, 6.12.117 tree); wall (CPU) seconds")
    print(f"the real list alone: {base:.2f} s ({base_cpu:.2f} s)")
    print(f"before: {per_entry * 1000:.1f} ms ({per_entry_cpu * 1000:.1f} ms) per unknown entry (on {args.sample}), "
          f"so {before:.0f} s ({before_cpu:.0f} s) = {before_cpu / 60:.0f} CPU minutes for the list")
    print(f"now: {now:.2f} s ({now_cpu:.2f} s) for the list ({unknown} unknown entries, {suggested} looked up); "
          f"{before_cpu / now_cpu:.0f}x less CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
