"""What a person asks about a symbol: type, prompt, value, where it is defined, why."""

from __future__ import annotations

import kconfiglib
from kconfiglib import TYPE_TO_STR, expr_str

from .config import Config
from .types import Expr


def _expr(expr: Expr, kconf: kconfiglib.Kconfig) -> str | None:
    if expr is kconf.y:
        return None
    return expr_str(expr)


def _selectors(rev_dep: Expr) -> list[str]:
    """The symbols whose `select` (or `imply`) lines make up a reverse dependency.

    kconfiglib keeps them as `A && cond_A || B && cond_B ...`: each term's leftmost
    operand is the selecting symbol; the rest is its condition.
    """
    names = set()
    for term in kconfiglib.split_expr(rev_dep, kconfiglib.OR):
        while isinstance(term, tuple) and term[0] is kconfiglib.AND:
            term = term[1]
        if isinstance(term, kconfiglib.Symbol) and not term.is_constant:
            names.add(term.name)
    return sorted(names)


TOP_LEVEL = "(top level)"  # the menu of the symbols that sit in no menu


def menu_path(node: kconfiglib.MenuNode) -> list[str]:
    """Prompts of the menus above a menu node, top first (as menuconfig shows them)."""
    path = []
    parent = node.parent
    while parent is not None and parent.parent is not None:
        if parent.prompt:
            path.append(parent.prompt[0])
        parent = parent.parent
    return path[::-1]


def symbol_info(config: Config, name: str) -> dict:
    """Everything about one symbol on this config's arch, as plain data."""
    sym = config.symbol(name)
    kconf = config.kconf
    node = sym.nodes[0]
    prompts = [n.prompt[0] for n in sym.nodes if n.prompt]
    selected_by = _selectors(sym.rev_dep)
    implied_by = _selectors(sym.weak_rev_dep)
    transitional = sym in getattr(kconf, "transitional_syms", ())
    line = "" if transitional else sym.config_string.rstrip("\n")
    return {
        "symbol": sym.name,
        "arch": config.arch,
        "tree_version": config.tree.version,
        "type": TYPE_TO_STR[sym.orig_type],
        "prompt": None if transitional else (prompts[0] if prompts else None),
        "value": sym.str_value,
        "written_as": line or None,
        "visible": kconfiglib.TRI_TO_STR[sym.visibility] if not transitional else "n",
        "assignable": [kconfiglib.TRI_TO_STR[v] for v in sym.assignable],
        "user_value": (kconfiglib.TRI_TO_STR[sym.user_value] if isinstance(sym.user_value, int)
                       else sym.user_value),
        "defaults": [{"value": expr_str(v), "if": _expr(c, kconf)} for v, c in sym.orig_defaults],
        "depends_on": _expr(sym.direct_dep, kconf),
        "selects": [{"symbol": s.name, "if": _expr(c, kconf)} for s, c in sym.orig_selects],
        "implies": [{"symbol": s.name, "if": _expr(c, kconf)} for s, c in sym.orig_implies],
        "selected_by": selected_by,
        "implied_by": implied_by,
        "ranges": [{"low": expr_str(lo), "high": expr_str(hi), "if": _expr(c, kconf)}
                   for lo, hi, c in sym.orig_ranges],
        "choice": None if sym.choice is None else (sym.choice.name or sym.choice.nodes[0].prompt[0]),
        "defined_at": [f"{n.filename}:{n.linenr}" for n in sym.nodes],
        "menu_path": menu_path(node),
        "help": next((n.help for n in sym.nodes if n.help), None),
        "transitional": transitional,
    }
