"""The wording of every fact talosnb states, in one place: the command line prints these strings
and the widgets and HTML show the very same ones.

One function per fact: a config line's value (``(no line)`` when the file has
none), each line of the symbol panel (an edit's outcome: :mod:`talosnb.present.edit`).
A value the file has no line for is always "(no line)" in a table or cascade, and
"n (no line in the file)" where a refusal says what a bool or tristate ends as.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

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
    from talosnb.app.workspace import Overridden

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
