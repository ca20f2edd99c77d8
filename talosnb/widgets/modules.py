"""The Modules view: module-list findings with fixes, and list edits."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import pandas as pd

from talosnb.analyses.edit import Assignment
from talosnb.app.workspace import EditOutcome, HistoryEntry, Workspace
from talosnb.core import dotconfig, layout
from talosnb.core.errors import TalosnbError
from talosnb.present.html import TABLE_STYLE, change_html, escape, symbol_panel_html

from .base import View, error_html

_MONO_STYLE = "<style>.talosnb-mono select, .talosnb-mono option{font-family:monospace;font-size:12px}</style>"


def fix_assignments(fix: str | None) -> list[Assignment]:
    """The config assignments a finding's fix names (``CONFIG_X=m, # CONFIG_Y is not set``; a
    builtin finding's "set CONFIG_X=m, or drop ..."), or none when it names no assignment."""
    text = (fix or "").strip().removeprefix("set ").split(", or ")[0]
    out = []
    for part in text.split(","):
        parsed = dotconfig.parse_assignment(part.strip()) if part.strip() else None
        if parsed is None:
            return []
        out.append(Assignment(parsed[0], dotconfig.unquote(parsed[1])))
    return out


class ModulesView(View):
    """Module-list check results with filters, add/remove entries, and a jump to the symbol."""

    TAB_TITLE = "Modules"
    ANY = "(any)"

    def __init__(self, workspace: Workspace, *, auto: bool = True,
                 on_open_symbol: Callable[[str], None] | None = None) -> None:
        from talosnb.analyses.findings import LEVELS

        self.on_open_symbol = on_open_symbol
        self.arch = widgets.Dropdown(options=[self.ANY, *workspace.module_lists], value=self.ANY,
                                     description="arch")
        self.level = widgets.SelectMultiple(options=LEVELS, value=("error", "warning"), description="level",
                                            rows=3, tooltip="ctrl-click (cmd-click) or shift-click for several")
        self.level_hint = widgets.HTML("<span style='font-size:11px;color:#666'>ctrl-click or shift-click "
                                       "to pick several</span>", layout=widgets.Layout(margin="0 0 0 90px"))
        self.kind = widgets.Dropdown(options=[self.ANY], value=self.ANY, description="kind")
        self.text = widgets.Text(description="text", placeholder="entry, symbol or message",
                                 continuous_update=True)
        self.counts = widgets.HTML()
        self.findings_list = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="900px"))
        self.findings_list.add_class("talosnb-mono")     # the columns of each line align
        self.detail = widgets.HTML()
        auto_width = widgets.Layout(width="auto")
        self.open_symbol_button = widgets.Button(description="show symbol", icon="search", disabled=True,
                                                 layout=auto_width)
        self.fix_button = widgets.Button(description="apply fix", icon="wrench", disabled=True,
                                         button_style="primary", layout=widgets.Layout(width="auto"))
        self.add_entry_button = widgets.Button(description="add to list", icon="plus", disabled=True,
                                               layout=widgets.Layout(width="auto"))
        self.remove_entry_button = widgets.Button(description="remove from list", icon="minus", disabled=True,
                                                  layout=widgets.Layout(width="auto"))
        self.fix_result = widgets.HTML()
        self.findings_list.add_class("talosnb-findings")
        self.fix_button.add_class("talosnb-modules-fix")
        self.fix_result.add_class("talosnb-modules-fix-result")
        self.entry_text = widgets.Text(description="entry", placeholder="kernel/...ko, module name or SYMBOL",
                                       layout=widgets.Layout(width="420px"))
        self.entry_arch = widgets.Dropdown(options=[*(["both"] if len(workspace.module_lists) > 1 else []),
                                                    *workspace.module_lists], description="on")
        self.add_button = widgets.Button(description="add", icon="plus")
        self.remove_button = widgets.Button(description="remove", icon="minus")
        self.undo_button = widgets.Button(description="undo", icon="undo")
        self.edit_result = widgets.HTML()
        for control in (self.arch, self.level, self.kind, self.text):
            control.observe(lambda _: self.apply_filters(), names="value")
        self.findings_list.observe(lambda _: self._show_finding(), names="value")
        self.open_symbol_button.on_click(lambda _: self.open_symbol())
        self.fix_button.on_click(lambda _: self.apply_fix())
        self.add_entry_button.on_click(lambda _: self.edit_finding("add"))
        self.remove_entry_button.on_click(lambda _: self.edit_finding("remove"))
        self.add_button.on_click(lambda _: self.edit_entries("add"))
        self.remove_button.on_click(lambda _: self.edit_entries("remove"))
        self.undo_button.on_click(lambda _: self.undo())
        children = [widgets.HTML(_MONO_STYLE), self.counts,
                    widgets.HBox([widgets.VBox([self.level, self.level_hint]),
                                  widgets.VBox([self.arch, self.kind, self.text])]),
                    self.findings_list, self.detail,
                    widgets.HBox([self.fix_button, self.open_symbol_button, self.add_entry_button,
                                  self.remove_entry_button], layout=widgets.Layout(flex_flow="row wrap")),
                    self.fix_result,
                    widgets.HTML("<b>Edit the lists</b>"),
                    widgets.HBox([self.entry_text, self.entry_arch, self.add_button, self.remove_button,
                                  self.undo_button]),
                    self.edit_result]
        if not workspace.module_lists:
            children = [widgets.HTML("<i>No module lists loaded: open the workspace with a talos "
                                     "checkout (talos=...).</i>")]
        super().__init__(workspace, children, auto=auto)
        if auto:
            self.refresh()

    def refresh(self) -> None:
        super().refresh()
        if not self.workspace.module_lists:
            return
        frame = self.workspace.findings()
        kinds = [self.ANY, *sorted(frame["kind"].unique())] if len(frame) else [self.ANY]
        keep = self.kind.value if self.kind.value in kinds else self.ANY
        self.kind.options = kinds
        self.kind.value = keep
        parts = []
        for arch, counts in self.workspace.check_counts().items():
            parts.append(f"<b>{escape(arch)}</b>: " + ", ".join(f"{n} {lv}" for lv, n in counts.items()))
        self.counts.value = "; ".join(parts)
        self.apply_filters()

    def filtered(self) -> pd.DataFrame:
        frame = self.workspace.findings()
        if not len(frame):
            return frame
        keep = frame["level"].isin(self.level.value)
        if self.arch.value != self.ANY:
            keep &= frame["arch"] == self.arch.value
        if self.kind.value != self.ANY:
            keep &= frame["kind"] == self.kind.value
        text = self.text.value.strip().lower()
        if text:
            blob = (frame["entry"].fillna("") + " " + frame["symbols"].fillna("") + " "
                    + frame["message"].fillna("")).str.lower()
            keep &= blob.str.contains(text, regex=False)
        shown = frame[keep]
        # a shipped module whose dependency ships nowhere fails at boot: those come first
        return shown.iloc[(shown["kind"] != "missing-dependency").argsort(kind="stable")]

    def apply_filters(self) -> None:
        if not self.workspace.module_lists or (self.stale and not self.auto):
            return
        shown = self.filtered().head(500)
        previous = self.findings_list.value
        kinds = max((len(k) for k in shown["kind"]), default=4) if len(shown) else 4
        # (pandas-stubs types itertuples() fields as any scalar, bytes included: these are str columns)
        options = [(f"{r.level:7} {r.arch:5} {r.kind:{kinds}} {r.entry or ''}"  # type: ignore[str-bytes-safe]
                    + (f"  [{r.list}]" if isinstance(r.list, str) and r.list != "talos" else ""), i)
                   for i, r in zip(shown.index, shown.itertuples(), strict=True)]
        self.findings_list.options = options
        if previous in shown.index:
            self.findings_list.value = previous
        self._show_finding()

    def finding(self) -> pd.Series | None:
        index = self.findings_list.value
        frame = self.workspace.findings()
        if index is None or index not in frame.index:
            return None
        return frame.loc[index]

    def _show_finding(self) -> None:
        row = self.finding()
        self.open_symbol_button.disabled = self.add_entry_button.disabled = True
        self.remove_entry_button.disabled = self.fix_button.disabled = True
        self.fix_button.description, self.fix_button.tooltip = "apply fix", "this finding offers no assignment"
        if row is None:
            self.detail.value = ""
            return
        fix = fix_assignments(row["fix"])
        if fix:
            label = f"set {' '.join(str(a) for a in fix)} on {row['arch']}"
            self.fix_button.disabled = False
            self.fix_button.description, self.fix_button.tooltip = label, f"{label} (the finding's fix)"
        symbols = [s for s in (row["symbols"] or "").split(",") if s]
        text = (f"<div><b>{escape(row['level'])}</b> on {escape(row['arch'])}: {escape(row['message'])}</div>"
                + (f"<div>fix: <code>{escape(row['fix'])}</code></div>" if row["fix"] else "")
                + (f"<div>where: <code>{escape(row['where'])}</code></div>" if row["where"] else "")
                + (f"<div>values: <code>{escape(row['values'])}</code></div>" if row["values"] else ""))
        self.detail.value = text
        if symbols:
            self.open_symbol_button.disabled = False
            self.open_symbol_button.description = f"show {symbols[0]}"
        entry = row["entry"]
        module_list = self.workspace.module_lists.get(row["arch"])
        if entry and module_list is not None:
            listed = entry in module_list.entries
            self.remove_entry_button.disabled = not listed
            self.add_entry_button.disabled = listed
            self.add_entry_button.description = f"add to {layout.module_list_name(row['arch'])}"
            self.remove_entry_button.description = f"remove from {layout.module_list_name(row['arch'])}"
            self.add_entry_button.tooltip = f"add {entry} to {layout.module_list_file(row['arch'])}"
            self.remove_entry_button.tooltip = f"remove {entry} from {layout.module_list_file(row['arch'])}"

    # --- actions -----------------------------------------------------------

    def open_symbol(self, name: str | None = None) -> None:
        """Show the finding's symbol: in the Explore tab (workbench) or here."""
        if name is None:
            row = self.finding()
            if row is None or not row["symbols"]:
                return
            name = row["symbols"].split(",")[0]
        if self.on_open_symbol is not None:
            self.on_open_symbol(name)
        else:
            try:
                self.detail.value += symbol_panel_html(self.workspace.symbol_panel(name))
            except TalosnbError as e:
                self.detail.value += error_html(e)

    def apply_fix(self) -> EditOutcome | None:
        """Apply the selected finding's fix (its CONFIG_ assignments) on its arch, through Workspace.set."""
        row = self.finding()
        fix = fix_assignments(row["fix"]) if row is not None else []
        if not fix:
            return None
        assert row is not None   # no row, no fix
        try:
            outcome = self.workspace.set(fix, arches=[row["arch"]])
        except TalosnbError as e:
            self.fix_result.value = error_html(e)
            return None
        what = " ".join(str(a) for a in fix)
        if outcome.blocked:
            self.fix_result.value = (TABLE_STYLE + f"<div class='talosnb-err'>Not changed: {escape(outcome.blocked)}"
                                     "</div>" + "".join(change_html(c) for c in outcome.values()))
        else:
            self.fix_result.value = (TABLE_STYLE + f"<div class='talosnb-ok'>set {escape(what)} on "
                                     f"{escape(row['arch'])}</div>" + "".join(change_html(c) for c in outcome.values()))
        if self.stale:
            self.refresh()
        return outcome

    def edit_finding(self, action: str) -> dict:
        row = self.finding()
        if row is None or not row["entry"]:
            return {}
        return self._edit(action, [row["entry"]], [row["arch"]])

    def edit_entries(self, action: str) -> dict:
        items = self.entry_text.value.split()
        arches = None if self.entry_arch.value == "both" else [self.entry_arch.value]
        return self._edit(action, items, arches)

    def _edit(self, action: str, items: list[str], arches: list[str] | None) -> dict:
        try:
            edits = self.workspace.edit_modules(action, items, arches)
        except TalosnbError as e:
            self.edit_result.value = error_html(e)
            return {}
        parts = []
        for arch, one in edits.items():
            verb = "added" if action == "add" else "removed"
            line = f"<b>{escape(layout.module_list_name(arch))}</b>: {verb} {escape(', '.join(one.changed) or 'nothing')}"
            if one.unchanged:
                line += f"; already listed: {escape(', '.join(one.unchanged))}"
            for item, error in one.skipped.items():
                line += f"<br><i>{escape(item)}: {escape(error.message)}</i>"
            for finding in one.warnings:
                line += f"<br>warning: {escape(finding.message)}"
            line += f"<br>{len(one.errors)} error(s) in the list after the edit"
            diff = one.module_list.diff()
            if diff:
                line += f"<pre>{escape(diff)}</pre>"
            parts.append(f"<div>{line}</div>")
        self.edit_result.value = "".join(parts)
        if self.stale:
            self.refresh()
        return edits

    def undo(self) -> HistoryEntry | None:
        entry = self.workspace.undo()
        self.edit_result.value = escape(f"undid {entry.what} on {', '.join(entry.arches)}" if entry
                                    else "nothing to undo")
        if self.stale:
            self.refresh()
        return entry
