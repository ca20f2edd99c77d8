"""Cache files that are never trusted blindly.

Every cache file talosnb writes (parsed Kconfig trees, Kbuild maps, the history index, an
extracted tree's manifest) starts with a header line naming the engine that wrote it, the
size of the rest and an HMAC-SHA256 over the engine, the file's name and the rest, keyed by
a secret only this user can read (``cache-key`` in talosnb's config folder, created with
mode 0600). Reading checks it before anything is unpickled: a file that is damaged (a
flipped bit, a cut-off write) or written by anyone without the key (a shared cache folder,
a CI cache restored from elsewhere) is deleted with a warning, and the caller builds the
answer again from the sources, so the answer is the one a clean cache gives and nothing
another user wrote is ever unpickled. A file of another engine version (or cache format)
is stale, not damaged: it is replaced without a warning.

Without a usable key (a config folder that can't be written, a key file another user can
read or write) the cache is not used at all, with one warning: a cache is only an
optimisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import secrets
import stat
import tempfile
import warnings
from pathlib import Path

from .errors import TalosnbWarning
from .paths import config_dir

MAGIC = b"talosnb-cache 2 "
# what every version of the header starts with: another version's file is stale, not damaged
MAGIC_STEM = b"talosnb-cache "
KEY_FILE = "cache-key"
KEY_BYTES = 32

# the key per config folder, read once per process (None: no usable key there, warned once)
_keys: dict[str, bytes | None] = {}


def key() -> bytes | None:
    """This user's cache key (made on first use); None, with one warning, when there is none to use."""
    folder = config_dir()
    where = str(folder)
    if where not in _keys:
        try:
            _keys[where] = _load_key(folder)
        except _NoKey as e:
            _keys[where] = None
            warnings.warn(TalosnbWarning(f"{folder / KEY_FILE}: {e}; caches are not used in this run "
                                         "(set TALOSNB_CONFIG_DIR to a folder of your own)"), stacklevel=3)
    return _keys[where]


class _NoKey(Exception):
    pass


def _load_key(folder: Path, *, make: bool = True) -> bytes:
    path = folder / KEY_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        if not make:
            raise _NoKey("the cache key disappeared as it was made") from None
        return _make_key(folder)
    except OSError as e:
        raise _NoKey(f"cannot read the cache key ({e.strerror}; a symlink is not accepted)") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _NoKey("the cache key is not a regular file")
        if st.st_uid != os.geteuid():
            raise _NoKey(f"the cache key is owned by another user (uid {st.st_uid})")
        if st.st_mode & 0o077:
            raise _NoKey(f"the cache key can be read or written by others (mode {stat.S_IMODE(st.st_mode):o}); "
                         "make it 0600 (chmod 600) or delete it")
        data = f.read(KEY_BYTES + 1)
    if len(data) != KEY_BYTES:
        raise _NoKey("the cache key is damaged; delete it (a new one is made, and the cache rebuilt)")
    return data


def _make_key(folder: Path) -> bytes:
    """A new random key, created 0600 under its final name in one step (link), so two runs making
    one at once agree on the one that won."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{KEY_FILE}.", dir=folder)   # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, folder / KEY_FILE)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except OSError as e:
        raise _NoKey(f"cannot create the cache key ({e.strerror})") from None
    return _load_key(folder, make=False)


def _mac(secret: bytes, engine: str, name: str, payload: bytes | memoryview) -> str:
    mac = hmac.new(secret, f"{engine}\0{name}\0{len(payload)}\0".encode(), hashlib.sha256)
    mac.update(payload)
    return mac.hexdigest()


def write(path: str | os.PathLike, payload: bytes | memoryview, *, engine: str) -> bool:
    """Write ``payload`` with its header, atomically. False (and a warning) if the cache
    folder can't be written: a cache is only an optimisation."""
    path = Path(path)
    secret = key()
    if secret is None:
        return False
    header = json.dumps({"engine": engine, "hmac": _mac(secret, engine, path.name, payload),
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
    secret = key()
    if secret is None:
        return None
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
    if data.startswith(MAGIC_STEM) and not data.startswith(MAGIC) and end >= 0:
        with contextlib.suppress(OSError):   # another cache format's: stale, not damaged
            path.unlink()
        return None
    if not data.startswith(MAGIC) or end < 0:
        discard(path, what, "not a talosnb cache file (no header)")
        return None
    try:
        header = json.loads(data[len(MAGIC):end])
        written_by, mac, size = header["engine"], header["hmac"], header["size"]
    except (ValueError, KeyError, TypeError):
        discard(path, what, "its header is damaged")
        return None
    if written_by != engine:
        with contextlib.suppress(OSError):   # another talosnb version's: stale, not damaged
            path.unlink()
        return None
    payload = view[end + 1:]
    if (not isinstance(mac, str) or len(payload) != size
            or not hmac.compare_digest(_mac(secret, engine, path.name, payload), mac)):
        discard(path, what, "its content does not match its digest, signed with this user's cache key: "
                            "damaged, or written by someone without the key")
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
