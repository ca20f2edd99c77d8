"""Findings: what an analysis says about the inputs, as data.

Every check in talosnb (module lists, build gates, upgrades) states its
knowledge as a table of :class:`Rule` rows — kind, level, and how the message
and the fix are worded (``str.format`` templates over the finding's
parameters) — and renders findings from it with :func:`render`, one small
engine. A :class:`Finding` is a plain row: kind, level, arch, the entry it is
about, the symbols and their values, ``file:line``, message, fix, plus
``details`` an analysis adds (a module's subsystem, a hardening option's
desired value). Presentation (text, JSON, widgets, HTML) is built from these
rows, never from the analysis' internals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talosnb.core import layout

if TYPE_CHECKING:
    import pandas as pd

LEVELS = ("error", "warning", "info")

COLUMNS = ["level", "kind", "arch", "entry", "symbols", "values", "where", "message", "fix"]


@dataclass(frozen=True)
class Rule:
    """One kind of finding: its level and how to word it."""

    kind: str
    level: str
    message: str
    fix: str | None = None


def rule_table(*rules: Rule) -> dict[str, Rule]:
    return {rule.kind: rule for rule in rules}


@dataclass(frozen=True)
class Finding:
    level: str
    kind: str
    arch: str
    entry: str | None
    symbols: tuple[str, ...]
    values: dict
    where: str | None
    message: str
    fix: str | None
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        """One flat record (details as columns of their own), as findings_frame's rows."""
        return {**_record(self), **dict(self.details)}


class _Params(dict):
    # a template naming a parameter the finding doesn't have renders it empty
    def __missing__(self, key: str) -> str:
        return ""


def render(rules: Mapping[str, Rule], kind: str, arch: str, entry: str | None, *,
           symbols: Iterable[str] = (), values: Mapping[str, str] | None = None, where: str | None = None,
           level: str | None = None, details: Mapping[str, Any] | None = None, **params: object) -> Finding:
    """The finding of `kind` from `rules`, its message and fix filled in from the parameters
    (``entry``, ``arch``, ``symbol`` — the first of `symbols` —, the arch's file names from
    :mod:`talosnb.core.layout`: ``config_name``, ``module_list_name``, ``module_list_file``, and any
    keyword given)."""
    rule = rules[kind]
    symbols = tuple(symbols)
    fmt = _Params(params, entry=entry, arch=arch, symbol=symbols[0] if symbols else "")
    for name, file_of in (("config_name", layout.config_name), ("module_list_name", layout.module_list_name),
                          ("module_list_file", layout.module_list_file)):
        fmt.setdefault(name, file_of(arch))
    message = rule.message.format_map(fmt)
    fix = rule.fix.format_map(fmt) if rule.fix else None
    return Finding(level or rule.level, kind, arch, entry, symbols, dict(values or {}), where, message,
                   fix or None, dict(details or {}))


def _record(f: Finding) -> dict:
    return {"level": f.level, "kind": f.kind, "arch": f.arch, "entry": f.entry,
            "symbols": ",".join(f.symbols),
            "values": ", ".join(f"{k}={v}" for k, v in sorted(f.values.items())),
            "where": f.where, "message": f.message, "fix": f.fix}


def findings_frame(findings: Iterable[Finding], details: Iterable[str] = ()) -> pd.DataFrame:
    """Findings as a DataFrame: one row each, plain columns (the `details` named, after
    ``entry``), errors first, then by arch, kind and entry."""
    import pandas as pd

    details = list(details)
    columns = COLUMNS[:4] + details + COLUMNS[4:]
    rows = [{**_record(f), **{d: f.details.get(d) for d in details}} for f in findings]
    # Plain object columns: pandas would otherwise infer string columns and turn a missing
    # fix or entry into NaN (truthy, and invalid in JSON) instead of None.
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    if frame.empty:
        return frame
    frame["_level"] = frame["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    frame = frame.sort_values(["_level", "arch", "kind", "entry", "where", "message"], na_position="first",
                              kind="stable")
    return frame.drop(columns="_level").reset_index(drop=True)


def count_errors(findings: Iterable[Finding]) -> int:
    return sum(1 for f in findings if f.level == "error")
