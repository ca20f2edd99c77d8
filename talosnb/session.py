"""One user's loaded work: the inputs, and per arch the parsed tree and the config.

Everything the command line, the widgets and the notebooks do goes through a
Session, so they all see the same loaded objects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .errors import InputError
from .kconfig.config import Config
from .kconfig.tree import ARCHES, KconfigTree
from .sources import Inputs, VersionCheck, compare_versions, resolve_inputs


def parse_arches(arch: str | None) -> list[str]:
    """'amd64', 'arm64' or 'all' (the default) -> the list of arches."""
    if arch in (None, "", "all"):
        return list(ARCHES)
    if arch not in ARCHES:
        raise InputError(f"unknown arch '{arch}'", hint="use amd64, arm64 or all")
    return [arch]


@dataclass
class Session:
    inputs: Inputs
    toolchain: str = "recorded"
    configs: dict[str, Config] = field(default_factory=dict)
    _kbuild: dict = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None,
             kernel_src: str | os.PathLike | None = None, *, arch: str | None = "all",
             toolchain: str = "recorded", host: dict[str, str] | None = None,
             progress: bool = False) -> Session:
        inputs = resolve_inputs(pkgs, talos, kernel_src, progress=progress)
        if inputs.kernel is None:
            raise InputError("no kernel tree", hint="pass --kernel-src (a folder or a tarball) or --pkgs")
        session = cls(inputs, toolchain)
        if inputs.pkgs is None:
            raise InputError("no pkgs checkout to read config-ARCH from",
                             hint="pass --pkgs (a siderolabs/pkgs checkout) or set TALOSNB_PKGS")
        for one in parse_arches(arch):
            tree = KconfigTree.load(inputs.kernel.path, one, toolchain_mode=toolchain, host=host)
            session.configs[one] = Config.load(tree, inputs.pkgs.config_path(one))
        return session

    @property
    def tree_version(self) -> str:
        return self.inputs.kernel.version

    def version_checks(self) -> list[VersionCheck]:
        checks = list(self.inputs.checks)
        seen = {c.what for c in checks}
        for arch, config in self.configs.items():
            if config.recorded_version:
                what = f"the header of config-{arch} ({config.source})"
                if not any(w.startswith(f"the header of config-{arch}") for w in seen):
                    check = compare_versions(self.tree_version, config.recorded_version, what)
                    if check:
                        checks.append(check)
        return checks

    # --- Kbuild maps and module lists (one place for the CLI, the widgets and the notebooks) ---

    def list_version(self) -> str | None:
        """The kernel release the configs (and so the module lists) were made for."""
        return next((c.recorded_version for c in self.configs.values() if c.recorded_version), None)

    def require_talos(self):
        if self.inputs.talos is None:
            raise InputError("no talos checkout to read hack/modules-ARCH.txt from",
                             hint="pass --talos (a siderolabs/talos checkout) or set TALOSNB_TALOS")
        return self.inputs.talos

    def kbuild_map(self, arch: str, *, progress: bool = False):
        """The tree's Kbuild map for an arch, loaded once per session (and cached on disk)."""
        if arch not in self._kbuild:
            from .kbuild import load_kbuild_map
            self._kbuild[arch] = load_kbuild_map(self.inputs.kernel.path, self.configs[arch].tree.srcarch,
                                                 progress=progress)
        return self._kbuild[arch]

    def load_module_lists(self, *, missing_ok: bool = False) -> dict:
        """hack/modules-ARCH.txt of every loaded arch, read from the talos checkout now (a missing
        list is an InputError, or skipped with missing_ok)."""
        from .modules import ModuleList
        talos = self.require_talos()
        return {arch: ModuleList.load(talos.module_list_path(arch), arch) for arch in self.configs
                if not missing_ok or talos.module_list_path(arch).exists()}

    def check_modules(self, lists: dict | None = None, *, verify_fix=None, unlisted: bool = True) -> list:
        """check_module_lists over `lists` (default: the talos checkout's) and the configs' current values."""
        from .modules import check_module_lists
        lists = self.load_module_lists() if lists is None else lists
        if not lists:
            return []
        values = {arch: self.configs[arch].written() for arch in lists}
        maps = {arch: self.kbuild_map(arch) for arch in lists}
        return check_module_lists(lists, values, maps, tree_version=self.tree_version,
                                  list_version=self.list_version(), verify_fix=verify_fix, unlisted=unlisted)
