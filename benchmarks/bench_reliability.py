"""What the reliability machinery costs: the lock, the transaction and the cache digests.

    .venv/bin/python benchmarks/bench_reliability.py [--tree DIR_OR_TARBALL] [--data DIR] [--repeat N]

Defaults: the 6.12.117 skeleton and the Talos v1.10 checkouts in ../shared (copied:
nothing of the user's is written). Measured in one run, one of each per round so a
busy machine slows all alike; medians:

- a save's write: a Transaction of the real configs (and module lists) against the
  same bytes written the plain way (temp file, fsync, rename, one file after the
  other); the difference is what the lock, the journal, the checks under the lock
  and the recovery scan add to a `set`. Target: <= 20 ms.
- a warm load (Session.open of both arches and their Kbuild maps from the cache)
  against the SHA-256 checks of its cache files and the recovery scans of the
  checkout folders it does. Target: <= 5 % of the warm load.
- the kernel's `conf --olddefconfig` in the same rounds, for scale.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def plain_write(files: dict[Path, bytes]) -> None:
    """What writing costs without any of it: each file to a temp file, fsync, rename."""
    for path, data in files.items():
        tmp = path.with_name(f".{path.name}.plain.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"))
    parser.add_argument("--data", default=str(SHARED / "data" / "talos-v1.10"))
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="talosnb-bench-") as work:
        os.environ["TALOSNB_CACHE_DIR"] = str(Path(work) / "cache")
        from talosnb.app.session import Session
        from talosnb.core import cachefile
        from talosnb.core.fileio import Snapshot, Transaction, recover
        from talosnb.inputs.kernel_tree import open_kernel_tree
        from talosnb.kbuild.cache import cache_path
        from talosnb.kconfig.toolchain import host_env
        from talosnb.kconfig.tree import _cache_file
        from tests.oracle import KernelConf

        tree = open_kernel_tree(args.tree).path
        root = Path(work) / "work"
        for name in ("pkgs", "talos"):
            shutil.copytree(Path(args.data) / name, root / name)
        session = Session.open(root / "pkgs", root / "talos", tree, kbuild=True)   # fills the caches
        version = session.tree_version
        configs = {root / "pkgs" / "kernel" / "build" / f"config-{a}": None for a in ("amd64", "arm64")}
        lists = {root / "talos" / "hack" / f"modules-{a}.txt": None for a in ("amd64", "arm64")}
        versions = {}
        for path in [*configs, *lists]:
            old = path.read_bytes()
            new = old.replace(b"\n", b"\n# talosnb-bench\n", 1) if "config" in path.name else old + b"kernel/x.ko\n"
            versions[path] = (old, new)
        cache_files = [_cache_file(tree.resolve(), version, a) for a in ("amd64", "arm64")]
        cache_files += [cache_path(tree, s) for s in ("x86", "arm64")]
        folders = [root / "pkgs", root / "pkgs" / "kernel" / "build", root / "talos" / "hack"]
        conf = KernelConf(str(tree), Path(work) / "conf")
        host = host_env(rustc="talosnb-no-rustc")
        config_text = (root / "pkgs" / "kernel" / "build" / "config-amd64").read_text()

        times: dict[str, list[float]] = {}

        def timed(name: str, fn) -> None:
            t = time.perf_counter()
            fn()
            times.setdefault(name, []).append(time.perf_counter() - t)

        for _ in range(args.repeat):
            for label, paths in (("2 configs", list(configs)), ("2 configs + 2 lists", [*configs, *lists])):
                back = {p: versions[p][0] for p in paths}
                contents = {p: versions[p][1] for p in paths}   # every write changes the bytes
                plain_write(back)
                snapshots = {p: Snapshot.of(p) for p in paths}

                def transaction(contents=contents, snapshots=snapshots):
                    tx = Transaction()
                    for p, data in contents.items():
                        tx.add(p, data, expect=snapshots[p], root=root)
                    tx.commit()
                timed(f"transaction, {label}", transaction)
                assert all(p.read_bytes() == contents[p] for p in paths)
                plain_write(back)
                timed(f"plain writes, {label}", lambda contents=contents: plain_write(contents))
                plain_write(back)
            timed("warm load (both arches, Kbuild maps)",
                  lambda: Session.open(root / "pkgs", root / "talos", tree, kbuild=True))
            datas = [f.read_bytes() for f in cache_files]
            timed("  cache digests (4 files)", lambda datas=datas: [hashlib.sha256(d).digest() for d in datas])
            timed("  recovery scans (3 folders)", lambda: [recover(f) for f in folders])
            timed("conf --olddefconfig (amd64)", lambda: conf.olddefconfig(config_text, "amd64", host))
        assert all(cachefile.read(f, engine=cachefile_engine(f), what="x") is not None for f in cache_files)

        med = {name: statistics.median(values) for name, values in times.items()}
        print(f"tree {version}, {args.repeat} rounds, medians")
        for name, value in med.items():
            print(f"{name:42} {value * 1000:8.1f} ms")
        print()
        for label in ("2 configs", "2 configs + 2 lists"):
            extra = med[f"transaction, {label}"] - med[f"plain writes, {label}"]
            print(f"added to a save of {label:20} {extra * 1000:6.1f} ms   (target <= 20 ms)")
        load = med["warm load (both arches, Kbuild maps)"]
        added = med["  cache digests (4 files)"] + med["  recovery scans (3 folders)"]
        print(f"added to a warm load                     {added * 1000:6.1f} ms = {added / load:.1%} of "
              f"{load * 1000:.0f} ms   (target <= 5 %)")
        print(f"warm load / conf --olddefconfig          {load / med['conf --olddefconfig (amd64)']:.3f}x")
    return 0


def cachefile_engine(path: Path) -> str:
    from talosnb.kbuild.cache import engine
    from talosnb.kconfig.tree import _engine_fingerprint
    return _engine_fingerprint() if path.parent.name == "kconfig" else engine()


if __name__ == "__main__":
    raise SystemExit(main())
