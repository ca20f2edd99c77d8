"""The pkgs checkout's Pkgfile: which kernel tarball (and which tools) the build downloads.

The Pkgfile is YAML with bldr templating elsewhere in the file, so only the
``key: value`` lines talosnb needs are read, each with its line number for messages.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from talosnb.core import layout
from talosnb.core.errors import InputError
from talosnb.core.fileio import read_text
from talosnb.core.versions import RELEASE, shown

_PKGFILE_KEYS = ("linux_version", "linux_sha256", "linux_sha512")
# kernel-hardening-checker, which kernel/prepare/pkg.yaml downloads at kspp_ref for the
# hardening gate of kernel/build/pkg.yaml; optional (older or trimmed Pkgfiles lack it)
_KSPP_KEYS = ("kspp_ref", "kspp_sha256", "kspp_sha512")
_PKGFILE_LINE = re.compile(r"^\s*(linux_version|linux_sha256|linux_sha512|kspp_ref|kspp_sha256|kspp_sha512)"
                           r"\s*:(.*)$")
_HEX = {"linux_sha256": 64, "linux_sha512": 128, "kspp_sha256": 64, "kspp_sha512": 128}
# a git ref as GitHub's /archive/{ref}.tar.gz takes it: a commit, a tag or a branch
_GIT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@dataclass(frozen=True)
class ToolPin:
    """A tool the pkgs build downloads at a pinned git ref, with the archive's hashes."""

    ref: str
    sha256: str
    sha512: str
    where: str     # Pkgfile:line of the ref


@dataclass(frozen=True)
class PkgfileInfo:
    """The kernel tarball a pkgs checkout builds from."""

    path: Path
    linux_version: str
    linux_sha256: str
    linux_sha512: str
    lines: dict[str, int] = field(default_factory=dict, compare=False)
    kspp_ref: str | None = None
    kspp_sha256: str | None = None
    kspp_sha512: str | None = None

    def where(self, key: str = "linux_version") -> str:
        """"Pkgfile:line" of a variable, for messages."""
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)

    def kspp(self) -> ToolPin | None:
        """The kernel-hardening-checker pin (kspp_ref and its archive's hashes); None when the
        Pkgfile pins none. A ref without both hashes is an InputError: the build would refuse it too."""
        if self.kspp_ref is None:
            missing = [k for k in _KSPP_KEYS[1:] if getattr(self, k) is not None]
            if missing:
                raise InputError(f"{missing[0]} is set but kspp_ref is not", where=self.where(missing[0]),
                                 hint="set kspp_ref to the kernel-hardening-checker commit the hashes are of")
            return None
        missing = [k for k in _KSPP_KEYS[1:] if getattr(self, k) is None]
        if missing:
            raise InputError(f"kspp_ref is set but {' and '.join(missing)} not", where=self.where("kspp_ref"),
                             hint="the pkgs build verifies the kernel-hardening-checker archive with both "
                                  "kspp_sha256 and kspp_sha512")
        assert self.kspp_sha256 is not None and self.kspp_sha512 is not None  # none missing, checked above
        return ToolPin(self.kspp_ref, self.kspp_sha256, self.kspp_sha512, self.where("kspp_ref"))


def _yaml_scalar(raw: str) -> str:
    value = raw.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    # An unquoted YAML scalar ends at " #" (a trailing comment).
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def parse_pkgfile_text(text: str, path: str | os.PathLike = layout.PKGFILE) -> PkgfileInfo:
    """Read linux_version/linux_sha256/linux_sha512 (and, when set, kspp_ref/kspp_sha256/
    kspp_sha512) from Pkgfile text.

    The Pkgfile is YAML with bldr templating elsewhere in the file, so only these
    `key: value` lines are read rather than parsing the whole document.
    """
    path = Path(path)
    found: dict[str, tuple[str, int]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        m = _PKGFILE_LINE.match(line)
        if not m:
            continue
        key, value = m.group(1), _yaml_scalar(m.group(2))
        if key in found:
            raise InputError(f"{key} is set twice (also on line {found[key][1]})",
                             where=f"{path}:{lineno}", hint="keep one of them")
        if key == "linux_version":
            if not RELEASE.match(value):
                raise InputError(f"malformed linux_version {shown(value)}, expected e.g. 6.12.63",
                                 where=f"{path}:{lineno}", hint="set it to the kernel release the build uses")
        elif key == "kspp_ref":
            if not _GIT_REF.match(value) or ".." in value:
                raise InputError(f"malformed kspp_ref {value!r}, expected a git commit or tag",
                                 where=f"{path}:{lineno}")
        else:
            value = value.lower()
            if len(value) != _HEX[key] or not re.fullmatch(r"[0-9a-f]+", value):
                raise InputError(f"malformed {key}: expected {_HEX[key]} hex digits, got {value!r}",
                                 where=f"{path}:{lineno}")
        found[key] = (value, lineno)
    missing = [k for k in _PKGFILE_KEYS if k not in found]
    if missing:
        raise InputError(f"no {', '.join(missing)} in the Pkgfile", where=str(path),
                         hint="a siderolabs/pkgs Pkgfile sets linux_version, linux_sha256 and "
                              "linux_sha512 under vars:")
    optional = {k: found[k][0] if k in found else None for k in _KSPP_KEYS}   # absent: the field's default
    return PkgfileInfo(path, found["linux_version"][0], found["linux_sha256"][0], found["linux_sha512"][0],
                       lines={k: line for k, (_, line) in found.items()},
                       kspp_ref=optional["kspp_ref"], kspp_sha256=optional["kspp_sha256"],
                       kspp_sha512=optional["kspp_sha512"])


def parse_pkgfile(path: str | os.PathLike) -> PkgfileInfo:
    """Read a Pkgfile; InputError with file:line when a linux_* variable is missing or malformed."""
    text, _ = read_text(path, what=layout.PKGFILE)
    return parse_pkgfile_text(text, path)


def bump_linux(text: str, version: str, sha256: str, sha512: str, *, path: str | os.PathLike = layout.PKGFILE) -> str:
    """The Pkgfile text with linux_version/linux_sha256/linux_sha512 set to these values and
    every other byte kept (quotes, trailing comments and line endings of those lines too)."""
    if not RELEASE.match(version):
        raise InputError(f"not a kernel version: {version!r}", hint="expected e.g. 7.2.12")
    values = {"linux_version": version, "linux_sha256": sha256.lower(), "linux_sha512": sha512.lower()}
    for key in ("linux_sha256", "linux_sha512"):
        if not re.fullmatch(rf"[0-9a-f]{{{_HEX[key]}}}", values[key]):
            raise InputError(f"not a {key[6:]}: {values[key]!r}", hint=f"expected {_HEX[key]} hex digits")
    parse_pkgfile_text(text, path)   # the three lines are there, once each
    out = []
    for line in text.splitlines(keepends=True):
        m = _PKGFILE_LINE.match(line.rstrip("\r\n"))
        if m and m.group(1) in values and not line.lstrip().startswith("#"):
            raw = m.group(2)
            old = _yaml_scalar(raw)
            at = raw.find(old)
            line = line[:m.start(2)] + raw[:at] + values[m.group(1)] + raw[at + len(old):] + \
                line[m.end(2):]
        out.append(line)
    return "".join(out)
