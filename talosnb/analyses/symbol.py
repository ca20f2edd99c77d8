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


def _expression(expr: Expr, kconf: kconfiglib.Kconfig) -> dict | None:
    """{text, values, value} of an expression; None for an absent condition (always y)."""
    if expr is kconf.y:
        return None
    return {"text": pretty(expr), "values": with_values(expr), "value": TRI_TO_STR[expr_value(expr)]}


def _where(node: kconfiglib.MenuNode) -> str:
    return f"{node.filename}:{node.linenr}"


def _definition(node: kconfiglib.MenuNode, kconf: kconfiglib.Kconfig) -> dict:
    prompt, condition = node.prompt if node.prompt else (None, None)
    return {
        "where": _where(node),
        "prompt": prompt,
        "visible": bool(node.prompt and expr_value(condition)),
        "depends_on": _expression(node.dep, kconf),
        "visible_if": None if not node.prompt else _expression(node.orig_prompt[1], kconf),
        "menu_path": menu_path(node),
    }


def _range(sym: kconfiglib.Symbol, kconf: kconfiglib.Kconfig) -> dict | None:
    """The int/hex range in force: the first `range` whose condition holds (sym_get_range_prop)."""
    for node in sym.nodes:
        for (low, high, cond), (_lo, _hi, orig) in zip(node.ranges, node.orig_ranges, strict=True):
            if expr_value(cond):
                return {"low": low.str_value, "high": high.str_value,
                        "written": f"range {pretty(low)} {pretty(high)}",
                        "if": _expression(orig, kconf), "where": _where(node)}
    return None


def _default(sym: kconfiglib.Symbol, kconf: kconfiglib.Kconfig) -> dict | None:
    """The first `default` whose condition holds (sym_get_default_prop), with its value now."""
    for node in sym.nodes:
        for (value, cond), (_v, orig) in zip(node.defaults, node.orig_defaults, strict=True):
            if expr_value(cond):
                if sym.orig_type in (BOOL, TRISTATE):
                    now = TRI_TO_STR[min(expr_value(value), expr_value(cond))]
                else:
                    now = value.str_value
                return {"written": f"default {pretty(value)}", "value": now, "if": _expression(orig, kconf),
                        "where": _where(node)}
    return None


def _targets(sym: kconfiglib.Symbol, kconf: kconfiglib.Kconfig, attribute: str) -> list[dict]:
    """The select or imply lines of a symbol: target, its value, the condition."""
    out = []
    for node in sym.nodes:
        for target, cond in getattr(node, f"orig_{attribute}"):
            out.append({"symbol": target.name, "value": target.str_value, "if": _expression(cond, kconf),
                        "where": _where(node)})
    return out


def _reverse(sym: kconfiglib.Symbol, rev_dep: Expr, kconf: kconfiglib.Kconfig, attribute: str) -> list[dict]:
    """Who selects (or implies) the symbol: each term of the reverse dependency with its value,
    as menuconfig's "Selected by [y]/[m]/[n]" groups them (expr_gstr_print_revdep)."""
    out: list[dict] = []
    if rev_dep is kconf.n:
        return out
    for term in kconfiglib.split_expr(rev_dep, OR):
        selector = selector_of(term)
        where = None
        if selector is not None:
            where = next((_where(n) for n in selector.nodes
                          for target, _c in getattr(n, attribute) if target is sym), None)
        out.append({"symbol": selector.name if selector is not None else None, "text": pretty(term),
                    "values": with_values(term), "value": TRI_TO_STR[expr_value(term)], "where": where})
    order = {"y": 0, "m": 1, "n": 2}
    return sorted(out, key=lambda t: order[t["value"]])


def _assignable(sym: kconfiglib.Symbol) -> list[str]:
    if sym.orig_type in (BOOL, TRISTATE):
        # a y-mode choice member can be (y,) while n: it is still chosen by setting y
        return [TRI_TO_STR[v] for v in sym.assignable]
    return []


def arch_panel(config: Config, name: str) -> dict | None:
    """One arch's side of the panel; None when the arch doesn't define the symbol."""
    name = name.strip().removeprefix("CONFIG_")
    kconf = config.kconf
    sym = kconf.syms.get(name)
    if sym is None or not config.is_kernel_symbol(sym) or is_placeholder(name):
        return None
    line = sym.config_string.rstrip("\n")
    value = sym.str_value
    kind = TYPE_TO_STR[sym.orig_type]
    return {
        "arch": config.arch,
        "type": kind,
        "value": value,
        "line": line or None,
        "visible": TRI_TO_STR[sym.visibility],
        "assignable": _assignable(sym),
        "range": _range(sym, kconf) if sym.orig_type in (INT, HEX) else None,
        "default": _default(sym, kconf),
        "reason": value_reason(config, sym),
        "definitions": [_definition(n, kconf) for n in sym.nodes],
        "depends_on": _expression(sym.direct_dep, kconf),
        "selects": _targets(sym, kconf, "selects"),
        "implies": _targets(sym, kconf, "implies"),
        "selected_by": _reverse(sym, sym.rev_dep, kconf, "selects"),
        "implied_by": _reverse(sym, sym.weak_rev_dep, kconf, "implies"),
        "choice": None if sym.choice is None else {
            "name": sym.choice.name, "prompt": next((n.prompt[0] for n in sym.choice.nodes if n.prompt), None),
            "where": _where(sym.choice.nodes[0]),
            "selection": sym.choice.selection.name if sym.choice.selection is not None else None},
        "help": next((n.help for n in sym.nodes if n.help), None),
        "string": sym.orig_type is STRING,
    }


def symbol_panel(configs: Mapping[str, Config], name: str, *,
                 modules: Mapping[str, list[dict[str, str | None]]] | None = None) -> dict:
    """The panel of a symbol on every loaded arch: {symbol, type, prompt, help, arches: {arch:
    arch_panel or None}, same_definitions}. Raises InputError (with "did you mean") when no arch
    defines it, and when it is transitional on every arch. ``modules`` (arch -> the .ko files the
    symbol builds, analyses.modules.symbol_modules) goes into each arch's side as "modules"
    (None there: not worked out)."""
    name = name.strip().removeprefix("CONFIG_")
    arches = {arch: arch_panel(config, name) for arch, config in configs.items()}
    for arch, side in arches.items():
        if side is not None:
            side["modules"] = (modules or {}).get(arch)
    defined = [p for p in arches.values() if p is not None]
    if not defined:
        config = next(iter(configs.values()))
        config.symbol(name)   # raises, with "did you mean"
        raise config.transitional_error(name)   # still here: transitional on every arch
    first = defined[0]
    prompt = next((d["prompt"] for p in defined for d in p["definitions"] if d["prompt"]), None)
    helps = {p["help"] for p in defined}
    return {
        "symbol": name,
        "type": first["type"],
        "prompt": prompt,
        "help": helps.pop() if len(helps) == 1 else None,   # None: none, or per arch (they differ)
        "arches": arches,
        "same_definitions": len({tuple(d["where"] for d in p["definitions"]) for p in defined}) == 1,
    }
