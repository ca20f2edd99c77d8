"""Finding everything talosnb works on, and how the versions of the pieces compare.

With no inputs at all, the embedded sample in ``data/sample`` is used, so the
notebooks and the command line work out of the box.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from talosnb.core import dotconfig, layout
from talosnb.core.errors import InputError, VersionMismatchError
from talosnb.core.fileio import read_text
from talosnb.core.paths import ENV_EXTENSIONS, ENV_KERNEL_SRC, ENV_PKGS, ENV_TALOS, sample_dir
from talosnb.core.versions import VersionCheck, compare_versions

from .checkouts import ExtensionsCheckout, PkgsCheckout, TalosCheckout
from .kernel_tree import KernelTree, fetch_kernel_tarball, kernel_src_hint, open_kernel_tree
from .patches import PatchReport, patch_kernel_tree


@dataclass
class Inputs:
    """Everything talosnb works on, and how the versions of the pieces compare.

    pkgs/talos are None when not given (only the embedded sample fills all
    three); kernel is None only when neither a kernel source nor pkgs was given.
    With the pkgs patches applied, kernel is the patched tree and patches says
    what became of each; patches is None when they were not applied (turned
    off, or no pkgs checkout or kernel tree). extensions is the siderolabs/extensions
    checkout when one was given (its module lists ship besides talos's).
    """

    pkgs: PkgsCheckout | None
    talos: TalosCheckout | None
    kernel: KernelTree | None
    checks: list[VersionCheck] = field(default_factory=list)
    sample: bool = False
    patches: PatchReport | None = None
    extensions: ExtensionsCheckout | None = None

    def mismatches(self) -> list[VersionCheck]:
        return [c for c in self.checks if c.kind == "mismatch"]

    def raise_on_mismatch(self) -> None:
        """VersionMismatchError listing every major.minor mismatch, if any."""
        bad = self.mismatches()
        if bad:
            raise VersionMismatchError("; ".join(c.message for c in bad),
                                       hint=kernel_src_hint())


def input_paths(pkgs: str | os.PathLike | None, talos: str | os.PathLike | None,
                kernel_src: str | os.PathLike | None) -> tuple[str | os.PathLike | None, str | os.PathLike | None,
                                                           str | os.PathLike | None, bool]:
    """The three inputs, each defaulting to its environment variable ($TALOSNB_PKGS, $TALOSNB_TALOS,
    $TALOSNB_KERNEL_SRC); with none of them given anywhere, the embedded sample's (and True)."""
    pkgs = pkgs or os.environ.get(ENV_PKGS) or None
    talos = talos or os.environ.get(ENV_TALOS) or None
    kernel_src = kernel_src or os.environ.get(ENV_KERNEL_SRC) or None
    if pkgs is None and talos is None and kernel_src is None:
        root = sample_dir()
        return root / "pkgs", root / "talos", root / "linux", True
    return pkgs, talos, kernel_src, False


def resolve_inputs(pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None,
                   kernel_src: str | os.PathLike | None = None, *, progress: bool = False,
                   patches: bool = True, extensions: str | os.PathLike | None = None) -> Inputs:
    """Find the pkgs and talos checkouts and the kernel tree, and compare their versions.

    Arguments default to $TALOSNB_PKGS, $TALOSNB_TALOS, $TALOSNB_KERNEL_SRC; with
    none of the three given anywhere, the embedded sample is used. Without a
    kernel source, the tarball of the Pkgfile's linux_version is downloaded
    (verified against linux_sha256) and cached. ``patches``: apply the pkgs
    checkout's kernel/build/patches to (a private copy of) the tree, as the
    build does before olddefconfig; a patch that does not apply is an InputError.
    ``extensions`` (default $TALOSNB_EXTENSIONS, else the embedded sample's when the sample is used,
    else none): a siderolabs/extensions checkout.
    """
    extensions = extensions or os.environ.get(ENV_EXTENSIONS) or None
    pkgs, talos, kernel_src, sample = input_paths(pkgs, talos, kernel_src)
    if sample and extensions is None:
        extensions = sample_dir() / "extensions"   # the sample's own: three extensions' lists
    extensions_co = ExtensionsCheckout(extensions) if extensions is not None else None
    pkgs_co = PkgsCheckout(pkgs) if pkgs is not None else None
    talos_co = TalosCheckout(talos) if talos is not None else None
    info = pkgs_co.pkgfile_info() if pkgs_co is not None else None

    kernel: KernelTree | None = None
    if kernel_src is not None:
        kernel = open_kernel_tree(kernel_src, pkgfile_version=info.linux_version if info else None,
                                  progress=progress)
    elif info is not None:
        tarball = fetch_kernel_tarball(info.linux_version, info.linux_sha256, progress=progress)
        kernel = open_kernel_tree(tarball, pkgfile_version=info.linux_version, progress=progress)

    checks: list[VersionCheck] = []
    if kernel is not None and pkgs_co is not None and info is not None:
        check = compare_versions(kernel.version, info.linux_version, "Pkgfile linux_version", info.where())
        if check:
            checks.append(check)
        for arch in pkgs_co.arches():
            path = pkgs_co.config_path(arch)
            header = dotconfig.header(read_text(path, what=layout.config_name(arch))[0])
            if header is None:
                continue
            check = compare_versions(kernel.version, header.version, f"the header of {layout.config_name(arch)}",
                                     f"{path}:{header.line}")
            if check:
                checks.append(check)
    report = None
    if patches and kernel is not None and pkgs_co is not None:
        kernel, report = patch_kernel_tree(kernel, pkgs_co.patches_dir)
        report.raise_on_failure(made_for=info.linux_version if info else None, tree_version=kernel.version)
    return Inputs(pkgs_co, talos_co, kernel, checks, sample, report, extensions_co)


SCRATCH_PREFIX = "talosnb-scratch-"


def _copy_if_there(source: Path, dest: Path) -> None:
    if source.is_file():
        shutil.copy2(source, dest)


def scratch_copy(inputs: Inputs, arches: Iterable[str] | None = None,
                 dest: str | Path | None = None) -> tuple[Inputs, Path]:
    """Copy the files a save writes (pkgs: Pkgfile, kernel/build/config-ARCH; talos:
    hack/modules-ARCH.txt; extensions: each one's pkg.yaml and files/modules*.txt) to a new scratch folder; returns Inputs pointing there
    (same kernel tree, version checks and patch report) and the folder. The pkgs build's own steps and
    scripts (kernel/*/pkg.yaml, kernel/build/scripts/, kernel/build/patches/) come along
    read as they are, so the build gates judge the copy as the build would, and so do talosnb's
    settings for the checkout (.talosnb.toml)."""
    if inputs.pkgs is None:   # the files a save writes live in the pkgs checkout
        raise InputError("no pkgs checkout to copy", hint="give a siderolabs/pkgs checkout (or set TALOSNB_PKGS)")
    root = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    arches = list(arches or inputs.pkgs.arches())
    pkgs = root / "pkgs"
    layout.build_dir(pkgs).mkdir(parents=True, exist_ok=True)
    shutil.copy2(inputs.pkgs.pkgfile, pkgs / layout.PKGFILE)
    _copy_if_there(inputs.pkgs.path / layout.SETTINGS_FILE, pkgs / layout.SETTINGS_FILE)
    for step in layout.STEP_PKG_YAMLS:
        source = inputs.pkgs.path / step
        if source.is_file():
            (pkgs / step).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, pkgs / step)
    scripts = inputs.pkgs.path / layout.SCRIPTS_DIR
    if scripts.is_dir():
        shutil.copytree(scripts, pkgs / layout.SCRIPTS_DIR)
    for arch in arches:
        shutil.copy2(inputs.pkgs.config_path(arch), layout.config_path(pkgs, arch))
    if inputs.pkgs.patches_dir.is_dir():
        shutil.copytree(inputs.pkgs.patches_dir, layout.patches_dir(pkgs), symlinks=True)
    talos = None
    if inputs.talos is not None:
        (root / "talos" / layout.MODULE_LIST_DIR).mkdir(parents=True, exist_ok=True)
        for arch in arches:
            shutil.copy2(inputs.talos.module_list_path(arch), layout.module_list_path(root / "talos", arch))
        talos = TalosCheckout(root / "talos")
    extensions = None
    if inputs.extensions is not None:
        for one in inputs.extensions.lists:
            copy = root / "extensions" / layout.extension_list_file(one.extension, one.path.name)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(one.path, copy)
            pkg = layout.extension_step_file(one.path)
            if pkg.is_file():
                shutil.copy2(pkg, layout.extension_step_file(copy))
        extensions = ExtensionsCheckout(root / "extensions") if inputs.extensions.lists else None
    copied = Inputs(PkgsCheckout(pkgs), talos, inputs.kernel, list(inputs.checks), inputs.sample,
                    inputs.patches, extensions)
    return copied, root
