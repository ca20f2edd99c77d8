"""How much one tarball may make talosnb write or read, and the free space it must leave.

A tarball is untrusted input: a few megabytes of gzip can expand to gigabytes. Taking files
out of one (a kernel tree's Kconfig/Kbuild files into the cache, an unpacked tool, the C
sources the device index reads) goes through a :class:`Budget`, which refuses, with a
message naming the tarball and the member, exit 2:

- a member larger than ``$TALOSNB_MAX_MEMBER_SIZE``, checked against its header before a byte
  of it is read;
- members adding up to more than ``$TALOSNB_MAX_UNPACKED_SIZE``, read or passed over (that
  bounds the time spent decompressing);
- more written into the cache than ``$TALOSNB_MAX_EXTRACT_SIZE``;
- writing into the cache folder what would leave it less than :data:`RESERVE` free
  (``shutil.disk_usage`` before extracting, and the bytes written counted against it).

The defaults are far above what a real kernel tarball needs. Measured on Debian's
linux-source-6.12: it unpacks to 1.49 GB; its largest file is 24 MB; the files talosnb
extracts into the cache (Kconfig*, Makefile*, Kbuild*, scripts/) are 12.6 MB; the C files and
headers the device index reads are 918 MB.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .errors import InputError

ENV_MAX_MEMBER = "TALOSNB_MAX_MEMBER_SIZE"
ENV_MAX_EXTRACT = "TALOSNB_MAX_EXTRACT_SIZE"
ENV_MAX_UNPACKED = "TALOSNB_MAX_UNPACKED_SIZE"

MiB = 1 << 20
GiB = 1 << 30
DEFAULT_MAX_MEMBER = 256 * MiB    # 10x the largest file of linux 6.12
DEFAULT_MAX_EXTRACT = 512 * MiB   # 40x what talosnb extracts from linux 6.12
DEFAULT_MAX_UNPACKED = 16 * GiB   # 10x all of linux 6.12 unpacked
RESERVE = 64 * MiB                # never fill the cache's file system beyond this

_SIZE = re.compile(r"(\d{1,15})\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": MiB, "G": GiB, "T": 1 << 40}


def _size(variable: str, default: int) -> int:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    found = _SIZE.fullmatch(text)
    if not found or int(found.group(1)) == 0:
        raise InputError(f"{variable}={text!r} is not a size", where=variable,
                         hint="give bytes, or a number with K, M, G or T (e.g. 512M, 2G); unset it for "
                              "the default")
    return int(found.group(1)) * _UNITS[found.group(2).upper()]


def max_member() -> int:
    return _size(ENV_MAX_MEMBER, DEFAULT_MAX_MEMBER)


def max_extract() -> int:
    return _size(ENV_MAX_EXTRACT, DEFAULT_MAX_EXTRACT)


def max_unpacked() -> int:
    return _size(ENV_MAX_UNPACKED, DEFAULT_MAX_UNPACKED)


def human(n: int) -> str:
    return f"{n / GiB:.1f} GB" if n >= GiB else f"{n / MiB:.1f} MB" if n >= MiB else f"{n} bytes"


class Budget:
    """What one tarball may still give. Call :meth:`see` with every member the stream passes
    and :meth:`take` with each one read or written, both before reading it.

    ``writes_into``: the cache folder members are written to (what is taken is capped by
    ``$TALOSNB_MAX_EXTRACT_SIZE``, and its free space is checked now and counted down), or None
    when members are only read."""

    def __init__(self, tarball: Path, *, writes_into: Path | None = None) -> None:
        self.tarball, self.folder = tarball, writes_into
        self.member_cap, self.unpacked_cap = max_member(), max_unpacked()
        self.extract_cap = max_extract() if writes_into is not None else None
        self.unpacked = self.taken = 0
        self.free: int | None = None   # what may be written: the free space less the reserve
        if writes_into is not None:
            self.disk_free = shutil.disk_usage(_existing(writes_into)).free
            self.free = self.disk_free - RESERVE
            if self.free <= 0:
                raise self._no_space(None)

    def _no_space(self, member: str | None) -> InputError:
        assert self.folder is not None
        at = f" at member {member!r}, after {human(self.taken)}" if member else ""
        return InputError(
            f"not enough free space to extract {self.tarball.name}{at}: the cache folder {self.folder} "
            f"had {human(self.disk_free)} free, and talosnb leaves {human(RESERVE)} free",
            where=str(self.tarball),
            hint="free some space, or set TALOSNB_CACHE_DIR to a folder on a disk with room")

    def _too_much(self, member: str, what: str, cap: int, variable: str) -> InputError:
        return InputError(
            f"tarball {self.tarball.name} {what} more than {human(cap)} at member {member!r}; "
            "refusing to extract more of it", where=str(self.tarball),
            hint=f"far more than a kernel tarball holds: check where it came from (or raise {variable})")

    def see(self, member: str, size: int) -> None:
        """Count a member the stream passes (``size`` from its header), or refuse it."""
        self.unpacked += max(size, 0)
        if self.unpacked > self.unpacked_cap:
            raise self._too_much(member, "unpacks to", self.unpacked_cap, ENV_MAX_UNPACKED)

    def take(self, member: str, size: int) -> None:
        """Count a member of ``size`` bytes that is read or written, or refuse it."""
        if size > self.member_cap:
            raise InputError(
                f"tarball member {member!r} is {human(size)}, more than the {human(self.member_cap)} "
                f"talosnb takes from one member; refusing to extract it",
                where=str(self.tarball),
                hint=f"a kernel tarball's largest file is about 24 MB: check where this one came from "
                     f"(or raise {ENV_MAX_MEMBER})")
        if self.extract_cap is None:
            return
        self.taken += size
        if self.taken > self.extract_cap:
            raise self._too_much(member, "would write", self.extract_cap, ENV_MAX_EXTRACT)
        if self.free is not None and self.taken > self.free:
            raise self._no_space(member)


def _existing(folder: Path) -> Path:
    """``folder`` or its nearest existing parent (disk_usage needs one that exists)."""
    path = Path(folder)
    while not path.exists() and path.parent != path:
        path = path.parent
    return path
