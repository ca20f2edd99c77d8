"""The Upgrade view: what moving to a new kernel changes, filtered; each module-list edit accepted
or rejected; the write, through the same call as ``talosnb upgrade --write``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from talosnb.analyses.findings import LEVELS
from talosnb.analyses.upgrade import SECTION_TITLES, SECTIONS
from talosnb.app.upgrade import SAMPLE_NEXT, Upgrade
from talosnb.app.workspace import Workspace
from talosnb.core.errors import TalosnbError
from talosnb.core.paths import sample_dir
from talosnb.present.html import TABLE_STYLE, escape
from talosnb.present.upgrade import edit_text, reason_lines, summary_lines
from talosnb.present.workspace import save_text

from .base import NotebookSteps, Pager, StaticRendering, View, error_html, in_notebook, replace_children

if TYPE_CHECKING:
    import os

    from talosnb.analyses.upgrade import UpgradeReport
    from talosnb.app.workspace import SaveResult

ANY = "(any)"
COLUMNS = ["section", "level", "arch", "kind", "entry", "menu", "message", "where", "fix"]


def open_upgrade(pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None,
                 kernel_src: str | os.PathLike | None = None, *, progress: bool = True,
                 **options: Any) -> Upgrade:
    """:meth:`Upgrade.open` with a progress bar when run in a notebook (``progress=False``: none).

    Empty inputs mean the embedded sample moving to its next release (on a scratch copy);
    ``options`` are Upgrade.open's (to_kernel_src, to_version, sha256, sha512, current_tree, arch,
    scratch...)."""
    show = progress and in_notebook()
    steps = NotebookSteps() if show else None
    # one bar for the whole load (the steps); the byte and folder counters of the extraction and
    # the Kbuild scan would print rates that differ from run to run
    upgrade = Upgrade.open(pkgs, talos, kernel_src, steps=steps, progress=False, **options)
    if steps is not None:
        report = upgrade.report()
        steps.done("\n".join(summary_lines(report)))
    return upgrade


# a module-list edit's checkbox says the whole edit (entries and why): its label wraps, never cut
_WRAP_STYLE = ("<style>.talosnb-wrap label, .talosnb-wrap label span{white-space:normal !important;"
               "overflow:visible !important;height:auto !important;line-height:1.4}"
               ".talosnb-wrap label{align-items:flex-start}.talosnb-wrap input{flex:none}</style>")


class UpgradeView(StaticRendering, widgets.VBox):
    """The report of an :class:`Upgrade`: filters by section, arch, level, menu and text; the
    why-not tree of each choice not honoured; a checkbox per proposed module-list edit; Write."""

    TAB_TITLE = "Upgrade"

    def __init__(self, upgrade: Upgrade, *, page_size: int = 20) -> None:
        self.upgrade = upgrade
        report = upgrade.report()
        self.summary = widgets.HTML()
        self.section = widgets.Dropdown(options=[(ANY, ANY)] + [(SECTION_TITLES[s], s) for s in SECTIONS],
                                        value=ANY, description="section")
        self.arch = widgets.Dropdown(options=[ANY, *upgrade.arches], value=ANY, description="arch")
        self.level = widgets.SelectMultiple(options=LEVELS, value=("error", "warning"), description="level",
                                            rows=3)
        self.menu = widgets.Dropdown(options=[ANY], value=ANY, description="menu")
        self.text = widgets.Text(description="text", placeholder="symbol, entry or message")
        self.pager = Pager(page_size)
        # wide enough for "arm64 SYMBOL (kind)" labels, which a default dropdown cuts
        self.choice = widgets.Dropdown(options=[], description="why",
                                       layout=widgets.Layout(width="auto", min_width="520px"))
        self.why = widgets.HTML()
        self.edits = widgets.VBox()
        self.accept_all = widgets.Button(description="accept all", icon="check")
        self.reject_all = widgets.Button(description="reject all", icon="times")
        self.force = widgets.Checkbox(value=False, description="overwrite files changed on disk", indent=False)
        self.write_button = widgets.Button(description="write the upgrade", icon="save", button_style="primary",
                                           layout=widgets.Layout(width="auto"))
        self.result = widgets.HTML()
        for control in (self.section, self.arch, self.level, self.menu, self.text):
            control.observe(lambda _: self.apply_filters(), names="value")
        self.choice.observe(lambda _: self._show_why(), names="value")
        self.accept_all.on_click(lambda _: self._set_all(True))
        self.reject_all.on_click(lambda _: self._set_all(False))
        self.write_button.on_click(lambda _: self.write())
        super().__init__([widgets.HTML(_WRAP_STYLE), self.summary,
                          widgets.HBox([self.level, widgets.VBox([self.section, self.arch]),
                                        widgets.VBox([self.menu, self.text])]),
                          self.pager,
                          widgets.HTML("<b>Why a choice is not honoured</b>"), self.choice, self.why,
                          widgets.HTML("<b>Proposed module-list edits</b> (unchecked ones are left out)"),
                          widgets.HBox([self.accept_all, self.reject_all]), self.edits,
                          widgets.HBox([self.write_button, self.force]), self.result])
        self._checks: dict[str, widgets.Checkbox] = {}
        self.show(report)

    def __repr__(self) -> str:
        return f"UpgradeView({self.upgrade.from_version or '?'} -> {self.upgrade.to_version})"

    # --- showing ------------------------------------------------------------------

    def show(self, report: UpgradeReport) -> None:
        self.report = report
        lines = summary_lines(report)
        self.summary.value = TABLE_STYLE + "<pre>" + escape("\n".join(lines)) + "</pre>"
        self.frame = report.findings_frame()
        menus = sorted({m for m in self.frame["menu"] if isinstance(m, str)}) if len(self.frame) else []
        self.menu.options = [ANY, *menus]
        choices = [c for c in report.choices() if c.finding.level != "info"]
        self.choice.options = [(f"{c.finding.arch} {c.finding.symbols[0]} ({c.finding.kind})", i)
                               for i, c in enumerate(choices)]
        self._choices = choices
        self.choice.value = 0 if choices else None
        checks = []
        for edit in report.edits():
            box = self._checks.get(edit.key) or widgets.Checkbox(value=True, indent=False,
                                                                  layout=widgets.Layout(width="auto",
                                                                                        height="auto"))
            box.add_class("talosnb-wrap")
            box.description = edit_text(edit).replace("\n", " ")
            checks.append(box)
            self._checks[edit.key] = box
        replace_children(self.edits, checks or [widgets.HTML("<i>no module-list edit proposed</i>")],
                          keep=list(self._checks.values()))
        self.apply_filters()
        self._show_why()

    def filtered(self) -> pd.DataFrame:
        """The findings the filters let through (a frame, as the table shows it)."""
        frame = self.frame
        if not len(frame):
            return frame.reindex(columns=COLUMNS)
        keep = frame["level"].isin(self.level.value)
        if self.section.value != ANY:
            keep &= frame["section"] == self.section.value
        if self.arch.value != ANY:
            keep &= frame["arch"].isin([self.arch.value, "all"])
        if self.menu.value != ANY:
            keep &= frame["menu"] == self.menu.value
        text = self.text.value.strip().lower()
        if text:
            keep &= frame["entry"].fillna("").str.lower().str.contains(text, regex=False) | \
                frame["message"].fillna("").str.lower().str.contains(text, regex=False)
        return frame[keep].reindex(columns=COLUMNS).reset_index(drop=True)

    def apply_filters(self) -> None:
        self.pager.show(self.filtered())

    def _show_why(self) -> None:
        if self.choice.value is None or not self._choices:
            self.why.value = "<i>no choice not honoured</i>" if not self._choices else ""
            return
        item = self._choices[self.choice.value]
        lines = [item.finding.message, f"at {item.finding.where}"]
        for reason in item.reasons:
            lines += reason_lines(reason)
        if item.finding.fix:
            lines.append(f"fix: {item.finding.fix}")
        self.why.value = "<pre>" + escape("\n".join(lines)) + "</pre>"

    # --- acting ---------------------------------------------------------------------

    def _set_all(self, value: bool) -> None:
        for box in self._checks.values():
            box.value = value

    def accepted(self) -> list[str]:
        """The keys of the module-list edits checked."""
        keys = {e.key for e in self.report.edits()}
        return [key for key, box in self._checks.items() if box.value and key in keys]

    def write(self) -> SaveResult | None:
        """Upgrade.write with the checked edits (what ``talosnb upgrade --write`` does); shows what was
        written, or why nothing was, in red."""
        try:
            saved = self.upgrade.write(accepted=self.accepted(), force=self.force.value, report=self.report)
        except TalosnbError as e:
            self.result.value = TABLE_STYLE + error_html(e)
            return None
        self.result.value = TABLE_STYLE + "<div class='talosnb-ok'><pre>" + escape(save_text(saved)) + "</pre></div>"
        self.show(self.upgrade.report())
        return saved


class UpgradeTab(View):
    """The workbench's Upgrade tab: pick the new kernel tree, then the :class:`UpgradeView` of moving
    the workbench's checkouts to it."""

    TAB_TITLE = "Upgrade"

    def __init__(self, workspace: Workspace, *, auto: bool = True) -> None:
        # empty on the sample: its next release (a path would tie the stored notebooks to one machine)
        self.to_kernel_src = widgets.Text(value="", description="new tree",
                                          placeholder="empty: the embedded sample's next release"
                                          if workspace.session.inputs.sample else "the new kernel's folder or tarball",
                                          layout=widgets.Layout(width="600px"))
        self.no_current = widgets.Checkbox(value=False, description="without the current tree", indent=False)
        self.open_button = widgets.Button(description="compare", icon="play")
        self.body = widgets.VBox()
        self.view: UpgradeView | None = None
        self.open_button.on_click(lambda _: self.start())
        super().__init__(workspace, [widgets.HBox([self.to_kernel_src, self.no_current, self.open_button]),
                                     self.body], auto=auto)

    def start(self) -> UpgradeView | None:
        """Upgrade.open over the workbench's checkouts (its scratch copy, if it works on one)."""
        inputs = self.workspace.session.inputs
        assert inputs.pkgs is not None and inputs.kernel is not None   # a Session has both (Session.open checks)
        talos = inputs.talos.path if inputs.talos is not None else None
        given = self.to_kernel_src.value.strip()
        to_kernel_src = Path(given) if given else sample_dir() / SAMPLE_NEXT if inputs.sample else None
        try:
            upgrade = Upgrade.open(inputs.pkgs.path, talos, inputs.kernel.origin, to_kernel_src=to_kernel_src,
                                   current_tree=not self.no_current.value,
                                   arch="all" if len(self.workspace.arches) > 1 else self.workspace.arches[0],
                                   toolchain=self.workspace.session.toolchain, scratch=False)
        except TalosnbError as e:
            replace_children(self.body, [widgets.HTML(TABLE_STYLE + error_html(e))])
            return None
        self.view = UpgradeView(upgrade)
        replace_children(self.body, [self.view])
        return self.view
