"""Module lists on the new tree: what becomes of each listed ``.ko`` (unchanged, moved, renamed,
split, gone, not built), the modules newly built, and the proposed edits that keep the
lists' ``LC_ALL=C`` order."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import kconfiglib
from kconfiglib import BOOL

from talosnb.core import layout
from talosnb.kbuild import KbuildMap, module_name, normalize_value
from talosnb.kconfig.config import Config
from talosnb.kconfig.explain import location

from ..findings import Finding
from ..modules import ModuleList, check_module_lists
from .rules import section_finding
from .view import ArchView


@dataclass(frozen=True)
class ModuleEdit:
    """One proposed change to a module list: drop ``remove``, add ``add``, for ``reason``.
    ``list_id``: an extension's list (extensions/NAME); None: talos's list of ``arch``."""

    arch: str
    kind: str                     # moved, renamed, split, needs, gone, not-built, unknown
    entry: str                    # the listed entry it is about
    remove: tuple[str, ...]
    add: tuple[str, ...]
    reason: str
    list_id: str | None = None

    @property
    def key(self) -> str:
        """A stable name for accepting or rejecting this edit (arch:kind:entry, after the
        extension's list as extensions/NAME: when it is one)."""
        key = f"{self.arch}:{self.kind}:{self.entry}"
        return f"{self.list_id}:{key}" if self.list_id else key

    def as_dict(self) -> dict:
        return {"key": self.key, "list": self.list_id or "talos", "arch": self.arch, "kind": self.kind,
                "entry": self.entry,
                "remove": list(self.remove), "add": list(self.add), "reason": self.reason}


@dataclass(frozen=True)
class ModuleStatus:
    """What becomes of one listed .ko on the new tree."""

    arch: str
    entry: str
    where: str
    status: str                   # unchanged, moved, renamed, split, needs, gone, not-built, unknown, metadata
    new_entries: tuple[str, ...]
    symbols: tuple[str, ...]
    detail: str = ""


def _own_symbols(kmap: KbuildMap | None, entry: str) -> tuple[str, ...]:
    rule = kmap.rule(entry) if kmap is not None else None
    return rule.own_symbols if rule is not None else ()


def _symbol_fate(view: ArchView, symbol: str, kmap: KbuildMap) -> str:
    new = view.new
    if not new.has_symbol(symbol):
        return f"CONFIG_{symbol} is not defined in {view.to_version}"
    sym = new.kconf.syms[symbol]
    if sym in view.hidden:
        targets = view.successors.get(symbol, [])
        return (f"CONFIG_{symbol} is transitional (renamed to "
                + ", ".join(f"CONFIG_{n}" for n, _ in targets) + "), and that builds no module")
    if sym.orig_type is BOOL:
        return f"CONFIG_{symbol} is a bool in {view.to_version} ({location(sym)}): it can only be built in"
    return f"CONFIG_{symbol} ({location(sym)}) builds no module in {view.to_version}"


def modules_built_fast(kmap: KbuildMap, values: Mapping[str, str]) -> set[str]:
    """The ``.ko`` files ``values`` build as modules (as :func:`modules.modules_built`), testing
    only those one of whose own symbols is ``m``: nothing else can be in obj-m."""
    out = set()
    for path, rule in kmap.modules.items():
        if any(values.get(s) == "m" for s in rule.own_symbols) and kmap.evaluate(path, values).state == "module":
            out.add(path)
    return out


def module_changes(module_list: ModuleList, view: ArchView | Config, new_kbuild: KbuildMap, *,
                   old_kbuild: KbuildMap | None = None, not_honoured: Mapping[str, str] | None = None,
                   label: str | None = None, list_id: str | None = None, file_name: str | None = None,
                   newly_built: bool = True) -> tuple[list[ModuleStatus], list[Finding], list[ModuleEdit]]:
    """Each entry of ``module_list`` against the new tree: statuses, findings, proposed edits.

    Moved: the same file name at another path, built by the same symbol (or, without the
    current tree's map, by any). Renamed: the symbol that built it builds one differently
    named ``.ko`` now. Split: it builds several (the list needs those built as ``=m``).
    Gone: nothing builds it, with the symbol's fate. Not built: the path is there but the
    new config doesn't build it as a module (``not_honoured``: symbol -> the choice not
    honoured behind it). Then the ``.ko`` files newly built as modules: those a listed
    module's symbol selects (a library split out, e.g. stmmac_libpci) are needed, the
    others informational. ``label`` names the list in file:line (default: its path).
    ``list_id``/``file_name``: an extension's list (its edits carry the id, its fixes name the file);
    ``newly_built=False`` leaves the newly built modules out (said once, with talos's list).
    """
    view = view if isinstance(view, ArchView) else ArchView(view)
    arch, to_version = view.arch, view.to_version
    # the list checked against the new tree as it is: which present entries are not =m, and why
    problems = {f.entry: f for f in check_module_lists({arch: module_list}, {arch: view.values}, {arch: new_kbuild},
                                                       tree_version=to_version, list_version=to_version,
                                                       unlisted=False)
                if f.kind in ("builtin", "not-built")}
    walk = _ModuleWalk(view, new_kbuild, old_kbuild, not_honoured or {}, set(module_list.entries), problems,
                       list_id, file_name or layout.module_list_name(arch))
    for _index, entry, where in module_list.numbered():
        if label is not None:
            where = label + where[len(module_list.name):]
        walk.entry(entry, where)
    if not newly_built:
        return walk.statuses, walk.findings, walk.edits
    findings_new, edits_new = _newly_built(module_list, view, new_kbuild, old_kbuild, walk.listed | walk.targets)
    return walk.statuses, walk.findings + findings_new, walk.edits + edits_new


@dataclass
class _ModuleWalk:
    """module_changes' walk over one list's entries: what it found so far, and the successors taken."""

    view: ArchView
    new_kbuild: KbuildMap
    old_kbuild: KbuildMap | None
    not_honoured: Mapping[str, str]
    listed: set[str]
    problems: dict[str | None, Finding]
    list_id: str | None
    file_name: str
    targets: set[str] = field(default_factory=set)
    statuses: list[ModuleStatus] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    edits: list[ModuleEdit] = field(default_factory=list)

    def built(self, path: str) -> bool:
        return self.new_kbuild.evaluate(path, self.view.values).state == "module"

    def entry(self, entry: str, where: str) -> None:
        arch = self.view.arch
        if not entry.endswith(".ko"):
            self.statuses.append(ModuleStatus(arch, entry, where, "metadata", (), ()))
            return
        symbols = _own_symbols(self.old_kbuild, entry) or _own_symbols(self.new_kbuild, entry)
        common = {"where": where, "to_version": self.view.to_version}
        if self.new_kbuild.rule(entry) is not None:
            if entry in self.problems:
                self._not_built(entry, where, symbols, common)
            elif not self._split(entry, where, symbols, common):
                self.statuses.append(ModuleStatus(arch, entry, where, "unchanged", (), symbols))
            return
        successor, kind, how = _successor(entry, symbols, self.new_kbuild, self.old_kbuild)
        if kind is None:
            self._gone(entry, where, symbols, common)
        else:
            self._succeeded(entry, where, symbols, common, successor, kind, how)

    def _not_built(self, entry: str, where: str, symbols: tuple[str, ...], common: dict[str, Any]) -> None:
        """The path is there, but the new config doesn't build it as a module."""
        arch = self.view.arch
        problem = self.problems[entry]
        reason = problem.message.split(": ", 1)[-1] if problem.kind == "not-built" else problem.message
        behind = [f"{self.not_honoured[s]}" for s in problem.symbols if s in self.not_honoured]
        if behind:
            reason += "; that is a choice not honoured: " + "; ".join(behind)
        fix = f"drop {entry} from {self.file_name}"
        if problem.fix and "drop" not in problem.fix:
            fix += f", or keep it with {problem.fix}"
        self.statuses.append(ModuleStatus(arch, entry, where, "not-built", (), problem.symbols, reason))
        self.findings.append(section_finding("modules", "module-not-built", arch, entry, symbols=problem.symbols,
                                      values=problem.values, reason=reason, fix_text=fix, **common))
        self.edits.append(ModuleEdit(arch, "not-built", entry, (entry,), (), reason, self.list_id))

    def _split(self, entry: str, where: str, symbols: tuple[str, ...], common: dict[str, Any]) -> bool:
        """Whether the symbol that builds `entry` now also builds others (recorded if so)."""
        arch = self.view.arch
        split = _split_off(entry, symbols, self.new_kbuild, self.old_kbuild, self.listed | self.targets)
        if not split:
            return False
        wanted = [p for p in split if self.built(p)]
        named = ", ".join(f"CONFIG_{s}" for s in symbols)
        how = f" (built with {named}=m)" if wanted else " (not built as a module by the new config)"
        self.statuses.append(ModuleStatus(arch, entry, where, "split", tuple(split), symbols, how.strip()))
        self.findings.append(section_finding("modules", "module-split", arch, entry, symbols=symbols,
                                      new_entries=", ".join(split), how=how, **common))
        if wanted:
            self.targets.update(wanted)
            self.edits.append(ModuleEdit(arch, "split", entry, (), tuple(wanted),
                                         f"{named} now also builds {', '.join(wanted)}", self.list_id))
        return True

    def _gone(self, entry: str, where: str, symbols: tuple[str, ...], common: dict[str, Any]) -> None:
        """Nothing on the new tree builds `entry`: unknown without the current tree, else gone with its
        symbols' fate."""
        arch, to_version = self.view.arch, self.view.to_version
        if self.old_kbuild is None:
            near = self.new_kbuild.find(entry)
            suggestion = f"; similar names: {', '.join(near[:3])}" if near else ""
            self.statuses.append(ModuleStatus(arch, entry, where, "unknown", (), ()))
            self.findings.append(section_finding("modules", "module-unknown", arch, entry, suggestion=suggestion,
                                          **common))
            self.edits.append(ModuleEdit(arch, "unknown", entry, (entry,), (),
                                         f"not in {to_version}; without the current tree its successor can't "
                                         "be told", self.list_id))
            return
        fate = "; ".join(_symbol_fate(self.view, s, self.new_kbuild) for s in symbols) or \
            "no Makefile line of the current tree builds it either"
        self.statuses.append(ModuleStatus(arch, entry, where, "gone", (), symbols, fate))
        self.findings.append(section_finding("modules", "module-gone", arch, entry, symbols=symbols, fate=fate, **common))
        self.edits.append(ModuleEdit(arch, "gone", entry, (entry,), (), fate, self.list_id))

    def _succeeded(self, entry: str, where: str, symbols: tuple[str, ...], common: dict[str, Any],
                   successor: Sequence[str], kind: str, how: str) -> None:
        """`entry` moved, renamed or split on the new tree."""
        arch = self.view.arch
        wanted = [p for p in successor if self.built(p)] or list(successor)
        add = tuple(p for p in wanted if p not in self.listed and p not in self.targets)
        self.targets.update(wanted)
        not_built = [p for p in wanted if not self.built(p)]
        if not_built:
            how += f" (not built as a module by the new config: {', '.join(not_built)})"
        already = [p for p in wanted if p in self.listed]
        self.statuses.append(ModuleStatus(arch, entry, where, kind, tuple(successor), symbols, how.strip()))
        if kind == "moved":
            self.findings.append(section_finding("modules", "module-moved", arch, entry, symbols=symbols,
                                          new_entry=", ".join(successor), how=how, **common))
            reason = f"moved to {', '.join(successor)}{how}"
        elif kind == "renamed":
            edit_text = (f"drop {entry}: {', '.join(already)} is listed already" if already and not add
                         else f"replace {entry} with {', '.join(wanted)} in {self.file_name}")
            self.findings.append(section_finding("modules", "module-renamed", arch, entry, symbols=symbols,
                                          new_entry=", ".join(successor),
                                          how=how + ("; already listed" if already else ""),
                                          edit_text=edit_text, **common))
            reason = (f"CONFIG_{symbols[0]} builds " if symbols else "now ") + ", ".join(successor) + \
                (" (already listed)" if already else "") + how
        else:
            self.findings.append(section_finding("modules", "module-split", arch, entry, symbols=symbols,
                                          new_entries=", ".join(wanted), how=how, **common))
            reason = (f"CONFIG_{symbols[0]} builds " if symbols else "split into ") + ", ".join(wanted) + how
        self.edits.append(ModuleEdit(arch, kind, entry, (entry,), add, reason.strip(), self.list_id))


def _newly_built(module_list: ModuleList, view: ArchView, new_kbuild: KbuildMap, old_kbuild: KbuildMap | None,
                 known: set[str]) -> tuple[list[Finding], list[ModuleEdit]]:
    """``.ko`` files built as modules on the new tree that were not on the current one (and are
    neither listed nor a successor of a listed one). One whose symbol a listed module's symbol
    selects is needed by it (``insmod`` of the listed module wants it: a library split out,
    stmmac-pci.ko -> stmmac_libpci.ko); the others are informational."""
    if old_kbuild is None or view.old_values is None:
        return [], []
    arch = view.arch
    newly = sorted(p for p in modules_built_fast(new_kbuild, view.values) - known
                   if not (old_kbuild.rule(p) is not None
                           and old_kbuild.evaluate(p, view.old_values).state == "module"))
    by_symbol = _listed_symbols(module_list, new_kbuild, old_kbuild)
    findings: list[Finding] = []
    edits: list[ModuleEdit] = []
    for path in newly:
        symbols = _own_symbols(new_kbuild, path)
        needed_by: list[tuple[str, str, str | None]] = []     # (selector, listed entry, select's file:line)
        for symbol in symbols:
            sym = view.new.kconf.syms.get(symbol)
            if sym is None:
                continue
            for selector, where in _selectors(sym):
                for entry in by_symbol.get(selector, []):
                    needed_by.append((selector, entry, where))
        values = {s: normalize_value(view.values.get(s)) for s in symbols}
        rule = new_kbuild.rule(path)
        own = [c for c in rule.conditions if c.kind == "module"] if rule else []
        if needed_by:
            how = "; ".join(f"{entry} (CONFIG_{selector} selects CONFIG_{symbols[0]}, {where})"
                            for selector, entry, where in needed_by[:4])
            if len(needed_by) > 4:
                how += f"; and {len(needed_by) - 4} more"
            findings.append(section_finding("modules", "module-needs", arch, path, symbols=symbols, values=values,
                                     where=own[0].where if own else None, how=how, to_version=view.to_version,
                                     details={"needed_by": ",".join(sorted({e for _, e, _ in needed_by}))}))
            edits.append(ModuleEdit(arch, "needs", path, (), (path,), f"needed by {how}"))
        else:
            findings.append(section_finding("modules", "module-new", arch, path, symbols=symbols, values=values,
                                     where=own[0].where if own else None, to_version=view.to_version))
    return findings, edits


def _split_off(entry: str, symbols: Sequence[str], new_kbuild: KbuildMap, old_kbuild: KbuildMap | None,
               known: set[str]) -> list[str]:
    """The ``.ko`` files the symbols building ``entry`` build on the new tree beyond those they
    built on the current one (a module split in two), not listed yet. Needs the current map."""
    if old_kbuild is None or not symbols:
        return []
    before = {p for s in symbols for p in old_kbuild.symbol_modules(s)}
    after = {p for s in symbols for p in new_kbuild.symbol_modules(s)}
    return sorted(after - before - known - {entry})


def _successor(entry: str, symbols: Sequence[str], new_kbuild: KbuildMap, old_kbuild: KbuildMap | None
               ) -> tuple[list[str], str | None, str]:
    """(paths that take over from ``entry``, kind, how) on the new tree; kind None: none."""
    base = posixpath.basename(entry)
    by_symbol = sorted({p for s in symbols for p in new_kbuild.symbol_modules(s)})
    if by_symbol:
        same = [p for p in by_symbol if posixpath.basename(p) == base]
        named = ", ".join(f"CONFIG_{s}" for s in symbols)
        if same:
            return same, "moved", f" (still built by {named})"
        if len(by_symbol) == 1:
            return by_symbol, "renamed", ""
        return by_symbol, "split", ""
    # nothing the old symbol builds: the same module somewhere else, built by another symbol
    found = [p for p in new_kbuild.find(entry) if module_name(p) == module_name(entry)]
    if found:
        same = [p for p in found if posixpath.basename(p) == base]
        paths = same or found
        owners = sorted({s for p in paths for s in _own_symbols(new_kbuild, p)})
        how = f" (built by {', '.join(f'CONFIG_{s}' for s in owners)})" if owners and old_kbuild is not None \
            and set(owners) != set(symbols) else ""
        return paths, "moved" if same else "renamed", how
    return [], None, ""


def _listed_symbols(module_list: ModuleList, new_kbuild: KbuildMap, old_kbuild: KbuildMap) -> dict[str, list[str]]:
    """Symbol -> listed entries it builds (as the new map or the current one says)."""
    out: dict[str, list[str]] = {}
    for entry in module_list.entries:
        for symbol in _own_symbols(new_kbuild, entry) or _own_symbols(old_kbuild, entry):
            out.setdefault(symbol, []).append(entry)
    return out


def _selectors(sym: kconfiglib.Symbol) -> list[tuple[str, str | None]]:
    """(symbol, file:line of its select line) of each symbol that selects ``sym``."""
    from talosnb.kconfig.explain import selector_of
    out: list[tuple[str, str | None]] = []
    for term in kconfiglib.split_expr(sym.rev_dep, kconfiglib.OR):
        selector = selector_of(term)
        if selector is None or any(name == selector.name for name, _ in out):
            continue
        where = next((f"{node.filename}:{node.linenr}" for node in selector.nodes
                      for target, _ in node.selects if target is sym), location(selector))
        out.append((selector.name, where))
    return out


def proposed_list(module_list: ModuleList, edits: Iterable[ModuleEdit], kbuild: KbuildMap | None = None,
                  *, accepted: Iterable[str] | None = None, list_id: str | None = None) -> ModuleList:
    """A copy of ``module_list`` with the edits applied (only the ``accepted`` keys, when given):
    entries dropped and added at their ``LC_ALL=C sort`` place (an extension's list: added last, as
    it keeps no order), nothing else moved. ``list_id``: the extension's list it is (None: talos's)."""
    copy = ModuleList.parse(module_list.text(), module_list.arch, path=module_list.path,
                            snapshot=module_list.snapshot)
    copy.c_sorted = module_list.c_sorted
    apply_edits(copy, edits, kbuild, accepted=accepted, list_id=list_id)
    return copy


def apply_edits(module_list: ModuleList, edits: Iterable[ModuleEdit], kbuild: KbuildMap | None = None, *,
                accepted: Iterable[str] | None = None, list_id: str | None = None) -> list[ModuleEdit]:
    """Apply the edits for this list's arch (and ``list_id``: None for talos's) to it in place
    (:meth:`ModuleList.remove`/``add``); returns those applied."""
    chosen = set(accepted) if accepted is not None else None
    done = []
    for one in edits:
        if one.arch != module_list.arch or one.list_id != list_id or (chosen is not None and one.key not in chosen):
            continue
        gone = [e for e in one.remove if e in module_list.entries]
        if gone:
            module_list.remove(gone)
        new = [e for e in one.add if e not in module_list.entries]
        if new:
            module_list.add(new, kbuild=kbuild)
        done.append(one)
    return done
