"""Cache entries that several talosnb runs may build at the same moment.

An entry is what one key of the cache names: an extracted kernel tree, a patched tree, an
unpacked tool, a downloaded file, one cache file (a device index, a parsed tree). The rules:

- **One builder per entry.** :func:`building` holds an exclusive ``flock`` on a lock file
  beside the entry (``.<name>.lock``) while it is built. A run that finds the lock taken waits
  for it, then looks again and uses what the first run built instead of building it twice.
  Lock files are never deleted: a run waiting on a deleted lock file would hold a lock nobody
  else can see.
- **Published whole, never replaced while complete.** A folder is built in a partial folder
  beside it (:func:`new_partial`, ``.partial-<name>-XXXXXXXX``) and renamed into place only
  when complete (:func:`publish`). A complete entry is never renamed over: a run reading it
  keeps reading the very files it started with. Only an entry found damaged is replaced
  (:func:`replace`), under its lock.
- **Leftovers are cleaned.** A partial folder left by a killed run (kill -9, a power cut) is
  removed the next time an entry of its folder is built: one of this user's whose entry's lock
  is free (its builder is gone), or, without a lock file (an older talosnb's), older than
  :data:`STALE_AFTER` seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .progress import note

PARTIAL = ".partial-"
STALE = ".stale-"
# A partial folder with no lock file beside it is left alone for this long: far longer than any
# extraction, so a run of a talosnb that takes no lock is not pulled from under its feet.
STALE_AFTER = 30 * 60


def lock_file(entry: Path) -> Path:
    return entry.parent / f".{entry.name}.lock"


def _open_lock(path: Path, *, create: bool) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    return os.open(path, flags, 0o644)


@contextlib.contextmanager
def building(entry: Path, what: str, *, optional: bool = False) -> Iterator[None]:
    """Hold the entry's lock while inside (waiting for another run that holds it). OSError
    when the cache folder can't be made or written; with ``optional`` (an entry that is only
    an optimisation, written by cachefile, which says when it can't be), no lock then."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_lock(lock_file(entry), create=True)
    except OSError:
        if not optional:
            raise
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            note(f"waiting for another talosnb run that is {what}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock


def _lock_is_free(lock: Path) -> bool | None:
    """Whether nobody holds ``lock`` now (None: there is no such lock file)."""
    try:
        fd = _open_lock(lock, create=False)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _entry_name(leftover: str) -> str | None:
    """The entry a partial or stale folder was made for (mkdtemp's suffix has no '-')."""
    for prefix in (PARTIAL, STALE):
        if leftover.startswith(prefix):
            name, sep, _ = leftover[len(prefix):].rpartition("-")
            return name if sep and name else None
    return None


def remove_leftovers(folder: Path, *, held: str | None = None) -> list[Path]:
    """Remove the partial and stale folders in ``folder`` that no running build owns: this
    user's, whose entry's lock is free (or is ``held``, the entry the caller is building under
    its lock), or, with no lock file, older than STALE_AFTER. Returns what was removed."""
    removed: list[Path] = []
    try:
        names = [n for n in os.listdir(folder) if n.startswith((PARTIAL, STALE))]
    except OSError:
        return removed
    uid = os.geteuid()
    for name in names:
        path = folder / name
        entry = _entry_name(name)
        try:
            st = path.lstat()
        except OSError:
            continue
        if entry is None or st.st_uid != uid or not path.is_dir() or path.is_symlink():
            continue
        if entry != held:
            free = _lock_is_free(lock_file(folder / entry))
            if free is False or (free is None and time.time() - st.st_mtime < STALE_AFTER):
                continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def new_partial(entry: Path) -> Path:
    """A new, empty partial folder beside ``entry`` to build it in (call while holding the
    entry's lock: leftovers of killed runs are removed first)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(entry.parent, held=entry.name)
    return Path(tempfile.mkdtemp(prefix=f"{PARTIAL}{entry.name}-", dir=entry.parent))


def publish(work: Path, entry: Path) -> bool:
    """Rename the finished folder ``work`` into place as ``entry``, unless an entry is there
    already (complete, as entries only ever appear by this rename): then it is kept, ``work``
    is removed and False returned."""
    if not os.path.lexists(entry):
        try:
            os.rename(work, entry)
            return True
        except OSError:
            if not os.path.lexists(entry):
                raise
    shutil.rmtree(work, ignore_errors=True)
    return False


def replace(work: Path, entry: Path) -> None:
    """Put ``work`` in place of a damaged ``entry`` (under the entry's lock): the old one is
    moved aside first, then deleted."""
    if os.path.lexists(entry):
        aside = Path(tempfile.mkdtemp(prefix=f"{STALE}{entry.name}-", dir=entry.parent))
        os.rename(entry, aside / "entry")
        os.rename(work, entry)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.rename(work, entry)
