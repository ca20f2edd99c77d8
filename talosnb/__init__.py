"""talosnb: inspect, toggle and write back Talos Linux kernel configs and module lists.

The public Python API is the names below (``from talosnb import Workspace``), each documented in
docs/api.md; every other module is internal and may change. A name is imported on first use, so
``import talosnb`` alone (as the command line does) loads none of pandas, matplotlib or ipywidgets.

- opening the inputs: :class:`Workspace` (one user's work: edits, module lists, gates, saving),
  :class:`Session` (the loaded configs alone), :class:`Hardware` (device lookups);
- a change: :class:`Request`, :class:`Options`, :class:`Plan`, :class:`Verdict` (``propose`` and
  ``commit``), :class:`EditOutcome`, :class:`ChangeSet`, :class:`SaveResult`;
- results and reports: :class:`GateReport`, :class:`ChangeReport`, :func:`change_report_for`,
  :func:`change_text`, :func:`new_modules_text`, :func:`change_markdown`, :func:`write_report`, :func:`write_change_report`;
  :func:`pending_text` (what a save would write), :func:`save_text` (what it wrote);
- errors: :class:`TalosnbError` and its kinds, :class:`ExitStatus`, :class:`TalosnbWarning`;
- places: :func:`data_dir`, :func:`sample_dir`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from talosnb.analyses.change import ChangeReport as ChangeReport
    from talosnb.analyses.edit import ChangeSet as ChangeSet
    from talosnb.analyses.gates import GateReport as GateReport
    from talosnb.app.change import change_report_for as change_report_for
    from talosnb.app.hardware import Hardware as Hardware
    from talosnb.app.plan import Options as Options
    from talosnb.app.plan import Plan as Plan
    from talosnb.app.plan import Request as Request
    from talosnb.app.plan import Verdict as Verdict
    from talosnb.app.session import Session as Session
    from talosnb.app.workspace import EditOutcome as EditOutcome
    from talosnb.app.workspace import SaveResult as SaveResult
    from talosnb.app.workspace import Workspace as Workspace
    from talosnb.core.errors import ExitStatus as ExitStatus
    from talosnb.core.errors import FileChangedError as FileChangedError
    from talosnb.core.errors import InputError as InputError
    from talosnb.core.errors import RefusedError as RefusedError
    from talosnb.core.errors import TalosnbError as TalosnbError
    from talosnb.core.errors import TalosnbWarning as TalosnbWarning
    from talosnb.core.errors import VersionMismatchError as VersionMismatchError
    from talosnb.core.paths import data_dir as data_dir
    from talosnb.core.paths import sample_dir as sample_dir
    from talosnb.present.change import change_text as change_text
    from talosnb.present.change import new_modules_text as new_modules_text
    from talosnb.present.markdown import change_markdown as change_markdown
    from talosnb.present.report import write_change_report as write_change_report
    from talosnb.present.report import write_report as write_report
    from talosnb.present.workspace import pending_text as pending_text
    from talosnb.present.workspace import save_text as save_text

# the module each public name lives in (the imports above say the same to a type checker, and
# __all__ lists them once more for `import *`: tests/project/test_architecture.py checks that all three agree)
_HOMES = {
    "talosnb.app.workspace": ("Workspace", "EditOutcome", "SaveResult"),
    "talosnb.app.session": ("Session",),
    "talosnb.app.hardware": ("Hardware",),
    "talosnb.app.plan": ("Request", "Options", "Plan", "Verdict"),
    "talosnb.app.change": ("change_report_for",),
    "talosnb.analyses.edit": ("ChangeSet",),
    "talosnb.analyses.gates": ("GateReport",),
    "talosnb.analyses.change": ("ChangeReport",),
    "talosnb.present.change": ("change_text", "new_modules_text"),
    "talosnb.present.markdown": ("change_markdown",),
    "talosnb.present.report": ("write_report", "write_change_report"),
    "talosnb.present.workspace": ("pending_text", "save_text"),
    "talosnb.core.errors": ("TalosnbError", "InputError", "RefusedError", "FileChangedError",
                            "VersionMismatchError", "ExitStatus", "TalosnbWarning"),
    "talosnb.core.paths": ("data_dir", "sample_dir"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ChangeReport", "ChangeSet", "EditOutcome", "ExitStatus", "FileChangedError", "GateReport", "Hardware",
    "InputError", "Options", "Plan", "RefusedError", "Request", "SaveResult", "Session", "TalosnbError",
    "TalosnbWarning", "Verdict", "VersionMismatchError", "Workspace", "change_markdown", "change_report_for",
    "change_text", "data_dir", "new_modules_text", "pending_text", "sample_dir", "save_text", "write_change_report",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    home = _HOME_OF.get(name)
    if home is None:
        raise AttributeError(f"module 'talosnb' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
