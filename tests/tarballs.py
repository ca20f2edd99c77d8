"""Tarballs written for the tests: members as (header, data) pairs, a minimal kernel tree
(KERNEL_MEMBERS), and hostile members (links out, special files) built from them."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

Member = tuple[tarfile.TarInfo, bytes | None]


def add_members(tar: tarfile.TarFile, members: list[Member]) -> None:
    """Each (header, data) into `tar`: data None for links, folders and special files."""
    for info, data in members:
        if data is not None:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        else:
            tar.addfile(info)


def make_tarball(path: Path, members: list[Member]) -> Path:
    """A tarball at `path` holding `members`, compressed as its name says (.xz, .gz, else none)."""
    mode = "w:xz" if path.name.endswith(".xz") else "w:gz" if path.name.endswith(".gz") else "w"
    with tarfile.open(path, mode) as tar:
        add_members(tar, members)
    return path


def reg(name: str, data: bytes = b"x\n", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def special(name: str, kind: bytes, major: int = 0, minor: int = 0) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = kind, major, minor
    return info, None


KERNEL_MEMBERS = [
    reg("linux-6.1.5/Makefile", b"VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 5\nEXTRAVERSION =\n"),
    reg("linux-6.1.5/Kconfig", b'mainmenu "x"\nsource "drivers/Kconfig"\n'),
    reg("linux-6.1.5/drivers/Kconfig", b"config FOO\n\tbool \"foo\"\n"),
    reg("linux-6.1.5/drivers/Makefile", b"obj-$(CONFIG_FOO) += foo.o\n"),
    reg("linux-6.1.5/drivers/foo.c", b"int foo;\n"),
    reg("linux-6.1.5/Documentation/Kconfig", b""),
    reg("linux-6.1.5/Documentation/index.rst", b"docs\n"),
    reg("linux-6.1.5/scripts/helper.sh", b"#!/bin/sh\n", 0o755),
    reg("linux-6.1.5/scripts/kconfig/conf.c", b"int main;\n"),
    link("linux-6.1.5/scripts/dtc-link", "kconfig/conf.c"),
]
