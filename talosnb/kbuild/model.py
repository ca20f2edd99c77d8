"""The Kbuild map: which ``.ko`` each Makefile line builds, under which conditions on CONFIG
symbols, and how a config's values decide whether a module is built."""

from __future__ import annotations

import difflib
import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from talosnb.core import dotconfig

# Bump when the pickled classes or the evaluation change meaning.
FORMAT_VERSION = 3

TRISTATE = ("y", "m", "n")


def normalize_value(value: str | None) -> str:
    """A .config value as make sees it in a condition: unset, empty and ``n`` are all "n"."""
    if value is None or value == "" or value == "n":
        return "n"
    return value


def read_config_values(path: str | os.PathLike) -> dict[str, str]:
    """Symbol -> value of a .config's lines as make sees them, with no Kconfig involved (enough
    for :meth:`KbuildMap.evaluate`; a config loaded through Kconfig gives the same from
    ``Config.written()``)."""
    return dotconfig.read_values(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Condition:
    """One requirement on a CONFIG symbol, and where in the tree it is written.

    ``kind`` says what the kernel does with it: "guard" (a directory is only
    descended when the symbol is y or m), "module" (the object is in ``obj-m``
    only when the symbol is m), "builtin" (the word is only there when the
    symbol is y, e.g. a ``$(foo-y)`` list), "ifdef"/"ifndef"/"ifeq"/"ifneq"
    (a conditional block), "select" (a symbol picking a variable name, in
    any other context). ``allowed`` holds the values that satisfy it ("n" stands
    for unset/empty); ``negated`` inverts that.
    """

    symbol: str
    kind: str
    allowed: frozenset[str]
    where: str
    text: str = ""
    negated: bool = False

    def holds(self, value: str | None) -> bool:
        return (normalize_value(value) in self.allowed) != self.negated

    def negate(self) -> Condition:
        kind = {"ifdef": "ifndef", "ifndef": "ifdef", "ifeq": "ifneq", "ifneq": "ifeq"}.get(self.kind,
                                                                                              self.kind)
        return Condition(self.symbol, kind, self.allowed, self.where, self.text, not self.negated)

    def with_kind(self, kind: str) -> Condition:
        return Condition(self.symbol, kind, self.allowed, self.where, self.text, self.negated)

    def requirement(self) -> str:
        """Human words for what the symbol must be, e.g. ``y or m``."""
        vals = sorted(self.allowed, key=lambda v: (TRISTATE.index(v) if v in TRISTATE else 3, v))
        if not self.negated:
            return " or ".join(vals)
        return "not " + " or ".join(vals)

    def satisfying(self, domain: Iterable[str]) -> frozenset[str]:
        return frozenset(v for v in domain if (v in self.allowed) != self.negated)

    def __str__(self) -> str:
        return f"CONFIG_{self.symbol} {self.requirement()} ({self.kind}, {self.where})"


Conds = tuple[Condition, ...]


@dataclass(frozen=True)
class ModuleState:
    """What a config does with one object: "module", "builtin" or "not-built".

    ``failing`` are the conditions that keep it from being a module (for
    "builtin": the ones that make it built in instead).
    """

    path: str
    state: str
    failing: Conds = ()
    known: bool = True

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.symbol for c in self.failing))


@dataclass(frozen=True)
class ModuleRule:
    """When one ``.ko`` is built: any of ``module_alternatives`` holds (each a
    conjunction, directory guards from the top down, then the object's own
    symbols), and no ``builtin_alternatives`` holds (kbuild drops from obj-m
    what is also in obj-y)."""

    path: str
    module_alternatives: tuple[Conds, ...]
    builtin_alternatives: tuple[Conds, ...] = ()

    @property
    def name(self) -> str:
        return module_name(self.path)

    @property
    def conditions(self) -> Conds:
        """The first (usually only) way this module gets built."""
        return self.module_alternatives[0] if self.module_alternatives else ()

    @property
    def own_symbols(self) -> tuple[str, ...]:
        """Symbols whose ``=m`` makes the object a module (its ``obj-$(CONFIG_X)``)."""
        seen = [c.symbol for alt in self.module_alternatives for c in alt if c.kind == "module"]
        return tuple(dict.fromkeys(seen))

    @property
    def symbols(self) -> tuple[str, ...]:
        seen = [c.symbol for alt in self.module_alternatives for c in alt]
        return tuple(dict.fromkeys(seen))


def module_name(path: str) -> str:
    """The kernel's name for a module: file stem with ``-`` read as ``_``."""
    base = posixpath.basename(path)
    base = base.removesuffix(".ko")
    return base.replace("-", "_")


def _holds_all(conds: Conds, values: Mapping[str, str], *, builtin: bool) -> list[Condition]:
    failing = []
    for c in conds:
        value = values.get(c.symbol)
        # Built into vmlinux needs every directory descended via obj-y and
        # the object itself in obj-y.
        ok = normalize_value(value) == "y" if builtin and c.kind in ("guard", "module") else c.holds(value)
        if not ok:
            failing.append(c)
    return failing


@dataclass
class KbuildMap:
    """Which ``.ko`` (as under ``/lib/modules/<ver>/``) each config builds, for one SRCARCH."""

    srcarch: str
    kernel_version: str
    modules: dict[str, ModuleRule] = field(default_factory=dict)
    # Objects that can only ever be built in (obj-y everywhere), keyed like modules.
    builtin_only: dict[str, ModuleRule] = field(default_factory=dict)
    # Directories descended, relative to the tree root -> guard alternatives.
    directories: dict[str, tuple[Conds, ...]] = field(default_factory=dict)
    unevaluated: list[tuple[str, str]] = field(default_factory=list)
    # Makefiles read (tree-relative): what the disk cache watches for changes.
    files: list[str] = field(default_factory=list)
    # .ko -> the objects linked into it (tree-relative ``.o``) with the conditions each is listed
    # under (a composite's ``foo-y``/``foo-objs``/``foo-m``; a single-file module is its own object)
    parts: dict[str, tuple[tuple[str, Conds], ...]] = field(default_factory=dict)
    _by_symbol: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _by_name: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def _index(self) -> None:
        by_symbol: dict[str, set[str]] = {}
        by_name: dict[str, set[str]] = {}
        for path, rule in self.modules.items():
            for sym in rule.own_symbols:
                by_symbol.setdefault(sym, set()).add(path)
            by_name.setdefault(rule.name, set()).add(path)
        for path, rule in self.builtin_only.items():
            by_name.setdefault(rule.name, set()).add(path)
        self._by_symbol = {k: sorted(v) for k, v in sorted(by_symbol.items())}
        self._by_name = {k: sorted(v) for k, v in sorted(by_name.items())}

    def symbol_modules(self, symbol: str) -> list[str]:
        """The ``.ko`` paths that ``symbol=m`` makes (its own ``obj-$(CONFIG_symbol)``)."""
        if not self._by_symbol and self.modules:
            self._index()
        return list(self._by_symbol.get(symbol.removeprefix("CONFIG_"), []))

    def find(self, name: str, *, close: int = 5) -> list[str]:
        """``.ko`` paths of a module by name (``-``/``_`` alike, ``.ko`` optional); if none, up to
        ``close`` paths of similarly named modules ("did you mean")."""
        if not self._by_name and (self.modules or self.builtin_only):
            self._index()
        key = module_name(name)
        if key in self._by_name:
            return list(self._by_name[key])
        near = difflib.get_close_matches(key, list(self._by_name), n=close, cutoff=0.75)
        return [p for n in near for p in self._by_name[n]]

    def objects(self, ko_path: str, values: Mapping[str, str]) -> list[str]:
        """The objects (tree-relative ``.o``) linked into ``ko_path`` under ``values``: kbuild links
        ``$(foo-objs) $(foo-y) $(foo-m)`` into ``foo.ko``, or ``foo.o`` itself when those are empty."""
        out = [obj for obj, conds in self.parts.get(ko_path, ()) if all(c.holds(values.get(c.symbol))
                                                                            for c in conds)]
        return list(dict.fromkeys(out))

    def named(self, name: str) -> list[str]:
        """``.ko`` paths of a module by its exact name (``-``/``_`` alike, ``.ko`` optional)."""
        if not self._by_name and (self.modules or self.builtin_only):
            self._index()
        return list(self._by_name.get(module_name(name), []))

    def rule(self, path: str) -> ModuleRule | None:
        return self.modules.get(path) or self.builtin_only.get(path)

    def evaluate(self, ko_path: str, values: Mapping[str, str]) -> ModuleState:
        """Whether ``values`` (symbol without ``CONFIG_`` -> value as in a .config) build
        ``ko_path`` as a module, built in, or not at all, with the conditions that fail."""
        rule = self.rule(ko_path)
        if rule is None:
            return ModuleState(ko_path, "not-built", (), known=False)
        for alt in rule.builtin_alternatives:
            if not _holds_all(alt, values, builtin=True):
                return ModuleState(ko_path, "builtin", tuple(c for c in alt if c.kind in ("module", "builtin")))
        best: list[Condition] | None = None
        for alt in rule.module_alternatives:
            failing = _holds_all(alt, values, builtin=False)
            if not failing:
                return ModuleState(ko_path, "module")
            if best is None or len(failing) < len(best):
                best = failing
        return ModuleState(ko_path, "not-built", tuple(best or ()))
