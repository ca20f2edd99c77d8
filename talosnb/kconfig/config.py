"""A .config loaded against a kernel tree: values, normalize, write in the kernel's format."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import kconfiglib
from kconfiglib import BOOL, HEX, INT, STRING, TRISTATE

from ..errors import InputError
from ..fileio import Snapshot, atomic_write, read_text
from . import semantics, toolchain
from .tree import ARCHES, KconfigTree

# CONFIG_NAME=value (groups 1, 2) or '# CONFIG_NAME is not set' (group 3)
_LINE = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$|^# CONFIG_([A-Za-z0-9_]+) is not set$")
_HEADER_ARCH = re.compile(r"^# Linux/(\S+) (\S+) Kernel Configuration$")
_STRING_VALUE = re.compile(r'^"((?:[^"\\]|\\.)*)"$')

# A config from one arch loaded on the other would silently lose all of its
# arch-specific lines; these symbols give the arch away even without a header.
_ARCH_SYMBOLS = {"amd64": ("X86", "X86_64"), "arm64": ("ARM64",)}


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
        return _STRING_VALUE.match(value) is not None
    return True


def header_version(text: str) -> tuple[str, str] | None:
    """(arch, version) from a config header such as '# Linux/x86 6.12.63 Kernel Configuration'."""
    for line in text.splitlines()[:6]:
        m = _HEADER_ARCH.match(line.strip())
        if m:
            return m[1], m[2]
    return None


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
    probe_answers: list[toolchain.ProbeAnswer] = field(default_factory=list)
    recorded_version: str | None = None

    @property
    def arch(self) -> str:
        return self.tree.arch

    @property
    def kconf(self):
        return self.tree.kconf

    # --- loading ----------------------------------------------------------

    @classmethod
    def load(cls, tree: KconfigTree, path: str | os.PathLike) -> Config:
        text, snapshot = read_text(path, what=f"config-{tree.arch}")
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
        kconf.load_config(io.StringIO(text), replace=True)
        kconf.missing_syms = []
        if tree.mode == "recorded":
            config.probe_answers = toolchain.solve_placeholders(kconf, recorded, tree.probes)
        return config

    def _validate(self, text: str) -> dict[str, str]:
        """Check every line like conf does, but refuse what conf would only warn about.

        Returns symbol -> the line recorded for it (for the toolchain probes).
        """
        source = self.source
        if not text.strip():
            raise InputError("config is empty", where=source,
                             hint="expected a full kernel .config (kernel/build/config-ARCH)")
        header = header_version(text)
        arch = self.tree.arch
        if header:
            header_arch, self.recorded_version = header
            if header_arch != ARCHES[arch][0]:
                raise InputError(
                    f"this is a Linux/{header_arch} config, not a config for {arch} "
                    f"(Linux/{ARCHES[arch][0]})", where=f"{source}:{_header_line(text)}",
                    hint="check --arch, or which config-ARCH file was given")
        syms = self.tree.kconf.syms
        # the symbols that give away another arch's config, and which arch
        foreign = {name: other for other, names in _ARCH_SYMBOLS.items() if other != arch for name in names}
        internal = (toolchain.PROBE_PREFIX, toolchain.TC_PREFIX)
        errors: list[str] = []
        recorded: dict[str, str] = {}
        seen: dict[str, int] = {}
        for linenr, raw in enumerate(text.splitlines(), 1):
            line = raw.rstrip()
            m = _LINE.match(line)
            if m is None:
                if line and not line.lstrip().startswith("#"):
                    errors.append(f"{source}:{linenr}: malformed line {line!r} "
                                  "(expected CONFIG_NAME=value or '# CONFIG_NAME is not set')")
                continue
            name, value = m[1], m[2]
            is_set = name is not None
            if not is_set:
                name, value = m[3], "n"
            elif value == "y" and name in foreign:
                raise InputError(f"CONFIG_{name}=y: this is a config for {foreign[name]}, not {arch}",
                                 where=f"{source}:{linenr}",
                                 hint="check --arch, or which config-ARCH file was given")
            sym = syms.get(name)
            if sym is None or not sym.nodes or name.startswith(internal):
                self.notes.append(LoadNote(f"{source}:{linenr}", name, "unknown-symbol",
                                           f"CONFIG_{name} is not defined in the {self.tree.version} tree "
                                           f"for {arch}; its line is dropped"))
                continue
            if is_set:
                if not _is_valid(sym, value):
                    errors.append(f"{source}:{linenr}: {value!r} is not a valid "
                                  f"{kconfiglib.TYPE_TO_STR[sym.orig_type]} value for CONFIG_{name}")
                    continue
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
        if errors:
            shown = "\n  ".join(errors[:20])
            more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
            raise InputError(f"{len(errors)} bad line(s) in the config:\n  {shown}{more}", where=source,
                             hint="fix or remove these lines; nothing was changed")
        return recorded

    # --- values -----------------------------------------------------------

    def symbol(self, name: str) -> kconfiglib.Symbol:
        name = name.removeprefix("CONFIG_")
        sym = self.kconf.syms.get(name)
        if sym is None or not sym.nodes or name.startswith((toolchain.PROBE_PREFIX, toolchain.TC_PREFIX)):
            raise InputError(f"CONFIG_{name} is not defined in the {self.tree.version} tree for {self.arch}",
                             hint=_did_you_mean(self, name))
        return sym

    def has_symbol(self, name: str) -> bool:
        sym = self.kconf.syms.get(name.removeprefix("CONFIG_"))
        return bool(sym is not None and sym.nodes and not sym.name.startswith(("TALOSNB_",)))

    def value(self, name: str) -> str:
        return self.symbol(name).str_value

    def written(self) -> dict[str, str]:
        """Symbol -> value for every symbol the config file holds ('n' for 'is not set')."""
        values = {}
        hidden = self._hidden()
        for sym in self.kconf.unique_defined_syms:
            if sym in hidden:
                continue
            line = sym.config_string
            if line:
                values[sym.name] = "n" if line.startswith("#") else sym.str_value
        return values

    def _hidden(self) -> set:
        return set(getattr(self.kconf, "transitional_syms", ()))

    # --- writing ----------------------------------------------------------

    def header(self) -> str:
        return f"#\n# Automatically generated file; DO NOT EDIT.\n# {self.kconf.mainmenu_text}\n#\n"

    def text(self) -> str:
        """The config as the kernel's conf writes it (`make olddefconfig`), byte for byte."""
        body = self.kconf._config_contents(self.header())
        hidden = self._hidden()
        if hidden:
            names = {f"CONFIG_{s.name}" for s in hidden}
            body = "".join(line for line in body.splitlines(keepends=True)
                           if _line_symbol(line) not in names)
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


def _check_host_compiler(tree: KconfigTree, recorded: dict[str, str], source: str) -> None:
    """A clang-made config is not redone with the default gcc: every clang-only line would change."""
    host = tree.host_env
    if (recorded.get("CC_IS_CLANG") == "CONFIG_CC_IS_CLANG=y" and "clang" not in host.get("CC_VERSION_TEXT", "")
            and host.get(toolchain.CC_ORIGIN, "default") == "default"):
        text = recorded.get("CC_VERSION_TEXT", "").partition("=")[2].strip('"')
        raise InputError(f"this config was made with clang ({text or 'CONFIG_CC_IS_CLANG=y'}), but host mode "
                         f"found no clang: its compiler is {host.get('CC', 'gcc')!r} "
                         f"({host.get('CC_VERSION_TEXT') or 'unknown'})", where=source,
                         hint=toolchain.LLVM_HINT)


def _line_symbol(line: str) -> str | None:
    if line.startswith("CONFIG_"):
        return line.split("=", 1)[0]
    if line.startswith("# CONFIG_") and line.rstrip().endswith(" is not set"):
        return line[2:].split(" ", 1)[0]
    return None


def _header_line(text: str) -> int:
    for linenr, line in enumerate(text.splitlines(), 1):
        if _HEADER_ARCH.match(line.strip()):
            return linenr
    return 1


def _did_you_mean(config: Config, name: str) -> str:
    import difflib
    names = [s.name for s in config.kconf.unique_defined_syms]
    close = difflib.get_close_matches(name.upper(), names, n=3, cutoff=0.75)
    if close:
        return "did you mean " + ", ".join(close) + "?"
    return "check the spelling (talosnb search TEXT finds symbols by name, prompt or help)"
