"""Differences between two .config texts, in the spirit of scripts/diffconfig."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from talosnb.core.dotconfig import cr_lines, read_values

if TYPE_CHECKING:
    import pandas as pd

    from .config import Config


@dataclass(frozen=True)
class Change:
    symbol: str
    old: str | None   # None: not in the old file
    new: str | None   # None: not in the new file

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"

    def __str__(self) -> str:
        # scripts/diffconfig's notation: -SYM old, +SYM new, SYM old -> new
        if self.old is None:
            return f"+{self.symbol} {self.new}"
        if self.new is None:
            return f"-{self.symbol} {self.old}"
        return f" {self.symbol} {self.old} -> {self.new}"


@dataclass(frozen=True)
class LineEndings:
    """Lines that end in CR LF on one side and LF on the other. conf reads a trailing CR away
    (``getline_stripped``) and writes LF only, so no value differs, yet every such line is
    rewritten: a change of the file, counted and shown with the value changes."""

    count: int       # lines ending in CR LF on the side that has them
    first: int       # the first of them (numbered from 1)
    old: str         # "CR LF" or "LF"
    new: str

    def __str__(self) -> str:
        return f" line endings: {self.count} line(s) end in CR LF (the first at line {self.first}): {self.old} -> {self.new}"

    def as_dict(self) -> dict[str, int | str]:
        return {"count": self.count, "first_line": self.first, "old": self.old, "new": self.new}


def line_endings_change(old_text: str, new_text: str) -> LineEndings | None:
    """The line-ending change from `old_text` to `new_text` (None: both end their lines alike)."""
    old, new = cr_lines(old_text), cr_lines(new_text)
    if bool(old) == bool(new):
        return None
    return LineEndings(len(old), old[0], "CR LF", "LF") if old else LineEndings(len(new), new[0], "LF", "CR LF")


def config_diff(old_text: str, new_text: str) -> list[Change]:
    old, new = read_values(old_text), read_values(new_text)
    return ordered([Change(name, old.get(name), new.get(name)) for name in sorted(old.keys() | new.keys())
                    if old.get(name) != new.get(name)])


def ordered(changes: list[Change]) -> list[Change]:
    """Changes in diffconfig's order: removed, added, then changed lines, each by symbol."""
    order = {"removed": 0, "added": 1, "changed": 2}
    return sorted(changes, key=lambda c: (order[c.kind], c.symbol))


def _text_of(config: Config | str) -> str:
    """A Config (as it would be written now) or a .config text."""
    return config if isinstance(config, str) else config.text()


def diff(config_a: Config | str, config_b: Config | str) -> list[Change]:
    """Changes from `config_a` to `config_b` (Config objects or .config texts), diffconfig-style."""
    return config_diff(_text_of(config_a), _text_of(config_b))


def diff_frame(config_a: Config | str, config_b: Config | str) -> pd.DataFrame:
    """The same as a pandas DataFrame: symbol, kind (removed/added/changed), old, new."""
    import pandas as pd
    rows = [{"symbol": c.symbol, "kind": c.kind, "old": c.old, "new": c.new} for c in diff(config_a, config_b)]
    return pd.DataFrame(rows, columns=["symbol", "kind", "old", "new"], dtype=object)


def diff_text(config_a: Config | str, config_b: Config | str) -> str:
    """The same as scripts/diffconfig prints it: -removed, +added, then old -> new."""
    return "".join(f"{c}\n" for c in diff(config_a, config_b))
