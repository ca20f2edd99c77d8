"""Charts of an amd64/arm64 comparison, as matplotlib Figures.

The figures are made without pyplot: no global figure list, no GUI backend,
nothing shown. Each has an Agg canvas, so it renders (savefig, or a notebook
displaying it) the same anywhere, headless or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from talosnb.analyses.compare import ARCHES, compare, summary, value_counts

if TYPE_CHECKING:
    from talosnb.analyses.edit import SessionLike
    from talosnb.kconfig.config import Config

# Differences: how each arch's config differs from the other's.
DIFFERENCE_COLORS = {"differs": "#d95f02", "amd64-only": "#1b9e77", "arm64-only": "#7570b3"}
VALUE_COLORS = {"y": "#1b9e77", "m": "#e6ab02", "n": "#bbbbbb"}


def _frame(df_or_session: pd.DataFrame | SessionLike | Mapping[str, Config]) -> pd.DataFrame:
    if isinstance(df_or_session, pd.DataFrame):
        return df_or_session
    return compare(df_or_session)


def _figure(rows: int, columns: int = 1, width: float = 8.0) -> Figure:
    fig = Figure(figsize=(width, 1.3 + 0.28 * max(rows, 1)), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def differences_by_menu(df_or_session: pd.DataFrame | SessionLike | Mapping[str, Config], *,
                        top: int | None = None) -> Figure:
    """Horizontal stacked bars: per top-level menu, symbols that differ, and that only one arch defines.

    Menus without a difference are left out; the rest are sorted by their total
    (largest on top), then by name. `top` keeps only that many menus.
    """
    counts = summary(_frame(df_or_session))[list(DIFFERENCE_COLORS)]
    counts = counts[counts.sum(axis=1) > 0]
    # (pandas-stubs can't tell that .loc of one index label is a row, whose sum is a number)
    order = sorted(counts.index, key=lambda menu: (-int(counts.loc[menu].sum()), menu))  # type: ignore[call-overload]
    if top is not None:
        order = order[:top]
    counts = counts.loc[order[::-1]]  # barh draws the first row at the bottom
    fig = _figure(len(counts))
    ax = fig.add_subplot()
    left = pd.Series(0, index=counts.index)
    for status, color in DIFFERENCE_COLORS.items():
        ax.barh(list(counts.index), counts[status], left=left, color=color, label=status)
        left = left + counts[status]
    for y, total in enumerate(left):
        ax.annotate(str(int(total)), (total, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize="small")
    ax.margins(x=0.08)
    ax.set_title("amd64 vs arm64: differences per top-level menu")
    ax.set_xlabel("symbols")
    if len(counts):
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "no differences", ha="center", va="center", transform=ax.transAxes)
    ax.grid(axis="x", alpha=0.3)
    return fig


def values_by_menu(df_or_session: pd.DataFrame | SessionLike | Mapping[str, Config], *,
                   menus: list[str] | None = None) -> Figure:
    """One panel per arch: per top-level menu, the config's y, m and n ("is not set") lines, stacked.

    Menus where neither config has a y/m/n line are left out; `menus` picks
    (and orders) the menus to show.
    """
    counts = value_counts(_frame(df_or_session))
    counts = counts.reindex(menus, fill_value=0) if menus is not None else counts[counts.sum(axis=1) > 0]
    counts = counts.iloc[::-1]
    fig = _figure(len(counts), width=11.0)
    axes = fig.subplots(1, len(ARCHES), sharey=True)
    for ax, arch in zip(axes, ARCHES, strict=True):
        left = pd.Series(0, index=counts.index)
        for value, color in VALUE_COLORS.items():
            column = counts[f"{arch} {value}"]
            ax.barh(list(counts.index), column, left=left, color=color, label=value)
            left = left + column
        ax.set_title(f"{arch}: y / m / n per top-level menu")
        ax.set_xlabel("config lines")
        ax.grid(axis="x", alpha=0.3)
    axes[-1].legend(loc="lower right")
    return fig


__all__ = ["DIFFERENCE_COLORS", "VALUE_COLORS", "differences_by_menu", "values_by_menu"]
