"""Cache files that are never trusted blindly.

Every cache file talosnb writes (parsed Kconfig trees, Kbuild maps) starts with a
header line naming the engine that wrote it and the SHA-256 and size of the rest.
Reading checks both before anything is unpickled: a file that is damaged (a flipped
bit, a cut-off write, another program's data) or that an unpickling error rejects is
deleted with a warning, and the caller builds the answer again from the sources, so
the answer is the one a clean cache gives. A file of another engine version is
stale, not damaged: it is replaced without a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path

from .errors import TalosnbWarning

MAGIC = b"talosnb-cache 1 "


def write(path: str | os.PathLike, payload: bytes | memoryview, *, engine: str) -> bool:
    """Write ``payload`` with its header, atomically. False (and a warning) if the cache
    folder can't be written: a cache is only an optimisation."""
    path = Path(path)
    header = json.dumps({"engine": engine, "sha256": hashlib.sha256(payload).hexdigest(),
                         "size": len(payload)}, sort_keys=True).encode()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + header + b"\n")
            f.write(payload)
        os.replace(tmp, path)
        return True
    except OSError as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        warnings.warn(TalosnbWarning(f"{path}: cannot write the cache ({e.strerror}); the next run "
                                     "works it out again (set TALOSNB_CACHE_DIR to a writable folder)"),
                      stacklevel=2)
        return False


def read(path: str | os.PathLike, *, engine: str, what: str) -> io.BytesIO | None:
    """The payload of a cache file written by ``engine``, as a file positioned at its start;
    None when there is none to use (missing, stale, damaged: a damaged one is deleted,
    with a warning)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        discard(path, what, "a folder stands where the cache file should be")
        return None
    except OSError as e:
        warnings.warn(TalosnbWarning(f"{path}: cannot read the cached {what} ({e.strerror}); working it "
                                     "out again (set TALOSNB_CACHE_DIR to a readable folder)"), stacklevel=2)
        return None
    view = memoryview(data)
    end = data.find(b"\n", 0, 4096)
    if not data.startswith(MAGIC) or end < 0:
        discard(path, what, "not a talosnb cache file (no header)")
        return None
    try:
        header = json.loads(data[len(MAGIC):end])
        written_by, sha256, size = header["engine"], header["sha256"], header["size"]
    except (ValueError, KeyError, TypeError):
        discard(path, what, "its header is damaged")
        return None
    if written_by != engine:
        with contextlib.suppress(OSError):   # another talosnb version's: stale, not damaged
            path.unlink()
        return None
    payload = view[end + 1:]
    if len(payload) != size or hashlib.sha256(payload).hexdigest() != sha256:
        discard(path, what, "its content does not match its digest")
        return None
    file = io.BytesIO(data)   # shares the bytes, no copy
    file.seek(end + 1)
    return file


def discard(path: str | os.PathLike, what: str, why: str) -> None:
    """Delete a damaged cache file, saying so (the caller then rebuilds what it held)."""
    warnings.warn(TalosnbWarning(f"{path}: the cached {what} is damaged ({why}); deleted it and working "
                                 "it out again"), stacklevel=3)
    with contextlib.suppress(OSError):
        if Path(path).is_dir() and not Path(path).is_symlink():
            import shutil
            shutil.rmtree(path)
        else:
            os.unlink(path)
