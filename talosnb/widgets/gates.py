"""The Build gates view: the three gates of the Talos kernel build per arch, their findings with
fix buttons, and kernel-hardening-checker's whole table with filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import ipywidgets as widgets
import pandas as pd

from talosnb.analyses.edit import ChangeSet
from talosnb.app.workspace import Workspace
from talosnb.core.errors import TalosnbError
from talosnb.present.html import (
    TABLE_STYLE,
    change_html,
    escape,
    gate_finding_html,
    gates_summary_html,
    overridden_html,
)
from talosnb.present.workspace import drop_warning_text

from .base import Pager, View, error_html, in_views

if TYPE_CHECKING:
    from talosnb.analyses.findings import Finding
    from talosnb.analyses.gates import GateReport

class GatesView(View):
    """olddefconfig, hardening and module-list gates per arch, as the build runs them; each finding
    with its fix (a button applies a verified fix), and the checker's table."""

    TAB_TITLE = "Build gates"
    ANY = "(any)"

    def __init__(self, workspace: Workspace, *, auto: bool = True,
                 on_open_symbol: Callable[[str], None] | None = None) -> None:
        from talosnb.analyses.gates import GATES

        self.on_open_symbol = on_open_symbol
        self.error: TalosnbError | None = None
        self.gate_choice = widgets.SelectMultiple(options=GATES, value=GATES, description="gates", rows=3)
        self.run_button = widgets.Button(description="run the gates", icon="play",
                                         tooltip="run the chosen gates on the configs as they stand")
        self.summary = widgets.HTML()
        self.summary.add_class("talosnb-gates-summary")
        self.gate = widgets.Dropdown(options=[self.ANY, *GATES], value=self.ANY, description="gate")
        self.arch = widgets.Dropdown(options=[self.ANY, *workspace.arches], value=self.ANY, description="arch")
        self.text = widgets.Text(description="text", placeholder="option, symbol or message", continuous_update=True)
        self.findings_list = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="900px"))
        self.findings_list.add_class("talosnb-gate-findings")
        self.detail = widgets.HTML()
        self.fix_button = widgets.Button(description="apply fix", icon="wrench", disabled=True,
                                         button_style="success", layout=widgets.Layout(width="auto"))
        self.fix_button.add_class("talosnb-gates-fix")
        self.open_symbol_button = widgets.Button(description="show symbol", icon="search", disabled=True,
                                                 layout=widgets.Layout(width="auto"))
        self.open_symbol_button.add_class("talosnb-gates-symbol")
        self.outcome = widgets.HTML()
        self.table_arch = widgets.Dropdown(options=[self.ANY, *workspace.arches], value=self.ANY,
                                           description="arch")
        self.table_status = widgets.Dropdown(options=[("every check", "all"), ("failing", "fail"),
                                                      ("failing the gate", "gate"), ("passing", "ok")],
                                             value="all", description="checks")
        self.table_text = widgets.Text(description="text", placeholder="option, decision, reason",
                                       continuous_update=True)
        self.table = Pager(page_size=25)
        self.run_button.on_click(lambda _: self.refresh())
        for control in (self.gate, self.arch, self.text):
            control.observe(lambda _: self.apply_filters(), names="value")
        for control in (self.table_arch, self.table_status, self.table_text):
            control.observe(lambda _: self.show_table(), names="value")
        self.findings_list.observe(lambda _: self._show_finding(), names="value")
        self.fix_button.on_click(lambda _: self.apply_fix())
        self.open_symbol_button.on_click(lambda _: self.open_symbol())
        super().__init__(workspace, [
            widgets.HBox([self.gate_choice, self.run_button]), self.summary,
            widgets.HBox([self.gate, self.arch, self.text]), self.findings_list, self.detail,
            widgets.HBox([self.fix_button, self.open_symbol_button]), self.outcome,
            widgets.HTML("<b>kernel-hardening-checker, both arches</b>"),
            widgets.HBox([self.table_arch, self.table_status, self.table_text]), self.table], auto=auto)
        if auto:
            self.refresh()

    # --- what the view shows ------------------------------------------------

    def report(self) -> GateReport | None:
        """The workspace's gate report for the chosen gates (None when it could not be made)."""
        try:
            report = self.workspace.gates(list(self.gate_choice.value))
        except TalosnbError as e:
            self.error = e
            return None
        self.error = None
        return report

    def refresh(self) -> None:
        super().refresh()
        report = self.report()
        if report is None:
            assert self.error is not None   # report() keeps why it could not make one
            self.summary.value = error_html(self.error)
            self.findings_list.options = []
            self.table.show(pd.DataFrame())
            return
        self.summary.value = gates_summary_html(report) + self._save_refusals()
        self.apply_filters()
        self.show_table()

    def _save_refusals(self) -> str:
        """What Save will refuse to write as things stand, in its words (the gates can pass while
        the configs hold lines for symbols this tree doesn't define: writing drops them)."""
        with in_views():
            refused = [p for p in self.workspace.pending() if p.dropped]
            return "".join(f"<div class='talosnb-err talosnb-save-refuses'>Save will refuse to write "
                           f"<b>{escape(p.name)}</b>: {escape(drop_warning_text(p))}</div>" for p in refused)

    def findings(self) -> list:
        """Every finding of the report (Finding rows), errors first, as `talosnb check` lists them."""
        report = self.report()
        if report is None:
            return []
        from talosnb.analyses.gates import sort_findings

        return sort_findings(report.findings)

    def filtered(self) -> list:
        """The findings the filters keep (informational ones are never listed)."""
        text = self.text.value.strip().lower()
        out = []
        for f in self.findings():
            if f.level == "info":
                continue
            if self.gate.value != self.ANY and f.details.get("gate") != self.gate.value:
                continue
            if self.arch.value != self.ANY and f.arch != self.arch.value:
                continue
            if text and text not in f"{f.entry or ''} {','.join(f.symbols)} {f.message}".lower():
                continue
            out.append(f)
        return out

    def apply_filters(self) -> None:
        if self.stale and not self.auto:
            return
        previous = self.finding()
        self._shown = self.filtered()[:500]
        self.findings_list.options = [(f"{f.level:7} {f.details.get('gate', ''):12} {f.arch:5} {f.entry or f.kind}", i)
                                      for i, f in enumerate(self._shown)]
        # the same finding stays selected; when it is gone (fixed), none is (another row in its place
        # would look like the one just acted on)
        self.findings_list.value = self._shown.index(previous) if previous in self._shown else None
        self._show_finding()

    def finding(self) -> Finding | None:
        """The selected finding (a Finding), or None."""
        index = self.findings_list.value
        shown = getattr(self, "_shown", [])
        return shown[index] if index is not None and index < len(shown) else None

    def _show_finding(self) -> None:
        finding = self.finding()
        # the buttons name the selected finding's fix and symbol, or nothing: never an earlier one's
        self.fix_button.disabled = self.open_symbol_button.disabled = True
        self.fix_button.description, self.fix_button.tooltip = "apply fix", "no verified fix for this finding"
        self.open_symbol_button.description = "show symbol"
        if finding is None:
            self.detail.value = ""
            return
        self.detail.value = gate_finding_html(finding)
        assignments = finding.details.get("assignments") or []
        if finding.details.get("verdict") == "fixable" and assignments:
            self.fix_button.disabled = False
            self.fix_button.description = f"set {' '.join(assignments)} on {finding.arch}"
            self.fix_button.tooltip = self.fix_button.description
        if finding.symbols:
            self.open_symbol_button.disabled = False
            self.open_symbol_button.description = f"show {finding.symbols[0]}"

    def show_table(self) -> None:
        if self.stale and not self.auto:
            return
        report = self.report()
        if report is None or not report.rows:
            self.table.show(pd.DataFrame())
            return
        from talosnb.present.gates import hardening_frame_filter, hardening_table

        frame = hardening_table(report)
        arch = None if self.table_arch.value == self.ANY else self.table_arch.value
        frame = hardening_frame_filter(frame, arch=arch, status=self.table_status.value,
                                       text=self.table_text.value.strip() or None)
        if arch:
            frame = frame[[c for c in frame.columns if not c.startswith(tuple(a for a in self.workspace.arches
                                                                             if a != arch))]]
        self.table.show(frame)

    # --- actions -----------------------------------------------------------

    def apply_fix(self) -> Mapping[str, ChangeSet]:
        """Apply the selected finding's verified fix on its arch (through the workspace, undoable)."""
        finding = self.finding()
        if finding is None or not finding.details.get("assignments"):
            return {}
        try:
            changes = self.workspace.set(finding.details["assignments"], arches=[finding.arch])
        except TalosnbError as e:
            self.outcome.value = error_html(e)
            return {}
        self.outcome.value = (TABLE_STYLE + overridden_html(getattr(changes, "overridden", []),
                                                            "Undo in the Explore & toggle tab takes this fix back.")
                              + "".join(change_html(c) for c in changes.values()))
        if self.stale:
            self.refresh()
        return changes

    def open_symbol(self) -> None:
        finding = self.finding()
        if finding is None or not finding.symbols:
            return
        if self.on_open_symbol is not None:
            self.on_open_symbol(finding.symbols[0])

