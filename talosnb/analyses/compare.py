"""The amd64 and arm64 configs side by side: one row per symbol, filters and summaries.

`compare(session)` gives a DataFrame with one row per symbol that either arch's
Kconfig tree defines. Values are the ones the .config holds ('n' for "is not
set", missing when the config has no line for the symbol). `status` says how
the two arches relate:

- `same`: both arches end up with the same value;
- `differs`: they don't;
- `amd64-only` / `arm64-only`: only that arch's Kconfig tree defines the symbol;
- `defined-but-unset`: both trees define it, neither config has a line for it.

A bool or tristate without a line is off (the kernel treats it as n), so
`# CONFIG_X is not set` on one arch and no line on the other is `same`. For
string, int and hex symbols, a value on one arch and no line on the other is
`differs`.

Rows are sorted by top-level menu, then symbol, so the frame (and any notebook
output made from it) is the same from run to run. Every filter takes a frame
and returns a frame, so they compose: `by_text(differing(df), "usb")`.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import kconfiglib
import pandas as pd
from kconfiglib import TYPE_TO_STR

from talosnb.core.arches import ARCHES
from talosnb.core.errors import InputError, opt
from talosnb.kconfig.config import Config
from talosnb.kconfig.info import TOP_LEVEL

if TYPE_CHECKING:
    from .edit import SessionLike

STATUSES = ("same", "differs", "amd64-only", "arm64-only", "defined-but-unset")
COLUMNS = ["symbol", "type", "menu", "menu_path", "prompt", "amd64", "arm64", "visible_amd64",
           "visible_arm64", "defined", "status", "location", "help"]
VALUES = ("y", "m", "n")


def _configs(session_or_configs: SessionLike | Mapping[str, Config]) -> dict[str, Config]:
    configs = getattr(session_or_configs, "configs", session_or_configs)
    if not isinstance(configs, Mapping):
        raise InputError("compare() takes a Session or a {arch: Config} mapping")
    missing = [a for a in ARCHES if a not in configs]
    if missing:
        raise InputError("comparing needs the configs of both arches; missing " + ", ".join(missing),
                         hint=f"open both arches ({opt('arch')} all)")
    return {a: configs[a] for a in ARCHES}


class _Menus:
    """Menu path of a node's parent, computed once per parent node."""

    def __init__(self, kconf: kconfiglib.Kconfig) -> None:
        self.top = kconf.top_node
        self.paths: dict[int, tuple[str, ...]] = {}

    def path(self, node: kconfiglib.MenuNode) -> tuple[str, ...]:
        parent = node.parent
        if parent is None or parent is self.top:
            return ()
        key = id(parent)
        found = self.paths.get(key)
        if found is None:
            above = self.path(parent)
            found = above + (parent.prompt[0],) if parent.prompt else above
            self.paths[key] = found
        return found


def _arch_rows(config: Config) -> dict[str, tuple]:
    """name -> (sym, written value or None, visible) for the symbols this arch's tree defines."""
    rows = {}
    for sym in config.kconf.unique_defined_syms:
        if not config.is_kernel_symbol(sym):
            continue
        line = sym.config_string
        value = ("n" if line.startswith("#") else sym.str_value) if line else None
        rows[sym.name] = (sym, value, sym.visibility > 0)
    return rows


def _describe(sym: kconfiglib.Symbol, menus: _Menus) -> tuple:
    """(type, menu, menu path, prompt, file:line, help) of a symbol, from its first prompted node."""
    node = next((n for n in sym.nodes if n.prompt), sym.nodes[0])
    path = menus.path(node)
    if path:
        menu = path[0]
    elif node.prompt and node.list is not None:
        menu = node.prompt[0]  # a top-level menuconfig symbol heads its own menu
    else:
        menu = TOP_LEVEL
    help_text = next((n.help for n in sym.nodes if n.help), None)
    return (TYPE_TO_STR[sym.orig_type], menu, " > ".join(path), node.prompt[0] if node.prompt else None,
            f"{node.filename}:{node.linenr}", help_text)


def effective(value: str | None, kind: str) -> str | None:
    """What a value means to the kernel: a bool/tristate with no line is n."""
    if value is None and kind in ("bool", "tristate"):
        return "n"
    return value


def compare(session_or_configs: SessionLike | Mapping[str, Config]) -> pd.DataFrame:
    """One row per symbol defined on either arch (see the module docstring for the columns)."""
    configs = _configs(session_or_configs)
    # Tens of thousands of small tuples would trigger full collections over the
    # (large) parsed trees; nothing made here forms a cycle.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _compare(configs)
    finally:
        if paused:
            gc.enable()


def _compare(configs: dict[str, Config]) -> pd.DataFrame:
    per_arch = {arch: _arch_rows(config) for arch, config in configs.items()}
    menus = {arch: _Menus(config.kconf) for arch, config in configs.items()}
    amd, arm = per_arch["amd64"], per_arch["arm64"]
    records = []
    for name in amd.keys() | arm.keys():
        a, r = amd.get(name), arm.get(name)
        first, arch = (a, "amd64") if a is not None else (r, "arm64")
        assert first is not None   # the name comes from one arch's rows at least
        kind, menu, path, prompt, location, help_text = _describe(first[0], menus[arch])
        va = a[1] if a else None
        vr = r[1] if r else None
        if a is None:
            defined, status = "arm64", "arm64-only"
        elif r is None:
            defined, status = "amd64", "amd64-only"
        else:
            defined = "both"
            if va is None and vr is None:
                status = "defined-but-unset"
            else:
                same = (effective(va, TYPE_TO_STR[a[0].orig_type])
                        == effective(vr, TYPE_TO_STR[r[0].orig_type]))
                status = "same" if same else "differs"
        records.append((name, kind, menu, path, prompt, va, vr, a[2] if a else None, r[2] if r else None,
                        defined, status, location, help_text))
    records.sort(key=lambda rec: (rec[2], rec[0]))
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    for column in ("visible_amd64", "visible_arm64"):
        df[column] = df[column].astype("boolean")
    return df


# --- filters -------------------------------------------------------------------


def by_status(df: pd.DataFrame, *statuses: str) -> pd.DataFrame:
    """Rows whose status is one of `statuses` (see STATUSES)."""
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise InputError(f"unknown status {', '.join(unknown)}", hint="use one of: " + ", ".join(STATUSES))
    return df[df["status"].isin(statuses)]


def differing(df: pd.DataFrame) -> pd.DataFrame:
    """Symbols both arches define but set differently."""
    return by_status(df, "differs")


def one_arch_only(df: pd.DataFrame, arch: str | None = None) -> pd.DataFrame:
    """Symbols only one arch's tree defines (only `arch`'s, if given)."""
    if arch is not None and arch not in ARCHES:
        raise InputError(f"unknown arch '{arch}'", hint="use amd64 or arm64")
    return by_status(df, *([f"{arch}-only"] if arch else ["amd64-only", "arm64-only"]))


def by_menu(df: pd.DataFrame, menu: str) -> pd.DataFrame:
    """Symbols in a menu: `menu` (any case) is part of their top-level menu or menu path."""
    where = df["menu"].str.contains(menu, case=False, regex=False) | df["menu_path"].str.contains(
        menu, case=False, regex=False)
    return df[where.fillna(False)]


def _parse_pair(values: str | Iterable[str]) -> tuple[str, str]:
    pair = [v.strip() for v in (values.split(",") if isinstance(values, str) else values)]
    if len(pair) != 2 or not all(pair):
        raise InputError(f"expected two values like 'm,y', got {values!r}")
    return pair[0], pair[1]


def by_values(df: pd.DataFrame, values: str | Iterable[str], *, ordered: bool = False) -> pd.DataFrame:
    """Symbols set to one value on one arch and the other on the other: by_values(df, "m,y").

    A bool/tristate without a line counts as n. With `ordered`, the first value
    is amd64's and the second arm64's.
    """
    first, second = _parse_pair(values)
    kinds = df["type"]
    amd = _effective_column(df["amd64"], kinds)
    arm = _effective_column(df["arm64"], kinds)
    # a value no symbol can have (a typo: 'q,z') would match nothing and look like an answer
    known = {"y", "m", "n"} | set(amd.dropna()) | set(arm.dropna())
    for value in (first, second):
        if value not in known and not re.fullmatch(r"-?[0-9]+|0[xX][0-9a-fA-F]+", value):
            raise InputError(f"no symbol has the value {value!r} on either arch",
                             hint="values are y, m, n, numbers, or a value as the config writes it "
                                  "(e.g. m,y)")
    hit = (amd == first) & (arm == second)
    if not ordered:
        hit |= (amd == second) & (arm == first)
    return df[hit.fillna(False)]


def by_text(df: pd.DataFrame, text: str) -> pd.DataFrame:
    """Symbols whose name, prompt or help text contains `text` (any case)."""
    hit = pd.Series(False, index=df.index)
    for column in ("symbol", "prompt", "help"):
        hit |= df[column].str.contains(text, case=False, regex=False).fillna(False).astype(bool)
    return df[hit]


def _effective_column(values: pd.Series, kinds: pd.Series) -> pd.Series:
    out = values.astype(object)
    off = values.isna() & kinds.isin(["bool", "tristate"])
    out[off] = "n"
    return out


# --- summaries -----------------------------------------------------------------


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per top-level menu: how many symbols have each status, and the total (sorted by menu)."""
    counts = pd.crosstab(df["menu"], df["status"]).reindex(columns=list(STATUSES), fill_value=0)
    counts = counts.sort_index()
    counts["total"] = counts.sum(axis=1)
    counts.columns.name = None
    return counts.astype(int)


def status_counts(df: pd.DataFrame) -> dict[str, int]:
    """How many symbols have each status (every status listed, in STATUSES order)."""
    counts = df["status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in STATUSES}


def value_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Per top-level menu: how many lines each arch's config has with y, m and n ("is not set").

    Columns are "amd64 y", "amd64 m", "amd64 n", "arm64 y", ...
    """
    columns = {}
    for arch in ARCHES:
        for value in VALUES:
            columns[f"{arch} {value}"] = (df[arch] == value).fillna(False).astype(int)
    counts = pd.DataFrame(columns).groupby(df["menu"]).sum().sort_index()
    counts.index.name = "menu"
    return counts


def module_counts(df: pd.DataFrame) -> dict[str, int]:
    """How many symbols each arch builds as a module (=m)."""
    return {arch: int((df[arch] == "m").sum()) for arch in ARCHES}


def records(df: pd.DataFrame) -> list[dict]:
    """The rows as plain dicts (missing values as None), e.g. for JSON."""
    out = df.astype(object).where(df.notna(), None)
    return out.to_dict(orient="records")


__all__ = ["ARCHES", "COLUMNS", "STATUSES", "TOP_LEVEL", "by_menu", "by_status", "by_text", "by_values",
           "compare", "differing", "effective", "module_counts", "one_arch_only", "records", "status_counts",
           "summary", "value_counts"]
