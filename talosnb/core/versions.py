"""Kernel versions: reading them from a tree, comparing them, and what a difference means.

A kernel release is ``VERSION.PATCHLEVEL.SUBLEVEL`` plus ``EXTRAVERSION``
(``6.12.63``, ``6.13.0-rc2``) as the top Makefile sets them. Kconfig symbols
change a lot between series (``6.12`` vs ``6.18``) and a little between stable
releases of one series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, opt

# A kernel version's numbers are small (the kernel packs them in a byte each: LINUX_VERSION_CODE);
# six digits is far beyond any, and keeps a number of thousands of digits (which Python refuses to
# convert) from being read as one.
MAX_DIGITS = 6
_N = rf"\d{{1,{MAX_DIGITS}}}(?!\d)"
_KVER = re.compile(rf"^({_N})\.({_N})(?:\.({_N}))?(.*)$")
# what a Pkgfile's linux_version (a kernel.org tarball name) may be
RELEASE = re.compile(rf"^{_N}\.{_N}(\.{_N})?(-rc{_N})?$")
_MAKEFILE_VAR = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*[:?]?=\s*(.*?)\s*$")


def shown(value: str, limit: int = 40) -> str:
    """A value from an input, quoted for a message: cut short when long (a line of thousands of
    characters would bury the message)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def parse_version(version: str) -> tuple[int, int, int, str]:
    """(major, minor, sublevel, extra) of "6.12.63", "6.12", "6.13.0-rc2"."""
    m = _KVER.match(version.strip())
    if not m:
        raise InputError(f"not a kernel version: {shown(version)}",
                         hint=f"expected e.g. 6.12.63 (numbers of at most {MAX_DIGITS} digits)")
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
    for number, line in enumerate(head, 1):
        m = _MAKEFILE_VAR.match(line)
        if m and m.group(1) not in values:
            values[m.group(1)] = m.group(2)
            if m.group(1) != "EXTRAVERSION" and m.group(2).isdigit() and len(m.group(2)) > MAX_DIGITS:
                raise InputError(f"{m.group(1)} = {shown(m.group(2))} is not a kernel version number "
                                 f"(at most {MAX_DIGITS} digits)", where=f"{makefile}:{number}",
                                 hint="this is not a kernel tree's top Makefile: give a kernel source tree")
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
    release, level "info": a few symbols may have drifted). ``what`` names the
    input ("Pkgfile linux_version"), ``where`` its file and line when it has one.
    """

    kind: str
    level: str
    tree_version: str
    other_version: str
    what: str
    message: str
    where: str | None = None

    def __str__(self) -> str:
        return self.message

    @property
    def named(self) -> str:
        """The input with its place: "Pkgfile linux_version (pkgs/Pkgfile:88)"."""
        return f"{self.what} ({self.where})" if self.where else self.what


def _drift(tree_version: str, other_version: str, named: str, *, many: bool = False) -> tuple[str, str, str] | None:
    """(kind, level, message) of a tree at `tree_version` read with inputs (`named`) of `other_version`."""
    tree, other = parse_version(tree_version), parse_version(other_version)
    verb = "are" if many else "is"
    if tree[:2] != other[:2]:
        message = (f"kernel tree is {tree_version} but {named} {verb} {other_version}: different kernel "
                   f"series ({tree[0]}.{tree[1]} vs {other[0]}.{other[1]}), so symbols will be missing "
                   f"or unknown; use a {other[0]}.{other[1]} kernel tree ({opt('kernel_src')})")
        return "mismatch", "error", message
    if tree != other:
        message = (f"kernel tree is {tree_version} but {named} {verb} {other_version} (same {tree[0]}.{tree[1]} "
                   "series; a few symbols may differ between stable releases)")
        return "note", "info", message
    return None


def compare_versions(tree_version: str, other_version: str, what: str, where: str | None = None) -> VersionCheck | None:
    """Compare the kernel tree's version with `what` (e.g. "Pkgfile linux_version"), read at `where`."""
    named = f"{what} ({where})" if where else what
    try:
        parse_version(other_version)
    except InputError as e:
        raise InputError(f"{what}: {e.message}", where=where, hint=e.hint) from None
    drift = _drift(tree_version, other_version, named)
    if drift is None:
        return None
    kind, level, message = drift
    return VersionCheck(kind, level, tree_version, other_version, what, message, where)


def _is_drift(check: VersionCheck) -> bool:
    """Whether `check` is compare_versions' own (not, say, the hardening checker's pin)."""
    try:
        again = compare_versions(check.tree_version, check.other_version, check.what, check.where)
    except InputError:
        return False
    return again is not None and again.message == check.message


def grouped(checks: Iterable[VersionCheck]) -> list[VersionCheck]:
    """The checks with those that say the same of several inputs said once, naming each input: the
    Pkgfile and both configs' headers one stable release behind the tree are one note, not three."""
    groups: dict[object, list[VersionCheck]] = {}
    for check in checks:
        key: object = (check.kind, check.tree_version, check.other_version) if _is_drift(check) else id(check)
        groups.setdefault(key, []).append(check)
    out = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            out.append(first)
            continue
        named = ", ".join(c.named for c in group)
        drift = _drift(first.tree_version, first.other_version, named, many=True)
        assert drift is not None   # each check of the group is one
        out.append(VersionCheck(first.kind, first.level, first.tree_version, first.other_version,
                                ", ".join(c.what for c in group), drift[2]))
    return out
