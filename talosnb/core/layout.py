"""Where things are in the checkouts a Talos kernel customizer works with: one home for the layout.

- siderolabs/pkgs: ``Pkgfile`` (``linux_version``, the tarball's hashes, ``kspp_ref``), and in
  ``kernel/build/``: ``config-ARCH`` (the full ``.config`` of each arch, as `make olddefconfig`
  writes it), ``patches/*.patch`` (applied to the tree before olddefconfig), ``pkg.yaml`` (the
  build's steps, among them kernel-hardening-checker) and ``scripts/`` (its filter).
- siderolabs/talos: ``hack/modules-ARCH.txt`` (the ``.ko`` files copied into the initramfs).
- siderolabs/extensions: ``<group>/<extension>/pkg.yaml`` installing the ``.ko`` files its
  ``files/modules.txt`` (every arch) or ``files/modules-x86_64.txt``, ``modules-aarch64.txt`` name.
- talosnb's own settings for a pkgs checkout: ``.talosnb.toml`` at its root (which workloads'
  kernel requirements the checkout's configs must meet), read by the workloads gate and guard.

Paths are given relative to a checkout's root (``str``, as git names them) and joined to one
(``Path``) by the functions below. File names as commands and messages say them
(``config-amd64``, ``modules-arm64.txt``) come from here too; finding templates say
``{config_name}``, ``{module_list_name}``, ``{module_list_file}`` (``analyses.findings.render``).
"""

from __future__ import annotations

import re
from pathlib import Path

PKGFILE = "Pkgfile"
STEP_FILE = "pkg.yaml"                 # a bldr step: kernel/build/pkg.yaml, an extension's pkg.yaml
KERNEL_DIR = "kernel"                  # the pkgs checkout's kernel steps (prepare, build, ...)
BUILD_DIR = f"{KERNEL_DIR}/build"
PREPARE_DIR = f"{KERNEL_DIR}/prepare"
PATCHES_DIR = f"{BUILD_DIR}/patches"
SCRIPTS = "scripts"                    # in the build step's folder, the build's /pkg/scripts
SCRIPTS_DIR = f"{BUILD_DIR}/{SCRIPTS}"
BUILD_PKG_YAML = f"{BUILD_DIR}/{STEP_FILE}"
STEP_PKG_YAMLS = (BUILD_PKG_YAML, f"{PREPARE_DIR}/{STEP_FILE}")   # the steps a save's scratch copy keeps
MODULE_LIST_DIR = "hack"
SETTINGS_FILE = ".talosnb.toml"

# siderolabs/extensions: <group>/<extension>/pkg.yaml installs the .ko files its files/modules.txt
# (every arch) or files/modules-x86_64.txt, files/modules-aarch64.txt (one arch each) name
EXTENSION_FILES_DIR = "files"
EXTENSION_LIST_GLOB = "modules*.txt"
EXTENSION_LIST_RE = re.compile(r"^modules(?:-(?P<machine>[^.]+))?\.txt$")
EXTENSION_LIST_TEMPLATE = "modules-{{ .ARCH }}.txt"   # as a pkg.yaml names the per-arch list
EXTENSIONS_LIST_PREFIX = "extensions/"                # an extension's list id: extensions/drivers/usb-modem


def config_name(arch: str) -> str:
    """A config's file name, as commands and messages name it: ``config-amd64``."""
    return f"config-{arch}"


def module_list_name(arch: str) -> str:
    """talos's module list's file name: ``modules-amd64.txt``."""
    return f"modules-{arch}.txt"


def config_file(arch: str) -> str:
    """config-ARCH relative to the pkgs checkout: ``kernel/build/config-amd64``."""
    return f"{BUILD_DIR}/{config_name(arch)}"


def module_list_file(arch: str) -> str:
    """The talos module list relative to its checkout: ``hack/modules-amd64.txt``."""
    return f"{MODULE_LIST_DIR}/{module_list_name(arch)}"


# the generic names, for a person: kernel/build/config-ARCH, hack/modules-ARCH.txt
CONFIG_FILES = config_file("ARCH")
MODULE_LIST_FILES = module_list_file("ARCH")


def extension_list_id(extension: str) -> str:
    """How commands name an extension's list: ``extensions/drivers/usb-modem``."""
    return f"{EXTENSIONS_LIST_PREFIX}{extension}"


def extension_list_file(extension: str, file_name: str) -> str:
    """An extension's list relative to the extensions checkout: ``drivers/usb-modem/files/modules.txt``."""
    return f"{extension}/{EXTENSION_FILES_DIR}/{file_name}"


def extension_files_dir(step_file: Path) -> Path:
    """The files/ folder beside an extension's pkg.yaml."""
    return step_file.parent / EXTENSION_FILES_DIR


def extension_step_file(list_path: Path) -> Path:
    """The pkg.yaml that installs the list at `list_path` (files/modules*.txt)."""
    return list_path.parent.parent / STEP_FILE


def config_path(pkgs: Path, arch: str) -> Path:
    return pkgs / config_file(arch)


def module_list_path(talos: Path, arch: str) -> Path:
    return talos / module_list_file(arch)


def build_dir(pkgs: Path) -> Path:
    return pkgs / BUILD_DIR


def patches_dir(pkgs: Path) -> Path:
    return pkgs / PATCHES_DIR
