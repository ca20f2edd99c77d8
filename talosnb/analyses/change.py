"""What a change does: a branch of the pkgs/talos checkouts against its base, per arch.

For each arch the report holds:

- every config line the change adds, drops or changes, with its reason in the
  edit engine's words. The change is read back as the kernel's workflow makes
  it: the assignments a person made (``set by the change``) merged into the
  base config, then ``make olddefconfig`` (the :class:`~talosnb.analyses.edit.Editor`
  in merge mode) for the rest — ``selected by ...``, ``default ...``, ``no longer
  visible: ...``. Lines the head file holds that olddefconfig would not write,
  and lines olddefconfig would also change but the head file doesn't, are
  listed apart, as are lines this tree rewrites in the base already (a tree
  newer than the configs);
- the ``.ko`` files newly built and no longer built (the "New modules:" list of
  a pkgs pull request, from the Kbuild map: what ``modules.order`` would gain);
- the module-list entries added and removed, and the module-list check
  (:func:`~talosnb.analyses.modules.check_module_lists`) before and after: are
  the lists right for the new configs;
- with a history index of the base, when each changed line last changed.

How the assignments are found: a changed line is *set by the change* when its
symbol's prompt is visible in the head config and its value there is not what
Kconfig gives without it (``sym_calc_value`` with no user value: select, imply
and defaults); choice members the head config selects, unless the choice would
pick them anyway. Those assignments are merged into the base; a changed line
this does not reproduce is added when it puts a value a person had chosen in
the base back to what Kconfig derives (a revert to the default), until nothing
more is. A line whose value only follows from another toolchain (the head's
config records other compiler answers) is then left "not reproduced", never
taken for a person's choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import kconfiglib
from kconfiglib import TYPE_TO_STR

from talosnb.core import dotconfig
from talosnb.core.arches import ARCHES
from talosnb.core.versions import grouped
from talosnb.kconfig.config import Config
from talosnb.kconfig.explain import location
from talosnb.kconfig.info import TOP_LEVEL, menu_path

from .edit import Assignment, ChangeSet, Editor, SessionLike
from .findings import Finding
from .modules import check_module_lists

if TYPE_CHECKING:
    import pandas as pd

    from talosnb.core.versions import VersionCheck
    from talosnb.inputs.resolve import Inputs
    from talosnb.kbuild import KbuildMap
    from talosnb.kbuild.devices import DeviceIndex

    from .hardware import Device, DeviceChange
    from .history import HistoryIndex, LineRecord
    from .modules import ExtensionList, ModuleList


class ChangeSession(SessionLike, Protocol):
    """What a change report reads of a loaded session (app.session.Session)."""

    @property
    def inputs(self) -> Inputs: ...

    def kbuild_map(self, arch: str, *, progress: bool = False) -> KbuildMap: ...

    def load_module_lists(self, *, missing_ok: bool = False) -> dict[str, ModuleList]: ...

    def version_checks(self) -> list[VersionCheck]: ...

    def list_version(self) -> str | None: ...

# What a changed line is, in the order a reviewer reads them.
KINDS = {
    "change": "changed by the change",
    "not-reproduced": "in the head config, but not what make olddefconfig writes for the change",
    "missing": "make olddefconfig would also change these lines; the head config doesn't",
    "normalized": "rewritten by make olddefconfig on this tree anyway (not the change's doing)",
    "undefined": "symbols this tree doesn't define (can't be checked)",
}
SET_BY_CHANGE = "set by the change"
MAX_ROUNDS = 4


@dataclass(frozen=True)
class LineChange:
    """One config line that differs between the base and the head (or should)."""

    arch: str
    symbol: str
    old: str | None            # in the base file (None: no line)
    new: str | None            # in the head file
    kind: str                  # see KINDS
    reason: str
    requested: bool = False    # one of the assignments the change made
    expected: str | None = None   # what olddefconfig writes, where that differs from `new`
    type: str = ""
    menu: str = TOP_LEVEL
    menu_path: str = ""
    prompt: str | None = None
    where: str | None = None   # file:line in the kernel tree

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class GateResult:
    """One check before and after the change on one arch: error and warning counts, and what's new."""

    gate: str
    arch: str
    before: dict[str, int]
    after: dict[str, int]
    new_errors: list[Finding] = field(default_factory=list)
    fixed_errors: list[Finding] = field(default_factory=list)

    @property
    def passed_before(self) -> bool:
        return self.before.get("error", 0) == 0

    @property
    def passed_after(self) -> bool:
        return self.after.get("error", 0) == 0

    def as_dict(self) -> dict:
        return {"gate": self.gate, "arch": self.arch, "before": self.before, "after": self.after,
                "passed_before": self.passed_before, "passed_after": self.passed_after,
                "new_errors": [f.as_dict() for f in self.new_errors],
                "fixed_errors": [f.as_dict() for f in self.fixed_errors]}


@dataclass(frozen=True)
class ExtensionBreak:
    """A module a system extension ships that the change stops building."""

    extension: str
    entry: str                          # the list's entry (a .ko path)
    file_name: str                      # the extension's list file
    symbols: tuple[tuple[str, str], ...]   # the Kbuild conditions' symbols the change moved, with their new value


@dataclass
class ArchChange:
    """What the change does on one arch."""

    arch: str
    base_source: str
    head_source: str
    lines: list[LineChange] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)      # "X=v": the assignments the change made
    built: list[str] = field(default_factory=list)          # .ko newly built as modules
    unbuilt: list[str] = field(default_factory=list)        # .ko no longer built as modules
    list_added: list[str] = field(default_factory=list)
    list_removed: list[str] = field(default_factory=list)
    has_lists: bool = False
    gates: list[GateResult] = field(default_factory=list)
    drift: int = 0          # lines this tree rewrites in the base and the head alike
    history: dict[str, LineRecord] = field(default_factory=dict)   # symbol -> last change before the base
    # the workloads' kernel requirements (talosnb requirements) the change breaks, and meets again
    workloads_broken: list[str] = field(default_factory=list)
    workloads_fixed: list[str] = field(default_factory=list)
    # the system extensions whose shipped modules the change stops building
    extensions_broken: list[ExtensionBreak] = field(default_factory=list)
    # the devices of a hardware capture whose support the change moves (analyses.hardware.device_changes)
    devices: list[DeviceChange] = field(default_factory=list)

    def by_kind(self, kind: str) -> list[LineChange]:
        return [c for c in self.lines if c.kind == kind]

    listed: frozenset = field(default=frozenset(), repr=False)   # the head list's entries

    @property
    def unlisted_built(self) -> list[str]:
        """Newly built modules the head's list leaves out (fine unless the initramfs needs them)."""
        return [ko for ko in self.built if ko not in self.listed]


@dataclass
class ChangeReport:
    """A change (the head checkouts) against its base, per arch."""

    base_label: str
    head_label: str
    tree_version: str
    arches: dict[str, ArchChange] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    devices_given: int = 0      # the devices of the hardware captures the change was judged against

    @property
    def ok(self) -> bool:
        """Every gate passes after the change."""
        return all(g.passed_after for a in self.arches.values() for g in a.gates)

    def lines(self, kinds: Iterable[str] = ("change",)) -> list[LineChange]:
        kinds = set(kinds)
        return [c for a in self.arches.values() for c in a.lines if c.kind in kinds]

    def frame(self, kinds: Iterable[str] = ("change",)) -> pd.DataFrame:
        """The line changes side by side: one row per symbol, per arch old, new and reason, sorted by
        menu then symbol (absent values are None)."""
        import pandas as pd

        rows: dict[str, dict] = {}
        for change in self.lines(kinds):
            row = rows.setdefault(change.symbol, {"menu": change.menu, "symbol": change.symbol,
                                                 "type": change.type, "prompt": change.prompt})
            row[f"{change.arch}_old"] = change.old
            row[f"{change.arch}_new"] = change.new
            row[f"{change.arch}_reason"] = change.reason
            row[f"{change.arch}_kind"] = change.kind
        columns = ["menu", "symbol", "type", "prompt"]
        for arch in self.arches:
            columns += [f"{arch}_old", f"{arch}_new", f"{arch}_reason", f"{arch}_kind"]
        ordered = sorted(rows.values(), key=lambda r: (r["menu"] != TOP_LEVEL, r["menu"], r["symbol"]))
        return pd.DataFrame(ordered, columns=columns, dtype=object)


# --- reading a config's lines -----------------------------------------------

def file_values(config: Config) -> dict[str, str]:
    """Symbol -> value of every line the loaded file holds, as kconfig holds values (strings
    unquoted, 'n' for 'is not set'), whether or not the tree defines the symbol."""
    values = dotconfig.read_values(config.original_text)
    return {name: dotconfig.unquote(v) if dotconfig.is_quoted_string(v) else v for name, v in values.items()}


def _written_form(sym: kconfiglib.Symbol) -> str | None:
    line = sym.config_string
    if not line:
        return None
    return "n" if line.startswith("#") else sym.str_value


def _value_without_user(sym: kconfiglib.Symbol) -> str | None:
    """What Kconfig gives the symbol with no user value (select, imply, defaults); then put back."""
    saved = sym.user_value
    if saved is None:
        return _written_form(sym)
    sym.unset_value()
    try:
        return _written_form(sym)
    finally:
        sym.set_value(saved)


def _made_by_user(config: Config, name: str, value: str) -> bool:
    """Whether `value` of `name` in `config` is a person's choice rather than what Kconfig derives."""
    sym = config.kconf.syms[name]
    if sym.choice is not None:
        # sym_calc_choice: with no member set to y by the user, the choice takes its default (or its
        # first visible member); a member selected over that was chosen
        return value == "y" and sym.choice._selection_from_defaults() is not sym
    if not sym.visibility:
        return False
    return _value_without_user(sym) != value


def _describe(config: Config, name: str) -> dict:
    sym = config.kconf.syms[name]
    node = next((n for n in sym.nodes if n.prompt), sym.nodes[0])
    path = menu_path(node)
    if path:
        menu = path[0]
    elif node.prompt and node.list is not None:
        menu = node.prompt[0]
    else:
        menu = TOP_LEVEL
    return {"type": TYPE_TO_STR[sym.orig_type], "menu": menu, "menu_path": " > ".join(path),
            "prompt": node.prompt[0] if node.prompt else None, "where": location(sym)}


# --- one arch -------------------------------------------------------------------

def _replay(editor: Editor, assignments: Sequence[Assignment]) -> tuple[ChangeSet, dict[str, str], dict[str, str]]:
    """Merge `assignments` into the editor's (base) config and olddefconfig it, nothing kept: the
    ChangeSet, the written values before and the written values it ends with."""
    before = editor._written()
    change = editor.set(list(assignments), mode="merge", dry_run=True, fix=False)
    after = dict(before)
    for c in change.cascade:
        if c.new is None:
            after.pop(c.symbol, None)
        else:
            after[c.symbol] = c.new
    return change, before, after


def config_changes(base: Config, head: Config) -> tuple[list[LineChange], list[str], int]:
    """The line changes from `base` to `head` (one arch), the assignments found as the change's own,
    and how many lines the tree rewrites in both alike."""
    lines, requested, drift, _values = _config_changes(base, head)
    return lines, requested, drift


def _defined(config: Config, name: str) -> bool:
    return config.has_symbol(name) and config.kconf.syms[name] not in config.transitional


@dataclass
class _Replayed:
    """The head's changed lines replayed on the base: what was asked, what was refused and why, the
    base's written values before and after, and each changed line's reason."""

    wanted: dict[str, str]
    refused: dict[str, str]
    base_norm: dict[str, str]
    replayed: dict[str, str]
    reasons: dict[str, str]


def _config_changes(base: Config, head: Config) -> tuple[list[LineChange], list[str], int, dict[str, str]]:
    base_file, head_file = file_values(base), file_values(head)
    differing = {s for s in base_file.keys() | head_file.keys() if base_file.get(s) != head_file.get(s)}
    done = _replay_change(base, head, base_file, head_file, differing)
    # lines this tree rewrites whatever the change (a tree newer than the configs): counted, not listed
    drift = sum(1 for name in base_file.keys() | done.base_norm.keys()
                if _defined(base, name) and base_file.get(name) != done.base_norm.get(name)
                and name not in differing and name not in done.reasons)
    lines: list[LineChange] = []
    for name in sorted(differing | set(done.reasons)):
        line = _line_change(base, head, name, base_file.get(name), head_file.get(name), name in differing, done)
        if line is not None:
            lines.append(line)
    # an assignment that changes nothing (the tree writes that value anyway) is not the change's
    requested = [f"{n}={v}" for n, v in done.wanted.items() if n in done.reasons]
    return lines, requested, drift, done.base_norm


def _replay_change(base: Config, head: Config, base_file: dict[str, str], head_file: dict[str, str],
                   differing: set[str]) -> _Replayed:
    """The head's lines a person set, replayed on the base until no more are found or refused."""
    wanted: dict[str, str] = {}
    for name in sorted(differing):
        value = head_file.get(name)
        if value is not None and _defined(head, name) and _defined(base, name) and _made_by_user(head, name, value):
            wanted[name] = value
    refused: dict[str, str] = {}
    editor = Editor(base)     # one editor: its written values are computed once, then kept up to date
    for _round in range(MAX_ROUNDS):
        change, base_norm, replayed = _replay(editor, [Assignment(n, v) for n, v in wanted.items()])
        for refusal in change.refusals:
            symbol = refusal.assignment.symbol
            wanted.pop(symbol, None)
            refused[symbol] = refusal.reasons[0].text if refusal.reasons else "it does not take effect"
        # a line not reproduced yet is the change's too when it puts back a value a person had
        # chosen in the base (to the default) and its prompt is there to do so in the head
        more = {name: head_file[name] for name in sorted(differing)
                if name not in wanted and name not in refused and head_file.get(name) is not None
                and replayed.get(name) != head_file[name] and _defined(base, name) and _defined(head, name)
                and head.kconf.syms[name].visibility and base_file.get(name) is not None
                and _made_by_user(base, name, base_file[name])}
        if not more and not change.refusals:
            break
        wanted.update(more)
    return _Replayed(wanted, refused, base_norm, replayed, {c.symbol: c.reason for c in change.cascade})


def _line_change(base: Config, head: Config, name: str, old: str | None, new: str | None, differs: bool,
                 done: _Replayed) -> LineChange | None:
    """One line's change and its kind (None: a line both write alike)."""
    arch = head.arch
    got, normalized = done.replayed.get(name), done.base_norm.get(name)
    config = head if _defined(head, name) else base if _defined(base, name) else None
    info = _describe(config, name) if config is not None else {}
    if config is None or not _defined(base, name):
        if not differs:
            return None
        return LineChange(arch, name, old, new, "undefined", f"not defined in the {head.tree.version} tree for {arch}",
                          **info)
    if not differs:
        return LineChange(arch, name, old, new, "missing", done.reasons.get(name, "default"), expected=got, **info)
    if got == new:
        if name not in done.reasons and normalized == new:
            return LineChange(arch, name, old, new, "normalized",
                              f"make olddefconfig on Linux {head.tree.version} writes it so", **info)
        requested = name in done.wanted
        return LineChange(arch, name, old, new, "change",
                          SET_BY_CHANGE if requested else done.reasons.get(name, "default"),
                          requested=requested, **info)
    why = done.refused.get(name)
    reason = (f"can't be set on the base: {why}" if why else
              "edited by hand, or made with another kernel tree or toolchain")
    return LineChange(arch, name, old, new, "not-reproduced", reason, expected=got, **info)


def modules_changed(kbuild_map: KbuildMap, before: Mapping[str, str],
                    after: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The .ko files `after` builds as modules and `before` doesn't, and the other way round.

    Only modules whose Kbuild conditions name a symbol whose value differs are
    evaluated: the others are built (or not) alike."""
    changed = {s for s in before.keys() | after.keys() if before.get(s) != after.get(s)}
    built, unbuilt = [], []
    for path, rule in kbuild_map.modules.items():
        if not any(c.symbol in changed for alt in (*rule.module_alternatives, *rule.builtin_alternatives)
                   for c in alt):
            continue
        was = kbuild_map.evaluate(path, before).state == "module"
        now = kbuild_map.evaluate(path, after).state == "module"
        if now and not was:
            built.append(path)
        elif was and not now:
            unbuilt.append(path)
    return sorted(built), sorted(unbuilt)


def _gate_modules(arch: str, base_findings: list[Finding], head_findings: list[Finding]) -> GateResult:
    def counts(findings: list[Finding]) -> dict[str, int]:
        out = {"error": 0, "warning": 0}
        for f in findings:
            if f.level in out:
                out[f.level] += 1
        return out

    def key(f: Finding) -> tuple[str, str | None, str]:
        return (f.kind, f.entry, f.message)

    before_errors = {key(f): f for f in base_findings if f.level == "error"}
    after_errors = {key(f): f for f in head_findings if f.level == "error"}
    return GateResult("modules", arch, counts(base_findings), counts(head_findings),
                      [f for k, f in after_errors.items() if k not in before_errors],
                      [f for k, f in before_errors.items() if k not in after_errors])


def _extensions_broken(kmap: KbuildMap, unbuilt: Sequence[str], extension_lists: Sequence[ExtensionList], arch: str,
                       before: Mapping[str, str], after: Mapping[str, str]) -> list[ExtensionBreak]:
    """Each module an extension ships on `arch` that the change stops building, with the symbols on
    its Kbuild conditions that changed (drivers/usb-modem's cdc-phonet.ko, CONFIG_PHONET now n)."""
    gone = set(unbuilt)
    out = []
    for ext in extension_lists:
        if arch not in ext.arches:
            continue
        for entry in ext.module_list.entries:
            if entry not in gone:
                continue
            rule = kmap.rule(entry)
            symbols = [] if rule is None else [c.symbol for alt in rule.module_alternatives for c in alt
                                               if before.get(c.symbol) != after.get(c.symbol)]
            out.append(ExtensionBreak(ext.extension, entry, ext.file_name,
                                      tuple((s, after.get(s) or "n") for s in dict.fromkeys(symbols))))
    return out


def change_report(base_configs: Mapping[str, Config], head_configs: Mapping[str, Config],
                  kbuild: Mapping[str, KbuildMap], *, base_lists: Mapping | None = None,
                  head_lists: Mapping | None = None, base_label: str = "base", head_label: str = "head",
                  base_list_version: str | None = None, head_list_version: str | None = None,
                  history: HistoryIndex | None = None, notes: Sequence[str] = (),
                  extension_lists: Sequence[ExtensionList] = (), devices: Sequence[Device] = (),
                  device_index: DeviceIndex | None = None) -> ChangeReport:
    """The change from `base_configs` to `head_configs` ({arch: Config}, loaded against the same
    tree per arch) with `kbuild` maps per arch; module lists ({arch: ModuleList}) when there are, and
    the system extensions' lists (the extensions a change breaks are named); with `devices` (a
    hardware capture) and the source's `device_index`, the devices whose support the change moves."""
    arches = [a for a in ARCHES if a in head_configs and a in base_configs]
    tree_version = next(iter(head_configs.values())).tree.version
    report = ChangeReport(base_label, head_label, tree_version, notes=list(notes))
    lookup = None
    if devices and device_index is not None:
        from .hardware import DeviceMatcher, ModuleLocator

        lookup = DeviceMatcher(device_index), ModuleLocator(device_index, kbuild)
        report.devices_given = len(devices)
    for arch in arches:
        base, head = base_configs[arch], head_configs[arch]
        lines, requested, drift, base_values = _config_changes(base, head)
        one = ArchChange(arch, base.source, head.source, lines, requested, drift=drift)
        kmap = kbuild.get(arch)
        head_values = head.written()
        if kmap is not None:
            one.built, one.unbuilt = modules_changed(kmap, base_values, head_values)
            one.extensions_broken = _extensions_broken(kmap, one.unbuilt, extension_lists, arch, base_values,
                                                       head_values)
            one.workloads_broken, one.workloads_fixed = _workloads(head, kmap, base_values, head_values,
                                                                   base_lists, head_lists, arch)
            if lookup is not None:
                from .hardware import device_changes

                one.devices = device_changes(list(devices), *lookup, arch, base_values, head_values,
                                             (base_lists or {}).get(arch), (head_lists or {}).get(arch))
        if head_lists and base_lists and arch in head_lists and arch in base_lists and kmap is not None:
            one.has_lists = True
            old_entries, new_entries = base_lists[arch].entries, head_lists[arch].entries
            one.list_added = [e for e in new_entries if e not in set(old_entries)]
            one.list_removed = [e for e in old_entries if e not in set(new_entries)]
            one.listed = frozenset(new_entries)
            checked_before = check_module_lists({arch: base_lists[arch]}, {arch: base_values}, {arch: kmap},
                                                tree_version=tree_version, list_version=base_list_version,
                                                unlisted=False)
            checked_after = check_module_lists({arch: head_lists[arch]}, {arch: head_values}, {arch: kmap},
                                               tree_version=tree_version, list_version=head_list_version,
                                               unlisted=False)
            one.gates.append(_gate_modules(arch, checked_before, checked_after))
        if history is not None:
            for c in lines:
                if c.kind == "change":
                    record = history.last_change(c.symbol, arch)
                    if record is not None:
                        one.history[c.symbol] = record
        report.arches[arch] = one
    return report


def _workloads(head: Config, kmap: KbuildMap, before: Mapping[str, str], after: Mapping[str, str],
               base_lists: Mapping | None, head_lists: Mapping | None, arch: str) -> tuple[list[str], list[str]]:
    """The workloads' requirements the change breaks (met on the base, failing on the head) and the
    ones it meets again, as messages."""
    from . import requirements as rq

    profiles = rq.load_profiles()
    resolved = rq.resolve(rq.select(profiles), head, kmap)

    def shipped(lists: Mapping | None) -> frozenset[str] | None:
        return frozenset(lists[arch].entries) if lists and arch in lists else None

    was = rq.evaluate(resolved, before, shipped(base_lists))
    now = rq.evaluate(resolved, after, shipped(head_lists))
    return ([rq.change_finding(s, profiles=profiles).message for s in rq.broken(was, now)],
            [rq.change_finding(s, broken=False, profiles=profiles).message for s in rq.broken(now, was)])


def version_notes(base: Sequence[VersionCheck], head: Sequence[VersionCheck]) -> list[str]:
    """The version notes of both sides, each said once: what both the base and the head say (their
    Pkgfile and config headers one stable release behind the tree, as a rule) is one note for both."""
    def same(check: VersionCheck) -> tuple:
        return check.kind, check.tree_version, check.other_version, check.what

    base_keys, head_keys = {same(c) for c in base}, {same(c) for c in head}
    both = [c for c in head if same(c) in base_keys]
    notes = [f"base and head: {c.message}" for c in grouped(both)]
    notes += [f"base: {c.message}" for c in grouped(c for c in base if same(c) not in head_keys)]
    notes += [f"head: {c.message}" for c in grouped(c for c in head if same(c) not in base_keys)]
    return notes


def session_change_report(base: ChangeSession, head: ChangeSession, *, base_label: str = "base", head_label: str = "head",
                          history: HistoryIndex | None = None, devices: Sequence[Device] = (),
                          device_index: DeviceIndex | None = None) -> ChangeReport:
    """:func:`change_report` of two Sessions (the base and the head) over one kernel tree: the
    head's Kbuild maps serve both, module lists come from each talos checkout when both have one."""
    kbuild = {arch: head.kbuild_map(arch) for arch in head.configs}
    base_lists = base.load_module_lists(missing_ok=True) if base.inputs.talos is not None else None
    head_lists = head.load_module_lists(missing_ok=True) if head.inputs.talos is not None else None
    notes = version_notes(base.version_checks(), head.version_checks())
    load_extensions = getattr(head, "load_extension_lists", None)
    extension_lists = load_extensions() if load_extensions is not None else []
    return change_report(base.configs, head.configs, kbuild, base_lists=base_lists, head_lists=head_lists,
                         base_label=base_label, head_label=head_label,
                         base_list_version=base.list_version(), head_list_version=head.list_version(),
                         history=history, notes=notes, extension_lists=extension_lists, devices=devices,
                         device_index=device_index)


__all__ = ["KINDS", "SET_BY_CHANGE", "ArchChange", "ChangeReport", "GateResult", "LineChange", "change_report",
           "config_changes", "file_values", "modules_changed", "session_change_report"]
