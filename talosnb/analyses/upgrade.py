"""Moving a Talos config and its module lists to a new kernel, with everything that changes explained.

A kernel bump changes what ``make olddefconfig`` writes from the same config, and
which ``.ko`` files the module lists may name. This module works it out from loaded
objects — the config loaded against the new tree (and, when it can be had, against
the tree the checkout uses now), both trees' Kbuild maps, the module lists, the
pkgs patches and the Pkgfile — and states it as data:

- **choices not honoured**: every line the config sets (a visible symbol's value, or
  ``is not set``) that the new tree writes differently, with the reason as a why-not
  tree with ``file:line`` in the new tree (removed; renamed, read from the new
  tree's ``transitional`` symbols; a choice member gone; a new dependency unmet; a
  range changed) and a verified fix where one exists. A bump breaks these silently.
- **new symbols**: visible in the new tree with no line in the config, as the
  kernel's ``conf --listnewconfig`` lists them (``check_conf`` in
  scripts/kconfig/conf.c), with the value olddefconfig gives, prompt, help, menu;
- **removed symbols**: config lines the new tree doesn't define;
- **module lists**: each listed ``.ko`` against the new tree's Kbuild map
  (unchanged, moved, renamed, split, gone, not built), the newly built ``=m``
  modules, and a proposed edit that keeps upstream's ``LC_ALL=C`` order;
- **patches**: each pkgs patch on the new tree (applies, already upstream, fails);
- **the bump**: the Pkgfile's ``linux_version``/``linux_sha256``/``linux_sha512``.

Everything is a :class:`~talosnb.analyses.findings.Finding` row (rules as data in
:data:`RULES`, section in ``details["section"]``), plus DataFrames for notebooks.
What can't be computed (no current tree, no module lists) is said in
:attr:`UpgradeReport.not_computed`, never guessed.
"""

from __future__ import annotations

import functools
import posixpath
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

import kconfiglib
from kconfiglib import BOOL, HEX, INT, STRING, TRISTATE, expr_value

from talosnb.core import dotconfig
from talosnb.core.names import is_placeholder
from talosnb.kbuild import KbuildMap, module_name, normalize_value
from talosnb.kconfig.config import Config
from talosnb.kconfig.explain import Reason, cascade_reason, location
from talosnb.kconfig.info import menu_path

from .edit import Assignment, CascadeChange, Editor, Fix
from .findings import LEVELS, Finding, Rule, render, rule_table
from .findings import findings_frame as generic_frame
from .modules import ModuleList, check_module_lists

if TYPE_CHECKING:
    import pandas as pd

    from talosnb.inputs.patches import PatchReport

_T = TypeVar("_T")

SECTIONS = ("choices", "new", "removed", "modules", "patches", "bump")

SECTION_TITLES = {
    "choices": "Choices not honoured",
    "new": "New symbols",
    "removed": "Removed symbols",
    "modules": "Module lists",
    "patches": "Patches",
    "bump": "The bump",
}

RULES: dict[str, Rule] = rule_table(
    # --- choices not honoured: a line the config sets that the new tree writes differently
    Rule("removed", "error",
         "{line}: the {to_version} tree doesn't define {symbol}, so the line is dropped{replacement_text}",
         "{fix_text}"),
    Rule("renamed", "warning",
         "{line}: {symbol} is transitional in {to_version} ({transitional_at}), renamed to "
         "{renamed_to}; {carried_text}",
         "{fix_text}"),
    Rule("choice", "error", "{line} can't be kept: {reason}", "{fix_text}"),
    Rule("choice-pick", "error", "{line} becomes {new_line}: {reason}", "{fix_text}"),
    Rule("choice-member-gone", "error",
         "{line} becomes CONFIG_{symbol}=y: the config's selection of this choice, CONFIG_{old_selection}, "
         "is not in {to_version}; {symbol} is the choice's pick now ({choice_at})",
         "{fix_text}"),
    Rule("dependency", "error", "{line} can't be kept: {reason}", "{fix_text}"),
    Rule("range", "error", "{line} can't be kept: {reason}", "{fix_text}"),
    Rule("raised", "warning", "{line} becomes {new_line}: {reason}", "{fix_text}"),
    Rule("type", "warning", "{line} becomes {new_line}: {symbol} is a {new_type} in {to_version}", None),
    Rule("value", "warning", "{line} becomes {new_line}: {reason}", "{fix_text}"),
    Rule("hidden", "info", "{line} is no longer written (the value stays n): {reason}", None),
    # --- removed symbols: every config line the new tree doesn't define
    Rule("removed-symbol", "info",
         "{line}: not defined in {to_version}; writing drops the line{replacement_text}", None),
    # --- new symbols: visible in the new tree, no line in the config (conf --listnewconfig)
    Rule("new-symbol", "info", "CONFIG_{symbol}={value} is new in {to_version}: {prompt}", None),
    # --- module lists
    Rule("module-moved", "warning", "{entry} is at {new_entry} in {to_version}{how}",
         "replace {entry} with {new_entry} in modules-{arch}.txt"),
    Rule("module-renamed", "warning",
         "{entry}: CONFIG_{symbol} builds {new_entry} in {to_version} instead{how}", "{edit_text}"),
    Rule("module-split", "warning",
         "{entry}: CONFIG_{symbol} now also builds {new_entries}{how}", "add {new_entries} to modules-{arch}.txt"),
    Rule("module-needs", "warning",
         "{entry} is newly built as a module on {to_version}, and listed modules need it: {how}",
         "add {entry} to modules-{arch}.txt"),
    Rule("module-gone", "error", "{entry} is not in {to_version}: {fate}", "drop {entry} from modules-{arch}.txt"),
    Rule("module-not-built", "error", "{entry} is not built as a module on {to_version}: {reason}",
         "{fix_text}"),
    Rule("module-unknown", "warning",
         "{entry} is not in the {to_version} tree; without the current tree it can't tell whether it was "
         "renamed, split or dropped{suggestion}", "drop {entry} from modules-{arch}.txt, or list its successor"),
    Rule("module-new", "info",
         "{entry} is newly built as a module on {to_version} (CONFIG_{symbol}=m), not in modules-{arch}.txt",
         None),
    # --- patches
    Rule("patch-applies", "info", "{entry} applies to {to_version}{extra}", None),
    Rule("patch-upstream", "warning",
         "{entry}: its Kconfig/Kbuild changes are already in {to_version} (they apply reversed){extra}",
         "drop {entry} from kernel/build/patches once its other changes are upstream too: the build's "
         "patch -p1 fails on a patch already applied"),
    Rule("patch-partly-upstream", "warning",
         "{entry}: part of it is already in {to_version}: {files}{extra}",
         "drop the parts already upstream from {entry}"),
    Rule("patch-fails", "error", "{entry} does not apply to {to_version}: {problem}",
         "rebase {entry} onto {to_version}, or drop it"),
    Rule("patch-skipped", "info",
         "{entry} changes no Kconfig/Kbuild file; its other hunks can't be checked on a Kconfig tree{extra}", None),
    # --- the bump
    Rule("bump", "info", "Pkgfile {key}: {old} -> {new}", None),
    Rule("bump-no-hashes", "warning",
         "the Pkgfile's linux_sha256/linux_sha512 for {to_version} are unknown: {why}",
         "pass --sha256 and --sha512 (kernel.org's sha256sums.asc), or the tarball as --to-kernel-src"),
)


def _finding(section: str, kind: str, arch: str, entry: str | None, *, details: Mapping[str, Any] | None = None,
             **kwargs: Any) -> Finding:
    return render(RULES, kind, arch, entry, details={"section": section, **(details or {})}, **kwargs)


def _line(symbol: str, value: str | None) -> str:
    """A config line as conf writes it (value as written: strings quoted, 'n' for not set)."""
    if value is None:
        return f"(no CONFIG_{symbol} line)"
    return dotconfig.format_line(symbol, value)


@dataclass(frozen=True)
class ConfigLineAt:
    """One assignment line of the config file: the symbol, its value as written, file:line."""

    symbol: str
    value: str
    where: str

    @property
    def text(self) -> str:
        return _line(self.symbol, self.value)


def config_lines(config: Config, source: str | None = None) -> dict[str, ConfigLineAt]:
    """Every assignment of the config as loaded (the last one of a symbol wins, as in conf), each
    at ``source:line`` (default: where the config was loaded from)."""
    source = source or config.source
    out: dict[str, ConfigLineAt] = {}
    for linenr, raw in enumerate(dotconfig.split_lines(config.original_text), 1):
        parsed = dotconfig.parse_line(raw.rstrip())
        if parsed is not None:
            out[parsed.symbol] = ConfigLineAt(parsed.symbol, parsed.value, f"{source}:{linenr}")
    return out


class _WrittenValues(Mapping[str, str]):
    """Symbol -> the value a config's line would hold (no line: missing), evaluated per symbol
    when asked (``quoted``: strings as the file spells them, else as make reads them)."""

    def __init__(self, config: Config, *, quoted: bool) -> None:
        self._syms = config.kconf.syms
        self._hidden = config.transitional
        self._quoted = quoted
        self._cache: dict[str, str | None] = {}

    def _value(self, name: str) -> str | None:
        if name not in self._cache:
            sym = self._syms.get(name)
            value = None
            if sym is not None and sym.nodes and sym not in self._hidden and not is_placeholder(name):
                line = sym.config_string
                if line:
                    value = "n" if line.startswith("#") else (
                        dotconfig.quote(sym.str_value) if self._quoted and sym.orig_type is STRING else sym.str_value)
            self._cache[name] = value
        return self._cache[name]

    def __getitem__(self, name: str) -> str:
        value = self._value(name)
        if value is None:
            raise KeyError(name)
        return value

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str | _T) -> str | _T: ...
    def get(self, name: str, default: object = None) -> object:
        value = self._value(name)
        return default if value is None else value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._value(name) is not None

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._syms if self._value(name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class ArchView:
    """One arch's config on the new tree (and on the current one), with what every section
    reads from it worked out once: the file's lines, the new tree's written lines and values,
    the transitional renames and the help-text index."""

    def __init__(self, new: Config, old: Config | None = None, *, source: str | None = None) -> None:
        self.new = new
        self.old = old
        self.source = source or new.source   # how the config file is named in file:line
        self.arch = new.arch
        self.to_version = new.tree.version

    @functools.cached_property
    def lines(self) -> dict[str, ConfigLineAt]:
        return config_lines(self.new, self.source)

    @functools.cached_property
    def new_text(self) -> str:
        """The config as normalizing on the new tree writes it."""
        return self.new.text()

    @functools.cached_property
    def written(self) -> dict[str, str]:
        """Symbol -> value as the new tree writes it (strings quoted, 'n' for not set)."""
        return dotconfig.read_values(self.new_text)

    @functools.cached_property
    def values(self) -> dict[str, str]:
        """Symbol -> value on the new tree, as make sees the written file (for Kbuild)."""
        return self.new.written()

    @functools.cached_property
    def old_written(self) -> Mapping[str, str] | None:
        """What the current tree writes, per symbol (quoted as in the file); computed on demand,
        so the symbols no section asks about are never evaluated there."""
        return _WrittenValues(self.old, quoted=True) if self.old is not None else None

    @functools.cached_property
    def old_values(self) -> Mapping[str, str] | None:
        return _WrittenValues(self.old, quoted=False) if self.old is not None else None

    @functools.cached_property
    def hidden(self) -> frozenset:
        return self.new.transitional

    @functools.cached_property
    def successors(self) -> dict[str, list[tuple[str, str]]]:
        return transitional_successors(self.new)

    def defines(self, name: str) -> bool:
        """Whether the new tree defines ``name`` as a symbol a config writes (not transitional)."""
        sym = self.new.kconf.syms.get(name)
        return sym is not None and self.new.has_symbol(name) and sym not in self.hidden

    @functools.cached_property
    def _mentions(self) -> dict[str, list[tuple[str, str]]]:
        import re

        names = {line.symbol for line in self.lines.values() if not self.defines(line.symbol)}
        if not names:
            return {}
        word = re.compile(r"\b(?:CONFIG_)?([A-Z0-9_]{3,})")
        found: dict[str, set[tuple[str, str]]] = {}
        for sym in self.new.kconf.unique_defined_syms:
            for node in sym.nodes:
                if node.help and sym not in self.hidden:
                    for name in set(word.findall(node.help)) & names:
                        if name != sym.name:
                            found.setdefault(name, set()).add((sym.name, f"{node.filename}:{node.linenr}"))
        return {name: sorted(pairs) for name, pairs in found.items()}

    def help_mentions(self, name: str) -> list[tuple[str, str]]:
        """The symbols whose help text names ``name`` (a config line's symbol the new tree
        doesn't define), with file:line: where a tree says what replaced a removed option."""
        return self._mentions.get(name, [])

    def set_by_config(self, name: str) -> bool | None:
        """Whether the config sets this line: the symbol's prompt is visible on the tree it was
        made for (conf writes a visible symbol's value or 'is not set', an invisible one only
        when it has a value). None: unknown, there is no current tree."""
        if self.old is None:
            return None
        sym = self.old.kconf.syms.get(name)
        if sym is None or not self.old.has_symbol(name) or sym in self.old.transitional:
            return False
        return bool(sym.visibility) and any(node.prompt for node in sym.nodes)


# --------------------------------------------------------------------------- choices not honoured

@dataclass
class ChoiceNotHonoured:
    """A line the config sets that the new tree changes: the finding, the why-not tree, the fix."""

    finding: Finding
    reasons: list[Reason] = field(default_factory=list)
    fix: Fix | None = None

    @property
    def symbol(self) -> str:
        return self.finding.symbols[0]

    def as_dict(self) -> dict:
        return {**self.finding.as_dict(), "reasons": [r.as_dict() for r in self.reasons],
                "verified_fix": None if self.fix is None else self.fix.as_dict()}

    def text(self, *, children: int = 3, depth: int = 6) -> str:
        """Finding, why-not tree (at most ``children`` conditions per level, ``depth`` levels)
        and fix, for a terminal."""
        f = self.finding
        out = [f"{f.level:7} {f.kind:18} {_short(f.message)}", f"        at {f.where}"]
        for reason in self.reasons:
            out += reason_lines(reason, 3, children=children, depth=depth)
        if f.fix:
            out.append(f"        fix: {f.fix}")
        return "\n".join(out)


def _short(text: str, width: int = 240) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def reason_lines(reason: Reason, indent: int = 0, *, children: int = 3, depth: int = 6) -> list[str]:
    """A why-not tree as lines, like :meth:`Reason.lines` but cut for a terminal: long
    conditions shortened, at most ``children`` per level and ``depth`` levels."""
    where = f" ({reason.where})" if reason.where else ""
    mark = " [fixed]" if reason.fixed else ""
    out = ["  " * indent + "- " + _short(reason.text, 200) + where + mark]
    if depth <= 1:
        if reason.children:
            out.append("  " * (indent + 1) + f"... ({len(reason.children)} more condition(s))")
        return out
    for child in reason.children[:children]:
        out += reason_lines(child, indent + 1, children=children, depth=depth - 1)
    if len(reason.children) > children:
        out.append("  " * (indent + 1) + f"... and {len(reason.children) - children} more")
    return out


def transitional_successors(config: Config) -> dict[str, list[tuple[str, str]]]:
    """Transitional symbol -> [(symbol, file:line of its default)] whose default reads it.

    A Linux 7.x rename keeps the old name as a ``transitional`` symbol (read from an old
    .config, never written, scripts/kconfig/parser.y) and gives the new one
    ``default OLD``: the tree says what replaces the old line.
    """
    hidden = config.transitional
    if not hidden:
        return {}
    out: dict[str, list[tuple[str, str]]] = {}
    # kconfiglib links each symbol to the ones whose value reads it (_dependents, for
    # invalidation): the candidates, instead of every default of the tree.
    readers = {dep for old in hidden for dep in getattr(old, "_dependents", ())
               if isinstance(dep, kconfiglib.Symbol)}
    for sym in sorted(readers, key=lambda s: s.name):
        if sym in hidden:
            continue
        for node in sym.nodes:
            for value, cond in node.defaults:
                for item in kconfiglib.expr_items(value) | kconfiglib.expr_items(cond):
                    if item in hidden:
                        pair = (sym.name, f"{node.filename}:{node.linenr}")
                        if pair not in out.setdefault(item.name, []):
                            out[item.name].append(pair)
    return {k: sorted(v) for k, v in out.items()}


def _replacement_text(view: ArchView, symbol: str) -> str:
    if symbol in view.successors:
        return "; replaced by " + ", ".join(f"CONFIG_{n} ({w})" for n, w in view.successors[symbol])
    mentions = view.help_mentions(symbol)
    if mentions:
        return "; the help of " + ", ".join(f"CONFIG_{n} ({w})" for n, w in mentions[:3]) + " names it"
    return ""


def _assignment_value(sym: kconfiglib.Symbol, written: str) -> str:
    return dotconfig.unquote(written) if sym.orig_type is STRING else written


def _tri(value: str | None) -> int:
    return {"y": 2, "m": 1}.get(value or "n", 0)


class _FixBudget:
    """The time the verified-fix search may take over a whole report, shared by every line."""

    def __init__(self, seconds: float, per_fix: float, candidates: int) -> None:
        self.deadline = time.perf_counter() + seconds
        self.per_fix = per_fix
        self.candidates = candidates
        self.skipped = 0
        self.found: dict[str, list[Fix]] = {}   # arch -> the fixes found so far, to try first

    def left(self) -> float:
        return self.deadline - time.perf_counter()


def choices_not_honoured(view: ArchView | Config, old: Config | None = None, *, fixes: bool = True,
                         fix_seconds: float = 2.0, fix_budget: int = 40, editor: Editor | None = None,
                         budget: _FixBudget | None = None) -> list[ChoiceNotHonoured]:
    """Every line the config file sets that the new tree writes differently, with the reason
    in the new tree and a verified fix (errors first, then in file order).

    ``view`` is the config loaded against the new tree (or an :class:`ArchView` of it and
    ``old``, the same file loaded against the current tree). "Sets" means the symbol's
    prompt is visible on the current tree; without it that can't be told, so every changed
    line is listed (``details["set_by_config"]`` is then None). ``fixes`` searches verified
    fixes (:meth:`Editor.find_fix`), all of them together in at most ``fix_seconds``.
    """
    view = view if isinstance(view, ArchView) else ArchView(view, old)
    new = view.new
    editor = editor or Editor(new)
    budget = budget or _FixBudget(fix_seconds, per_fix=max(0.05, fix_seconds / 4), candidates=fix_budget)
    written = view.written
    out: list[ChoiceNotHonoured] = []
    for name, line in view.lines.items():
        new_value = written.get(name)
        if new_value == line.value:
            continue
        set_by_config = view.set_by_config(name)
        if set_by_config is False:
            continue
        old_written = view.old_written
        details = {"set_by_config": set_by_config, "old": line.value, "new": new_value,
                   "current_tree_too": (old_written.get(name) != line.value) if old_written is not None else None,
                   "defined_at": None}
        common = {"symbols": (name,), "values": {name: new_value if new_value is not None else "(no line)"},
                  "where": line.where, "line": line.text, "new_line": _line(name, new_value),
                  "to_version": view.to_version}
        item = _explain_line(view, editor, line, new_value, details, common)
        if fixes and item.finding.level == "error" and _fixable(item.reasons):
            if budget.left() > 0:
                item.fix = _verified_fix(editor, new.kconf.syms.get(name), line, budget)
                if item.fix is not None and item.fix.found:
                    item.finding = _with_fix(item.finding, item.fix)
            else:
                budget.skipped += 1
        out.append(item)
    order = {level: i for i, level in enumerate(LEVELS)}
    out.sort(key=lambda c: (order[c.finding.level], _line_number(c)))
    return out


def _fixable(reasons: Iterable[Reason]) -> bool:
    """Whether a why-not tree has a condition an assignment could change (else there is no fix to
    search for: every route ends at an arch constant or a compiler probe)."""
    return any((r.fix and not r.fixed) or _fixable(r.children) for r in reasons)


def _line_number(item: ChoiceNotHonoured) -> int:
    where = item.finding.where or ""
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _with_fix(finding: Finding, fix: Fix) -> Finding:
    text = "set " + " ".join(str(a) for a in fix.assignments) + \
        f" (verified on the new tree; {len(fix.cascade)} line(s) change with it)"
    return Finding(finding.level, finding.kind, finding.arch, finding.entry, finding.symbols, finding.values,
                   finding.where, finding.message, text, {**finding.details, "fix_assignments":
                                                          [str(a) for a in fix.assignments]})


def _verified_fix(editor: Editor, sym: kconfiglib.Symbol, line: ConfigLineAt, budget: _FixBudget) -> Fix | None:
    """A fix verified on the new tree: one found for an earlier line when it works here too (a bump
    often hides a whole family of options behind one new switch), else a search."""
    if sym is None:
        return None
    wanted = Assignment(sym.name, _assignment_value(sym, line.value))
    for known in budget.found.get(editor.arch, [])[-4:]:
        change = editor.set([*known.assignments, wanted], dry_run=True, fix=False)
        if change.ok and not change.undefined:
            cascade = [c if c.symbol not in {a.symbol for a in known.assignments} else
                       CascadeChange(c.symbol, c.old, c.new, "set by the fix") for c in change.cascade]
            return Fix(list(known.assignments), cascade, 1, budget.candidates, True)
    seconds = min(budget.per_fix, budget.left())
    if seconds <= 0:
        return None
    fix = editor.find_fix(wanted, budget=budget.candidates, seconds=seconds)
    if fix.found:
        budget.found.setdefault(editor.arch, []).append(fix)
    return fix


def _explain_line(view: ArchView, editor: Editor, line: ConfigLineAt, new_value: str | None, details: dict,
                  common: dict) -> ChoiceNotHonoured:
    new, name, arch = view.new, line.symbol, view.arch
    sym = new.kconf.syms.get(name)
    written = view.written
    if sym is None or not new.has_symbol(name):
        # an 'is not set' line of a removed symbol: the value stays n; without the current tree a
        # y line may as well be one Kconfig derived (a def_bool), so it is not called an error
        level = "info" if line.value == "n" else ("warning" if details.get("set_by_config") is None else None)
        return ChoiceNotHonoured(_finding("choices", "removed", arch, name, level=level, details=details,
                                          replacement_text=_replacement_text(view, name), fix_text="", **common))
    if sym in view.hidden:
        targets = view.successors.get(name, [])
        renamed_to = ", ".join(f"CONFIG_{n} ({w})" for n, w in targets) or "(no symbol reads it)"
        carried = [n for n, _ in targets if written.get(n, "n") == line.value]
        if carried:
            text, level = f"its value carries over: {_line(carried[0], written.get(carried[0]))}", "info"
        else:
            text, level = "the new symbol ends up " + ", ".join(_line(n, written.get(n)) for n, _ in targets), None
        details = {**details, "renamed_to": ",".join(n for n, _ in targets), "defined_at": location(sym)}
        reason = Reason(f"{name} is transitional: read from an old .config, never written", location(sym))
        for target, where in targets:
            reason.children.append(Reason(f"{target} has 'default {name}'", where,
                                          {target: written.get(target, "n")}))
        return ChoiceNotHonoured(_finding("choices", "renamed", arch, name, level=level, details=details,
                                          transitional_at=location(sym), renamed_to=renamed_to,
                                          carried_text=text, fix_text="", **common), [reason])
    details = {**details, "defined_at": location(sym)}
    reason_line = _short(cascade_reason(new, sym, line.value, new_value), 400)
    if line.value == "n" and new_value is None:
        return ChoiceNotHonoured(_finding("choices", "hidden", arch, name, details=details, reason=reason_line,
                                          **common))
    if sym.orig_type is BOOL and line.value == "m":
        return ChoiceNotHonoured(_finding("choices", "type", arch, name, details=details, new_type="bool",
                                          **common))
    value = _assignment_value(sym, line.value)
    reasons = editor.why_not(Assignment(name, value))
    if sym.choice is not None and line.value == "n" and new_value == "y":
        gone = _choice_selection_gone(view, sym)
        if gone is not None:
            reason = Reason(f"the choice's selection in the config, CONFIG_{gone}, is not defined in "
                            f"{view.to_version}", location(sym.choice))
            return ChoiceNotHonoured(_finding("choices", "choice-member-gone", arch, name, details=details,
                                              old_selection=gone, choice_at=location(sym.choice),
                                              fix_text="", **common), [reason, *reasons])
        selection = _config_selection(view, sym)
        why = (f"the choice picks it because the config's selection, CONFIG_{selection}=y, can't be had"
               if selection else reason_line)
        return ChoiceNotHonoured(_finding("choices", "choice-pick", arch, name, details=details, reason=why,
                                          fix_text="", **common), reasons)
    if sym.choice is not None and line.value == "y":
        picked = sym.choice.selection
        why = (f"{picked.name} is the choice's selection now ({location(sym.choice)})" if picked is not None
               else reason_line)
        return ChoiceNotHonoured(_finding("choices", "choice", arch, name, details=details, reason=why,
                                          fix_text="", **common), reasons)
    if sym.orig_type in (BOOL, TRISTATE):
        kind = "raised" if _tri(new_value) > _tri(line.value) else "dependency"
        return ChoiceNotHonoured(_finding("choices", kind, arch, name, details=details, reason=reason_line,
                                          fix_text="", **common), reasons)
    # int, hex, string
    out_of_range = _range_reason(sym, value)
    if out_of_range is not None:
        return ChoiceNotHonoured(_finding("choices", "range", arch, name, details=details,
                                          reason=out_of_range.text, fix_text="", **common),
                                 reasons or [out_of_range])
    kind = "dependency" if not sym.visibility else "value"
    return ChoiceNotHonoured(_finding("choices", kind, arch, name, details=details, reason=reason_line,
                                      fix_text="", **common), reasons)


def _range_reason(sym: kconfiglib.Symbol, value: str) -> Reason | None:
    """The active range of an int/hex symbol when ``value`` is outside it (sym_validate_range)."""
    if sym.orig_type not in (INT, HEX):
        return None
    base = 16 if sym.orig_type is HEX else 10
    try:
        number = int(value, base)
    except ValueError:
        return None
    for low, high, cond in sym.ranges:
        if not expr_value(cond):
            continue
        try:
            lo, hi = int(low.str_value, base), int(high.str_value, base)
        except ValueError:
            return None
        if lo <= number <= hi:
            return None
        return Reason(f"{value} is outside the range {low.str_value}..{high.str_value} the new tree gives it "
                      f"(the kernel clamps it to {sym.str_value})", location(sym), {sym.name: sym.str_value})
    return None


def _config_selection(view: ArchView, member: kconfiglib.Symbol) -> str | None:
    """The other member of ``member``'s choice the config selected (=y in the file), if any."""
    for other in member.choice.syms:
        line = view.lines.get(other.name)
        if line is not None and line.value == "y" and other is not member:
            return other.name
    return None


def _choice_selection_gone(view: ArchView, member: kconfiglib.Symbol) -> str | None:
    """The symbol the config selected (=y) in this choice when the new tree doesn't define it:
    none of the choice's members is y in the file, and a y line for an undefined symbol sits
    among them (conf writes a choice's members together, in menu order)."""
    members = {s.name for s in member.choice.syms}
    if any(view.lines.get(m) is not None and view.lines[m].value == "y" for m in members):
        return None
    numbers = [_where_line(view.lines[m].where) for m in members if m in view.lines]
    if not numbers:
        return None
    low, high = min(numbers), max(numbers)
    for line in view.lines.values():
        if line.value == "y" and not view.new.has_symbol(line.symbol) and \
                low - 2 <= _where_line(line.where) <= high + 2:
            return line.symbol
    return None


def _where_line(where: str) -> int:
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


# --------------------------------------------------------------------------- new and removed symbols

def _menu_is_visible(node: kconfiglib.MenuNode) -> bool:
    """menu_is_visible() of scripts/kconfig/menu.c for a kconfiglib menu node."""
    if not node.prompt:
        return False
    if node.item is kconfiglib.MENU and not expr_value(node.visibility):
        return False
    if expr_value(node.prompt[1]):
        return True
    item = node.item
    if not isinstance(item, kconfiglib.Symbol | kconfiglib.Choice) or not item.tri_value:
        return False
    child = node.list
    while child is not None:
        if _menu_is_visible(child):
            return True
        child = child.next
    return False


def new_symbol_names(config: Config) -> list[tuple[str, Any]]:
    """(name, menu node) of every symbol ``conf --listnewconfig`` lists for this config, in
    menu order: a visible menu entry (check_conf walks only visible menus) whose symbol has no
    line in the config (!sym_has_value) and can be changed (sym_is_changeable:
    visibility above what select forces)."""
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    hidden = config.transitional

    def walk(node: kconfiglib.MenuNode) -> None:
        while node is not None:
            if _menu_is_visible(node):
                sym = node.item
                if (sym.__class__ is kconfiglib.Symbol and sym.user_value is None and sym not in hidden
                        and sym.name not in seen and not is_placeholder(sym.name)
                        and sym.visibility > _rev_dep_tri(sym) and not _valued_by_transitional(sym, hidden)):
                    seen.add(sym.name)
                    out.append((sym.name, node))
                if node.list is not None:
                    walk(node.list)
            node = node.next

    walk(config.kconf.top_node.list)
    return out


def _rev_dep_tri(sym: kconfiglib.Symbol) -> int:
    """What select forces, as sym_calc_visibility() keeps it: m is y for a bool."""
    tri = expr_value(sym.rev_dep)
    return 2 if tri == 1 and sym.orig_type is BOOL else tri


def _valued_by_transitional(sym: kconfiglib.Symbol, hidden: AbstractSet[kconfiglib.Symbol]) -> bool:
    """sym_calc_value() (Linux 7.x) gives a symbol a user value when its default is exactly a
    transitional symbol the config sets: the renamed option is not asked for again."""
    for value, cond in sym.defaults:
        if expr_value(cond):
            return value in hidden and value.user_value is not None
    return False


@dataclass(frozen=True)
class NewSymbol:
    """A symbol the config has no line for on the new tree (conf --listnewconfig)."""

    arch: str
    symbol: str
    type: str
    value: str                 # as olddefconfig writes it ('n' when not set)
    prompt: str
    menu: str
    menu_path: str
    where: str
    help: str | None
    modules: tuple[str, ...]   # .ko files it builds as =m with the new values
    can_build: tuple[str, ...]  # .ko files it builds when =m
    renamed_from: tuple[str, ...] = ()

    @property
    def changes_kernel(self) -> bool:
        return self.value in ("y", "m") or (self.type not in ("bool", "tristate") and self.value != "")

    def finding(self, to_version: str) -> Finding:
        level = "warning" if self.value in ("y", "m") else "info"
        return _finding("new", "new-symbol", self.arch, self.symbol, symbols=(self.symbol,),
                        values={self.symbol: self.value}, where=self.where, level=level,
                        value=self.value, prompt=self.prompt, to_version=to_version,
                        details={"menu": self.menu, "menu_path": self.menu_path, "type": self.type,
                                 "builds": ", ".join(self.modules), "changes_kernel": self.changes_kernel})


def new_symbols(view: ArchView | Config, kbuild: KbuildMap | None = None) -> list[NewSymbol]:
    """:func:`new_symbol_names` with what each looks like: value, prompt, help, menu, the
    ``.ko`` files it builds (with ``kbuild``, the new tree's map)."""
    view = view if isinstance(view, ArchView) else ArchView(view)
    config = view.new
    renamed: dict[str, list[str]] = {}
    for old, targets in view.successors.items():
        for target, _ in targets:
            renamed.setdefault(target, []).append(old)
    out = []
    for name, node in new_symbol_names(config):
        sym = config.kconf.syms[name]
        value = view.written.get(name, "n" if sym.orig_type in (BOOL, TRISTATE) else "")
        path = menu_path(node)
        can = tuple(kbuild.symbol_modules(name)) if kbuild is not None else ()
        built = (tuple(p for p in can if kbuild.evaluate(p, view.values).state == "module")
                 if can and kbuild is not None else ())
        prompt = node.prompt[0] if node.prompt else next((n.prompt[0] for n in sym.nodes if n.prompt), "")
        help_text = node.help or next((n.help for n in sym.nodes if n.help), None)
        out.append(NewSymbol(config.arch, name, kconfiglib.TYPE_TO_STR[sym.orig_type], value, prompt,
                             path[0] if path else "(top level)", " > ".join(path),
                             f"{node.filename}:{node.linenr}", help_text, built, can,
                             tuple(sorted(renamed.get(name, ())))))
    return out


@dataclass(frozen=True)
class RemovedSymbol:
    """A config line for a symbol the new tree doesn't define (or keeps only as transitional)."""

    arch: str
    symbol: str
    value: str
    where: str
    set_by_config: bool | None
    replaced_by: tuple[str, ...]
    replacement_where: tuple[str, ...]
    how: str                   # "renamed" (transitional), "help" (named in a help text), ""

    def finding(self, to_version: str) -> Finding:
        if self.how == "renamed":
            text = "; renamed to " + ", ".join(f"CONFIG_{n} ({w})" for n, w in
                                                 zip(self.replaced_by, self.replacement_where, strict=True))
        elif self.how == "help":
            text = "; the help of " + ", ".join(f"CONFIG_{n} ({w})" for n, w in
                                                zip(self.replaced_by, self.replacement_where, strict=True)) + \
                " names it"
        else:
            text = ""
        return _finding("removed", "removed-symbol", self.arch, self.symbol, symbols=(self.symbol,),
                        values={self.symbol: self.value}, where=self.where, line=_line(self.symbol, self.value),
                        to_version=to_version, replacement_text=text,
                        details={"set_by_config": self.set_by_config, "replaced_by": ",".join(self.replaced_by)})


def removed_symbols(view: ArchView | Config, old: Config | None = None) -> list[RemovedSymbol]:
    """Every config line the new tree doesn't write because it doesn't define the symbol (or
    keeps it only as ``transitional``), with what replaces it where the tree says so."""
    view = view if isinstance(view, ArchView) else ArchView(view, old)
    out = []
    for line in view.lines.values():
        if view.defines(line.symbol):
            continue
        if line.symbol in view.successors:
            pairs, how = view.successors[line.symbol], "renamed"
        elif view.help_mentions(line.symbol):
            pairs, how = view.help_mentions(line.symbol)[:3], "help"
        else:
            pairs, how = [], ""
        out.append(RemovedSymbol(view.arch, line.symbol, line.value, line.where, view.set_by_config(line.symbol),
                                 tuple(n for n, _ in pairs), tuple(w for _, w in pairs), how))
    return out


# --------------------------------------------------------------------------- module lists

@dataclass(frozen=True)
class ModuleEdit:
    """One proposed change to a module list: drop ``remove``, add ``add``, for ``reason``."""

    arch: str
    kind: str                     # moved, renamed, split, needs, gone, not-built, unknown
    entry: str                    # the listed entry it is about
    remove: tuple[str, ...]
    add: tuple[str, ...]
    reason: str

    @property
    def key(self) -> str:
        """A stable name for accepting or rejecting this edit (arch:kind:entry)."""
        return f"{self.arch}:{self.kind}:{self.entry}"

    def text(self) -> str:
        parts = [f"-{e}" for e in self.remove] + [f"+{e}" for e in self.add]
        return f"[{self.key}] {' '.join(parts)}\n            ({self.reason})"

    def as_dict(self) -> dict:
        return {"key": self.key, "arch": self.arch, "kind": self.kind, "entry": self.entry,
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
                   label: str | None = None) -> tuple[list[ModuleStatus], list[Finding], list[ModuleEdit]]:
    """Each entry of ``module_list`` against the new tree: statuses, findings, proposed edits.

    Moved: the same file name at another path, built by the same symbol (or, without the
    current tree's map, by any). Renamed: the symbol that built it builds one differently
    named ``.ko`` now. Split: it builds several (the list needs those built as ``=m``).
    Gone: nothing builds it, with the symbol's fate. Not built: the path is there but the
    new config doesn't build it as a module (``not_honoured``: symbol -> the choice not
    honoured behind it). Then the ``.ko`` files newly built as modules: those a listed
    module's symbol selects (a library split out, e.g. stmmac_libpci) are needed, the
    others informational. ``label`` names the list in file:line (default: its path).
    """
    view = view if isinstance(view, ArchView) else ArchView(view)
    arch, to_version = view.arch, view.to_version
    # the list checked against the new tree as it is: which present entries are not =m, and why
    problems = {f.entry: f for f in check_module_lists({arch: module_list}, {arch: view.values}, {arch: new_kbuild},
                                                       tree_version=to_version, list_version=to_version,
                                                       unlisted=False)
                if f.kind in ("builtin", "not-built")}
    walk = _ModuleWalk(view, new_kbuild, old_kbuild, not_honoured or {}, set(module_list.entries), problems)
    for _index, entry, where in module_list.numbered():
        if label is not None:
            where = label + where[len(module_list.name):]
        walk.entry(entry, where)
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
        fix = f"drop {entry} from modules-{arch}.txt"
        if problem.fix and "drop" not in problem.fix:
            fix += f", or keep it with {problem.fix}"
        self.statuses.append(ModuleStatus(arch, entry, where, "not-built", (), problem.symbols, reason))
        self.findings.append(_finding("modules", "module-not-built", arch, entry, symbols=problem.symbols,
                                      values=problem.values, reason=reason, fix_text=fix, **common))
        self.edits.append(ModuleEdit(arch, "not-built", entry, (entry,), (), reason))

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
        self.findings.append(_finding("modules", "module-split", arch, entry, symbols=symbols,
                                      new_entries=", ".join(split), how=how, **common))
        if wanted:
            self.targets.update(wanted)
            self.edits.append(ModuleEdit(arch, "split", entry, (), tuple(wanted),
                                         f"{named} now also builds {', '.join(wanted)}"))
        return True

    def _gone(self, entry: str, where: str, symbols: tuple[str, ...], common: dict[str, Any]) -> None:
        """Nothing on the new tree builds `entry`: unknown without the current tree, else gone with its
        symbols' fate."""
        arch, to_version = self.view.arch, self.view.to_version
        if self.old_kbuild is None:
            near = self.new_kbuild.find(entry)
            suggestion = f"; similar names: {', '.join(near[:3])}" if near else ""
            self.statuses.append(ModuleStatus(arch, entry, where, "unknown", (), ()))
            self.findings.append(_finding("modules", "module-unknown", arch, entry, suggestion=suggestion,
                                          **common))
            self.edits.append(ModuleEdit(arch, "unknown", entry, (entry,), (),
                                         f"not in {to_version}; without the current tree its successor can't "
                                         "be told"))
            return
        fate = "; ".join(_symbol_fate(self.view, s, self.new_kbuild) for s in symbols) or \
            "no Makefile line of the current tree builds it either"
        self.statuses.append(ModuleStatus(arch, entry, where, "gone", (), symbols, fate))
        self.findings.append(_finding("modules", "module-gone", arch, entry, symbols=symbols, fate=fate, **common))
        self.edits.append(ModuleEdit(arch, "gone", entry, (entry,), (), fate))

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
            self.findings.append(_finding("modules", "module-moved", arch, entry, symbols=symbols,
                                          new_entry=", ".join(successor), how=how, **common))
            reason = f"moved to {', '.join(successor)}{how}"
        elif kind == "renamed":
            edit_text = (f"drop {entry}: {', '.join(already)} is listed already" if already and not add
                         else f"replace {entry} with {', '.join(wanted)} in modules-{arch}.txt")
            self.findings.append(_finding("modules", "module-renamed", arch, entry, symbols=symbols,
                                          new_entry=", ".join(successor),
                                          how=how + ("; already listed" if already else ""),
                                          edit_text=edit_text, **common))
            reason = (f"CONFIG_{symbols[0]} builds " if symbols else "now ") + ", ".join(successor) + \
                (" (already listed)" if already else "") + how
        else:
            self.findings.append(_finding("modules", "module-split", arch, entry, symbols=symbols,
                                          new_entries=", ".join(wanted), how=how, **common))
            reason = (f"CONFIG_{symbols[0]} builds " if symbols else "split into ") + ", ".join(wanted) + how
        self.edits.append(ModuleEdit(arch, kind, entry, (entry,), add, reason.strip()))


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
            findings.append(_finding("modules", "module-needs", arch, path, symbols=symbols, values=values,
                                     where=own[0].where if own else None, how=how, to_version=view.to_version,
                                     details={"needed_by": ",".join(sorted({e for _, e, _ in needed_by}))}))
            edits.append(ModuleEdit(arch, "needs", path, (), (path,), f"needed by {how}"))
        else:
            findings.append(_finding("modules", "module-new", arch, path, symbols=symbols, values=values,
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
                  *, accepted: Iterable[str] | None = None) -> ModuleList:
    """A copy of ``module_list`` with the edits applied (only the ``accepted`` keys, when given):
    entries dropped and added at their ``LC_ALL=C sort`` place, nothing else moved."""
    copy = ModuleList.parse(module_list.text(), module_list.arch, path=module_list.path,
                            snapshot=module_list.snapshot)
    apply_edits(copy, edits, kbuild, accepted=accepted)
    return copy


def apply_edits(module_list: ModuleList, edits: Iterable[ModuleEdit], kbuild: KbuildMap | None = None, *,
                accepted: Iterable[str] | None = None) -> list[ModuleEdit]:
    """Apply the edits for this list's arch to it in place (:meth:`ModuleList.remove`/``add``);
    returns those applied."""
    chosen = set(accepted) if accepted is not None else None
    done = []
    for one in edits:
        if one.arch != module_list.arch or (chosen is not None and one.key not in chosen):
            continue
        gone = [e for e in one.remove if e in module_list.entries]
        if gone:
            module_list.remove(gone)
        new = [e for e in one.add if e not in module_list.entries]
        if new:
            module_list.add(new, kbuild=kbuild)
        done.append(one)
    return done


# --------------------------------------------------------------------------- patches and the bump

def patch_findings(report: PatchReport, to_version: str) -> list[Finding]:
    """Each pkgs patch on the new tree (a :class:`talosnb.inputs.patches.PatchReport`)."""
    out = []
    kinds = {"applied": "patch-applies", "upstream": "patch-upstream", "partly-upstream": "patch-partly-upstream",
             "failed": "patch-fails", "skipped": "patch-skipped"}
    for patch in report.patches:
        notes = []
        if patch.skipped_hunks:
            notes.append(f"{patch.skipped_hunks} hunk(s) for files Kconfig/Kbuild don't read not checked")
        notes += [n for n in patch.notes if " with fuzz " in n]
        extra = f" ({'; '.join(notes)})" if notes else ""
        where = patch.where or str(report.patches_dir / patch.name)
        out.append(_finding("patches", kinds.get(patch.status, "patch-applies"), "all", patch.name, where=where,
                            to_version=to_version, extra=extra, problem=patch.problem or "",
                            files=", ".join(patch.upstream),
                            details={"status": patch.status, "applied_files": ", ".join(patch.applied),
                                     "upstream_files": ", ".join(patch.upstream),
                                     "failed_files": ", ".join(patch.failed)}))
    return out


@dataclass(frozen=True)
class Bump:
    """The Pkgfile lines for the new tree: old and new value of each, and the edited text."""

    path: str
    old: dict[str, str]
    new: dict[str, str | None]        # None: not known (no hash given, none computed)
    lines: dict[str, int]
    text: str | None                  # the Pkgfile with the three values replaced (None: hashes unknown)
    why_unknown: str | None = None
    hashes_from: str | None = None    # "given", "tarball", "download"
    label: str = "Pkgfile"            # how file:line names it

    @property
    def complete(self) -> bool:
        return self.text is not None

    def findings(self, to_version: str) -> list[Finding]:
        out = []
        for key in ("linux_version", "linux_sha256", "linux_sha512"):
            new = self.new.get(key)
            if new is None or new == self.old.get(key):
                continue
            out.append(_finding("bump", "bump", "all", key, where=f"{self.label}:{self.lines.get(key, '')}",
                                key=key, old=self.old.get(key), new=new, to_version=to_version,
                                details={"hashes_from": self.hashes_from}))
        if self.why_unknown:
            out.append(_finding("bump", "bump-no-hashes", "all", "linux_sha256", where=self.label,
                                to_version=to_version, why=self.why_unknown))
        return out

    def as_dict(self) -> dict:
        return {"pkgfile": self.path, "old": self.old, "new": self.new, "complete": self.complete,
                "why_unknown": self.why_unknown, "hashes_from": self.hashes_from}


def bump(pkgfile_path: str, pkgfile_text: str, version: str, *, sha256: str | None = None,
         sha512: str | None = None, hashes_from: str | None = None, why_unknown: str | None = None,
         label: str = "Pkgfile") -> Bump:
    """The Pkgfile bumped to ``version`` (every other byte kept; see inputs.pkgfile.bump_linux)."""
    from talosnb.inputs.pkgfile import bump_linux, parse_pkgfile_text

    info = parse_pkgfile_text(pkgfile_text, pkgfile_path)
    old = {"linux_version": info.linux_version, "linux_sha256": info.linux_sha256,
           "linux_sha512": info.linux_sha512}
    new = {"linux_version": version, "linux_sha256": sha256, "linux_sha512": sha512}
    text = None
    if sha256 and sha512:
        text = bump_linux(pkgfile_text, version, sha256, sha512, path=pkgfile_path)
    elif why_unknown is None:
        why_unknown = "neither --sha256/--sha512 nor a tarball to compute them from was given"
    return Bump(str(pkgfile_path), old, new, dict(info.lines), text, why_unknown if text is None else None,
                hashes_from if text is not None else None, label)


# --------------------------------------------------------------------------- the report

@dataclass
class ArchReport:
    """One arch's part of the report."""

    arch: str
    choices: list[ChoiceNotHonoured] = field(default_factory=list)
    new_symbols: list[NewSymbol] = field(default_factory=list)
    removed: list[RemovedSymbol] = field(default_factory=list)
    modules: list[ModuleStatus] = field(default_factory=list)
    module_findings: list[Finding] = field(default_factory=list)
    edits: list[ModuleEdit] = field(default_factory=list)
    config_changes: int = 0           # lines normalizing on the new tree changes in all


@dataclass
class UpgradeReport:
    """Everything a move to a new kernel changes, per arch, as data."""

    from_version: str | None          # the current tree (None: not loaded)
    config_version: str | None        # what the configs' headers say
    to_version: str
    arches: dict[str, ArchReport]
    patches: list[Finding] = field(default_factory=list)
    bump: Bump | None = None
    not_computed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)   # what was read, in words
    seconds: float = 0.0

    # --- rows ------------------------------------------------------------------
    def findings(self, section: str | None = None) -> list[Finding]:
        out: list[Finding] = []
        for report in self.arches.values():
            out += [c.finding for c in report.choices]
            out += [s.finding(self.to_version) for s in report.new_symbols]
            out += [r.finding(self.to_version) for r in report.removed]
            out += report.module_findings
        out += self.patches
        if self.bump is not None:
            out += self.bump.findings(self.to_version)
        return [f for f in out if section is None or f.details.get("section") == section]

    def errors(self) -> int:
        return sum(1 for f in self.findings() if f.level == "error")

    def choices(self) -> list[ChoiceNotHonoured]:
        return [c for report in self.arches.values() for c in report.choices]

    def edits(self) -> list[ModuleEdit]:
        return [e for report in self.arches.values() for e in report.edits]

    def counts(self) -> dict[str, dict[str, int]]:
        """section -> level -> number of findings."""
        out = {s: dict.fromkeys(LEVELS, 0) for s in SECTIONS}
        for f in self.findings():
            out[f.details["section"]][f.level] += 1
        return out

    # --- frames ------------------------------------------------------------------
    def findings_frame(self, section: str | None = None) -> pd.DataFrame:
        """Every finding as a row, with its section (and ``menu`` for new symbols) as columns."""
        frame = generic_frame(self.findings(section), details=("section", "menu"))
        return frame

    def choices_frame(self) -> pd.DataFrame:
        import pandas as pd
        rows = [{"arch": c.finding.arch, "level": c.finding.level, "kind": c.finding.kind, "symbol": c.symbol,
                 "old": c.finding.details.get("old"), "new": c.finding.details.get("new"),
                 "set_by_config": c.finding.details.get("set_by_config"),
                 "current_tree_too": c.finding.details.get("current_tree_too"),
                 "where": c.finding.where, "defined_at": c.finding.details.get("defined_at"),
                 "message": c.finding.message, "fix": c.finding.fix} for c in self.choices()]
        return pd.DataFrame(rows, columns=["arch", "level", "kind", "symbol", "old", "new", "set_by_config",
                                           "current_tree_too", "where", "defined_at", "message", "fix"],
                            dtype=object)

    def new_symbols_frame(self) -> pd.DataFrame:
        """New symbols side by side: one row per symbol, the value on each arch (empty where it
        is not new there), grouped by top-level menu."""
        import pandas as pd
        arches = list(self.arches)
        rows: dict[str, dict] = {}
        for arch, report in self.arches.items():
            for s in report.new_symbols:
                row = rows.setdefault(s.symbol, {"symbol": s.symbol, "type": s.type, "menu": s.menu,
                                                 "menu_path": s.menu_path, "prompt": s.prompt, "where": s.where,
                                                 "changes_kernel": False, "builds": "", "help": s.help,
                                                 "renamed_from": ", ".join(f"CONFIG_{n}" for n in s.renamed_from),
                                                 **{a: None for a in arches}})
                row[arch] = s.value
                row["changes_kernel"] = row["changes_kernel"] or s.changes_kernel
                row["builds"] = ", ".join(dict.fromkeys([*filter(None, row["builds"].split(", ")), *s.modules]))
        columns = ["menu", "symbol", *arches, "changes_kernel", "builds", "renamed_from", "type", "prompt",
                   "menu_path", "where", "help"]
        frame = pd.DataFrame(list(rows.values()), columns=columns, dtype=object)
        if not frame.empty:
            frame = frame.sort_values(["menu", "symbol"], kind="stable").reset_index(drop=True)
        return frame

    def removed_frame(self) -> pd.DataFrame:
        import pandas as pd
        rows = [{"arch": r.arch, "symbol": r.symbol, "value": r.value, "where": r.where,
                 "set_by_config": r.set_by_config, "replaced_by": ", ".join(r.replaced_by), "how": r.how}
                for report in self.arches.values() for r in report.removed]
        return pd.DataFrame(rows, columns=["arch", "symbol", "value", "where", "set_by_config", "replaced_by",
                                           "how"], dtype=object)

    def modules_frame(self) -> pd.DataFrame:
        import pandas as pd
        rows = [{"arch": m.arch, "entry": m.entry, "status": m.status, "new": ", ".join(m.new_entries),
                 "symbols": ", ".join(m.symbols), "where": m.where, "detail": m.detail}
                for report in self.arches.values() for m in report.modules]
        return pd.DataFrame(rows, columns=["arch", "entry", "status", "new", "symbols", "where", "detail"],
                            dtype=object)

    def edits_frame(self) -> pd.DataFrame:
        import pandas as pd
        rows = [e.as_dict() | {"remove": ", ".join(e.remove), "add": ", ".join(e.add)} for e in self.edits()]
        return pd.DataFrame(rows, columns=["key", "arch", "kind", "entry", "remove", "add", "reason"], dtype=object)

    # --- text and JSON -------------------------------------------------------------
    def summary_lines(self) -> list[str]:
        out = [f"upgrade {self.from_version or self.config_version or '?'} -> {self.to_version}"
               + ("" if self.from_version else " (no current tree: 'before' values come from the config alone)")]
        out += [f"  {line}" for line in self.inputs]
        for arch, report in self.arches.items():
            levels = {lv: sum(1 for c in report.choices if c.finding.level == lv) for lv in LEVELS}
            out.append(f"  {arch}: {len(report.choices)} choice(s) not honoured ({levels['error']} error(s)), "
                       f"{len(report.new_symbols)} new symbol(s) "
                       f"({sum(1 for s in report.new_symbols if s.value in ('y', 'm'))} =y/=m), "
                       f"{len(report.removed)} removed, "
                       f"{sum(1 for m in report.modules if m.status not in ('unchanged', 'metadata'))} "
                       f"module-list entr(ies) to change, {len(report.edits)} proposed edit(s)")
        for what in self.not_computed:
            out.append(f"  not computed: {what}")
        for note in self.notes:
            out.append(f"  note: {note}")
        return out

    def text(self, *, info: bool = False, limit: int | None = None, sections: Iterable[str] | None = None) -> str:
        """The report for a terminal: choices first (what a bump breaks silently), then the
        rest (only ``sections``, when given); informational rows only with ``info``, at most
        ``limit`` rows per section."""
        out = self.summary_lines()
        sections_wanted = list(sections or ())
        sections_rows = self._section_rows(info)
        shown = [s for s in SECTIONS if sections is None or s in set(sections_wanted)]
        for section in shown:
            rows = sections_rows[section]
            if limit is not None and len(rows) > limit:
                rows = rows[:limit] + [f"  ... and {len(rows) - limit} more (--limit)"]
            out.append("")
            out.append(f"== {SECTION_TITLES[section]}" + ("" if rows else ": nothing"))
            out += rows
        return "\n".join(out) + "\n"

    def _section_rows(self, info: bool) -> dict[str, list[str]]:
        """Each section's lines for :meth:`text` (informational ones only with `info`)."""
        def fix(f: Finding, indent: str) -> str:
            return f"\n{indent}fix: {f.fix}" if f.fix else ""

        rows: dict[str, list[str]] = {s: [] for s in SECTIONS}
        rows["choices"] = [f"{c.finding.arch:5} " + c.text() for c in self.choices()
                           if c.finding.level != "info" or info]
        rows["new"] = self._new_symbol_rows(info)
        rows["removed"] = [f"  {f.arch:5} {f.message}  [{f.where}]" for f in self.findings("removed")
                           if f.details.get("set_by_config") is not False or info]
        rows["modules"] = [f"  {f.level:7} {f.arch:5} {f.message}" + fix(f, " " * 10)
                           for f in self.findings("modules") if f.level != "info" or info]
        rows["modules"] += [f"  edit {e.text()}" for e in self.edits()]
        rows["patches"] = [f"  {f.level:7} {f.message}" + fix(f, " " * 10) for f in self.patches]
        if self.bump is not None:
            rows["bump"] = [f"  {f.message}  [{f.where}]" + fix(f, " " * 4)
                            for f in self.bump.findings(self.to_version)]
        return rows

    def _new_symbol_rows(self, info: bool) -> list[str]:
        """The new symbols by menu: those that change the kernel (all of them with `info`)."""
        rows: list[str] = []
        new_frame = self.new_symbols_frame()
        shown_new = new_frame if info else new_frame[new_frame["changes_kernel"] == True]
        menu = None
        row: Any   # pandas-stubs types itertuples() fields as any scalar (bytes, NA...): here str columns
        for row in shown_new.itertuples():
            if row.menu != menu:
                menu = row.menu
                rows.append(f"  [{menu}]")
            values = "  ".join(f"{a}={getattr(row, a) if getattr(row, a) is not None else '-'}"
                               for a in self.arches)
            builds = f"  builds {row.builds}" if row.builds else ""
            renamed = f"  (renamed from {row.renamed_from})" if row.renamed_from else ""
            rows.append(f"    CONFIG_{row.symbol}: {values}  {row.prompt!r} ({row.where}){builds}{renamed}")
        if len(shown_new) < len(new_frame):
            rows.append(f"  ({len(new_frame) - len(shown_new)} more that stay n: --info lists them)")
        return rows

    def as_dict(self) -> dict:
        return {
            "from_version": self.from_version, "config_version": self.config_version,
            "to_version": self.to_version, "not_computed": self.not_computed, "notes": self.notes,
            "inputs": self.inputs,
            "counts": self.counts(),
            "arches": {arch: {
                "choices": [c.as_dict() for c in r.choices],
                "new_symbols": [s.finding(self.to_version).as_dict() | {"help": s.help, "value": s.value,
                                                                        "renamed_from": list(s.renamed_from)}
                                for s in r.new_symbols],
                "removed": [x.finding(self.to_version).as_dict() for x in r.removed],
                "modules": [m.__dict__ | {"new_entries": list(m.new_entries), "symbols": list(m.symbols)}
                            for m in r.modules],
                "module_findings": [f.as_dict() for f in r.module_findings],
                "edits": [e.as_dict() for e in r.edits],
                "config_changes": r.config_changes,
            } for arch, r in self.arches.items()},
            "patches": [f.as_dict() for f in self.patches],
            "bump": None if self.bump is None else self.bump.as_dict(),
        }


def upgrade_report(new: Mapping[str, Config], *, old: Mapping[str, Config] | None = None,
                   new_kbuild: Mapping[str, KbuildMap] | None = None,
                   old_kbuild: Mapping[str, KbuildMap] | None = None,
                   module_lists: Mapping[str, ModuleList] | None = None, patches: PatchReport | None = None,
                   bump_info: Bump | None = None, not_computed: Sequence[str] = (), notes: Sequence[str] = (),
                   fixes: bool = True, fix_seconds: float = 1.0, editors: Mapping[str, Editor] | None = None,
                   config_labels: Mapping[str, str] | None = None, list_labels: Mapping[str, str] | None = None,
                   inputs: Sequence[str] = ()) -> UpgradeReport:
    """The whole report from loaded objects: per arch the config on the new tree (``new``) and,
    when there, on the current tree (``old``), both trees' Kbuild maps and the module lists;
    the pkgs patches on the new tree (a PatchReport) and the Pkgfile bump. Missing inputs
    leave their parts out, and ``not_computed`` says which. ``fix_seconds`` bounds the
    verified-fix search over the whole report (beyond it, lines keep their why-not tree).
    ``config_labels``/``list_labels`` (arch -> name) name the files in file:line; ``inputs``
    says in words what was read."""
    start = time.perf_counter()
    arches = list(new)
    to_version = new[arches[0]].tree.version
    config_version = next((c.recorded_version for c in new.values() if c.recorded_version), None)
    from_version = next(iter(old.values())).tree.version if old else None
    report = UpgradeReport(from_version, config_version, to_version, {}, not_computed=list(not_computed),
                           notes=list(notes), inputs=list(inputs))
    budget = _FixBudget(fix_seconds, per_fix=max(0.05, fix_seconds / 4), candidates=40)
    for arch in arches:
        view = ArchView(new[arch], (old or {}).get(arch), source=(config_labels or {}).get(arch))
        part = ArchReport(arch)
        part.choices = choices_not_honoured(view, fixes=fixes, editor=(editors or {}).get(arch), budget=budget)
        kmap = (new_kbuild or {}).get(arch)
        part.new_symbols = new_symbols(view, kmap)
        part.removed = removed_symbols(view)
        if module_lists and arch in module_lists and kmap is not None:
            behind = {c.symbol: c.finding.message for c in part.choices if c.finding.level != "info"}
            part.modules, part.module_findings, part.edits = module_changes(
                module_lists[arch], view, kmap, old_kbuild=(old_kbuild or {}).get(arch), not_honoured=behind,
                label=(list_labels or {}).get(arch))
        part.config_changes = sum(1 for name in view.lines.keys() | view.written.keys()
                                  if view.lines.get(name, ConfigLineAt(name, "", "")).value
                                  != view.written.get(name, ""))
        report.arches[arch] = part
    if fixes and budget.skipped:
        report.notes.append(f"the verified-fix search stopped after {fix_seconds:.1f} s: {budget.skipped} "
                            "line(s) show their why-not tree only (talosnb why SYMBOL=VALUE searches one)")
    if patches is not None:
        report.patches = patch_findings(patches, to_version)
    report.bump = bump_info
    report.seconds = time.perf_counter() - start
    return report
