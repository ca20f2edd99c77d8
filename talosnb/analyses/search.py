"""Find symbols by name, prompt, help text or the module/source file they build.

Ranked as menuconfig's search feels in use: the exact name first, then names
starting with the text, names containing it, prompts, help texts, modules, and
last close spellings ("did you mean").
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import kconfiglib
import pandas as pd

from talosnb.core.names import is_placeholder
from talosnb.kbuild import KbuildMap, module_name
from talosnb.kconfig.config import Config

RANKS = {"name": 0, "name-prefix": 1, "name-substring": 2, "prompt": 3, "help": 4, "module": 5,
         "similar-name": 6}
COLUMNS = ["symbol", "match", "rank", "type", "prompt", "arches", "values", "defined_at"]


def _prompt(sym: kconfiglib.Symbol) -> str | None:
    return next((n.prompt[0] for n in sym.nodes if n.prompt), None)


def _help(sym: kconfiglib.Symbol) -> str:
    return " ".join(n.help for n in sym.nodes if n.help)


def search(configs: Mapping[str, Config], text: str, *, limit: int | None = 50,
           kbuild_maps: Mapping[str, KbuildMap] | None = None) -> pd.DataFrame:
    """Symbols matching `text` on any of the configs' arches, best first.

    `text` may carry CONFIG_; matching is case-insensitive. With `kbuild_maps`
    (arch -> talosnb.kbuild.KbuildMap) a module name, a `.ko` path or a source
    path finds the symbols that build it.
    """
    query = text.strip()
    if not query:
        return pd.DataFrame(columns=COLUMNS)
    found = _Found()
    upper = query.upper().removeprefix("CONFIG_")
    for config in configs.values():
        for sym in config.kconf.unique_defined_syms:
            match = _text_match(sym, upper, query.lower()) if config.is_kernel_symbol(sym) else None
            if match:
                found.add(sym, config, match)
        if kbuild_maps and config.arch in kbuild_maps:
            for sym in _module_symbols(config, kbuild_maps[config.arch], query):
                found.add(sym, config, "module")
    if not found.rows:
        for config in configs.values():
            names = [s.name for s in config.kconf.unique_defined_syms if not is_placeholder(s.name)]
            for name in difflib.get_close_matches(upper, names, n=5, cutoff=0.75):
                found.add(config.kconf.syms[name], config, "similar-name")
    rows = sorted(found.rows.values(), key=lambda r: (r["rank"], len(r["symbol"]), r["symbol"]))
    if limit is not None:
        rows = rows[:limit]
    for row in rows:
        row["arches"] = ",".join(sorted(row["arches"]))
    return pd.DataFrame(rows, columns=COLUMNS)


def _text_match(sym: kconfiglib.Symbol, upper: str, lower: str) -> str | None:
    """How a symbol's name, prompt or help matches the query, best kind first (None: it doesn't)."""
    name = sym.name
    if name == upper:
        return "name"
    if name.startswith(upper):
        return "name-prefix"
    if upper in name:
        return "name-substring"
    prompt = _prompt(sym)
    if prompt and lower in prompt.lower():
        return "prompt"
    if len(lower) >= 3 and lower in _help(sym).lower():
        return "help"
    return None


def _module_symbols(config: Config, kmap: KbuildMap, query: str) -> list[kconfiglib.Symbol]:
    """The symbols whose own obj- lines build the modules a query names."""
    out = []
    for path in _module_paths(kmap, query):
        for name in getattr(kmap.rule(path), "own_symbols", ()):
            sym = config.kconf.syms.get(name)
            if sym is not None and sym.nodes:
                out.append(sym)
    return out


class _Found:
    """One row per symbol, with its best match and its value on each arch that defines it."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def add(self, sym: kconfiglib.Symbol, config: Config, match: str) -> None:
        row = self.rows.get(sym.name)
        if row is None:
            row = self.rows[sym.name] = {"symbol": sym.name, "match": match, "rank": RANKS[match],
                                         "type": kconfiglib.TYPE_TO_STR[sym.orig_type], "prompt": _prompt(sym),
                                         "arches": [], "values": {},
                                         "defined_at": f"{sym.nodes[0].filename}:{sym.nodes[0].linenr}"}
        elif RANKS[match] < row["rank"]:
            row["match"], row["rank"] = match, RANKS[match]
        if config.arch not in row["arches"]:
            row["arches"].append(config.arch)
            row["values"][config.arch] = sym.str_value


def _module_paths(kmap: KbuildMap, query: str) -> list[str]:
    """.ko paths a query names: a module name, a .ko path, or a source file/dir (foo.c, drivers/block/)."""
    q = query.strip()
    if q.endswith((".c", ".o", ".ko")) or "/" in q:
        stem = q.rsplit("/", 1)[-1]
        for suffix in (".ko", ".o", ".c"):
            stem = stem.removesuffix(suffix)
        paths = _exact(kmap, stem) if stem else []
        if "/" in q:
            prefix = q.removeprefix("kernel/").rsplit(".", 1)[0] if q.endswith((".c", ".o", ".ko")) else q
            prefix = prefix.strip("/")
            by_dir = [p for p in kmap.modules if p.removeprefix("kernel/").startswith(prefix)]
            paths = sorted(set(paths) | set(by_dir)) if by_dir else paths
        return paths
    return _exact(kmap, q)


def _exact(kmap: KbuildMap, name: str) -> list[str]:
    key = module_name(name)
    return [p for p in kmap.find(name, close=1) if module_name(p) == key]
