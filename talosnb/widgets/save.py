"""The Save view: what a save writes, and writing it."""

from __future__ import annotations

import ipywidgets as widgets

from talosnb.app.workspace import SaveResult, Workspace
from talosnb.core.errors import FileChangedError, TalosnbError
from talosnb.present.html import (
    TABLE_STYLE,
    escape,
    overridden_html,
)
from talosnb.present.workspace import drop_warning_text

from .base import View, error_html, in_views


class SaveView(View):
    """Pending diff per file, then an atomic write that refuses over files changed on disk."""

    TAB_TITLE = "Save"

    def __init__(self, workspace: Workspace, *, auto: bool = True) -> None:
        self.pending = widgets.HTML()
        self.force = widgets.Checkbox(value=False, description="overwrite files changed on disk",
                                      indent=False, layout=widgets.Layout(width="auto"),
                                      tooltip="write even over files another program changed since they "
                                              "were loaded (their changes are lost)")
        self.allow_drop = widgets.Checkbox(value=False, indent=False, layout=widgets.Layout(width="auto"),
                                           description="drop config lines for symbols this tree doesn't define",
                                           tooltip="write although the config names symbols this kernel tree "
                                                   "doesn't define (their lines are dropped)")
        self.write_button = widgets.Button(description="write files", icon="save", button_style="primary")
        self.result = widgets.HTML()
        self.write_button.add_class("talosnb-write")
        self.result.add_class("talosnb-save-result")
        self.pending.add_class("talosnb-save-pending")
        self.last_result: SaveResult | None = None
        self.last_error: TalosnbError | None = None
        self.write_button.on_click(lambda _: self.write())
        super().__init__(workspace, [self.pending, widgets.HBox([self.write_button, self.force,
                                                                 self.allow_drop]),
                                     self.result], auto=auto)
        if auto:
            self.refresh()

    def refresh(self) -> None:
        with in_views():
            self._refresh()

    def _refresh(self) -> None:
        super().refresh()
        pending = self.workspace.pending()
        parts = []
        for p in pending:
            state = "no change" if not p.changed else "will be written"
            body = f"<pre>{escape(chr(10).join(p.lines))}</pre>" if p.changed else ""
            if p.dropped:
                body = f"<div class='talosnb-err'>{escape(drop_warning_text(p))}</div>" + body
            parts.append(f"<div><b>{escape(p.name)}</b> <code>{escape(p.label)}</code>: {state}{body}</div>")
        count = sum(p.changed for p in pending)
        self.write_button.description = f"write {count} file(s)" if count else "nothing to write"
        self.write_button.disabled = count == 0
        self.allow_drop.disabled = not any(p.dropped for p in pending)
        # values set earlier that a later change (a verified fix, a menu switched back on) replaced
        overridden = overridden_html(self.workspace.overridden(), "Undo (Explore & toggle) takes the later "
                                     "change back, or set the value again before writing.")
        self.pending.value = TABLE_STYLE + "<h4>Pending changes</h4>" + overridden + "".join(parts)

    def write(self) -> SaveResult | None:
        with in_views():
            return self._write()

    def _write(self) -> SaveResult | None:
        self.last_result = self.last_error = None
        try:
            result = self.workspace.save(force=self.force.value, allow_drop=self.allow_drop.value)
        except FileChangedError as e:
            self.last_error = e
            files = ", ".join(getattr(e, "files", []) or [e.where or ""])
            self.result.value = (TABLE_STYLE + "<div class='talosnb-err'><b>Not written.</b> "
                                 f"Changed on disk since it was loaded: <b>{escape(files)}</b>. Nothing was "
                                 f"written.<br>{escape(e.hint or '')}</div>")
            return None
        except TalosnbError as e:
            self.last_error = e
            self.result.value = TABLE_STYLE + error_html(e)
            return None
        self.last_result = result
        self.result.value = TABLE_STYLE + saved_html(result)
        if self.stale:
            self.refresh()
        return result


def saved_html(result: SaveResult) -> str:
    """What a save wrote: each file by name, where it lives and its path; the scratch folder for a
    scratch copy; the command to run next."""
    if not result.written:
        return "<div class='talosnb-ok'>nothing to write: no pending change</div>"
    files = "".join(f"<li><b>{escape(p.name)}</b> ({escape(p.label)}): <code>{escape(p.path)}</code></li>"
                    for p in result.written)
    scratch = (f"<div>These went to a scratch copy in <code>{escape(result.scratch)}</code> (removed when the "
               "workspace goes away).</div>"
               if result.scratch is not None else "")
    return (f"<div class='talosnb-ok'><b>Wrote {len(result.written)} file(s):</b><ul>{files}</ul>{scratch}"
            f"<pre style='white-space:pre-wrap'>{escape(result.command)}</pre></div>")

