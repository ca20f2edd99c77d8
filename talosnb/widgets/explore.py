"""The Explore & toggle view: search, the symbol panel, value buttons, cascades, refusals and verified fixes."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from talosnb.analyses import edit
from talosnb.app.workspace import HistoryEntry, Workspace
from talosnb.core.errors import TalosnbError
from talosnb.present.html import (
    _TABLE_STYLE,
    _e,
    change_html,
    symbol_html,
)

from .base import _error_html, _replace_children, _View


class ExploreView(_View):
    """Search, the symbol panel, value buttons per arch and for both, cascade / refusal / fix, undo."""

    TAB_TITLE = "Explore & toggle"

    def __init__(self, workspace: Workspace, *, auto: bool = True, symbol: str | None = None) -> None:
        self.symbol: str | None = None
        self._controls_key: tuple | None = None
        self.last_changes: dict[str, edit.ChangeSet] = {}
        self.value_buttons: dict[tuple[str, str], widgets.Button] = {}
        self.fix_buttons: dict[str, widgets.Button] = {}
        self.search_box = widgets.Text(description="search", placeholder="symbol, prompt, help text or module",
                                       continuous_update=True, layout=widgets.Layout(width="420px"))
        self.results = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="640px"))
        self.panel = widgets.HTML()
        self.value_text = widgets.Text(description="value", layout=widgets.Layout(width="320px"))
        self.controls = widgets.VBox()
        self.outcome = widgets.VBox()
        self.undo_button = widgets.Button(description="undo", icon="undo",
                                          tooltip="undo the last change (config or module list)")
        self.status = widgets.HTML()
        self.search_box.observe(lambda change: self.run_search(change["new"]), names="value")
        self.results.observe(self._picked, names="value")
        self.undo_button.on_click(lambda _: self.undo())
        super().__init__(workspace, [self.search_box, self.results, self.panel, self.controls,
                                     widgets.HBox([self.undo_button, self.status]), self.outcome], auto=auto)
        if symbol:
            self.select(symbol)

    # --- search and selection -----------------------------------------------

    def run_search(self, text: str) -> None:
        df = self.workspace.search(text) if text.strip() else pd.DataFrame()
        options = []
        for row in df.itertuples():
            values = ", ".join(f"{a}={v or '-'}" for a, v in sorted(row.values.items()))
            prompt = row.prompt if isinstance(row.prompt, str) else ""
            options.append((f"{row.symbol}  [{values}]  {prompt}", row.symbol))
        self.results.options = options

    def _picked(self, change) -> None:
        if change["new"]:
            self.show(change["new"])

    def select(self, name: str) -> None:
        """Search for a symbol by name and show it (what a jump from another tab does)."""
        name = name.strip().removeprefix("CONFIG_")
        self.search_box.value = name
        if self.results.value != name and name in [v for _, v in self.results.options]:
            self.results.value = name
        if self.symbol != name:
            self.show(name)

    def show(self, name: str, *, keep_outcome: bool = False) -> None:
        try:
            view = self.workspace.symbol_view(name)
        except TalosnbError as e:
            self.panel.value = _error_html(e)
            _replace_children(self.controls, [], keep=(self.value_text,))
            self._controls_key = None
            return
        if name != self.symbol and not keep_outcome:
            _replace_children(self.outcome, [])
            self.fix_buttons = {}
        self.symbol = view["symbol"]
        self.panel.value = symbol_html(view)
        self._build_controls(view)

    def refresh(self) -> None:
        super().refresh()
        if self.symbol:
            self.show(self.symbol, keep_outcome=True)

    def _build_controls(self, view: dict) -> None:
        arches = [a for a, info in view["arches"].items() if info is not None]
        targets = arches + (["both"] if len(arches) > 1 else [])
        key = (view["symbol"], view["type"], tuple(targets))
        if key != self._controls_key:
            self._controls_key = key
            self.value_buttons = {}
            rows = []
            if view["type"] in ("bool", "tristate"):
                values = ["y", "m", "n"] if view["type"] == "tristate" else ["y", "n"]
                for target in targets:
                    buttons = []
                    for value in values:
                        button = widgets.Button(description=value, layout=widgets.Layout(width="48px"))
                        button.on_click(lambda _, t=target, v=value: self.set_value(t, v))
                        self.value_buttons[(target, value)] = button
                        buttons.append(button)
                    rows.append(widgets.HBox([widgets.Label(target, layout=widgets.Layout(width="60px")),
                                              *buttons]))
            else:
                self.value_text.value = view["arches"][arches[0]]["value"] or ""
                buttons = []
                for target in targets:
                    button = widgets.Button(description=f"set on {target}")
                    button.on_click(lambda _, t=target: self.set_value(t, self.value_text.value))
                    self.value_buttons[(target, "set")] = button
                    buttons.append(button)
                rows.append(widgets.HBox([self.value_text, *buttons]))
            _replace_children(self.controls, rows, keep=(self.value_text,))
        for (target, value), button in self.value_buttons.items():
            if value == "set":
                continue
            infos = [view["arches"][a] for a in (arches if target == "both" else [target])]
            if all(i["value"] == value for i in infos):
                button.button_style, button.tooltip = "success", "the current value"
            elif not all(value in i["assignable"] for i in infos):
                button.button_style = "warning"
                button.tooltip = "not assignable now: click to see why, and a verified fix"
            else:
                button.button_style, button.tooltip = "", f"set {view['symbol']}={value} on {target}"

    # --- actions -----------------------------------------------------------

    def set_value(self, target: str, value: str, *, ignore_module_list: bool = False) -> dict[str, edit.ChangeSet]:
        """Set the shown symbol on one arch ("amd64") or on every arch defining it ("both")."""
        arches = None if target == "both" else [target]
        try:
            changes = self.workspace.set([edit.Assignment(self.symbol, value)], arches=arches,
                                         ignore_module_list=ignore_module_list)
        except TalosnbError as e:
            self.status.value = _error_html(e)
            return {}
        self._show_changes(changes)
        self.status.value = _e("; ".join(
            f"{a}: " + c.text().splitlines()[0].split(": ", 1)[1] for a, c in changes.items()))
        if self.stale:
            self.refresh()
        return changes

    def apply_fix(self, arch: str) -> dict[str, edit.ChangeSet]:
        refusal = self.last_changes[arch].refusals[0]
        try:
            changes = self.workspace.apply_fix(arch, refusal)
        except TalosnbError as e:
            self.status.value = _error_html(e)
            return {}
        self._show_changes(changes)
        self.status.value = _e(f"applied the verified fix on {arch}: "
                               + " ".join(str(a) for a in changes[arch].requested))
        if self.stale:
            self.refresh()
        return changes

    def undo(self) -> HistoryEntry | None:
        entry = self.workspace.undo()
        _replace_children(self.outcome, [])
        self.fix_buttons = {}
        self.last_changes = {}
        self.status.value = _e(f"undid {entry.what} on {', '.join(entry.arches)}" if entry
                               else "nothing to undo")
        if self.stale:
            self.refresh()
        return entry

    def _show_changes(self, changes: dict[str, edit.ChangeSet]) -> None:
        self.last_changes = changes
        self.fix_buttons = {}
        self.override_button = None
        children = []
        blocked = getattr(changes, "blocked", None)
        if blocked and not changes.refused:
            # the module-list guard: the same refusal `talosnb set` makes, and the same way past it
            errors = "".join(f"<li>{_e(f['arch'])}: {_e(f['message'])}</li>" for f in changes.module_list_errors)
            children.append(widgets.HTML(f"<div class='talosnb-err'>Not changed: {_e(blocked)}<ul>{errors}</ul></div>"))
            requested = next(iter(changes.values())).requested
            target = "both" if len(changes) > 1 else next(iter(changes))
            button = widgets.Button(description="change it anyway (the module list will have errors)",
                                    button_style="danger", layout=widgets.Layout(width="auto"))
            button.on_click(lambda _: self.set_value(target, requested[0].value, ignore_module_list=True))
            self.override_button = button
            children.append(button)
            _replace_children(self.outcome, children)
            return
        gates = getattr(changes, "gates", None)
        if gates is not None and gates.broken:
            # the build gates' guard: the change is kept, but the build would now fail a gate
            items = "".join(f"<li>{_e(b.text())}</li>" for b in gates.broken)
            children.append(widgets.HTML(f"<div class='talosnb-err'>Warning: a build gate fails now (see the "
                                         f"Build gates tab)<ul>{items}</ul></div>"))
        for arch, change in changes.items():
            children.append(widgets.HTML(_TABLE_STYLE + change_html(change)))
            refusal = change.refusals[0] if change.refusals else None
            if refusal is not None and refusal.fix is not None and refusal.fix.found:
                fix = " ".join(str(a) for a in [*refusal.fix.assignments, refusal.assignment])
                button = widgets.Button(description=f"apply verified fix on {arch}: {fix}",
                                        button_style="primary", layout=widgets.Layout(width="auto"))
                button.on_click(lambda _, a=arch: self.apply_fix(a))
                self.fix_buttons[arch] = button
                children.append(button)
        _replace_children(self.outcome, children)

    @property
    def cascade_text(self) -> str:
        """The outcome area as text (for tests and logs)."""
        return "\n".join(c.text() for c in self.last_changes.values())
