"""What every view shares: progress while loading, a pager for long tables, the view base class."""

from __future__ import annotations

import html
from collections.abc import Iterable

import ipywidgets as widgets
import pandas as pd

from talosnb.app.workspace import Workspace
from talosnb.present.html import (
    _TABLE_STYLE,
    _e,
    frame_html,
)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets and display() reach a frontend)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _ProgressBox(widgets.VBox):
    def __repr__(self) -> str:   # the text a saved notebook keeps for this output: the same every run
        return "talosnb: loading progress"


class NotebookSteps:
    """Loading progress as a bar in a notebook (the Steps of :meth:`Session.open`).

    Shows an ipywidgets bar with what is being done; when done it stays full with
    a summary under it, and the summary is printed (plain text, the same on every
    run, for saved notebooks).
    """

    def start(self, total: int) -> None:
        from IPython.display import display

        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), description="loading",
                                       bar_style="info")
        self.label = widgets.HTML()
        display(_ProgressBox([self.bar, self.label]))

    def step(self, text: str) -> None:
        self.label.value = html.escape(text)
        self.bar.value = min(self.bar.value + 1, self.bar.max)

    def done(self, text: str) -> None:
        self.bar.value = self.bar.max
        self.bar.bar_style, self.bar.description = "success", "loaded"
        # the summary is printed once (plain text, kept by saved notebooks), not repeated in the label
        self.label.value = ""
        print(text)


def open_workspace(pkgs=None, talos=None, kernel_src=None, arch: str | None = "all", *,
                   progress: bool = True, **options) -> Workspace:
    """:meth:`Workspace.open` with a progress bar when run in a notebook (``progress=False``: none).

    Empty arguments mean the embedded sample (worked on through a scratch copy);
    ``options`` are Workspace.open's (toolchain, kbuild, scratch, patches).
    """
    show = progress and in_notebook()
    return Workspace.open(pkgs, talos, kernel_src, arch, steps=NotebookSteps() if show else None,
                          progress=show, **options)


class Pager(widgets.VBox):
    """A DataFrame shown a page at a time, with previous/next buttons."""

    def __init__(self, page_size: int = 25, **kwargs) -> None:
        self.page_size = page_size
        self.page = 0
        self.frame = pd.DataFrame()
        self.table = widgets.HTML()
        self.position = widgets.Label()
        self.previous_button = widgets.Button(description="previous", icon="arrow-left",
                                              layout=widgets.Layout(width="110px"))
        self.next_button = widgets.Button(description="next", icon="arrow-right",
                                          layout=widgets.Layout(width="110px"))
        self.previous_button.on_click(lambda _: self.turn(-1))
        self.next_button.on_click(lambda _: self.turn(1))
        super().__init__([widgets.HBox([self.previous_button, self.next_button, self.position]), self.table],
                         **kwargs)

    def __repr__(self) -> str:
        return f"Pager(page {self.page + 1} of {self.pages})"

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.frame) // self.page_size))

    def show(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.page = 0
        self.render()

    def turn(self, by: int) -> None:
        self.page = min(max(self.page + by, 0), self.pages - 1)
        self.render()

    def rows(self) -> pd.DataFrame:
        start = self.page * self.page_size
        return self.frame.iloc[start:start + self.page_size]

    def render(self) -> None:
        n = len(self.frame)
        start = self.page * self.page_size
        self.position.value = (f"rows {start + 1}-{min(start + self.page_size, n)} of {n}" if n
                               else "no rows")
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1
        self.table.value = _TABLE_STYLE + frame_html(self.rows())


class _View(widgets.VBox):
    """A tab's content over a Workspace: refreshes itself when the workspace changes.

    With ``auto=False`` (inside a Workbench) a change only marks the view stale;
    the workbench refreshes it when it is shown.
    """

    TAB_TITLE = ""

    def __init__(self, workspace: Workspace, children=(), *, auto: bool = True, **kwargs) -> None:
        super().__init__(list(children), **kwargs)
        self.workspace = workspace
        self.auto = auto
        self.stale = True
        workspace.on_change(self._workspace_changed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.workspace.describe().splitlines()[0]})"

    def _workspace_changed(self, kind: str) -> None:
        self.stale = True
        if self.auto:
            self.refresh()

    def refresh(self) -> None:
        self.stale = False


def _replace_children(box: widgets.Box, children: list, keep: Iterable = ()) -> None:
    """Put new children in a box and close the old ones (their models would linger otherwise)."""
    old = list(box.children)
    box.children = tuple(children)
    kept = {id(w) for w in keep} | {id(w) for w in children}

    def close(widget) -> None:
        if id(widget) in kept:
            return
        for child in getattr(widget, "children", ()):
            close(child)
        widget.close()

    for widget in old:
        close(widget)


def _error_html(error: Exception) -> str:
    """An error as the sentence it is (where it is, what to do), never a Python class name."""
    message = getattr(error, "message", None) or str(error)
    where = getattr(error, "where", None)
    hint = getattr(error, "hint", None)
    return ("<div class='talosnb-err'>" + "<br>".join(_e(line) for line in message.splitlines())
            + (f"<br>in <code>{_e(where)}</code>" if where else "")
            + (f"<br><i>hint: {_e(hint)}</i>" if hint else "") + "</div>")
