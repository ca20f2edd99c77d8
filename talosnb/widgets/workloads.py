"""The Workloads view: what the chosen workloads need from the kernel config, per arch, each
requirement met or not (why, where, the verified fix with a button), stale or not applicable."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import ipywidgets as widgets
import pandas as pd

from talosnb.analyses import requirements as rq
from talosnb.analyses.edit import ChangeSet
from talosnb.app.workspace import Workspace
from talosnb.core.errors import TalosnbError
from talosnb.present.html import TABLE_STYLE, change_html, escape

from .base import Pager, View, error_html

if TYPE_CHECKING:
    from talosnb.app.workloads import RequirementsReport

_STATUS_STYLE = {"fail": "background:#fee;color:#a00;font-weight:bold", "pass": "background:#efe;color:#060"}
# what the status filter offers, and the statuses each choice keeps
STATUS_CHOICES = {"failing": ("not-met", "not-shipped"), "stale": ("stale",), "met": ("met", "met-module"),
                  "all": rq.STATUSES}


class WorkloadsView(View):
    """Per workload and arch: pass/fail of what every install needs; the requirements as a table
    filtered by status, arch and text; a selected one's why-not, source and fix (a button applies it)."""

    TAB_TITLE = "Workloads"
    ANY = "(any)"

    def __init__(self, workspace: Workspace, *, auto: bool = True, workloads: list[str] | None = None,
                 on_open_symbol: Callable[[str], None] | None = None) -> None:
        self.on_open_symbol = on_open_symbol
        self.error: TalosnbError | None = None
        names = sorted(rq.load_profiles())
        self.workload_choice = widgets.SelectMultiple(options=names, value=tuple(workloads or names),
                                                      description="workloads", rows=min(len(names), 6))
        self.required_only = widgets.Checkbox(value=False, description="what every install needs only")
        self.summary = widgets.HTML()
        self.status = widgets.Dropdown(options=list(STATUS_CHOICES), value="failing", description="status")
        self.arch = widgets.Dropdown(options=[self.ANY, *workspace.arches], value=self.ANY, description="arch")
        self.text = widgets.Text(description="text", placeholder="symbol, module or feature", continuous_update=True)
        self.rows_list = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="900px"))
        self.detail = widgets.HTML()
        self.fix_button = widgets.Button(description="apply fix", icon="wrench", disabled=True, button_style="success")
        self.open_symbol_button = widgets.Button(description="show symbol", icon="search", disabled=True)
        self.outcome = widgets.HTML()
        self.table = Pager(page_size=25)
        for control in (self.workload_choice, self.required_only):
            control.observe(lambda _: self.refresh(), names="value")
        for control in (self.status, self.arch, self.text):
            control.observe(lambda _: self.apply_filters(), names="value")
        self.rows_list.observe(lambda _: self._show_row(), names="value")
        self.fix_button.on_click(lambda _: self.apply_fix())
        self.open_symbol_button.on_click(lambda _: self.open_symbol())
        super().__init__(workspace, [
            widgets.HBox([self.workload_choice, self.required_only]), self.summary,
            widgets.HBox([self.status, self.arch, self.text]), self.rows_list, self.detail,
            widgets.HBox([self.fix_button, self.open_symbol_button]), self.outcome, self.table], auto=auto)
        if auto:
            self.refresh()

    # --- what the view shows ------------------------------------------------

    def report(self) -> RequirementsReport | None:
        """The workspace's requirements report for the chosen workloads (None when it could not be made)."""
        try:
            report = self.workspace.requirements(list(self.workload_choice.value) or None,
                                                 ["base"] if self.required_only.value else None)
        except TalosnbError as e:
            self.error = e
            return None
        self.error = None
        return report

    def refresh(self) -> None:
        super().refresh()
        report = self.report()
        if report is None:
            assert self.error is not None
            self.summary.value = error_html(self.error)
            self.rows_list.options = []
            self.table.show(pd.DataFrame())
            return
        self.summary.value = _summary_html(report)
        self.apply_filters()

    def filtered(self) -> list[dict]:
        """The requirement rows (one per arch) the filters keep."""
        report = self.report()
        if report is None:
            return []
        keep = STATUS_CHOICES[self.status.value]
        text = self.text.value.strip().lower()
        return [r for r in report.rows() if r["status"] in keep
                and (self.arch.value == self.ANY or r["arch"] == self.arch.value)
                and (not text or text in f"{r['requirement']} {r['symbol'] or ''} {r['feature']} {r['workload']}".lower())]

    def apply_filters(self) -> None:
        if self.stale and not self.auto:
            return
        self._shown = self.filtered()[:500]
        self.rows_list.options = [(f"{r['status']:12} {r['arch']:5} {r['workload']:11} {r['requirement']}"
                                   + ("" if r["required"] else f" [{r['feature']}]"), i)
                                  for i, r in enumerate(self._shown)]
        columns = ["workload", "feature", "arch", "requirement", "status", "symbol", "value", "fix", "section"]
        self.table.show(pd.DataFrame(self._shown, columns=columns))
        self._show_row()

    def row(self) -> dict | None:
        index = self.rows_list.value
        shown = getattr(self, "_shown", [])
        return shown[index] if index is not None and index < len(shown) else None

    def _show_row(self) -> None:
        row = self.row()
        self.fix_button.disabled = self.open_symbol_button.disabled = True
        if row is None:
            self.detail.value = ""
            return
        parts = [(f"<div><b>{escape(row['status'])}</b> ({escape(row['workload'])}, {escape(row['arch'])}): "
                  f"{escape(row['why'] or row['requirement'])}</div>")]
        if row["where"]:
            parts.append(f"<div>where: <code>{escape(row['where'])}</code></div>")
        if row["fix"]:
            parts.append(f"<div>fix: <code>{escape(row['fix'])}</code></div>")
        parts.append(f"<div>source: <a href='{escape(row['url'])}' target='_blank'>{escape(row['source'])}</a>, "
                     f"{escape(row['section'])} (listed at <code>{escape(row['profile'])}</code>)</div>")
        self.detail.value = "".join(parts)
        if self._assignments(row):
            self.fix_button.disabled = False
            self.fix_button.description = f"set {' '.join(self._assignments(row))} on {row['arch']}"[:60]
        if row["symbol"]:
            self.open_symbol_button.disabled = False
            self.open_symbol_button.description = f"show {row['symbol']}"

    def _assignments(self, row: dict) -> list[str]:
        report = self.report()
        if report is None or row["status"] != "not-met":
            return []
        for f in report.findings:
            if f.arch == row["arch"] and f.entry == row["requirement"] and f.details.get("workload") == row["workload"]:
                return list(f.details.get("assignments") or [])
        return []

    # --- actions -----------------------------------------------------------

    def apply_fix(self) -> Mapping[str, ChangeSet]:
        """Apply the selected requirement's verified fix on its arch (through the workspace, undoable)."""
        row = self.row()
        assignments = self._assignments(row) if row else []
        if row is None or not assignments:
            return {}
        try:
            changes = self.workspace.set(assignments, arches=[row["arch"]])
        except TalosnbError as e:
            self.outcome.value = error_html(e)
            return {}
        self.outcome.value = TABLE_STYLE + "".join(change_html(c) for c in changes.values())
        if self.stale:
            self.refresh()
        return changes

    def open_symbol(self) -> None:
        row = self.row()
        if row is not None and row["symbol"] and self.on_open_symbol is not None:
            self.on_open_symbol(row["symbol"])


def _summary_html(report: RequirementsReport) -> str:
    """One row per workload: pass/fail per arch of what every install needs, and the counts."""
    arches = list(dict.fromkeys(s.arch for s in report.statuses))
    rows = ""
    for workload in report.workloads:
        cells = ""
        for arch in arches:
            mine = [s for s in report.statuses if s.arch == arch and s.requirement.workload == workload]
            failing = sum(1 for s in mine if s.failing and s.requirement.required)
            optional = sum(1 for s in mine if s.failing and not s.requirement.required)
            stale = sum(1 for s in mine if s.status == "stale")
            state = "fail" if failing else "pass"
            note = (f"{failing} required not met" if failing else "pass") + (
                f", {optional} optional not met" if optional else "") + (f", {stale} stale" if stale else "")
            cells += f"<td style='{_STATUS_STYLE[state]}'>{escape(note)}</td>"
        rows += f"<tr><td><b>{escape(workload)}</b></td>{cells}</tr>"
    head = "".join(f"<th>{escape(a)}</th>" for a in arches)
    return TABLE_STYLE + f"<table class='talosnb-t'><tr><th>workload</th>{head}</tr>{rows}</table>"
