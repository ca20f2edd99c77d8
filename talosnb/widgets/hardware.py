"""The Hardware view: paste what a node reports (``talosctl get pcidevices -o yaml``, ``lspci -nn``,
``lsusb``, modalias or compatible lines), see which module claims each device and what the
configs do with it, and apply the change that supports the rest (in the Workspace, undoable; the
Save tab writes it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets
import pandas as pd

from talosnb.app.hardware import Hardware, Support, needed_changes, support_devices
from talosnb.app.workspace import Workspace
from talosnb.core.errors import TalosnbError
from talosnb.present.hardware import reports_frame, summary_line
from talosnb.present.html import TABLE_STYLE, change_html, escape

from .base import Pager, View, error_html

if TYPE_CHECKING:
    from talosnb.analyses.hardware import DeviceReport
    from talosnb.kbuild.devices import DeviceIndex

PLACEHOLDER = ("paste talosctl get pcidevices -o yaml (or -o json), lspci -nn, lspci -n, lsusb, "
               "modalias lines or device-tree compatible strings")


class HardwareView(View):
    """A pasted capture looked up against the Workspace as it is now (edits not saved yet
    included): one row per device, claiming module and arch; a button applies the change that
    supports the unsupported ones, worked out as ``set SYMBOL=m --add-to-module-list`` does."""

    TAB_TITLE = "Hardware"

    def __init__(self, workspace: Workspace, *, auto: bool = True, capture: str = "",
                 index: DeviceIndex | None = None) -> None:
        self._index = index
        self.reports: list[DeviceReport] = []
        self.support: Support | None = None
        self.error: TalosnbError | None = None
        self.capture = widgets.Textarea(value=capture, placeholder=PLACEHOLDER, rows=8,
                                        layout=widgets.Layout(width="900px"))
        self.lookup_button = widgets.Button(description="look up", icon="search", button_style="primary")
        self.summary = widgets.HTML()
        self.table = Pager(page_size=25)
        self.fix_button = widgets.Button(description="apply the change", icon="wrench", disabled=True,
                                         button_style="success")
        self.outcome = widgets.HTML()
        self.lookup_button.on_click(lambda _: self.refresh())
        self.fix_button.on_click(lambda _: self.apply_change())
        super().__init__(workspace, [self.capture, self.lookup_button, self.summary, self.table,
                                     self.fix_button, self.outcome], auto=auto)
        if auto:
            self.refresh()

    def hardware(self) -> Hardware:
        hardware = Hardware.of_workspace(self.workspace)
        if self._index is None:
            self._index = hardware.index()
        hardware._index = self._index
        return hardware

    def refresh(self) -> None:
        super().refresh()
        self.fix_button.disabled = True
        text = self.capture.value
        if not text.strip():
            self.reports, self.summary.value = [], "<i>paste a capture and look it up</i>"
            self.table.show(pd.DataFrame())
            return
        try:
            devices = Hardware.devices_in(text, "pasted")     # bad input said before loading anything
            self.reports = self.hardware().describe(devices)
        except TalosnbError as e:
            self.error, self.reports = e, []
            self.summary.value = error_html(e)
            self.table.show(pd.DataFrame())
            return
        self.error = None
        self.summary.value = f"<div>{escape(summary_line(self.reports))}</div>"
        self.table.show(reports_frame(self.reports))
        assignments, _ = needed_changes(self.reports)
        if assignments:
            self.fix_button.disabled = False
            self.fix_button.description = ("set " + ", ".join(f"{a}: {' '.join(v)}" for a, v in assignments.items()))[:70]

    def apply_change(self) -> Support | None:
        """The change that supports the unsupported devices, in the Workspace (not written: the
        Save tab writes it, as after any other edit)."""
        try:
            self.support = support_devices(self.workspace, self.reports)
        except TalosnbError as e:
            self.outcome.value = error_html(e)
            return None
        support = self.support
        if support is None:
            self.outcome.value = "<i>every device is supported: nothing to change</i>"
            return None
        parts = [TABLE_STYLE]
        for arch, item, outcome in support.outcomes:
            parts.append(f"<div><b>{escape(arch)}: set {escape(item)}</b></div>")
            parts += [change_html(c) for c in outcome.values()]
        parts += [f"<div class='talosnb-err'>not possible on {escape(arch)}: {escape(item)} ({escape(why)})</div>"
                  for arch, item, why in support.refused]
        if support.blocked:
            parts.append(f"<div class='talosnb-err'>saving would be refused: {escape(support.blocked)}</div>")
        if support.applied:
            parts.append(f"<div>in the workspace, not written: the Save tab writes {escape(', '.join(support.files))}</div>")
        self.outcome.value = "".join(parts)
        if self.stale:
            self.refresh()
        return support
