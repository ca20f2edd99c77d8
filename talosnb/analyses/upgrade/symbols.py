"""New symbols (what ``conf --listnewconfig`` lists for the config on the new tree) and removed
symbols (config lines the new tree doesn't define, with what replaces them where the tree says)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import kconfiglib
from kconfiglib import BOOL, TRISTATE, expr_value

from talosnb.core.names import is_placeholder
from talosnb.kbuild import KbuildMap
from talosnb.kconfig.config import Config
from talosnb.kconfig.info import menu_path

from ..findings import Finding
from .rules import line_text, section_finding
from .view import ArchView


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
        return section_finding("new", "new-symbol", self.arch, self.symbol, symbols=(self.symbol,),
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
        return section_finding("removed", "removed-symbol", self.arch, self.symbol, symbols=(self.symbol,),
                        values={self.symbol: self.value}, where=self.where, line=line_text(self.symbol, self.value),
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
