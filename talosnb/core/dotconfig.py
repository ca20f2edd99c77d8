"""The ``.config`` line grammar, as scripts/kconfig/confdata.c reads and writes it.

A ``.config`` is read line by line (``getline_stripped``: lines end at ``\\n`` only,
one trailing ``\\r`` is dropped); a line is ``CONFIG_NAME=value``,
``# CONFIG_NAME is not set``, a comment or blank. String values are quoted with
``\\`` and ``"`` escaped. The header ``# Linux/<SRCARCH> <version> Kernel
Configuration`` records the arch and the kernel release the file was made for.

Everything in talosnb that reads or writes config lines goes through here, so
the loader, the checks, the diffs and the Kbuild evaluation agree on what a line is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "CONFIG_"

# CONFIG_NAME=value (groups 1, 2) or '# CONFIG_NAME is not set' (group 3), exactly as conf writes them
_LINE = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$|^# CONFIG_([A-Za-z0-9_]+) is not set$")
# what a person types: SYMBOL=value, with or without CONFIG_, or a looser 'is not set' comment
_ASSIGN = re.compile(r"^(?:CONFIG_)?([A-Za-z0-9_]+)=(.*)$")
_NOT_SET = re.compile(r"^#\s*CONFIG_([A-Za-z0-9_]+) is not set\s*$")
# how conf recognizes an 'is not set' line: the prefix, whatever follows (conf_read_simple, confdata.c)
NOT_SET_PREFIX = re.compile(r"^# CONFIG_[^ ]+ is not set")
_HEADER = re.compile(r"^#\s*Linux/(\S+)\s+(\S+)\s+Kernel Configuration\s*$")
_STRING = re.compile(r'^"((?:[^"\\]|\\.)*)"$')

# conf writes the header within its first lines; a header further down is not one
HEADER_LINES = 20


def split_lines(text: str) -> list[str]:
    """The lines of a .config as conf reads them: split at ``\\n`` only (not at form feeds,
    U+2028 or other separators str.splitlines() knows), one trailing ``\\r`` dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def cr_lines(text: str) -> list[int]:
    """The lines (numbered from 1) that end in CR before their LF, or at the end of the text: conf
    reads the CR away and writes LF only, so each of them is a line it changes."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [number for number, line in enumerate(lines, 1) if line.endswith("\r")]


@dataclass(frozen=True)
class ConfigLine:
    """One assignment line: the symbol (without CONFIG_), its value as written ('n' for
    'is not set'), and whether it was a CONFIG_X=... line."""

    symbol: str
    value: str
    is_set: bool


def parse_line(line: str) -> ConfigLine | None:
    """The assignment a line holds, or None for comments, blanks and other text."""
    m = _LINE.match(line)
    if m is None:
        return None
    if m[1] is not None:
        return ConfigLine(m[1], m[2], True)
    return ConfigLine(m[3], "n", False)


def line_symbol(line: str) -> str | None:
    """CONFIG_NAME of an assignment line (with the prefix), else None."""
    parsed = parse_line(line.rstrip("\n"))
    return PREFIX + parsed.symbol if parsed else None


def read_values(text: str) -> dict[str, str]:
    """Symbol -> value as written ('n' for 'is not set'); a later line wins, as in conf.
    This is what make sees of a config, with no Kconfig involved."""
    values: dict[str, str] = {}
    for line in split_lines(text):
        parsed = parse_line(line)
        if parsed:
            values[parsed.symbol] = parsed.value
    return values


def format_line(symbol: str, value: str) -> str:
    """The line conf writes for ``symbol`` (without CONFIG_) holding ``value`` as written (strings
    already quoted; 'n' for a bool or tristate that is not set)."""
    return f"# {PREFIX}{symbol} is not set" if value == "n" else assignment_line(symbol, value)


def assignment_line(symbol: str, value: str) -> str:
    """``CONFIG_X=value`` as it stands, 'n' too (an int or string symbol's value, never 'is not set')."""
    return f"{PREFIX}{symbol}={value}"


def no_line(symbol: str) -> str:
    """How a value is named when the config has no line for ``symbol``: ``no CONFIG_X line``."""
    return f"no {PREFIX}{symbol} line"


def written_line(symbol: str, value: str | None) -> str:
    """The line for ``value`` as written (:func:`format_line`), or :func:`no_line` for None."""
    return no_line(symbol) if value is None else format_line(symbol, value)


def parse_assignment(text: str) -> tuple[str, str] | None:
    """(symbol, value) of 'SYMBOL=value', 'CONFIG_SYMBOL=value' or '# CONFIG_SYMBOL is not set'
    (value 'n'); the value is as typed (strings still quoted). None: not an assignment."""
    text = text.strip()
    m = _NOT_SET.match(text)
    if m:
        return m[1], "n"
    m = _ASSIGN.match(text)
    return (m[1], m[2]) if m else None


def is_not_set_comment(line: str) -> bool:
    return _NOT_SET.match(line.strip()) is not None


def quote(value: str) -> str:
    """A string value as conf writes it: in double quotes, ``\\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(value: str) -> str:
    """The text of a quoted string value (unchanged when it isn't quoted)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def is_quoted_string(value: str) -> bool:
    return _STRING.match(value) is not None


@dataclass(frozen=True)
class ConfigHeader:
    """The "# Linux/<arch> <version> Kernel Configuration" line of a .config."""

    arch: str       # the SRCARCH, e.g. x86
    version: str
    line: int


def header(text: str) -> ConfigHeader | None:
    """The version header among a .config's first lines (None: no header)."""
    for linenr, line in enumerate(split_lines(text)[:HEADER_LINES], 1):
        m = _HEADER.match(line)
        if m:
            return ConfigHeader(m[1], m[2], linenr)
    return None


def is_conf_written(text: str) -> bool:
    """Whether the text claims to be written by conf (its header), so conf's layout can be expected."""
    return text.startswith("#\n# Automatically generated file; DO NOT EDIT.\n") or header(text) is not None


def written_header(mainmenu_text: str) -> str:
    """The comment block conf writes at the top of a .config."""
    return f"#\n# Automatically generated file; DO NOT EDIT.\n# {mainmenu_text}\n#\n"
