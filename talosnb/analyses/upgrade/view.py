"""One arch's config on the new tree (and on the current one), read once for every section: the
file's lines with file:line, the values each tree writes, the transitional renames, the help texts
that name a removed symbol."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar, overload

import kconfiglib
from kconfiglib import STRING

from talosnb.core import dotconfig
from talosnb.core.names import is_placeholder
from talosnb.kconfig.config import Config

from .rules import line_text

_T = TypeVar("_T")



@dataclass(frozen=True)
class ConfigLineAt:
    """One assignment line of the config file: the symbol, its value as written, file:line."""

    symbol: str
    value: str
    where: str

    @property
    def text(self) -> str:
        return line_text(self.symbol, self.value)


def config_lines(config: Config, source: str | None = None) -> dict[str, ConfigLineAt]:
    """Every assignment of the config as loaded (the last one of a symbol wins, as in conf), each
    at ``source:line`` (default: where the config was loaded from)."""
    source = source or config.source
    out: dict[str, ConfigLineAt] = {}
    for linenr, raw in enumerate(dotconfig.split_lines(config.original_text), 1):
        parsed = dotconfig.parse_line(raw.rstrip())
        if parsed is not None:
            out[parsed.symbol] = ConfigLineAt(parsed.symbol, parsed.value, f"{source}:{linenr}")
    return out


class _WrittenValues(Mapping[str, str]):
    """Symbol -> the value a config's line would hold (no line: missing), evaluated per symbol
    when asked (``quoted``: strings as the file spells them, else as make reads them)."""

    def __init__(self, config: Config, *, quoted: bool) -> None:
        self._syms = config.kconf.syms
        self._hidden = config.transitional
        self._quoted = quoted
        self._cache: dict[str, str | None] = {}

    def _value(self, name: str) -> str | None:
        if name not in self._cache:
            sym = self._syms.get(name)
            value = None
            if sym is not None and sym.nodes and sym not in self._hidden and not is_placeholder(name):
                line = sym.config_string
                if line:
                    value = "n" if line.startswith("#") else (
                        dotconfig.quote(sym.str_value) if self._quoted and sym.orig_type is STRING else sym.str_value)
            self._cache[name] = value
        return self._cache[name]

    def __getitem__(self, name: str) -> str:
        value = self._value(name)
        if value is None:
            raise KeyError(name)
        return value

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str | _T) -> str | _T: ...
    def get(self, name: str, default: object = None) -> object:
        value = self._value(name)
        return default if value is None else value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._value(name) is not None

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._syms if self._value(name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class ArchView:
    """One arch's config on the new tree (and on the current one), with what every section
    reads from it worked out once: the file's lines, the new tree's written lines and values,
    the transitional renames and the help-text index."""

    def __init__(self, new: Config, old: Config | None = None, *, source: str | None = None) -> None:
        self.new = new
        self.old = old
        self.source = source or new.source   # how the config file is named in file:line
        self.arch = new.arch
        self.to_version = new.tree.version

    @functools.cached_property
    def lines(self) -> dict[str, ConfigLineAt]:
        return config_lines(self.new, self.source)

    @functools.cached_property
    def new_text(self) -> str:
        """The config as normalizing on the new tree writes it."""
        return self.new.text()

    @functools.cached_property
    def written(self) -> dict[str, str]:
        """Symbol -> value as the new tree writes it (strings quoted, 'n' for not set)."""
        return dotconfig.read_values(self.new_text)

    @functools.cached_property
    def values(self) -> dict[str, str]:
        """Symbol -> value on the new tree, as make sees the written file (for Kbuild)."""
        return self.new.written()

    @functools.cached_property
    def old_written(self) -> Mapping[str, str] | None:
        """What the current tree writes, per symbol (quoted as in the file); computed on demand,
        so the symbols no section asks about are never evaluated there."""
        return _WrittenValues(self.old, quoted=True) if self.old is not None else None

    @functools.cached_property
    def old_values(self) -> Mapping[str, str] | None:
        return _WrittenValues(self.old, quoted=False) if self.old is not None else None

    @functools.cached_property
    def hidden(self) -> frozenset:
        return self.new.transitional

    @functools.cached_property
    def successors(self) -> dict[str, list[tuple[str, str]]]:
        return transitional_successors(self.new)

    def defines(self, name: str) -> bool:
        """Whether the new tree defines ``name`` as a symbol a config writes (not transitional)."""
        sym = self.new.kconf.syms.get(name)
        return sym is not None and self.new.has_symbol(name) and sym not in self.hidden

    @functools.cached_property
    def _mentions(self) -> dict[str, list[tuple[str, str]]]:
        import re

        names = {line.symbol for line in self.lines.values() if not self.defines(line.symbol)}
        if not names:
            return {}
        word = re.compile(r"\b(?:CONFIG_)?([A-Z0-9_]{3,})")
        found: dict[str, set[tuple[str, str]]] = {}
        for sym in self.new.kconf.unique_defined_syms:
            for node in sym.nodes:
                if node.help and sym not in self.hidden:
                    for name in set(word.findall(node.help)) & names:
                        if name != sym.name:
                            found.setdefault(name, set()).add((sym.name, f"{node.filename}:{node.linenr}"))
        return {name: sorted(pairs) for name, pairs in found.items()}

    def help_mentions(self, name: str) -> list[tuple[str, str]]:
        """The symbols whose help text names ``name`` (a config line's symbol the new tree
        doesn't define), with file:line: where a tree says what replaced a removed option."""
        return self._mentions.get(name, [])

    def set_by_config(self, name: str) -> bool | None:
        """Whether the config sets this line: the symbol's prompt is visible on the tree it was
        made for (conf writes a visible symbol's value or 'is not set', an invisible one only
        when it has a value). None: unknown, there is no current tree."""
        if self.old is None:
            return None
        sym = self.old.kconf.syms.get(name)
        if sym is None or not self.old.has_symbol(name) or sym in self.old.transitional:
            return False
        return bool(sym.visibility) and any(node.prompt for node in sym.nodes)


def transitional_successors(config: Config) -> dict[str, list[tuple[str, str]]]:
    """Transitional symbol -> [(symbol, file:line of its default)] whose default reads it.

    A Linux 7.x rename keeps the old name as a ``transitional`` symbol (read from an old
    .config, never written, scripts/kconfig/parser.y) and gives the new one
    ``default OLD``: the tree says what replaces the old line.
    """
    hidden = config.transitional
    if not hidden:
        return {}
    out: dict[str, list[tuple[str, str]]] = {}
    # kconfiglib links each symbol to the ones whose value reads it (_dependents, for
    # invalidation): the candidates, instead of every default of the tree.
    readers = {dep for old in hidden for dep in getattr(old, "_dependents", ())
               if isinstance(dep, kconfiglib.Symbol)}
    for sym in sorted(readers, key=lambda s: s.name):
        if sym in hidden:
            continue
        for node in sym.nodes:
            for value, cond in node.defaults:
                for item in kconfiglib.expr_items(value) | kconfiglib.expr_items(cond):
                    if item in hidden:
                        pair = (sym.name, f"{node.filename}:{node.linenr}")
                        if pair not in out.setdefault(item.name, []):
                            out[item.name].append(pair)
    return {k: sorted(v) for k, v in out.items()}
