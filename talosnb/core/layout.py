"""Where things are in the checkouts a Talos kernel customizer works with: one home for the layout.

- siderolabs/pkgs: ``Pkgfile`` (``linux_version``, the tarball's hashes, ``kspp_ref``), and in
  ``kernel/build/``: ``config-ARCH`` (the full ``.config`` of each arch, as `make olddefconfig`
  writes it), ``patches/*.patch`` (applied to the tree before olddefconfig), ``pkg.yaml`` (the
  build's steps, among them kernel-hardening-checker) and ``scripts/`` (its filter).
- siderolabs/talos: ``hack/modules-ARCH.txt`` (the ``.ko`` files copied into the initramfs).
- talosnb's own settings for a pkgs checkout: ``.talosnb.toml`` at its root (which workloads'
  kernel requirements the checkout's configs must meet), read by the workloads gate and guard.

Paths are given relative to a checkout's root (``str``, as git names them) and joined to one
(``Path``) by the functions below.
"""

from __future__ import annotations

from pathlib import Path

PKGFILE = "Pkgfile"
BUILD_DIR = "kernel/build"
PATCHES_DIR = f"{BUILD_DIR}/patches"
SCRIPTS_DIR = f"{BUILD_DIR}/scripts"
BUILD_PKG_YAML = f"{BUILD_DIR}/pkg.yaml"
MODULE_LIST_DIR = "hack"
SETTINGS_FILE = ".talosnb.toml"


def config_file(arch: str) -> str:
    """config-ARCH relative to the pkgs checkout: ``kernel/build/config-amd64``."""
    return f"{BUILD_DIR}/config-{arch}"


def module_list_file(arch: str) -> str:
    """The talos module list relative to its checkout: ``hack/modules-amd64.txt``."""
    return f"{MODULE_LIST_DIR}/modules-{arch}.txt"


def config_path(pkgs: Path, arch: str) -> Path:
    return pkgs / config_file(arch)


def module_list_path(talos: Path, arch: str) -> Path:
    return talos / module_list_file(arch)


def build_dir(pkgs: Path) -> Path:
    return pkgs / BUILD_DIR


def patches_dir(pkgs: Path) -> Path:
    return pkgs / PATCHES_DIR
