"""What every view shares: progress while loading, a pager for long tables, the view base class,
and the static rendering every widget output carries.

Static rendering: a widget output in a notebook is only a reference to a live
model, which a saved notebook, GitHub, nbviewer or ``jupyter nbconvert --to
html`` can't show (offline they show nothing at all). So each talosnb widget's
output mimebundle also carries ``text/html``: a plain rendering of what the
widget shows when it is displayed — its tables, trees and text, the value of
each control, the chart as an embedded image. JupyterLab shows the live widget
(its renderer ranks first); everything else shows the rendering.
:func:`static_html` renders any ipywidgets tree; a view refines it by
overriding :meth:`StaticRendering.static_html`.
"""

from __future__ import annotations

import base64
import contextlib
import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from talosnb.app.session import Session
from talosnb.app.workspace import Workspace
from talosnb.core.progress import progress_into
from talosnb.present.html import (
    TABLE_STYLE,
    escape,
    frame_html,
)
from talosnb.present.workspace import workspace_text

if TYPE_CHECKING:
    import os


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets and display() reach a frontend)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# --- static rendering -------------------------------------------------------------

STATIC_CLASS = "talosnb-static"
# Long option lists (a Select of findings) show this many options in the static rendering.
STATIC_OPTIONS = 40

_STATIC_STYLE = ("<style>.talosnb-static{border:1px dashed #bbb;padding:6px;margin:2px 0}"
                 ".talosnb-static .talosnb-row{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}"
                 ".talosnb-static .talosnb-button{border:1px solid #999;border-radius:3px;padding:0 6px;"
                 "background:#f3f3f3;font-size:12px}"
                 ".talosnb-static .talosnb-button.success{background:#d9f2d9}"
                 ".talosnb-static .talosnb-button.warning{background:#fbe8c8}"
                 ".talosnb-static .talosnb-button.primary{background:#d6e6fa}"
                 ".talosnb-static .talosnb-options{margin:0;padding-left:1.2em;max-height:16em;overflow:auto}"
                 ".talosnb-static .talosnb-tab{font-weight:bold}</style>")


def _hidden(widget: widgets.Widget) -> bool:
    layout = getattr(widget, "layout", None)
    return layout is not None and (layout.display == "none" or layout.visibility == "hidden")


def _field(description: str, value_html: str) -> str:
    label = f"<b>{escape(description)}</b> " if description else ""
    return f"<span class='talosnb-field'>{label}{value_html}</span>"


def _options_html(widget: widgets.Widget, selected: tuple) -> str:
    labels = list(getattr(widget, "_options_labels", ()) or ())
    values = list(getattr(widget, "_options_values", ()) or ())
    items = []
    for label, value in list(zip(labels, values, strict=False))[:STATIC_OPTIONS]:
        text = escape(label)
        items.append(f"<li><b>{text}</b> (selected)</li>" if value in selected else f"<li>{text}</li>")
    if len(labels) > STATIC_OPTIONS:
        items.append(f"<li><i>... and {len(labels) - STATIC_OPTIONS} more</i></li>")
    return f"<ul class='talosnb-options'>{''.join(items)}</ul>" if items else "<i>(no options)</i>"


def static_html(widget: widgets.Widget) -> str:
    """A plain HTML rendering of what an ipywidgets tree shows now (no script, no live model).

    Views render themselves through :meth:`StaticRendering.static_html`; other widgets
    by kind: HTML as it is, labels and values as text, buttons as labelled boxes,
    option lists as lists (the selected option marked), images embedded, boxes as
    rows or columns, tabs as titled sections."""
    if _hidden(widget):
        return ""
    if isinstance(widget, StaticRendering):
        return widget.static_html()
    # the first that knows the widget's kind renders it (a Tab is a Box, a Select a ValueWidget)
    for render in (_container_html, _display_html, _choice_html, _value_html):
        html_text = render(widget)
        if html_text is not None:
            return html_text
    return f"<pre>{escape(repr(widget))}</pre>"


def _container_html(widget: widgets.Widget) -> str | None:
    if isinstance(widget, widgets.Tab):
        titles = list(widget.titles)
        parts = []
        for i, child in enumerate(widget.children):
            title = titles[i] if i < len(titles) and titles[i] else f"tab {i + 1}"
            shown = " (shown)" if i == widget.selected_index else ""
            parts.append(f"<div class='talosnb-tab'>{escape(title)}{shown}</div>{static_html(child)}")
        return "".join(parts)
    if isinstance(widget, widgets.Box):
        inner = "".join(static_html(child) for child in widget.children)
        if isinstance(widget, widgets.HBox):
            return f"<div class='talosnb-row'>{inner}</div>"
        return f"<div>{inner}</div>"
    return None


def _display_html(widget: widgets.Widget) -> str | None:
    if isinstance(widget, widgets.HTML | widgets.HTMLMath):
        return f"<div>{widget.value}</div>" if widget.value else ""
    if isinstance(widget, widgets.Label):
        return f"<span>{escape(widget.value)}</span>" if widget.value else ""
    if isinstance(widget, widgets.Button):
        style = f" {widget.button_style}" if widget.button_style else ""
        state = " (disabled)" if widget.disabled else ""
        return f"<span class='talosnb-button{style}'>{escape(widget.description)}{state}</span>"
    if isinstance(widget, widgets.Image):
        if not widget.value:
            return ""
        data = base64.b64encode(bytes(widget.value)).decode("ascii")
        return f"<img alt='chart' src='data:image/{escape(widget.format)};base64,{data}' style='max-width:100%'>"
    return None


def _choice_html(widget: widgets.Widget) -> str | None:
    if isinstance(widget, widgets.Checkbox | widgets.ToggleButton):
        return _field("", f"{'&#9745;' if widget.value else '&#9744;'} {escape(widget.description)}")
    if isinstance(widget, widgets.SelectMultiple):
        return _field(widget.description, _options_html(widget, tuple(widget.value)))
    if isinstance(widget, widgets.Select):
        return _field(widget.description, _options_html(widget, (widget.value,)))
    if isinstance(widget, widgets.Dropdown | widgets.RadioButtons | widgets.ToggleButtons):
        return _field(widget.description, f"<code>{escape(widget.label if widget.label is not None else '')}</code>")
    return None


def _value_html(widget: widgets.Widget) -> str | None:
    if isinstance(widget, widgets.IntProgress | widgets.FloatProgress):
        return _field(widget.description, f"{escape(widget.value)} of {escape(widget.max)}")
    if isinstance(widget, widgets.Text | widgets.Textarea):
        shown = f"<code>{escape(widget.value)}</code>" if widget.value else f"<i>{escape(widget.placeholder or '(empty)')}</i>"
        return _field(widget.description, shown)
    if isinstance(widget, widgets.ValueWidget):
        return _field(getattr(widget, "description", ""), f"<code>{escape(widget.value)}</code>")
    return None


class StaticRendering:
    """Mixin for talosnb's widgets: the output mimebundle carries ``text/html``, the static
    rendering of what the widget shows (see the module docstring)."""

    def static_html(self) -> str:
        """This widget's content as plain HTML; by default its children's renderings."""
        children = getattr(self, "children", ())
        return "".join(static_html(child) for child in children)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]  # a mixin: the widget class has it
        bundle["text/html"] = (f"{_STATIC_STYLE}<div class='{STATIC_CLASS}' data-view='{escape(type(self).__name__)}'>"
                               f"{self.static_html()}</div>")
        return bundle


class _ProgressBox(StaticRendering, widgets.VBox):
    def __repr__(self) -> str:   # the text a saved notebook keeps for this output: the same every run
        return "talosnb: loading progress"

    def static_html(self) -> str:
        # The box is displayed when loading starts; what it ends with is printed under it.
        return "<i>talosnb: a progress bar while loading the inputs (the summary is printed below)</i>"


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

    def detail(self, text: str) -> None:
        """A finer progress line within the step (a tqdm bar's text: bytes extracted, folders read)."""
        self.label.value = html.escape(text)

    def done(self, text: str) -> None:
        self.bar.value = self.bar.max
        self.bar.bar_style, self.bar.description = "success", "loaded"
        # the summary is printed once (plain text, kept by saved notebooks), not repeated in the label
        self.label.value = ""
        print(text)


def open_workspace(pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None, kernel_src: str | os.PathLike | None = None, arch: str | None = "all", *,
                   progress: bool = True, **options: Any) -> Workspace:
    """:meth:`Workspace.open` with a progress bar when run in a notebook (``progress=False``: none).

    Empty arguments mean the embedded sample (worked on through a scratch copy);
    ``options`` are Workspace.open's (toolchain, kbuild, scratch, patches).
    """
    if not (progress and in_notebook()):
        return Workspace.open(pkgs, talos, kernel_src, arch, progress=False, **options)
    steps = NotebookSteps()
    # the bars of the work inside (extraction, Kbuild scan) show in this widget's line, not as
    # outputs of their own (which only a cold cache would have)
    with progress_into(steps.detail):
        ws = Workspace.open(pkgs, talos, kernel_src, arch, steps=steps, progress=True, **options)
        steps.done(workspace_text(ws))
    return ws


def workspace_of(session: Session | Workspace | None, inputs: dict[str, Any]) -> Workspace:
    """The Workspace a view works on: `session`'s, or one opened from `inputs` (open_workspace's
    arguments; none: the embedded sample). Both given is a mistake."""
    if session is None:
        return open_workspace(**inputs)
    if inputs:
        raise TypeError("pass either a session or inputs, not both")
    return Workspace.of(session)


class Pager(StaticRendering, widgets.VBox):
    """A DataFrame shown a page at a time, with previous/next buttons."""

    def __init__(self, page_size: int = 25, **kwargs: Any) -> None:
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
        self.table.value = TABLE_STYLE + frame_html(self.rows())


#: what a message names an option as in the views: the control a person sees (else Python's name)
CONTROLS = {
    "allow_drop": "the Save tab's \u201cdrop config lines for symbols this tree doesn't define\u201d checkbox ticked",
    "force": "the Save tab's \u201coverwrite files changed on disk\u201d checkbox ticked",
    "ignore_module_list": "the \u201cchange it anyway\u201d button",
}


def control_name(name: str) -> str:
    """An option as the views name it (the face the widgets put on messages, see core.errors.face)."""
    from talosnb.core.errors import python_name

    return CONTROLS.get(name) or python_name(name)


def in_views() -> contextlib.AbstractContextManager[None]:
    """Messages raised inside name options by the controls of the views."""
    from talosnb.core.errors import face

    return face(control_name)


class View(StaticRendering, widgets.VBox):
    """A tab's content over a Workspace: refreshes itself when the workspace changes.

    With ``auto=False`` (inside a Workbench) a change only marks the view stale;
    the workbench refreshes it when it is shown. Its output carries a static
    rendering (:class:`StaticRendering`): a view that shows more than its
    children say overrides ``static_html``.
    """

    TAB_TITLE = ""

    def __init__(self, workspace: Workspace, children: Iterable[widgets.Widget] = (), *, auto: bool = True, **kwargs: Any) -> None:
        super().__init__(list(children), **kwargs)
        self.workspace = workspace
        self.auto = auto
        self.stale = True
        workspace.on_change(self._workspace_changed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({workspace_text(self.workspace).splitlines()[0]})"

    def _workspace_changed(self, kind: str) -> None:
        self.stale = True
        if self.auto:
            self.refresh()

    def refresh(self) -> None:
        self.stale = False


def replace_children(box: widgets.Box, children: list, keep: Iterable = ()) -> None:
    """Put new children in a box and close the old ones (their models would linger otherwise)."""
    old = list(box.children)
    box.children = tuple(children)
    kept = {id(w) for w in keep} | {id(w) for w in children}

    def close(widget: widgets.Widget) -> None:
        if id(widget) in kept:
            return
        for child in getattr(widget, "children", ()):
            close(child)
        widget.close()

    for widget in old:
        close(widget)


def error_html(error: Exception) -> str:
    """An error as the sentence it is (where it is, what to do), never a Python class name."""
    message = getattr(error, "message", None) or str(error)
    where = getattr(error, "where", None)
    hint = getattr(error, "hint", None)
    return ("<div class='talosnb-err'>" + "<br>".join(escape(line) for line in message.splitlines())
            + (f"<br>in <code>{escape(where)}</code>" if where else "")
            + (f"<br><i>hint: {escape(hint)}</i>" if hint else "") + "</div>")
