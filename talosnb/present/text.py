"""The wording of every fact talosnb states, in one place: the command line prints these strings
and the widgets and HTML show the very same ones.

One function per fact: a config line's value (``(no line)`` when the file has
none), a cascade line, a change set, a refusal and its fix, each line of the
symbol panel. A value the file has no line for is always "(no line)" in a table
or cascade, and "n (no line in the file)" where a refusal says what a bool or
tristate ends as.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from talosnb.analyses import edit
from talosnb.app.workspace import EditOutcome, Overridden
from talosnb.core import dotconfig
from talosnb.core.errors import opt

from .gates import guard_text, workloads_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from talosnb.analyses.symbol import (
        ArchPanel,
        ChoiceOf,
        DefaultInForce,
        Definition,
        Expression,
        RangeInForce,
        ReverseTerm,
        Target,
    )
    from talosnb.kconfig.explain import Reason
    from talosnb.kconfig.toolchain import ProbeChange

#: how an absent config line reads in tables and cascades
NO_LINE = "(no line)"


# --- values -----------------------------------------------------------------------

def line_value(value: str | None) -> str:
    """A value as the config file holds it: ``(no line)`` when absent, ``""`` for an empty string."""
    if value is None:
        return NO_LINE
    return value if value != "" else '""'


def overridden_line(o: Overridden) -> str:
    """A value the user set earlier that a later change replaces, said as such."""
    return (f"{o.symbol}={o.wanted} on {o.arch} was set earlier ({o.step}); {o.by} makes it "
            f"{line_value(o.now)}")


def ends_as(value: str | None, kind: str | None = None) -> str:
    """What an assignment ended as: an absent bool/tristate line is n, said so."""
    if value is None:
        return "n (no line in the file)" if kind in (None, "bool", "tristate") else "(no line in the file)"
    return line_value(value)


def values_text(values: Mapping[str, str | None]) -> str:
    """Per arch values in one line: ``amd64=m, arm64=n``."""
    return ", ".join(f"{arch}={line_value(v) if v is not None else '-'}" for arch, v in values.items())


# --- changes, refusals, fixes -----------------------------------------------------

def cascade_line(change: edit.CascadeChange) -> str:
    return f"{change.symbol}: {line_value(change.old)} -> {line_value(change.new)}  ({change.reason})"


#: the heading the re-recorded toolchain answers go under, before the cascade
TOOLCHAIN_HEADING = "toolchain (re-recorded as if made with that toolchain):"


def probe_line(change: ProbeChange) -> str:
    """One re-recorded toolchain answer (a toolchain.ProbeChange): the probe, old -> new, and the lines
    it feeds (a yes/no probe: what it runs)."""
    def shown(value: str) -> str:
        return dotconfig.quote(value) if change.kind == "text" and not value.isdigit() else value
    label = edit.probe_label(change)
    if change.kind == "yes/no":
        note = edit.probe_command(change)
    else:
        readers = [name for name in change.used_by if name != label]
        note = ", ".join(readers[:4]) + (", ..." if len(readers) > 4 else "")
        note = f"read by {note}" if note else ""
    return f"{label}: {shown(change.old)} -> {shown(change.new)}" + (f"  ({note})" if note else "")


def toolchain_lines(changes: Sequence[ProbeChange]) -> list[str]:
    """The heading and one line per re-recorded answer (empty when none was)."""
    if not changes:
        return []
    return [TOOLCHAIN_HEADING] + [f"  {probe_line(c)}" for c in changes]


def change_head(change: edit.ChangeSet) -> str:
    """``amd64 (6.12.117): 3 change(s)`` / ``refused, nothing changed`` / ``no change``."""
    if change.mode == "set" and change.refusals:
        state = "refused, nothing changed"
    elif not change.cascade:
        state = "no change"
    else:
        state = f"{len(change.cascade)} change(s)" + ("" if change.applied else " (not applied)")
    return f"{change.arch} ({change.tree_version}): {state}"


def change_summary(change: edit.ChangeSet) -> str:
    """The head without the arch and tree: what the status line says per arch."""
    return change_head(change).split("): ", 1)[1]


def undefined_line(name: str, arch: str) -> str:
    return f"{name}: not defined on {arch}"


def cascade_groups(cascade: Iterable[edit.CascadeChange]) -> tuple[list[edit.CascadeChange],
                                                                   list[edit.CascadeChange]]:
    """The real changes of a cascade, and apart from them the lines only written because a prompt
    became visible with nothing set ("now visible", n: conf writes '# CONFIG_X is not set' for each),
    which can be many and say little."""
    real: list[edit.CascadeChange] = []
    shown: list[edit.CascadeChange] = []
    for c in cascade:
        quiet = c.old is None and c.new == "n" and c.reason.startswith("now visible")
        (shown if quiet else real).append(c)
    return real, shown


def now_visible_line(shown: list[edit.CascadeChange], limit: int = 8) -> str:
    names = ", ".join(c.symbol for c in shown[:limit]) + (", ..." if len(shown) > limit else "")
    return f"now visible, n ({len(shown)} line(s) '# CONFIG_X is not set'): {names}"


def change_text(change: edit.ChangeSet) -> str:
    out = [change_head(change)]
    out += [f"  {undefined_line(n, change.arch)}" for n in change.undefined]
    if not (change.mode == "set" and change.refusals):
        out += [f"  {line}" for line in toolchain_lines(change.toolchain)]
        real, shown = cascade_groups(change.cascade)
        out += [f"  {cascade_line(c)}" for c in real]
        if shown:
            out.append(f"  {now_visible_line(shown)}")
    for refusal in change.refusals:
        out.append("  " + refusal_text(refusal).replace("\n", "\n  "))
    return "\n".join(out)


def refusal_head(refusal: edit.Refusal) -> str:
    kind = "bool" if refusal.assignment.value in ("y", "m", "n") else "value"
    return f"{refusal.assignment} can't take effect: it ends as {ends_as(refusal.got, kind)}"


def reason_line(reason: Reason) -> str:
    where = f" ({reason.where})" if reason.where else ""
    mark = " [fixed: no assignment changes it]" if reason.fixed else ""
    return reason.text + where + mark


def reason_lines(reason: Reason, indent: int = 0) -> list[str]:
    out = ["  " * indent + "- " + reason_line(reason)]
    for child in reason.children:
        out += reason_lines(child, indent + 1)
    return out


def _range_reason(refusal: edit.Refusal | None) -> Reason | None:
    if refusal is None:
        return None
    return next((r for r in refusal.reasons if getattr(r, "kind", "") == "range"), None)


def fix_head(fix: edit.Fix, refusal: edit.Refusal | None = None) -> str:
    """One line: the verified fix, or why there is none (for a value out of its range: the range)."""
    if fix.found:
        return ("verified fix: set " + " ".join(str(a) for a in fix.assignments)
                + f"  ({fix.tried} candidate(s) tried)")
    out_of_range = _range_reason(refusal)
    if out_of_range is not None:
        assert refusal is not None and out_of_range.bounds is not None   # a range reason has its bounds
        low, high = out_of_range.bounds
        where = f" ({out_of_range.where})" if out_of_range.where else ""
        return (f"no fix: {refusal.assignment.value} is outside the range {low}..{high} in force here{where}; "
                f"give a value from {low} to {high}")
    why = ("the search budget ran out" if fix.exhausted
           else "every route found is blocked (fixed conditions or conflicts)")
    return f"no verified fix: {why} ({fix.tried} candidate(s) tried, budget {fix.budget})"


def side_effects(fix: edit.Fix, limit: int = 40) -> list[str]:
    """The fix's cascade, what gets built (or stops being built) first; 'is not set'-only lines last."""
    if not fix.cascade:
        return []
    def quiet(c: edit.CascadeChange) -> bool:
        return (c.old or "n") == "n" and (c.new or "n") == "n"
    shown = sorted(fix.cascade, key=lambda c: (quiet(c), c.reason not in ("requested", "set by the fix"),
                                               c.symbol))
    count = sum(1 for c in fix.cascade if quiet(c))
    out = [f"side effects ({len(fix.cascade)}"
           + (f", of which {count} only add or drop an 'is not set' line" if count else "") + "):"]
    out += [f"  {cascade_line(c)}" for c in shown[:limit]]
    if len(fix.cascade) > limit:
        out.append(f"  ... and {len(fix.cascade) - limit} more")
    return out


def many_lines_warning(fix: edit.Fix) -> str | None:
    if len(fix.cascade) <= 50:
        return None
    return (f"WARNING: this fix changes {len(fix.cascade)} lines; review them before applying it "
            f"(set {' '.join(str(a) for a in fix.assignments)} with {opt('dry_run')})")


def fix_text(fix: edit.Fix, refusal: edit.Refusal | None = None) -> str:
    out = [fix_head(fix, refusal)]
    if fix.found:
        warning = many_lines_warning(fix)
        if warning:
            out.append("  " + warning)
        out += ["  " + line for line in side_effects(fix)]
    return "\n".join(out)


def refusal_text(refusal: edit.Refusal) -> str:
    out = [refusal_head(refusal)]
    for reason in refusal.reasons:
        out += reason_lines(reason, 1)
    if refusal.fix is not None:
        out.append("  " + fix_text(refusal.fix, refusal).replace("\n", "\n  "))
    return "\n".join(out)


def fix_button_label(arch: str, refusal: edit.Refusal) -> str:
    """What the button applying a verified fix says."""
    assert refusal.fix is not None   # the button is made for a refusal with a verified fix
    fix = " ".join(str(a) for a in [*refusal.fix.assignments, refusal.assignment])
    return f"apply verified fix on {arch}: {fix}"


def module_list_error_lines(outcome: EditOutcome) -> list[str]:
    out = []
    for finding in outcome.module_list_errors:
        out.append(f"module list: {finding['arch']}: {finding['message']}")
        if finding.get("fix"):
            out.append(f"  fix: {finding['fix']}")
    return out


def outcome_text(outcome: EditOutcome, *, written: Mapping[str, bool] | None = None, dry_run: bool = False,
                 sources: Mapping[str, str] | None = None) -> str:
    """A set or merge outcome as `talosnb set`/`merge` print it (`written`: which configs a save wrote),
    then the build gates the change makes fail."""
    gates = guard_text(outcome.gates) if outcome.gates is not None else ""
    gates += workloads_text(outcome.workloads) if outcome.workloads is not None else ""
    gates = "\n" + gates if gates else ""
    if outcome.mode == "merge":
        return _merge_text(outcome, written or {}, dry_run) + gates
    written = written or {}
    text = ""
    for arch, change in outcome.changes.items():
        text += "\n" + change_text(change) + "\n"
        if written.get(arch) and sources:
            text += f"  written to {sources[arch]}\n"
        if outcome.drift.get(arch) and not outcome.refused:
            text += (f"  writing also normalizes {len(outcome.drift[arch])} line(s) as make olddefconfig would "
                     "(the tree differs from the one the config was made with):\n")
            text += "".join(f"    {c}\n" for c in outcome.drift[arch])
        for entry in outcome.modules.get(arch, {}).get("built", []):
            text += f"  now builds {entry}\n"
        for entry in outcome.modules.get(arch, {}).get("added", []):
            text += f"  {'would add' if dry_run else 'added'} to the module list: {entry}\n"
    for line in module_list_error_lines(outcome):
        text += ("\n" if line.startswith("module list") else "") + line + "\n"
    for o in outcome.overridden:
        text += f"\nWARNING: {overridden_line(o)}; set {o.symbol}={o.wanted} again if you still want it\n"
    text += "".join(outcome.fix_notes)
    return text + gates


def _merge_text(outcome: EditOutcome, written: Mapping[str, bool], dry_run: bool) -> str:
    text = "".join(f"\nnote: {line}" for line in outcome.redefined)
    for a in outcome.unknown:
        text += (f"\nWARNING: {a.where}: CONFIG_{a.symbol} is not defined in the {outcome.tree_version} tree "
                 "on any arch; ignored")
    if outcome.redefined or outcome.unknown:
        text += "\n"
    for arch, change in outcome.changes.items():
        text += f"\n{arch} ({change.tree_version}): {len(change.cascade)} change(s)"
        text += " (dry run)\n" if dry_run else (" written\n" if written.get(arch) else "\n")
        text += "".join(f"  {undefined_line(name, arch)}\n" for name in change.undefined)
        text += "".join(f"  {line}\n" for line in toolchain_lines(change.toolchain))
        text += "".join(f"  {cascade_line(c)}\n" for c in change.cascade)
        for refusal in change.refusals:
            where = f"{refusal.assignment.where}: " if refusal.assignment.where else ""
            text += (f"  WARNING: {where}{refusal.assignment} requested, but the result has "
                     f"{ends_as(refusal.got)}\n")
            for reason in refusal.reasons:
                text += "\n".join(reason_lines(reason, 2)) + "\n"
    return text


# --- the symbol panel -------------------------------------------------------------

def expression(expr: Expression | None) -> str:
    """An expression with each symbol's value (menuconfig's ``A [=y] && B [=n]``), or ``-``."""
    return "-" if expr is None else expr.values


def _condition(expr: Expression | None) -> str:
    return f" if {expr.values}" if expr else ""


def definition_line(definition: Definition) -> str:
    prompt = f'"{definition.prompt}"' if definition.prompt else "(no prompt)"
    shown = "" if definition.prompt is None else (" (shown)" if definition.visible else " (hidden)")
    return f"{definition.where}  {prompt}{shown}"


def menu_path_text(path: Iterable[str]) -> str:
    return " > ".join(path) or "(top level)"


def value_line(panel: ArchPanel) -> str:
    value = panel.value if panel.value != "" else '""'
    return f"{value}  ({panel.line or NO_LINE[1:-1]})"


def assignable_text(panel: ArchPanel) -> str:
    """The values that can be set now: ``n, m, y``, the int/hex range in force, or any text."""
    if panel.type in ("bool", "tristate"):
        return ", ".join(panel.assignable) or "none now (the value is fixed by its dependencies)"
    if panel.type in ("int", "hex"):
        rng = panel.range
        if rng is None:
            return "any " + ("number" if panel.type == "int" else "hex number") + " (no range applies)"
        return f"{rng.low}..{rng.high}"
    return "any text"


def range_text(rng: RangeInForce | None) -> str:
    if rng is None:
        return "none applies"
    return f"{rng.low}..{rng.high}  ({rng.written}{_condition(rng.condition)}; {rng.where})"


def default_text(default: DefaultInForce | None) -> str:
    """The default that applies and its condition with values."""
    if default is None:
        return "none applies"
    value = default.value if default.value != "" else '""'
    return f"{value}  ({default.written}{_condition(default.condition)}; {default.where})"


def target_line(target: Target) -> str:
    return f"{target.symbol} [={target.value or 'n'}]{_condition(target.condition)}"


def reverse_groups(terms: Iterable[ReverseTerm]) -> list[tuple[str, list[str]]]:
    """Selected-by / implied-by terms grouped by their value, as menuconfig's
    "Selected by [y]:" / "[m]:" / "[n]:" lists them."""
    groups: dict[str, list[str]] = {}
    for term in terms:
        groups.setdefault(term.value, []).append(term.values + (f"  ({term.where})" if term.where else ""))
    return [(value, groups[value]) for value in ("y", "m", "n") if value in groups]


def choice_text(choice: ChoiceOf) -> tuple[str, str, str]:
    """The choice a symbol belongs to: (its prompt or name, where, the selection now)."""
    return choice.prompt or choice.name or "", choice.where, choice.selection or "-"


_LIST_ITEM = re.compile(r"^\s*(?:[-*o]\s|\d+[.)]\s|\[\w)")


def help_blocks(text: str) -> list[tuple[str, str]]:
    """A help text as paragraphs, the way it reads in menuconfig's help screen: the lines of each
    paragraph (blank-line separated) joined to flow in whatever width there is ("text"), while an
    indented block, a list or a table keeps its lines ("pre")."""
    blocks: list[tuple[str, str]] = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = block.split("\n")
        indents = {len(line) - len(line.lstrip()) for line in lines if line.strip()}
        if not indents:
            continue
        flows = len(indents) == 1 and not any(_LIST_ITEM.match(line) for line in lines)
        if flows:
            blocks.append(("text", " ".join(line.strip() for line in lines if line.strip())))
        else:
            base = min(indents)
            blocks.append(("pre", "\n".join(line[base:].rstrip() for line in lines)))
    return blocks


MODULE_STATES = {"module": "built as a module", "builtin": "built in (no .ko)", "not-built": "not built"}


def module_fact(module: Mapping[str, str | None]) -> str:
    """One .ko a symbol builds, what the config does with it and where the module list has it:
    ``kernel/drivers/net/dummy.ko: built as a module, listed at hack/modules-amd64.txt:183``."""
    listed = f"listed at {module['listed']}" if module["listed"] else "not in the module list"
    state = module["state"] or ""
    return f"{module['ko']}: {MODULE_STATES.get(state, state)}, {listed}"


def modules_text(panel: ArchPanel) -> list[str]:
    """One arch's .ko files of the symbol panel (none: the symbol makes no module on this arch)."""
    if panel.modules is None:
        return []
    return [module_fact(m) for m in panel.modules] or ["(its own obj- lines make no .ko on this arch)"]


# The symbol panel's facts, in the order the text and the HTML table show them (the table leads
# with "defined at"; the text shows each definition's "prompt shown if" and menu under it).
PANEL_FACTS = ("value", "why", "assignable", "range", "default", "modules", "defined at", "depends on",
               "prompt shown if", "choice", "selects", "implies", "selected by", "implied by")


def panel_facts(sides: Sequence[ArchPanel]) -> list[str]:
    """The facts of :data:`PANEL_FACTS` that apply to these arches' sides of a symbol's panel (one
    side for the text, every defined arch for the table): a range for an int/hex, the rest when
    some side has them."""
    applies = {
        "range": sides[0].type in ("int", "hex"),
        "modules": any(s.modules is not None for s in sides),
        "prompt shown if": any(d.visible_if for s in sides for d in s.definitions),
        "choice": any(s.choice for s in sides),
        "selects": any(s.selects for s in sides),
        "implies": any(s.implies for s in sides),
        "selected by": any(s.selected_by for s in sides),
        "implied by": any(s.implied_by for s in sides),
    }
    return [fact for fact in PANEL_FACTS if applies.get(fact, True)]


def fact_label(fact: str, symbol_type: str) -> str:
    """A fact's label: what can be assigned to a bool/tristate, what an int/hex/string accepts."""
    return "accepts" if fact == "assignable" and symbol_type not in ("bool", "tristate") else fact


def _definition_lines(panel: ArchPanel) -> list[str]:
    out = []
    for d in panel.definitions:
        out.append(f"defined at: {definition_line(d)}")
        if d.visible_if:
            out.append(f"  prompt shown if: {expression(d.visible_if)}")
        out.append(f"  menu: {menu_path_text(d.menu_path)}")
    return out


def _choice_lines(panel: ArchPanel) -> list[str]:
    if panel.choice is None:
        return []
    name, where, selection = choice_text(panel.choice)
    return [f"choice: {name} ({where}), selected: {selection}"]


def _reverse_lines(label: str, terms: list[ReverseTerm]) -> list[str]:
    out = []
    for value, lines in reverse_groups(terms):
        out.append(f"{label} [{value}]:")
        out += [f"  - {line}" for line in lines]
    return out


_FACT_LINES: dict[str, Callable[[ArchPanel], list[str]]] = {
    "value": lambda p: [f"value: {value_line(p)}"],
    "why": lambda p: [f"why: {p.reason}"],
    "assignable": lambda p: [f"{fact_label('assignable', p.type)}: {assignable_text(p)}"],
    "range": lambda p: [f"range: {range_text(p.range)}"],
    "default": lambda p: [f"default: {default_text(p.default)}"],
    "modules": lambda p: [f"module: {line}" for line in modules_text(p)],
    "defined at": _definition_lines,
    "depends on": lambda p: [f"depends on: {expression(p.depends_on)}"],
    "prompt shown if": lambda p: [],      # under each definition ("defined at")
    "choice": _choice_lines,
    "selects": lambda p: ["selects: " + ", ".join(target_line(t) for t in p.selects)],
    "implies": lambda p: ["implies: " + ", ".join(target_line(t) for t in p.implies)],
    "selected by": lambda p: _reverse_lines("selected by", p.selected_by),
    "implied by": lambda p: _reverse_lines("implied by", p.implied_by),
}


def panel_lines(panel: ArchPanel) -> list[str]:
    """One arch's symbol panel as text lines (what `talosnb get` prints, label: value)."""
    return [line for fact in panel_facts([panel]) for line in _FACT_LINES[fact](panel)]
