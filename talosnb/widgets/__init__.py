"""Notebook widgets over one shared Workspace: compare, explore & toggle, the menu tree, module
lists, build gates, workloads, hardware, save, upgrade.

The views (:class:`CompareView`, :class:`ExploreView`, :class:`ModulesView`,
:class:`GatesView`, :class:`HardwareView`, :class:`MenuTreeView`, :class:`SaveView`, :class:`UpgradeView`) are ipywidgets boxes
whose callbacks only call
:class:`~talosnb.app.workspace.Workspace` methods and render the result;
:func:`workbench` puts all of them in tabs over one Workspace, so an edit in one
tab shows up in the others. A notebook cell is one line:
``workbench(pkgs=..., talos=..., kernel_src=...)``.
"""

from talosnb.app.workspace import Workspace

from .base import NotebookSteps, Pager, in_notebook, open_workspace
from .compare import CompareView
from .explore import ExploreView
from .gates import GatesView
from .hardware import HardwareView
from .menu_tree import MenuTreeView, menu_tree
from .modules import ModulesView
from .save import SaveView
from .upgrade import UpgradeTab, UpgradeView, open_upgrade
from .workbench import Workbench, workbench
from .workloads import WorkloadsView

__all__ = ["CompareView", "ExploreView", "GatesView", "HardwareView", "MenuTreeView", "ModulesView", "NotebookSteps", "Pager",
           "SaveView", "UpgradeTab", "UpgradeView", "Workbench", "WorkloadsView", "Workspace", "in_notebook", "menu_tree",
           "open_upgrade", "open_workspace", "workbench"]
