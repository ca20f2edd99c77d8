"""Atomic writes that refuse to clobber a file changed on disk since it was read.

A file is read into a Snapshot (its bytes and a digest). Writing back checks
that the file on disk still has that digest, then writes a temporary file in the
same folder and renames it over the target, so a reader never sees a half-written
file and a failed write leaves the old file untouched.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import FileChangedError, InputError, opt
from .paths import is_in_sample


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
        except FileNotFoundError:
            return cls(path, None)

    def changed_on_disk(self) -> bool:
        return Snapshot.of(self.path).sha256 != self.sha256


def read_text(path: str | os.PathLike, *, what: str = "file") -> tuple[str, Snapshot]:
    """Read a UTF-8 text file; a missing or unreadable file is an InputError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found", where=str(path),
                         hint=f"check the path (or the {opt('pkgs')}/{opt('talos')} folder)") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a folder, expected a file", where=str(path)) from None
    except OSError as e:
        raise InputError(f"cannot read {what}: {e.strerror}", where=str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{what} is not UTF-8 text (byte {e.start})", where=str(path)) from None
    return text, Snapshot(path, digest(data))


def refuse_sample(path: Path) -> None:
    """The embedded sample (data/sample) is the package's own data: never written by a command."""
    if is_in_sample(path):
        raise InputError("the embedded sample is read-only", where=str(path),
                         hint=f"see what would change without writing ({opt('dry_run')}), or work on a copy: "
                              f"cp -r data/sample /tmp/s, then {opt('pkgs')} /tmp/s/pkgs {opt('talos')} /tmp/s/talos "
                              f"{opt('kernel_src')} /tmp/s/linux")


def atomic_write(path: str | os.PathLike, text: str, *, expect: Snapshot | None = None,
                 force: bool = False) -> bool:
    """Write `text` to `path` atomically. Returns False if the content was already identical.

    With `expect`, refuse (FileChangedError) when the file on disk no longer matches
    what was loaded, unless `force`.
    """
    path = Path(path)
    if path.is_symlink():
        # write through the link: the file it points at is the one that changes
        path = path.resolve()
    refuse_sample(path)
    data = text.encode("utf-8")
    if expect is not None and not force and expect.changed_on_disk():
        raise FileChangedError(
            "changed on disk since it was loaded; not overwriting it",
            where=str(path),
            hint=f"reload it to see the other changes, or overwrite them ({opt('force')})")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror}", where=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"cannot write: {e.strerror}", where=str(path)) from None
    return True
