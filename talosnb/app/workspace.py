"""The Workspace: one user's loaded work and every rule about what is refused and what is written.

A :class:`Workspace` holds one loaded :class:`~talosnb.app.session.Session`, the
module lists, the Kbuild maps, one :class:`~talosnb.analyses.edit.Editor` per arch
(each config's edits and their undo stack) and one undo history. Every action the command
line and the widgets offer is a plain method here (``set``, ``merge``,
``apply_fix``, ``undo``, ``edit_modules``, ``pending``, ``save``, ...); each one
applies the rules of :mod:`talosnb.app.guards` before it changes or writes
anything, so both faces refuse the same things. Listeners registered with
:meth:`Workspace.on_change` hear about each change, which is how an edit in one
view shows up in the others.

Edits happen in memory; :meth:`Workspace.save` is the one way files are written:
every file to write is checked first (dropped lines, the embedded sample,
files changed on disk), then all of them are written, or none.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import posixpath
import shutil
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import kconfiglib

from talosnb.analyses import edit
from talosnb.analyses.modules import (
    TALOS_LIST,
    ExtensionList,
    ListEdit,
    ModuleList,
    edit_module_list,
    modules_for_symbols,
)
from talosnb.core import dotconfig, layout
from talosnb.core.arches import PLATFORMS
from talosnb.core.dotconfig import read_values
from talosnb.core.errors import InputError, RefusedError, opt
from talosnb.core.fileio import Snapshot, Transaction, digest, read_text
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import Change, config_diff, line_endings_change, ordered

from . import guards
from .gates import GateKeeper, GuardResult
from .plan import Options, Plan, Request, Verdict
from .session import NEEDS_KERNEL_AND_PKGS, Session, Steps
from .workloads import (
    RequirementsReport,
    WorkloadVerdict,
    gate_choice,
    guard_change,
    guard_choice,
    requirements_report,
)
from .workloads import gate_results as workloads_gate

if TYPE_CHECKING:
    import os

    import pandas as pd

    from talosnb.analyses.gates import GateReport, HardeningCheck
    from talosnb.analyses.menu import MenuTree
    from talosnb.analyses.search import SearchIndex
    from talosnb.analyses.symbol import SymbolPanel
    from talosnb.kbuild import KbuildMap

_T = TypeVar("_T")

# the latest Workspace over each Session (by id; a workspace holds its session, so the id is its own
# while the entry lives): a second workspace over a session edits through the same editors
_WORKSPACES: weakref.WeakValueDictionary[int, Workspace] = weakref.WeakValueDictionary()


@dataclass
class PendingFile:
    """One file a save would write: its diff against what was loaded."""

    name: str            # config-amd64, modules-arm64.txt
    label: str           # where it lives, relative to its checkout: "pkgs: kernel/build/config-amd64"
    path: Path
    kind: str            # "config", "modules", "extension" (an extension's list), or "file" (a staged file:
                         # the Pkgfile of an upgrade)
    arch: str
    changed: bool
    lines: list[str]     # diffconfig lines (configs) or a unified diff (module lists)
    dropped: list[str] = field(default_factory=list)   # config lines for symbols the tree doesn't define
    content: str = field(default="", repr=False)       # what saving writes


@dataclass
class StagedFile:
    """A whole new text for a file of a checkout (the Pkgfile, bumped by an upgrade), written by
    :meth:`Workspace.save` with the configs and lists, under the same rules."""

    name: str
    label: str
    snapshot: Snapshot
    original: str
    text: str

    def diff(self) -> list[str]:
        import difflib
        return [line.rstrip("\n") for line in difflib.unified_diff(
            self.original.splitlines(keepends=True), self.text.splitlines(keepends=True),
            fromfile=f"a/{self.snapshot.path.name}", tofile=f"b/{self.snapshot.path.name}")]


@dataclass
class SaveResult:
    """What a save wrote (each file with where it lives) and what to run next."""

    written: list[PendingFile]
    command: str
    scratch: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"written": [{"name": p.name, "label": p.label, "path": str(p.path)} for p in self.written],
                "scratch": str(self.scratch) if self.scratch else None, "command": self.command}


@dataclass(frozen=True)
class Overridden:
    """A value the user asked for in an earlier step that a later change replaces: the later change
    did not ask for it (a verified fix, or a cascade re-enabling a menu, gives it its default)."""

    arch: str
    symbol: str
    wanted: str             # the value the user set
    now: str | None         # what the later change makes it (None: no line)
    step: str               # the earlier step that set it ("BLK_DEV_LOOP=m")
    by: str                 # the change that replaces it ("BLK_DEV=y VIRTIO_BLK=m")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def overridden_values(history: Sequence[HistoryEntry], requested: Mapping[str, Sequence[edit.Assignment]],
                      cascades: Mapping[str, Sequence[edit.CascadeChange]], by: str) -> list[Overridden]:
    """The values the user set in an earlier step (``history``, oldest first: its latest request for
    a symbol counts) that a change not asking for them gives another value (each arch's cascade)."""
    out = []
    for arch, cascade in cascades.items():
        asked = {a.symbol for a in requested.get(arch, ())}
        for c in cascade:
            if c.symbol in asked:
                continue
            step = next((e for e in reversed(history) if c.symbol in e.requested.get(arch, {})), None)
            if step is not None and c.new != step.requested[arch][c.symbol]:
                out.append(Overridden(arch, c.symbol, step.requested[arch][c.symbol], c.new, step.what, by))
    return out


@dataclass
class HistoryEntry:
    """One undoable action: a config change on some arches, or a module-list edit on one arch."""

    kind: str                     # "config" or "modules"
    arches: list[str]
    what: str                     # for messages: "DUMMY=m", "add kernel/drivers/net/dummy.ko"
    action: str | None = None     # modules: "add" or "remove"
    entries: list[str] = field(default_factory=list)
    also: list[HistoryEntry] = field(default_factory=list)   # undone with it (set's list additions)
    list_id: str | None = None    # modules: an extension's list (extensions/NAME); None: talos's
    requested: dict[str, dict[str, str]] = field(default_factory=dict)   # config: arch -> {symbol: value asked}
    overridden: list[Overridden] = field(default_factory=list)          # config: earlier values it replaced


@dataclass
class EditOutcome(Mapping):
    """What a set or merge did on each arch (a mapping arch -> ChangeSet), and what stopped it.

    ``blocked`` says why nothing was applied (an assignment that can't take effect,
    the module-list guard); then every arch is as it was.
    """

    mode: str                                   # "set" or "merge"
    changes: dict[str, edit.ChangeSet]
    tree_version: str
    blocked: str | None = None
    module_list_errors: list[dict] = field(default_factory=list)   # the new errors a set would cause
    modules: dict[str, dict] = field(default_factory=dict)   # arch -> {"built": [.ko], "added": [.ko]}
    drift: dict[str, list[Change]] = field(default_factory=dict)   # lines writing also normalizes
    fix_notes: list[str] = field(default_factory=list)
    unknown: list[edit.Assignment] = field(default_factory=list)   # merge: symbols no arch defines
    redefined: list[str] = field(default_factory=list)             # merge: values given twice
    gates: GuardResult | None = None       # build gates the change makes fail (app/gates.py)
    overridden: list[Overridden] = field(default_factory=list)   # values set earlier that it replaces
    workloads: WorkloadVerdict | None = None   # workload requirements the change breaks (app/workloads.py)

    def __getitem__(self, arch: str) -> edit.ChangeSet:
        return self.changes[arch]

    def __iter__(self) -> Iterator[str]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    @property
    def refused(self) -> bool:
        return any(change.refusals for change in self.changes.values()) and self.mode == "set"

    @property
    def applied(self) -> bool:
        return self.blocked is None and any(c.applied and c.cascade for c in self.changes.values())

    @property
    def unmet(self) -> dict[str, list[edit.Refusal]]:
        return {arch: list(change.refusals) for arch, change in self.changes.items()}

    def changed_arches(self) -> list[str]:
        return [arch for arch, c in self.changes.items() if self.blocked is None and c.applied and c.cascade]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"changes": {arch: c.as_dict() for arch, c in self.changes.items()},
                               "blocked": self.blocked,
                               "gates": self.gates.as_dict() if self.gates is not None else None,
                               "workloads": self.workloads.as_dict() if self.workloads is not None else None}
        if self.mode == "set":
            out["overridden"] = [o.as_dict() for o in self.overridden]
            out.update({"refused": self.refused, "module_list_errors": self.module_list_errors,
                        "modules": self.modules,
                        "normalized": {arch: [str(c) for c in d] for arch, d in self.drift.items()}})
        else:
            out.update({"unmet": {arch: [r.as_dict() for r in rs] for arch, rs in self.unmet.items()},
                        "unknown": [{"symbol": a.symbol, "where": a.where} for a in self.unknown],
                        "redefined": self.redefined})
        return out


def _drift_under(config: Config, after_text: str, cascade: Sequence[edit.CascadeChange]) -> list[Change]:
    """What writing the config changes beyond a change (its drift), read from the text with the change
    and the change's cascade: a line the change didn't touch is in both texts alike; a line it did
    touch was, before it, the cascade's old value."""
    touched = {c.symbol: c for c in cascade}
    out = [c for c in config_diff(config.original_text, after_text) if c.symbol not in touched]
    original = read_values(config.original_text)
    for name, c in touched.items():
        was = c.old
        if was is not None and config.kconf.syms[name].orig_type is kconfiglib.STRING:
            was = dotconfig.quote(was)
        if original.get(name) != was:
            out.append(Change(name, original.get(name), was))
    return ordered(out)


def _given(text: str) -> Callable[[], str]:
    return lambda: text


def symbol_modules_of(session: Session, name: str, module_lists: Mapping[str, ModuleList],
                      ) -> dict[str, list[dict[str, str | None]]]:
    """:meth:`Workspace.symbol_modules` for a session (what `talosnb get` shows): only a tristate
    symbol can make a module, so for the others no Kbuild map is loaded."""
    from kconfiglib import TRISTATE

    from talosnb.analyses.modules import symbol_modules

    name = name.strip().removeprefix("CONFIG_")
    out = {}
    for arch, config in session.configs.items():
        sym = config.kconf.syms.get(name)
        if sym is None or not sym.nodes or sym.orig_type is not TRISTATE:
            continue
        out[arch] = symbol_modules(session.kbuild_map(arch), config.written_values(), name, module_lists.get(arch))
    return out


def _relative(where: str, roots: Sequence[str]) -> str:
    for root in roots:
        where = where.replace(root, "")
    return where


def redefinitions(assignments: Sequence[edit.Assignment]) -> list[str]:
    """merge_config.sh's 'Value of X is redefined by fragment' notes."""
    seen: dict[str, edit.Assignment] = {}
    out = []
    for a in assignments:
        first = seen.get(a.symbol)
        if first is not None and first.value != a.value:
            out.append(f"{a.where}: CONFIG_{a.symbol}={a.value} redefines {first.value} from {first.where}")
        seen[a.symbol] = a
    return out


class Workspace:
    """A Session plus module lists, Kbuild maps, the editors and one undo history, shared by the views."""

    def __init__(self, session: Session, *, remove_scratch: bool = False,
                 hardening_checker: str | None = None) -> None:
        self.session = session
        self.scratch = session.scratch
        # arch -> the Editor of its config: every edit of the config goes through it, and it keeps
        # the config's undo stack. One editor per config, which keeps the written values up to date
        # from the invalidations it reads: another Workspace over the same session shares them.
        other = _WORKSPACES.get(id(session))
        self.editors: dict[str, edit.Editor] = edit.editors_of(
            session.configs, other.editors if other is not None and other.session is session else None)
        _WORKSPACES[id(session)] = self
        # the build gates and their guard; hardening_checker: a kernel-hardening-checker folder or
        # tarball to use instead of the Pkgfile's kspp_ref
        self.gate_keeper = GateKeeper(session, self.editors, hardening_checker=hardening_checker)
        # the workloads whose kernel requirements set/merge watch (None: every profile's)
        self.workloads: list[str] | None = None
        self._resolved_requirements: dict = {}           # per arch and requirement set: resolved once
        if self.scratch is not None and remove_scratch:   # when the workspace goes away, or Python exits
            remove = weakref.finalize(self, shutil.rmtree, str(self.scratch), True)
            # and first thing at exit: weakref's own exit hook runs after those registered before
            # it (a Jupyter kernel's clears its namespaces, seconds with two kernel trees in them,
            # and a kernel that takes over 5 s to exit is killed, leaving the copy behind)
            atexit.register(remove)
        self.version = 0                      # bumped on every change; caches key on it
        self.history: list[HistoryEntry] = []
        self.module_lists = {}
        # the extensions checkout's lists (each ships on its arches, on top of the base lists)
        self.extension_lists = session.load_extension_lists()
        self.staged: dict[str, StagedFile] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._cache: dict[str, tuple[int, object]] = {}
        self._drift: dict[str, tuple[tuple, list]] = {}
        self._history_state: dict[str, object] = {}      # the pkgs history index, built on first use
        self._open: Plan | None = None                   # a proposed plan holding its state on trial
        self._search: tuple[tuple, SearchIndex] | None = None   # (the trees and maps it reads, the index)
        talos = session.inputs.talos
        if talos is not None:
            # a checkout may lack one arch's list: commands that need it say so (module_list())
            for arch in session.configs:
                path = layout.module_list_path(talos.path, arch)
                if path.exists():
                    self.module_lists[arch] = ModuleList.load(path, arch)

    # --- opening ---------------------------------------------------------------

    @classmethod
    def open(cls, pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None, kernel_src: str | os.PathLike | None = None, arch: str | None = "all", *,
             toolchain: str = "recorded", kbuild: bool = True, scratch: bool = False,
             steps: Steps | None = None, progress: bool = False, patches: bool = True,
             hardening_checker: str | None = None, llvm: str | None = None,
             toolchain_from: Sequence[str] = (), extensions: str | os.PathLike | None = None) -> Workspace:
        """Load everything (:meth:`Session.open`), the Kbuild maps too unless ``kbuild=False``.

        Empty arguments mean the embedded sample, which is always worked on
        through a scratch copy of its config and module-list files;
        ``scratch=True`` copies real checkouts the same way, so saving never
        touches them. The scratch folder is removed when the workspace goes away
        (or Python exits). ``patches=False`` reads the kernel tree without the pkgs
        checkout's kernel/build/patches (applied by default, as the build does).
        ``hardening_checker`` is a kernel-hardening-checker folder or tarball for the
        hardening gate (default: the Pkgfile's kspp_ref, downloaded). ``llvm`` (host mode) and
        ``toolchain_from`` (recorded mode): as :meth:`Session.open` takes them.
        """
        session = Session.open(pkgs, talos, kernel_src, arch=arch, toolchain=toolchain, kbuild=kbuild,
                               scratch=True if scratch else None, steps=steps, progress=progress,
                               patches=patches, llvm=llvm, toolchain_from=toolchain_from, extensions=extensions)
        ws = cls(session, remove_scratch=session.scratch is not None, hardening_checker=hardening_checker)
        return ws

    @classmethod
    def of(cls, session_or_workspace: Session | Workspace) -> Workspace:
        """The workspace given, or a new one over the session given (editing through the editors
        of the session's latest workspace, if it has one)."""
        if isinstance(session_or_workspace, Workspace):
            return session_or_workspace
        return cls(session_or_workspace)

    @property
    def arches(self) -> list[str]:
        return list(self.session.configs)

    @property
    def configs(self) -> dict[str, Config]:
        return self.session.configs

    # --- change notification and caches -------------------------------------

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(kind)`` after every change ("config", "modules", "undo", "saved")."""
        self._listeners.append(callback)

    def _changed(self, kind: str, *, texts: Mapping[str, str] | None = None) -> None:
        self.version += 1
        for arch, text in (texts or {}).items():
            self._cache[f"text-{arch}"] = (self.version, text)
        for callback in list(self._listeners):
            callback(kind)

    def _cached(self, key: str, make: Callable[[], _T]) -> _T:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return cast(_T, hit[1])   # stored by make() under this key
        value = make()
        self._cache[key] = (self.version, value)
        return value

    # --- Kbuild maps -------------------------------------------------------------

    def kbuild_map(self, arch: str) -> KbuildMap:
        return self.session.kbuild_map(arch)

    @property
    def kbuild_maps(self) -> dict:
        return {arch: self.kbuild_map(arch) for arch in self.arches}

    # --- explore & toggle ----------------------------------------------------

    def search(self, text: str, limit: int | None = 50) -> pd.DataFrame:
        """talosnb.search over the loaded arches (module names too, once the Kbuild maps are loaded):
        every word in any order against name, prompt, help and module; ``where`` says which matched."""
        from talosnb.analyses.search import frame, live_values

        return frame(self.search_index().find(text, limit=limit, values=live_values(self.configs)))

    def search_index(self) -> SearchIndex:
        """The search index of the loaded trees (and Kbuild maps), made once: edits change values,
        which search reads live, not what it searches."""
        from talosnb.analyses.search import SearchIndex

        maps = self.session.loaded_kbuild_maps()
        key = (tuple(id(c.tree) for c in self.configs.values()), tuple(sorted(maps)))
        if self._search is None or self._search[0] != key:
            self._search = (key, SearchIndex.build(self.configs, maps or None))
        return self._search[1]

    def written(self, arch: str) -> dict[str, str]:
        """What config-ARCH holds now (symbol -> value, 'n' for 'is not set'), from the arch's editor,
        which recomputes only what edits invalidated (the module-list guard reads it on every set)."""
        return self.editors[arch].written()

    def why(self, name: str, value: str | None = None, *, fix_budget: int = 200,
            ) -> dict[str, edit.WhyAnswer | None]:
        """Per arch, where the symbol's value comes from (None: the arch doesn't define it); with
        `value`, the dry run of setting it: what else would change, or why it can't and a verified
        fix (`talosnb why`)."""
        return edit.why_symbol(self.editors, name.strip(), value, fix_budget=fix_budget)

    def symbol_view(self, name: str) -> dict:
        """What the symbol panel shows: symbol_info of the first arch defining it, plus per arch
        the value, where it comes from, the assignable values (None where the arch lacks it)."""
        name = name.strip().removeprefix("CONFIG_")
        per_arch: dict[str, dict | None] = {}
        base = None
        for arch, config in self.configs.items():
            if not config.has_symbol(name) or config.kconf.syms[name] in config.transitional:
                per_arch[arch] = None
                continue
            answer = self.editors[arch].why(name)
            info = {**answer.info, "reason": answer.reason}
            per_arch[arch] = info
            base = base or info
        if base is None:
            config = next(iter(self.configs.values()))
            config.symbol(name)   # raises, with "did you mean"
            raise config.transitional_error(name)   # still here: transitional on every arch
        return {**base, "arches": per_arch}

    def symbol_panel(self, name: str) -> SymbolPanel:
        """The symbol panel: every fact about a symbol per arch side by side (analyses.symbol)."""
        from talosnb.analyses.symbol import symbol_panel

        return symbol_panel(self.configs, name, modules=self.symbol_modules(name))

    def symbol_modules(self, name: str) -> dict[str, list[dict[str, str | None]]]:
        """Per arch, the .ko files a tristate symbol builds, what the config does with each and where
        hack/modules-ARCH.txt lists it (analyses.modules.symbol_modules); {} for other types."""
        return symbol_modules_of(self.session, name, self.module_lists)

    def has_history(self) -> bool:
        """Whether the pkgs checkout is a git clone whose history says when config lines changed
        (the embedded sample and its scratch copies have none)."""
        if "history" not in self._history_state:
            from talosnb.analyses.history import is_git_checkout

            inputs = self.session.inputs
            self._history_state["history"] = (not inputs.sample and inputs.pkgs is not None
                                              and is_git_checkout(inputs.pkgs.path))
        return bool(self._history_state["history"])

    def line_history(self, name: str, arch: str | None = None) -> pd.DataFrame:
        """The commits of the pkgs checkout that changed CONFIG_`name`'s line, newest first, on one arch
        or all (a DataFrame, talosnb.analyses.history.history_of). The index is built once per
        Workspace, in one pass over the history, and cached on disk by commit."""
        from talosnb.analyses.history import HistoryIndex, build_index, history_of

        pkgs = self.session.inputs.pkgs
        if pkgs is None or not self.has_history():
            where = pkgs.path if pkgs is not None else "the embedded sample"
            raise InputError(f"{where} is not a git checkout: it has no history",
                             hint=f"give {opt('pkgs')}: a git clone of siderolabs/pkgs")
        index = self._history_state.get("index")
        if not isinstance(index, HistoryIndex):
            index = self._history_state["index"] = build_index(pkgs.path, arches=list(self.configs))
        return history_of(index, name.removeprefix("CONFIG_"), arch)

    def menu_tree(self) -> MenuTree:
        """Both arches' menus merged into one tree (analyses.menu; built once per parsed trees)."""
        from talosnb.analyses.menu import menu_tree

        return menu_tree(self.configs)

    # --- a change: propose, then commit -------------------------------------------

    def propose(self, request: Request, options: Options | None = None) -> Plan:
        """Everything `request` would do, computed once on trial state (a :class:`Plan`): per
        arch the change set with reasons, the module-list edits that follow, the texts of the
        files a write would write, and every guard's verdict as a function of before and after.

        Until :meth:`commit` (or :meth:`discard`) the workspace holds the planned state; a plan
        a refusing verdict blocks holds nothing (it is put back at once). A new proposal
        discards the one still open. Bad input (an unknown symbol, an entry naming nothing) is
        an InputError, and then nothing is changed."""
        options = options or Options()
        self.discard()
        plan = Plan(request, options)
        if request.kind in ("set", "fix"):
            self._propose_set(plan)
        elif request.kind == "merge":
            self._propose_merge(plan)
        elif request.kind == "modules":
            self._propose_modules(plan)
        elif request.kind != "save":
            raise ValueError(f"no such request: {request.kind!r}")
        if plan.attempts or any(e.changed for e in plan.list_edits.values()):
            self._open = plan
            self.version += 1          # the trial state is another state: caches key on it
        plan.version = self.version
        try:
            if request.write and plan.blocked is None:
                self._propose_write(plan)
        except BaseException:
            self.discard()
            raise
        return plan

    def commit(self, plan: Plan) -> SaveResult | None:
        """Carry out a proposed plan: keep its change as one undo step, then (a request to write)
        write its files through one transaction (all of them, or, when one fails, none).

        Refused: a stale plan (the workspace changed since it was proposed: RefusedError), and a
        plan a write verdict refuses (its error: the file changed on disk, the embedded sample,
        ...; nothing is kept then). A blocked plan keeps nothing. Returns what was written (None
        when the request writes nothing)."""
        if plan.committed or plan.version != self.version or (plan.attempts and self._open is not plan):
            raise RefusedError("the workspace changed since this change was planned; nothing was changed",
                               hint="plan it again (propose), then commit")
        refusal = plan.refusal
        if refusal is not None:
            self.discard()
            assert refusal.error is not None
            raise refusal.error
        plan.committed = True
        if plan.blocked is not None:
            self.discard()
            return None
        self._keep(plan)
        if not plan.request.write or plan.request.dry_run:
            return None
        return self._write(plan)

    def discard(self, plan: Plan | None = None) -> None:
        """Put back the state a proposed plan holds on trial (the open one, or `plan` if open)."""
        open_plan = self._open
        if open_plan is None or (plan is not None and plan is not open_plan):
            return
        self._open = None
        for attempt in open_plan.attempts.values():
            if not attempt.done:
                attempt.drop()
        for arch, entries in self._planned_additions(open_plan).items():
            self._list_of(arch, open_plan.modules[arch].get("list")).remove(entries)
        for one in open_plan.list_edits.values():
            if one.changed:
                (one.module_list.remove if one.action == "add" else one.module_list.add)(one.changed)
        self.version += 1

    @staticmethod
    def _planned_additions(plan: Plan) -> dict[str, list[str]]:
        return {arch: m["added"] for arch, m in plan.modules.items() if m.get("added")}

    def _keep(self, plan: Plan) -> None:
        """The planned state becomes the workspace's: one undo step, the listeners told."""
        self._open = None
        request = plan.request
        if plan.attempts:
            for attempt in plan.attempts.values():
                attempt.keep()
            assert plan.outcome is not None
            done = plan.outcome.changed_arches()
            if done:
                also = [HistoryEntry("modules", [arch], f"add {', '.join(added)}", "add", list(added),
                                     list_id=plan.modules[arch].get("list"))
                        for arch, added in self._planned_additions(plan).items()]
                requested = {arch: {a.symbol: a.value for a in plan.outcome.changes[arch].requested} for arch in done}
                self.history.append(HistoryEntry("config", done, request.label, also=also, requested=requested,
                                                 overridden=list(plan.outcome.overridden)))
                # what the plan built is what the configs hold now: saving writes it without building it again
                self._changed("config", texts=plan.texts)
        elif plan.list_edits:
            extension = request.list_id not in (None, TALOS_LIST)
            for arch, one in plan.list_edits.items():
                if one.changed:
                    list_id = self.extension_of(one.module_list).list_id if extension else None
                    self.history.append(HistoryEntry("modules", [arch], f"{one.action} {', '.join(one.changed)}",
                                                     one.action, list(one.changed), list_id=list_id))
            if any(one.changed for one in plan.list_edits.values()):
                self._changed("modules")

    # --- proposing: set, merge ------------------------------------------------

    def _propose_set(self, plan: Plan) -> None:
        request, options = plan.request, plan.options
        arches: Sequence[str] | None = request.arches
        assignments = list(request.assignments)
        if request.kind == "fix":
            refusal = request.refusal
            assert request.arches is not None and refusal is not None
            if refusal.fix is None or not refusal.fix.found:
                raise InputError(f"no verified fix for {refusal.assignment} on {request.arches[0]}")
            assignments = [*refusal.fix.assignments, refusal.assignment]
            plan.request = dataclasses.replace(request, assignments=tuple(assignments))
        if request.add_to_module_list:
            self._require_talos_for_lists()
        before_texts = self._texts_before(arches or self.arches, strict=options.strict)
        attempts = edit.attempt_symbols(self.editors, assignments, arches=arches, mode="set")
        changes = {arch: a.change for arch, a in attempts.items()}
        outcome = plan.outcome = EditOutcome("set", changes, self.session.tree_version)
        plan.changes = changes
        if any(change.refusals for change in changes.values()):
            for attempt in attempts.values():
                attempt.drop()
            outcome.drift = self.drift()
            if request.fix_search:
                for attempt in attempts.values():
                    attempt.editor.find_fixes(attempt.change)
            plan.verdicts.append(Verdict("assignments", True, "an assignment can't take effect (see above)"))
            outcome.blocked = plan.blocked
            outcome.fix_notes = self._fix_notes(changes)
            return
        plan.verdicts.append(Verdict("assignments", False))
        outcome.drift = self._plan_drift(plan, attempts)
        for change in changes.values():
            change.applied = True      # what committing keeps (the guards below may still refuse it)
        errors = self._new_list_errors(attempts)
        module_verdict = guards.module_list_verdict(errors, ignore_module_list=options.ignore_module_list)
        plan.verdicts.append(module_verdict)
        outcome.module_list_errors = errors
        if not module_verdict.refuses:
            self._gate_verdict(plan, attempts, before_texts)
        if not self._hold(plan, attempts, outcome):
            return
        # a value the user set in an earlier step, which this change gives another value without asking
        outcome.overridden = overridden_values(self.history, {a: c.requested for a, c in changes.items()},
                                               {a: c.cascade for a, c in changes.items()}, plan.request.label)
        outcome.modules = self._planned_modules(changes, attempts, request.add_to_module_list)
        plan.modules = outcome.modules
        self._dropped_verdict(plan, changes)

    @staticmethod
    def _hold(plan: Plan, attempts: dict[str, edit.Attempt], outcome: EditOutcome) -> bool:
        """Keep the attempts on trial in the plan, or drop them when a verdict blocks it."""
        if plan.blocked is not None:
            for attempt in attempts.values():
                attempt.drop()
            outcome.blocked = plan.blocked
            return False
        plan.attempts = attempts
        return True

    def _propose_merge(self, plan: Plan) -> None:
        assignments = list(plan.request.assignments)
        unknown = [a for a in assignments if not any(c.has_symbol(a.symbol) for c in self.configs.values())]
        known = [a for a in assignments if a not in unknown]
        before_texts = self._texts_before(self.arches, strict=plan.options.strict)
        attempts = (edit.attempt_symbols(self.editors, known, mode="merge") if known else {})
        changes = {arch: a.change for arch, a in attempts.items()}
        plan.changes = changes
        outcome = plan.outcome = EditOutcome("merge", changes, self.session.tree_version,
                                             drift=self._plan_drift(plan, attempts), unknown=unknown,
                                             redefined=redefinitions(assignments))
        for change in changes.values():
            change.applied = True
        self._gate_verdict(plan, attempts, before_texts)
        if not self._hold(plan, attempts, outcome):
            return
        self._dropped_verdict(plan, changes)

    def _dropped_verdict(self, plan: Plan, changes: Mapping[str, edit.ChangeSet]) -> None:
        """Writing a set or merge would lose lines for symbols the tree doesn't define: said with the
        change, dry run or not (saving refuses it too)."""
        if plan.request.write:
            plan.verdicts.append(guards.dropped_lines_verdict(self.session, changes,
                                                              allow_drop=plan.options.allow_drop))

    def _texts_before(self, arches: Sequence[str], *, strict: bool) -> dict[str, Callable[[], str]]:
        """arch -> the config text the build checks before a change (the hardening gate's "before"):
        the file as loaded until the config is edited here, then what saving writes. That one is
        built now (before the change is tried) only when the hardening guard will run."""
        out: dict[str, Callable[[], str]] = {}
        armed: bool | None = None
        for arch in arches:
            config = self.configs[arch]
            if not self.editors[arch].history:
                out[arch] = _given(config.original_text)
                continue
            if armed is None:
                armed = self.gate_keeper.checker_at_hand(strict=strict)
            text = self._config_text(arch) if armed else ""
            out[arch] = _given(text)
        return out

    def _gate_verdict(self, plan: Plan, attempts: Mapping[str, edit.Attempt],
                      before_texts: Mapping[str, Callable[[], str]]) -> None:
        after = {arch: functools.partial(self._plan_text, plan, arch) for arch in attempts}
        first = {arch: not self.editors[arch].history for arch in attempts}
        try:
            verdict = self.gate_keeper.verdict({arch: a.change for arch, a in attempts.items()},
                                               before=before_texts, after=after, first_edit=first,
                                               strict=plan.options.strict)
        except InputError:
            for attempt in attempts.values():
                attempt.drop()
            raise
        plan.verdicts.append(verdict)
        assert plan.outcome is not None
        plan.outcome.gates = verdict.detail
        if verdict.refuses:
            return
        # the workloads' requirements: one met before and failing after is warned about, or with
        # ``strict`` refused (a function of the values before and after, on the arches changed)
        changed = {arch: a.change for arch, a in attempts.items() if a.change.cascade}
        if changed:
            choice = guard_choice(self.session, self.workloads)
            broken = guard_change(self.session, changed, self.module_lists, choice.workloads,
                                  cache=self._resolved_requirements, features=choice.features)
            plan.outcome.workloads = broken
            message = ""
            if broken.broken:
                message = ("; ".join(broken.messages()) + "; nothing was changed (fix what the workload needs "
                           f"first, or apply it with a warning: leave out {opt('strict')})")
            plan.verdicts.append(Verdict("workloads", plan.options.strict and bool(broken.broken), message,
                                         "strict", broken.findings(), detail=broken))

    def _plan_drift(self, plan: Plan, attempts: Mapping[str, edit.Attempt]) -> dict[str, list[Change]]:
        """The drift of each config, read from the planned texts where they are needed anyway."""
        return self.drift({arch: (self._plan_text(plan, arch), a.change.cascade) for arch, a in attempts.items()
                           if a.change.cascade and not self._edited(arch)
                           and self._drift.get(arch, (None,))[0] != (arch, id(self.configs[arch].original_text))})

    def _plan_text(self, plan: Plan, arch: str) -> str:
        """The config text of `arch` in the planned state, built once per plan."""
        texts = plan.texts
        if arch not in texts:
            texts[arch] = self.configs[arch].text()
        return texts[arch]

    def _config_text(self, arch: str) -> str:
        """config-ARCH as saving would write it now, built once per state of the workspace."""
        return self._cached(f"text-{arch}", lambda: self.configs[arch].text())

    def _new_list_errors(self, attempts: Mapping[str, edit.Attempt]) -> list[dict]:
        """The module-list errors the attempted change brings, as records (a function of the values
        before and after it): listed modules it stops building as =m, then shipped modules it
        leaves needing a module no list ships with them."""
        from talosnb.analyses.modules import findings_frame, new_list_errors

        arches = [arch for arch in attempts if arch in self.module_lists
                  or any(arch in ext.arches for ext in self.extension_lists)]
        if not arches:
            return []
        before = {arch: attempts[arch].before for arch in arches}
        after = {arch: attempts[arch].after for arch in arches}
        lists = {arch: self.module_lists[arch] for arch in arches if arch in self.module_lists}
        found = new_list_errors(lists, before, after, {arch: self.kbuild_map(arch) for arch in arches},
                                tree_version=self.session.tree_version, list_version=self.list_version(),
                                verify_fix=edit.fix_verifier(self.editors), extension_lists=self.extension_lists)
        records = findings_frame(found).to_dict(orient="records") if found else []
        was = self.session.check_dependencies(self.module_lists, self.extension_lists, values=before)
        now = self.session.check_dependencies(self.module_lists, self.extension_lists, values=after)
        if was or now:   # (no table library loaded for nothing)
            records += guards.unshipped_dependencies(findings_frame(was).to_dict(orient="records") if was else [],
                                                     findings_frame(now).to_dict(orient="records") if now else [])
        return records

    def _fix_notes(self, changes: Mapping[str, edit.ChangeSet]) -> list[str]:
        """For each refusal's verified fix: the module-list errors applying it would cause."""
        notes = []
        for arch, change in changes.items():
            for refusal in change.refusals:
                fix = refusal.fix
                if arch not in self.module_lists or fix is None or not fix.found:
                    continue
                attempt = self.editors[arch].attempt([*fix.assignments, refusal.assignment])
                try:
                    broken = [f["message"] for f in self._new_list_errors({arch: attempt})]
                finally:
                    attempt.drop()
                if broken:
                    notes.append(f"\nnote: on {arch}, the fix for {refusal.assignment} would also break "
                                 f"{layout.module_list_file(arch)}:\n" + "".join(f"  {m}\n" for m in broken))
        return notes

    def _planned_modules(self, changes: Mapping[str, edit.ChangeSet], attempts: Mapping[str, Any],
                         add: bool | str) -> dict[str, dict]:
        try:
            return self._new_modules(changes, lambda arch: attempts[arch].after, add=add)
        except InputError:   # which list to add to is the user's call: nothing changes until then
            for attempt in attempts.values():
                attempt.drop()
            raise

    def _new_modules(self, changes: Mapping[str, edit.ChangeSet], values: Callable[[str], Mapping[str, str]], *,
                     add: bool | str) -> dict[str, dict]:
        """The .ko files each symbol that became =m builds with ``values(arch)``; with `add`, listed
        (a plan's: on trial with the change, which discarding the plan takes out again)."""
        out: dict[str, dict] = {}
        for arch, change in changes.items():
            symbols = [c.symbol for c in change.cascade if c.new == "m" and change.applied]
            if not symbols:
                continue
            built = modules_for_symbols(self.kbuild_map(arch), values(arch), symbols)
            entries = sorted({ko for kos in built.values() for ko in kos})
            out[arch] = {"built": entries, "added": []}
            if add and entries:
                list_id = self._list_to_take(entries, arch, add)
                out[arch]["list"] = list_id
                module_list = self._list_of(arch, list_id)
                out[arch]["added"] = [e for e in entries if module_list.add(e)]
        return out

    def _list_to_take(self, entries: Sequence[str], arch: str, add: bool | str) -> str | None:
        """Which list new modules go to (None: talos's): the one named, else talos's unless an
        extension's list could take them too (it ships modules of the same folder), which is asked."""
        if isinstance(add, str) and add != TALOS_LIST:
            return self.extension_list(add, arch)[0].list_id
        if add is True:
            folders = {posixpath.dirname(e) for e in entries}
            candidates = sorted({ext.list_id for ext in self.extension_lists if arch in ext.arches
                                 and any(posixpath.dirname(e) in folders for e in ext.module_list.entries)})
            guards.refuse_ambiguous_module_list(entries, candidates)
        return None

    def _list_of(self, arch: str, list_id: str | None) -> ModuleList:
        return self.extension_list(list_id, arch)[0].module_list if list_id else self.module_list(arch)

    # --- the conveniences: propose, then commit ------------------------------------

    def set(self, assignments: Iterable[edit.Assignment | str], arches: Sequence[str] | None = None, *,
            fix: bool = True, ignore_module_list: bool = False,
            add_to_module_list: bool | str = False, strict: bool = False) -> EditOutcome:
        """Apply the assignments as one batch on every arch (or `arches`), as `make olddefconfig`
        after merging them would, and keep the change only if it can be kept on all of them.

        Nothing changes (``blocked`` says why) when an assignment can't take effect on some
        arch (each refusal explained, with a verified fix unless ``fix=False``), or when the
        change stops building a listed ``.ko`` as a module (unless ``ignore_module_list``).
        ``add_to_module_list`` adds the ``.ko`` files the new ``=m`` symbols build to the lists: talos's
        (True or "talos") or an extension's ("extensions/NAME"); True when an extension's list could take
        them too (it ships modules of the same folder) is an InputError asking which, and nothing changes.
        A change that makes a build gate fail which passed before is kept with a warning
        (``gates``), or, with ``strict``, not kept (``blocked``). A kept change is one undoable step.
        """
        parsed = tuple(edit.parse_assignment(a) if isinstance(a, str) else a for a in assignments)
        request = Request("set", parsed, tuple(arches) if arches else None,
                          add_to_module_list=add_to_module_list, fix_search=fix)
        return self._outcome(self.propose(request, Options(strict=strict, ignore_module_list=ignore_module_list)))

    def _require_talos_for_lists(self) -> None:
        if self.session.inputs.talos is None:
            raise InputError("adding to the module lists needs a talos checkout; nothing changed",
                             hint=f"give {opt('talos')} (a siderolabs/talos checkout) or set TALOSNB_TALOS")

    def unlisted_new_modules(self, outcome: EditOutcome) -> dict[str, list[str]]:
        """Per arch, the .ko files a kept set made (its new =m symbols build them) that the module
        list doesn't have yet: what :meth:`add_new_modules` would add."""
        return {arch: [ko for ko in found["built"] if ko not in self.module_lists[arch]]
                for arch, found in outcome.modules.items()
                if arch in self.module_lists and any(ko not in self.module_lists[arch] for ko in found["built"])}

    def add_new_modules(self, outcome: EditOutcome) -> dict[str, list[str]]:
        """After a kept set: list the .ko files its new =m symbols build, as ``set(...,
        add_to_module_list=True)`` does in the same step (the same code), as an undoable step of
        its own. Only what the configs build as modules now is added (nothing after an undo)."""
        self._require_talos_for_lists()
        self.discard()
        found = self._new_modules(outcome.changes, self.written, add=True)
        added = {arch: one["added"] for arch, one in found.items() if one["added"]}
        self.history += [HistoryEntry("modules", [arch], f"add {', '.join(entries)}", "add", list(entries))
                         for arch, entries in added.items()]
        if added:
            self._changed("modules")
        return added


    def merge(self, assignments: Sequence[edit.Assignment], *, strict: bool = False) -> EditOutcome:
        """Apply fragment lines as `merge_config.sh` + olddefconfig do: keep what takes effect, list
        what did not (``unmet``), report symbols no arch defines (``unknown``) and values given twice.
        A build gate the result makes fail is warned about (``gates``); with ``strict`` nothing is kept."""
        return self._outcome(self.propose(Request("merge", tuple(assignments)), Options(strict=strict)))

    def apply_fix(self, arch: str, refusal: edit.Refusal, **options: bool) -> EditOutcome:
        """Apply a refusal's verified fix together with the assignment it was found for (on `arch`)."""
        fix = options.pop("fix", True)
        add = options.pop("add_to_module_list", False)
        request = Request("fix", arches=(arch,), refusal=refusal, fix_search=fix, add_to_module_list=add)
        return self._outcome(self.propose(request, Options(**options)))

    def _outcome(self, plan: Plan) -> EditOutcome:
        self.commit(plan)
        assert plan.outcome is not None
        return plan.outcome

    def drift(self, after: Mapping[str, tuple[str, Sequence[edit.CascadeChange]]] | None = None,
              ) -> dict[str, list[Change]]:
        """Lines each config changes just by being written (as make olddefconfig would), beyond edits:
        what a tree other than the config's own changes. ``after``: arch -> the text with a change
        on trial and its cascade, to read the drift from instead of building the text without it."""
        out = {}
        for arch, config in self.configs.items():
            if self._edited(arch):
                continue
            # an arch nobody edited is as loaded (or as last written): its drift is known once
            # computed, and writing the text (~0.1 s) on every set would cost each click that much
            key = (arch, id(config.original_text))
            if self._drift.get(arch, (None,))[0] != key:
                # lines a toolchain taken from another config changed are that, not drift
                taken = self.session.toolchain_taken.get(arch)
                skip = taken.lines if taken is not None else set()
                changes = (_drift_under(config, *after[arch]) if after and arch in after
                           else config_diff(config.original_text, config.text()))
                self._drift[arch] = (key, [c for c in changes if c.symbol not in skip])
            out[arch] = self._drift[arch][1]
        return out

    def overridden(self) -> list[Overridden]:
        """Values the user set in a step still in the history that a later step replaced and that
        still differ now (what Save shows before writing): the latest per arch and symbol."""
        out: dict[tuple[str, str], Overridden] = {}
        for entry in self.history:
            for o in entry.overridden:
                out[(o.arch, o.symbol)] = o
            for arch, asked in entry.requested.items():     # set again since: the user's value again
                for symbol in asked:
                    out.pop((arch, symbol), None)
        return [o for o in out.values() if self._value(o.arch, o.symbol) != o.wanted]

    def _value(self, arch: str, symbol: str) -> str | None:
        config = self.configs.get(arch)
        return config.value(symbol) if config is not None and config.has_symbol(symbol) else None

    def _edited(self, arch: str) -> bool:
        return any(entry.kind == "config" and arch in entry.arches for entry in self.history)

    def undo(self) -> HistoryEntry | None:
        """Undo the last config change or module-list edit (whichever view or command made it)."""
        if not self.history:
            return None
        entry = self.history.pop()
        for one in [entry, *entry.also]:
            if one.kind == "config":
                edit.undo(self.editors, arches=one.arches)
            else:
                module_list = (self.extension_list(one.list_id, one.arches[0])[0].module_list if one.list_id
                               else self.module_lists[one.arches[0]])
                if one.action == "add":
                    module_list.remove(one.entries)
                else:
                    module_list.add(one.entries)
        self._changed("undo")
        return entry

    # --- module lists ---------------------------------------------------------

    def list_version(self) -> str | None:
        return self.session.list_version()

    def findings(self) -> pd.DataFrame:
        """check_module_lists over the loaded lists and the current config values, as a frame
        (``where`` relative to the talos checkout)."""
        return self._cached("findings", self._findings)

    def _findings(self) -> pd.DataFrame:
        from talosnb.analyses.modules import findings_frame

        if not self.module_lists:
            return findings_frame([])
        for arch in self.module_lists:
            self.kbuild_map(arch)   # search finds modules once the maps are loaded
        frame = findings_frame(self.session.check_modules(self.module_lists, extension_lists=self.extension_lists))
        assert self.session.inputs.talos is not None   # the module lists were read from it
        roots = [str(self.session.inputs.talos.path) + "/"]
        if self.session.inputs.extensions is not None:
            roots.append(str(self.session.inputs.extensions.path) + "/")
        frame["where"] = [_relative(w, roots) if isinstance(w, str) else w for w in frame["where"]]
        return frame

    def check_counts(self) -> dict[str, dict[str, int]]:
        """arch -> level -> number of findings."""
        from talosnb.analyses.findings import LEVELS

        frame = self.findings()
        return {arch: {level: int(((frame["arch"] == arch) & (frame["level"] == level)).sum())
                       for level in LEVELS} for arch in self.module_lists}

    def lists_overview(self) -> pd.DataFrame:
        """Every module list that ships, one row per list and arch: talos's, then each extension's
        (``list``: talos or extensions/NAME; ``file`` as in its checkout; ``modules``: its .ko entries;
        the number of findings of each level about it)."""
        import pandas as pd

        from talosnb.analyses.findings import LEVELS

        frame = self.findings()
        rows = [("talos", arch, layout.module_list_file(arch), self.module_lists[arch])
                for arch in sorted(self.module_lists)]
        rows += sorted((ext.list_id, arch, ext.file_name, ext.module_list) for ext in self.extension_lists
                       for arch in ext.arches if arch in self.configs)
        out = []
        for list_id, arch, name, module_list in rows:
            mine = frame[(frame["list"] == list_id) & (frame["arch"] == arch)]
            out.append({"list": list_id, "arch": arch, "file": name,
                        "modules": sum(1 for e in module_list.entries if e.endswith(".ko")),
                        **{level: int((mine["level"] == level).sum()) for level in LEVELS}})
        return pd.DataFrame(out, columns=["list", "arch", "file", "modules", *LEVELS])

    def module_list(self, arch: str) -> ModuleList:
        """The loaded hack/modules-ARCH.txt of `arch` (an InputError naming what is missing)."""
        if arch not in self.module_lists:
            talos = self.session.require_talos()
            talos.module_list_path(arch)   # raises: the list is missing from the checkout
        return self.module_lists[arch]

    def extension_list(self, list_id: str, arch: str | None = None) -> list[ExtensionList]:
        """The loaded lists of one extension (``extensions/drivers/usb-modem`` or ``drivers/usb-modem``),
        those shipping on `arch` when given; an InputError with "did you mean" if it has none."""
        import difflib

        wanted = list_id if list_id.startswith(layout.EXTENSIONS_LIST_PREFIX) else layout.extension_list_id(list_id)
        found = [e for e in self.extension_lists if e.list_id == wanted and (arch is None or arch in e.arches)]
        if not found:
            if self.session.inputs.extensions is None:
                raise InputError(f"no extensions checkout to find {list_id} in",
                                 hint=f"give {opt('extensions')} (a siderolabs/extensions checkout)")
            known = sorted({e.list_id for e in self.extension_lists})
            near = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
            where = f" for {arch}" if arch is not None else ""
            raise InputError(f"no module list of {wanted}{where} in the extensions checkout",
                             hint=f"did you mean {', '.join(near)}?" if near else
                             f"the extensions with module lists: {', '.join(known)}")
        return found

    def edit_modules(self, action: str, items: Iterable[str], arches: Sequence[str] | None = None,
                     list_id: str | None = None) -> dict[str, ListEdit]:
        """Add or remove list entries (paths, module names or symbols) on each arch (default: every
        loaded list); returns arch -> ListEdit. An entry that names nothing on every arch edited
        (a typo, a symbol that builds no module, a path not in the tree) is an InputError, and then
        nothing is changed. ``list_id`` names an extension's list (``extensions/drivers/usb-modem``)
        to edit instead of talos's; a files/modules.txt shared by both arches is edited once."""
        request = Request("modules", arches=tuple(arches) if arches else None, module_action=action,
                          module_entries=tuple(items), list_id=list_id)
        plan = self.propose(request)
        self.commit(plan)
        return plan.list_edits

    def _propose_modules(self, plan: Plan) -> None:
        request = plan.request
        if request.list_id not in (None, TALOS_LIST):
            plan.list_edits = self._edit_extension(request.module_action or "add", request.module_entries,
                                                   request.arches, request.list_id)
            return
        if not self.module_lists:
            self.session.require_talos()
            raise InputError("no module lists loaded", hint="the talos checkout has no hack/modules-ARCH.txt")
        action = request.module_action or "add"
        items = [i.strip() for i in request.module_entries if i.strip()]
        guards.refuse_symbols_building_nothing(self.session, items)
        edits = {}
        for arch in list(request.arches or self.module_lists):
            edits[arch] = edit_module_list(self.module_list(arch), action, items, self.kbuild_map(arch),
                                           self.written(arch),
                                           tree_version=self.session.tree_version,
                                           list_version=self.list_version())
        try:
            guards.refuse_entries_naming_nothing(edits, items)
        except InputError:
            for arch, one in edits.items():   # put the lists back as they were
                if one.changed:
                    (self.module_lists[arch].remove if action == "add" else self.module_lists[arch].add)(
                        one.changed)
            raise
        plan.list_edits = edits

    def _edit_extension(self, action: str, items: Iterable[str], arches: Sequence[str] | None,
                        list_id: str) -> dict[str, ListEdit]:
        """An extension's list edited (on trial, as talos's: the plan keeps or discards it)."""
        items = [i.strip() for i in items if i.strip()]
        guards.refuse_symbols_building_nothing(self.session, items)
        edits: dict[str, ListEdit] = {}
        for ext in self.extension_list(list_id):
            loaded = [a for a in ext.arches if a in self.configs and (not arches or a in arches)]
            if not loaded:
                continue
            arch = loaded[0]   # one file, one edit: checked against the first arch it ships on
            edits[arch] = edit_module_list(ext.module_list, action, items, self.kbuild_map(arch),
                                           self.written(arch), tree_version=self.session.tree_version,
                                           list_version=self.list_version())
        try:
            guards.refuse_entries_naming_nothing(edits, items)
        except InputError:
            for one in edits.values():
                if one.changed:
                    (one.module_list.remove if action == "add" else one.module_list.add)(one.changed)
            raise
        return edits

    def extension_of(self, module_list: ModuleList) -> ExtensionList:
        return next(e for e in self.extension_lists if e.module_list is module_list)

    # --- saving --------------------------------------------------------------

    def _label(self, path: Path, kind: str) -> str:
        inputs = self.session.inputs
        if kind == "config":
            assert inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
            root = inputs.pkgs.path
        else:
            assert inputs.talos is not None   # the module lists were read from it
            root = inputs.talos.path
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            return path.name
        return f"{'pkgs' if kind == 'config' else 'talos'}: {rel}"

    def pending(self, names: Iterable[str] | None = None) -> list[PendingFile]:
        """Every file a save may write (configs, then module lists; or those `names`), with its diff
        and the text saving writes (each config's built once per state of the workspace)."""
        wanted = None if names is None else set(names)
        out = []
        for arch, config in self.configs.items():
            if wanted is not None and layout.config_name(arch) not in wanted:
                continue
            new = self._config_text(arch)
            changed = new != config.original_text
            endings = line_endings_change(config.original_text, new)
            lines = [str(c).strip() for c in [*config_diff(config.original_text, new),
                                               *([endings] if endings is not None else [])]]
            if changed and not lines:
                lines = ["(no value changes: the file is rewritten in the kernel's own layout)"]
            path = config.snapshot.path if config.snapshot else Path(config.source)
            dropped = [f"CONFIG_{n.symbol}" for n in config.notes if n.kind == "unknown-symbol"]
            out.append(PendingFile(layout.config_name(arch), self._label(path, "config"), path, "config", arch,
                                   changed, lines, dropped if changed else [], content=new))
        for arch, module_list in self.module_lists.items():
            if wanted is not None and layout.module_list_name(arch) not in wanted:
                continue
            assert module_list.path is not None   # loaded from the talos checkout
            diff = module_list.diff()
            out.append(PendingFile(layout.module_list_name(arch), self._label(module_list.path, "modules"),
                                   module_list.path, "modules", arch, module_list.changed(),
                                   diff.splitlines(), content=module_list.text()))
        for ext in self.extension_lists:
            assert ext.module_list.path is not None   # loaded from the extensions checkout
            if wanted is not None and ext.file_name not in wanted:
                continue
            out.append(PendingFile(ext.file_name, f"extensions: {ext.file_name}", ext.module_list.path, "extension",
                                   ext.arches[0], ext.module_list.changed(), ext.module_list.diff().splitlines(),
                                   content=ext.module_list.text()))
        for staged in self.staged.values():
            if wanted is not None and staged.name not in wanted:
                continue
            out.append(PendingFile(staged.name, staged.label, staged.snapshot.path, "file", "all",
                                   staged.text != staged.original, staged.diff(), content=staged.text))
        return out

    def stage_file(self, name: str, path: Path, text: str, *, label: str | None = None) -> StagedFile:
        """Have the next :meth:`save` write ``text`` to ``path`` (a file of a checkout, e.g. the
        Pkgfile), with the same refusals as the configs and lists: refused when the file changed on
        disk since it was read here, or lies in the embedded sample."""
        original, snapshot = read_text(path, what=name)
        staged = StagedFile(name, label or self._label(Path(path), "config"), snapshot, original, text)
        self.staged[name] = staged
        self._changed("staged")
        return staged

    def save(self, *, force: bool = False, allow_drop: bool = False, names: Iterable[str] | None = None,
             outputs: Mapping[str, str | Path] | None = None, follow_symlinks: bool = False,
             allow_series_change: bool = False) -> SaveResult:
        """Write every changed file (or those `names`: "config-amd64", "modules-arm64.txt") as one
        transaction: all of them, or (when one is refused or fails) none.

        Refused (guards): a config made for another kernel series or losing most of its lines,
        unless ``allow_series_change``; a config with lines for symbols the tree doesn't define
        (writing drops them, as `make olddefconfig` would), unless ``allow_drop``; a file in the
        embedded sample; a file changed on disk since it was loaded, unless ``force``; an
        ``outputs`` path (arch -> where to write that config instead) holding the other arch's
        config, unless ``force``; a symlink leading out of its checkout, unless
        ``follow_symlinks``. The files are written under a lock on their folders, which
        another talosnb run writing there waits for (see :class:`~talosnb.core.fileio.Transaction`).
        """
        request = Request("save", names=None if names is None else tuple(names),
                          outputs=tuple((arch, Path(path)) for arch, path in (outputs or {}).items()), write=True)
        options = Options(force=force, allow_drop=allow_drop, follow_symlinks=follow_symlinks,
                          allow_series_change=allow_series_change)
        result = self.commit(self.propose(request, options))
        assert result is not None   # a save request writes
        return result

    def _propose_write(self, plan: Plan) -> None:
        """The files the plan writes, with their texts, and every write rule's verdict on them (a dry
        run: only the rule about what the texts lose, which a set or merge judges with the change)."""
        request = plan.request
        if request.dry_run and request.kind != "save":
            return
        names: Iterable[str] | None = request.names
        if request.kind in ("set", "fix", "merge"):
            names = [layout.config_name(arch) for arch in plan.changes if plan.changes[arch].cascade]
            names += [self.extension_list(plan.modules[arch]["list"], arch)[0].file_name
                      if plan.modules[arch].get("list") else layout.module_list_name(arch)
                      for arch in self._planned_additions(plan)]
        elif request.kind == "modules":
            names = [self.extension_of(one.module_list).file_name if request.list_id not in (None, TALOS_LIST)
                     else layout.module_list_name(arch) for arch, one in plan.list_edits.items()]
        outputs = dict(request.outputs)
        for arch in plan.attempts:   # the planned texts are the state's: pending() reads them
            self._cache[f"text-{arch}"] = (self.version, self._plan_text(plan, arch))
        plan.files = self._to_write(names, outputs)
        texts = {p.name: p.content for p in plan.files}
        files = [(p.name, p.label, p.arch, p.path, self._snapshot(p), p.kind == "config") for p in plan.files]
        if request.dry_run:
            plan.verdicts.append(guards.dropped_lines_verdict(
                self.session, [p.arch for p in plan.files if p.kind == "config"], allow_drop=plan.options.allow_drop,
                raises=True))
            return
        plan.verdicts += guards.write_verdicts(self.session, files, texts, options=plan.options, outputs=outputs,
                                               dropped=request.kind in ("save", "modules"))

    def _write(self, plan: Plan) -> SaveResult:
        todo = plan.files
        tx = Transaction(force=plan.options.force, follow_symlinks=plan.options.follow_symlinks)
        for p in todo:
            loaded_here = p.path == self._loaded_path(p)
            tx.add(p.path, p.content, expect=self._snapshot(p) if loaded_here else None,
                   root=self._checkout_root(p, loaded_here))
        for snapshot in self._decided_on(plan):
            tx.depend(snapshot.path, snapshot)
        replaced = set(tx.commit())
        self._saved(todo, {p.name: p.content for p in todo})
        written = [p for p in todo if p.path in replaced]
        if written:
            self._changed("saved")
        return SaveResult(written, self.make_kernel_command(), self.scratch)

    def _decided_on(self, plan: Plan) -> list[Snapshot]:
        """The files a plan's guards read, as loaded: a write is refused when one changed since (under
        the write's lock), so two changes decided at once on each other's files can't both pass. A
        config's change is checked against the module lists; a list's edit against the configs."""
        if plan.request.kind in ("set", "fix", "merge"):
            lists = [*self.module_lists.values(), *(ext.module_list for ext in self.extension_lists)]
            return [m.snapshot for m in lists if m.snapshot is not None]
        if plan.request.kind == "modules":
            snapshots = [self.configs[arch].snapshot for arch in plan.list_edits]
            return [s for s in snapshots if s is not None]
        return []

    def _to_write(self, names: Iterable[str] | None, outputs: Mapping[str, Path]) -> list[PendingFile]:
        """The changed files among `names` (all: None), a config given an output path pending there."""
        todo = []
        for p in self.pending(names):
            if p.kind == "config" and p.arch in outputs:
                # written elsewhere: pending whenever that file doesn't hold this text yet
                p = PendingFile(p.name, str(outputs[p.arch]), outputs[p.arch], p.kind, p.arch, True, p.lines,
                                p.dropped, content=p.content)
            if p.changed:
                todo.append(p)
        return todo

    def _checkout_root(self, p: PendingFile, loaded_here: bool) -> Path | None:
        """The checkout a written file must stay inside (symlinks out of it are refused)."""
        inputs = self.session.inputs
        assert inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
        if p.kind == "config":
            return inputs.pkgs.path if loaded_here else None   # an output path the user named
        if p.kind == "file":
            return inputs.pkgs.path      # a staged file of the pkgs checkout (the Pkgfile)
        if p.kind == "extension":
            return inputs.extensions.path if inputs.extensions is not None else None
        return inputs.talos.path if inputs.talos is not None else None

    def _saved(self, todo: list[PendingFile], texts: Mapping[str, str]) -> None:
        """What is on disk now is what was written: snapshots and original texts moved on."""
        for p in todo:
            snapshot = Snapshot(p.path, digest(texts[p.name].encode()))
            if p.kind == "config":
                config = self.configs[p.arch]
                config.snapshot, config.original_text = snapshot, texts[p.name]
            elif p.kind == "file":
                staged = self.staged[p.name]
                self.staged[p.name] = StagedFile(staged.name, staged.label, snapshot, texts[p.name], texts[p.name])
            else:
                self._pending_list(p).mark_saved(p.path, snapshot, texts[p.name])

    def _loaded_path(self, pending: PendingFile) -> Path | None:
        snapshot = self._snapshot(pending)
        return snapshot.path if snapshot is not None else None

    def _snapshot(self, pending: PendingFile) -> Snapshot | None:
        if pending.kind == "config":
            return self.configs[pending.arch].snapshot
        if pending.kind == "file":
            return self.staged[pending.name].snapshot
        return self._pending_list(pending).snapshot

    def _pending_list(self, pending: PendingFile) -> ModuleList:
        if pending.kind == "extension":
            return next(e.module_list for e in self.extension_lists if e.file_name == pending.name)
        return self.module_lists[pending.arch]

    def make_kernel_command(self) -> str:
        """What to run next: build the kernel in the pkgs checkout (and Talos with it)."""
        platforms = ",".join(PLATFORMS[a] for a in self.arches)
        assert self.session.inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
        pkgs: Path | str
        pkgs, talos = self.session.inputs.pkgs.path, getattr(self.session.inputs.talos, "path", None)
        text = ""
        if self.scratch is not None:
            pkgs, talos = "<your pkgs checkout>", "<your talos checkout>"
            text += ("These files went to a scratch copy (the embedded sample itself is never written). "
                     "To build your own edits, open your checkouts without scratch=True "
                     "(write_in_place = True in 04-write-back-for-make-kernel) so saving writes them.\n")
        text += ("Next, build the kernel (and its modules) from the pkgs checkout:\n"
                 f"  cd {pkgs}\n"
                 f"  make kernel PLATFORM={platforms}\n"
                 "  (add USERNAME=<registry user> PUSH=true to push the result)\n")
        if self.module_lists:
            text += ("Then build Talos with that kernel from the talos checkout, so the initramfs gets "
                     "the listed modules:\n"
                     f"  cd {talos}\n"
                     f"  make kernel initramfs PKG_KERNEL=<registry>/<user>/kernel:<tag> PLATFORM={platforms}\n")
        return text

    # --- build gates -------------------------------------------------------------

    def gates(self, chosen: Sequence[str] | str | None = None, *, explicit: bool = False,
              progress: bool = False, unlisted: bool = False, workloads: Sequence[str] | None = None) -> GateReport:
        """The build gates (olddefconfig, hardening, modules; default all) on the configs and module
        lists as they stand: a GateReport (talosnb.analyses.gates), made once per change. With
        ``explicit`` a gate the inputs can't run is an InputError instead of "not-run";
        ``unlisted`` adds the informational findings of modules built but not listed. The
        ``workloads`` gate (named only) checks the required options of `workloads` (default: those
        the pkgs checkout's ``.talosnb.toml`` names, with the features it says are in use; else
        kubernetes)."""
        from dataclasses import replace

        from talosnb.analyses.gates import GateReport, parse_gates

        names = parse_gates(chosen)
        build = [g for g in names if g != "workloads"]
        for arch in self.module_lists:
            self.kbuild_map(arch)
        report = (self.gate_keeper.report(build, key=self.version, module_lists=self.module_lists,
                                          explicit=explicit, progress=progress, unlisted=unlisted,
                                          extension_lists=self.extension_lists)
                  if build else GateReport([]))
        if "workloads" in names:
            choice = gate_choice(self.session, workloads)
            found = self.requirements(choice.workloads, choice.gate_features)
            report = replace(report, results=[*report.results, *workloads_gate(found)])
        return report

    def requirements(self, workloads: Sequence[str] | None = None, features: Sequence[str] | None = None, *,
                     profiles_dir: str | None = None) -> RequirementsReport:
        """The workloads' kernel requirements (default every profile, every feature) on the configs and
        module lists as they stand: each one's status per arch, why-not and verified fix
        (talosnb.app.workloads.RequirementsReport), made once per change."""
        key = f"requirements:{workloads}:{features}:{profiles_dir}"
        return self._cached(key, lambda: requirements_report(self.session, self.module_lists, workloads, features,
                                                             profiles_dir=profiles_dir, editors=self.editors,
                                                             cache=self._resolved_requirements))

    def hardening_checks(self) -> list[HardeningCheck]:
        """kernel-hardening-checker's whole table for both arches (talosnb.analyses.gates.hardening_checks;
        talosnb.present.gates.hardening_table makes it a DataFrame)."""
        from talosnb.analyses.gates import hardening_checks

        return hardening_checks(self.gates(["hardening"]))

    # --- comparison and overview ---------------------------------------------

    def compare(self) -> pd.DataFrame:
        from talosnb.analyses.compare import compare

        return self._cached("compare", lambda: compare(self.session))

    def overview(self) -> pd.DataFrame:
        """Per arch: config lines with y / m, module-list entries and errors, pending changes."""
        import pandas as pd

        counts = self.check_counts() if self.module_lists else {}
        pending = {(p.kind, p.arch): p for p in self.pending()}
        rows = []
        for arch in self.configs:
            values = list(self.written(arch).values())
            config_pending = pending[("config", arch)]
            row = {"arch": arch, "=y": values.count("y"), "=m": values.count("m"),
                   "config changes": len(config_pending.lines) if config_pending.changed else 0}
            if arch in self.module_lists:
                row["list entries"] = len(self.module_lists[arch].entries)
                row["list errors"] = counts[arch]["error"]
                row["list warnings"] = counts[arch]["warning"]
                row["list changed"] = pending[("modules", arch)].changed
            rows.append(row)
        return pd.DataFrame(rows).set_index("arch")
