"""Module dependencies without a build: which ``.ko`` each shipped module needs loaded first, and
the module lists that leave one of them out.

depmod writes ``modules.dep`` from the built modules (a module needs every module exporting a
symbol it uses). Before the build the same edges come from three sources, each named in the
finding's "why":

- the source (when the full kernel source is at hand): a module whose objects use a name that
  exactly one other module built as =m exports (``uses media_device_init, exported by mc.ko``);
- Kbuild: a symbol whose ``obj-$(CONFIG_X)`` builds several ``.ko``, one of them shared with other
  symbols (``built by the same symbol EDAC_SKX``: skx_edac.ko needs skx_edac_common.ko);
- Kconfig: a tristate symbol selecting another tristate that builds a module
  (``select VIDEOBUF2_CORE (drivers/media/common/videobuf2/Kconfig:25)``); only where the source
  is not at hand.

A shipped module whose dependency ships in no list it is installed with fails to load at boot
("Unknown symbol"): that is an error finding of the modules gate, with the list to add it to
(a warning when only Kconfig and Kbuild say so: without the source they are a likely reading).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talosnb.core import layout
from talosnb.kbuild import Conds, KbuildMap, normalize_value
from talosnb.kbuild.symbols import used

from .findings import Finding, Rule, render, rule_table
from .modules import TALOS_LIST, ExtensionList, ModuleList, subsystem

if TYPE_CHECKING:
    from talosnb.kbuild.symbols import SourceSymbols

    Selects = Mapping[str, Sequence[tuple[str, str]]]


RULES: dict[str, Rule] = rule_table(
    Rule("missing-dependency", "error",
         "{entry} needs {needs} ({why}), which no list shipped with {shipped_with} has: loading {module} fails "
         "with \"Unknown symbol\"",
         "add {needs} to {target}"),
    # Kconfig and Kbuild alone say "probably": a select is not always a link (dvb_attach() loads
    # frontends at run time); the exports in the source decide, when the full source is given
    Rule("possible-missing-dependency", "warning",
         "{entry} probably needs {needs} ({why}), which no list shipped with {shipped_with} has; the kernel "
         "tree given has no C sources to confirm it",
         "add {needs} to {target}, or check with the full kernel source (a kernel.org or linux-source tarball)"),
)


@dataclass(frozen=True)
class Dependency:
    """``module`` needs ``needs`` loaded first; ``kind`` is "symbol", "kbuild" or "select"."""

    module: str
    needs: str
    kind: str
    why: str
    where: str | None = None


def _parts(kmap: KbuildMap, ko: str) -> Iterable[tuple[str, Conds]]:
    """The objects linked into `ko` (tree relative, without .o, as SourceSymbols names them)."""
    for obj, conds in kmap.parts.get(ko, ()):
        yield obj.removesuffix(".o"), conds


def _holds(conds: Iterable, values: Mapping[str, str]) -> bool:
    return all(c.holds(values.get(c.symbol)) for c in conds)


class _States(dict):
    """.ko -> "module", "builtin" or "not-built" under one config, each worked out when first asked."""

    def __init__(self, kmap: KbuildMap, values: Mapping[str, str]) -> None:
        super().__init__()
        self.kmap, self.config_values = kmap, values

    def __missing__(self, ko: str) -> str:
        state = self.kmap.evaluate(ko, self.config_values).state
        self[ko] = state
        return state


LinkedBy = dict[str, list[tuple[str, Conds]]]


def linked_by(kmap: KbuildMap, objects: Mapping[str, object]) -> LinkedBy:
    """object (of `objects`: the exporting ones) -> the modules linking it, each with the conditions
    it is linked under. One reading per Kbuild map and source index: keep it to call
    :func:`module_dependencies` again (every part of every module is looked at)."""
    out: dict[str, list[tuple[str, Conds]]] = {}
    for ko, parts in kmap.parts.items():
        for obj, conds in parts:
            stem = obj[:-2]
            if stem in objects:
                out.setdefault(stem, []).append((ko, conds))
    return out


def _symbol_edges(kmap: KbuildMap, states: _States, wanted: Iterable[str], values: Mapping[str, str],
                  symbols: SourceSymbols, linked: LinkedBy | None = None) -> list[Dependency]:
    linked = linked if linked is not None else linked_by(kmap, symbols.exports)
    exporters = symbols.exporters()
    edges: dict[tuple[str, str], Dependency] = {}
    for ko in sorted(wanted):
        mine = [obj for obj, conds in _parts(kmap, ko) if _holds(conds, values)]
        own = {name for obj in mine for name in symbols.exports.get(obj, ())}
        for obj in mine:
            for name, alternatives in symbols.uses_of(obj):
                if name in own or not used(alternatives, values):
                    continue
                owners = set()
                builtin = False
                for source in exporters.get(name, ()):
                    for module, conds in linked.get(source, ()):
                        state = states[module] if _holds(conds, values) else "not-built"
                        builtin = builtin or state == "builtin"
                        if state == "module":
                            owners.add(module)
                if builtin:
                    continue    # built into the kernel: always there
                if len(owners) != 1 or ko in owners:
                    continue    # exported by nothing built, or by several: depmod's choice, not ours
                (needs,) = owners
                if (ko, needs) not in edges:
                    edges[(ko, needs)] = Dependency(ko, needs, "symbol",
                                                    f"uses {name}, exported by {posixpath.basename(needs)}",
                                                    f"{obj}.c")
    return list(edges.values())


def _kbuild_edges(kmap: KbuildMap, states: _States, wanted: Iterable[str],
                  values: Mapping[str, str]) -> list[Dependency]:
    """One symbol building several .ko where one of them is also built by other symbols: that
    one is the shared part the others link against (skx_edac.ko -> skx_edac_common.ko)."""
    edges = []
    for ko in sorted(wanted):
        rule = kmap.modules[ko]
        mine = set(rule.own_symbols)
        for symbol in rule.own_symbols:
            if normalize_value(values.get(symbol)) != "m":
                continue
            for other in kmap.symbol_modules(symbol):
                if other == ko or states[other] != "module":
                    continue
                theirs = set(kmap.modules[other].own_symbols)
                if mine < theirs:
                    edges.append(Dependency(ko, other, "kbuild", f"built by the same symbol {symbol}"))
    return list({(e.module, e.needs): e for e in edges}.values())


def _select_edges(kmap: KbuildMap, states: _States, wanted: Iterable[str], values: Mapping[str, str],
                  selects: Selects) -> list[Dependency]:
    edges = {}
    for ko in sorted(wanted):
        for symbol in kmap.modules[ko].own_symbols:
            if normalize_value(values.get(symbol)) != "m":
                continue
            for target, where in selects.get(symbol, ()):
                for other in kmap.symbol_modules(target):
                    if other != ko and states[other] == "module" and (ko, other) not in edges:
                        edges[(ko, other)] = Dependency(ko, other, "select",
                                                        f"CONFIG_{symbol} selects {target} ({where})", where)
    return list(edges.values())


def _same_symbol(kmap: KbuildMap, edge: Dependency, values: Mapping[str, str]) -> Dependency:
    shared = [s for s in kmap.modules[edge.module].own_symbols
              if s in kmap.modules[edge.needs].own_symbols and normalize_value(values.get(s)) == "m"]
    if not shared:
        return edge
    return Dependency(edge.module, edge.needs, edge.kind, f"built by the same symbol {shared[0]}: {edge.why}",
                      edge.where)


def module_dependencies(kmap: KbuildMap, values: Mapping[str, str], *, symbols: SourceSymbols | None = None,
                        selects: Selects | None = None, modules: Iterable[str] | None = None,
                        linked: LinkedBy | None = None) -> dict[str, list[Dependency]]:
    """For each module `values` build as =m (or each of `modules` among them), the modules it needs
    loaded first (direct dependencies, as modules.dep's first level), with why. ``linked``:
    :func:`linked_by` of `kmap` and `symbols`, when already worked out."""
    states = _States(kmap, values)
    wanted = {ko for ko in (kmap.modules if modules is None else modules)
              if ko in kmap.modules and states[ko] == "module"}
    if symbols is not None:
        # the source decides; Kbuild's shared symbol only says why two modules go together
        edges = [_same_symbol(kmap, edge, values) for edge in _symbol_edges(kmap, states, wanted, values, symbols, linked)]
    else:
        edges = _kbuild_edges(kmap, states, wanted, values)
        if selects is not None:
            edges += _select_edges(kmap, states, wanted, values, selects)
    out: dict[str, list[Dependency]] = {}
    seen = set()
    for edge in edges:
        if edge.module in wanted and (edge.module, edge.needs) not in seen:
            seen.add((edge.module, edge.needs))
            out.setdefault(edge.module, []).append(edge)
    return {ko: sorted(deps, key=lambda d: d.needs) for ko, deps in sorted(out.items())}


def closure(direct: Mapping[str, Iterable[Dependency]]) -> dict[str, set[str]]:
    """Every module each one needs, directly or not (what modules.dep lists)."""
    graph = {ko: {d.needs for d in deps} for ko, deps in direct.items()}
    out: dict[str, set[str]] = {}
    for start, needs in graph.items():
        seen: set[str] = set()
        todo = list(needs)
        while todo:
            ko = todo.pop()
            if ko in seen or ko == start:
                continue
            seen.add(ko)
            todo.extend(graph.get(ko, ()))
        out[start] = seen
    return out


def kconfig_selects(kconf: object) -> dict[str, list[tuple[str, str]]]:
    """tristate symbol -> the tristate symbols it selects, each with where the selecting symbol is
    defined (``file:line``), from a parsed kconfiglib tree."""
    import kconfiglib

    out: dict[str, list[tuple[str, str]]] = {}
    for sym in getattr(kconf, "unique_defined_syms", ()):
        if sym.orig_type != kconfiglib.TRISTATE:
            continue
        for node in sym.nodes:
            where = f"{node.filename}:{node.linenr}"
            for target, _cond in getattr(node, "selects", ()):
                if target.orig_type == kconfiglib.TRISTATE:
                    out.setdefault(sym.name, []).append((target.name, where))
    return out


# --------------------------------------------------------------------------
# The finding: a shipped module whose dependency ships in no list it is installed with

def check_dependencies(lists: Mapping[str, ModuleList], extension_lists: Sequence[ExtensionList],
                       deps: Mapping[str, Mapping[str, Sequence[Dependency]]]) -> list[Finding]:
    """`deps`: arch -> module -> its direct dependencies (:func:`module_dependencies`). The base
    (talos's list) ships alone; an extension ships with the base. A dependency in neither is an error
    naming both .ko files, why, and the list to add it to (the one the needing module is in)."""
    findings: list[Finding] = []
    for arch in sorted(deps):
        base = set(lists[arch].entries) if arch in lists else set()
        shipping: list[tuple[str, ModuleList, set[str], str]] = []
        if arch in lists:
            shipping.append((TALOS_LIST, lists[arch], base, layout.module_list_name(arch)))
        for ext in extension_lists:
            if arch in ext.arches:
                shipping.append((ext.list_id, ext.module_list, base | set(ext.module_list.entries),
                                 ext.file_name))
        for list_id, module_list, shipped, file_name in shipping:
            for _index, entry, where in module_list.numbered():
                for dep in deps[arch].get(entry, ()):
                    if dep.needs in shipped:
                        continue
                    kind = "missing-dependency" if dep.kind == "symbol" else "possible-missing-dependency"
                    findings.append(render(
                        RULES, kind, arch, entry, where=where,
                        details={"subsystem": subsystem(entry), "list": list_id, "needs": dep.needs,
                                 "why": dep.why, "dependency_kind": dep.kind},
                        needs=dep.needs, why=dep.why, module=posixpath.basename(entry),
                        shipped_with="the base" if list_id == TALOS_LIST else f"{list_id} (with the base)",
                        target=file_name))
    return findings
