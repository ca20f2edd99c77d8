"""The two checkouts a Talos kernel customizer works with.

- siderolabs/pkgs: ``kernel/build/config-<arch>`` (full Linux .config files),
  ``kernel/build/patches/*.patch`` and ``Pkgfile``;
- siderolabs/talos: ``hack/modules-<arch>.txt`` (modules copied into the initramfs).
"""

from __future__ import annotations

import os
from pathlib import Path

from talosnb.core.arches import ARCHES, check_arch
from talosnb.core.errors import InputError, opt

from .pkgfile import PkgfileInfo, parse_pkgfile


class PkgsCheckout:
    """A siderolabs/pkgs checkout (or a folder laid out like one)."""

    CONTENTS = "Pkgfile and kernel/build/config-amd64, config-arm64"

    def __init__(self, path: str | os.PathLike):
        self.path = _existing_dir(path, "pkgs checkout", opt("pkgs"), self.CONTENTS)

    def __repr__(self) -> str:
        return f"PkgsCheckout({str(self.path)!r})"

    @property
    def pkgfile(self) -> Path:
        return _existing_file(self.path / "Pkgfile", "Pkgfile", opt("pkgs"), self.CONTENTS)

    def pkgfile_info(self) -> PkgfileInfo:
        return parse_pkgfile(self.pkgfile)

    def config_path(self, arch: str) -> Path:
        return _existing_file(self.path / "kernel" / "build" / f"config-{check_arch(arch)}",
                              f"kernel config for {arch}", opt("pkgs"), self.CONTENTS)

    @property
    def patches_dir(self) -> Path:
        """kernel/build/patches: what the build applies to the kernel tree (may not exist)."""
        return self.path / "kernel" / "build" / "patches"

    def arches(self) -> list[str]:
        """The architectures this checkout has a config for."""
        return [a for a in ARCHES if (self.path / "kernel" / "build" / f"config-{a}").is_file()]


class TalosCheckout:
    """A siderolabs/talos checkout (or a folder laid out like one)."""

    CONTENTS = "hack/modules-amd64.txt, hack/modules-arm64.txt"

    def __init__(self, path: str | os.PathLike):
        self.path = _existing_dir(path, "talos checkout", opt("talos"), self.CONTENTS)

    def __repr__(self) -> str:
        return f"TalosCheckout({str(self.path)!r})"

    def module_list_path(self, arch: str) -> Path:
        return _existing_file(self.path / "hack" / f"modules-{check_arch(arch)}.txt",
                              f"module list for {arch}", opt("talos"), self.CONTENTS)

    def arches(self) -> list[str]:
        return [a for a in ARCHES if (self.path / "hack" / f"modules-{a}.txt").is_file()]


def _existing_dir(path: str | os.PathLike, what: str, option: str, contents: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_dir():
        state = "is not a folder" if p.exists() else "not found"
        raise InputError(f"{what} {state}", where=str(p),
                         hint=f"{option} takes a folder containing {contents}")
    return p.resolve()


def _existing_file(p: Path, what: str, option: str, contents: str) -> Path:
    if not p.is_file():
        raise InputError(f"{what} not found", where=str(p),
                         hint=f"the {option} folder should contain {contents}")
    return p
