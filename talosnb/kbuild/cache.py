"""The Kbuild map cached on disk per tree and SRCARCH."""

from __future__ import annotations

import functools
import gc
import hashlib
import io
import os
import pickle
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from talosnb.core import cacheentry, cachefile
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


@functools.cache
def engine() -> str:
    """What wrote a cache file: the format, the Kbuild reader's own code, the Python version.
    A change to any of them makes older files stale."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}|{sys.version_info[:2]}".encode())
    for module in ("model.py", "makefile.py", "walk.py", "cache.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return f"kbuild-{digest.hexdigest()[:32]}"


def load_kbuild_map(tree: Path, srcarch: str, cache_dir: Path | None = None, *,
                    progress: bool = False, check_sources: Callable[[], None] | None = None) -> KbuildMap:
    """:func:`build_kbuild_map`, cached on disk per tree and SRCARCH (default cache folder:
    ``platformdirs.user_cache_dir("talosnb")``, or ``$TALOSNB_CACHE_DIR``).

    The cache is keyed by the top-Makefile version, SRCARCH, the format version and a hash
    of the paths, mtimes and sizes of the Kbuild files the map was built from (plus the
    mtimes of the directories descended, so a new Kbuild file is noticed); any change
    rebuilds it. A damaged cache file (checked against its digest) is deleted with a
    warning and rebuilt. ``check_sources`` is called before the Kbuild files are read
    (not on a cache hit): e.g. to re-extract a damaged tree.
    """
    tree = Path(tree).resolve()
    path = cache_path(tree, srcarch, cache_dir)
    kmap = _cached_map(tree, path, srcarch)
    if kmap is not None:
        return kmap
    # one run builds the map, the others wait and read its cache file (cacheentry's rules)
    with cacheentry.building(path, f"reading the Kbuild files for {srcarch}", optional=True):
        kmap = _cached_map(tree, path, srcarch)
        if kmap is not None:
            return kmap
        if check_sources is not None:
            check_sources()
        kmap = build_kbuild_map(tree, srcarch, progress=progress)
        buffer = io.BytesIO()
        pickle.dump((kmap.files, list(kmap.directories), _stamp(tree, kmap.files, kmap.directories)), buffer,
                    protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(kmap, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        cachefile.write(path, buffer.getbuffer(), engine=engine())
    return kmap


def _cached_map(tree: Path, path: Path, srcarch: str) -> KbuildMap | None:
    data = cachefile.read(path, engine=engine(), what=f"Kbuild map for {srcarch}")
    if data is not None:
        try:
            files, dirs, stamp = pickle.load(data)
            if stamp == _stamp(tree, files, dirs):
                # Unpickling ~100k small objects triggers the cyclic GC over and over; it
                # finds nothing to collect here, so pause it (halves the warm load time).
                was_enabled = gc.isenabled()
                gc.disable()
                try:
                    kmap = pickle.load(data)
                finally:
                    if was_enabled:
                        gc.enable()
                if not isinstance(kmap, KbuildMap):
                    raise TypeError(type(kmap).__name__)
                return kmap
        except Exception as e:  # noqa: BLE001 -- whatever unpickling a bad file raises: rebuild it
            cachefile.discard(path, f"Kbuild map for {srcarch}", f"unpickling failed: {type(e).__name__}")
    return None
