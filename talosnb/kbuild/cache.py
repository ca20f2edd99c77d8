"""The Kbuild map cached on disk per tree and SRCARCH."""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
from collections.abc import Iterable
from pathlib import Path

from talosnb.core.paths import cache_dir as default_cache_dir

from .model import FORMAT_VERSION, KbuildMap
from .walk import build_kbuild_map, kernel_version


def _stamp(tree: Path, kmap_files: Iterable[str], directories: Iterable[str]) -> str:
    """Hash of the Makefiles' paths, mtimes and sizes, and of the descended directories'
    mtimes (a Kbuild file added next to a Makefile changes its directory's mtime)."""
    h = hashlib.sha256()
    for rel in sorted(set(kmap_files)):
        try:
            st = os.stat(tree / rel)
            h.update(f"{rel}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
        except OSError:
            h.update(f"{rel}\0missing\n".encode())
    for rel in sorted(set(directories)):
        try:
            h.update(f"{rel}/\0{os.stat(tree / rel if rel else tree).st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{rel}/\0missing\n".encode())
    return h.hexdigest()


def cache_path(tree: Path, srcarch: str, cache_dir: Path | None = None) -> Path:
    """Where the map of ``tree`` for ``srcarch`` is cached: named by the top-Makefile version,
    SRCARCH, the tree's location and the cache format."""
    tree = Path(tree).resolve()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    where = hashlib.sha256(f"{FORMAT_VERSION}\0{tree}".encode()).hexdigest()[:20]
    return folder / "kbuild" / f"{kernel_version(tree)}-{srcarch}-{where}.pickle"


def load_kbuild_map(tree: Path, srcarch: str, cache_dir: Path | None = None, *,
                    progress: bool = False) -> KbuildMap:
    """:func:`build_kbuild_map`, cached on disk per tree and SRCARCH (default cache folder:
    ``platformdirs.user_cache_dir("talosnb")``, or ``$TALOSNB_CACHE_DIR``).

    The cache is keyed by the top-Makefile version, SRCARCH, the format version and a hash
    of the paths, mtimes and sizes of the Kbuild files the map was built from (plus the
    mtimes of the directories descended, so a new Kbuild file is noticed); any change
    rebuilds it.
    """
    tree = Path(tree).resolve()
    path = cache_path(tree, srcarch, cache_dir)
    try:
        with open(path, "rb") as f:
            stamp, payload = pickle.load(f)
        if stamp == _stamp(tree, payload_files(payload), payload_dirs(payload)):
            # Unpickling ~100k small objects triggers the cyclic GC over and over; it
            # finds nothing to collect here, so pause it (halves the warm load time).
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                kmap = pickle.loads(payload[2])
            finally:
                if was_enabled:
                    gc.enable()
            if isinstance(kmap, KbuildMap):
                return kmap
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError,
            IndexError):
        pass  # missing, stale or unreadable: build it again
    kmap = build_kbuild_map(tree, srcarch, progress=progress)
    payload = (kmap.files, list(kmap.directories), pickle.dumps(kmap, protocol=pickle.HIGHEST_PROTOCOL))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump((_stamp(tree, kmap.files, kmap.directories), payload), f,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache we cannot write only costs time
    return kmap


def payload_files(payload: tuple) -> list[str]:
    return payload[0]


def payload_dirs(payload: tuple) -> list[str]:
    return payload[1]
