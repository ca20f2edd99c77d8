"""A notebook run with parameters and written as one HTML file that opens offline.

- **Parameters**, papermill's way: the cell tagged ``parameters`` keeps its
  defaults, and a cell tagged ``injected-parameters`` right after it assigns the
  given values (a previous injected cell is replaced). A name the parameters
  cell doesn't assign is refused: it would be a typo that changes nothing.
- **Execution** with nbclient, in the notebook's folder, one kernel per run.
- **HTML** with nbconvert's ``lab`` template, minus everything it would fetch:
  require.js, MathJax, mermaid and the widget manager come from CDNs, so they
  are left out. Widget outputs show the static rendering each talosnb widget
  carries (``text/html`` beside the widget view, see
  :mod:`talosnb.widgets.base`), images are embedded, styles are inline. The
  result makes no network request at all.
"""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talosnb.core.errors import InputError, opt
from talosnb.core.fileio import atomic_write, check_output

if TYPE_CHECKING:
    import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"

# The lab template without what it loads from the network (CDN scripts); the rest is inline.
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_TEMPLATE_NAME = "talosnb-offline.html.j2"


def parse_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value as papermill reads it: None, True/False, a number, else the text."""
    if text in ("None", "none", "null"):
        return None
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if re.fullmatch(r"[-+]?\d+", text):
        if len(text.lstrip("+-")) > 4000:   # Python refuses to read ints past 4300 digits
            raise InputError(f"-p value {text[:20]}...: a number of {len(text)} digits",
                             hint="give a number of ordinary size, or quote it to pass it as text")
        return int(text)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", text):
        value = float(text)
        if not math.isfinite(value):
            raise InputError(f"-p value {text[:40]}: too large for a number (it would be {value})",
                             hint="give a number of ordinary size")
        return value
    return text


def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise InputError("notebook not found", where=str(path), hint="give the path of an .ipynb file")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 -- nbformat raises several kinds for a file that isn't a notebook
        raise InputError(f"not a readable notebook: {e}", where=str(path)) from None


def parameter_names(nb: nbformat.NotebookNode) -> list[str]:
    """The names the cell tagged ``parameters`` assigns (empty when it has none)."""
    cell = _parameters_cell(nb)
    if cell is None:
        return []
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    return next((c for c in nb.cells if c.cell_type == "code" and PARAMETERS_TAG in c.metadata.get("tags", [])),
                None)


def inject_parameters(nb: nbformat.NotebookNode, parameters: Mapping[str, Any], *, source: str = "notebook") -> None:
    """Add (or replace) the ``injected-parameters`` cell after the ``parameters`` cell."""
    import nbformat

    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.metadata.get("tags", [])]
    if not parameters:
        return
    cell = _parameters_cell(nb)
    if cell is None:
        raise InputError("the notebook has no cell tagged 'parameters' to take parameter values", where=source,
                         hint="tag the cell that assigns the defaults with 'parameters' (JupyterLab: cell "
                              "inspector, Add Tag), or run it without parameters")
    known = parameter_names(nb)
    unknown = [name for name in parameters if name not in known]
    if unknown:
        raise InputError(f"the parameters cell doesn't assign {', '.join(unknown)}", where=source,
                         hint=f"its parameters are: {', '.join(known) or '(none)'}")
    lines = ["# Parameters given to talosnb export"] + [f"{k} = {v!r}" for k, v in parameters.items()]
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = [INJECTED_TAG]
    nb.cells.insert(nb.cells.index(cell) + 1, injected)


def execute(nb: nbformat.NotebookNode, folder: str | os.PathLike, *, timeout: int = 600,
            kernel_name: str | None = None, on_cell: Callable[..., object] | None = None, source: str = "notebook") -> None:
    """Run every cell in a fresh kernel started in `folder`; a failing cell is an InputError
    naming the cell and the error it raised."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    kwargs: dict[str, Any] = {"kernel_name": kernel_name} if kernel_name else {}
    client = NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(folder)}},
                            on_cell_executed=on_cell, **kwargs)
    try:
        client.execute()
    except CellTimeoutError:
        raise InputError(f"a cell ran longer than {timeout} s", where=source, hint=f"give it more time ({opt('timeout')})") from None
    except CellExecutionError as e:
        number = next((i + 1 for i, c in enumerate(nb.cells) for o in c.get("outputs", [])
                       if o.get("output_type") == "error"), None)
        raise InputError(f"cell {number} failed: {e.ename}: {e.evalue}" if number else
                         f"a cell failed: {e.ename}: {e.evalue}", where=source,
                         hint="fix the parameters (or the notebook) and export again") from None
    except Exception as e:  # noqa: BLE001 -- a kernel that won't start, a dead kernel
        raise InputError(f"cannot run the notebook: {type(e).__name__}: {e}", where=source,
                         hint="is ipykernel installed in this environment?") from None


def static_outputs(nb: nbformat.NotebookNode) -> int:
    """Keep each widget output's static rendering in place of the live view (and drop the saved
    widget state), as a page without a widget manager must show them; returns how many."""
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                count += 1
    nb.metadata.pop("widgets", None)
    return count


def notebook_html(nb: nbformat.NotebookNode, *, title: str | None = None) -> str:
    """The notebook as one HTML document that loads nothing from the network."""
    import copy

    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    static_outputs(nb)
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({_TEMPLATE_NAME: _OFFLINE_TEMPLATE})])
    exporter.template_file = _TEMPLATE_NAME
    body, _resources = exporter.from_notebook_node(nb, resources={"metadata": {"name": title or "notebook"}})
    return body


def external_references(html_text: str) -> list[str]:
    """URLs a page would load (src/href of scripts, styles, images, frames; CSS imports and url())
    that point off the file: what an offline page must not have."""
    found = re.findall(r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*["']?"""
                       r"""((?:https?:)?//[^"'\s>]+)""", html_text, flags=re.IGNORECASE)
    found += re.findall(r"""@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s]+)""", html_text, flags=re.IGNORECASE)
    found += re.findall(r"""url\(\s*["']?((?:https?:)?//[^"')\s]+)""", html_text, flags=re.IGNORECASE)
    return sorted(set(found))


def export_notebook(path: str | os.PathLike, output: str | os.PathLike, *, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                    timeout: int = 600, kernel_name: str | None = None, execute_cells: bool = True,
                    on_cell: Callable[..., object] | None = None, save_notebook: str | os.PathLike | None = None,
                    follow_symlinks: bool = False) -> dict:
    """Run `path` with `parameters` and write it as offline HTML to `output` (atomically).

    Returns what was done: cells run, widget outputs rendered statically, bytes written.
    ``save_notebook`` also writes the executed notebook (with the static renderings).
    An output that is a symlink is refused (before anything runs) unless ``follow_symlinks``.
    """
    import nbformat

    for target in (output, save_notebook):
        if target is not None:
            check_output(target, follow_symlinks=follow_symlinks)

    path = Path(path)
    nb = read_notebook(path)
    inject_parameters(nb, dict(parameters), source=str(path))
    if execute_cells:
        execute(nb, path.parent.resolve(), timeout=timeout, kernel_name=kernel_name, on_cell=on_cell,
                source=str(path))
    widget_outputs = sum(1 for c in nb.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {}))
    html_text = notebook_html(nb, title=path.stem)
    leaks = external_references(html_text)
    if leaks:
        raise InputError("the HTML would load " + ", ".join(leaks[:5]) + " from the network", where=str(path),
                         hint="an output embeds a remote resource; remove it from the notebook")
    atomic_write(output, html_text, follow_symlinks=follow_symlinks)
    if save_notebook is not None:
        atomic_write(save_notebook, nbformat.writes(nb) + "\n", follow_symlinks=follow_symlinks)
    return {"notebook": str(path), "output": str(output), "cells": len(nb.cells),
            "code_cells": sum(1 for c in nb.cells if c.cell_type == "code"), "widget_outputs": widget_outputs,
            "parameters": dict(parameters), "bytes": len(html_text.encode("utf-8"))}


__all__ = ["export_notebook", "external_references", "inject_parameters", "notebook_html", "parameter_names",
           "parse_value", "static_outputs"]
