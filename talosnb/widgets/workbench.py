"""The workbench: every view as a tab over one shared Workspace."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from talosnb.app.session import Session
from talosnb.app.workspace import Workspace
from talosnb.present.html import escape
from talosnb.present.workspace import workspace_text

from .base import StaticRendering, View, static_html, workspace_of
from .compare import CompareView
from .explore import ExploreView
from .gates import GatesView
from .hardware import HardwareView
from .menu_tree import MenuTreeView
from .modules import ModulesView
from .save import SaveView
from .upgrade import UpgradeTab
from .workloads import WorkloadsView


class Workbench(StaticRendering, widgets.Tab):
    """The nine views as tabs over one Workspace; the selected tab refreshes on every change,
    the others when they are selected."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.compare = CompareView(workspace, auto=False)
        self.explore = ExploreView(workspace, auto=False, on_open_tree=self.open_in_tree)
        self.menu_tree = MenuTreeView(workspace, auto=False, on_open_symbol=self.open_symbol)
        self.modules = ModulesView(workspace, auto=False, on_open_symbol=self.open_symbol)
        self.gates = GatesView(workspace, auto=False, on_open_symbol=self.open_symbol)
        self.workloads = WorkloadsView(workspace, auto=False, on_open_symbol=self.open_symbol)
        self.hardware = HardwareView(workspace, auto=False)
        self.save = SaveView(workspace, auto=False)
        self.upgrade = UpgradeTab(workspace, auto=False)
        views = [self.compare, self.explore, self.menu_tree, self.modules, self.gates, self.workloads, self.hardware,
                 self.save, self.upgrade]
        super().__init__(children=views, titles=[v.TAB_TITLE for v in views])
        self.observe(lambda _: self._refresh_selected(), names="selected_index")
        workspace.on_change(lambda _: self._refresh_selected())
        self.selected_index = 0
        self._refresh_selected()
        # the first edit would otherwise pay for what every edit reuses (each arch's written values,
        # the lines a write normalizes): do it while loading, so the first click answers like the next
        for editor in workspace.editors.values():
            editor.written()
        workspace.drift()

    def __repr__(self) -> str:
        return f"Workbench({workspace_text(self.workspace).splitlines()[0]})"

    def static_html(self) -> str:
        # every tab, as it would look when selected (stale ones are brought up to date first)
        parts = []
        for i, view in enumerate(self.views):
            if view.stale:
                view.refresh()
            shown = " (the tab shown)" if i == self.selected_index else ""
            parts.append(f"<h4 class='talosnb-tab'>{escape(view.TAB_TITLE)}{shown}</h4>{static_html(view)}")
        return "".join(parts)

    @property
    def views(self) -> list[View]:
        return list(self.children)

    def _refresh_selected(self) -> None:
        if self.selected_index is None:
            return
        view = self.children[self.selected_index]
        if view.stale:
            view.refresh()

    def show(self, view: View) -> None:
        self.selected_index = self.views.index(view)

    def open_in_tree(self, name: str, menu_path: list[str] | None = None) -> None:
        """Jump to the Menu tree tab, opened down to `name` (at `menu_path` when it has several places)."""
        self.show(self.menu_tree)
        self.menu_tree.reveal(name, menu_path)

    def open_symbol(self, name: str) -> None:
        """Jump to the Explore tab with `name` in the symbol panel."""
        self.show(self.explore)
        self.explore.select(name)


def workbench(session: Session | Workspace | None = None, **inputs: Any) -> Workbench:
    """Compare, Explore & toggle, Menu tree, Modules, Build gates, Workloads, Hardware, Save and Upgrade as
    tabs over one shared session.

    Without a session, ``inputs`` go to :func:`open_workspace` (pkgs, talos,
    kernel_src, arch, progress, scratch...; none given: the embedded sample).
    """
    return Workbench(workspace_of(session, inputs))
