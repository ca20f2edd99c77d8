"""Find symbols the way people search: words in any order, against name, prompt, help and module.

Every word of the query has to be found somewhere in a symbol's name, prompt,
help text or the names of the ``.ko`` files its own ``obj-$(CONFIG_X)`` lines
build (``nvme over tcp`` finds NVME_TCP, whose prompt is "NVM Express over Fabrics
TCP host driver"). Case and trademark noise (``(R)``, ``(TM)``) are folded away.
Hits are ranked by where the words were found: the exact name, names starting
with the query, names holding every word, then names and prompts, modules, and
last help texts; within a rank, symbols more others depend on come first (the
core driver before its options: MLX5_CORE before MLX_WDT for ``mellanox``).
With no hit at all, close spellings of the name ("did you mean").

A :class:`SearchIndex` is what search reads of the parsed trees and the Kbuild
maps, made once: the command line keeps it on disk (:mod:`talosnb.app.search`),
so a repeated search needs neither the trees nor the maps.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import kconfiglib
    import pandas as pd

    from talosnb.kbuild import KbuildMap
    from talosnb.kconfig.config import Config

#: the ranks, best first (the ``match`` column names one)
RANKS = {"name": 0, "name-prefix": 1, "name-words": 2, "prompt": 3, "module": 4, "help": 5, "similar-name": 6}
COLUMNS = ["symbol", "match", "rank", "where", "type", "prompt", "arches", "values", "defined_at", "snippet"]
#: words shorter than this match names and prompts but not help texts (too many would)
HELP_MIN = 3

_NOISE = re.compile(r"\((?:r|tm|c)\)|[\u00ae\u2122\u00a9]", re.IGNORECASE)
_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower case, trademark marks dropped, every run of other characters one space."""
    return " ".join(_NON_WORD.split(_NOISE.sub(" ", text.lower()))).strip()


def query_words(text: str) -> list[str]:
    """The words of a query (CONFIG_ dropped), in order, each once."""
    words = fold(text.strip().removeprefix("CONFIG_").removeprefix("config_")).split()
    return list(dict.fromkeys(words))


@dataclass
class Hit:
    """A symbol found, how (``match``, one of RANKS), and in which fields the words were."""

    symbol: str
    match: str
    where: list[str]
    type: str
    prompt: str | None
    arches: list[str]
    defined_at: str
    snippet: str | None = None      # the help text around the first word found only there
    values: dict[str, str] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return RANKS[self.match]

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "match": self.match, "rank": self.rank, "where": ", ".join(self.where),
                "type": self.type, "prompt": self.prompt, "arches": ",".join(self.arches),
                "values": dict(self.values), "defined_at": self.defined_at, "snippet": self.snippet}


@dataclass
class SearchIndex:
    """What search needs of the trees and Kbuild maps, one column per fact, one row per symbol
    (from the first arch defining it). Columns, not objects: a stored index reads back in
    milliseconds."""

    names: list[str]
    types: list[str]
    prompts: list[str | None]
    helps: list[str]
    defined_at: list[str]
    modules: list[tuple[str, ...]]      # .ko paths the symbol's own obj- lines build, on any arch
    dependents: list[int]               # symbols whose `depends on` names it (ranks core drivers first)
    arches: list[tuple[str, ...]]       # the arches defining it
    with_modules: bool = False
    # every row's name, prompt, modules and help in lower case, in one run of bytes (rows end in NUL),
    # and where each row starts in it: the quick scan (filled in by build)
    text: bytes = b""
    starts: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, configs: Mapping[str, Config], kbuild_maps: Mapping[str, KbuildMap] | None = None,
              ) -> SearchIndex:
        """The index of every kernel symbol the configs' trees define (module names with `kbuild_maps`)."""
        import kconfiglib

        from talosnb.core.names import is_placeholder

        modules: dict[str, set[str]] = {}
        for arch, kmap in (kbuild_maps or {}).items():
            if arch in configs:
                for path, rule in kmap.modules.items():
                    for name in rule.own_symbols:
                        modules.setdefault(name, set()).add(path)
        first: dict[str, kconfiglib.Symbol] = {}
        arches: dict[str, list[str]] = {}
        dependents: dict[str, int] = {}
        for arch, config in configs.items():
            for sym in config.kconf.unique_defined_syms:
                if not config.is_kernel_symbol(sym) or is_placeholder(sym.name):
                    continue
                arches.setdefault(sym.name, []).append(arch)
                if sym.name not in first:
                    first[sym.name] = sym
                    for used in {s.name for s in kconfiglib.expr_items(sym.direct_dep)
                                 if isinstance(s, kconfiglib.Symbol)}:
                        dependents[used] = dependents.get(used, 0) + 1
        index = cls([], [], [], [], [], [], [], [], with_modules=kbuild_maps is not None)
        for name, sym in first.items():
            node = sym.nodes[0]
            index.names.append(name)
            index.types.append(kconfiglib.TYPE_TO_STR[sym.orig_type])
            index.prompts.append(next((n.prompt[0] for n in sym.nodes if n.prompt), None))
            index.helps.append(" ".join(n.help for n in sym.nodes if n.help))
            index.defined_at.append(f"{node.filename}:{node.linenr}")
            index.modules.append(tuple(sorted(modules.get(name, ()))))
            index.dependents.append(dependents.get(name, 0))
            index.arches.append(tuple(arches[name]))
        rows = [f"{name} {prompt or ''} {' '.join(kos)} {help_text}".lower().encode() + b"\0"
                for name, prompt, kos, help_text in zip(index.names, index.prompts, index.modules, index.helps,
                                                        strict=True)]
        index.text = b"".join(rows)
        index.starts = list(itertools.accumulate((len(r) for r in rows), initial=0))
        return index

    # --- searching ---------------------------------------------------------------

    def find(self, text: str, *, limit: int | None = 50,
             values: Mapping[str, Mapping[str, str]] | None = None) -> list[Hit]:
        """The symbols matching `text`, best first. With `values` (arch -> symbol -> value), a bool or
        tristate that is n on every arch comes after those the configs use, within its rank, and
        each hit gets its values."""
        query = text.strip()
        words = query_words(query)
        if not words:
            return []
        if self.with_modules and _names_a_file(query):
            found = self._module_paths(query)
        else:
            candidates = self._containing(words[0])
            for word in words[1:]:
                candidates &= self._containing(word)
            found = [m for i in sorted(candidates) if (m := self._match(i, query, words)) is not None]
        if not found:
            found = self._similar(query)
        values = values or {}

        def unused(i: int) -> bool:
            return self.types[i] in ("bool", "tristate") and all(
                values[arch].get(self.names[i]) in ("n", "", None) for arch in self.arches[i] if arch in values)

        found.sort(key=lambda how: (*self._order(how), unused(how[0]), *self._tail(how[0])))
        hits = [self._hit(*how) for how in (found if limit is None else found[:limit])]
        for hit in hits:
            hit.values = {arch: values[arch][hit.symbol] for arch in hit.arches if arch in values}
        return hits

    def _containing(self, word: str) -> set[int]:
        """The rows whose text holds `word` anywhere: a word found after folding is in the lower-case
        text too, so this is the quick test before the exact one."""
        text, starts, needle = self.text, self.starts, word.encode()
        rows = set()
        at = text.find(needle)
        while at >= 0:
            row = bisect.bisect_right(starts, at) - 1
            rows.add(row)
            at = text.find(needle, starts[row + 1])
        return rows

    def _order(self, found: tuple) -> tuple:
        """Within a rank: a symbol with a prompt first (one without can't be set by itself), then what
        more symbols depend on (the core driver before its options); last the shorter name."""
        i, match = found[0], found[1]
        return (RANKS[match], self.prompts[i] is None, -self.dependents[i])

    def _tail(self, i: int) -> tuple:
        return (len(self.names[i]), self.names[i])

    def _hit(self, i: int, match: str, where: list[str], snippet: str | None = None) -> Hit:
        return Hit(self.names[i], match, where, self.types[i], self.prompts[i], list(self.arches[i]),
                   self.defined_at[i], snippet)

    def _match(self, i: int, query: str, words: list[str]) -> tuple | None:
        symbol = self.names[i]
        upper = query.upper().removeprefix("CONFIG_")
        joined = "_".join(words).upper()
        if symbol in (upper, joined):
            return (i, "name", ["name"])
        if symbol.startswith(joined):
            return (i, "name-prefix", ["name"])
        name, prompt = fold(symbol), " " + fold(self.prompts[i] or "")
        modules = " " + " ".join(fold(posixpath.basename(p).removesuffix(".ko")) for p in self.modules[i])
        help_text = None
        where: set[str] = set()
        help_only = None
        for word in words:
            if word in name:
                where.add("name")
                continue
            spaced = " " + word
            if spaced in prompt:
                where.add("prompt")
                continue
            if spaced in modules:
                where.add("module")
                continue
            if help_text is None:
                help_text = " " + fold(self.helps[i])
            if len(word) >= HELP_MIN and spaced in help_text:
                where.add("help")
                help_only = help_only or word
            else:
                return None
        match = ("help" if "help" in where else "module" if "module" in where
                 else "prompt" if "prompt" in where else "name-words")
        return (i, match, [w for w in ("name", "prompt", "module", "help") if w in where],
                _snippet(self.helps[i], help_only) if help_only else None)

    def _similar(self, query: str) -> list[tuple]:
        upper = query.upper().removeprefix("CONFIG_").replace(" ", "_")
        rows = {name: i for i, name in enumerate(self.names)}
        return [(rows[name], "similar-name", ["name"])
                for name in difflib.get_close_matches(upper, self.names, n=5, cutoff=0.75)]

    def _module_paths(self, query: str) -> list[tuple]:
        """A .ko name or path, a source file (foo.c) or folder (drivers/block/): the symbols whose own
        obj- lines build a module named so, or a module under that folder."""
        q = query.strip()
        stem = q.rsplit("/", 1)[-1]
        for suffix in (".ko", ".o", ".c"):
            stem = stem.removesuffix(suffix)
        key = stem.replace("-", "_")
        folder = None
        if "/" in q:
            folder = q.removeprefix("kernel/").rsplit(".", 1)[0] if q.endswith((".c", ".o", ".ko")) else q
            folder = folder.strip("/")
        found = []
        for i, paths in enumerate(self.modules):
            for path in paths:
                named = key and posixpath.basename(path).removesuffix(".ko").replace("-", "_") == key
                if named or (folder and path.removeprefix("kernel/").startswith(folder)):
                    found.append((i, "module", ["module"], f"builds {path}"))
                    break
        return found


def _names_a_file(query: str) -> bool:
    return "/" in query or query.endswith((".c", ".o", ".ko"))


def _snippet(help_text: str, word: str, width: int = 70) -> str:
    """The help text around `word`, on one line (for saying where a help hit matched)."""
    flat = " ".join(help_text.split())
    found = re.search(r"(?<![0-9a-z])" + re.escape(word), _NOISE.sub(lambda m: " " * len(m.group()), flat.lower()))
    if found is None:
        return flat[:width]
    start = max(0, found.start() - width // 3)
    text = flat[start:start + width]
    return ("..." if start else "") + text + ("..." if start + width < len(flat) else "")


class LiveValues(Mapping):
    """A config's values as search reads them (symbol -> value now), without copying them."""

    def __init__(self, config: Config) -> None:
        self.syms = config.kconf.syms

    def __getitem__(self, name: str) -> str:
        sym = self.syms.get(name)
        if sym is None:
            raise KeyError(name)
        return sym.str_value

    def __iter__(self) -> Iterator[str]:
        return iter(self.syms)

    def __len__(self) -> int:
        return len(self.syms)


def live_values(configs: Mapping[str, Config]) -> dict[str, LiveValues]:
    return {arch: LiveValues(config) for arch, config in configs.items()}


def frame(hits: Iterable[Hit]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([hit.as_dict() for hit in hits], columns=COLUMNS)


def search(configs: Mapping[str, Config], text: str, *, limit: int | None = 50,
           kbuild_maps: Mapping[str, KbuildMap] | None = None, index: SearchIndex | None = None,
           ) -> pd.DataFrame:
    """Symbols matching `text` on any of the configs' arches, best first, as a DataFrame
    (columns: COLUMNS). With `kbuild_maps` (arch -> talosnb.kbuild.KbuildMap) module names,
    a `.ko` path or a source path find the symbols that build them. `index`: one already built
    for these configs' trees (it is built otherwise)."""
    index = index or SearchIndex.build(configs, kbuild_maps)
    return frame(index.find(text, limit=limit, values=live_values(configs)))

