"""One user's loaded work: the inputs, and per arch the parsed tree and the config.

Everything the command line, the widgets and the notebooks do goes through a
Session, so they all see the same loaded objects. A Session holds what was loaded, not
what is edited: the configs' editors and their undo stacks are the Workspace's
(:attr:`talosnb.app.workspace.Workspace.editors`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from talosnb.core import dotconfig, layout
from talosnb.core.arches import ARCH_SYMBOLS, ARCHES, header_arch, parse_arches
from talosnb.core.errors import InputError, opt
from talosnb.core.fileio import read_text
from talosnb.core.versions import VersionCheck, compare_versions
from talosnb.inputs.resolve import Inputs, resolve_inputs, scratch_copy
from talosnb.kconfig import toolchain as tc
from talosnb.kconfig.config import Config, toolchain_from
from talosnb.kconfig.diff import config_diff
from talosnb.kconfig.tree import KconfigTree

if TYPE_CHECKING:
    from talosnb.analyses.dependencies import Dependency
    from talosnb.analyses.findings import Finding
    from talosnb.analyses.modules import ExtensionList, ModuleList, VerifyFix
    from talosnb.inputs.checkouts import TalosCheckout
    from talosnb.kbuild import KbuildMap
    from talosnb.kbuild.symbols import SourceSymbols

# Session.open refuses inputs without a kernel tree or a pkgs checkout: every Session has both.
NEEDS_KERNEL_AND_PKGS = "a Session has a kernel tree and a pkgs checkout (Session.open checks)"


class Steps(Protocol):
    """Where loading reports its progress (a notebook bar, a terminal bar, nothing)."""

    def start(self, total: int) -> None: ...
    def step(self, text: str) -> None: ...
    def done(self, text: str) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def step(self, text: str) -> None:
        pass

    def done(self, text: str) -> None:
        pass


@dataclass
class Session:
    """The loaded inputs and, per arch, the parsed tree with its config.

    ``scratch`` is the folder of a scratch copy the config and module-list files
    were loaded from (see :meth:`open`), None when they are the user's own files.
    """

    inputs: Inputs
    toolchain: str = "recorded"
    configs: dict[str, Config] = field(default_factory=dict)
    scratch: Path | None = None
    _kbuild: dict = field(default_factory=dict, repr=False)
    # what the kernel source says modules export and use (None: no full source at hand), read once
    _symbols: list = field(default_factory=list, repr=False)
    _selects: dict = field(default_factory=dict, repr=False)
    # arch -> (Kbuild map, source index, which modules link each exporting object): one reading per pair
    _linked: dict = field(default_factory=dict, repr=False)
    # arch -> the toolchain taken from another config at load (take_toolchain)
    toolchain_taken: dict[str, TakenToolchain] = field(default_factory=dict)

    @classmethod
    def open(cls, pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None,
             kernel_src: str | os.PathLike | None = None, *, arch: str | None = "all",
             toolchain: str = "recorded", host: dict[str, str] | None = None,
             progress: bool = False, steps: Steps | None = None, scratch: bool | None = False,
             kbuild: bool = False, patches: bool = True, llvm: str | None = None,
             toolchain_from: Sequence[str | os.PathLike] = (),
             extensions: str | os.PathLike | None = None) -> Session:
        """Find the inputs (empty ones: the embedded sample) and load each arch's config.

        ``scratch``: work on a scratch copy of the config and module-list files
        (True), on the user's files (False), or on a copy only when the inputs are
        the embedded sample (None). ``kbuild`` also loads the Kbuild maps.
        ``patches``: read the tree with the pkgs checkout's kernel/build/patches
        applied, as the build reads it (see :mod:`talosnb.inputs.patches`).
        ``progress`` shows download/extraction bars; ``steps`` hears about each step.
        ``llvm`` (host mode): the toolchain `make LLVM=...` would use ("1", a suffix "-22", a prefix
        "/usr/lib/llvm-22/bin/"), over $LLVM. ``toolchain_from`` (recorded mode): configs whose
        recorded toolchain each loaded config takes (:meth:`take_toolchain`). ``extensions``: a
        siderolabs/extensions checkout (default $TALOSNB_EXTENSIONS) whose module lists ship too.
        """
        steps = steps or NoProgress()
        if llvm is not None:
            if toolchain != "host":
                raise InputError(f"{opt('llvm')} picks the compiler host mode runs; recorded mode runs none",
                                 hint=f"add {tc.opt_value('toolchain', 'host')}; in recorded mode, assign the "
                                      "toolchain lines (CLANG_VERSION=...) or take them from another config "
                                      f"({opt('toolchain_from')})")
            if host is None:
                host = tc.host_env(llvm=llvm)
        if toolchain_from and toolchain != "recorded":
            raise InputError(f"{opt('toolchain_from')} re-records the toolchain answers of recorded mode; "
                             "in host mode this machine's toolchain answers",
                             hint=f"use {tc.opt_value('toolchain', 'recorded')} (the default), or choose the "
                                  "host compiler with LLVM=... or CC=...")
        arches = parse_arches(arch)
        steps.start(1 + len(arches) * (2 if kbuild else 1))
        steps.step("finding the inputs")
        inputs = resolve_inputs(pkgs or None, talos or None, kernel_src or None, progress=progress,
                                patches=patches, extensions=extensions or None)
        if inputs.kernel is None:
            raise InputError("no kernel tree", hint="give a kernel source (a folder or a tarball) or a pkgs "
                                                    "checkout whose Pkgfile names one")
        if inputs.pkgs is None:
            raise InputError("no pkgs checkout to read config-ARCH from",
                             hint="give a siderolabs/pkgs checkout (or set TALOSNB_PKGS)")
        copy = None
        if scratch or (scratch is None and inputs.sample):
            inputs, copy = scratch_copy(inputs, arches)
        assert inputs.kernel is not None and inputs.pkgs is not None   # checked above; a scratch copy keeps both
        session = cls(inputs, toolchain, scratch=copy)
        for one in arches:
            steps.step(f"reading the Kconfig tree for {one} (the first time takes a few seconds, "
                       "then it is cached)")
            tree = KconfigTree.load(inputs.kernel.path, one, toolchain_mode=toolchain, host=host,
                                    check_sources=inputs.kernel.ensure_intact)
            session.configs[one] = Config.load(tree, inputs.pkgs.config_path(one))
        if toolchain_from:
            steps.step("taking the toolchain another config records")
            session.take_toolchain(toolchain_from)
        if kbuild:
            for one in arches:
                steps.step(f"scanning the Kbuild files for {one} (the first time takes a few seconds, "
                           "then it is cached)")
                session.kbuild_map(one, progress=progress)
        return session

    @property
    def tree_version(self) -> str:
        assert self.inputs.kernel is not None, NEEDS_KERNEL_AND_PKGS
        return self.inputs.kernel.version

    def version_checks(self) -> list[VersionCheck]:
        checks = list(self.inputs.checks)
        seen = {c.what for c in checks}
        for arch, config in self.configs.items():
            if config.recorded_version:
                what = f"the header of {layout.config_name(arch)}"
                if what not in seen:
                    header = dotconfig.header(config.original_text)
                    where = f"{config.source}:{header.line}" if header is not None else str(config.source)
                    check = compare_versions(self.tree_version, config.recorded_version, what, where)
                    if check:
                        checks.append(check)
        return checks

    # --- the toolchain of another config -----------------------------------------------

    def take_toolchain(self, sources: Sequence[str | os.PathLike]) -> dict[str, TakenToolchain]:
        """Every toolchain answer another config records replaces this session's
        (toolchain.toolchain_from), as if the configs had been made with that toolchain; what depends
        on the answers recomputes. Each source is a config file (for the arch its header or its
        lines name) or a folder holding config-ARCH (a pkgs checkout's kernel/build/ or the checkout).
        Every loaded arch needs one. Part of loading: undo doesn't take it back."""
        chosen = _toolchain_sources(sources, list(self.configs))
        for arch, (path, text) in chosen.items():
            config = self.configs[arch]
            before = config.text()
            changes = toolchain_from(config, text, source=str(path))
            lines = {c.symbol for c in config_diff(before, config.text())} if changes else set()
            self.toolchain_taken[arch] = TakenToolchain(path, changes, lines)
        return dict(self.toolchain_taken)

    # --- Kbuild maps and module lists (one place for the CLI, the widgets and the notebooks) ---

    def list_version(self) -> str | None:
        """The kernel release the configs (and so the module lists) were made for."""
        return next((c.recorded_version for c in self.configs.values() if c.recorded_version), None)

    def require_talos(self) -> TalosCheckout:
        if self.inputs.talos is None:
            raise InputError("no talos checkout to read hack/modules-ARCH.txt from",
                             hint="give a siderolabs/talos checkout (or set TALOSNB_TALOS)")
        return self.inputs.talos

    def kbuild_map(self, arch: str, *, progress: bool = False) -> KbuildMap:
        """The tree's Kbuild map for an arch, loaded once per session (and cached on disk)."""
        if arch not in self._kbuild:
            from talosnb.kbuild import load_kbuild_map
            assert self.inputs.kernel is not None, NEEDS_KERNEL_AND_PKGS
            self._kbuild[arch] = load_kbuild_map(self.inputs.kernel.path, self.configs[arch].tree.srcarch,
                                                 progress=progress, check_sources=self.inputs.kernel.ensure_intact)
        return self._kbuild[arch]

    def loaded_kbuild_maps(self) -> dict:
        """The Kbuild maps loaded so far (module search uses them when they are there)."""
        return {arch: kmap for arch, kmap in self._kbuild.items() if arch in self.configs}

    def load_module_lists(self, *, missing_ok: bool = False) -> dict[str, ModuleList]:
        """hack/modules-ARCH.txt of every loaded arch, read from the talos checkout now (a missing
        list is an InputError, or skipped with missing_ok)."""
        from talosnb.analyses.modules import ModuleList
        talos = self.require_talos()
        return {arch: ModuleList.load(talos.module_list_path(arch), arch) for arch in self.configs
                if not missing_ok or talos.module_list_path(arch).exists()}

    def load_extension_lists(self) -> list[ExtensionList]:
        """The module lists of the extensions checkout (none without one) that ship on a loaded arch,
        read now."""
        from talosnb.analyses.modules import ExtensionList
        extensions = self.inputs.extensions
        if extensions is None:
            return []
        return [ExtensionList.load(f) for f in extensions.lists if any(a in self.configs for a in f.arches)]

    def check_modules(self, lists: Mapping[str, ModuleList] | None = None, *, verify_fix: VerifyFix | None = None,
                      unlisted: bool = True, extension_lists: Sequence[ExtensionList] | None = None,
                      ) -> list[Finding]:
        """check_module_lists over `lists` (default: the talos checkout's) and check_extension_lists over
        `extension_lists` (default: the extensions checkout's), with the configs' current values."""
        from talosnb.analyses.modules import check_extension_lists, check_module_lists
        lists = self.load_module_lists() if lists is None else lists
        extension_lists = self.load_extension_lists() if extension_lists is None else extension_lists
        arches = sorted({*lists, *(a for e in extension_lists for a in e.arches if a in self.configs)})
        if not arches:
            return []
        # read lazily: the checks look at the symbols of the Kbuild conditions, not at every config line
        values = {arch: self.configs[arch].written_values() for arch in arches}
        maps = {arch: self.kbuild_map(arch) for arch in arches}
        found = check_module_lists(lists, {a: values[a] for a in lists}, maps, tree_version=self.tree_version,
                                   list_version=self.list_version(), verify_fix=verify_fix,
                                   unlisted=unlisted, extension_lists=extension_lists) if lists else []
        found += check_extension_lists(extension_lists, values, maps, tree_version=self.tree_version,
                                       list_version=self.list_version(), verify_fix=verify_fix)
        return found + self.check_dependencies(lists, extension_lists)

    # --- module dependencies ------------------------------------------------------

    def source_symbols(self) -> SourceSymbols | None:
        """The names each object exports and uses, from the full kernel source when it is at hand (the
        tarball or folder given, not a Kconfig/Kbuild skeleton); None without one. Read once, cached."""
        if not self._symbols:
            from talosnb.kbuild.symbols import has_sources, load_symbols
            kernel = self.inputs.kernel
            assert kernel is not None, NEEDS_KERNEL_AND_PKGS
            source = kernel.origin if kernel.origin.is_file() else kernel.path if has_sources(kernel.path) else None
            found = load_symbols(source) if source is not None else None
            self._symbols.append(found if found is not None and found.exports else None)
        return self._symbols[0]

    def module_dependencies(self, arch: str, modules: Iterable[str] | None = None, *,
                            values: Mapping[str, str] | None = None) -> dict[str, list[Dependency]]:
        """Each module (of `modules`, default every one built as =m) and the modules it needs loaded first
        (analyses.dependencies): from the source's exports when at hand, else from Kbuild and Kconfig.
        ``values``: the config values to judge (default what config-ARCH holds now)."""
        from talosnb.analyses.dependencies import kconfig_selects, linked_by, module_dependencies
        symbols = self.source_symbols()
        kmap = self.kbuild_map(arch)
        selects = linked = None
        if symbols is None:
            tree = self.configs[arch].tree    # the selects are the parsed tree's: one reading per tree
            if self._selects.get(arch, (None,))[0] is not tree:
                self._selects[arch] = (tree, kconfig_selects(tree.kconf))
            selects = self._selects[arch][1]
        else:
            known = self._linked.get(arch)
            if known is None or known[0] is not kmap or known[1] is not symbols:
                self._linked[arch] = known = (kmap, symbols, linked_by(kmap, symbols.exports))
            linked = known[2]
        # read lazily: the dependencies look at the symbols of a few thousand Kbuild conditions, not
        # at every line of the config
        values = self.configs[arch].written_values() if values is None else values
        return module_dependencies(kmap, values, symbols=symbols, selects=selects, modules=modules, linked=linked)

    def check_dependencies(self, lists: Mapping[str, ModuleList], extension_lists: Sequence[ExtensionList], *,
                           values: Mapping[str, Mapping[str, str]] | None = None) -> list[Finding]:
        """A shipped module whose dependency ships in no list installed with it: an error each.
        ``values``: arch -> the config values to judge (default: every loaded arch as it holds now)."""
        from talosnb.analyses.dependencies import check_dependencies
        deps = {}
        for arch in (self.configs if values is None else values):
            shipped = set(lists[arch].entries) if arch in lists else set()
            shipped |= {e for ext in extension_lists if arch in ext.arches for e in ext.module_list.entries}
            if shipped:
                deps[arch] = self.module_dependencies(arch, shipped, values=None if values is None else values[arch])
        return check_dependencies(lists, extension_lists, deps)


@dataclass
class TakenToolchain:
    """The toolchain one arch's config took from another config: its file, the re-recorded answers,
    and the config lines that changed with them."""

    source: Path
    changes: list[tc.ProbeChange]
    lines: set[str]

    def as_dict(self) -> dict:
        return {"source": str(self.source), "toolchain": [c.as_dict() for c in self.changes],
                "lines": sorted(self.lines)}


def _config_arch(text: str) -> str | None:
    """The arch a config is for: its header (Linux/x86), else the arch symbols it sets."""
    head = dotconfig.header(text)
    if head is not None:
        return next((arch for arch in ARCHES if header_arch(arch) == head.arch), None)
    lines = set(text.splitlines())
    return next((arch for arch, names in ARCH_SYMBOLS.items()
                 if any(f"CONFIG_{name}=y" in lines for name in names)), None)


def _toolchain_sources(sources: Sequence[str | os.PathLike], arches: list[str]) -> dict[str, tuple[Path, str]]:
    """arch -> (file, text) for take_toolchain; every problem an InputError naming the file."""
    chosen: dict[str, tuple[Path, str]] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files = [folder / layout.config_name(arch) for folder in (path, layout.build_dir(path)) for arch in arches]
            found = [f for f in files if f.is_file()]
            if not found:
                raise InputError("no config-ARCH in this folder to take the toolchain from", where=str(path),
                                 hint=f"{opt('toolchain_from')} takes a config file, or a folder holding "
                                      "config-ARCH (a pkgs checkout)")
            candidates = found
        else:
            candidates = [path]
        for file in candidates:
            text, _snapshot = read_text(file, what="config to take the toolchain from")
            arch = _config_arch(text)
            if arch is None:
                if len(arches) != 1 or not text.strip():
                    raise InputError("can't tell which arch this config is for (no '# Linux/ARCH' header, "
                                     "no CONFIG_X86_64=y or CONFIG_ARM64=y)", where=str(file),
                                     hint=f"give a full .config (kernel/build/config-ARCH), or one {opt('arch')}")
                arch = arches[0]
            if arch not in arches:
                if path.is_dir():
                    continue
                raise InputError(f"this is a config for {arch}, which is not loaded", where=str(file),
                                 hint=f"give the config of {' and '.join(arches)}, or {opt('arch')} {arch}")
            if arch in chosen and chosen[arch][0] != file:
                raise InputError(f"two configs for {arch} to take the toolchain from: {chosen[arch][0]} and {file}",
                                 hint="give one per arch")
            chosen[arch] = (file, text)
    missing = [arch for arch in arches if arch not in chosen]
    if missing:
        raise InputError(f"no config for {', '.join(missing)} to take the toolchain from "
                         f"(given: {', '.join(str(s) for s in sources)})",
                         hint=f"give one config per loaded arch (repeat {opt('toolchain_from')}), a folder "
                              f"holding config-ARCH, or {opt('arch')} to load fewer arches")
    return chosen
