"""Kernel versions: reading them from a tree, comparing them, and what a difference means.

A kernel release is ``VERSION.PATCHLEVEL.SUBLEVEL`` plus ``EXTRAVERSION``
(``6.12.63``, ``6.13.0-rc2``) as the top Makefile sets them. Kconfig symbols
change a lot between series (``6.12`` vs ``6.18``) and a little between stable
releases of one series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, opt

_KVER = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(.*)$")
# what a Pkgfile's linux_version (a kernel.org tarball name) may be
RELEASE = re.compile(r"^\d+\.\d+(\.\d+)?(-rc\d+)?$")
_MAKEFILE_VAR = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*[:?]?=\s*(.*?)\s*$")


def parse_version(version: str) -> tuple[int, int, int, str]:
    """(major, minor, sublevel, extra) of "6.12.63", "6.12", "6.13.0-rc2"."""
    m = _KVER.match(version.strip())
    if not m:
        raise InputError(f"not a kernel version: {version!r}", hint="expected e.g. 6.12.63")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), m.group(4)


def series(version: str | None) -> str | None:
    """"6.12" of "6.12.63" (None for None or a string that is not a version)."""
    if not version:
        return None
    try:
        major, minor, _, _ = parse_version(version)
    except InputError:
        return None
    return f"{major}.{minor}"


def read_makefile_version(makefile: Path) -> str | None:
    """VERSION.PATCHLEVEL.SUBLEVEL+EXTRAVERSION of a kernel's top Makefile (None: not one)."""
    try:
        with open(makefile, encoding="utf-8", errors="replace") as f:
            head = [next(f, "") for _ in range(40)]
    except OSError:
        return None
    values: dict[str, str] = {}
    for line in head:
        m = _MAKEFILE_VAR.match(line)
        if m and m.group(1) not in values:
            values[m.group(1)] = m.group(2)
    if not values.get("VERSION", "").isdigit() or not values.get("PATCHLEVEL", "").isdigit():
        return None
    sub = values.get("SUBLEVEL", "")
    version = f"{values['VERSION']}.{values['PATCHLEVEL']}"
    # Like the kernel's KERNELVERSION: a present SUBLEVEL is kept even when 0.
    if sub.isdigit():
        version += f".{sub}"
    return version + values.get("EXTRAVERSION", "")


@dataclass(frozen=True)
class VersionCheck:
    """A difference between the kernel tree's version and another input's.

    kind "mismatch" (different major.minor, level "error": Kconfig symbols
    differ a lot between series) or "note" (same series, different stable
    release, level "info": a few symbols may have drifted).
    """

    kind: str
    level: str
    tree_version: str
    other_version: str
    what: str
    message: str

    def __str__(self) -> str:
        return self.message


def compare_versions(tree_version: str, other_version: str, what: str) -> VersionCheck | None:
    """Compare the kernel tree's version with `what` (e.g. "Pkgfile linux_version")."""
    tree, other = parse_version(tree_version), parse_version(other_version)
    if tree[:2] != other[:2]:
        return VersionCheck(
            "mismatch", "error", tree_version, other_version, what,
            f"kernel tree is {tree_version} but {what} is {other_version}: different kernel "
            f"series ({tree[0]}.{tree[1]} vs {other[0]}.{other[1]}), so symbols will be missing "
            f"or unknown; use a {other[0]}.{other[1]} kernel tree ({opt('kernel_src')})")
    if tree != other:
        return VersionCheck(
            "note", "info", tree_version, other_version, what,
            f"kernel tree is {tree_version} but {what} is {other_version} (same {tree[0]}.{tree[1]} "
            f"series; a few symbols may differ between stable releases)")
    return None
