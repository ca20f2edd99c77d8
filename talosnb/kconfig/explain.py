"""Why a symbol has its value, and why a value can't be had: explanations in the kernel's terms.

The trees built here follow the value rules of scripts/kconfig/symbol.c
(sym_calc_visibility, sym_calc_value): a value is limited by the prompt's
visibility (``depends on`` and ``if``), raised by ``select`` and ``imply``, and
otherwise comes from the first default whose condition holds. Each condition
carries its ``file:line`` in the kernel tree and the current values of the
symbols in it; conditions no assignment can change (arch constants, compiler
probes) are marked fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import kconfiglib
from kconfiglib import AND, BOOL, NOT, OR, STRING, TRI_TO_STR, TRISTATE, expr_str, expr_value

from talosnb.core.errors import opt
from talosnb.core.names import describe_placeholder, is_placeholder

from .config import Config
from .types import Expr

_RELATIONS = {kconfiglib.EQUAL: "=", kconfiglib.UNEQUAL: "!=", kconfiglib.LESS: "<",
              kconfiglib.LESS_EQUAL: "<=", kconfiglib.GREATER: ">", kconfiglib.GREATER_EQUAL: ">="}


@dataclass
class Reason:
    """One condition in a why/why-not tree."""

    text: str
    where: str | None = None          # file:line in the kernel tree
    values: dict[str, str] = field(default_factory=dict)  # symbol -> current value
    fixed: bool = False               # no assignment can change it (arch constant, toolchain)
    fix: dict[str, str] | None = None  # an assignment that would satisfy this leaf
    children: list[Reason] = field(default_factory=list)
    kind: str = ""                    # "range": the value is outside the range in force...
    bounds: tuple[str, str] | None = None   # ...which is low..high

    def as_dict(self) -> dict:
        return {"text": self.text, "where": self.where, "values": self.values, "fixed": self.fixed,
                "fix": self.fix, "children": [c.as_dict() for c in self.children]}


def location(item: object) -> str | None:
    nodes = getattr(item, "nodes", None)
    if not nodes:
        return None
    return f"{nodes[0].filename}:{nodes[0].linenr}"


def _sym_str(sym: kconfiglib.Symbol) -> str:
    if sym.is_constant:
        return sym.name
    return f"{sym.name} = {display_value(sym)}"


def display_value(sym: kconfiglib.Symbol) -> str:
    if not sym.nodes and not sym.is_constant:
        return "n"
    if is_placeholder(sym.name):
        return sym.str_value or '""'
    if sym.orig_type is STRING:
        return f'"{sym.str_value}"'
    return sym.str_value or ("n" if sym.orig_type in (BOOL, TRISTATE) else '""')


def pretty(expr: Expr) -> str:
    """expr_str with toolchain placeholders shown as what they stand for."""
    def sc(item: Expr) -> str:
        name = getattr(item, "name", None)
        described = describe_placeholder(name) if name else None
        if described:
            return described
        return kconfiglib.standard_sc_expr_str(item)
    return expr_str(expr, sc)


class Explainer:
    """Builds the tree of unmet conditions behind a value, with the fixes each leaf needs."""

    def __init__(self, config: Config, depth: int = 5) -> None:
        self.config = config
        self.kconf = config.kconf
        self.depth = depth
        self._fixed: dict = {}

    # Is the symbol's value beyond any user assignment? (arch constants, probes)
    def fixed(self, sym: kconfiglib.Symbol, _stack: frozenset = frozenset()) -> bool:
        if len(_stack) > 60:
            return False
        if sym.is_constant or is_placeholder(sym.name):
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

    def _terminal(self, head: Reason, sym: kconfiglib.Symbol, want: str, depth: int, seen: frozenset) -> bool:
        """Fill in `head` when the explanation stops at `sym` (undefined, fixed, too deep, a loop)."""
        if is_placeholder(sym.name):
            # a compiler probe's placeholder: say which probe, not the placeholder's name
            answer = next((a for a in self.config.probe_answers if a.name == sym.name), None)
            head.fixed = True
            head.text = (f"{describe_placeholder(sym.name) or sym.name} = {display_value(sym)}: a compiler/toolchain "
                         "probe result" + (f" ({answer.command})" if answer else ""))
        elif not sym.nodes and not sym.is_constant:
            head.text = f"{sym.name} is not defined on {self.config.arch} (so it is n)"
            head.fixed = True
        elif sym.is_constant or self.fixed(sym):
            head.fixed = True
            head.text = f"{sym.name} = {display_value(sym)}: " + (
                "a compiler/toolchain probe result" if is_placeholder(sym.name)
                else "fixed for this arch and toolchain")
        elif depth >= self.depth or sym in seen:
            head.fix = {sym.name: want}
        else:
            return False
        return True

    def _head(self, sym: kconfiglib.Symbol, bound: str, level: int, depth: int,
              seen: frozenset) -> tuple[Reason, str, bool]:
        """The first line of a why_low/why_high answer ("at least"/"at most" `level`), the value wanted,
        and whether that line is the whole answer."""
        if level == 1 and sym.orig_type is BOOL:   # a bool has no m: at least m is y, at most m is n
            want = "y" if bound == "at least" else "n"
        else:
            want = TRI_TO_STR[level]
        head = Reason(f"{sym.name} = {display_value(sym)}, needs to be {bound} {want}", location(sym),
                      {sym.name: display_value(sym)})
        return head, want, self._terminal(head, sym, want, depth, seen)

    def why_low(self, sym: kconfiglib.Symbol, need: int, depth: int = 0, seen: frozenset = frozenset()) -> Reason:
        """Why `sym` is below `need` (1 = m, 2 = y)."""
        head, want, terminal = self._head(sym, "at least", need, depth, seen)
        if terminal:
            return head
        seen = seen | {sym}
        prompts = [n for n in sym.nodes if n.prompt]
        if prompts:
            vis = sym.visibility
            if vis >= need:
                head.text = f"{sym.name} = {display_value(sym)}: {_whose(sym)}; set it to {want}"
                head.fix = {sym.name: want}
                return head
            head.fix = {sym.name: want}
            for node in prompts:
                cond = node.prompt[1]
                if expr_value(cond) < need:
                    child = Reason(f"its prompt is visible only if {pretty(cond)}, which is "
                                   f"{TRI_TO_STR[expr_value(cond)]}", f"{node.filename}:{node.linenr}",
                                   self._values(cond))
                    child.children = self.expr_low(cond, need, depth + 1, seen)
                    head.children.append(child)
            if sym.choice is not None and expr_value(sym.choice.direct_dep) < need:
                child = Reason(f"its choice depends on {pretty(sym.choice.direct_dep)}", location(sym.choice))
                child.children = self.expr_low(sym.choice.direct_dep, need, depth + 1, seen)
                head.children.append(child)
            if need == 1 and sym.orig_type is TRISTATE and self.kconf.modules.tri_value == 0:
                head.children.append(self.why_low(self.kconf.modules, 2, depth + 1, seen))
            return head
        # promptless: only its defaults, select or imply can raise it
        head.text = f"{sym.name} = {display_value(sym)} has no prompt: only a default, select or imply sets it"
        for value, cond in sym.orig_defaults:
            if expr_value(value) >= need:
                full = self.kconf._make_and(cond, sym.direct_dep)
                child = Reason(f"default {pretty(value)} if {pretty(full)}", location(sym), self._values(full))
                child.children = self.expr_low(full, need, depth + 1, seen)
                head.children.append(child)
        for term in kconfiglib.split_expr(sym.rev_dep, OR) + kconfiglib.split_expr(sym.weak_rev_dep, OR):
            if term is self.kconf.n:
                continue
            child = Reason(f"selected/implied if {pretty(term)}", None, self._values(term))
            child.children = self.expr_low(term, need, depth + 1, seen)
            head.children.append(child)
        return head

    def why_high(self, sym: kconfiglib.Symbol, limit: int, depth: int = 0, seen: frozenset = frozenset()) -> Reason:
        """Why `sym` is above `limit` (0 = n, 1 = m)."""
        head, want, terminal = self._head(sym, "at most", limit, depth, seen)
        if terminal:
            return head
        seen = seen | {sym}
        rev = expr_value(sym.rev_dep)
        if rev > limit:
            head.text = f"{sym.name} = {display_value(sym)}: selected"
            for term in kconfiglib.split_expr(sym.rev_dep, OR):
                if expr_value(term) > limit:
                    child = Reason(f"selected by {pretty(term)}, which is {TRI_TO_STR[expr_value(term)]}",
                                   _select_location(term, sym), self._values(term))
                    child.children = self.expr_high(term, limit, depth + 1, seen)
                    head.children.append(child)
            return head
        if sym.choice is not None and sym.choice.tri_value == 2 and sym.choice.selection is sym and limit == 0:
            head.text = (f"{sym.name} is the selected member of a choice in y mode: one member is always "
                         "selected; select another member instead")
            head.where = location(sym.choice)
            others = [s for s in sym.choice.syms if s is not sym and s.visibility]
            if others:
                head.fix = {others[0].name: "y"}
            return head
        if sym.visibility > limit:
            head.text = f"{sym.name} = {display_value(sym)}: {_whose(sym)}; set it to {want}"
            head.fix = {sym.name: want}
            return head
        if any(n.prompt for n in sym.nodes) and sym.visibility and sym.visibility <= limit:
            head.fix = {sym.name: want}
            return head
        head.text = f"{sym.name} = {display_value(sym)} comes from its defaults or imply"
        for value, cond in sym.defaults:
            if expr_value(cond):
                child = Reason(f"default {pretty(value)} if {pretty(cond)}", location(sym), self._values(cond))
                child.children = self.expr_high(cond, limit, depth + 1, seen)
                head.children.append(child)
                break
        if expr_value(sym.weak_rev_dep) > limit:
            child = Reason(f"implied by {pretty(sym.weak_rev_dep)}", None, self._values(sym.weak_rev_dep))
            child.children = self.expr_high(sym.weak_rev_dep, limit, depth + 1, seen)
            head.children.append(child)
        return head

    def _values(self, expr: Expr) -> dict[str, str]:
        return {s.name: display_value(s) for s in kconfiglib.expr_items(expr)
                if isinstance(s, kconfiglib.Symbol) and not s.is_constant}

    def expr_low(self, expr: Expr, need: int, depth: int, seen: frozenset) -> list[Reason]:
        """The unmet parts of `expr` (whose value is below `need`)."""
        if expr_value(expr) >= need:
            return []
        return self._expr_parts(expr, need, depth, seen, low=True)

    def expr_high(self, expr: Expr, limit: int, depth: int, seen: frozenset) -> list[Reason]:
        """Why `expr` is above `limit`: the parts that would have to go down."""
        if expr_value(expr) <= limit:
            return []
        return self._expr_parts(expr, limit, depth, seen, low=False)

    def _expr_parts(self, expr: Expr, level: int, depth: int, seen: frozenset, *, low: bool) -> list[Reason]:
        """expr_low (`low`) or expr_high of an expression known to be on the wrong side of `level`.

        The two are duals (scripts/kconfig/expr.c's expr_calc_value): NOT swaps them, and what an AND
        needs below a level an OR needs above it."""
        if isinstance(expr, kconfiglib.Symbol):
            return [(self.why_low if low else self.why_high)(expr, level, depth, seen)]
        if isinstance(expr, kconfiglib.Choice):
            return [_choice_reason(expr)]
        same, other = (self.expr_low, self.expr_high) if low else (self.expr_high, self.expr_low)
        op = expr[0]
        if op is NOT:
            return other(expr[1], 2 - level, depth, seen)
        if op is AND or op is OR:
            # below: an AND needs each unmet operand, an OR any one; above: an OR each, an AND any one
            parts = same(expr[1], level, depth, seen) + same(expr[2], level, depth, seen)
            if (op is AND) == low or len(parts) <= 1:
                return parts
            text = "none of these holds" if low else "any one of these turned off would do"
            return [Reason(f"{text}: {pretty(expr)}", None, self._values(expr), children=parts)]
        # relation: a = b, a != b, a < b ...
        return [self._relation_low(expr) if low else self._relation_high(expr)]

    def _relation_low(self, expr: Expr) -> Reason:
        op, left, right = expr
        text = (f"{pretty(expr)} is false: {left.name} = {display_value(left)}"
                + ("" if right.is_constant else f", {right.name} = {display_value(right)}"))
        reason = Reason(text, location(left) if not left.is_constant else location(right), self._values(expr))
        target = _relation_fix(op, left, right)
        if target is not None and not self.fixed(target[0]):
            reason.fix = {target[0].name: target[1]}
        elif all(self.fixed(s) for s in (left, right) if not s.is_constant):
            reason.fixed = True
        return reason

    def _relation_high(self, expr: Expr) -> Reason:
        _op, left, right = expr
        reason = Reason(f"{pretty(expr)} holds: {left.name} = {display_value(left)}", location(left), self._values(expr))
        if all(self.fixed(s) for s in (left, right) if not s.is_constant):
            reason.fixed = True
        return reason


def _choice_reason(choice: kconfiglib.Choice) -> Reason:
    return Reason(f"choice {choice.name or ''} is {TRI_TO_STR[choice.tri_value]}", location(choice))


def _term_str(term: Expr, target: kconfiglib.Symbol) -> str:
    where = _select_location(term, target)
    return pretty(term) + (f" ({where})" if where else "")


def selector_of(term: Expr) -> kconfiglib.Symbol | None:
    """The symbol whose `select`/`imply` a reverse-dependency term comes from (its leftmost operand)."""
    while isinstance(term, tuple) and term[0] is AND:
        term = term[1]
    return term if isinstance(term, kconfiglib.Symbol) and not term.is_constant else None


def _select_location(term: Expr, target: kconfiglib.Symbol) -> str | None:
    """file:line of the `select`/`imply` line behind a reverse-dependency term."""
    selector = selector_of(term)
    if selector is None:
        return None
    for node in selector.nodes:
        for sym, _cond in list(getattr(node, "selects", ())) + list(getattr(node, "implies", ())):
            if sym is target:
                return f"{node.filename}:{node.linenr}"
    return location(selector)


def _relation_fix(op: int, left: kconfiglib.Symbol,
                  right: kconfiglib.Symbol) -> tuple[kconfiglib.Symbol, str] | None:
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


def cascade_reason(config: Config, sym: kconfiglib.Symbol, old: str | None, new: str | None,
                    assumed_probes: dict[str, str] | None = None) -> str:
    reason = change_reason(config, sym, old, new)
    if assumed_probes is None:
        assumed_probes = assumed_probe_users(config)
    assumed = assumed_probes.get(sym.name)
    if assumed:
        reason += (f"; depends on a compiler probe this config has no answer for ({assumed}), "
                   f"assumed to succeed — the host toolchain mode ({opt('toolchain')} host) runs it")
    return reason


def change_reason(config: Config, sym: kconfiglib.Symbol, old: str | None, new: str | None) -> str:
    """Why CONFIG_`sym`'s line went from `old` to `new` (None: no line), in one line."""
    reason = _choice_or_modules_reason(config, sym, old, new) or _dropped_reason(config, sym, old, new)
    if reason:
        return reason
    if sym.choice is not None and new == "y":
        return f"selected member of the choice at {location(sym.choice)}"
    return _selected_reason(sym, new) or _kept_reason(config, sym, old)


def _choice_or_modules_reason(config: Config, sym: kconfiglib.Symbol, old: str | None,
                              new: str | None) -> str | None:
    if sym.choice is not None and old == "y" and new in ("n", None) and sym.choice.selection is not None:
        return (f"no longer the choice's selection: {sym.choice.selection.name} is "
                f"(choice at {location(sym.choice)})")
    if old == "m" and new == "y" and sym.orig_type is TRISTATE and config.kconf.modules.tri_value == 0:
        return "m needs MODULES=y, so it is built in"
    return None


def _dropped_reason(config: Config, sym: kconfiglib.Symbol, old: str | None, new: str | None) -> str | None:
    """Why a line went (or went to n): hidden, no longer selected, or nothing writes it."""
    if new is None or (new == "n" and old not in (None, "n")):
        deps = sym.direct_dep
        if expr_value(deps) == 0:
            return f"no longer visible: depends on {pretty(deps)}"
        if sym.rev_dep is not config.kconf.n and not expr_value(sym.rev_dep) and not sym.visibility:
            return f"no longer selected: selected only if {pretty(sym.rev_dep)}"
        if new is None:
            return "no longer written: its prompt is hidden and no default applies"
    return None


def _selected_reason(sym: kconfiglib.Symbol, new: str | None) -> str | None:
    """A bool/tristate raised to `new` by a select or an imply (sym_calc_value's rev_dep/weak_rev_dep)."""
    if sym.orig_type not in (BOOL, TRISTATE):
        return None
    rev = expr_value(sym.rev_dep)
    if rev and kconfiglib.STR_TO_TRI.get(new, 0) <= max(rev, 2 if sym.type is BOOL and rev else rev):
        terms = [t for t in kconfiglib.split_expr(sym.rev_dep, OR) if expr_value(t)]
        if terms:
            return "selected by " + ", ".join(_term_str(t, sym) for t in terms[:3])
    if expr_value(sym.weak_rev_dep) and (sym.user_value is None or not sym.visibility):
        terms = [t for t in kconfiglib.split_expr(sym.weak_rev_dep, OR) if expr_value(t)]
        return "implied by " + ", ".join(pretty(t) for t in terms[:3])
    return None


def _kept_reason(config: Config, sym: kconfiglib.Symbol, old: str | None) -> str:
    """The config's own value kept (within what the prompt allows), else the default that applies."""
    if sym.visibility and sym.user_value is not None and old is None:
        return f"visible again: {pretty(prompt_condition(sym))}; keeps its value from the config"
    if sym.visibility and sym.user_value is not None:
        user = sym.user_value if isinstance(sym.user_value, str) else TRI_TO_STR[sym.user_value]
        return (f"keeps its value from the config ({user}), within what its prompt allows now: "
                f"{pretty(prompt_condition(sym))} = {TRI_TO_STR[sym.visibility]}")
    for value, cond in sym.defaults:
        if expr_value(cond):
            return (f"default {pretty(value)}" + ("" if cond is config.kconf.y else f" if {pretty(cond)}"))
    if old is None:
        return f"now visible: {pretty(prompt_condition(sym))}"
    return "default"


def _whose(sym: kconfiglib.Symbol) -> str:
    """Who gave a visible symbol its value: a line of the config, or its default when the config has
    no line for it (a symbol new in this tree, say: conf --listnewconfig lists it)."""
    return "set in the config" if sym.user_value is not None else "no line in the config, so its default"


def prompt_condition(sym: kconfiglib.Symbol) -> Expr:
    """The condition of the symbol's most visible prompt (dependencies and `if` included)."""
    conds = [node.prompt[1] for node in sym.nodes if node.prompt]
    return max(conds, key=expr_value) if conds else sym.direct_dep


def value_reason(config: Config, sym: kconfiglib.Symbol) -> str:
    """Where a symbol's current value comes from, in one line (as `talosnb why` prints it)."""
    value = sym.str_value
    if sym in config.transitional:
        return "transitional: read from an old .config, never written"
    if sym.choice is not None:
        choice = sym.choice
        if choice.selection is sym:
            how = "selected in the config" if sym.user_value == 2 else "the choice's default"
            return f"the selected member of the choice at {location(choice)} ({how})"
        if not sym.visibility:
            return f"hidden: depends on {pretty(sym.direct_dep)}"
        return f"another member of the choice at {location(choice)} is selected"
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
        return f"{value}: its prompt is hidden: {pretty(prompts[0].prompt[1])} is n"
    if sym.orig_type in (BOOL, TRISTATE) and expr_value(sym.weak_rev_dep) and sym.tri_value:
        terms = [t for t in kconfiglib.split_expr(sym.weak_rev_dep, OR) if expr_value(t)]
        return f"{value}: implied by " + ", ".join(pretty(t) for t in terms[:4])
    for default, cond in sym.defaults:
        if expr_value(cond):
            text = f"{value}: default {pretty(default)}"
            return text + ("" if cond is config.kconf.y else f" (because {pretty(cond)})")
    return f"{value}: no default applies" + ("" if prompts else " and it has no prompt")


