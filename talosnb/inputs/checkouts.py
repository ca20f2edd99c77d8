"""The two checkouts a Talos kernel customizer works with.

- siderolabs/pkgs: ``kernel/build/config-<arch>`` (full Linux .config files),
  ``kernel/build/patches/*.patch`` and ``Pkgfile``;
- siderolabs/talos: ``hack/modules-<arch>.txt`` (modules copied into the initramfs).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from talosnb.core.arches import ARCHES, check_arch
from talosnb.core.errors import InputError, TalosnbError, opt
from talosnb.core.fileio import os_error, recover

from .pkgfile import PkgfileInfo, parse_pkgfile


class PkgsCheckout:
    """A siderolabs/pkgs checkout (or a folder laid out like one)."""

    CONTENTS = "Pkgfile and kernel/build/config-amd64, config-arm64"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = _existing_dir(path, "pkgs checkout", opt("pkgs"), self.CONTENTS)
        # a talosnb run killed while writing here left a journal: finish (or undo) it first
        self.recovered = _recover(self.path, self.path / "kernel" / "build")

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
        return [a for a in ARCHES if _is_file(self.path / "kernel" / "build" / f"config-{a}")]


class TalosCheckout:
    """A siderolabs/talos checkout (or a folder laid out like one)."""

    CONTENTS = "hack/modules-amd64.txt, hack/modules-arm64.txt"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = _existing_dir(path, "talos checkout", opt("talos"), self.CONTENTS)
        self.recovered = _recover(self.path / "hack")

    def __repr__(self) -> str:
        return f"TalosCheckout({str(self.path)!r})"

    def module_list_path(self, arch: str) -> Path:
        return _existing_file(self.path / "hack" / f"modules-{check_arch(arch)}.txt",
                              f"module list for {arch}", opt("talos"), self.CONTENTS)

    def arches(self) -> list[str]:
        return [a for a in ARCHES if _is_file(self.path / "hack" / f"modules-{a}.txt")]


def _recover(*folders: Path) -> list[str]:
    notes = []
    for folder in folders:
        try:
            notes += recover(folder)
        except TalosnbError:
            raise
        except OSError as e:
            raise os_error(e, "cannot finish an interrupted write in this folder", folder) from None
    return notes


def _is_file(p: Path) -> bool:
    """Path.is_file, except that a folder on the way that can't be searched is an error naming it."""
    try:
        return stat.S_ISREG(p.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        raise os_error(e, "cannot look into this folder", p.parent) from None


def _mode(p: Path, what: str, hint: str) -> int:
    """The st_mode of `p`; a missing one is an InputError naming `what` (with `hint`)."""
    try:
        return p.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{what} not found", where=str(p), hint=hint) from None
    except OSError as e:
        raise os_error(e, f"cannot open the {what}", p) from None


def _existing_dir(path: str | os.PathLike, what: str, option: str, contents: str) -> Path:
    p = Path(path).expanduser()
    hint = f"{option} takes a folder containing {contents}"
    if not stat.S_ISDIR(_mode(p, what, hint)):
        raise InputError(f"{what} is not a folder", where=str(p), hint=hint)
    if not os.access(p, os.X_OK):
        raise InputError(f"cannot open the {what}: permission denied", where=str(p),
                         hint="check the folder's permissions")
    return p.resolve()


def _existing_file(p: Path, what: str, option: str, contents: str) -> Path:
    hint = f"the {option} folder should contain {contents}"
    if stat.S_ISDIR(_mode(p, what, hint)):
        raise InputError(f"{what} is a folder, expected a file", where=str(p), hint=hint)
    if not os.access(p, os.R_OK):
        raise InputError(f"cannot read the {what}: permission denied", where=str(p),
                         hint="check the file's permissions")
    return p
