"""The Kconfig menu structure of every loaded arch, merged into one tree, as menuconfig shows it.

Each arch's tree is the one kconfiglib builds the way the kernel's
``menu_finalize()`` (scripts/kconfig/menu.c) does: menus, choices, comments and
symbol entries, where an entry that depends on the symbol just before it sits
under that symbol. The arches' trees are merged place by place: two entries are
the same row when they sit under the same row, have the same kind and name (a
menu or comment by its prompt, a symbol by its name, a choice by its name or
prompt) and both arches' orders agree on them (a longest matching of the two
lists); every other entry is a row of its own arch, so each arch's own order is
kept.

The structure is built once per set of parsed trees (it never changes with the
values); values, visibility and filters are read from the configs when a row is
asked for, so an edit shows at once and nothing is computed for rows nobody
opened. The value of a row per arch is written in menuconfig's notation
(:func:`value_notation`).
"""

from __future__ import annotations

import difflib
import gc
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import kconfiglib
from kconfiglib import BOOL, COMMENT, MENU, TRI_TO_STR, TRISTATE, Choice, Symbol, expr_value

from talosnb.core.names import is_placeholder
from talosnb.kconfig.config import Config

#: the row filters, as the tree view offers them
FILTERS = ("visible", "all", "differs", "set")
FILTER_LABELS = {"visible": "visible only", "all": "all", "differs": "differs between arches",
                 "set": "set in config"}


@dataclass
class MenuRow:
    """One row of the merged tree: the menu node of each arch that has it at this place."""

    id: int
    kind: str                          # "menu", "choice", "comment", "symbol"
    name: str | None                   # symbol name, choice name (None for an unnamed choice)
    nodes: dict[str, kconfiglib.MenuNode]
    parent: int | None
    children: list[int] = field(default_factory=list)
    depth: int = 0

    def prompt(self, arch: str | None = None) -> str | None:
        """The prompt at this place (of `arch`, or of the first arch that has one)."""
        nodes = [self.nodes[arch]] if arch in self.nodes else list(self.nodes.values())
        return next((n.prompt[0] for n in nodes if n.prompt), None)


def _key(node: kconfiglib.MenuNode) -> tuple:
    item = node.item
    if isinstance(item, Symbol):
        return ("symbol", item.name)
    if isinstance(item, Choice):
        return ("choice", item.name or (node.prompt[0] if node.prompt else ""))
    if item is MENU:
        return ("menu", node.prompt[0] if node.prompt else "")
    return ("comment", node.prompt[0] if node.prompt else "")


def _children(node: kconfiglib.MenuNode) -> list:
    out = []
    child = node.list
    while child is not None:
        item = child.item
        # talosnb's own probe placeholders are engine details, never menu entries
        if not (isinstance(item, Symbol) and is_placeholder(item.name)):
            out.append(child)
        child = child.next
    return out


def _keyed(nodes: list) -> list[tuple[tuple, object]]:
    """(key, node) with an occurrence number, so a symbol defined twice in one menu stays two rows."""
    seen: dict[tuple, int] = {}
    out = []
    for node in nodes:
        key = _key(node)
        seen[key] = seen.get(key, 0) + 1
        out.append(((*key, seen[key]), node))
    return out


def _merge_places(per_arch: dict[str, list[tuple[tuple, object]]]) -> list[tuple[tuple, dict]]:
    """The entries of one menu on every arch as (key, {arch: node}), in an order that keeps each
    arch's own order: entries with the same key become one row where both orders agree (a
    longest matching of the two sequences), the others stay one row per arch, each arch's extra
    rows before the next shared one."""
    merged: list[tuple[tuple, dict]] = []
    for arch, keyed in per_arch.items():
        if not merged:
            merged = [(key, {arch: node}) for key, node in keyed]
            continue
        matcher = difflib.SequenceMatcher(None, [k for k, _ in merged], [k for k, _ in keyed], autojunk=False)
        out: list[tuple[tuple, dict]] = []
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                for (key, nodes), (_k, node) in zip(merged[i1:i2], keyed[j1:j2], strict=True):
                    out.append((key, {**nodes, arch: node}))
            else:
                out += merged[i1:i2]
                out += [(key, {arch: node}) for key, node in keyed[j1:j2]]
        merged = out
    return merged


class MenuTree:
    """The merged menu tree of some configs (arch -> Config); rows by id, row 0 the main menu."""

    def __init__(self, configs: Mapping[str, Config]) -> None:
        # ~19,000 rows on the real trees: the collector's full passes over the parsed trees (millions
        # of objects, none of them garbage) would cost more than building the rows
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._build(configs)
        finally:
            if enabled:
                gc.enable()

    def _build(self, configs: Mapping[str, Config]) -> None:
        self.configs = dict(configs)
        self.arches = list(self.configs)
        self.rows: list[MenuRow] = []
        self.by_symbol: dict[str, list[int]] = {}
        top = {arch: config.kconf.top_node for arch, config in self.configs.items()}
        root = self._add("menu", None, top, None, 0)
        stack = [root]
        while stack:
            row = stack.pop()
            per_arch = {arch: _keyed(_children(node)) for arch, node in row.nodes.items()}
            for key, nodes in _merge_places(per_arch):
                kind, name = key[0], key[1]
                child = self._add(kind, name if kind in ("symbol", "choice") else None, nodes, row.id,
                                  row.depth + 1)
                if kind == "choice" and not next(iter(nodes.values())).item.name:
                    child.name = None
                row.children.append(child.id)
                if any(n.list is not None for n in nodes.values()):
                    stack.append(child)
        self._memo: dict[tuple, dict[int, bool]] = {}
        self._texts: list[str] | None = None
        self._stamp: object = None
        self._visible: dict[tuple[int, str], bool] = {}
        self._elsewhere: dict[tuple[int, str], object] = {}

    def _add(self, kind: str, name: str | None, nodes: dict[str, kconfiglib.MenuNode], parent: int | None,
             depth: int) -> MenuRow:
        row = MenuRow(len(self.rows), kind, name, nodes, parent, depth=depth)
        self.rows.append(row)
        if kind == "symbol":
            assert name is not None   # a symbol row has its symbol's name
            self.by_symbol.setdefault(name, []).append(row.id)
        return row

    # --- structure --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def root(self) -> MenuRow:
        return self.rows[0]

    def path(self, row_id: int) -> list[int]:
        """The ids of the rows above a row, the main menu excluded, top first."""
        out = []
        parent = self.rows[row_id].parent
        while parent is not None and parent != 0:
            out.append(parent)
            parent = self.rows[parent].parent
        return out[::-1]

    def path_prompts(self, row_id: int) -> list[str]:
        return [self.rows[i].prompt() or (self.rows[i].name or "") for i in self.path(row_id)]

    def find(self, symbol: str) -> list[int]:
        """The rows where a symbol is defined (one per place it has in the menus)."""
        return list(self.by_symbol.get(symbol.strip().removeprefix("CONFIG_"), []))

    # --- values -------------------------------------------------------------------

    def symbol(self, row: MenuRow, arch: str) -> Symbol | Choice | None:
        """The row's kconfiglib item on an arch: its own node's, or (a symbol defined elsewhere on
        that arch) the arch's symbol of that name; None where the arch doesn't define it."""
        node = row.nodes.get(arch)
        if node is not None:
            return node.item
        if row.kind != "symbol":
            return None
        key = (row.id, arch)
        if key not in self._elsewhere:     # which symbol an arch has is fixed by its tree: look once
            config = self.configs[arch]
            sym = config.kconf.syms.get(row.name)
            self._elsewhere[key] = sym if sym is not None and config.is_kernel_symbol(sym) else None
        return self._elsewhere[key]

    def _at(self, stamp: object) -> None:
        """Values may have changed when the stamp did: forget what was worked out from them."""
        if stamp != self._stamp:
            self._stamp = stamp
            self._visible.clear()

    def visible(self, row: MenuRow, arch: str) -> bool:
        """Whether the row's prompt shows on an arch (menuconfig's menu_is_visible: the prompt's
        condition, and a menu's `visible if`)."""
        key = (row.id, arch)
        hit = self._visible.get(key)
        if hit is None:
            node = row.nodes.get(arch)
            item = node.item if node is not None else None
            if node is not None and node.prompt and isinstance(item, Symbol) and item.choice is None \
                    and len(item.nodes) == 1:
                # a symbol's only prompt: its visibility (kconfiglib keeps it until a value it
                # depends on changes) is that prompt's condition (sym_calc_visibility)
                hit = item.visibility > 0
            else:
                hit = bool(node is not None and node.prompt and expr_value(node.prompt[1])
                           and not (item is MENU and not expr_value(node.visibility)))
            self._visible[key] = hit
        return hit

    def value(self, row: MenuRow, arch: str) -> str | None:
        """The symbol's (or choice's selected member's) value on an arch, None where undefined."""
        item = self.symbol(row, arch)
        if item is None or item is MENU or item is COMMENT:
            return None
        if isinstance(item, Choice):
            return item.selection.name if item.selection is not None else TRI_TO_STR[item.tri_value]
        return item.str_value

    def notation(self, row: MenuRow, arch: str) -> str:
        item = self.symbol(row, arch)
        if not isinstance(item, (Symbol, Choice)):
            return ""
        return value_notation(item, self.visible(row, arch) if arch in row.nodes else _any_visible(item))

    def differs(self, row: MenuRow) -> bool:
        """Whether the arches end with different values for the row's symbol (a bool or tristate
        an arch doesn't define counts as n there, as compare does)."""
        if row.kind not in ("symbol", "choice") or len(self.arches) < 2:
            return False
        values = set()
        items = [self.symbol(row, arch) for arch in self.arches]
        known = next((i for i in items if i is not None), None)
        absent = "n" if isinstance(known, Symbol) and known.orig_type in (BOOL, TRISTATE) else None
        for arch, item in zip(self.arches, items, strict=True):
            values.add(absent if item is None else self.value(row, arch))
        return len(values) > 1

    def is_set(self, row: MenuRow) -> bool:
        """Whether some arch's config has a `CONFIG_X=...` line for the row's symbol (not `is not set`)."""
        if row.kind != "symbol":
            return False
        for arch in self.arches:
            sym = self.symbol(row, arch)
            if sym is not None and sym.config_string and not sym.config_string.startswith("#"):
                return True
        return False

    def matches_text(self, row: MenuRow, text: str) -> bool:
        """Whether the row's symbol name or a prompt (any arch's) contains `text`, any case."""
        text = text.strip().lower().removeprefix("config_")
        if not text:
            return True
        if self._texts is None:
            # "name\0prompt\0prompt", lowercased once: a filter looks at every row on each keystroke
            self._texts = ["\0".join([r.name or "", *(n.prompt[0] for n in r.nodes.values() if n.prompt)]).lower()
                           for r in self.rows]
        return text in self._texts[row.id]

    # --- filtering ------------------------------------------------------------------

    def _match(self, row: MenuRow, mode: str, text: str) -> bool:
        if text and not self.matches_text(row, text):
            return False
        if mode == "visible":
            hit = any(self.visible(row, a) for a in row.nodes)
        elif mode == "all":
            hit = True
        elif mode == "differs":
            # what a person can see differ: an entry hidden on every arch (its value set by defaults
            # and selects only) would fill screens of rows nobody can change from a menu
            hit = self.differs(row) and any(self.visible(row, a) for a in row.nodes)
        elif mode == "set":
            hit = self.is_set(row)
        else:
            raise ValueError(f"unknown filter {mode!r}; use one of {', '.join(FILTERS)}")
        return hit

    def shown(self, row_id: int, mode: str = "visible", text: str = "", *, stamp: object = None) -> bool:
        """Whether a row is listed under the filter: it matches, or a row under it does.

        In "visible" mode a row under an invisible menu is never listed (menuconfig does not
        enter it), but a visible entry under an invisible symbol keeps that symbol listed. The
        answers are remembered per (mode, text, stamp): pass a new stamp when values changed.
        """
        self._at(stamp)
        key = (mode, text.strip().lower(), stamp)
        memo = self._memo.get(key)
        if memo is None:
            if len(self._memo) > 8:
                self._memo.clear()
            memo = self._memo[key] = {}
        return self._shown(row_id, mode, key[1], memo)

    def _shown(self, row_id: int, mode: str, text: str, memo: dict[int, bool]) -> bool:
        hit = memo.get(row_id)
        if hit is None:
            row = self.rows[row_id]
            hit = row_id == 0 or self._match(row, mode, text)
            # menuconfig enters no invisible menu or choice; an invisible symbol is listed when an
            # entry under it shows (kconfiglib menuconfig's _shown_nodes)
            enter = mode != "visible" or row.kind == "symbol" or any(self.visible(row, a) for a in row.nodes)
            if not hit and enter and row.children:
                hit = any(self._shown(c, mode, text, memo) for c in row.children)
            memo[row_id] = hit
        return hit

    def children(self, row_id: int, mode: str = "visible", text: str = "", *, stamp: object = None) -> list[int]:
        return [c for c in self.rows[row_id].children if self.shown(c, mode, text, stamp=stamp)]

    def has_children(self, row_id: int, mode: str = "visible", text: str = "", *, stamp: object = None) -> bool:
        """Whether a row lists anything under it (stops at the first: cheaper than counting)."""
        return any(self.shown(c, mode, text, stamp=stamp) for c in self.rows[row_id].children)

    def count(self, mode: str = "visible", text: str = "", *, stamp: object = None) -> int:
        """How many rows match the filter themselves (the rows listed only as a way to them not counted)."""
        self._at(stamp)
        text = text.strip().lower()
        return sum(1 for row in self.rows[1:] if self._match(row, mode, text))

    # --- rows as data -----------------------------------------------------------------

    def row_data(self, row_id: int, mode: str = "visible", text: str = "", *, stamp: object = None) -> dict:
        """One row as plain data (what the tree view draws)."""
        self._at(stamp)
        row = self.rows[row_id]
        arches = {}
        for arch in self.arches:
            item = self.symbol(row, arch)
            here = arch in row.nodes
            state = "here" if here else ("elsewhere" if item is not None else "undefined")
            cell = {"state": state, "notation": self.notation(row, arch), "value": self.value(row, arch),
                    "visible": self.visible(row, arch), "prompt": row.nodes[arch].prompt[0]
                    if here and row.nodes[arch].prompt else None}
            if isinstance(item, Symbol):
                cell["next"] = next_value(item)
                cell["where"] = (f"{row.nodes[arch].filename}:{row.nodes[arch].linenr}" if here
                                 else f"{item.nodes[0].filename}:{item.nodes[0].linenr}")
            arches[arch] = cell
        first = next(iter(row.nodes.values()))
        kind = row.kind
        sym_type = None
        if isinstance(first.item, (Symbol, Choice)):
            sym_type = kconfiglib.TYPE_TO_STR[first.item.orig_type]
        return {
            "id": row.id, "kind": kind, "name": row.name, "prompt": row.prompt(), "type": sym_type,
            "depth": row.depth - 1, "menuconfig": any(n.is_menuconfig for n in row.nodes.values()),
            "children": int(self.has_children(row_id, mode, text, stamp=stamp)),   # 1: it can be opened
            "arches": arches, "differs": self.differs(row),
            "match": self._match(row, mode, text.strip().lower()) if row_id else True,
        }

    def visible_rows(self, expanded: Iterable[int], mode: str = "visible", text: str = "", *,
                     stamp: object = None, limit: int | None = None) -> list[dict]:
        """The rows listed with the `expanded` rows open, in menu order, as :meth:`row_data`."""
        expanded = set(expanded)
        out: list[dict] = []
        stack = list(reversed(self.children(0, mode, text, stamp=stamp)))
        while stack:
            row_id = stack.pop()
            data = self.row_data(row_id, mode, text, stamp=stamp)
            data["expanded"] = row_id in expanded and data["children"] > 0
            out.append(data)
            if limit is not None and len(out) >= limit:
                break
            if data["expanded"]:
                below = self.children(row_id, mode, text, stamp=stamp)
                data["children"] = len(below)
                stack.extend(reversed(below))
        return out


def _any_visible(item: Symbol | Choice) -> bool:
    return any(n.prompt and expr_value(n.prompt[1]) for n in item.nodes)


def value_notation(item: Symbol | Choice, visible: bool) -> str:
    """A symbol's or choice's value as menuconfig writes it in front of the prompt.

    ``[*]``/``[ ]`` bool, ``<*>``/``<M>``/``< >`` tristate, ``{*}``/``{M}`` a tristate that
    select or imply keep at least at m, ``-*-``/``-M-`` a value nothing can change (selected,
    or a single assignable value), ``(X)``/``( )`` members of a choice in y mode, ``(512)``
    for int, hex and string values; ``---`` when the prompt doesn't show (menuconfig hides the
    entry) and the value is off or empty. (kconfiglib's menuconfig _value_str; mconf.c
    build_conf.)
    """
    if isinstance(item, Choice):
        if not visible:
            return "---"
        return f"({item.selection.name})" if item.selection is not None else ""
    if item.orig_type not in (BOOL, TRISTATE):
        return f"({item.str_value})" if visible else "---"
    tri = item.tri_value
    mark = (" ", "M", "*")[tri]
    if not visible:
        return f"-{mark}-" if tri else "---"
    if item.choice is not None and item.visibility == 2:
        # a member of a choice in y mode (the mode bounds the members' visibility)
        return "(X)" if item.choice.selection is item else "( )"
    assignable = item.assignable
    if len(assignable) <= 1:
        return f"-{mark}-"
    if item.type is BOOL:
        return f"[{mark}]"
    if assignable == (1, 2):
        return f"{{{mark}}}"
    return f"<{mark}>"


def next_value(sym: Symbol) -> str | None:
    """The value the space bar gives a bool or tristate in menuconfig: the next assignable value
    after the current one, wrapping (kconfiglib's menuconfig _change_node); None when nothing
    else can be had or the symbol isn't a bool or tristate."""
    if not isinstance(sym, Symbol) or sym.orig_type not in (BOOL, TRISTATE):
        return None
    if sym.choice is not None and sym.visibility == 2:
        # a y-mode choice member: assignable can be (2,) while its value is n
        return None if sym.choice.selection is sym or 2 not in sym.assignable else "y"
    assignable = sym.assignable
    if len(assignable) <= 1:
        return None
    tri = sym.tri_value
    higher = [v for v in assignable if v > tri]
    value = higher[0] if higher else assignable[0]
    return TRI_TO_STR[value]


_TREES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def menu_tree(configs: Mapping[str, Config]) -> MenuTree:
    """The merged tree of these configs, built once per set of parsed trees (the structure never
    changes with values, so later calls return the same object)."""
    configs = dict(configs)
    first = next(iter(configs.values()))
    key = tuple((arch, id(c.kconf)) for arch, c in configs.items())
    hit = _TREES.get(first.kconf)
    if hit is not None and hit[0] == key:
        tree = hit[1]
        tree.configs = configs
        return tree
    tree = MenuTree(configs)
    _TREES[first.kconf] = (key, tree)
    return tree
