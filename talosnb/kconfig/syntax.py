"""kconfiglib, taught the Kconfig syntax Linux gained after kconfiglib 14.1.0.

Three constructs are accepted with the kernel's semantics and exact locations:

- `modules` as a bare property (Linux 6.x, replacing `option modules`): marks the
  symbol whose value decides whether `m` is allowed at all.
- `transitional` (Linux 7.x): a promptless symbol whose value is read from the old
  .config, feeds other symbols' defaults, and is never written back. The kernel
  makes such a symbol visible (scripts/kconfig/symbol.c, sym_calc_visibility) and
  clears its write flag (sym_calc_value); it may carry nothing but help
  (parser.y, transitional_check_sanity).
- `depends on X if Y` (Linux 7.x): lowered exactly as scripts/kconfig/menu.c
  menu_add_dep() does, to `X || <Y compared equal to n>` with
  expr_trans_compare()'s rewriting of compound conditions.

Where the menu tree's dependencies are built differently from menu.c:

- a choice's members depend on the choice's dependencies, not on the choice
  (_menu_finalize; kconfiglib, like Linux < 6.11, on the choice's value);
- a symbol's direct dependency is the OR of its definitions' dependencies,
  skipping definitions with none (expr_alloc_or() drops an absent operand; a
  written `depends on y` is not absent); it limits what an `imply` gives;
- `visible if` is kept as written for the menu's own comment (menu_is_visible)
  and rewrite_m()-ed into the prompts it reaches; the condition of
  `depends on X if Y` is not rewritten (its comparisons are left as they are).

Preprocessor `$(shell,...)` calls go to a resolver supplied by the caller, so the
toolchain probes can be answered without running a compiler (see the toolchain package).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import kconfiglib
from kconfiglib import AND, EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, NOT, OR, UNEQUAL

from talosnb.core.paths import cache_dir

from . import semantics  # noqa: F401  (installs the kernel's value rules)
from .types import Expr

_T_DEPENDS = kconfiglib._T_DEPENDS
_T_VISIBLE = kconfiglib._T_VISIBLE
_T_IF = kconfiglib._T_IF
_T_OPTION = kconfiglib._T_OPTION
_T_MODULES = kconfiglib._T_MODULES
_COMPARISONS = (EQUAL, UNEQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL)

ShellResolver = Callable[[str, "TalosKconfig"], str]
_CHOICE_AS_MENU = kconfiglib.MENU  # any non-Choice item: makes _propagate_deps use node.dep


@dataclass
class ProbeCall:
    """One `$(shell,...)` evaluation during parsing, and where it happened."""

    command: str
    filename: str
    linenr: int
    symbol: str | None  # the symbol being defined when the call happened, if any


@dataclass
class SyntaxNotes:
    transitional: list[tuple[str, int, str | None]] = field(default_factory=list)  # file, line, symbol
    modules: list[tuple[str, int, str | None]] = field(default_factory=list)
    conditional_depends: list[tuple[str, int]] = field(default_factory=list)
    shell_calls: list[ProbeCall] = field(default_factory=list)


class TalosKconfig(kconfiglib.Kconfig):
    """A kconfiglib.Kconfig that parses current Linux Kconfig syntax.

    `shell` answers `$(shell,CMD)`: it is given the expanded command and this
    object (for `filename`/`linenr`) and returns the output text.
    """

    # Tells semantics.py to apply the kernel's current value rules to this tree.
    _talosnb_kernel_semantics = True
    # Set while parsing only: the `$(shell,...)` resolver, the node being defined.
    _talosnb_shell: ShellResolver | None
    _talosnb_node: kconfiglib.MenuNode | None
    # semantics.py: each choice's priority order (rule 4), and the symbols whose cached value
    # kconfiglib dropped since an editor last read them
    choice_priorities: dict[kconfiglib.Choice, list[kconfiglib.Symbol]]
    invalidated: set[kconfiglib.Symbol]
    # Set while parsing only: the folders a `source` may lead into (see _talosnb_roots).
    _talosnb_source_roots: list[str] | None

    def __init__(self, filename: str, *, shell: ShellResolver, warn: bool = True) -> None:
        self.choice_priorities = {}
        self.invalidated = set()
        self._talosnb_shell = shell
        self._talosnb_node = None
        self._talosnb_source_roots = None
        self.syntax_notes = SyntaxNotes()
        super().__init__(filename, warn=warn, warn_to_stderr=False, encoding="utf-8")
        self._talosnb_shell = None
        self._talosnb_node = None
        self._finish_new_syntax()

    # --- parsing hooks -------------------------------------------------------

    def _parse_props(self, node: kconfiglib.MenuNode) -> None:
        # Remember which item is being defined, so the property hooks below know
        # whose `modules`/`transitional` line they are reading.
        outer = self._talosnb_node
        self._talosnb_node = node
        try:
            return super()._parse_props(node)
        finally:
            self._talosnb_node = outer

    def _current_symbol_name(self) -> str | None:
        node = self._talosnb_node
        item = getattr(node, "item", None)
        return getattr(item, "name", None)

    def _tokenize(self, s: str) -> list:
        word = s.strip()
        if word == "modules":
            self._require_symbol("modules")
            self.syntax_notes.modules.append((self.filename, self.linenr, self._current_symbol_name()))
            return [_T_OPTION, _T_MODULES, None]
        if word == "transitional":
            self._require_symbol("transitional")
            self.syntax_notes.transitional.append(
                (self.filename, self.linenr, self._current_symbol_name()))
            return [None]
        return super()._tokenize(s)

    def _require_symbol(self, keyword: str) -> None:
        node = self._talosnb_node
        if node is None or node.item.__class__ is not kconfiglib.Symbol:
            self._parse_error(f"'{keyword}' is only valid inside a 'config' entry")

    def _expect_expr_and_eol(self) -> Expr:
        if self._tokens[0] is _T_VISIBLE:
            # parser.y keeps `visible if` as written: menu_is_visible() reads an `m`
            # there as m, while the prompts it reaches get rewrite_m() (see
            # _propagate_deps); kconfiglib rewrites it to m && MODULES at once
            expr = self._parse_expr(False)
            if self._tokens[self._tokens_i] is not None:
                self._trailing_tokens_error()
            return expr
        if self._tokens[0] is _T_DEPENDS:
            dep = self._parse_expr(True)
            if self._check_token(_T_IF):
                # the condition as written: rewrite_m() leaves the comparisons
                # expr_trans_compare() makes of it alone
                cond = self._parse_expr(False)
                self.syntax_notes.conditional_depends.append((self.filename, self.linenr))
                # menu.c: "depends on X if Y" means (X || (Y == n))
                dep = (OR, dep, self._trans_compare(cond, equal=True))
            if self._tokens[self._tokens_i] is not None:
                self._trailing_tokens_error()
            return self._explicit(dep)
        if self._tokens[0] is _T_IF:
            return self._explicit(super()._expect_expr_and_eol())
        return super()._expect_expr_and_eol()

    def _explicit(self, dep: Expr) -> Expr:
        # A written `depends on y` / `if y` is a dependency to menu.c (not an absent
        # one, see _c_direct_deps); kconfiglib's bare y can't tell them apart.
        return (AND, self.y, self.y) if dep is self.y else dep

    def _trans_compare(self, expr: Expr, *, equal: bool) -> Expr:
        """expr_trans_compare(expr, E_EQUAL or E_UNEQUAL, &symbol_no) from expr.c."""
        n = self.n
        if expr.__class__ is not tuple:
            return (EQUAL if equal else UNEQUAL, expr, n)
        op = expr[0]
        if op in (AND, OR):
            left = self._trans_compare(expr[1], equal=True)
            right = self._trans_compare(expr[2], equal=True)
            # comparing with n swaps the connective (De Morgan)
            combined = (OR if op is AND else AND, left, right)
            return combined if equal else (NOT, combined)
        if op is NOT:
            return self._trans_compare(expr[1], equal=not equal)
        if op in _COMPARISONS:
            return (NOT, expr) if equal else expr
        raise kconfiglib.KconfigError(
            f"{self.filename}:{self.linenr}: cannot lower the 'if' condition of this 'depends on'")

    def _fn_val(self, args: list[str]) -> str:
        if_success = getattr(self._talosnb_shell, "if_success", None)
        if args[0] == "if-success" and if_success is not None and len(args) == 4:
            # The probe helper every tree defines (scripts/Kconfig.include):
            # answered as a question, whatever shell text implements it.
            return if_success(args[1], args[2], args[3], self)
        if args[0] == "shell" and self._talosnb_shell is not None:
            if len(args) != 2:
                self._parse_error("$(shell,...) takes exactly one argument")
            command = args[1]
            self.syntax_notes.shell_calls.append(
                ProbeCall(command, self.filename, self.linenr, self._current_symbol_name()))
            return self._talosnb_shell(command, self)
        return super()._fn_val(args)

    def _propagate_deps(self, node: kconfiglib.MenuNode, visible_if: Expr) -> None:
        # menu.c, _menu_finalize(): children take their parent's dependencies,
        # a choice's members too (Linux >= 6.11 has no choice value to depend
        # on; kconfiglib makes them depend on the choice, so a prompt hidden by
        # `prompt "..." if X` would hide its members, which conf still sets).
        visible_if = self._rewrite_m(visible_if)
        if node.item.__class__ is not kconfiglib.Choice:
            return super()._propagate_deps(node, visible_if)
        choice = node.item
        node.item = _CHOICE_AS_MENU
        try:
            return super()._propagate_deps(node, visible_if)
        finally:
            node.item = choice

    def _rewrite_m(self, expr: Expr) -> Expr:
        """menu.c rewrite_m(): a lone `m` in a condition means m && MODULES."""
        if expr is self.m:
            return (AND, self.m, self.modules)
        if expr.__class__ is tuple and expr[0] in (AND, OR):
            return (expr[0], self._rewrite_m(expr[1]), self._rewrite_m(expr[2]))
        if expr.__class__ is tuple and expr[0] is NOT:
            return (NOT, self._rewrite_m(expr[1]))
        return expr

    def _add_choice_deps(self) -> None:
        super()._add_choice_deps()
        # the members' values follow the choice's selection, now not through their dependencies
        for choice in self.unique_choices:
            choice._dependents.update(choice.syms)

    # --- after parsing -------------------------------------------------------

    def _finish_new_syntax(self) -> None:
        self._c_direct_deps()
        for _filename, _linenr, name in self.syntax_notes.modules:
            self.modules = self.syms[name]
        self.transitional_syms = set()
        for filename, linenr, name in self.syntax_notes.transitional:
            sym = self.syms[name]
            _check_transitional(sym, filename, linenr, self)
            self.transitional_syms.add(sym)
            # symbol.c: a transitional symbol is always visible, so the value
            # from the old .config is taken as is; it is never written.
            for node in sym.nodes:
                node.prompt = (sym.name, self.y)

    def _c_direct_deps(self) -> None:
        """menu.c builds a symbol's direct dependency as expr_alloc_or(dir_dep, menu->dep)
        over its definitions, and expr_alloc_or() skips an absent operand: a definition
        with no dependency at all (top level, no `depends on`) adds nothing, where
        kconfiglib ORs in y. It decides what an `imply` can give (sym_calc_value)."""
        y = self.y
        for sym in self.unique_defined_syms:
            if len(sym.nodes) < 2:
                continue
            deps = [node.dep for node in sym.nodes if node.dep is not y]
            if not deps or len(deps) == len(sym.nodes):
                continue
            direct = deps[0]
            for dep in deps[1:]:
                direct = (OR, direct, dep)
            sym.direct_dep = direct

    def _enter_file(self, filename: str) -> None:
        # A tree's Kconfig is the tree's own: the kernel's conf would read any path, but a tree
        # talosnb parses may come from anywhere (a tarball, a checkout), and a `source` of a file
        # outside it would be read (its first line quoted in the parse error). Refused before the
        # file is opened, naming the `source` line.
        real = os.path.realpath(filename)
        roots = self._talosnb_roots()
        if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
            raise kconfiglib.KconfigError(
                f"{self.filename}:{self.linenr}: error: 'source' of {filename!r} leads outside the kernel "
                f"tree ({roots[0]}); not read")
        super()._enter_file(filename)

    def _talosnb_roots(self) -> list[str]:
        """The folders a `source` may lead into: the tree; for a tree talosnb mirrored in its cache
        (the patched copy: links to the original tree but along the patched files), the tree its
        top-level links lead into too."""
        roots = self._talosnb_source_roots
        if roots is None:
            tree = os.path.realpath(self.srctree or ".")
            roots = [tree]
            cache = os.path.realpath(cache_dir())
            if tree.startswith(cache.rstrip(os.sep) + os.sep):
                with os.scandir(tree) as entries:
                    roots += sorted({os.path.dirname(os.path.realpath(e.path)) for e in entries if e.is_symlink()})
            self._talosnb_source_roots = roots
        return roots

    def _open_config(self, filename: str | io.StringIO) -> TextIO:
        # Configs are validated and read by talosnb first, then handed over as text.
        if isinstance(filename, io.StringIO):
            filename.seek(0)
            return filename
        return super()._open_config(filename)

    def prepare_pickle(self) -> None:
        """Drop what can't be pickled (the closed Kconfig file handle)."""
        self._readline = None
        self._talosnb_shell = None
        self._talosnb_node = None
        self._talosnb_source_roots = None


def _check_transitional(sym: kconfiglib.Symbol, filename: str, linenr: int, kconf: TalosKconfig) -> None:
    for node in sym.nodes:
        extra = (node.prompt or node.defaults or node.selects or node.implies or node.ranges
                 or node.dep is not kconf.y)
        if extra:
            raise kconfiglib.KconfigError(
                f"{node.filename}:{node.linenr}: error: transitional symbols can only have "
                f"help sections ({sym.name}, transitional at {filename}:{linenr})")


def kernel_env(srctree: str, arch: str, srcarch: str, kernelversion: str) -> dict[str, str]:
    """The variables the kernel's Makefile exports to Kconfig for every toolchain mode."""
    return {
        "srctree": srctree,
        "ARCH": arch,
        "SRCARCH": srcarch,
        "KERNELVERSION": kernelversion,
    }


def parse(srctree: str, env: dict[str, str], shell: ShellResolver) -> TalosKconfig:
    """Parse `srctree/Kconfig` with `env` as the only preprocessor environment source."""
    saved = {k: os.environ.get(k) for k in env}
    saved_functions = os.environ.pop("KCONFIG_FUNCTIONS", None)
    os.environ.update(env)
    try:
        return TalosKconfig("Kconfig", shell=shell)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if saved_functions is not None:
            os.environ["KCONFIG_FUNCTIONS"] = saved_functions
