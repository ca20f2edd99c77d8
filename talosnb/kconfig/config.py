"""A .config loaded against a kernel tree: values, normalize, write in the kernel's format."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import kconfiglib
from kconfiglib import BOOL, HEX, INT, STRING, TRISTATE

from talosnb.core import dotconfig, layout
from talosnb.core.arches import ARCH_SYMBOLS, header_arch
from talosnb.core.errors import InputError, opt
from talosnb.core.fileio import Snapshot, atomic_write, read_text
from talosnb.core.names import is_placeholder

from . import semantics
from .toolchain.answers import ProbeAnswer, solve_placeholders
from .toolchain.retarget import ProbeChange, require_recorded, set_probe_answers
from .toolchain.shells import CC_ORIGIN, llvm_hint
from .tree import KconfigTree


@dataclass(frozen=True)
class LoadNote:
    """A line the loader did not take as written (like the kernel's conf warnings)."""

    where: str    # file:line
    symbol: str | None
    kind: str     # "unknown-symbol", "duplicate", "version", ...
    message: str


def _is_valid(sym: kconfiglib.Symbol, value: str) -> bool:
    kind = sym.orig_type
    if kind is BOOL:
        return value in ("y", "n")
    if kind is TRISTATE:
        return value in ("y", "m", "n")
    if kind is INT:
        return re.fullmatch(r"-?[0-9]+", value) is not None
    if kind is HEX:
        return re.fullmatch(r"(0[xX])?[0-9a-fA-F]+", value) is not None
    if kind is STRING:
        return dotconfig.is_quoted_string(value)
    return True


def header_version(text: str) -> tuple[str, str] | None:
    """(arch, version) from a config header such as '# Linux/x86 6.12.63 Kernel Configuration'."""
    found = dotconfig.header(text)
    return (found.arch, found.version) if found else None


@dataclass
class Config:
    """One arch's .config loaded against its kernel tree.

    The tree's kconfiglib object holds this config's values; values follow the
    kernel's rules (visibility, select, defaults) exactly as `conf` computes them.
    """

    tree: KconfigTree
    source: str                       # path or "<name>" of what was loaded
    original_text: str
    snapshot: Snapshot | None
    notes: list[LoadNote] = field(default_factory=list)
    probe_answers: list[ProbeAnswer] = field(default_factory=list)
    recorded_version: str | None = None
    lines: list[str] = field(default_factory=list, repr=False)   # the file's lines, as conf splits them

    @property
    def arch(self) -> str:
        return self.tree.arch

    @property
    def kconf(self) -> kconfiglib.Kconfig:
        return self.tree.kconf

    # --- loading ----------------------------------------------------------

    @classmethod
    def load(cls, tree: KconfigTree, path: str | os.PathLike) -> Config:
        text, snapshot = read_text(path, what=layout.config_name(tree.arch))
        return cls.from_text(tree, text, source=str(path), snapshot=snapshot)

    @classmethod
    def from_text(cls, tree: KconfigTree, text: str, *, source: str = "<config>",
                  snapshot: Snapshot | None = None) -> Config:
        config = cls(tree, source, text, snapshot)
        recorded = config._validate(text)
        if tree.mode == "host":
            _check_host_compiler(tree, recorded, source)
        kconf = tree.kconf
        kconf.warnings = []
        semantics.reset_choice_priorities(kconf)
        # the loader reads exactly the lines the checks read (one splitter: dotconfig.split_lines)
        kconf.load_config(io.StringIO("".join(line + "\n" for line in config.lines)), replace=True)
        kconf.missing_syms = []
        if tree.mode == "recorded":
            config.probe_answers = solve_placeholders(kconf, recorded, tree.probes)
        return config

    def _validate(self, text: str) -> dict[str, str]:
        """Check every line like conf does, but refuse what conf would only warn about.

        Returns symbol -> the line recorded for it (for the toolchain probes).
        """
        source = self.source
        if not text.strip():
            raise InputError("config is empty", where=source,
                             hint="expected a full kernel .config (kernel/build/config-ARCH)")
        self._check_header(text)
        arch = self.tree.arch
        # the symbols that give away another arch's config, and which arch
        foreign = {name: other for other, names in ARCH_SYMBOLS.items() if other != arch for name in names}
        errors: list[str] = []
        recorded: dict[str, str] = {}
        seen: dict[str, int] = {}
        lines = dotconfig.split_lines(text)
        self.lines = lines
        headings: list[tuple[str, int]] = []     # '# TITLE' blocks not closed by '# end of TITLE'
        for linenr, line in enumerate(lines, 1):
            # conf strips nothing but the line end (getline_stripped, confdata.c), kconfiglib strips
            # all trailing whitespace: a line where the two would differ is refused below
            if not line.strip():
                continue
            parsed = dotconfig.parse_line(line)
            if parsed is None:
                error = _comment_line(line, linenr, lines, headings)
            else:
                error = self._assignment_line(parsed, line, linenr, foreign, seen, recorded)
            if error:
                errors.append(f"{source}:{linenr}: {error}")
        if dotconfig.is_conf_written(text):
            self._refuse_truncated(text, lines, headings)
        if errors:
            shown = "\n  ".join(errors[:20])
            more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
            raise InputError(f"{len(errors)} bad line(s) in the config:\n  {shown}{more}", where=source,
                             hint="fix or remove these lines; nothing was changed")
        return recorded

    def _check_header(self, text: str) -> None:
        """Record the header's Linux version; refuse a header naming another arch."""
        header = dotconfig.header(text)
        arch = self.tree.arch
        if header:
            self.recorded_version = header.version
            if header.arch != header_arch(arch):
                raise InputError(
                    f"this is a Linux/{header.arch} config, not a config for {arch} "
                    f"(Linux/{header_arch(arch)})", where=f"{self.source}:{header.line}",
                    hint=f"check {opt('arch')}, or which config-ARCH file was given")

    def _assignment_line(self, parsed: dotconfig.ConfigLine, line: str, linenr: int, foreign: dict[str, str],
                         seen: dict[str, int], recorded: dict[str, str]) -> str | None:
        """Check one CONFIG_X=value or '# CONFIG_X is not set' line: what is wrong with it (None: nothing),
        notes for what conf would warn about, and `recorded`/`seen` updated for a kept line."""
        source, arch = self.source, self.tree.arch
        name, value, is_set = parsed.symbol, parsed.value, parsed.is_set
        if value != value.rstrip():
            return f"{line!r}: whitespace after the value (conf reads it as part of the value; remove it)"
        if is_set and value == "y" and name in foreign:
            raise InputError(f"CONFIG_{name}=y: this is a config for {foreign[name]}, not {arch}",
                             where=f"{source}:{linenr}",
                             hint=f"check {opt('arch')}, or which config-ARCH file was given")
        sym = self.tree.kconf.syms.get(name)
        if sym is None or not sym.nodes or is_placeholder(name):
            self.notes.append(LoadNote(f"{source}:{linenr}", name, "unknown-symbol",
                                       f"CONFIG_{name} is not defined in the {self.tree.version} tree "
                                       f"for {arch}; its line is dropped"))
            return None
        if is_set:
            if not _is_valid(sym, value):
                return f"{value!r} is not a valid {kconfiglib.TYPE_TO_STR[sym.orig_type]} value for CONFIG_{name}"
        elif sym.orig_type not in (BOOL, TRISTATE):
            # conf ignores these for non-bool symbols; so do we, but say so.
            self.notes.append(LoadNote(f"{source}:{linenr}", name, "ignored",
                                       f"'is not set' has no meaning for the "
                                       f"{kconfiglib.TYPE_TO_STR[sym.orig_type]} CONFIG_{name}"))
        if name in seen:
            self.notes.append(LoadNote(f"{source}:{linenr}", name, "duplicate",
                                       f"CONFIG_{name} assigned again (first at line {seen[name]}); "
                                       "the last assignment wins"))
        seen[name] = linenr
        recorded[name] = line
        return None

    def _refuse_truncated(self, text: str, lines: list[str], headings: list[tuple[str, int]]) -> None:
        """A file conf wrote that was cut short (a failed copy, a full disk): say so, before any
        line in it is blamed on the tree. conf ends every line with a newline and closes every
        visible menu with '# end of TITLE' (conf_write(), confdata.c)."""
        source = self.source
        hint = ("restore the file (e.g. git checkout -- kernel/build/config-ARCH, or your last copy); "
                "nothing was changed")
        if not text.endswith("\n"):
            raise InputError(f"the config ends in the middle of line {len(lines)} ({lines[-1][:60]!r}): the file "
                             "looks truncated (conf ends every line with a newline)",
                             where=f"{source}:{len(lines)}", hint=hint)
        menus = self.tree.menu_titles()
        unclosed = [(title, linenr) for title, linenr in headings if title in menus]
        last = self.tree.last_menu()
        if not unclosed and last is not None and f"# end of {last}" not in lines:
            # cut between two menus: the last menu of the tree, always written, is missing
            raise InputError(f"the config lacks the '# end of {last}' line conf writes near its end: the file "
                             f"looks truncated after line {len(lines)}", where=f"{source}:{len(lines)}", hint=hint)
        if unclosed:
            names = ", ".join(f"'# end of {title}'" for title, _ in reversed(unclosed[-3:]))
            raise InputError(f"the config lacks the {names} line(s) conf writes for the menus opened at line(s) "
                             f"{', '.join(str(n) for _, n in unclosed[-3:])}: the file looks truncated after "
                             f"line {len(lines)}", where=f"{source}:{len(lines)}", hint=hint)

    # --- values -----------------------------------------------------------

    def symbol(self, name: str) -> kconfiglib.Symbol:
        name = name.removeprefix("CONFIG_")
        sym = self.kconf.syms.get(name)
        if sym is None or not sym.nodes or is_placeholder(name):
            raise InputError(f"CONFIG_{name} is not defined in the {self.tree.version} tree for {self.arch}",
                             hint=_did_you_mean(self, name))
        return sym

    def has_symbol(self, name: str) -> bool:
        sym = self.kconf.syms.get(name.removeprefix("CONFIG_"))
        return bool(sym is not None and sym.nodes and not is_placeholder(sym.name))

    def value(self, name: str) -> str:
        return self.symbol(name).str_value

    def written(self) -> dict[str, str]:
        """Symbol -> value for every symbol the config file holds ('n' for 'is not set')."""
        values = {}
        hidden = self.transitional
        for sym in self.kconf.unique_defined_syms:
            if sym in hidden:
                continue
            line = sym.config_string
            if line:
                values[sym.name] = "n" if line.startswith("#") else sym.str_value
        return values

    def written_values(self) -> WrittenValues:
        """:meth:`written` read one symbol at a time, as asked (a Kbuild condition reads a few symbols;
        working out every line costs a good part of a second)."""
        return WrittenValues(self)

    @property
    def transitional(self) -> frozenset:
        """The tree's `transitional` symbols: read from an old .config, never written (Linux 7.x)."""
        return frozenset(getattr(self.kconf, "transitional_syms", ()))

    def transitional_error(self, name: str) -> InputError:
        """What to say when a transitional symbol is looked up as if it were a setting."""
        sym = self.kconf.syms[name.removeprefix("CONFIG_")]
        where = f"{sym.nodes[0].filename}:{sym.nodes[0].linenr}" if sym.nodes else None
        return InputError(f"CONFIG_{sym.name} is transitional in the {self.tree.version} tree: Kconfig reads its "
                          "line from an older config to set the symbol that replaced it, and never writes it",
                          where=where, hint=f"look for its replacement: the symbols whose default reads "
                                            f"{sym.name} (talosnb search {sym.name})")

    def is_kernel_symbol(self, sym: kconfiglib.Symbol) -> bool:
        """A symbol of the tree a person can see and set: defined, not one of talosnb's probe
        placeholders, not transitional."""
        return bool(sym.nodes) and not is_placeholder(sym.name) and sym not in self.transitional

    # --- writing ----------------------------------------------------------

    def header(self) -> str:
        return dotconfig.written_header(self.kconf.mainmenu_text)

    def text(self) -> str:
        """The config as the kernel's conf writes it (`make olddefconfig`), byte for byte."""
        body = self.kconf._config_contents(self.header())
        hidden = self.transitional
        if hidden:
            names = {f"CONFIG_{s.name}" for s in hidden}
            body = "".join(line for line in body.splitlines(keepends=True)
                           if dotconfig.line_symbol(line) not in names)
        return body

    def write(self, path: str | os.PathLike | None = None, *, force: bool = False) -> bool:
        """Write atomically; refuse if the loaded file changed on disk (unless force)."""
        target = Path(path) if path is not None else (self.snapshot.path if self.snapshot else None)
        if target is None:
            raise InputError("no file to write to", hint="give an output path")
        expect = self.snapshot if self.snapshot and target == self.snapshot.path else None
        if expect is None and target.exists() and not force:
            expect = Snapshot.of(target)  # an unrelated existing file: just write it atomically
        changed = atomic_write(target, self.text(), expect=expect, force=force)
        self.snapshot = Snapshot.of(target)
        self.original_text = self.text()
        return changed


def toolchain_from(config: Config, other_text: str, *, source: str = "<config>") -> list[ProbeChange]:
    """Take the toolchain another config records (e.g. one made after a compiler bump).

    `other_text` is loaded against the same tree and arch; every probe answer
    it records (not merely assumes) replaces this config's. Returns the changes.
    """
    require_recorded(config)
    tree = config.tree
    other_tree = KconfigTree.load(tree.path, tree.arch, version=tree.version)
    other = Config.from_text(other_tree, other_text, source=source)
    current = {a.name: a.value for a in config.probe_answers}
    answers = {a.name: a.value for a in other.probe_answers
               if a.evidence == "recorded" and a.name in tree.probes and current.get(a.name) != a.value}
    return set_probe_answers(config, answers)


def _check_host_compiler(tree: KconfigTree, recorded: dict[str, str], source: str) -> None:
    """A clang-made config is not redone with the default gcc: every clang-only line would change."""
    host = tree.host_env
    if (recorded.get("CC_IS_CLANG") == "CONFIG_CC_IS_CLANG=y" and "clang" not in host.get("CC_VERSION_TEXT", "")
            and host.get(CC_ORIGIN, "default") == "default"):
        text = recorded.get("CC_VERSION_TEXT", "").partition("=")[2].strip('"')
        raise InputError(f"this config was made with clang ({text or 'CONFIG_CC_IS_CLANG=y'}), but host mode "
                         f"found no clang: its compiler is {host.get('CC', 'gcc')!r} "
                         f"({host.get('CC_VERSION_TEXT') or 'unknown'})", where=source,
                         hint=llvm_hint())


def _did_you_mean(config: Config, name: str) -> str:
    import difflib
    names = [s.name for s in config.kconf.unique_defined_syms]
    close = difflib.get_close_matches(name.upper(), names, n=3, cutoff=0.75)
    if close:
        return "did you mean " + ", ".join(close) + "?"
    return "check the spelling (search finds symbols by name, prompt or help text)"


def _comment_line(line: str, linenr: int, lines: list[str], headings: list[tuple[str, int]]) -> str | None:
    """Check a line that assigns nothing: what is wrong with it (None: nothing); a menu's
    '#\n# TITLE\n#' block and its '# end of TITLE' kept in `headings`."""
    if line.startswith("# end of "):
        title = line[len("# end of "):]
        while headings and headings[-1][0] != title:
            headings.pop()       # comments: conf writes no end line for them
        if headings:
            headings.pop()
    elif line.startswith("# ") and linenr > 1 and lines[linenr - 2] == "#" and \
            linenr < len(lines) and lines[linenr] == "#":
        headings.append((line[2:], linenr))
    elif dotconfig.NOT_SET_PREFIX.match(line):
        # conf (and kconfiglib) read '# CONFIG_X is not set<anything>' as X=n
        return f"{line!r}: text after 'is not set' (conf reads the line as 'is not set' and ignores the rest)"
    elif line and not line.lstrip().startswith("#"):
        return f"malformed line {line!r} (expected CONFIG_NAME=value or '# CONFIG_NAME is not set')"
    return None


class WrittenValues(Mapping):
    """What :meth:`Config.written` holds for each symbol, worked out only for the symbols read, each
    once: read it while the config does not change (make a new one after an edit)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._read: dict[str, str | None] = {}

    def __getitem__(self, name: str) -> str:
        try:
            value = self._read[name]
        except KeyError:
            value = self._read[name] = self._value(name)
        if value is None:
            raise KeyError(name)
        return value

    def _value(self, name: str) -> str | None:
        sym = self.config.kconf.syms.get(name)
        if sym is None or not sym.nodes or sym in self.config.transitional:
            return None
        line = sym.config_string
        if not line:
            return None
        return "n" if line.startswith("#") else sym.str_value

    def __iter__(self) -> Iterator[str]:
        return iter(self.config.written())

    def __len__(self) -> int:
        return len(self.config.written())
