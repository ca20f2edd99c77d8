"""Writes that lose nothing: every file is either what it was or what was written, and
several files written together are written as one.

A file is read into a Snapshot (its digest). Writing goes through a
:class:`Transaction`, even for one file:

1. every target is checked: not in the embedded sample, not a folder, a symlink only
   when it stays inside its checkout (or ``follow_symlinks``);
2. the folders of the targets are locked (an advisory ``flock`` on each folder, taken in
   one order so two runs never deadlock), and held to the last rename, so two talosnb
   runs serialize: the second sees the first one's result and refuses instead of
   overwriting it;
3. under the lock: a journal left by a run that was killed is finished first, then every
   target is compared with what was loaded (changed on disk since? refuse, naming every
   such file, unless ``force``);
4. every new content is written to a temporary file beside its target and fsync'ed; a
   failure here (disk full, read-only folder) removes them all: nothing changed;
5. with more than one file, a journal naming the pending renames is written (and
   fsync'ed) in each folder, the one of the first folder last: that is the commit point;
6. the temporary files are renamed over their targets, with SIGINT/SIGTERM held back so
   an interruption can't fall between two renames; then the journals are removed.

A run killed between 5 and 6 leaves journals behind; the next talosnb run that opens the
checkout (:func:`recover`) or writes in it finishes the renames (or, when the commit
point was not reached, removes the temporary files), and says so with a warning.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import signal
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from .errors import FileChangedError, InputError, RefusedError, TalosnbWarning, opt
from .paths import is_in_sample

# How long a write waits for another talosnb run's write in the same folder to finish.
LOCK_TIMEOUT = 30.0
# Temporary files and journals carry this mark, so leftovers of a killed run are known.
TEMP_MARK = ".talosnb-"
JOURNAL_PREFIX = ".talosnb-journal-"
JOURNAL_SUFFIX = ".json"
JOURNAL_FORMAT = 1

# Every file this process replaced, in order: what an interrupted run reports as written.
_written: list[Path] = []


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def written_files() -> list[Path]:
    """The files this process has replaced so far (as named by the caller), oldest first."""
    return list(_written)


@dataclass(frozen=True)
class Snapshot:
    """What a file held when it was loaded (None: it did not exist)."""

    path: Path
    sha256: str | None

    @classmethod
    def of(cls, path: str | os.PathLike) -> Snapshot:
        path = Path(path)
        try:
            return cls(path, digest(path.read_bytes()))
        except (FileNotFoundError, NotADirectoryError):
            return cls(path, None)

    def changed_on_disk(self) -> bool:
        try:
            return Snapshot.of(self.path).sha256 != self.sha256
        except OSError:
            return True


def read_text(path: str | os.PathLike, *, what: str = "file") -> tuple[str, Snapshot]:
    """Read a UTF-8 text file; a missing or unreadable file is an InputError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found", where=str(path),
                         hint=f"check the path (or the {opt('pkgs')}/{opt('talos')} folder)") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a folder, expected a file", where=str(path),
                         hint="name the file itself") from None
    except OSError as e:
        raise os_error(e, f"cannot read {what}", path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{what} is not UTF-8 text (byte {e.start})", where=str(path)) from None
    return text, Snapshot(path, digest(data))


def os_error(e: OSError, doing: str, path: str | os.PathLike | None = None) -> InputError:
    """An OSError as an InputError naming the path, with what to do about it."""
    where = str(path if path is not None else (e.filename or "")) or None
    hints: dict[int | None, str] = {   # e.errno may be None: no hint then
        errno.EACCES: "check the permissions of the file and of the folders above it",
        errno.EPERM: "check the permissions (and attributes such as immutable) of the file and its folder",
        errno.EROFS: "the file system is read-only: work on a writable copy",
        errno.ENOSPC: "free some space on that disk",
        errno.EDQUOT: "free some space (the disk quota is used up)",
        errno.EISDIR: "a folder stands where a file is expected: name the file itself",
        errno.ENOTDIR: "a file stands where a folder is expected",
        errno.ELOOP: "a symlink loop: check the links on the path",
        errno.ENAMETOOLONG: "use a shorter path",
    }
    return InputError(f"{doing}: {e.strerror or e}", where=where, hint=hints.get(e.errno))


def refuse_sample(path: Path) -> None:
    """The embedded sample (data/sample) is the package's own data: never written by a command."""
    if is_in_sample(path):
        raise InputError("the embedded sample is read-only", where=str(path),
                         hint=f"see what would change without writing ({opt('dry_run')}), or work on a copy: "
                              f"cp -r data/sample /tmp/s, then {opt('pkgs')} /tmp/s/pkgs {opt('talos')} /tmp/s/talos "
                              f"{opt('kernel_src')} /tmp/s/linux")


# --------------------------------------------------------------------------- the lock

class FolderLock:
    """Advisory ``flock`` locks on folders, taken in sorted order, with a time limit.

    The folder itself is locked (flock works on a folder's descriptor), so nothing is
    left in the user's checkout; every talosnb write into the folder takes it.
    """

    def __init__(self, folders: Iterable[str | os.PathLike], *, timeout: float = LOCK_TIMEOUT) -> None:
        self.folders = sorted({Path(f) for f in folders}, key=str)
        self.timeout = timeout
        self.fds: dict[Path, int] = {}

    def __enter__(self) -> Self:
        try:
            for folder in self.folders:
                self.fds[folder] = self._take(folder)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _take(self, folder: Path) -> int:
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise os_error(e, "cannot open the folder to lock it", folder) from None
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            except OSError as e:
                # a file system that can't lock a folder (NFS emulates flock with write locks,
                # which a folder's read-only descriptor can't take): written unlocked, each
                # file still replaced in one rename
                if e.errno in (errno.ENOLCK, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
                    return fd
                os.close(fd)
                raise os_error(e, "cannot lock the folder", folder) from None
            if time.monotonic() >= deadline:
                os.close(fd)
                raise RefusedError(
                    f"another talosnb run has been writing in this folder for {self.timeout:.0f} s; "
                    "nothing was written", where=str(folder),
                    hint="wait for it to finish (or stop it), then run this again")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def fsync(self, folder: Path) -> None:
        fd = self.fds.get(folder)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(fd)

    def release(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)   # closing the descriptor releases its flock
        self.fds = {}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back until the block ends, then act on them: the renames of one
    transaction are not split by an interruption.

    Blocking the signals is not enough: one that arrived just before is already pending in
    Python and would raise KeyboardInterrupt at any point of the block. So the handlers are
    swapped for one that only notes the signal, and a noted signal is raised again at the end.
    Only the main thread receives signals; elsewhere nothing is needed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {}
    try:
        for signum in held:
            if signal.getsignal(signum) is not None:   # None: a handler set outside Python, left alone
                previous[signum] = signal.signal(signum, lambda signum, frame: noted.append(signum))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if noted:
            signal.raise_signal(noted[0])


# --------------------------------------------------------------------------- transactions

@dataclass
class _Entry:
    path: Path                # as the caller named it (what messages and results use)
    data: bytes
    expect: Snapshot | None
    root: Path | None
    target: Path | None = None            # the file replaced: path, or a symlink's target
    tmp: str | None = None
    old: str | None = None                # digest of the target just before writing
    keep: bool = False                    # a journal names tmp: left for the next run


def _target_of(entry: _Entry) -> Path:
    assert entry.target is not None, "Transaction.commit resolves every target first"
    return entry.target


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _resolve_target(entry: _Entry, follow_symlinks: bool) -> Path:
    """The file a write replaces. A symlink is written through only when it stays inside its
    checkout (``root``): otherwise refused, naming it."""
    path = entry.path
    real = Path(os.path.realpath(path))
    linked = real != Path(os.path.abspath(path))
    if linked and entry.root is not None and not follow_symlinks:
        root = os.path.realpath(entry.root)
        if not _inside(str(real), root):
            what = "is a symlink" if path.is_symlink() else "lies behind a symlink"
            raise RefusedError(f"{what} to {real}, outside {root}; not writing through it; nothing was written",
                               where=str(path),
                               hint=f"replace the link with the file, or write the file it points to "
                                    f"({opt('follow_symlinks')})")
    refuse_sample(real)
    refuse_sample(path)
    if real.is_dir():
        raise InputError("is a folder, expected a file; nothing was written", where=str(path),
                         hint="name the file itself")
    return real


class Transaction:
    """Files written as one: all of them, or (when anything fails first) none.

    ``add`` the files, then ``commit``; see the module docstring for the steps.
    ``force`` writes over files changed on disk since loaded; ``follow_symlinks`` writes
    through symlinks that lead outside their checkout.
    """

    def __init__(self, *, force: bool = False, follow_symlinks: bool = False,
                 lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.force = force
        self.follow_symlinks = follow_symlinks
        self.lock_timeout = lock_timeout
        self.entries: list[_Entry] = []
        self.written: list[Path] = []
        self.recovered: list[str] = []

    def add(self, path: str | os.PathLike, content: str | bytes, *, expect: Snapshot | None = None,
            root: str | os.PathLike | None = None) -> None:
        """Write ``content`` to ``path``. ``expect``: what was loaded from it (refused if the file
        no longer matches); ``root``: the checkout it belongs to (symlinks must stay inside)."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        self.entries.append(_Entry(Path(path), data, expect, Path(root) if root is not None else None))

    def commit(self) -> list[Path]:
        """Write every added file; returns those whose bytes changed (as named in ``add``)."""
        for entry in self.entries:
            entry.target = _resolve_target(entry, self.follow_symlinks)
        targets = [_target_of(e) for e in self.entries]
        if len(set(targets)) != len(targets):
            raise InputError("two of the files to write are the same file: "
                             + ", ".join(str(e.path) for e in self.entries), hint="write each file once")
        folders = [t.parent for t in targets]
        for folder in folders:   # a new output file may need its folder
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise os_error(e, "cannot create the folder; nothing was written", folder) from None
        with FolderLock(folders, timeout=self.lock_timeout) as lock:
            for folder in sorted(set(folders), key=str):
                self.recovered += _recover_locked(folder)
            todo = self._check()
            if not todo:
                return []
            committed = False
            try:
                self._write_temps(todo)
                with _signals_held():
                    if len(todo) == 1:   # one rename is atomic by itself
                        self._rename(todo, journaled=False)
                    else:
                        journals = self._write_journals(todo, lock)
                        committed = True
                        self._rename(todo, journaled=True)
                        for journal in journals:
                            with contextlib.suppress(OSError):
                                os.unlink(journal)
            finally:
                for entry in todo:
                    # past the commit point, a temporary file not renamed yet is the journal's to finish
                    if entry.tmp is not None and not entry.keep and not committed:
                        with contextlib.suppress(OSError):
                            os.unlink(entry.tmp)
        return list(self.written)

    def _check(self) -> list[_Entry]:
        """Under the lock: refuse (naming every one) files changed on disk since loaded; keep
        the ones whose bytes differ from what is there."""
        changed, todo = [], []
        for entry in self.entries:
            try:
                current = _target_of(entry).read_bytes()
            except FileNotFoundError:
                current = None
            except OSError as e:
                raise os_error(e, "cannot read the file before replacing it; nothing was written",
                               entry.path) from None
            entry.old = digest(current) if current is not None else None
            if (not self.force and entry.expect is not None and entry.expect.sha256 != entry.old):
                changed.append(entry)
            elif current != entry.data:
                todo.append(entry)
        if changed:
            names = ", ".join(str(e.path) for e in changed)
            error = FileChangedError(
                f"changed on disk since it was loaded: {names}; nothing was written",
                where=str(changed[0].path),
                hint=f"load it again to see the other changes (run the command again), or overwrite them "
                     f"({opt('force')})",
                files=[str(e.path) for e in changed])
            raise error
        return todo

    def _write_temps(self, todo: list[_Entry]) -> None:
        for entry in todo:
            target = _target_of(entry)
            try:
                fd, entry.tmp = tempfile.mkstemp(prefix=f".{target.name}{TEMP_MARK}", suffix=".tmp",
                                                 dir=target.parent)
                with os.fdopen(fd, "wb") as f:
                    f.write(entry.data)
                    f.flush()
                    os.fsync(f.fileno())
                try:
                    mode = os.stat(target).st_mode & 0o7777
                except FileNotFoundError:
                    mode = 0o644
                os.chmod(entry.tmp, mode)
            except OSError as e:
                others = [str(x.path) for x in todo if x is not entry]
                also = f" ({', '.join(others)} not written either)" if others else ""
                error = os_error(e, "cannot write it", entry.path)
                error.message += f"; nothing was written{also}"
                raise error from None

    def _write_journals(self, todo: list[_Entry], lock: FolderLock) -> list[str]:
        """One journal per folder; the first folder's is written last, the commit point."""
        tx = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(4)}"
        folders = sorted({_target_of(e).parent for e in todo}, key=str)
        primary = folders[0]
        body = {"format": JOURNAL_FORMAT, "id": tx, "primary": str(primary),
                "folders": [str(f) for f in folders],
                "renames": [{"tmp": e.tmp, "target": str(e.target), "old": e.old, "new": digest(e.data)}
                            for e in todo]}
        data = json.dumps(body, indent=1, sort_keys=True).encode()
        paths = []
        for folder in [*folders[1:], primary]:
            path = folder / f"{JOURNAL_PREFIX}{tx}{JOURNAL_SUFFIX}"
            try:
                # written in place (its name is new): a journal cut short by a crash can't be read,
                # and one that can't be read is one whose renames never started
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                paths.append(str(path))
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                for done in paths:
                    with contextlib.suppress(OSError):
                        os.unlink(done)
                names = ", ".join(str(x.path) for x in todo)
                raise os_error(e, f"cannot write the journal; nothing was written ({names})", folder) from None
        # the commit point: the primary journal's name on disk. A journal on the same file system,
        # created before it, is ordered before it by that file system's own journal; one on
        # another file system is flushed on its own.
        device = os.stat(primary).st_dev
        for folder in folders[1:]:
            if os.stat(folder).st_dev != device:
                lock.fsync(folder)
        lock.fsync(primary)
        # removed in the same order, the primary last: a journal left in another folder
        # always has its primary beside it, until everything is done
        return paths

    def _rename(self, todo: list[_Entry], *, journaled: bool) -> None:
        failed = []
        for entry in todo:
            assert entry.tmp is not None, "_write_temps made one for every entry to write"
            try:
                os.replace(entry.tmp, _target_of(entry))
            except OSError as e:
                failed.append((entry, e))
                continue
            entry.tmp = None
            self.written.append(entry.path)
            _written.append(entry.path)
        if not failed:
            return
        entry, err = failed[0]
        done = ", ".join(str(p) for p in self.written)
        if not journaled:
            raise os_error(err, "cannot replace the file; nothing was written", entry.path)
        # The journal stays, and with it the temporary files: the next run finishes the renames.
        pending = ", ".join(f"{x.path} (its new content is in {x.tmp})" for x, _ in failed)
        for x, _ in failed:
            x.keep = True
        raise InputError(f"cannot replace the file ({err.strerror}); written: {done}; not written yet: {pending}; "
                         "the next talosnb run on this checkout finishes the write", where=str(entry.path),
                         hint="fix the cause (permissions, disk), then run any talosnb command on this checkout")


def atomic_write(path: str | os.PathLike, text: str | bytes, *, expect: Snapshot | None = None,
                 force: bool = False, root: str | os.PathLike | None = None,
                 follow_symlinks: bool = False) -> bool:
    """Write one file as a :class:`Transaction`. Returns False if the content was already identical.

    With ``expect``, refuse (FileChangedError) when the file on disk no longer matches
    what was loaded, unless ``force``.
    """
    tx = Transaction(force=force, follow_symlinks=follow_symlinks)
    tx.add(path, text, expect=expect, root=root)
    return bool(tx.commit())


# --------------------------------------------------------------------------- recovery

def _ours(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name and name.endswith(".tmp")


def _pending(folder: Path) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [n for n in names if _ours(n) or (n.startswith(JOURNAL_PREFIX) and n.endswith(JOURNAL_SUFFIX))]


def recover(folder: str | os.PathLike) -> list[str]:
    """Finish (or undo) what a killed talosnb run left in ``folder``; returns what was done,
    each also a TalosnbWarning. Costs one listdir when there is nothing to do."""
    folder = Path(folder)
    if not _pending(folder):
        return []
    with FolderLock([folder]):
        return _recover_locked(folder)


def _current(path: str) -> str | None:
    try:
        return digest(Path(path).read_bytes())
    except OSError:
        return None


def _recover_locked(folder: Path) -> list[str]:
    """With the folder locked (no talosnb write is under way in it): finish committed journals,
    remove the temporary files of writes that never reached their commit point."""
    names = _pending(folder)
    if not names:
        return []
    notes: list[str] = []
    named: set[str] = set()
    for name in sorted(n for n in names if n.startswith(JOURNAL_PREFIX) and n.endswith(JOURNAL_SUFFIX)):
        notes += _replay_journal(folder, name, named)
    stray = [n for n in _pending(folder) if _ours(n) and n not in named]
    for name in stray:
        with contextlib.suppress(OSError):
            os.unlink(folder / name)
    if stray and not notes:
        notes.append(f"{folder}: removed {len(stray)} temporary file(s) of an interrupted talosnb run "
                     "(nothing had changed)")
    for note in notes:
        warnings.warn(TalosnbWarning(note), stacklevel=3)
    return notes


def _nothing_replaced(folder: Path) -> str:
    return (f"{folder}: an earlier talosnb run was interrupted before it replaced any file; "
            "removed its temporary files (nothing had changed)")


def _replay_journal(folder: Path, name: str, named: set[str]) -> list[str]:
    """Finish (committed) or undo (not committed) the transaction journal `name`; the temporary files
    it names are added to `named`. Returns what was done."""
    journal = folder / name
    try:
        body = json.loads(journal.read_text())
        renames = body["renames"]
        primary = Path(body["primary"])
        others = [Path(f) for f in body["folders"]]
    except (OSError, ValueError, KeyError, TypeError):
        # cut short by a crash while it was written: its renames never started
        with contextlib.suppress(OSError):
            journal.unlink()
        return [_nothing_replaced(folder)]
    committed = primary == folder or (primary / name).exists()
    finished, left, lost = _finish_renames(folder, renames, named, committed=committed)
    if not committed:
        with contextlib.suppress(OSError):
            journal.unlink()
        return [_nothing_replaced(folder)]
    for other in [f for f in others if f != primary] + [primary]:
        with contextlib.suppress(OSError):
            os.unlink(other / name)
    notes = []
    if finished:
        notes.append("an earlier talosnb run was interrupted while writing; finished writing "
                     + ", ".join(finished))
    if left:
        notes.append("an earlier talosnb run was interrupted while writing, and these files were "
                     "changed since; left as they are (that run's change to them is not applied): "
                     + ", ".join(left))
    if lost:
        notes.append("an earlier talosnb run was interrupted while writing; could not finish "
                     + ", ".join(lost) + "; check them")
    return notes


def _finish_renames(folder: Path, renames: list[dict], named: set[str], *,
                    committed: bool) -> tuple[list[str], list[str], list[str]]:
    """A journal's renames: done where the target is still as it was (finished), left where it changed
    since (left), reported where the new text is neither there nor to be had (lost). Not committed:
    only the temporary files in `folder` removed."""
    finished: list[str] = []
    left: list[str] = []
    lost: list[str] = []
    for item in renames:
        tmp, target = item["tmp"], item["target"]
        named.add(os.path.basename(tmp))
        if not committed:
            if Path(tmp).parent == folder:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            continue
        now = _current(target)
        if not os.path.lexists(tmp):
            if now != item["new"]:
                lost.append(target)
            continue
        if now == item["old"]:
            try:
                os.replace(tmp, target)
                finished.append(target)
            except OSError as e:
                lost.append(f"{target} ({e.strerror})")
        else:
            left.append(target)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return finished, left, lost
