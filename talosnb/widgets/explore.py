"""The Explore & toggle view: search, the symbol panel, value buttons, cascades, refusals and verified fixes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from talosnb.analyses import edit
from talosnb.app.workspace import EditOutcome, HistoryEntry, Workspace
from talosnb.core import layout
from talosnb.core.errors import TalosnbError
from talosnb.present.edit import change_summary, change_text, fix_button_label
from talosnb.present.gates import gate_change_text
from talosnb.present.html import (
    TABLE_STYLE,
    change_html,
    escape,
    history_html,
    overridden_html,
    symbol_panel_html,
)
from talosnb.present.text import values_text

from .base import View, error_html, replace_children

if TYPE_CHECKING:
    from talosnb.analyses.symbol import ArchPanel, SymbolPanel

#: what each value button colour means (one meaning per colour, shown under the buttons)
BUTTON_LEGEND = ("<span style='font-size:12px;color:#444'>buttons: "
                 "<span style='background:#4caf50;color:white;padding:0 4px'>green</span> the current value, "
                 "<span style='background:#eee;padding:0 4px'>grey</span> can be set now, "
                 "<span style='background:#ff9800;color:white;padding:0 4px'>orange</span> can't be set now "
                 "(click to see why, and a verified fix)</span>")


def button_state(infos: list[ArchPanel], value: str) -> str:
    """"current" when every targeted arch has the value, "assignable" when each arch has it or can
    be given it, "blocked" otherwise (the value buttons' colours say which)."""
    if all(i.value == value for i in infos):
        return "current"
    if all(i.value == value or value in i.assignable for i in infos):
        return "assignable"
    return "blocked"


_STYLES = {"current": ("success", "{symbol}={value} on {target}: the current value"),
           "assignable": ("", "set {symbol}={value} on {target}"),
           "blocked": ("warning", ("{symbol}={value} can't be set on {target} now: click to see why, "
                                   "and a verified fix"))}


class ExploreView(View):
    """Search, the symbol panel, value buttons per arch and for both, cascade / refusal / fix, undo."""

    TAB_TITLE = "Explore & toggle"

    def __init__(self, workspace: Workspace, *, auto: bool = True, symbol: str | None = None,
                 on_open_tree: Callable[[str, list[str]], None] | None = None) -> None:
        self.symbol: str | None = None
        self.on_open_tree = on_open_tree
        self.last_changes: EditOutcome | dict[str, edit.ChangeSet] = {}
        self.value_buttons: dict[tuple[str, str], widgets.Button] = {}
        self.fix_buttons: dict[str, widgets.Button] = {}
        self.override_button: widgets.Button | None = None
        self.add_modules_button: widgets.Button | None = None
        self.search_box = widgets.Text(description="search", placeholder="symbol, prompt, help text or module",
                                       continuous_update=True, layout=widgets.Layout(width="420px"))
        self.results = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="760px"))
        self.results.add_class("talosnb-mono")
        # class names: stable hooks for styles and for driving the view in a browser
        self.search_box.add_class("talosnb-search")
        self.results.add_class("talosnb-results")
        self.panel = widgets.HTML()
        self.path_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.value_text = widgets.Text(description="value", layout=widgets.Layout(width="320px"))
        self.controls = widgets.VBox()
        self.outcome = widgets.VBox()
        self.outcome.add_class("talosnb-outcome")
        self.panel.add_class("talosnb-panel-html")
        # the line's history (pkgs git log): asked for with a button, as building the index takes a while
        self.history_button = widgets.Button(description="history of this line", icon="history",
                                             tooltip="the commits of the pkgs checkout that changed this "
                                                     "symbol's config line, newest first",
                                             layout=widgets.Layout(width="auto"))
        self.history_button.on_click(lambda _: self.show_history())
        self.history = widgets.HTML()
        self.history.add_class("talosnb-history")
        self.undo_button = widgets.Button(description="undo", icon="undo",
                                          tooltip="undo the last change (config or module list)")
        self.undo_button.add_class("talosnb-undo")
        self.status = widgets.HTML()
        self.status.add_class("talosnb-status")
        self.search_box.observe(lambda change: self.run_search(change["new"]), names="value")
        self.results.observe(self._picked, names="value")
        self.undo_button.on_click(lambda _: self.undo())
        history = [self.history_button, self.history] if workspace.has_history() else []
        super().__init__(workspace, [widgets.HTML(_MONO_STYLE), self.search_box, self.results, self.panel,
                                     self.path_box, *history, self.controls, widgets.HTML(BUTTON_LEGEND),
                                     widgets.HBox([self.undo_button, self.status]), self.outcome], auto=auto)
        self._make_controls()
        if symbol:
            self.select(symbol)

    # --- search and selection -----------------------------------------------

    def run_search(self, text: str) -> None:
        df = self.workspace.search(text) if text.strip() else pd.DataFrame()
        self._found = [(row.symbol, (row.prompt if isinstance(row.prompt, str) else "") + _where_matched(row))
                       for row in df.itertuples()]
        self._show_results()

    def _values(self, name: str) -> dict[str, str | None]:
        out = {}
        for arch, config in self.workspace.configs.items():
            out[arch] = config.kconf.syms[name].str_value if config.has_symbol(name) else None
        return out

    def _show_results(self) -> None:
        """The results with each arch's value now (after an edit too: the search isn't run again)."""
        found = getattr(self, "_found", [])
        names = max((len(name) for name, _ in found), default=0)
        texts = [values_text(self._values(name)) for name, _ in found]
        width = max((len(t) for t in texts), default=0)
        options = []
        for (name, prompt), values in zip(found, texts, strict=True):
            # the results are shown in monospace: padded, the values and prompts line up
            options.append((f"{name:<{names}}  [{values}]{' ' * (width - len(values))}  {prompt}", name))
        keep = self.results.value
        with self.results.hold_trait_notifications():
            self.results.options = options
            if keep in [v for _, v in options]:
                self.results.value = keep

    def _picked(self, change: dict[str, Any]) -> None:
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
            panel = self.workspace.symbol_panel(name)
        except TalosnbError as e:
            self.panel.value = error_html(e)
            self._show_controls(None, [])
            self.path_box.children = ()
            return
        if name != self.symbol and not keep_outcome:
            self._clear_outcome()
        if panel.symbol != self.symbol:
            self.history.value = ""
        self.symbol = panel.symbol
        self.panel.value = symbol_panel_html(panel)
        self._build_path(panel)
        self._build_controls(panel)

    def show_history(self) -> None:
        """The shown symbol's history under the panel: per arch, newest first, kernel bumps and
        reorder-only commits marked."""
        if self.symbol is None:
            return
        try:
            df = self.workspace.line_history(self.symbol)
        except TalosnbError as e:
            self.history.value = error_html(e)
            return
        self.history.value = (TABLE_STYLE + f"<h4 style='margin:6px 0 2px 0'>History of CONFIG_{escape(self.symbol)}"
                              f" ({len(df)} commit(s))</h4>" + history_html(df))

    def refresh(self) -> None:
        super().refresh()
        self._show_results()   # the values in the results change with edits
        if self.symbol:
            self.show(self.symbol, keep_outcome=True)

    def _build_path(self, panel: SymbolPanel) -> None:
        from .menu_tree import menu_path_buttons

        if self.on_open_tree is None:
            paths = {" > ".join(d.menu_path) for side in panel.defined for d in side.definitions}
            self.path_box.children = (widgets.HTML("<b>menu:</b> " + "; ".join(escape(p) for p in sorted(paths))),)
            return
        name = panel.symbol
        # (checked above: mypy does not carry the narrowing of self.on_open_tree into the lambda)
        self.path_box.children = tuple(menu_path_buttons(panel, lambda path: self.on_open_tree(name, path)))  # type: ignore[misc]

    def _make_controls(self) -> None:
        """Every value button the view can show, made once: a row of y/m/n per arch and for both,
        and a "set on ..." button per target beside the value field. A symbol shows the ones its
        type and arches take; the others are hidden, never closed, so a click made while the page
        still shows the previous symbol's buttons reaches a live widget (and acts on the symbol
        shown by then) instead of a closed one."""
        arches = list(self.workspace.arches)
        targets = arches + (["both"] if len(arches) > 1 else [])
        self._rows: dict[str, widgets.HBox] = {}
        self._buttons: dict[tuple[str, str], widgets.Button] = {}
        rows = []
        for target in targets:
            buttons = []
            for value in ("y", "m", "n"):
                button = widgets.Button(description=value, layout=widgets.Layout(width="48px"))
                button.add_class(f"talosnb-value-{target}-{value}")
                button.on_click(lambda _, t=target, v=value: self.set_value(t, v))
                self._buttons[(target, value)] = button
                buttons.append(button)
            row = widgets.HBox([widgets.Label(target, layout=widgets.Layout(width="60px")), *buttons])
            self._rows[target] = row
            rows.append(row)
        setters = []
        for target in targets:
            button = widgets.Button(description=f"set on {target}", layout=widgets.Layout(width="auto"))
            button.add_class(f"talosnb-value-{target}-set")
            button.on_click(lambda _, t=target: self.set_value(t, self.value_text.value))
            self._buttons[(target, "set")] = button
            setters.append(button)
        self._rows["set"] = widgets.HBox([self.value_text, *setters])
        rows.append(self._rows["set"])
        self.controls.children = tuple(rows)
        self._show_controls(None, [])

    def _show_controls(self, kind: str | None, targets: list[str]) -> None:
        """Show the buttons a symbol of type `kind` defined on `targets` takes (None: none)."""
        values = {"bool": ("y", "n"), "tristate": ("y", "m", "n")}.get(kind or "", ("set",)) if kind else ()
        self.value_buttons = {key: b for key, b in self._buttons.items() if key[0] in targets and key[1] in values}
        for key, button in self._buttons.items():
            button.layout.display = None if key in self.value_buttons else "none"
        for target, row in self._rows.items():
            used = (target == "set" and "set" in values) or (target in targets and "set" not in values)
            row.layout.display = None if used and values else "none"

    def _build_controls(self, panel: SymbolPanel) -> None:
        arches = [a for a, side in panel.arches.items() if side is not None]
        targets = arches + (["both"] if len(arches) > 1 else [])
        # the same buttons serve every symbol (they act on self.symbol)
        self._show_controls(panel.type, targets)
        if panel.type not in ("bool", "tristate"):
            self.value_text.value = panel.defined[0].value or ""
        for (target, value), button in self.value_buttons.items():
            if value == "set":
                button.tooltip = f"set CONFIG_{panel.symbol} to the value typed here on {target}"
                continue
            infos = [side for a, side in panel.arches.items() if side is not None and a in
                     (arches if target == "both" else [target])]
            style, tooltip = _STYLES[button_state(infos, value)]
            button.button_style = style
            button.tooltip = tooltip.format(symbol=panel.symbol, value=value, target=target)

    # --- actions -----------------------------------------------------------

    def _clear_outcome(self) -> None:
        replace_children(self.outcome, [])
        self.fix_buttons = {}
        self.override_button = None
        self.add_modules_button = None
        self.last_changes = {}

    def _error(self, error: TalosnbError) -> None:
        """A new outcome replaces the previous one: an error too."""
        self._clear_outcome()
        self.status.value = ""
        replace_children(self.outcome, [widgets.HTML(TABLE_STYLE + error_html(error))])

    def set_value(self, target: str, value: str, *, ignore_module_list: bool = False) -> EditOutcome | dict:
        """Set the shown symbol on one arch ("amd64") or on every arch defining it ("both")."""
        arches = None if target == "both" else [target]
        assert self.symbol is not None   # the controls that call this exist once a symbol is shown
        try:
            changes = self.workspace.set([edit.Assignment(self.symbol, value)], arches=arches,
                                         ignore_module_list=ignore_module_list)
        except TalosnbError as e:
            self._error(e)
            return {}
        self._show_changes(changes)
        self.status.value = escape(f"{self.symbol}={value}: " + "; ".join(
            f"{a}: {change_summary(c)}" for a, c in changes.items()))
        if self.stale:
            self.refresh()
        return changes

    def apply_fix(self, arch: str) -> EditOutcome | dict:
        refusal = self.last_changes[arch].refusals[0]
        try:
            changes = self.workspace.apply_fix(arch, refusal)
        except TalosnbError as e:
            self._error(e)
            return {}
        self._show_changes(changes)
        self.status.value = escape(f"applied the verified fix on {arch}: "
                               + " ".join(str(a) for a in changes[arch].requested))
        if self.stale:
            self.refresh()
        return changes

    def undo(self) -> HistoryEntry | None:
        entry = self.workspace.undo()
        self._clear_outcome()
        self.status.value = escape(f"undid {entry.what} on {', '.join(entry.arches)}" if entry
                               else "nothing to undo")
        if self.stale:
            self.refresh()
        return entry

    def _show_changes(self, changes: EditOutcome) -> None:
        self._clear_outcome()
        self.last_changes = changes
        children = []
        blocked = getattr(changes, "blocked", None)
        if blocked and not changes.refused:
            # the module-list guard: the same refusal `talosnb set` makes, and the same way past it
            errors = "".join(f"<li>{escape(f['arch'])}: {escape(f['message'])}"
                             + (f"<br>fix: <code>{escape(f['fix'])}</code>" if f.get("fix") else "") + "</li>"
                             for f in changes.module_list_errors)
            children.append(widgets.HTML(TABLE_STYLE + f"<div class='talosnb-err'>Not changed: {escape(blocked)}"
                                         f"<ul>{errors}</ul></div>"))
            requested = next(iter(changes.values())).requested
            target = "both" if len(changes) > 1 else next(iter(changes))
            button = widgets.Button(description="change it anyway (the module list will have errors)",
                                    button_style="danger", layout=widgets.Layout(width="auto"),
                                    tooltip="apply the change although the module list then has errors "
                                            "(what talosnb set --ignore-module-list does)")
            button.on_click(lambda _: self.set_value(target, requested[0].value, ignore_module_list=True))
            button.add_class("talosnb-override")
            self.override_button = button
            children.append(button)
            replace_children(self.outcome, children)
            return
        gates = getattr(changes, "gates", None)
        if gates is not None and gates.broken:
            # the build gates' guard: the change is kept, but the build would now fail a gate
            items = "".join(f"<li>{escape(gate_change_text(b))}</li>" for b in gates.broken)
            children.append(widgets.HTML(f"<div class='talosnb-err'>Warning: a build gate fails now (see the "
                                         f"Build gates tab)<ul>{items}</ul></div>"))
        overridden = getattr(changes, "overridden", None)
        if overridden:
            children.append(widgets.HTML(TABLE_STYLE + overridden_html(
                overridden, "The undo button above takes this change back; Save lists it until then.")))
        for arch, change in changes.items():
            children.append(widgets.HTML(TABLE_STYLE + change_html(change)))
            refusal = change.refusals[0] if change.refusals else None
            if refusal is not None and refusal.fix is not None and refusal.fix.found:
                label = fix_button_label(arch, refusal)
                button = widgets.Button(description=label, tooltip=label, button_style="primary",
                                        layout=widgets.Layout(width="auto", max_width="900px"))
                button.on_click(lambda _, a=arch: self.apply_fix(a))
                button.add_class("talosnb-fix")
                self.fix_buttons[arch] = button
                children.append(button)
        for note in getattr(changes, "fix_notes", []):
            children.append(widgets.HTML(f"<pre>{escape(note.strip())}</pre>"))
        unlisted = self.workspace.unlisted_new_modules(changes) if isinstance(changes, EditOutcome) else {}
        if unlisted:
            # what `talosnb set --add-to-module-list` does, asked for after seeing the cascade
            kos = sorted({ko for entries in unlisted.values() for ko in entries})
            label = (f"add to the module list: {', '.join(kos)} "
                     f"({layout.module_list_file('{' + ','.join(unlisted) + '}')})" if len(unlisted) > 1 else
                     f"add to the module list: {', '.join(kos)} ({layout.module_list_file(next(iter(unlisted)))})")
            button = widgets.Button(description=label, tooltip=label, icon="plus",
                                    layout=widgets.Layout(width="auto", max_width="900px"))
            button.add_class("talosnb-add-modules")
            button.on_click(lambda _: self.add_new_modules())
            self.add_modules_button = button
            children.append(button)
        replace_children(self.outcome, children)

    def add_new_modules(self) -> dict[str, list[str]]:
        """List the .ko files the last set made (its new =m symbols) in the module lists."""
        if not isinstance(self.last_changes, EditOutcome):
            return {}
        try:
            added = self.workspace.add_new_modules(self.last_changes)
        except TalosnbError as e:
            self._error(e)
            return {}
        self.status.value = escape("; ".join(f"added {', '.join(kos)} to {layout.module_list_file(arch)}"
                                         for arch, kos in added.items()) or "nothing to add")
        if self.add_modules_button is not None:
            self.add_modules_button.disabled = True
            self.add_modules_button.description = "added to the module list (undo takes it back)"
        if self.stale:
            self.refresh()
        return added

    @property
    def cascade_text(self) -> str:
        """The outcome area as text (for tests and logs)."""
        return "\n".join(change_text(c) for c in self.last_changes.values())


def _where_matched(row: Any) -> str:
    """Where a hit's words were found, after its prompt: "  · help: ...the words in context..."."""
    if row.match in ("name", "name-prefix", "name-words", "similar-name"):
        return ""
    where = f"  \u00b7 {row.where}"
    return where + (f": {row.snippet}" if isinstance(row.snippet, str) and row.snippet else "")


# monospace where columns must line up (the search results: name, values, prompt)
_MONO_STYLE = "<style>.talosnb-mono select, .talosnb-mono option{font-family:monospace;font-size:12px}</style>"
