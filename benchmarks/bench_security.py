"""What the security mechanisms cost (docs/security.md): before (the write path and cache check of
an earlier commit, loaded from git) against now, on copies of the real Talos checkouts and the real
cache files of a parsed 6.12.117 tree.

    .venv/bin/python benchmarks/bench_security.py [--before REV] [--tree DIR_OR_TARBALL] [--data DIR] [--repeat N]

Measured in one run, before and now alternating in each round so a busy machine slows both
alike; medians:

- a save's write: a Transaction of both configs and both module lists (four files, two
  folders), and of one config: now the folders are opened component by component without
  following symlinks, every read/temp file/rename/fsync goes through their descriptors, and
  each target's identity is checked again before the commit point and before its rename;
- a warm cache read: the four cache files of a warm Session (both arches' Kconfig trees and
  Kbuild maps) read and checked, an HMAC-SHA256 keyed by the user's cache key now, a plain
  SHA-256 before; and the whole warm Session.open for scale (now only).
- recovery of a folder with nothing to do (one listdir, both).
- a cold extraction of the kernel tarball into an empty cache (``--tree``, a tarball): before
  (``--before-cache``, the commit before the cache entries' locks and the tarball caps) against
  now (the entry's lock, the leftover scan, the budget counting every member, the publish);
  and, now only, taking and releasing an entry's lock, and the leftover scan of a folder
  holding nothing to remove.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def old_module(rev: str, path: str, name: str, package: str = "talosnb.core"):
    """talosnb/<package>/<path> as it was at ``rev``, imported as a sibling of the current module."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    spec = importlib.util.spec_from_loader(f"{package}.{name}", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    sys.modules[spec.name] = module
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)  # noqa: S102 -- the project's own code
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="38daf05", help="the commit to compare with (default: before these "
                                                          "mechanisms)")
    parser.add_argument("--before-cache", default="6426947",
                        help="the commit to compare a cold extraction with (default: before the cache entries' "
                             "locks and the tarball caps)")
    parser.add_argument("--extractions", type=int, default=7, help="rounds of the cold extraction")
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"))
    parser.add_argument("--data", default=str(SHARED / "data" / "talos-v1.10"))
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        os.environ["TALOSNB_CACHE_DIR"] = str(Path(work) / "cache")
        os.environ["TALOSNB_CONFIG_DIR"] = str(Path(work) / "config")
        from talosnb.app.session import Session
        from talosnb.core import cachefile, fileio
        from talosnb.inputs.kernel_tree import open_kernel_tree
        from talosnb.kbuild.cache import cache_path
        from talosnb.kbuild.cache import engine as kbuild_engine
        from talosnb.kconfig.tree import _cache_file, _engine_fingerprint

        old_fileio = old_module(args.before, "talosnb/core/fileio.py", "_fileio_before")
        old_cachefile = old_module(args.before, "talosnb/core/cachefile.py", "_cachefile_before")

        tree = open_kernel_tree(args.tree).path
        root = Path(work) / "work"
        for name in ("pkgs", "talos"):
            shutil.copytree(Path(args.data) / name, root / name)
        session = Session.open(root / "pkgs", root / "talos", tree, kbuild=True)   # fills the caches
        version = session.tree_version
        paths = [root / "pkgs" / "kernel" / "build" / f"config-{a}" for a in ("amd64", "arm64")]
        paths += [root / "talos" / "hack" / f"modules-{a}.txt" for a in ("amd64", "arm64")]
        versions = {}
        for path in paths:
            old = path.read_bytes()
            new = old.replace(b"\n", b"\n# talosnb-bench\n", 1) if "config" in path.name else old + b"kernel/x.ko\n"
            versions[path] = (old, new)

        cache_files = [(_cache_file(tree.resolve(), version, a), _engine_fingerprint()) for a in ("amd64", "arm64")]
        cache_files += [(cache_path(tree, s), kbuild_engine()) for s in ("x86", "arm64")]
        # the same payloads, written in the earlier format beside them
        before_files = []
        for path, engine in cache_files:
            payload = cachefile.read(path, engine=engine, what="x")
            assert payload is not None, path
            copy = path.with_name(path.name + ".before")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                old_cachefile.write(copy, payload.read(), engine=engine)
            before_files.append((copy, engine))

        times: dict[str, list[float]] = {}

        def timed(name: str, fn) -> None:
            t = time.perf_counter()
            fn()
            times.setdefault(name, []).append(time.perf_counter() - t)

        def save(module, chosen: list[Path]) -> None:
            for p in chosen:
                p.write_bytes(versions[p][0])
            snapshots = {p: module.Snapshot.of(p) for p in chosen}
            tx = module.Transaction()
            for p in chosen:
                tx.add(p, versions[p][1], expect=snapshots[p], root=root)
            t = time.perf_counter()
            tx.commit()
            return time.perf_counter() - t

        for _ in range(args.repeat):
            for label, chosen in (("save, 4 files", paths), ("save, 1 config", paths[:1])):
                for when, module in (("before", old_fileio), ("now", fileio)):
                    times.setdefault(f"{label} ({when})", []).append(save(module, chosen))
            timed("cache read + check, 4 files (before)",
                  lambda: [old_cachefile.read(p, engine=e, what="x") for p, e in before_files])
            timed("cache read + check, 4 files (now)",
                  lambda: [cachefile.read(p, engine=e, what="x") for p, e in cache_files])
            timed("recovery scan, nothing to do (before)", lambda: old_fileio.recover(paths[0].parent))
            timed("recovery scan, nothing to do (now)", lambda: fileio.recover(paths[0].parent))
            timed("warm Session.open, both arches + Kbuild maps (now)",
                  lambda: Session.open(root / "pkgs", root / "talos", tree, kbuild=True))

        med = {name: statistics.median(values) for name, values in times.items()}
        print(f"tree {version}, {args.repeat} rounds, medians; before = {args.before}")
        for name, value in med.items():
            print(f"{name:52} {value * 1000:8.2f} ms")
        print()
        for label in ("save, 4 files", "save, 1 config", "cache read + check, 4 files",
                      "recovery scan, nothing to do"):
            before, now = med[f"{label} ({'before'})"], med[f"{label} (now)"]
            print(f"{label:32} now - before = {(now - before) * 1000:+7.2f} ms  ({now / before:.2f}x)")
        load = med["warm Session.open, both arches + Kbuild maps (now)"]
        extra = med["cache read + check, 4 files (now)"] - med["cache read + check, 4 files (before)"]
        print(f"the cache check's change is {extra / load:+.1%} of a warm Session.open ({load * 1000:.0f} ms)")
        if Path(args.tree).is_file():
            extraction(Path(args.tree), Path(work), args.before_cache, args.extractions, args.repeat)
    return 0


def extraction(tarball: Path, work: Path, before: str, rounds: int, repeat: int) -> None:
    from talosnb.core import cacheentry
    from talosnb.inputs import kernel_tree

    old_tree = old_module(before, "talosnb/inputs/kernel_tree.py", "_kernel_tree_before", package="talosnb.inputs")
    times: dict[str, list[float]] = {}
    for i in range(rounds):
        for when, module in (("before", old_tree), ("now", kernel_tree)):
            os.environ["TALOSNB_CACHE_DIR"] = str(work / f"cold-{when}-{i}")
            t = time.perf_counter()
            tree = module.open_kernel_tree(tarball)
            times.setdefault(when, []).append(time.perf_counter() - t)
            assert tree.damaged_files() == []
    trees = Path(os.environ["TALOSNB_CACHE_DIR"]) / "trees" / "v1"
    entry = next(p for p in trees.iterdir() if not p.name.startswith("."))
    lock, scan = [], []
    for _ in range(repeat * 10):
        t = time.perf_counter()
        with cacheentry.building(entry, "x"):
            pass
        lock.append(time.perf_counter() - t)
        t = time.perf_counter()
        cacheentry.remove_leftovers(trees)
        scan.append(time.perf_counter() - t)
    before_s, now_s = statistics.median(times["before"]), statistics.median(times["now"])
    print()
    print(f"cold extraction of {tarball.name}, {rounds} rounds, medians; before = {before}")
    print(f"{'before':52} {before_s * 1000:8.1f} ms")
    print(f"{'now':52} {now_s * 1000:8.1f} ms")
    print(f"{'now - before':52} {(now_s - before_s) * 1000:+8.1f} ms  ({now_s / before_s:.2f}x)")
    print(f"{'entry lock taken and released, uncontended':52} {statistics.median(lock) * 1e6:8.1f} us")
    print(f"{'leftover scan, nothing to remove':52} {statistics.median(scan) * 1e6:8.1f} us")


if __name__ == "__main__":
    raise SystemExit(main())
