"""The workbench: every view as a tab over one shared Workspace."""

from __future__ import annotations

import ipywidgets as widgets

from talosnb.app.session import Session
from talosnb.app.workspace import Workspace

from .base import _View, open_workspace
from .compare import CompareView
from .explore import ExploreView
from .modules import ModulesView
from .save import SaveView
from .upgrade import UpgradeTab


class Workbench(widgets.Tab):
    """The views as tabs over one Workspace; the selected tab refreshes on every change,
    the others when they are selected."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.compare = CompareView(workspace, auto=False)
        self.explore = ExploreView(workspace, auto=False)
        self.modules = ModulesView(workspace, auto=False, on_open_symbol=self.open_symbol)
        self.save = SaveView(workspace, auto=False)
        self.upgrade = UpgradeTab(workspace, auto=False)
        views = [self.compare, self.explore, self.modules, self.save, self.upgrade]
        super().__init__(children=views, titles=[v.TAB_TITLE for v in views])
        self.observe(lambda _: self._refresh_selected(), names="selected_index")
        workspace.on_change(lambda _: self._refresh_selected())
        self.selected_index = 0
        self._refresh_selected()

    def __repr__(self) -> str:
        return f"Workbench({self.workspace.describe().splitlines()[0]})"

    @property
    def views(self) -> list[_View]:
        return list(self.children)

    def _refresh_selected(self) -> None:
        if self.selected_index is None:
            return
        view = self.children[self.selected_index]
        if view.stale:
            view.refresh()

    def show(self, view: _View) -> None:
        self.selected_index = self.views.index(view)

    def open_symbol(self, name: str) -> None:
        """Jump to the Explore tab with `name` in the symbol panel."""
        self.show(self.explore)
        self.explore.select(name)


def workbench(session: Session | Workspace | None = None, **inputs) -> Workbench:
    """Compare, Explore & toggle, Modules, Save and Upgrade as tabs over one shared session.

    Without a session, ``inputs`` go to :func:`open_workspace` (pkgs, talos,
    kernel_src, arch, progress, scratch...; none given: the embedded sample).
    """
    if session is None:
        workspace = open_workspace(**inputs)
    else:
        if inputs:
            raise TypeError("pass either a session or inputs, not both")
        workspace = Workspace.of(session)
    return Workbench(workspace)
