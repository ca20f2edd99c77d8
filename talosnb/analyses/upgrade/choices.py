"""Choices not honoured: each line the config sets that the new tree writes differently, with the
reason as a why-not tree at file:line in the new tree and a fix verified there."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import kconfiglib
from kconfiglib import BOOL, HEX, INT, STRING, TRISTATE, expr_value

from talosnb.core import dotconfig
from talosnb.kconfig.config import Config
from talosnb.kconfig.explain import Reason, cascade_reason, location

from ..edit import Assignment, CascadeChange, Editor, Fix
from ..findings import LEVELS, Finding
from .rules import line_text, section_finding
from .view import ArchView, ConfigLineAt


@dataclass
class ChoiceNotHonoured:
    """A line the config sets that the new tree changes: the finding, the why-not tree, the fix."""

    finding: Finding
    reasons: list[Reason] = field(default_factory=list)
    fix: Fix | None = None

    @property
    def symbol(self) -> str:
        return self.finding.symbols[0]

    @property
    def cause(self) -> tuple[tuple[str, str], ...]:
        """The root of the why-not tree: the assignments its deepest changeable conditions ask for,
        sorted (NETFILTER_XTABLES_LEGACY=y for each iptables option 7.x hides behind it); empty
        when no assignment reaches it."""
        out: set[tuple[str, str]] = set()

        def walk(reason: Reason) -> None:
            if reason.fixed:
                return
            if reason.fix and not _fixable(reason.children):
                out.update(reason.fix.items())
            for child in reason.children:
                walk(child)
        for reason in self.reasons:
            walk(reason)
        return tuple(sorted(out))

    def as_dict(self) -> dict:
        return {**self.finding.as_dict(), "reasons": [r.as_dict() for r in self.reasons],
                "verified_fix": None if self.fix is None else self.fix.as_dict()}

    @property
    def line_number(self) -> int:
        """The line of the config it is at (0: none)."""
        tail = (self.finding.where or "").rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else 0


def shorten(text: str, width: int = 240) -> str:
    """`text` cut to `width` characters, an ellipsis last when cut."""
    return text if len(text) <= width else text[:width - 1] + "…"


# A cause shared by at least this many lines of one arch is one item of the report.
GROUP_AT_LEAST = 2


@dataclass
class ChoiceGroup:
    """Lines of one arch that can't be kept for one cause: the same root in each why-not tree (16
    iptables options behind NETFILTER_XTABLES_LEGACY on Talos v1.10 -> 7.2), said once."""

    arch: str
    cause: tuple[tuple[str, str], ...]
    items: list[ChoiceNotHonoured]

    @property
    def symbols(self) -> list[str]:
        return [c.symbol for c in self.items]

    @property
    def fix(self) -> Fix | None:
        return next((c.fix for c in self.items if c.fix is not None and c.fix.found), None)

    @property
    def level(self) -> str:
        return min((c.finding.level for c in self.items), key=LEVELS.index)

    def cause_reason(self) -> Reason | None:
        """The condition of the why-not trees that is the cause (depth first, the first line's first;
        None: no tree reaches it)."""
        names = {name for name, _ in self.cause}
        for item in self.items:
            for reason in item.reasons:
                found = _find(reason, names)
                if found is not None:
                    return found
        return None


def _find(reason: Reason, names: set[str]) -> Reason | None:
    """The first condition of a why-not tree whose fix is one of `names`' (depth first)."""
    if reason.fix and set(reason.fix) <= names and not reason.fixed:
        return reason
    for child in reason.children:
        found = _find(child, names)
        if found is not None:
            return found
    return None


def grouped(items: Iterable[ChoiceNotHonoured]) -> list[ChoiceNotHonoured | ChoiceGroup]:
    """The items in their order, those of one arch that share a cause (and are not informational)
    as one :class:`ChoiceGroup` where the first of them was."""
    items = list(items)
    by_cause: dict[tuple, list[ChoiceNotHonoured]] = {}
    for item in items:
        if item.finding.level != "info" and item.cause:
            by_cause.setdefault((item.finding.arch, item.cause), []).append(item)
    out: list[ChoiceNotHonoured | ChoiceGroup] = []
    placed: set[tuple] = set()
    for item in items:
        key = (item.finding.arch, item.cause)
        members = by_cause.get(key, [])
        if len(members) < GROUP_AT_LEAST or item not in members:
            out.append(item)
        elif key not in placed:
            placed.add(key)
            out.append(ChoiceGroup(item.finding.arch, item.cause, members))
    return out


def _share_fixes(items: list[ChoiceNotHonoured], editor: Editor) -> None:
    """One fix per group, verified for all of its lines at once and given to each line that has
    none: the one found for a line of the group, else the cause itself (the search's time budget
    may have stopped before them). Raising a value comes before lowering one: enabling what the
    new tree hides the lines behind, not turning off what selects them."""
    kconf = editor.config.kconf
    for group in grouped(items):
        if not isinstance(group, ChoiceGroup):
            continue
        wanted = [Assignment(c.symbol, _assignment_value(kconf.syms[c.symbol], c.finding.details["old"]))
                  for c in group.items if c.symbol in kconf.syms and c.finding.details.get("old") is not None]
        if len(wanted) < len(group.items):
            continue
        found = group.fix
        # the cause as the fix only where it enables something: turning off what selects a line
        # (INET=n to keep two crypto options unset) is no fix to offer
        tries = [list(found.assignments)] if found is not None else \
            [[Assignment(name, value)] for name, value in sorted(group.cause, key=lambda a: _lowers(kconf, a))
             if not _lowers(kconf, (name, value))[0]]
        for assignments in tries:
            change = editor.set([*assignments, *wanted], dry_run=True, fix=False)
            if not change.ok or change.undefined:
                continue
            mine = {a.symbol for a in assignments}
            fix = found or Fix(assignments, [c if c.symbol not in mine else
                                             CascadeChange(c.symbol, c.old, c.new, "set by the fix")
                                             for c in change.cascade], 1, 1, True)
            for item in group.items:
                if item.fix is None or not item.fix.found:
                    item.fix = fix
                    item.finding = _with_fix(item.finding, fix)
            break


def _lowers(kconf: kconfiglib.Kconfig, assignment: tuple[str, str]) -> tuple[int, int]:
    """Sort key of a fix's assignment: a raise (n -> m/y: enabling what is missing) first, then a
    lowering one, the fewer symbols depend on it the sooner (not a whole menu like NETDEVICES)."""
    name, value = assignment
    sym = kconf.syms.get(name)
    if sym is None or sym.orig_type not in (BOOL, TRISTATE):
        return 0, 0
    lowers = _tri(value) < sym.tri_value
    return int(lowers), len(sym._dependents) if lowers else 0


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


class FixBudget:
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
                         budget: FixBudget | None = None) -> list[ChoiceNotHonoured]:
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
    budget = budget or FixBudget(fix_seconds, per_fix=max(0.05, fix_seconds / 4), candidates=fix_budget)
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
                  "where": line.where, "line": line.text, "new_line": line_text(name, new_value),
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
    out.sort(key=lambda c: (order[c.finding.level], c.line_number))
    if fixes:
        _share_fixes(out, editor)
    return out


def _fixable(reasons: Iterable[Reason]) -> bool:
    """Whether a why-not tree has a condition an assignment could change (else there is no fix to
    search for: every route ends at an arch constant or a compiler probe)."""
    return any((r.fix and not r.fixed) or _fixable(r.children) for r in reasons)


def _with_fix(finding: Finding, fix: Fix) -> Finding:
    text = "set " + " ".join(str(a) for a in fix.assignments) + \
        f" (verified on the new tree; {len(fix.cascade)} line(s) change with it)"
    return Finding(finding.level, finding.kind, finding.arch, finding.entry, finding.symbols, finding.values,
                   finding.where, finding.message, text, {**finding.details, "fix_assignments":
                                                          [str(a) for a in fix.assignments]})


def _verified_fix(editor: Editor, sym: kconfiglib.Symbol, line: ConfigLineAt, budget: FixBudget) -> Fix | None:
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
        return ChoiceNotHonoured(section_finding("choices", "removed", arch, name, level=level, details=details,
                                          replacement_text=_replacement_text(view, name), fix_text="", **common))
    if sym in view.hidden:
        targets = view.successors.get(name, [])
        renamed_to = ", ".join(f"CONFIG_{n} ({w})" for n, w in targets) or "(no symbol reads it)"
        carried = [n for n, _ in targets if written.get(n, "n") == line.value]
        if carried:
            text, level = f"its value carries over: {line_text(carried[0], written.get(carried[0]))}", "info"
        else:
            text, level = "the new symbol ends up " + ", ".join(line_text(n, written.get(n)) for n, _ in targets), None
        details = {**details, "renamed_to": ",".join(n for n, _ in targets), "defined_at": location(sym)}
        reason = Reason(f"{name} is transitional: read from an old .config, never written", location(sym))
        for target, where in targets:
            reason.children.append(Reason(f"{target} has 'default {name}'", where,
                                          {target: written.get(target, "n")}))
        return ChoiceNotHonoured(section_finding("choices", "renamed", arch, name, level=level, details=details,
                                          transitional_at=location(sym), renamed_to=renamed_to,
                                          carried_text=text, fix_text="", **common), [reason])
    details = {**details, "defined_at": location(sym)}
    reason_line = shorten(cascade_reason(new, sym, line.value, new_value), 400)
    if line.value == "n" and new_value is None:
        return ChoiceNotHonoured(section_finding("choices", "hidden", arch, name, details=details, reason=reason_line,
                                          **common))
    if sym.orig_type is BOOL and line.value == "m":
        return ChoiceNotHonoured(section_finding("choices", "type", arch, name, details=details, new_type="bool",
                                          **common))
    value = _assignment_value(sym, line.value)
    reasons = editor.why_not(Assignment(name, value))
    if sym.choice is not None and line.value == "n" and new_value == "y":
        gone = _choice_selection_gone(view, sym)
        if gone is not None:
            reason = Reason(f"the choice's selection in the config, CONFIG_{gone}, is not defined in "
                            f"{view.to_version}", location(sym.choice))
            return ChoiceNotHonoured(section_finding("choices", "choice-member-gone", arch, name, details=details,
                                              old_selection=gone, choice_at=location(sym.choice),
                                              fix_text="", **common), [reason, *reasons])
        selection = _config_selection(view, sym)
        why = (f"the choice picks it because the config's selection, CONFIG_{selection}=y, can't be had"
               if selection else reason_line)
        return ChoiceNotHonoured(section_finding("choices", "choice-pick", arch, name, details=details, reason=why,
                                          fix_text="", **common), reasons)
    if sym.choice is not None and line.value == "y":
        picked = sym.choice.selection
        why = (f"{picked.name} is the choice's selection now ({location(sym.choice)})" if picked is not None
               else reason_line)
        return ChoiceNotHonoured(section_finding("choices", "choice", arch, name, details=details, reason=why,
                                          fix_text="", **common), reasons)
    if sym.orig_type in (BOOL, TRISTATE):
        kind = "raised" if _tri(new_value) > _tri(line.value) else "dependency"
        return ChoiceNotHonoured(section_finding("choices", kind, arch, name, details=details, reason=reason_line,
                                          fix_text="", **common), reasons)
    # int, hex, string
    out_of_range = _range_reason(sym, value)
    if out_of_range is not None:
        return ChoiceNotHonoured(section_finding("choices", "range", arch, name, details=details,
                                          reason=out_of_range.text, fix_text="", **common),
                                 reasons or [out_of_range])
    kind = "dependency" if not sym.visibility else "value"
    return ChoiceNotHonoured(section_finding("choices", kind, arch, name, details=details, reason=reason_line,
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
