"""Moving one user's work to a new kernel tree: two trees at once, one report, one save path.

An :class:`Upgrade` holds the configs loaded twice: against the tree the checkout uses
now (a :class:`~talosnb.app.session.Session`, or none when it can't be had) and against
the new tree (a :class:`~talosnb.app.workspace.Workspace`, whose save path writes the
result). :meth:`Upgrade.report` works out everything the bump changes
(:func:`talosnb.analyses.upgrade.upgrade_report`); :meth:`Upgrade.write` applies it —
configs normalized on the new tree with the recorded toolchain, the accepted module-list
edits, the Pkgfile's ``linux_*`` lines — through :meth:`Workspace.save`, with its
refusals (a file changed on disk, the embedded sample). The lines of symbols the new tree
no longer defines are dropped by design there: the report lists every one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from talosnb.analyses import upgrade as analysis
from talosnb.analyses.upgrade import ModuleEdit, UpgradeReport
from talosnb.core import layout
from talosnb.core.arches import parse_arches
from talosnb.core.errors import InputError, RefusedError, opt
from talosnb.core.paths import ENV_EXTENSIONS, sample_dir
from talosnb.core.versions import RELEASE, parse_version
from talosnb.inputs.checkouts import PkgsCheckout
from talosnb.inputs.kernel_tree import (
    KernelTree,
    fetch_kernel_tarball,
    is_tarball,
    open_kernel_tree,
    tarball_hashes,
)
from talosnb.inputs.patches import PatchReport, patch_kernel_tree
from talosnb.inputs.resolve import input_paths

from .session import NEEDS_KERNEL_AND_PKGS, NoProgress, Session, Steps
from .workspace import SaveResult, Workspace

SAMPLE_NEXT = "linux-next"   # the embedded sample's next release (data/sample/linux-next)


@dataclass
class NewTree:
    """The tree to move to, and the hashes the Pkgfile will record for its tarball."""

    kernel: KernelTree
    tarball: Path | None = None
    sha256: str | None = None
    sha512: str | None = None
    hashes_from: str | None = None       # "tarball", "download", "given"
    why_unknown: str | None = None       # why the hashes are not known
    patches: PatchReport | None = None   # the pkgs patches on it (None: not applied, or none)
    note: str | None = None              # what the report says of the tree given (not kernel.org's tarball)


def kernel_org_top(version: str) -> str:
    """The top folder of kernel.org's tarball of `version`: linux-7.2.12, linux-6.12 (a .0 release has
    no sublevel in its name), linux-6.13-rc2."""
    major, minor, sub, extra = parse_version(version)
    return f"linux-{major}.{minor}" + (f".{sub}" if sub else "") + extra


def not_kernel_org(tarball: Path, kernel: KernelTree) -> str | None:
    """Why `tarball` is not kernel.org's linux-VERSION.tar.xz, the file the pkgs build downloads and
    the Pkgfile's hashes are of (None: its top folder is kernel.org's). A Debian linux-source package
    (linux-source-6.12/) or a Kconfig/Kbuild skeleton cut from one has a folder of its own."""
    want = kernel_org_top(kernel.version)
    top = kernel.path.name if kernel.extraction is not None and kernel.path != kernel.extraction else None
    if top in (want, f"linux-{kernel.version}"):       # the Pkgfile's linux_version names it either way
        return None
    has = f"its top folder is {top}/" if top else "it has no top folder"
    return (f"{tarball.name} is not kernel.org's linux-{kernel.version} tarball: {has}, not {want}/ (a Debian "
            "linux-source package or a Kconfig/Kbuild skeleton cut from one), so its hashes are not those of the "
            "tarball the pkgs build downloads")


def _other_tarball(kernel: KernelTree, tarball: Path, why: str, sha256: str | None, sha512: str | None) -> NewTree:
    """A tarball that is not kernel.org's: its hashes would break the build's download, so the Pkgfile
    takes the ones given, or keeps its own (and the write refuses, as with no hashes)."""
    if sha256 and sha512:
        return NewTree(kernel, tarball, sha256, sha512, "given",
                       note=f"{why}; the Pkgfile takes the {opt('sha256')}/{opt('sha512')} given")
    left = f"{why}; the Pkgfile's hashes are left as they are"
    return NewTree(kernel, tarball, sha256, sha512, None, left, note=f"{left} (see The bump)")


def open_new_tree(to_kernel_src: str | os.PathLike | None = None, to_version: str | None = None, *,
                  sha256: str | None = None, sha512: str | None = None, progress: bool = False) -> NewTree:
    """The new tree: a folder or tarball (its hashes computed, and checked against ``sha256``/
    ``sha512`` when given), or release ``to_version`` downloaded from kernel.org and verified
    against ``sha256`` (as the Pkgfile's own tree is)."""
    sha256 = sha256.lower() if sha256 else None
    sha512 = sha512.lower() if sha512 else None
    if to_version is not None and not RELEASE.match(to_version):
        raise InputError(f"not a kernel version: {to_version!r}", hint=f"{opt('to_version')} takes e.g. 7.2.12")
    if to_kernel_src is not None:
        kernel = open_kernel_tree(to_kernel_src, progress=progress)
        if to_version is not None and kernel.version != to_version:
            raise InputError(f"the new tree is {kernel.version}, not {to_version}", where=str(to_kernel_src),
                             hint=f"give the tree of {to_version}, or leave out {opt('to_version')}")
        if is_tarball(to_kernel_src):
            tarball = Path(to_kernel_src).expanduser().resolve()
            other = not_kernel_org(tarball, kernel)
            if other is not None:
                return _other_tarball(kernel, tarball, other, sha256, sha512)
            got256, got512 = tarball_hashes(tarball)
            for name, given, got in (("sha256", sha256, got256), ("sha512", sha512, got512)):
                if given is not None and given != got:
                    raise InputError(f"the tarball's {name} is {got}, not the {given} given", where=str(tarball),
                                     hint=f"check {opt(name)} (kernel.org's sha256sums.asc), or the tarball")
            return NewTree(kernel, tarball, got256, got512, "tarball")
        if sha256 and sha512:
            return NewTree(kernel, None, sha256, sha512, "given")
        return NewTree(kernel, None, sha256, sha512, None,
                       f"{opt('to_kernel_src')} is a folder, so there is no tarball to hash")
    if to_version is None:
        raise InputError("no new kernel tree given",
                         hint=f"pass {opt('to_kernel_src')} (a folder or tarball) or {opt('to_version')} "
                              f"with {opt('sha256')}")
    if not sha256:
        raise InputError(f"downloading linux-{to_version} needs its sha256 to verify it",
                         hint=f"pass {opt('sha256')} and {opt('sha512')} (kernel.org's sha256sums.asc), or the "
                              f"tarball as {opt('to_kernel_src')}")
    tarball = fetch_kernel_tarball(to_version, sha256, progress=progress)
    got256, got512 = tarball_hashes(tarball)
    if sha512 is not None and sha512 != got512:
        raise InputError(f"the downloaded linux-{to_version}.tar.xz has sha512 {got512}, not the {sha512} given",
                         where=str(tarball), hint=f"check {opt('sha512')}")
    kernel = open_kernel_tree(tarball, progress=progress)
    return NewTree(kernel, tarball, got256, got512, "download")


def missing_caches(trees: Iterable[Path], arches: Iterable[str], *, toolchain: str = "recorded"
                   ) -> list[tuple[str, Path, str]]:
    """(kind, tree, arch) of every on-disk cache (parsed Kconfig, Kbuild map) not there yet."""
    from talosnb.core.arches import srcarch
    from talosnb.kbuild.cache import cache_path
    from talosnb.kconfig.tree import is_cached

    arches = list(arches)
    jobs = []
    for tree in dict.fromkeys(Path(t) for t in trees):
        for one in arches:
            if not cache_path(tree, srcarch(one)).is_file():
                jobs.append(("kbuild", tree, one))
            if toolchain == "recorded" and not is_cached(tree, one):
                jobs.append(("kconfig", tree, one))
    return jobs


def parallel_jobs(jobs: list, workers: int | None = None) -> bool:
    """Whether :func:`warm_caches` shares these jobs out (two or more, and two cores)."""
    return len(jobs) >= 2 and (workers or min(2, os.cpu_count() or 1)) >= 2


def warm_caches(jobs: list[tuple[str, Path, str]], steps: Steps, *, workers: int | None = None) -> int:
    """Fill the caches ``jobs`` names (:func:`missing_caches`) in worker processes (``python -m
    talosnb.app.warm``), two at a time: two trees on two cores take the time of one. Returns how
    many ran. A job that fails leaves its cache empty, and the load after it says why."""
    import subprocess
    import sys

    import talosnb

    workers = workers or min(2, os.cpu_count() or 1)
    if not parallel_jobs(jobs, workers):
        return 0     # nothing to share out: the loads after this do it in this process
    env = dict(os.environ)
    package_root = str(Path(talosnb.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    running: list[tuple[subprocess.Popen, str, Path, str]]   # process, and the job it runs
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < workers:
            kind, tree, one = pending.pop(0)
            process = subprocess.Popen([sys.executable, "-m", "talosnb.app.warm", kind, str(tree), one], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            running.append((process, kind, tree, one))
        process, kind, tree, one = running.pop(0)
        process.wait()
        steps.step(f"{'parsed the Kconfig' if kind == 'kconfig' else 'built the Kbuild map'} of {tree.name} "
                   f"for {one}")
    return len(jobs)


class _Forward:
    """Steps of a Session.open inside the upgrade's own sequence (its start is the upgrade's)."""

    def __init__(self, steps: Steps) -> None:
        self.steps = steps

    def start(self, total: int) -> None:
        pass

    def step(self, text: str) -> None:
        self.steps.step(text)

    def done(self, text: str) -> None:
        pass


@dataclass
class Upgrade:
    """The configs on the current tree (``current``, None without it) and on the new one
    (``workspace``: module lists, Kbuild maps and the save path), and what could not be had."""

    workspace: Workspace
    current: Session | None
    new_tree: NewTree
    not_computed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _report: tuple[int, UpgradeReport] | None = field(default=None, repr=False)

    # --- opening -----------------------------------------------------------------

    @classmethod
    def open(cls, pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None, kernel_src: str | os.PathLike | None = None, *, to_kernel_src: str | os.PathLike | None = None, to_version: str | None = None,
             sha256: str | None = None, sha512: str | None = None, current_tree: bool = True,
             arch: str | None = "all", toolchain: str = "recorded", scratch: bool | None = None,
             patches: bool = True, steps: Steps | None = None, progress: bool = False,
             extensions: str | os.PathLike | None = None) -> Upgrade:
        """Open the checkouts on both trees.

        The current tree is ``kernel_src``, else the Pkgfile's download (verified, cached);
        with ``current_tree=False``, or when it can't be had offline, the report is made from
        the configs alone and says which parts it could not compute. With no inputs at all,
        the embedded sample moves from ``data/sample/linux`` to ``data/sample/linux-next``.
        ``scratch``: work on a copy of the config, module-list and Pkgfile files (None: only
        for the embedded sample), so a save never touches the originals. ``patches``: read both
        trees with the pkgs checkout's kernel/build/patches applied, as the build does; on the
        new tree a patch that fails is reported (and left out), not an error. ``extensions``: a
        siderolabs/extensions checkout (default $TALOSNB_EXTENSIONS; the sample's with the sample)
        whose lists are moved to the new tree too.
        """
        steps = steps or NoProgress()
        pkgs, talos, kernel_src, sample = input_paths(pkgs, talos, kernel_src)
        if sample and to_kernel_src is None and to_version is None:
            to_kernel_src = sample_dir() / SAMPLE_NEXT
        extensions = _sample_extensions(extensions) if sample else extensions
        names = parse_arches(arch)
        not_computed: list[str] = []
        new_tree = open_new_tree(to_kernel_src, to_version, sha256=sha256, sha512=sha512, progress=progress)
        notes: list[str] = list(filter(None, [new_tree.note]))
        patches_dir = PkgsCheckout(pkgs).patches_dir if pkgs is not None else None
        new_kernel = new_tree.kernel
        if patches and patches_dir is not None:
            new_kernel, new_tree.patches = patch_kernel_tree(new_tree.kernel, patches_dir)
            if new_tree.patches.failed:
                notes.append(f"{len(new_tree.patches.failed)} pkgs patch(es) fail on {new_tree.kernel.version} "
                             "(see Patches): the configs are read on the new tree without any patch")
                new_kernel = new_tree.kernel
        elif not patches:
            not_computed.append("patches: not applied (patches turned off)")
        current_src = kernel_src
        if current_tree and current_src is None and pkgs is not None:
            # the Pkgfile's tarball, as the build downloads it: offline, the report goes without it
            info = PkgsCheckout(pkgs).pkgfile_info()
            try:
                current_src = fetch_kernel_tarball(info.linux_version, info.linux_sha256, progress=progress)
            except InputError as e:
                notes.append(f"the current tree (linux-{info.linux_version}, the Pkgfile's download) can't be "
                             f"had: {e.message}")
                current_tree = False
        trees = [new_kernel.path]
        if current_tree and current_src is not None:
            current_kernel = open_kernel_tree(current_src, progress=progress)
            if patches and patches_dir is not None:
                current_kernel, _ = patch_kernel_tree(current_kernel, patches_dir)
            trees.append(current_kernel.path)
        jobs = missing_caches(trees, names, toolchain=toolchain)
        # what the loads below report: Session.open's steps (inputs, a tree and a Kbuild map per
        # arch), twice with the current tree, the warm jobs, and the report (the caller's)
        sessions = 1 + current_tree
        steps.start(len(jobs) * parallel_jobs(jobs) + sessions * (1 + 2 * len(names)) + current_tree + 1)
        warm_caches(jobs, steps)
        current = None
        if current_tree:
            steps.step("opening the current kernel tree")
            current = Session.open(pkgs, talos, current_src, arch=arch, toolchain=toolchain, progress=progress,
                                   steps=_Forward(steps), kbuild=True, patches=patches)
        copy = bool(scratch) if scratch is not None else sample
        # the patches once more on the new tree when they all apply (cached: a lookup now)
        new = Session.open(pkgs, talos, new_tree.kernel.origin, arch=arch, toolchain=toolchain, progress=progress,
                           steps=_Forward(steps), scratch=copy, kbuild=True, extensions=extensions,
                           patches=patches and not (new_tree.patches is not None and new_tree.patches.failed))
        new.inputs.sample = sample   # opened by path, so that the new tree is the one named
        workspace = Workspace(new, remove_scratch=new.scratch is not None)
        if current is None:
            not_computed += [
                ("which lines the config sets (a visible symbol's value) and which Kconfig derives: without the "
                 "current tree every line the new tree changes is listed, with 'before' values from the config "
                 "alone"),
                "whether a line changes on the current tree too",
                ("renamed, split and gone module-list entries (which symbol built a listed .ko) and the modules "
                 "newly built as =m: entries missing from the new tree are listed as unknown"),
            ]
        if new.inputs.talos is None:
            not_computed.append("module lists: no talos checkout (hack/modules-ARCH.txt)")
        return cls(workspace, current, new_tree, not_computed, notes)

    # --- what it changes ----------------------------------------------------------

    @property
    def arches(self) -> list[str]:
        return self.workspace.arches

    @property
    def from_version(self) -> str | None:
        return self.current.tree_version if self.current is not None else None

    @property
    def to_version(self) -> str:
        return self.workspace.session.tree_version

    def report(self, *, fixes: bool = True, fix_seconds: float = 1.0, refresh: bool = False) -> UpgradeReport:
        """The report (computed once per state of the workspace)."""
        if self._report is not None and not refresh and self._report[0] == self.workspace.version:
            return self._report[1]
        session = self.workspace.session
        new_kbuild = {arch: self.workspace.kbuild_map(arch) for arch in self.arches}
        old = old_kbuild = None
        if self.current is not None:
            old = {arch: self.current.configs[arch] for arch in self.arches}
            old_kbuild = {arch: self.current.kbuild_map(arch) for arch in self.arches}
        lists = {arch: self.workspace.module_lists[arch] for arch in self.arches
                 if arch in self.workspace.module_lists}
        pkgs, talos = session.inputs.pkgs, session.inputs.talos
        assert pkgs is not None, NEEDS_KERNEL_AND_PKGS
        report = analysis.upgrade_report(
            session.configs, old=old, new_kbuild=new_kbuild, old_kbuild=old_kbuild, module_lists=lists or None,
            patches=self._patches(), bump_info=self._bump(), not_computed=self.not_computed,
            notes=self.notes + self._version_notes(), fixes=fixes, fix_seconds=fix_seconds,
            editors=self.workspace.editors,
            config_labels={arch: _relative(session.configs[arch].source, pkgs.path) for arch in self.arches},
            list_labels={arch: _relative(lists[arch].name, talos.path) for arch in lists} if talos is not None else {},
            inputs=self._inputs(), extension_lists=self.workspace.extension_lists)
        self._report = (self.workspace.version, report)
        return report

    def _inputs(self) -> list[str]:
        """What was read, in words (the embedded sample is not named by its scratch folder)."""
        session = self.workspace.session
        if session.inputs.sample:
            out = ["inputs: the embedded sample (data/sample)"]
        else:
            assert session.inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
            out = [f"pkgs: {session.inputs.pkgs.path}"]
            if session.inputs.talos is not None:
                out.append(f"talos: {session.inputs.talos.path}")
        current = "none"
        if self.current is not None:
            assert self.current.inputs.kernel is not None, NEEDS_KERNEL_AND_PKGS
            current = f"{self.current.tree_version} ({self.current.inputs.kernel.origin.name})"
        out.append(f"current tree: {current}; new tree: {self.to_version} ({self.new_tree.kernel.origin.name})")
        return out

    def _version_notes(self) -> list[str]:
        session = self.workspace.session
        version = session.list_version()
        if version and self.from_version and version != self.from_version:
            return [f"the configs were made for {version}; the current tree is {self.from_version}"]
        return []

    def _patches(self) -> PatchReport | None:
        """The pkgs patches on the new tree (None when they were not applied)."""
        report = self.new_tree.patches
        return report if report is not None and report.patches else None

    def _bump(self) -> analysis.Bump:
        inputs = self.workspace.session.inputs
        assert inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
        path = inputs.pkgs.pkgfile
        text = path.read_text(encoding="utf-8")
        tree = self.new_tree
        return analysis.bump(str(path), text, self.to_version, sha256=tree.sha256, sha512=tree.sha512,
                             hashes_from=tree.hashes_from, why_unknown=tree.why_unknown,
                             label=_relative(str(path), inputs.pkgs.path))

    # --- writing ---------------------------------------------------------------------

    def apply(self, edits: Iterable[ModuleEdit] | None = None, *, accepted: Iterable[str] | None = None,
              report: UpgradeReport | None = None) -> list[ModuleEdit]:
        """Stage what a write writes: the module-list edits (those ``accepted`` by key, default
        all), each through :meth:`Workspace.edit_modules`, and the Pkgfile bump. The configs need
        nothing: loaded against the new tree, they are written as it normalizes them. Applying
        twice changes nothing more."""
        report = report or self.report()
        done = self._chosen(report, edits, accepted)
        for arch in dict.fromkeys(one.arch for one in done if one.list_id is None):
            # one call per arch and action: each checks the whole list once
            listed = set(self.workspace.module_list(arch).entries)
            ours = [one for one in done if one.arch == arch and one.list_id is None]
            gone = list(dict.fromkeys(e for one in ours for e in one.remove if e in listed))
            if gone:
                self.workspace.edit_modules("remove", gone, [arch])
            listed = set(self.workspace.module_list(arch).entries)
            new = list(dict.fromkeys(e for one in ours for e in one.add if e not in listed))
            if new:
                self.workspace.edit_modules("add", new, [arch])
        for list_id, arch in dict.fromkeys((one.list_id, one.arch) for one in done if one.list_id is not None):
            assert list_id is not None   # filtered above
            ours = [one for one in done if one.list_id == list_id and one.arch == arch]
            module_list = self.workspace.extension_list(list_id, arch)[0].module_list
            gone = list(dict.fromkeys(e for one in ours for e in one.remove if e in module_list.entries))
            if gone:
                self.workspace.edit_modules("remove", gone, [arch], list_id=list_id)
            new = list(dict.fromkeys(e for one in ours for e in one.add if e not in module_list.entries))
            if new:
                self.workspace.edit_modules("add", new, [arch], list_id=list_id)
        bump = report.bump
        if bump is not None and bump.complete:
            assert bump.text is not None   # a complete bump has its text
            self.workspace.stage_file(layout.PKGFILE, Path(bump.path), bump.text, label=f"pkgs: {layout.PKGFILE}")
        return done

    @staticmethod
    def _chosen(report: UpgradeReport, edits: Iterable[ModuleEdit] | None, accepted: Iterable[str] | None
                ) -> list[ModuleEdit]:
        chosen = set(accepted) if accepted is not None else None
        return [one for one in (report.edits() if edits is None else edits)
                if chosen is None or one.key in chosen]

    def preview(self, *, accepted: Iterable[str] | None = None, report: UpgradeReport | None = None) -> list:
        """What :meth:`write` would write (Workspace.pending's files, with the accepted module-list
        edits and the Pkgfile bump), computed on copies: nothing of the workspace changes."""
        from talosnb.analyses.upgrade import proposed_list
        from talosnb.app.workspace import PendingFile

        report = report or self.report()
        done = self._chosen(report, None, accepted)
        out = []
        for pending in self.workspace.pending():
            if pending.kind == "modules":
                proposed = proposed_list(self.workspace.module_list(pending.arch), done,
                                         self.workspace.kbuild_map(pending.arch))
                pending = PendingFile(pending.name, pending.label, pending.path, pending.kind, pending.arch,
                                      proposed.changed(), proposed.diff().splitlines())
            elif pending.kind == "extension":
                ext = next(e for e in self.workspace.extension_lists if e.file_name == pending.name)
                proposed = proposed_list(ext.module_list, done, self.workspace.kbuild_map(ext.module_list.arch),
                                         list_id=ext.list_id)
                pending = PendingFile(pending.name, pending.label, pending.path, pending.kind, pending.arch,
                                      proposed.changed(), proposed.diff().splitlines())
            out.append(pending)
        bump = report.bump
        if bump is not None and bump.complete and layout.PKGFILE not in self.workspace.staged:
            import difflib
            assert bump.text is not None   # a complete bump has its text
            original = Path(bump.path).read_text(encoding="utf-8")
            lines = [line.rstrip("\n") for line in difflib.unified_diff(
                original.splitlines(keepends=True), bump.text.splitlines(keepends=True),
                fromfile="a/Pkgfile", tofile="b/Pkgfile")]
            out.append(PendingFile(layout.PKGFILE, f"pkgs: {layout.PKGFILE}", Path(bump.path), "file", "all", bool(lines), lines))
        return out

    def write(self, *, accepted: Iterable[str] | None = None, force: bool = False,
              report: UpgradeReport | None = None) -> SaveResult:
        """Apply (:meth:`apply`) and save every changed file at once (:meth:`Workspace.save`):
        nothing is written when one is refused. Refused (exit 1) when the Pkgfile's hashes for
        the new tree are unknown, since a bumped linux_version with the old hashes fails the build."""
        report = report or self.report()
        bump = report.bump
        if bump is not None and not bump.complete:
            raise RefusedError(f"the Pkgfile can't be bumped to {self.to_version}: {bump.why_unknown}; nothing "
                               "was written",
                               hint=f"pass {opt('sha256')} and {opt('sha512')}, or the tarball as "
                                    f"{opt('to_kernel_src')}")
        self.apply(accepted=accepted, report=report)
        # the lines of symbols the new tree doesn't define go (the report lists each one), and a move
        # to another series is what an upgrade is for (the series guard stops it everywhere else)
        return self.workspace.save(force=force, allow_drop=True, allow_series_change=True)


def _sample_extensions(extensions: str | os.PathLike | None) -> str | os.PathLike | None:
    """The extensions checkout with the embedded sample: the one given, else $TALOSNB_EXTENSIONS's,
    else the sample's own."""
    return extensions or os.environ.get(ENV_EXTENSIONS) or sample_dir() / "extensions"


def _relative(path: str | os.PathLike, root: Path) -> str:
    """``path`` relative to its checkout (kernel/build/config-amd64, hack/modules-arm64.txt)."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
