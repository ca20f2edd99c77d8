"""The Compare view: both arches side by side, filtered, with a chart."""

from __future__ import annotations

import io

import ipywidgets as widgets
import pandas as pd

from talosnb.app.workspace import Workspace
from talosnb.core.errors import TalosnbError
from talosnb.present.html import (
    escape,
)

from .base import Pager, View, error_html


class CompareView(View):
    """amd64 against arm64: filters (status, menu, text), a paged table, the summary plot."""

    TAB_TITLE = "Compare"
    ANY_MENU = "(any menu)"
    SHOWN = ("symbol", "amd64", "arm64", "status", "menu", "prompt")

    def __init__(self, workspace: Workspace, *, page_size: int = 25, auto: bool = True,
                 plot_top: int = 15) -> None:
        from talosnb.analyses.compare import STATUSES

        self.plot_top = plot_top
        self.status = widgets.SelectMultiple(options=STATUSES, value=("differs", "amd64-only", "arm64-only"),
                                             description="status", rows=len(STATUSES))
        self.menu = widgets.Dropdown(options=[self.ANY_MENU], value=self.ANY_MENU, description="menu")
        self.text = widgets.Text(description="text", placeholder="name, prompt or help text",
                                 continuous_update=True)
        self.counts = widgets.HTML()
        self.matched = widgets.HTML()
        self.table = Pager(page_size)
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        self.message = widgets.HTML()
        for control in (self.status, self.menu, self.text):
            control.observe(lambda _: self.apply_filters(), names="value")
        hint = widgets.HTML("<span style='font-size:11px;color:#666'>ctrl-click or shift-click to pick "
                            "several</span>", layout=widgets.Layout(margin="0 0 0 90px"))
        self.status.tooltip = "ctrl-click (cmd-click) or shift-click for several"
        super().__init__(workspace, [
            self.message, self.counts,
            widgets.HBox([widgets.VBox([self.status, hint]), widgets.VBox([self.menu, self.text])]),
            self.matched, self.table, self.plot], auto=auto)
        if auto:
            self.refresh()

    def refresh(self) -> None:
        from talosnb.analyses.compare import status_counts
        from talosnb.present.plots import differences_by_menu

        super().refresh()
        try:
            df = self.workspace.compare()
        except TalosnbError as e:
            self.message.value = error_html(e)
            return
        self.message.value = ""
        menus = [self.ANY_MENU, *sorted(df["menu"].dropna().unique())]
        keep = self.menu.value if self.menu.value in menus else self.ANY_MENU
        self.menu.options = menus
        self.menu.value = keep
        counts = status_counts(df)
        self.counts.value = ("<b>symbols per status:</b> "
                             + ", ".join(f"{escape(k)} {v}" for k, v in counts.items()))
        figure = differences_by_menu(df, top=self.plot_top)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        self.plot.value = buffer.getvalue()
        self.apply_filters()

    def filtered(self) -> pd.DataFrame:
        from talosnb.analyses.compare import by_status, by_text

        df = by_status(self.workspace.compare(), *self.status.value)
        if self.menu.value != self.ANY_MENU:
            df = df[df["menu"] == self.menu.value]
        if self.text.value.strip():
            df = by_text(df, self.text.value.strip())
        return df

    def apply_filters(self) -> None:
        if self.stale and not self.auto:
            return
        df = self.filtered()
        total = len(self.workspace.compare())
        self.matched.value = f"<b>{len(df)}</b> of {total} symbols match"
        self.table.show(df[list(self.SHOWN)])
