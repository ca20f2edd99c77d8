"""A change as a plan: what a person asks for, how, and everything it would do, computed once.

:meth:`Workspace.propose <talosnb.app.workspace.Workspace.propose>` reads a :class:`Request`
with its :class:`Options` and computes the whole consequence on trial state, as the
kernel's conf reads, calculates, then writes: per arch the change set with the reason of
each line, the module-list edits that follow, the texts of the files to write, and every
guard's :class:`Verdict`, each a function of the state before and after the change.
:meth:`Workspace.commit <talosnb.app.workspace.Workspace.commit>` then keeps it as one undo
step and writes its files through one transaction, or refuses a plan that is blocked or
stale (the workspace changed since it was proposed). Nothing is applied, checked, undone
and applied again to find out what a change does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from talosnb.core.errors import TalosnbError

if TYPE_CHECKING:
    from talosnb.analyses.edit import Assignment, Attempt, ChangeSet, Refusal
    from talosnb.analyses.modules import ListEdit

    from .workspace import EditOutcome, PendingFile

Kind = Literal["set", "merge", "fix", "modules", "save"]


# How the undo history names a request (HistoryEntry.what): a template per kind, filled from its fields.
REQUEST_LABELS = {
    "set": "{assignments}",
    "merge": "merge of {count} line(s)",
    "modules": "{action} {entries}",
}


@dataclass(frozen=True)
class Request:
    """What is asked: ``set`` (all or nothing) or ``merge`` (keep what takes effect) of
    ``assignments`` on ``arches`` (default all), ``fix`` (a refusal's verified fix with its
    assignment on one arch), ``modules`` (``module_action`` add/remove of ``module_entries``),
    (in an extension's list: ``list_id``), or ``save`` (write the pending files ``names``, a config to ``outputs`` instead).

    ``write``: committing also writes the changed files. ``dry_run``: the plan is only shown;
    what the content of the change would refuse on writing (dropped lines) is still judged."""

    kind: Kind
    assignments: tuple[Assignment, ...] = ()
    arches: tuple[str, ...] | None = None
    add_to_module_list: bool | str = False      # True or "talos": talos's list; "extensions/NAME"
    fix_search: bool = True                 # set: search a verified fix for each refusal
    refusal: Refusal | None = None          # fix: the refusal whose fix to apply
    module_action: str | None = None        # modules: "add" or "remove"
    module_entries: tuple[str, ...] = ()
    list_id: str | None = None              # modules: an extension's list (extensions/NAME); None: talos's
    names: tuple[str, ...] | None = None    # save: which pending files (default every changed one)
    outputs: tuple[tuple[str, Path], ...] = ()   # save: arch -> where to write that config
    write: bool = False
    dry_run: bool = False

    @property
    def label(self) -> str:
        """The request's name in the undo history (``HistoryEntry.what``, an ``Overridden``'s step):
        REQUEST_LABELS' template for its kind, e.g. "DUMMY=m", "merge of 3 line(s)", "add dummy.ko"."""
        return REQUEST_LABELS.get(self.kind, REQUEST_LABELS["set"]).format(
            assignments=" ".join(str(a) for a in self.assignments), count=len(self.assignments),
            action=self.module_action, entries=", ".join(self.module_entries))


@dataclass(frozen=True)
class Options:
    """How far to go: each option lifts one guard's refusal (``strict`` adds one)."""

    strict: bool = False                # a build gate the change makes fail refuses it
    allow_drop: bool = False            # write configs losing lines the tree doesn't define
    force: bool = False                 # overwrite files changed on disk, or the other arch's config
    follow_symlinks: bool = False       # write through symlinks leading out of a checkout
    ignore_module_list: bool = False    # keep a change that stops building a listed .ko as =m
    allow_series_change: bool = False   # rewrite a config made for another kernel series


@dataclass
class Verdict:
    """One guard's judgement of a plan: a function of the state before and after the change.

    ``scope`` says what a refusal stops: "change" (nothing is kept) or "write" (nothing is
    written). ``override`` names the option that lifts it (None: nothing does). A refusing
    verdict with an ``error`` is raised by commit as that error (the write refusals: files
    changed on disk, the embedded sample, ...); one without is reported with the plan
    (:attr:`Plan.blocked`)."""

    guard: str
    refuses: bool
    message: str = ""
    override: str | None = None
    findings: list[Any] = field(default_factory=list)
    scope: Literal["change", "write"] = "change"
    error: TalosnbError | None = None
    detail: Any = None                  # the guard's own result (the build gates' GuardResult)

    def as_dict(self) -> dict[str, Any]:
        return {"guard": self.guard, "refuses": self.refuses, "message": self.message,
                "override": self.override, "scope": self.scope, "findings": len(self.findings)}


@dataclass
class Plan:
    """Everything a request would do, computed once (see the module docstring).

    Between :meth:`Workspace.propose` and :meth:`Workspace.commit` the workspace holds the
    planned state on trial (a view shows it); :meth:`Workspace.discard` puts it back."""

    request: Request
    options: Options
    version: int = -1                                   # the workspace's version it was made on
    changes: dict[str, ChangeSet] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)  # arch -> built/added .ko, the list
    list_edits: dict[str, ListEdit] = field(default_factory=dict)            # modules requests
    files: list[PendingFile] = field(default_factory=list)                   # what commit writes
    texts: dict[str, str] = field(default_factory=dict, repr=False)          # arch -> config text planned
    verdicts: list[Verdict] = field(default_factory=list)
    outcome: EditOutcome | None = None                  # set/merge/fix as the faces render them
    attempts: dict[str, Attempt] = field(default_factory=dict)
    committed: bool = False

    @property
    def blocked(self) -> str | None:
        """Why the plan is not carried out as asked (a refusing verdict reported with it), or None."""
        for verdict in self.verdicts:
            if verdict.refuses and verdict.error is None:
                return verdict.message
        return None

    @property
    def refusal(self) -> Verdict | None:
        """The first refusing verdict commit raises (a write refused to protect the files)."""
        return next((v for v in self.verdicts if v.refuses and v.error is not None), None)

    @property
    def refused(self) -> bool:
        """Some assignment can't take effect (set, fix): nothing of the change is kept."""
        return any(v.guard == "assignments" and v.refuses for v in self.verdicts)

    @property
    def applied(self) -> bool:
        """Whether committing changes the configs or lists (nothing refuses the change itself)."""
        if any(v.refuses and v.scope == "change" for v in self.verdicts):
            return False
        return bool(self.attempts and any(a.change.cascade for a in self.attempts.values())) or \
            any(e.changed for e in self.list_edits.values())

    def verdict(self, guard: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.guard == guard), None)

    def file_names(self) -> Sequence[str]:
        return [p.name for p in self.files]
