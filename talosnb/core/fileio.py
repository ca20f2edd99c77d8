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
point was not reached, removes the temporary files), and says so with a warning. A journal
found in a folder is not trusted as such (it may come with a checkout): only a rename
talosnb itself could have journaled is done, a temporary file of its own naming onto its
target in the same folder; anything else is refused and left alone (see "recovery" below).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
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


# No input talosnb reads as text comes near this (a config is ~200 KB, modules.alias ~2 MB): a file
# larger is not one of them (a symlink to a disk image, a runaway generator), and reading it whole
# would only exhaust memory.
MAX_TEXT_BYTES = 64 << 20


def read_text(path: str | os.PathLike, *, what: str = "file") -> tuple[str, Snapshot]:
    """Read a UTF-8 text file; a missing or unreadable file is an InputError naming it. Only a
    regular file is read (a FIFO would block, a device never end), and at most MAX_TEXT_BYTES."""
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file ignores it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError(f"{what} not found", where=str(path),
                         hint=f"check the path (or the {opt('pkgs')}/{opt('talos')} folder)") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a folder, expected a file", where=str(path),
                         hint="name the file itself") from None
    except OSError as e:
        raise os_error(e, f"cannot read {what}", path) from None
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):    # before fdopen, which refuses a folder's descriptor with its number
        os.close(fd)
        raise InputError(f"{what} is a folder, expected a file", where=str(path), hint="name the file itself")
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(st.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if (
                stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else "not a regular file"
            raise InputError(f"{what} is {kind}, not a regular file; not read", where=str(path),
                             hint="name the file itself (a symlink may lead somewhere else)")
        try:
            data = f.read(MAX_TEXT_BYTES + 1)
        except OSError as e:
            raise os_error(e, f"cannot read {what}", path) from None
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(f"{what} is larger than {MAX_TEXT_BYTES >> 20} MB, far beyond any such file; not read",
                         where=str(path), hint="check that it is the file you mean")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(f"{what} is not UTF-8 text: byte 0x{data[e.start]:02x} at line {line}, column {column} "
                         "(an editor saved it in another encoding, e.g. Latin-1)", where=f"{path}:{line}",
                         hint=f"save it as UTF-8 (iconv -f latin1 -t utf-8 {path} > {path.name}.utf8, check it, "
                              "then move it over the file), or remove that character") from None
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


# --------------------------------------------------------------------------- opened folders

def open_folder(folder: str | os.PathLike, *, doing: str = "cannot open the folder") -> int:
    """A descriptor of ``folder`` (a real path: resolved by the caller when it was checked), opened
    one component at a time, none of them followed if it is a symlink: whatever is done through the
    descriptor (temporary file, rename, fsync) happens in that folder, even if a folder on the way
    is swapped for a symlink later. A component that became a symlink since is refused."""
    real = os.path.abspath(folder)
    nofollow = os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    # on the way down only a path descriptor is needed (no read permission on those folders)
    passing = getattr(os, "O_PATH", os.O_RDONLY) | nofollow
    parts = Path(real).parts
    try:
        fd = os.open(parts[0], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise os_error(e, doing, folder) from None
    try:
        for i, part in enumerate(parts[1:], start=2):
            nfd = os.open(part, passing if i < len(parts) else os.O_RDONLY | nofollow, dir_fd=fd)
            os.close(fd)
            fd = nfd
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise RefusedError(f"{doing}: a folder on its path was replaced by a symlink (or a file) while "
                               "talosnb was writing; nothing was written", where=str(folder),
                               hint="check what changed the folder, then run this again") from None
        raise os_error(e, doing, folder) from None
    return fd


def _race_point(stage: str, paths: list[Path]) -> None:
    """Where the write path has checked a thing and acts on it later (tests widen the window here)."""
    if race_hook is not None:
        race_hook(stage, paths)


race_hook: Callable[[str, list[Path]], None] | None = None


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
        fd = open_folder(folder, doing="cannot open the folder to lock it")
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
    folder: int = -1                      # the target's folder, opened (see open_folder)
    seen: tuple[int, ...] | None = None   # the target's identity when `old` was read (None: missing)


@dataclass
class _Read:
    path: Path                # a file the change was decided on, as the caller named it
    expect: Snapshot          # what it held then
    target: Path | None = None   # its real path
    folder: int = -1             # its folder, opened and locked (-1: the folder is gone)


def _target_of(entry: _Entry) -> Path:
    assert entry.target is not None, "Transaction.commit resolves every target first"
    return entry.target


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check_output(path: str | os.PathLike, *, follow_symlinks: bool = False) -> None:
    """An output file the user named (outside any checkout) that is a symlink is not written
    through unless ``follow_symlinks``: the write would land where the link points, not where
    the user said. Checked again when written; callers that work long before writing check first."""
    path = Path(path)
    if path.is_symlink() and not follow_symlinks:
        raise RefusedError(f"is a symlink to {os.path.realpath(path)}; not writing through it; nothing was written",
                           where=str(path),
                           hint=f"name the file it points to, or write through the link ({opt('follow_symlinks')})")


def _resolve_target(entry: _Entry, follow_symlinks: bool) -> Path:
    """The file a write replaces. A symlink is written through only when it stays inside its
    checkout (``root``): otherwise refused, naming it."""
    path = entry.path
    real = Path(os.path.realpath(path))
    linked = real != Path(os.path.abspath(path))
    if entry.root is None:
        check_output(path, follow_symlinks=follow_symlinks)
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


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _identity_at(folder: int, name: str) -> tuple[int, ...] | None:
    try:
        return _identity(os.stat(name, dir_fd=folder, follow_symlinks=False))
    except FileNotFoundError:
        return None
    except OSError:
        return ()


def _read_at(entry: _Entry) -> tuple[bytes | None, tuple[int, ...] | None]:
    """What the target holds now (None: missing) and its identity, read through its opened folder;
    a target that became a symlink (or something other than a file) since it was resolved is refused."""
    name = _target_of(entry).name
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=entry.folder)
    except FileNotFoundError:
        return None, None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise RefusedError("was replaced by a symlink while talosnb was writing; nothing was written",
                               where=str(entry.path), hint="check what changed it, then run this again") from None
        raise os_error(e, "cannot read the file before replacing it; nothing was written", entry.path) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError("is not a regular file; nothing was written", where=str(entry.path),
                             hint="name a regular file")
        try:
            return f.read(), _identity(st)
        except OSError as e:
            raise os_error(e, "cannot read the file before replacing it; nothing was written", entry.path) from None


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
        self.skipped: list[_Entry] = []   # changed on disk between the last check and its rename
        self.reads: list[_Read] = []      # files the change was decided on, not written

    def add(self, path: str | os.PathLike, content: str | bytes, *, expect: Snapshot | None = None,
            root: str | os.PathLike | None = None) -> None:
        """Write ``content`` to ``path``. ``expect``: what was loaded from it (refused if the file
        no longer matches); ``root``: the checkout it belongs to (symlinks must stay inside)."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        self.entries.append(_Entry(Path(path), data, expect, Path(root) if root is not None else None))

    def depend(self, path: str | os.PathLike, expect: Snapshot) -> None:
        """The change was decided on what ``path`` held (``expect``) without writing it (a guard read
        it: a module list for a config's change, a config for a list's): its folder is locked with
        the targets' and the write is refused if it no longer matches, unless ``force``. So two
        runs deciding at once on each other's files can't both pass: the second sees the first's."""
        self.reads.append(_Read(Path(path), expect))

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
        reads = []
        for read in self.reads:
            read.target = Path(os.path.realpath(read.path))
            if read.target not in targets:   # a file written is compared as a target
                reads.append(read)
        # a file read whose folder is gone has changed: compared (as missing) without a lock
        read_folders = [r.target.parent for r in reads if r.target is not None and r.target.parent.is_dir()]
        _race_point("checked", targets)
        # every folder is opened once (not through a symlink) and locked; from here on, every
        # read, temporary file, rename and fsync is relative to that descriptor
        with FolderLock([*folders, *read_folders], timeout=self.lock_timeout) as lock:
            for entry in self.entries:
                entry.folder = lock.fds[_target_of(entry).parent]
            for read in reads:
                assert read.target is not None
                read.folder = lock.fds.get(read.target.parent, -1)
            self.reads = reads
            for folder in sorted(set(folders), key=str):
                self.recovered += _recover_locked(folder, lock)
            todo = self._check()
            if not todo:
                return []
            self._write_locked(todo, lock)
        if self.skipped:
            raise self._skipped_error()
        return list(self.written)

    def _write_locked(self, todo: list[_Entry], lock: FolderLock) -> None:
        """Temporary files, the commit point, the renames, with the folders locked and opened."""
        committed = False
        try:
            self._write_temps(todo)
            _race_point("written", [_target_of(e) for e in todo])
            with _signals_held():
                self._recheck(todo)
                if len(todo) == 1:   # one rename is atomic by itself
                    self._rename(todo, journaled=False)
                else:
                    journals = self._write_journals(todo, lock)
                    committed = True
                    self._rename(todo, journaled=True)
                    for folder, journal in journals:
                        with contextlib.suppress(OSError):
                            os.unlink(journal, dir_fd=lock.fds[folder])
                for folder in sorted({_target_of(e).parent for e in todo}, key=str):
                    lock.fsync(folder)
        finally:
            for entry in todo:
                # past the commit point, a temporary file not renamed yet is the journal's to finish
                if entry.tmp is not None and not entry.keep and not committed:
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.basename(entry.tmp), dir_fd=entry.folder)

    def _check(self) -> list[_Entry]:
        """Under the lock: refuse (naming every one) files changed on disk since loaded, and files
        read to decide the change that changed since; keep the ones whose bytes differ from what
        is there."""
        changed, todo = [], []
        for entry in self.entries:
            current, entry.seen = _read_at(entry)
            entry.old = digest(current) if current is not None else None
            if (not self.force and entry.expect is not None and entry.expect.sha256 != entry.old):
                changed.append(entry)
            elif current != entry.data:
                todo.append(entry)
        stale = [] if self.force else self._stale_reads()
        if changed or stale:
            parts = []
            if changed:
                parts.append("changed on disk since it was loaded: " + ", ".join(str(e.path) for e in changed))
            if stale:
                parts.append("changed on disk since it was read, and this change was checked against it: "
                             + ", ".join(str(r.path) for r in stale))
            files = [str(e.path) for e in changed] + [str(r.path) for r in stale]
            error = FileChangedError(
                "; ".join(parts) + "; nothing was written", where=files[0],
                hint=f"run the command again: it is checked against what the files hold now; or write anyway "
                     f"({opt('force')})",
                files=files)
            raise error
        return todo

    def _stale_reads(self) -> list[_Read]:
        """The files the change was decided on that hold something else now."""
        stale = []
        for read in self.reads:
            assert read.target is not None, "commit resolves every file read"
            now = _digest_at(read.folder, read.target.name) if read.folder >= 0 else None
            if now != read.expect.sha256:
                stale.append(read)
        return stale

    def _write_temps(self, todo: list[_Entry]) -> None:
        for entry in todo:
            target = _target_of(entry)
            try:
                name = f".{target.name}{TEMP_MARK}{secrets.token_hex(4)}.tmp"
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=entry.folder)
                entry.tmp = str(target.parent / name)
                with os.fdopen(fd, "wb") as f:
                    f.write(entry.data)
                    f.flush()
                    try:
                        mode = os.stat(target.name, dir_fd=entry.folder, follow_symlinks=False).st_mode & 0o7777
                    except FileNotFoundError:
                        mode = 0o644
                    os.fchmod(f.fileno(), mode)
                    os.fsync(f.fileno())
            except OSError as e:
                others = [str(x.path) for x in todo if x is not entry]
                also = f" ({', '.join(others)} not written either)" if others else ""
                error = os_error(e, "cannot write it", entry.path)
                error.message += f"; nothing was written{also}"
                raise error from None

    def _write_journals(self, todo: list[_Entry], lock: FolderLock) -> list[tuple[Path, str]]:
        """One journal per folder; the first folder's is written last, the commit point."""
        tx = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(4)}"
        folders = sorted({_target_of(e).parent for e in todo}, key=str)
        primary = folders[0]
        body = {"format": JOURNAL_FORMAT, "id": tx, "primary": str(primary),
                "folders": [str(f) for f in folders],
                "renames": [{"tmp": e.tmp, "target": str(e.target), "old": e.old, "new": digest(e.data)}
                            for e in todo]}
        data = json.dumps(body, indent=1, sort_keys=True).encode()
        name = f"{JOURNAL_PREFIX}{tx}{JOURNAL_SUFFIX}"
        paths: list[tuple[Path, str]] = []
        for folder in [*folders[1:], primary]:
            try:
                # written in place (its name is new): a journal cut short by a crash can't be read,
                # and one that can't be read is one whose renames never started
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=lock.fds[folder])
                paths.append((folder, name))
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                for done_folder, done in paths:
                    with contextlib.suppress(OSError):
                        os.unlink(done, dir_fd=lock.fds[done_folder])
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

    def _recheck(self, todo: list[_Entry]) -> None:
        """Right before the commit point: a target edited since the check (by a program that does not
        take talosnb's lock) refuses the whole write, naming it; nothing was written."""
        changed = [e.path for e in todo if _identity_at(e.folder, _target_of(e).name) != e.seen
                   and _digest_at(e.folder, _target_of(e).name) != e.old]
        if not self.force:   # a file read to decide the change, edited by a program that takes no lock
            changed += [r.path for r in self._stale_reads()]
        if changed:
            names = ", ".join(str(p) for p in changed)
            raise FileChangedError(f"changed on disk while this write was being made: {names}; nothing was written",
                                   where=str(changed[0]),
                                   hint="another program edited it just now: look at its change, then run this "
                                        "again", files=[str(p) for p in changed])

    def _skipped_error(self) -> FileChangedError:
        names = ", ".join(str(e.path) for e in self.skipped)
        done = ", ".join(str(p) for p in self.written) or "nothing else"
        return FileChangedError(f"changed on disk while it was being replaced: {names}; that edit is kept and this "
                                f"run's change to it is not applied; written: {done}",
                                where=str(self.skipped[0].path),
                                hint="another program edited it just now: look at its change, then run this again",
                                files=[str(e.path) for e in self.skipped])

    def _rename(self, todo: list[_Entry], *, journaled: bool) -> None:
        failed = []
        for entry in todo:
            assert entry.tmp is not None, "_write_temps made one for every entry to write"
            name = _target_of(entry).name
            _race_point("renaming", [_target_of(entry)])
            if _identity_at(entry.folder, name) != entry.seen and _digest_at(entry.folder, name) != entry.old:
                # an edit made since the check, by something that does not take talosnb's lock: kept
                self.skipped.append(entry)
                with contextlib.suppress(OSError):
                    os.unlink(os.path.basename(entry.tmp), dir_fd=entry.folder)
                entry.tmp = None
                continue
            try:
                os.replace(os.path.basename(entry.tmp), name, src_dir_fd=entry.folder, dst_dir_fd=entry.folder)
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
#
# A journal found in a folder may have been written by someone else: committed into a checkout
# (a pull request), unpacked from an archive, dropped into a shared folder. Finishing it renames
# files, so it is trusted only as far as a journal talosnb itself could have written:
#
# - the journal is a regular file of this user (not a symlink), small, not tracked by git
#   (talosnb never commits one: a tracked journal is named as a likely attack);
# - it lists its own folder, and acts on another folder only when that folder holds the very
#   same journal (talosnb writes one copy per folder it renames in);
# - every rename moves a temporary file of talosnb's own naming (".<target>.talosnb-XXXXXXXX.tmp")
#   onto its target in the same folder, and that temporary file is a regular file of this user,
#   not a symlink, with no other hard link;
# - the renames run on an opened folder (its descriptor), by name, never by a path from the journal.
#
# Anything else refuses the whole journal: nothing it names is renamed or deleted, it is left
# where it is, and a warning names it and why.

# ".<target's name>.talosnb-<8 characters of tempfile's or secrets' alphabet>.tmp"
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.talosnb-[a-z0-9_]{8}\.tmp")
_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_JOURNAL_BYTES = 1 << 20


class _Refused(Exception):
    """A journal recovery does not act on; the message says why."""


def _ours(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name and name.endswith(".tmp")


def _is_journal(name: str) -> bool:
    return name.startswith(JOURNAL_PREFIX) and name.endswith(JOURNAL_SUFFIX)


def _pending(folder: Path) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [n for n in names if _ours(n) or _is_journal(n)]


def recover(folder: str | os.PathLike) -> list[str]:
    """Finish (or undo) what a killed talosnb run left in ``folder``; returns what was done,
    each also a TalosnbWarning. Costs one listdir when there is nothing to do. A journal that
    talosnb could not have written is refused (a warning naming it) and left alone."""
    folder = Path(os.path.realpath(folder))
    if not _pending(folder):
        return []
    with FolderLock([folder]) as lock:
        return _recover_locked(folder, lock)


def _recover_locked(folder: Path, lock: FolderLock) -> list[str]:
    """With the folder locked (no talosnb write is under way in it): finish committed journals,
    remove the temporary files of writes that never reached their commit point."""
    names = _pending(folder)
    if not names:
        return []
    real = Path(os.path.realpath(folder))
    notes: list[str] = []
    named: set[str] = set()
    refused = False
    for name in sorted(n for n in names if _is_journal(n)):
        try:
            notes += _replay_journal(real, name, named, lock)
        except _Refused as e:
            refused = True
            notes.append(f"{real / name}: refused to finish the interrupted write this journal describes: {e}")
    # the temporary files of a refused journal are not known for sure: none is removed then
    stray = [] if refused else [n for n in _pending(real) if _ours(n) and n not in named]
    removed = 0
    for name in stray:
        if _own_regular_file(real, name) is None:
            with contextlib.suppress(OSError):
                os.unlink(real / name)
                removed += 1
    if removed and not notes:
        notes.append(f"{real}: removed {removed} temporary file(s) of an interrupted talosnb run "
                     "(nothing had changed)")
    for note in notes:
        warnings.warn(TalosnbWarning(note), stacklevel=3)
    return notes


def _nothing_replaced(folder: Path) -> str:
    return (f"{folder}: an earlier talosnb run was interrupted before it replaced any file; "
            "removed its temporary files (nothing had changed)")


def _own_regular_file(folder: Path | int, name: str) -> str | None:
    """None when ``name`` in ``folder`` (a path or an opened folder) is a regular file of this user
    with one link; else why not."""
    try:
        if isinstance(folder, int):
            st = os.stat(name, dir_fd=folder, follow_symlinks=False)
        else:
            st = os.lstat(folder / name)
    except OSError as e:
        return f"{name} cannot be examined ({e.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return f"{name} is a symlink"
    if not stat.S_ISREG(st.st_mode):
        return f"{name} is not a regular file"
    if st.st_uid != os.geteuid():
        return f"{name} is owned by another user (uid {st.st_uid})"
    if st.st_nlink != 1:
        return f"{name} has other hard links"
    return None


def _tracked_by_git(folder: Path, names: list[str]) -> list[str]:
    """Which of ``names`` (in ``folder``) git tracks; [] when git is absent or this is no work tree."""
    if shutil.which("git") is None:
        return []
    try:
        run = subprocess.run(["git", "-c", "core.fsmonitor=false", "-C", str(folder), "ls-files", "-z", "--",
                              *names], capture_output=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return []
    if run.returncode != 0:
        return []
    return [n for n in run.stdout.decode(errors="replace").split("\0") if n]


def _read_journal(folder: Path, name: str) -> bytes:
    why = _own_regular_file(folder, name)
    if why is not None:
        raise _Refused(f"{why}; talosnb writes its journals as regular files of the user running it; "
                       "left it as it is: look at it, then delete it")
    if os.lstat(folder / name).st_size > MAX_JOURNAL_BYTES:
        raise _Refused(f"it is larger than any journal talosnb writes ({MAX_JOURNAL_BYTES} bytes); "
                       "left it as it is: look at it, then delete it")
    fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        return f.read(MAX_JOURNAL_BYTES + 1)


def _parse_journal(body: object, folder: Path) -> tuple[str, list[str], list[dict]]:
    """(primary, folders, renames) of a journal, each rename checked to be one talosnb could have
    journaled: its temporary file of talosnb's naming beside its target, in a folder the journal
    lists."""
    def bad(why: str) -> _Refused:
        return _Refused(f"it is not a journal talosnb wrote ({why}); nothing it names was touched; "
                        "left it as it is: look at it, then delete it")
    if not isinstance(body, dict) or body.get("format") != JOURNAL_FORMAT:
        raise bad("unknown format")
    folders, primary, renames = body.get("folders"), body.get("primary"), body.get("renames")
    if (not isinstance(folders, list) or not all(isinstance(f, str) and os.path.isabs(f) and os.path.normpath(f) == f
                                                  for f in folders)):
        raise bad("its folders are not absolute paths")
    if str(folder) not in folders:
        raise bad(f"it does not list its own folder {folder}")
    if not isinstance(primary, str) or primary not in folders:
        raise bad("its first folder is not one of its folders")
    if not isinstance(renames, list):
        raise bad("no list of renames")
    for item in renames:
        why = _bad_rename(item, folders)
        if why:
            raise bad(why)
    return primary, folders, renames


def _bad_rename(item: object, folders: list[str]) -> str | None:
    """Why a journal's rename is not one talosnb could have journaled (None: it could)."""
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("tmp", "target")):
        return "a rename without its two files"
    tmp, target = item["tmp"], item["target"]
    if os.path.normpath(target) != target or os.path.dirname(target) not in folders:
        return f"it renames onto {target}, outside the folders it lists"
    if os.path.dirname(tmp) != os.path.dirname(target):
        return f"it renames {tmp}, which is not beside its target {target}"
    match = _TEMP_NAME.fullmatch(os.path.basename(tmp))
    if match is None or match["target"] != os.path.basename(target):
        return f"{tmp} is not a temporary file of talosnb's naming for {os.path.basename(target)}"
    if item.get("new") is None or not all(
            item.get(k) is None or (isinstance(item.get(k), str) and _DIGEST.fullmatch(item[k])) for k in ("old", "new")):
        return "a rename without its digests"
    return None


def _replay_journal(folder: Path, name: str, named: set[str], lock: FolderLock) -> list[str]:
    """Finish (committed) or undo (not committed) the transaction journal `name` in `folder` (a real
    path); the temporary files it names are added to `named`. Returns what was done; raises
    _Refused, having done nothing, for a journal talosnb could not have written."""
    data = _read_journal(folder, name)
    if _tracked_by_git(folder, [name]):
        raise _Refused("this journal is tracked by git, and talosnb never commits one: it was most likely "
                       "planted in the repository to make talosnb rename files (an attack); nothing it names "
                       "was touched; remove it from the repository (git rm) and find out where it came from")
    try:
        body = json.loads(data)
    except ValueError:
        # cut short by a crash while it was written: its renames never started
        with contextlib.suppress(OSError):
            os.unlink(folder / name)
        return [_nothing_replaced(folder)]
    primary, folders, renames = _parse_journal(body, folder)
    named.update(os.path.basename(item["tmp"]) for item in renames if os.path.dirname(item["tmp"]) == str(folder))
    copies = _copies(folder, name, data, folders)
    committed = primary in copies
    if committed:
        _refuse_foreign_folders(renames, copies)
    mine = [item for item in renames if os.path.dirname(item["target"]) in copies]
    if not committed:
        mine = [item for item in mine if os.path.dirname(item["target"]) == str(folder)]
    held = {os.path.realpath(f) for f in lock.fds}
    with FolderLock(sorted({os.path.dirname(i["target"]) for i in mine} - held)), \
            _opened_folders({os.path.dirname(i["target"]) for i in mine}) as fds:
        _refuse_foreign_temps(mine, fds)
        if not committed:
            for item in mine:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.basename(item["tmp"]), dir_fd=fds[str(folder)])
            with contextlib.suppress(OSError):
                os.unlink(folder / name)
            return [_nothing_replaced(folder)]
        finished, left, lost = _finish_renames(mine, fds)
        for fd in fds.values():
            with contextlib.suppress(OSError):
                os.fsync(fd)
    for other in [f for f in folders if f != primary and f in copies] + [primary]:
        with contextlib.suppress(OSError):
            os.unlink(Path(other) / name)
    return _finished_notes(finished, left, lost)


def _copies(folder: Path, name: str, data: bytes, folders: list[str]) -> set[str]:
    """The journal's folders that hold this very journal: only those are acted on (talosnb writes
    one copy per folder it renames in)."""
    return {f for f in folders if f == str(folder) or (
        os.path.realpath(f) == f and _own_regular_file(Path(f), name) is None and _same_bytes(Path(f) / name, data))}


def _refuse_foreign_folders(renames: list[dict], copies: set[str]) -> None:
    """Committed, every folder held a copy until all renames were done: a folder without one that
    still has a temporary file to rename was never part of this journal."""
    for item in renames:
        if os.path.dirname(item["target"]) not in copies and os.path.lexists(item["tmp"]):
            raise _Refused(f"it renames {item['tmp']} in {os.path.dirname(item['target'])}, a folder that holds "
                           "no copy of this journal; nothing it names was touched; left it as it is: look at it, "
                           "then delete it")


def _refuse_foreign_temps(renames: list[dict], fds: dict[str, int]) -> None:
    for item in renames:
        fd = fds[os.path.dirname(item["target"])]
        tmp = os.path.basename(item["tmp"])
        if not _exists_at(fd, tmp):
            continue
        why = _own_regular_file(fd, tmp)
        if why is not None:
            raise _Refused(f"{why}, not a temporary file talosnb wrote; nothing it names was touched; "
                           "left it as it is: look at it, then delete it")


def _finished_notes(finished: list[str], left: list[str], lost: list[str]) -> list[str]:
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


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            return f.read(MAX_JOURNAL_BYTES + 1) == data
    except OSError:
        return False


def _exists_at(fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _opened_folders(folders: Iterable[str]) -> Iterator[dict[str, int]]:
    """Each folder opened once (not through a symlink): what is renamed in it is named relative to it."""
    fds: dict[str, int] = {}
    try:
        for f in sorted(folders):
            try:
                fds[f] = os.open(f, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError as e:
                raise _Refused(f"cannot open {f} ({e.strerror}); nothing it names was touched") from None
        yield fds
    finally:
        for fd in fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)


def _digest_at(fd: int, name: str) -> str | None:
    """The digest of a regular file in an opened folder; None when missing; "" when it is something
    else (a symlink, a FIFO, unreadable): never the digest a journal expects."""
    try:
        file = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=fd)
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    with os.fdopen(file, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return ""
        try:
            return digest(f.read())
        except OSError:
            return ""


def _finish_renames(renames: list[dict], fds: dict[str, int]) -> tuple[list[str], list[str], list[str]]:
    """A committed journal's renames: done where the target is still as it was (finished), left where it
    changed since (left), reported where the new text is neither there nor to be had (lost)."""
    finished: list[str] = []
    left: list[str] = []
    lost: list[str] = []
    for item in renames:
        fd = fds[os.path.dirname(item["target"])]
        tmp, target = os.path.basename(item["tmp"]), os.path.basename(item["target"])
        now = _digest_at(fd, target)
        if not _exists_at(fd, tmp):
            if now != item["new"]:
                lost.append(item["target"])
            continue
        if now == item["old"]:
            try:
                os.replace(tmp, target, src_dir_fd=fd, dst_dir_fd=fd)
                finished.append(item["target"])
            except OSError as e:
                lost.append(f"{item['target']} ({e.strerror})")
        else:
            left.append(item["target"])
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
    return finished, left, lost
