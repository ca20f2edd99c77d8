"""The architectures Talos builds and what the kernel calls them.

Talos names its arches after Go/OCI platforms; the kernel's build takes
``ARCH``/``SRCARCH`` (``arch/<SRCARCH>/``), and a ``.config`` header names the
SRCARCH (``# Linux/x86 6.12.63 Kernel Configuration``). Talos builds with
``ARCH`` set to the SRCARCH name.
"""

from __future__ import annotations

from .errors import InputError

ARCHES: tuple[str, ...] = ("amd64", "arm64")

_SRCARCH = {"amd64": "x86", "arm64": "arm64"}

# What `make ARCH=...` sets ARCH to for a SRCARCH in the top Makefile's terms
# (x86_64 -> SRCARCH x86), for reading arch Makefiles as kbuild does.
MAKE_ARCH_FOR_SRCARCH = {"x86": "x86_64", "arm64": "arm64"}

# docker buildx platforms, as `make kernel PLATFORM=...` takes them in pkgs.
PLATFORMS = {"amd64": "linux/amd64", "arm64": "linux/arm64"}

# A config from one arch loaded on the other would silently lose all of its
# arch-specific lines; these symbols give the arch away even without a header.
ARCH_SYMBOLS: dict[str, tuple[str, ...]] = {"amd64": ("X86", "X86_64"), "arm64": ("ARM64",)}


def check_arch(arch: str) -> str:
    """Return `arch` if talosnb knows it, else an InputError listing the valid ones."""
    if arch not in ARCHES:
        raise InputError(f"unknown architecture {arch!r}", hint=f"use one of: {', '.join(ARCHES)}")
    return arch


def srcarch(arch: str) -> str:
    """The kernel's SRCARCH (arch/<SRCARCH>/) for a Talos architecture name."""
    return _SRCARCH[check_arch(arch)]


def header_arch(arch: str) -> str:
    """The arch a .config header names (``Linux/<this>``): the SRCARCH."""
    return srcarch(arch)


def parse_arches(arch: str | None) -> list[str]:
    """'amd64', 'arm64' or 'all' (the default, also for None or '') -> the list of arches."""
    if arch in (None, "", "all"):
        return list(ARCHES)
    if arch not in ARCHES:
        raise InputError(f"unknown arch '{arch}'", hint="use amd64, arm64 or all")
    return [arch]
