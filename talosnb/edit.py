"""Setting symbols with the kernel's semantics: cascade, refusal explanations, verified fixes, undo.

The model is the kernel's own workflow: an assignment (or a fragment of them) is
merged into the .config and `conf --olddefconfig` computes the rest.  On a loaded
Config that is exactly `Symbol.set_value` on the loaded user values (talosnb's
engine follows conf's value rules), so a change set is:

1. set the user values of the requested symbols (in order, later ones win);
2. read back the written values: every assignment whose written value differs
   from the requested one did not take effect;
3. `set` keeps the change only when every assignment took effect (otherwise the
   prior user values are restored and the refusal is explained), `merge` keeps
   it and lists the assignments that did not take effect (as merge_config.sh does);
4. a kept change is then re-based: the user values become the written ones, as
   if the written file had been loaded again, so the next change set starts from
   what is on disk after a write.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import kconfiglib
from kconfiglib import AND, BOOL, HEX, INT, NOT, OR, STRING, TRI_TO_STR, TRISTATE, expr_str, expr_value

from .errors import InputError
from .kconfig import semantics, toolchain
from .kconfig.config import Config

_ASSIGN = re.compile(r"^(?:CONFIG_)?([A-Za-z0-9_]+)=(.*)$")
_NOT_SET = re.compile(r"^#\s*CONFIG_([A-Za-z0-9_]+) is not set\s*$")
_RELATIONS = {kconfiglib.EQUAL: "=", kconfiglib.UNEQUAL: "!=", kconfiglib.LESS: "<",
              kconfiglib.LESS_EQUAL: "<=", kconfiglib.GREATER: ">", kconfiglib.GREATER_EQUAL: ">="}


# --- assignments ------------------------------------------------------------

@dataclass(frozen=True)
class Assignment:
    """SYMBOL=value; values as kconfig holds them (strings unquoted, 'n' for not set)."""

    symbol: str
    value: str
    where: str | None = None   # file:line of a fragment line

    def __str__(self) -> str:
        return f"{self.symbol}={self.value}"

    def line(self, config: Config | None = None) -> str:
        """The .config line for this assignment."""
        if self.value == "n" and (config is None or _is_tri(config, self.symbol)):
            return f"# CONFIG_{self.symbol} is not set"
        if config is not None and config.has_symbol(self.symbol) \
                and config.symbol(self.symbol).orig_type is STRING:
            return f'CONFIG_{self.symbol}="{_escape(self.value)}"'
        return f"CONFIG_{self.symbol}={self.value}"


def _is_tri(config: Config, name: str) -> bool:
    return not config.has_symbol(name) or config.symbol(name).orig_type in (BOOL, TRISTATE)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_assignment(text: str, where: str | None = None) -> Assignment:
    """'SYMBOL=value', 'CONFIG_SYMBOL=value' or '# CONFIG_SYMBOL is not set'."""
    text = text.strip()
    m = _NOT_SET.match(text)
    if m:
        return Assignment(m[1], "n", where)
    m = _ASSIGN.match(text)
    if not m:
        raise InputError(f"not an assignment: {text!r}", where=where,
                         hint="write SYMBOL=VALUE, e.g. BLK_DEV_NBD=m, or '# CONFIG_X is not set'")
    return Assignment(m[1], _unquote(m[2]), where)


def parse_fragment(text: str, source: str, *, collect: bool = False):
    """A config fragment as Talos users keep them: CONFIG_ lines, 'is not set' lines, comments.

    With collect=True, returns (assignments, ["file:line: problem", ...]) instead of
    raising at the first line that is not an assignment.
    """
    out, bad = [], []
    for linenr, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or (line.startswith("#") and not _NOT_SET.match(line)):
            continue
        try:
            out.append(parse_assignment(line, where=f"{source}:{linenr}"))
        except InputError as e:
            if not collect:
                raise
            bad.append(f"{source}:{linenr}: {e.message}")
    return (out, bad) if collect else out


def canonical(config: Config, assignment: Assignment) -> Assignment:
    """Check the value against the symbol's type; hex gets its 0x like menuconfig adds it."""
    sym = config.symbol(assignment.symbol)   # raises with "did you mean"
    value, kind = assignment.value, sym.orig_type
    bad = None
    if kind is BOOL and value not in ("y", "n"):
        bad = "y or n" + (" (it is a bool: there is no m)" if value == "m" else "")
    elif kind is TRISTATE and value not in ("y", "m", "n"):
        bad = "y, m or n"
    elif kind is INT and not re.fullmatch(r"-?[0-9]+", value):
        bad = "a decimal number"
    elif kind is HEX:
        if not re.fullmatch(r"(0[xX])?[0-9a-fA-F]+", value):
            bad = "a hex number"
        elif not value.lower().startswith("0x"):
            value = "0x" + value
    if bad:
        raise InputError(f"{assignment.value!r} is not a valid value for CONFIG_{sym.name} "
                         f"({kconfiglib.TYPE_TO_STR[kind]})", where=assignment.where,
                         hint=f"use {bad}")
    return Assignment(sym.name, value, assignment.where)


# --- state: user values, restorable exactly -----------------------------------

class _Trial:
    """Records the user state of every symbol it touches, to put it back exactly."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.syms: dict = {}
        self.choices: dict = {}
        self.priorities: dict = {}

    def set(self, sym, value: str | None) -> None:
        if sym not in self.syms:
            self.syms[sym] = sym.user_value
        choice = sym.choice
        if choice is not None and choice not in self.choices:
            self.choices[choice] = (choice.user_value, choice.user_selection)
            self.priorities[choice] = list(semantics.choice_priority(choice))
        if value is None:
            sym.unset_value()
        else:
            sym.set_value(value)

    def state_before(self, now):
        """The full user state (as _user_state gives it) from before this trial's changes."""
        syms, choices, priorities = now
        syms = dict(syms)
        for sym, value in self.syms.items():
            if value is None:
                syms.pop(sym, None)
            else:
                syms[sym] = value
        choices = {**choices, **self.choices}
        priorities = {**priorities, **{c: list(p) for c, p in self.priorities.items()}}
        return syms, choices, priorities

    def restore(self) -> None:
        for sym, value in self.syms.items():
            sym.user_value = value
            sym._rec_invalidate()
        for choice, (value, selection) in self.choices.items():
            choice.user_value, choice.user_selection = value, selection
            semantics.choice_priority(choice)[:] = self.priorities[choice]
            choice._rec_invalidate()


def _user_state(config: Config):
    kconf = config.kconf
    syms = {s: s.user_value for s in kconf.unique_defined_syms if s.user_value is not None}
    choices = {c: (c.user_value, c.user_selection) for c in kconf.unique_choices}
    priorities = {c: list(p) for c, p in kconf.__dict__.get("talosnb_choice_priority", {}).items()}
    return syms, choices, priorities


def _restore_state(config: Config, state) -> None:
    """Put back user values, choice selections and priorities; invalidate only what differs."""
    kconf = config.kconf
    syms, choices, priorities = state
    for sym in kconf.unique_defined_syms:
        value = syms.get(sym)
        if sym.user_value != value:
            sym.user_value = value
            sym._rec_invalidate()
    table = semantics_table = kconf.__dict__.setdefault("talosnb_choice_priority", {})
    for choice in kconf.unique_choices:
        value, selection = choices.get(choice, (None, None))
        order = priorities.get(choice)
        current = semantics_table.get(choice)
        if (choice.user_value, choice.user_selection) != (value, selection) or \
                (order is not None and current != order) or (order is None and choice in table):
            choice.user_value, choice.user_selection = value, selection
            if order is None:
                table.pop(choice, None)
            else:
                table[choice] = list(order)
            choice._rec_invalidate()


def _rebase(config: Config, written: dict[str, str]) -> None:
    """Make the user values those of the written file, as loading it again would."""
    kconf = config.kconf
    for sym in kconf.unique_defined_syms:
        want = written.get(sym.name)
        if want is not None and sym.orig_type in (BOOL, TRISTATE):
            want = kconfiglib.STR_TO_TRI[want]
        if sym.user_value != want:
            sym.user_value = want
            sym._rec_invalidate()
    # conf reads the file top to bottom, and each choice member read goes to the front.
    for choice in kconf.unique_choices:
        members = [s for s in choice.syms if s.name in written]
        order = members[::-1] + [s for s in choice.syms if s.name not in written]
        selection = next((s for s in members if written[s.name] == "y"), None)
        mode = None if selection is None else 2
        priority = semantics.choice_priority(choice)
        if priority != order or choice.user_selection is not selection or choice.user_value != mode:
            priority[:] = order
            choice.user_selection, choice.user_value = selection, mode
            choice._rec_invalidate()


# --- explanations -------------------------------------------------------------

@dataclass
class Reason:
    """One condition in a why/why-not tree."""

    text: str
    where: str | None = None          # file:line in the kernel tree
    values: dict[str, str] = field(default_factory=dict)  # symbol -> current value
    fixed: bool = False               # no assignment can change it (arch constant, toolchain)
    fix: dict[str, str] | None = None  # an assignment that would satisfy this leaf
    children: list[Reason] = field(default_factory=list)

    def lines(self, indent: int = 0) -> list[str]:
        where = f" ({self.where})" if self.where else ""
        mark = " [fixed: no assignment changes it]" if self.fixed else ""
        out = ["  " * indent + "- " + self.text + where + mark]
        for child in self.children:
            out += child.lines(indent + 1)
        return out

    def as_dict(self) -> dict:
        return {"text": self.text, "where": self.where, "values": self.values, "fixed": self.fixed,
                "fix": self.fix, "children": [c.as_dict() for c in self.children]}


def _loc(item) -> str | None:
    nodes = getattr(item, "nodes", None)
    if not nodes:
        return None
    return f"{nodes[0].filename}:{nodes[0].linenr}"


def _sym_str(sym) -> str:
    if sym.is_constant:
        return sym.name
    return f"{sym.name} = {_display(sym)}"


def _display(sym) -> str:
    if not sym.nodes and not sym.is_constant:
        return "n"
    if sym.name.startswith(toolchain.PROBE_PREFIX) or sym.name.startswith(toolchain.TC_PREFIX):
        return sym.str_value or '""'
    if sym.orig_type is STRING:
        return f'"{sym.str_value}"'
    return sym.str_value or ("n" if sym.orig_type in (BOOL, TRISTATE) else '""')


def _pretty(expr) -> str:
    """expr_str with toolchain placeholders shown as what they stand for."""
    def sc(item):
        name = getattr(item, "name", None)
        if name and name.startswith(toolchain.PROBE_PREFIX):
            return f"<compiler probe {name[len(toolchain.PROBE_PREFIX):]}>"
        if name and name.startswith(toolchain.TC_PREFIX):
            return f"<toolchain {name[len(toolchain.TC_PREFIX):]}>"
        return kconfiglib.standard_sc_expr_str(item)
    return expr_str(expr, sc)


class _Explainer:
    """Builds the tree of unmet conditions behind a value, with the fixes each leaf needs."""

    def __init__(self, config: Config, depth: int = 5) -> None:
        self.config = config
        self.kconf = config.kconf
        self.depth = depth
        self._fixed: dict = {}

    # Is the symbol's value beyond any user assignment? (arch constants, probes)
    def fixed(self, sym, _stack: frozenset = frozenset()) -> bool:
        if len(_stack) > 60:
            return False
        if sym.is_constant or sym.name.startswith(("TALOSNB_",)):
            return True
        if sym in self._fixed:
            return self._fixed[sym]
        if sym in _stack:
            return False
        if any(node.prompt for node in sym.nodes) or sym.choice is not None:
            self._fixed[sym] = False
            return False
        stack = _stack | {sym}
        deps = set()
        for value, cond in sym.defaults:
            deps |= set(kconfiglib.expr_items(value)) | set(kconfiglib.expr_items(cond))
        deps |= set(kconfiglib.expr_items(sym.rev_dep)) | set(kconfiglib.expr_items(sym.weak_rev_dep))
        deps |= set(kconfiglib.expr_items(sym.direct_dep))
        result = all(self.fixed(d, stack) for d in deps if isinstance(d, kconfiglib.Symbol))
        self._fixed[sym] = result
        return result

    def _terminal(self, head: Reason, sym, want: str, depth: int, seen: frozenset) -> bool:
        """Fill in `head` when the explanation stops at `sym` (undefined, fixed, too deep, a loop)."""
        if not sym.nodes and not sym.is_constant:
            head.text = f"{sym.name} is not defined on {self.config.arch} (so it is n)"
            head.fixed = True
        elif sym.is_constant or self.fixed(sym):
            head.fixed = True
            head.text = f"{sym.name} = {_display(sym)}: " + (
                "a compiler/toolchain probe result" if sym.name.startswith("TALOSNB_")
                else "fixed for this arch and toolchain")
        elif depth >= self.depth or sym in seen:
            head.fix = {sym.name: want}
        else:
            return False
        return True

    def why_low(self, sym, need: int, depth: int = 0, seen: frozenset = frozenset()) -> Reason:
        """Why `sym` is below `need` (1 = m, 2 = y)."""
        want = "y" if need == 1 and sym.orig_type is BOOL else TRI_TO_STR[need]
        head = Reason(f"{sym.name} = {_display(sym)}, needs to be at least {want}", _loc(sym),
                      {sym.name: _display(sym)})
        if self._terminal(head, sym, want, depth, seen):
            return head
        seen = seen | {sym}
        prompts = [n for n in sym.nodes if n.prompt]
        if prompts:
            vis = sym.visibility
            if vis >= need:
                head.text = f"{sym.name} = {_display(sym)}: set in the config; set it to {want}"
                head.fix = {sym.name: want}
                return head
            head.fix = {sym.name: want}
            for node in prompts:
                cond = node.prompt[1]
                if expr_value(cond) < need:
                    child = Reason(f"its prompt is visible only if {_pretty(cond)}, which is "
                                   f"{TRI_TO_STR[expr_value(cond)]}", f"{node.filename}:{node.linenr}",
                                   self._values(cond))
                    child.children = self.expr_low(cond, need, depth + 1, seen)
                    head.children.append(child)
            if sym.choice is not None and expr_value(sym.choice.direct_dep) < need:
                child = Reason(f"its choice depends on {_pretty(sym.choice.direct_dep)}", _loc(sym.choice))
                child.children = self.expr_low(sym.choice.direct_dep, need, depth + 1, seen)
                head.children.append(child)
            if need == 1 and sym.orig_type is TRISTATE and self.kconf.modules.tri_value == 0:
                head.children.append(self.why_low(self.kconf.modules, 2, depth + 1, seen))
            return head
        # promptless: only its defaults, select or imply can raise it
        head.text = f"{sym.name} = {_display(sym)} has no prompt: only a default, select or imply sets it"
        for value, cond in sym.orig_defaults:
            if expr_value(value) >= need:
                full = self.kconf._make_and(cond, sym.direct_dep)
                child = Reason(f"default {_pretty(value)} if {_pretty(full)}", _loc(sym), self._values(full))
                child.children = self.expr_low(full, need, depth + 1, seen)
                head.children.append(child)
        for term in kconfiglib.split_expr(sym.rev_dep, OR) + kconfiglib.split_expr(sym.weak_rev_dep, OR):
            if term is self.kconf.n:
                continue
            child = Reason(f"selected/implied if {_pretty(term)}", None, self._values(term))
            child.children = self.expr_low(term, need, depth + 1, seen)
            head.children.append(child)
        return head

    def why_high(self, sym, limit: int, depth: int = 0, seen: frozenset = frozenset()) -> Reason:
        """Why `sym` is above `limit` (0 = n, 1 = m)."""
        want = "n" if limit == 1 and sym.orig_type is BOOL else TRI_TO_STR[limit]
        head = Reason(f"{sym.name} = {_display(sym)}, needs to be at most {want}", _loc(sym),
                      {sym.name: _display(sym)})
        if self._terminal(head, sym, want, depth, seen):
            return head
        seen = seen | {sym}
        rev = expr_value(sym.rev_dep)
        if rev > limit:
            head.text = f"{sym.name} = {_display(sym)}: selected"
            for term in kconfiglib.split_expr(sym.rev_dep, OR):
                if expr_value(term) > limit:
                    child = Reason(f"selected by {_pretty(term)}, which is {TRI_TO_STR[expr_value(term)]}",
                                   _select_loc(term, sym), self._values(term))
                    child.children = self.expr_high(term, limit, depth + 1, seen)
                    head.children.append(child)
            return head
        if sym.choice is not None and sym.choice.tri_value == 2 and sym.choice.selection is sym and limit == 0:
            head.text = (f"{sym.name} is the selected member of a choice in y mode: one member is always "
                         "selected; select another member instead")
            head.where = _loc(sym.choice)
            others = [s for s in sym.choice.syms if s is not sym and s.visibility]
            if others:
                head.fix = {others[0].name: "y"}
            return head
        if sym.visibility > limit:
            head.text = f"{sym.name} = {_display(sym)}: set in the config; set it to {want}"
            head.fix = {sym.name: want}
            return head
        if any(n.prompt for n in sym.nodes) and sym.visibility and sym.visibility <= limit:
            head.fix = {sym.name: want}
            return head
        head.text = f"{sym.name} = {_display(sym)} comes from its defaults or imply"
        for value, cond in sym.defaults:
            if expr_value(cond):
                child = Reason(f"default {_pretty(value)} if {_pretty(cond)}", _loc(sym), self._values(cond))
                child.children = self.expr_high(cond, limit, depth + 1, seen)
                head.children.append(child)
                break
        if expr_value(sym.weak_rev_dep) > limit:
            child = Reason(f"implied by {_pretty(sym.weak_rev_dep)}", None, self._values(sym.weak_rev_dep))
            child.children = self.expr_high(sym.weak_rev_dep, limit, depth + 1, seen)
            head.children.append(child)
        return head

    def _values(self, expr) -> dict[str, str]:
        return {s.name: _display(s) for s in kconfiglib.expr_items(expr)
                if isinstance(s, kconfiglib.Symbol) and not s.is_constant}

    def expr_low(self, expr, need: int, depth: int, seen: frozenset) -> list[Reason]:
        """The unmet parts of `expr` (whose value is below `need`)."""
        if expr_value(expr) >= need:
            return []
        if isinstance(expr, kconfiglib.Symbol):
            return [self.why_low(expr, need, depth, seen)]
        if isinstance(expr, kconfiglib.Choice):
            return [Reason(f"choice {expr.name or ''} is {TRI_TO_STR[expr.tri_value]}", _loc(expr))]
        op = expr[0]
        if op is AND:
            return self.expr_low(expr[1], need, depth, seen) + self.expr_low(expr[2], need, depth, seen)
        if op is OR:
            alternatives = self.expr_low(expr[1], need, depth, seen) + self.expr_low(expr[2], need, depth, seen)
            if len(alternatives) <= 1:
                return alternatives
            return [Reason(f"none of these holds: {_pretty(expr)}", None, self._values(expr),
                           children=alternatives)]
        if op is NOT:
            return self.expr_high(expr[1], 2 - need, depth, seen)
        # relation: a = b, a != b, a < b ...
        left, right = expr[1], expr[2]
        text = (f"{_pretty(expr)} is false: {left.name} = {_display(left)}"
                + ("" if right.is_constant else f", {right.name} = {_display(right)}"))
        reason = Reason(text, _loc(left) if not left.is_constant else _loc(right), self._values(expr))
        target = _relation_fix(op, left, right)
        if target is not None and not self.fixed(target[0]):
            reason.fix = {target[0].name: target[1]}
        elif all(self.fixed(s) for s in (left, right) if not s.is_constant):
            reason.fixed = True
        return [reason]

    def expr_high(self, expr, limit: int, depth: int, seen: frozenset) -> list[Reason]:
        """Why `expr` is above `limit`: the parts that would have to go down."""
        if expr_value(expr) <= limit:
            return []
        if isinstance(expr, kconfiglib.Symbol):
            return [self.why_high(expr, limit, depth, seen)]
        if isinstance(expr, kconfiglib.Choice):
            return [Reason(f"choice {expr.name or ''} is {TRI_TO_STR[expr.tri_value]}", _loc(expr))]
        op = expr[0]
        if op is AND:
            alternatives = self.expr_high(expr[1], limit, depth, seen) + \
                self.expr_high(expr[2], limit, depth, seen)
            if len(alternatives) <= 1:
                return alternatives
            return [Reason(f"any one of these turned off would do: {_pretty(expr)}", None,
                           self._values(expr), children=alternatives)]
        if op is OR:
            return self.expr_high(expr[1], limit, depth, seen) + self.expr_high(expr[2], limit, depth, seen)
        if op is NOT:
            return self.expr_low(expr[1], 2 - limit, depth, seen)
        left, right = expr[1], expr[2]
        reason = Reason(f"{_pretty(expr)} holds: {left.name} = {_display(left)}", _loc(left), self._values(expr))
        if all(self.fixed(s) for s in (left, right) if not s.is_constant):
            reason.fixed = True
        return [reason]


def _term_str(term, target) -> str:
    where = _select_loc(term, target)
    return _pretty(term) + (f" ({where})" if where else "")


def selector_of(term):
    """The symbol whose `select`/`imply` a reverse-dependency term comes from (its leftmost operand)."""
    while isinstance(term, tuple) and term[0] is AND:
        term = term[1]
    return term if isinstance(term, kconfiglib.Symbol) and not term.is_constant else None


def _select_loc(term, target) -> str | None:
    """file:line of the `select`/`imply` line behind a reverse-dependency term."""
    selector = selector_of(term)
    if selector is None:
        return None
    for node in selector.nodes:
        for sym, _cond in list(getattr(node, "selects", ())) + list(getattr(node, "implies", ())):
            if sym is target:
                return f"{node.filename}:{node.linenr}"
    return _loc(selector)


def _relation_fix(op, left, right):
    """For `SYM = const` style conditions: the assignment that makes them true."""
    if left.is_constant and not right.is_constant:
        left, right = right, left
        op = {kconfiglib.LESS: kconfiglib.GREATER, kconfiglib.GREATER: kconfiglib.LESS,
              kconfiglib.LESS_EQUAL: kconfiglib.GREATER_EQUAL,
              kconfiglib.GREATER_EQUAL: kconfiglib.LESS_EQUAL}.get(op, op)
    if left.is_constant or not right.is_constant:
        return None
    if op is kconfiglib.EQUAL:
        return left, right.name
    if op is kconfiglib.UNEQUAL and left.orig_type in (BOOL, TRISTATE):
        return left, "n" if right.name != "n" else "y"
    return None


# --- results ------------------------------------------------------------------

@dataclass(frozen=True)
class CascadeChange:
    symbol: str
    old: str | None     # as written before (None: not in the file)
    new: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.symbol}: {_fmt(self.old)} -> {_fmt(self.new)}  ({self.reason})"


def _fmt(value: str | None) -> str:
    return "(not written)" if value is None else (value if value != "" else '""')


@dataclass
class Refusal:
    assignment: Assignment
    got: str | None                    # the value it ended with
    reasons: list[Reason]
    fix: Fix | None = None

    def text(self) -> str:
        got = self.got if self.got is not None else "n (no line in the file)"
        out = [f"{self.assignment} can't take effect: it ends as {got}"]
        for reason in self.reasons:
            out += reason.lines(1)
        if self.fix is not None:
            out.append("  " + self.fix.text().replace("\n", "\n  "))
        return "\n".join(out)

    def as_dict(self) -> dict:
        return {"symbol": self.assignment.symbol, "requested": self.assignment.value, "got": self.got,
                "reasons": [r.as_dict() for r in self.reasons],
                "fix": None if self.fix is None else self.fix.as_dict()}


@dataclass
class Fix:
    """A set of assignments verified to make the requested one take effect."""

    assignments: list[Assignment]
    cascade: list[CascadeChange]
    tried: int
    budget: int
    found: bool
    exhausted: bool = False           # True: the budget ran out before every route was tried
    seconds: float = 0.0

    def text(self) -> str:
        if not self.found:
            why = ("the search budget ran out" if self.exhausted
                   else "every route found is blocked (fixed conditions or conflicts)")
            return f"no verified fix: {why} ({self.tried} candidate(s) tried, budget {self.budget})"
        out = ["verified fix: set " + " ".join(str(a) for a in self.assignments)
               + f"  ({self.tried} candidate(s) tried)"]
        if len(self.cascade) > 50:
            out.append(f"  WARNING: this fix changes {len(self.cascade)} lines; review them with "
                       f"talosnb set --dry-run {' '.join(str(a) for a in self.assignments)}")
        if self.cascade:
            # what gets built (or stops being built) first; lines that only appear as "is not set" last
            shown = sorted(self.cascade, key=lambda c: ((c.old or "n") == "n" and (c.new or "n") == "n",
                                                          c.reason not in ("requested", "set by the fix"),
                                                          c.symbol))
            quiet = sum(1 for c in self.cascade if (c.old or "n") == "n" and (c.new or "n") == "n")
            out.append(f"  side effects ({len(self.cascade)}" +
                       (f", of which {quiet} only add or drop an 'is not set' line" if quiet else "") + "):")
            out += [f"    {c}" for c in shown[:40]]
            if len(self.cascade) > 40:
                out.append(f"    ... and {len(self.cascade) - 40} more")
        return "\n".join(out)

    def as_dict(self) -> dict:
        return {"found": self.found, "assignments": [str(a) for a in self.assignments],
                "cascade": [c.__dict__ for c in self.cascade], "tried": self.tried, "budget": self.budget,
                "exhausted": self.exhausted}


@dataclass
class ChangeSet:
    """What one set/merge did (or would do) on one arch."""

    arch: str
    tree_version: str
    requested: list[Assignment]
    results: dict[str, str | None]      # symbol -> value it ended with
    cascade: list[CascadeChange]
    refusals: list[Refusal]
    applied: bool
    mode: str                           # "set" or "merge"
    undefined: list[str] = field(default_factory=list)   # requested symbols this arch doesn't define

    @property
    def ok(self) -> bool:
        return not self.refusals

    def changed(self) -> list[CascadeChange]:
        """Every written change, the requested ones included."""
        return self.cascade

    def text(self) -> str:
        head = f"{self.arch} ({self.tree_version}): "
        if self.mode == "set" and self.refusals:
            head += "refused, nothing changed"
        elif not self.cascade:
            head += "no change"
        else:
            head += f"{len(self.cascade)} change(s)" + ("" if self.applied else " (not applied)")
        out = [head]
        for name in self.undefined:
            out.append(f"  {name}: not defined on {self.arch}")
        if self.mode == "set" and self.refusals:
            shown = []
        else:
            shown = self.cascade
        for change in shown:
            out.append(f"  {change}")
        for refusal in self.refusals:
            out.append("  " + refusal.text().replace("\n", "\n  "))
        return "\n".join(out)

    def as_dict(self) -> dict:
        return {"arch": self.arch, "tree_version": self.tree_version, "mode": self.mode,
                "applied": self.applied, "requested": [str(a) for a in self.requested],
                "results": self.results, "undefined": self.undefined,
                "cascade": [c.__dict__ for c in self.cascade],
                "refusals": [r.as_dict() for r in self.refusals]}


def _quote_if_string(config: Config, change: CascadeChange) -> str | None:
    """A cascade value as the .config line spells it (strings quoted)."""
    sym = config.kconf.syms[change.symbol]
    if change.new is not None and sym.orig_type is STRING:
        return f'"{_escape(change.new)}"'
    return change.new


# --- the editor -----------------------------------------------------------------

def _matches(config: Config, assignment: Assignment, written: dict[str, str]) -> bool:
    got = written.get(assignment.symbol)
    sym = config.kconf.syms[assignment.symbol]
    if sym.orig_type in (BOOL, TRISTATE):
        return (got or "n") == assignment.value
    if got is None:
        return False
    if sym.orig_type is HEX:
        try:
            return int(got, 16) == int(assignment.value, 16) and got.lower() == assignment.value.lower()
        except ValueError:
            return False
    return got == assignment.value


def assumed_probe_users(config: Config) -> dict[str, str]:
    """Symbol -> the compiler probe it depends on that the loaded config gives no answer for.

    In recorded mode such a probe (e.g. one only asked when KCSAN is on, in a config
    with KCSAN off) is assumed to succeed; the kernel's own tools would run it.
    """
    out: dict[str, str] = {}
    for answer in config.probe_answers:
        if answer.evidence == "assumed" and answer.kind == "yes/no":
            for user in answer.used_by:
                out.setdefault(user, answer.command)
    return out


def _cascade_reason(config: Config, sym, old: str | None, new: str | None,
                    assumed_probes: dict[str, str] | None = None) -> str:
    reason = _change_reason(config, sym, old, new)
    if assumed_probes is None:
        assumed_probes = assumed_probe_users(config)
    assumed = assumed_probes.get(sym.name)
    if assumed:
        reason += (f"; depends on a compiler probe this config has no answer for ({assumed}), "
                   "assumed to succeed — --toolchain host runs it")
    return reason


def _change_reason(config: Config, sym, old: str | None, new: str | None) -> str:
    if sym.choice is not None and old == "y" and new in ("n", None) and sym.choice.selection is not None:
        return (f"no longer the choice's selection: {sym.choice.selection.name} is "
                f"(choice at {_loc(sym.choice)})")
    if old == "m" and new == "y" and sym.orig_type is TRISTATE and config.kconf.modules.tri_value == 0:
        return "m needs MODULES=y, so it is built in"
    if new is None or (new == "n" and old not in (None, "n")):
        deps = sym.direct_dep
        if expr_value(deps) == 0:
            return f"no longer visible: depends on {_pretty(deps)}"
        if sym.rev_dep is not config.kconf.n and not expr_value(sym.rev_dep) and not sym.visibility:
            return f"no longer selected: selected only if {_pretty(sym.rev_dep)}"
        if new is None:
            return "no longer written: its prompt is hidden and no default applies"
    if sym.choice is not None and new == "y":
        return f"selected member of the choice at {_loc(sym.choice)}"
    if sym.orig_type in (BOOL, TRISTATE):
        rev = expr_value(sym.rev_dep)
        if rev and kconfiglib.STR_TO_TRI.get(new, 0) <= max(rev, 2 if sym.type is BOOL and rev else rev):
            terms = [t for t in kconfiglib.split_expr(sym.rev_dep, OR) if expr_value(t)]
            if terms:
                return "selected by " + ", ".join(_term_str(t, sym) for t in terms[:3])
        if expr_value(sym.weak_rev_dep) and (sym.user_value is None or not sym.visibility):
            terms = [t for t in kconfiglib.split_expr(sym.weak_rev_dep, OR) if expr_value(t)]
            return "implied by " + ", ".join(_pretty(t) for t in terms[:3])
    if sym.visibility and sym.user_value is not None and old is None:
        return f"visible again: {_pretty(_prompt_cond(sym))}; keeps its value from the config"
    if sym.visibility and sym.user_value is not None:
        user = sym.user_value if isinstance(sym.user_value, str) else TRI_TO_STR[sym.user_value]
        return (f"keeps its value from the config ({user}), within what its prompt allows now: "
                f"{_pretty(_prompt_cond(sym))} = {TRI_TO_STR[sym.visibility]}")
    for value, cond in sym.defaults:
        if expr_value(cond):
            return (f"default {_pretty(value)}" + ("" if cond is config.kconf.y else f" if {_pretty(cond)}"))
    if old is None:
        return f"now visible: {_pretty(_prompt_cond(sym))}"
    return "default"


def _prompt_cond(sym):
    """The condition of the symbol's most visible prompt (dependencies and `if` included)."""
    conds = [node.prompt[1] for node in sym.nodes if node.prompt]
    return max(conds, key=expr_value) if conds else sym.direct_dep


def value_reason(config: Config, sym) -> str:
    """Where a symbol's current value comes from, in one line (as `talosnb why` prints it)."""
    value = sym.str_value
    if sym in config._hidden():
        return "transitional: read from an old .config, never written"
    if sym.choice is not None:
        choice = sym.choice
        if choice.selection is sym:
            how = "selected in the config" if sym.user_value == 2 else "the choice's default"
            return f"the selected member of the choice at {_loc(choice)} ({how})"
        if not sym.visibility:
            return f"hidden: depends on {_pretty(sym.direct_dep)}"
        return f"another member of the choice at {_loc(choice)} is selected"
    prompts = [n for n in sym.nodes if n.prompt]
    if sym.orig_type in (BOOL, TRISTATE):
        rev = expr_value(sym.rev_dep)
        if rev and sym.tri_value <= max(rev, 2 if sym.type is BOOL else rev) \
                and not (sym.visibility and sym.user_value is not None and sym.user_value > rev):
            terms = [t for t in kconfiglib.split_expr(sym.rev_dep, OR) if expr_value(t)]
            return f"{value}: selected by " + ", ".join(_term_str(t, sym) for t in terms[:4])
    if prompts and sym.visibility and sym.user_value is not None:
        return f"{value}: set in the config (its prompt is visible)"
    if prompts and not sym.visibility:
        return f"{value}: its prompt is hidden: {_pretty(prompts[0].prompt[1])} is n"
    if sym.orig_type in (BOOL, TRISTATE) and expr_value(sym.weak_rev_dep) and sym.tri_value:
        terms = [t for t in kconfiglib.split_expr(sym.weak_rev_dep, OR) if expr_value(t)]
        return f"{value}: implied by " + ", ".join(_pretty(t) for t in terms[:4])
    for default, cond in sym.defaults:
        if expr_value(cond):
            text = f"{value}: default {_pretty(default)}"
            return text + ("" if cond is config.kconf.y else f" (because {_pretty(cond)})")
    return f"{value}: no default applies" + ("" if prompts else " and it has no prompt")


_original_invalidate = kconfiglib.Symbol._invalidate


def _recording_invalidate(self):
    _original_invalidate(self)
    dirty = self.kconfig.__dict__.get("talosnb_dirty")
    if dirty is not None:
        dirty.add(self)


kconfiglib.Symbol._invalidate = _recording_invalidate


def _dirty_set(kconf) -> set:
    """Symbols whose cached value kconfiglib dropped since the set was last cleared."""
    return kconf.__dict__.setdefault("talosnb_dirty", set())


class Editor:
    """Edits one arch's loaded Config: set/merge, why, verified fixes, undo/redo."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.history: list[tuple] = []   # (ChangeSet, user state before)
        self.future: list[tuple] = []
        self._written_cache: dict[str, str] | None = None
        self._recomputed: set[str] | None = None
        hidden = config._hidden()
        self._sym_set = {s for s in config.kconf.unique_defined_syms
                         if s not in hidden and not s.name.startswith("TALOSNB_")}

    @property
    def arch(self) -> str:
        return self.config.arch

    def _written(self) -> dict[str, str]:
        """The written values, recomputing only symbols whose cached value was invalidated.

        kconfiglib drops a symbol's cached value whenever something it depends on
        changes; every other symbol's line is still what it was the last time.
        Invalidations are recorded as they happen (see _dirty_set), so values
        computed in between (by text(), a widget, an explanation) can't hide a
        change. The names recomputed are kept in `_recomputed` for the cascade.
        """
        cache = self._written_cache
        dirty = _dirty_set(self.config.kconf)
        if cache is None:
            dirty.clear()
            cache = self._written_cache = self.config.written()
            self._recomputed = None
            return dict(cache)
        stale = [sym for sym in dirty if sym in self._sym_set]
        dirty.clear()
        for sym in stale:
            line = sym.config_string
            if line:
                cache[sym.name] = "n" if line.startswith("#") else sym.str_value
            else:
                cache.pop(sym.name, None)
        self._recomputed = {sym.name for sym in stale}
        return dict(cache)

    def _cascade(self, before: dict[str, str], after: dict[str, str],
                 names: Iterable[str] | None = None, requested: set[str] = frozenset()) -> list[CascadeChange]:
        kconf = self.config.kconf
        assumed = assumed_probe_users(self.config)
        out = []
        for name in sorted(names if names is not None else before.keys() | after.keys()):
            old, new = before.get(name), after.get(name)
            if old != new:
                reason = ("requested" if name in requested
                          else _cascade_reason(self.config, kconf.syms[name], old, new, assumed))
                out.append(CascadeChange(name, old, new, reason))
        return out

    def _apply(self, assignments: Sequence[Assignment], trial: _Trial) -> dict[str, str]:
        kconf = self.config.kconf
        for a in assignments:
            trial.set(kconf.syms[a.symbol], a.value)
        return self._written()

    def set(self, assignments: Iterable[Assignment | str], *, mode: str = "set", dry_run: bool = False,
            fix: bool = True, fix_budget: int = 200) -> ChangeSet:
        """Apply assignments as one batch (merged into the config, then olddefconfig).

        mode="set": all or nothing — if any assignment can't take effect, nothing
        changes and each refusal is explained (with a verified fix if `fix`).
        mode="merge": keep the result and list what did not take effect.
        """
        requested, undefined = self._prepare(assignments)
        before = self._written()
        trial = _Trial(self.config)
        after = self._apply(requested, trial)
        touched = self._recomputed
        # later assignments to the same symbol win, like later lines of a fragment
        final = {a.symbol: a for a in requested}
        failed = [a for a in final.values() if not _matches(self.config, a, after)]
        results = {a.symbol: after.get(a.symbol) for a in final.values()}
        cascade = self._cascade(before, after, touched, set(final))
        refusals = [Refusal(a, after.get(a.symbol), self._why_not(a)) for a in failed]
        keep = not dry_run and (mode == "merge" or not failed)
        change = ChangeSet(self.arch, self.config.tree.version, list(requested), results,
                           cascade, refusals, applied=keep, mode=mode, undefined=undefined)
        if keep and cascade:
            state = trial.state_before(_user_state(self.config))
            _rebase(self.config, after)
            self.history.append((change, state))
            self.future.clear()
        else:
            trial.restore()
        if fix and refusals and mode == "set":
            for refusal in refusals:
                refusal.fix = self.find_fix(refusal.assignment, budget=fix_budget)
        return change

    def _prepare(self, assignments) -> tuple[list[Assignment], list[str]]:
        requested, undefined = [], []
        for a in assignments:
            if isinstance(a, str):
                a = parse_assignment(a)
            name = a.symbol.removeprefix("CONFIG_")
            if not self.config.has_symbol(name) or self.config.kconf.syms[name] in self.config._hidden():
                undefined.append(name)
                continue
            requested.append(canonical(self.config, Assignment(name, a.value, a.where)))
        return requested, undefined

    # --- why ---------------------------------------------------------------

    def _why_not(self, assignment: Assignment) -> list[Reason]:
        """Explain (on the current state) why `assignment` doesn't take effect."""
        sym = self.config.kconf.syms[assignment.symbol]
        ex = _Explainer(self.config)
        trial = _Trial(self.config)
        trial.set(sym, assignment.value)
        try:
            reasons = self._explain(ex, sym, assignment)
        finally:
            trial.restore()
        return reasons

    def _explain(self, ex: _Explainer, sym, assignment: Assignment) -> list[Reason]:
        value = assignment.value
        if sym.orig_type in (BOOL, TRISTATE):
            want = kconfiglib.STR_TO_TRI[value]
            have = sym.tri_value
            if want == 1 and sym.type is BOOL and sym.orig_type is TRISTATE:
                return [Reason(f"{sym.name} can only be m when MODULES = y", _loc(self.config.kconf.modules),
                                   children=[ex.why_low(self.config.kconf.modules, 2)])]
            if have < want:
                return [ex.why_low(sym, want)]
            if have > want:
                return [ex.why_high(sym, want)]
            if sym.config_string == "" and want:
                return [ex.why_low(sym, want)]
            return []
        # int / hex / string
        reasons = []
        if not sym.visibility:
            head = ex.why_low(sym, 2)
            head.fix = None
            if any(n.prompt for n in sym.nodes):
                head.text = f"{sym.name} can't be set: its prompt is hidden"
            else:
                head.text = f"{sym.name} has no prompt: its value comes from its defaults only"
            reasons.append(head)
        else:
            for low, high, cond in sym.ranges:
                if expr_value(cond):
                    reasons.append(Reason(f"{value} is outside the range {low.str_value}..{high.str_value} "
                                          f"(the kernel clamps it to {sym.str_value})", _loc(sym),
                                          {sym.name: _display(sym)}, fixed=low.is_constant and high.is_constant))
                    break
        return reasons

    def why(self, name: str, value: str | None = None, *, fix_budget: int = 200) -> dict:
        """A symbol's value and where it comes from; with `value`, also `change`: the dry-run
        ChangeSet of setting it (its refusal carries the why-not tree and the verified fix)."""
        from .kconfig.info import symbol_info
        info = symbol_info(self.config, name)
        sym = self.config.symbol(name)
        info["reason"] = value_reason(self.config, sym)
        if value is not None:
            info["change"] = self.set([Assignment(sym.name, value)], dry_run=True, fix_budget=fix_budget)
        return info

    # --- verified minimal fix ------------------------------------------------

    def find_fix(self, assignment: Assignment, *, budget: int = 200, seconds: float = 4.5) -> Fix:
        """The smallest set of extra assignments (breadth first) that makes `assignment` take effect.

        Candidates come from the leaves of the why-not tree; each is verified by
        applying it (plus the assignment) and undone afterwards. `budget` caps the
        number of candidates tried, `seconds` the time.
        """
        start = time.perf_counter()
        kconf = self.config.kconf
        base = self._written()
        tried = 0
        seen: set[frozenset] = set()
        frontier: list[dict[str, str]] = [{}]
        exhausted = False
        for _size in range(6):
            next_frontier: list[dict[str, str]] = []
            verified: list[tuple[int, dict[str, str], dict[str, str]]] = []
            for partial in frontier:
                trial = _Trial(self.config)
                try:
                    for name, value in partial.items():
                        trial.set(kconf.syms[name], value)
                    trial.set(kconf.syms[assignment.symbol], assignment.value)
                    leaves = self._fix_leaves(assignment)
                finally:
                    trial.restore()
                for leaf in leaves:
                    candidate = {**partial, **leaf}
                    key = frozenset(candidate.items())
                    if key in seen or assignment.symbol in leaf:
                        continue
                    seen.add(key)
                    if tried >= budget or time.perf_counter() - start > seconds:
                        exhausted = True
                        break
                    tried += 1
                    ok, written = self._verify(candidate, assignment)
                    if ok:
                        verified.append((len(written), candidate, written))
                    else:
                        next_frontier.append(candidate)
                if exhausted:
                    break
            if verified:
                verified.sort(key=lambda v: (len(v[1]), self._distance(base, v[2]), sorted(v[1].items())))
                _n, candidate, written = verified[0]
                fixes = [Assignment(n, v) for n, v in candidate.items()]
                cascade = [c if c.symbol not in candidate else CascadeChange(c.symbol, c.old, c.new, "set by the fix")
                           for c in self._preview([*fixes, assignment])]
                return Fix(fixes, cascade, tried, budget, True, seconds=time.perf_counter() - start)
            if exhausted or not next_frontier:
                break
            # keep the most promising partial fixes: those that changed the least
            frontier = next_frontier[:40]
        return Fix([], [], tried, budget, False, exhausted=exhausted, seconds=time.perf_counter() - start)

    @staticmethod
    def _distance(a: dict[str, str], b: dict[str, str]) -> int:
        return sum(1 for k in a.keys() | b.keys() if a.get(k) != b.get(k))

    def _preview(self, assignments: list[Assignment]) -> list[CascadeChange]:
        """The cascade of `assignments`, with reasons read while they are applied; then undone."""
        before = self._written()
        trial = _Trial(self.config)
        try:
            after = self._apply(assignments, trial)
            return self._cascade(before, after, self._recomputed, {a.symbol for a in assignments})
        finally:
            trial.restore()
            self._written()

    def _verify(self, candidate: dict[str, str], assignment: Assignment) -> tuple[bool, dict[str, str]]:
        kconf = self.config.kconf
        trial = _Trial(self.config)
        try:
            for name, value in candidate.items():
                trial.set(kconf.syms[name], value)
            trial.set(kconf.syms[assignment.symbol], assignment.value)
            written = self._written()
            fixes = [Assignment(n, v) for n, v in candidate.items()]
            ok = _matches(self.config, assignment, written) and all(
                _matches(self.config, f, written) for f in fixes)
        finally:
            trial.restore()
        return ok, written

    def _fix_leaves(self, assignment: Assignment) -> list[dict[str, str]]:
        """Alternative single assignments suggested by the why-not tree (current trial state)."""
        sym = self.config.kconf.syms[assignment.symbol]
        reasons = self._explain(_Explainer(self.config), sym, assignment)
        leaves: list[dict[str, str]] = []

        def walk(reason: Reason) -> None:
            if reason.fixed:
                return
            if reason.fix:
                leaf = dict(reason.fix)
                if leaf not in leaves:
                    leaves.append(leaf)
            for child in reason.children:
                walk(child)
        for reason in reasons:
            walk(reason)
        # deepest conditions first: they unlock the ones above them
        return leaves[::-1]

    # --- history ---------------------------------------------------------------

    def undo(self) -> ChangeSet | None:
        if not self.history:
            return None
        change, state = self.history.pop()
        now = _user_state(self.config)
        _restore_state(self.config, state)
        self._written()   # recompute what the undo invalidated now, not in the next edit
        self.future.append((change, now))
        return change

    def redo(self) -> ChangeSet | None:
        if not self.future:
            return None
        change, state = self.future.pop()
        now = _user_state(self.config)
        _restore_state(self.config, state)
        self._written()
        self.history.append((change, now))
        return change


# --- both arches -----------------------------------------------------------------

def editors_for(session) -> dict[str, Editor]:
    """One Editor per loaded arch, kept on the session so history is shared."""
    editors = session.__dict__.setdefault("_editors", {})
    for arch, config in session.configs.items():
        if arch not in editors or editors[arch].config is not config:
            editors[arch] = Editor(config)
    return editors


def set_symbols(session, assignments: Iterable[Assignment | str], *, arches: Sequence[str] | None = None,
                mode: str = "set", dry_run: bool = False, fix: bool = True,
                atomic: bool = False) -> dict[str, ChangeSet]:
    """Set on every arch (or `arches`); per arch a ChangeSet.

    Each arch applies or refuses on its own ("arm64: set; amd64: refused because
    ..."); with atomic=True (what `talosnb set` does) one refusal anywhere keeps
    every arch unchanged. A symbol one arch doesn't define is listed in that
    arch's `undefined`, not as an error — unless no arch defines it.
    """
    parsed = [parse_assignment(a) if isinstance(a, str) else a for a in assignments]
    editors = editors_for(session)
    chosen = {arch: editors[arch] for arch in (arches or editors)}
    for a in parsed:
        name = a.symbol.removeprefix("CONFIG_")
        if not any(e.config.has_symbol(name) for e in chosen.values()):
            next(iter(chosen.values())).config.symbol(name)   # raises with "did you mean"
    if atomic and mode == "set" and not dry_run:
        trial = {arch: editor.set(parsed, mode=mode, dry_run=True, fix=fix) for arch, editor in chosen.items()}
        if any(change.refusals for change in trial.values()):
            return trial
    return {arch: editor.set(parsed, mode=mode, dry_run=dry_run, fix=fix) for arch, editor in chosen.items()}


def fix_verifier(session):
    """For the module-list check: does a suggested set of assignments really take effect on `arch`?"""
    editors = editors_for(session)

    def verify(arch: str, assignments) -> bool:
        editor = editors.get(arch)
        if editor is None:
            return False
        try:
            change = editor.set([Assignment(k, v) for k, v in assignments.items()], dry_run=True, fix=False)
        except InputError:
            return False
        return change.ok and not change.undefined
    return verify


def undo(session, arches: Sequence[str] | None = None) -> dict[str, ChangeSet | None]:
    editors = editors_for(session)
    return {arch: editors[arch].undo() for arch in (arches or editors)}


def redo(session, arches: Sequence[str] | None = None) -> dict[str, ChangeSet | None]:
    editors = editors_for(session)
    return {arch: editors[arch].redo() for arch in (arches or editors)}
