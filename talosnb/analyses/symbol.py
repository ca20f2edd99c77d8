"""Everything the symbol panel tells about one symbol, per arch side by side, as plain data.

What menuconfig's help screen shows (scripts/kconfig/menu.c get_symbol_str:
the prompt and its location, "Depends on", "Visible if", "Selects", "Selected
by [y]/[m]/[n]", "Implied by", the ranges and defaults) and what its value
rules make of them here: the value, what can be assigned or the int/hex range
in force, the default that applies, and where the value comes from. Every
expression comes twice: as written in the Kconfig file, and with each symbol's
value on that arch after it, as menuconfig writes it
(``NET_VENDOR_MARVELL [=n] && (ARM64 [=n] || COMPILE_TEST [=n])``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kconfiglib
from kconfiglib import BOOL, HEX, INT, OR, STRING, TRI_TO_STR, TRISTATE, TYPE_TO_STR, expr_value

from talosnb.core.names import describe_placeholder, is_placeholder
from talosnb.kconfig.config import Config
from talosnb.kconfig.explain import pretty, selector_of, value_reason
from talosnb.kconfig.info import menu_path
from talosnb.kconfig.types import Expr


def _is_number(name: str) -> bool:
    try:
        int(name, 16 if name.lower().startswith("0x") else 10)
    except ValueError:
        return False
    return True


def _sc_with_value(item: Expr) -> str:
    """A symbol in an expression, followed by its value as menuconfig shows it (expr_print with
    the value in get_symbol_str): ``NAME [=y]``. Constants and numbers stay as written."""
    if isinstance(item, kconfiglib.Symbol):
        described = describe_placeholder(item.name)
        if described:
            return f"{described} [={item.str_value or 'n'}]"
        if item.is_constant or _is_number(item.name):
            return kconfiglib.standard_sc_expr_str(item)
        if not item.nodes:
            # an undefined symbol is n in every expression (sym_calc_value of a symbol without type)
            return f"{item.name} [=n]"
        value = item.str_value
        return f"{item.name} [={value}]"
    if isinstance(item, kconfiglib.Choice):
        return f"<choice {item.name}>" if item.name else "<choice>"
    return kconfiglib.standard_sc_expr_str(item)


def with_values(expr: Expr) -> str:
    """An expression with each symbol's current value after it (``A [=y] && !B [=n]``)."""
    return kconfiglib.expr_str(expr, _sc_with_value)


@dataclass(frozen=True)
class Expression:
    """A Kconfig expression as written (``text``), with each symbol's value after it as menuconfig
    writes it (``values``), and what it evaluates to (``value``: n, m or y)."""

    text: str
    values: str
    value: str

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "values": self.values, "value": self.value}


def _as_dict(item: Expression | None) -> dict[str, Any] | None:
    return None if item is None else item.as_dict()


@dataclass(frozen=True)
class Definition:
    """One place the symbol is defined: file:line, its prompt and whether it shows, the
    dependencies of that entry, the prompt's own ``if``, and the menus above it."""

    where: str
    prompt: str | None
    visible: bool
    depends_on: Expression | None
    visible_if: Expression | None
    menu_path: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "prompt": self.prompt, "visible": self.visible,
                "depends_on": _as_dict(self.depends_on), "visible_if": _as_dict(self.visible_if),
                "menu_path": self.menu_path}


@dataclass(frozen=True)
class RangeInForce:
    """The int/hex range that applies: its bounds now, the line as written, its condition."""

    low: str
    high: str
    written: str
    condition: Expression | None
    where: str

    def as_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "written": self.written, "if": _as_dict(self.condition),
                "where": self.where}


@dataclass(frozen=True)
class DefaultInForce:
    """The default that applies: the line as written, its value now, its condition."""

    written: str
    value: str
    condition: Expression | None
    where: str

    def as_dict(self) -> dict[str, Any]:
        return {"written": self.written, "value": self.value, "if": _as_dict(self.condition), "where": self.where}


@dataclass(frozen=True)
class Target:
    """A select or imply line of the symbol: the symbol it names, that symbol's value, the condition."""

    symbol: str
    value: str
    condition: Expression | None
    where: str

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "value": self.value, "if": _as_dict(self.condition), "where": self.where}


@dataclass(frozen=True)
class ReverseTerm:
    """One term of who selects (or implies) the symbol, with its value and the select line."""

    symbol: str | None
    text: str
    values: str
    value: str
    where: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "text": self.text, "values": self.values, "value": self.value,
                "where": self.where}


@dataclass(frozen=True)
class ChoiceOf:
    """The choice the symbol is a member of, and its selection now."""

    name: str | None
    prompt: str | None
    where: str
    selection: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "prompt": self.prompt, "where": self.where, "selection": self.selection}


@dataclass
class ArchPanel:
    """One arch's side of the symbol panel."""

    arch: str
    type: str
    value: str
    line: str | None                  # the config line as written (None: no line)
    visible: str                      # the prompt's visibility: n, m or y
    assignable: list[str]
    range: RangeInForce | None
    default: DefaultInForce | None
    reason: str                       # where the value comes from
    definitions: list[Definition]
    depends_on: Expression | None
    selects: list[Target]
    implies: list[Target]
    selected_by: list[ReverseTerm]
    implied_by: list[ReverseTerm]
    choice: ChoiceOf | None
    help: str | None
    string: bool
    # the .ko files the symbol builds (analyses.modules.symbol_modules); None: not worked out
    modules: list[dict[str, str | None]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch, "type": self.type, "value": self.value, "line": self.line, "visible": self.visible,
            "assignable": self.assignable, "range": None if self.range is None else self.range.as_dict(),
            "default": None if self.default is None else self.default.as_dict(), "reason": self.reason,
            "definitions": [d.as_dict() for d in self.definitions], "depends_on": _as_dict(self.depends_on),
            "selects": [s.as_dict() for s in self.selects], "implies": [s.as_dict() for s in self.implies],
            "selected_by": [s.as_dict() for s in self.selected_by],
            "implied_by": [s.as_dict() for s in self.implied_by],
            "choice": None if self.choice is None else self.choice.as_dict(), "help": self.help,
            "string": self.string, "modules": self.modules,
        }


@dataclass
class SymbolPanel:
    """The panel of a symbol on every loaded arch (None: the arch doesn't define it)."""

    symbol: str
    type: str
    prompt: str | None
    help: str | None                  # None: none, or per arch (they differ)
    arches: dict[str, ArchPanel | None]
    same_definitions: bool

    @property
    def defined(self) -> list[ArchPanel]:
        """The sides of the arches that define the symbol."""
        return [side for side in self.arches.values() if side is not None]

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "type": self.type, "prompt": self.prompt, "help": self.help,
                "arches": {arch: None if side is None else side.as_dict() for arch, side in self.arches.items()},
                "same_definitions": self.same_definitions}


def _expression(expr: Expr, kconf: kconfiglib.Kconfig) -> Expression | None:
    """An expression with its values; None for an absent condition (always y)."""
    if expr is kconf.y:
        return None
    return Expression(pretty(expr), with_values(expr), TRI_TO_STR[expr_value(expr)])


def _where(node: kconfiglib.MenuNode) -> str:
    return f"{node.filename}:{node.linenr}"


def _definition(node: kconfiglib.MenuNode, kconf: kconfiglib.Kconfig) -> Definition:
    prompt, condition = node.prompt if node.prompt else (None, None)
    return Definition(_where(node), prompt, bool(node.prompt and expr_value(condition)),
                      _expression(node.dep, kconf),
                      None if not node.prompt else _expression(node.orig_prompt[1], kconf), menu_path(node))


def _range(sym: kconfiglib.Symbol, kconf: kconfiglib.Kconfig) -> RangeInForce | None:
    """The int/hex range in force: the first `range` whose condition holds (sym_get_range_prop)."""
    for node in sym.nodes:
        for (low, high, cond), (_lo, _hi, orig) in zip(node.ranges, node.orig_ranges, strict=True):
            if expr_value(cond):
                return RangeInForce(low.str_value, high.str_value, f"range {pretty(low)} {pretty(high)}",
                                    _expression(orig, kconf), _where(node))
    return None


def _default(sym: kconfiglib.Symbol, kconf: kconfiglib.Kconfig) -> DefaultInForce | None:
    """The first `default` whose condition holds (sym_get_default_prop), with its value now."""
    for node in sym.nodes:
        for (value, cond), (_v, orig) in zip(node.defaults, node.orig_defaults, strict=True):
            if expr_value(cond):
                if sym.orig_type in (BOOL, TRISTATE):
                    now = TRI_TO_STR[min(expr_value(value), expr_value(cond))]
                else:
                    now = value.str_value
                return DefaultInForce(f"default {pretty(value)}", now, _expression(orig, kconf), _where(node))
    return None


def _targets(sym: kconfiglib.Symbol, kconf: kconfiglib.Kconfig, attribute: str) -> list[Target]:
    """The select or imply lines of a symbol: target, its value, the condition."""
    out = []
    for node in sym.nodes:
        for target, cond in getattr(node, f"orig_{attribute}"):
            out.append(Target(target.name, target.str_value, _expression(cond, kconf), _where(node)))
    return out


def _reverse(sym: kconfiglib.Symbol, rev_dep: Expr, kconf: kconfiglib.Kconfig, attribute: str) -> list[ReverseTerm]:
    """Who selects (or implies) the symbol: each term of the reverse dependency with its value,
    as menuconfig's "Selected by [y]/[m]/[n]" groups them (expr_gstr_print_revdep)."""
    out: list[ReverseTerm] = []
    if rev_dep is kconf.n:
        return out
    for term in kconfiglib.split_expr(rev_dep, OR):
        selector = selector_of(term)
        where = None
        if selector is not None:
            where = next((_where(n) for n in selector.nodes
                          for target, _c in getattr(n, attribute) if target is sym), None)
        out.append(ReverseTerm(selector.name if selector is not None else None, pretty(term), with_values(term),
                               TRI_TO_STR[expr_value(term)], where))
    order = {"y": 0, "m": 1, "n": 2}
    return sorted(out, key=lambda t: order[t.value])


def _assignable(sym: kconfiglib.Symbol) -> list[str]:
    if sym.orig_type in (BOOL, TRISTATE):
        # a y-mode choice member can be (y,) while n: it is still chosen by setting y
        return [TRI_TO_STR[v] for v in sym.assignable]
    return []


def arch_panel(config: Config, name: str) -> ArchPanel | None:
    """One arch's side of the panel; None when the arch doesn't define the symbol."""
    name = name.strip().removeprefix("CONFIG_")
    kconf = config.kconf
    sym = kconf.syms.get(name)
    if sym is None or not config.is_kernel_symbol(sym) or is_placeholder(name):
        return None
    line = sym.config_string.rstrip("\n")
    choice = None
    if sym.choice is not None:
        choice = ChoiceOf(sym.choice.name, next((n.prompt[0] for n in sym.choice.nodes if n.prompt), None),
                          _where(sym.choice.nodes[0]),
                          sym.choice.selection.name if sym.choice.selection is not None else None)
    return ArchPanel(
        arch=config.arch, type=TYPE_TO_STR[sym.orig_type], value=sym.str_value, line=line or None,
        visible=TRI_TO_STR[sym.visibility], assignable=_assignable(sym),
        range=_range(sym, kconf) if sym.orig_type in (INT, HEX) else None, default=_default(sym, kconf),
        reason=value_reason(config, sym), definitions=[_definition(n, kconf) for n in sym.nodes],
        depends_on=_expression(sym.direct_dep, kconf), selects=_targets(sym, kconf, "selects"),
        implies=_targets(sym, kconf, "implies"), selected_by=_reverse(sym, sym.rev_dep, kconf, "selects"),
        implied_by=_reverse(sym, sym.weak_rev_dep, kconf, "implies"), choice=choice,
        help=next((n.help for n in sym.nodes if n.help), None), string=sym.orig_type is STRING)


def symbol_panel(configs: Mapping[str, Config], name: str, *,
                 modules: Mapping[str, list[dict[str, str | None]]] | None = None) -> SymbolPanel:
    """The panel of a symbol on every loaded arch. Raises InputError (with "did you mean") when no
    arch defines it, and when it is transitional on every arch. ``modules`` (arch -> the .ko files
    the symbol builds, analyses.modules.symbol_modules) goes into each arch's side (None there:
    not worked out)."""
    name = name.strip().removeprefix("CONFIG_")
    arches = {arch: arch_panel(config, name) for arch, config in configs.items()}
    for arch, side in arches.items():
        if side is not None:
            side.modules = (modules or {}).get(arch)
    defined = [p for p in arches.values() if p is not None]
    if not defined:
        config = next(iter(configs.values()))
        config.symbol(name)   # raises, with "did you mean"
        raise config.transitional_error(name)   # still here: transitional on every arch
    prompt = next((d.prompt for p in defined for d in p.definitions if d.prompt), None)
    helps = {p.help for p in defined}
    return SymbolPanel(name, defined[0].type, prompt, helps.pop() if len(helps) == 1 else None, arches,
                       len({tuple(d.where for d in p.definitions) for p in defined}) == 1)
