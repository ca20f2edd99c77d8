"""The Menu tree view: the Kconfig menus of both arches as menuconfig shows them, one column per arch.

The tree is one anywidget (:class:`TreeWidget`): the rows listed are plain data
in its ``rows`` trait and the browser draws them, so opening a menu of a few
hundred entries is one message each way rather than hundreds of widget models
(plain ipywidgets take seconds for that; ipytree is unmaintained). Rows come
from :mod:`talosnb.analyses.menu`, computed only for the menus that are open.
Clicking a value cycles it like the space bar in menuconfig, through
:meth:`Workspace.set` like every other edit; clicking a row shows its symbol panel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets as widgets
import traitlets

from talosnb.analyses import edit
from talosnb.analyses.menu import FILTER_LABELS, FILTERS, MenuTree
from talosnb.app.session import Session
from talosnb.app.workspace import Workspace
from talosnb.core.errors import TalosnbError
from talosnb.present.edit import change_summary
from talosnb.present.html import TABLE_STYLE, change_html, escape, overridden_html, symbol_panel_html
from talosnb.present.workspace import workspace_text

from .base import View, error_html, workspace_of

if TYPE_CHECKING:
    from talosnb.analyses.symbol import SymbolPanel

_ESM = r"""
function render({ model, el }) {
  el.classList.add("talosnb-tree");
  const head = document.createElement("div");
  head.className = "talosnb-tree-head";
  const body = document.createElement("div");
  body.className = "talosnb-tree-body";
  el.append(head, body);
  const send = (msg) => model.send(msg);
  function cell(r, a) {
    const c = r.cells[a];
    const v = document.createElement("span");
    v.className = "talosnb-val talosnb-" + c.state + (c.next ? " talosnb-toggle" : "");
    v.dataset.arch = a;
    v.textContent = c.notation;
    v.title = c.title;
    if (c.next) {
      v.addEventListener("click", (ev) => { ev.stopPropagation(); send({ event: "toggle", id: r.id, arch: a }); });
    }
    return v;
  }
  function draw() {
    const arches = model.get("arches");
    const rows = model.get("rows");
    const selected = model.get("selected");
    const columns = arches.map(() => "7.5em").join(" ") + " minmax(0, 1fr)";
    head.style.gridTemplateColumns = columns;
    head.replaceChildren(...arches.map((a) => {
      const h = document.createElement("span"); h.textContent = a; h.className = "talosnb-val-h"; return h;
    }), Object.assign(document.createElement("span"), { textContent: "prompt  (symbol)" }));
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const row = document.createElement("div");
      row.className = "talosnb-row talosnb-kind-" + r.kind + (r.id === selected ? " talosnb-selected" : "")
        + (r.differs ? " talosnb-differs" : "") + (r.match ? "" : " talosnb-path");
      row.style.gridTemplateColumns = columns;
      row.dataset.id = r.id;
      if (r.name) row.dataset.name = r.name;
      for (const a of arches) row.append(cell(r, a));
      const label = document.createElement("span");
      label.className = "talosnb-label";
      label.style.paddingLeft = (r.depth * 1.3) + "em";
      const exp = document.createElement("span");
      exp.className = "talosnb-exp";
      exp.textContent = r.children ? (r.expanded ? "\u25be" : "\u25b8") : "";
      if (r.children) {
        exp.title = r.expanded ? "collapse (" + r.children + " entries)" : "expand";
        exp.addEventListener("click", (ev) => {
          ev.stopPropagation(); send({ event: r.expanded ? "collapse" : "expand", id: r.id });
        });
      }
      const text = document.createElement("span");
      text.className = "talosnb-prompt";
      text.textContent = r.text;
      text.title = r.title;
      label.append(exp, text);
      if (r.name) {
        const name = document.createElement("span");
        name.className = "talosnb-name"; name.textContent = r.name;
        label.append(name);
      }
      row.append(label);
      // a click on the row selects it and opens a menu it heads (as Enter does in menuconfig);
      // the arrow opens and closes
      row.addEventListener("click", () => send({ event: "select", id: r.id, open: !!r.children && !r.expanded }));
      frag.append(row);
    }
    body.replaceChildren(frag);
    const target = model.get("scroll_to");
    if (target >= 0) {
      const found = body.querySelector('[data-id="' + target + '"]');
      if (found) found.scrollIntoView({ block: "center" });
    }
    el.dataset.drawn = String(model.get("generation"));
  }
  model.on("change:generation", draw);
  draw();
}
export default { render };
"""

_CSS = """
.talosnb-tree { font-size: 13px; border: 1px solid #ccc; max-width: 1100px; }
.talosnb-tree-head, .talosnb-row { display: grid; column-gap: 4px; align-items: baseline; padding: 1px 6px; }
.talosnb-tree-head { background: #f3f3f3; font-weight: bold; border-bottom: 1px solid #ccc; text-align: left; }
.talosnb-tree-body { max-height: 520px; overflow-y: auto; }
.talosnb-row { cursor: default; }
.talosnb-row:hover { background: #f0f6ff; }
.talosnb-row.talosnb-selected { background: #dbe9ff; }
.talosnb-row.talosnb-differs .talosnb-val { background: #fff4d6; }
.talosnb-row.talosnb-path .talosnb-prompt { color: #777; }
.talosnb-val, .talosnb-val-h { font-family: monospace; white-space: pre; text-align: left; overflow: hidden;
  text-overflow: ellipsis; }
.talosnb-val.talosnb-toggle { cursor: pointer; text-decoration: underline dotted; }
.talosnb-val.talosnb-elsewhere { color: #888; font-style: italic; }
.talosnb-label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.talosnb-exp { display: inline-block; width: 1.2em; cursor: pointer; color: #555; }
.talosnb-kind-menu .talosnb-prompt, .talosnb-kind-choice .talosnb-prompt { font-weight: bold; }
.talosnb-kind-comment .talosnb-prompt { color: #666; font-style: italic; }
.talosnb-name { color: #888; font-family: monospace; margin-left: 0.8em; font-size: 12px; }
"""


class TreeWidget(anywidget.AnyWidget):
    """The rows of a MenuTreeView, drawn in the browser; clicks come back as messages."""

    _esm = _ESM
    _css = _CSS
    arches = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows: traitlets.List[dict] = traitlets.List().tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    scroll_to = traitlets.Int(-1).tag(sync=True)
    generation = traitlets.Int(0).tag(sync=True)   # bumped after every change, so the view draws once


LEGEND = ("<div class='talosnb-legend' style='font-size:12px;color:#444'>"
          "<code>[*]</code>/<code>[ ]</code> bool on/off, <code>&lt;*&gt;</code> built in, "
          "<code>&lt;M&gt;</code> module, <code>&lt; &gt;</code> off, <code>{M}</code>/<code>{*}</code> "
          "kept at least m by select, <code>-*-</code>/<code>-M-</code> selected or fixed, "
          "<code>(X)</code> the chosen member of a choice, <code>(512)</code> a value, <code>---</code> "
          "hidden on that arch; <i>grey italics</i>: the arch defines it under another menu; blank: not "
          "defined on that arch; yellow: the arches differ. Click a dotted value to change it as the "
          "space bar does in menuconfig; click a row for its panel (and to open the menu it heads).</div>")


class MenuTreeView(View):
    """Both arches' menus merged: filters, a text filter, expand/collapse, value toggles, the panel."""

    TAB_TITLE = "Menu tree"

    def __init__(self, workspace: Workspace, *, auto: bool = True,
                 on_open_symbol: Callable[[str], None] | None = None) -> None:
        self.on_open_symbol = on_open_symbol
        self.tree: MenuTree = workspace.menu_tree()
        self.expanded: set[int] = set()
        self.selected_symbol: str | None = None
        self.last_changes: Mapping[str, edit.ChangeSet] = {}
        self.timings: list[tuple[str, float]] = []     # (event, seconds) of each handled click, newest last
        self._rows_cache: tuple[tuple, dict[int, dict]] | None = None
        self.mode = widgets.ToggleButtons(options=[(FILTER_LABELS[f], f) for f in FILTERS], value="visible",
                                          description="show", style={"button_width": "auto"},
                                          tooltips=["entries whose prompt shows on some arch",
                                                    "every entry, hidden ones and those without a prompt too",
                                                    "entries shown on some arch whose value differs between the arches",
                                                    "entries with a CONFIG_...= line in some arch's config"])
        self.text = widgets.Text(description="filter", placeholder="symbol name or prompt",
                                 continuous_update=True, layout=widgets.Layout(width="360px"))
        self.collapse_button = widgets.Button(description="collapse all", icon="compress",
                                              layout=widgets.Layout(width="auto"))
        self.count = widgets.HTML()
        self.view = TreeWidget(arches=list(workspace.arches))
        self.outcome = widgets.HTML()
        self.outcome.add_class("talosnb-tree-outcome")
        self.panel = widgets.HTML()
        self.panel.add_class("talosnb-tree-panel")
        self.explore_button = widgets.Button(description="edit in Explore", icon="pencil", disabled=True,
                                             layout=widgets.Layout(width="auto"),
                                             tooltip="open the symbol in the Explore & toggle tab")
        self.path_box = widgets.HBox()
        self.mode.observe(lambda _: self._filters_changed(), names="value")
        self.text.observe(lambda _: self._filters_changed(), names="value")
        self.collapse_button.on_click(lambda _: self.collapse_all())
        self.explore_button.on_click(lambda _: self._open_in_explore())
        self.view.on_msg(self._message)
        # the outcome and the panel beside the tree: a click shows them next to the row clicked (the
        # tree scrolls in its own box), not under the whole tree
        side = widgets.VBox([self.outcome, widgets.HBox([self.explore_button, self.path_box],
                                                        layout=widgets.Layout(flex_flow="row wrap")), self.panel],
                            layout=widgets.Layout(flex="1 1 40%", min_width="360px", max_height="640px",
                                                  overflow="auto", padding="0 0 0 8px"))
        side.add_class("talosnb-tree-side")
        self.view.layout = widgets.Layout(flex="1 1 60%", min_width="0")
        children = [widgets.HBox([self.mode]), widgets.HBox([self.text, self.collapse_button, self.count]),
                    widgets.HTML(LEGEND), widgets.HBox([self.view, side], layout=widgets.Layout(width="100%")),
                    ]
        super().__init__(workspace, children, auto=auto)
        self.redraw()

    def __repr__(self) -> str:
        return f"MenuTreeView({workspace_text(self.workspace).splitlines()[0]})"

    # --- state ---------------------------------------------------------------------

    @property
    def stamp(self) -> int:
        return self.workspace.version

    def _filter(self) -> tuple[str, str]:
        return self.mode.value, self.text.value.strip()

    def refresh(self) -> None:
        super().refresh()
        self.redraw()
        if self.selected_symbol:
            self.show_symbol(self.selected_symbol, scroll=False)

    def _filters_changed(self) -> None:
        mode, text = self._filter()
        if text:
            # open the way to every match when there are few enough to read
            self.tree._at(self.stamp)
            matches = [r.id for r in self.tree.rows[1:] if self.tree._match(r, mode, text.lower())]
            if len(matches) <= 60:
                for row_id in matches:
                    self.expanded.update(self.tree.path(row_id))
        self.redraw()

    def _row_data(self, row_id: int) -> dict:
        mode, text = self._filter()
        key = (self.stamp, mode, text)
        if self._rows_cache is None or self._rows_cache[0] != key:
            self._rows_cache = (key, {})
        cache = self._rows_cache[1]
        row = cache.get(row_id)
        if row is None:
            row = cache[row_id] = self._compact(self.tree.row_data(row_id, mode, text, stamp=self.stamp))
        return row

    def _compact(self, data: dict) -> dict:
        """What the browser needs of a row (row_data plus tooltips)."""
        cells = {}
        name = data["name"]
        for arch, c in data["arches"].items():
            if c["state"] == "undefined":
                title = f"not defined on {arch}"
            elif data["kind"] in ("menu", "comment"):
                title = f"{arch}: " + ("shown" if c["visible"] else "hidden")
            else:
                value = c["value"] if c["value"] is not None else "-"
                title = f"{arch}: {name or data['prompt']} = {value}"
                if c["state"] == "elsewhere":
                    title += f" (defined under another menu on {arch}: {c.get('where', '')})"
                elif not c["visible"]:
                    title += " (its prompt is hidden on this arch)"
                if c.get("next"):
                    title += f"; click: set {name}={c['next']} on {arch}"
            cells[arch] = {"notation": c["notation"], "state": c["state"], "next": c.get("next"), "title": title}
        prompt = data["prompt"] or (f"({data['name']}: no prompt)" if data["name"] else "")
        text = f"*** {prompt} ***" if data["kind"] == "comment" else prompt
        if data["kind"] in ("menu", "choice") or data["menuconfig"]:
            # menuconfig's mark of an entry that opens a menu of its own; "----" when there is nothing in
            # it to see (mconf's menu_is_empty): a menuconfig symbol that is off on every arch
            defined = [c for c in data["arches"].values() if c["state"] != "undefined"]
            off = (data["kind"] == "symbol" and data["menuconfig"] and bool(defined)
                   and all(c["value"] == "n" for c in defined))
            text += "  ----" if off else "  --->"
        title = prompt + (f"  (CONFIG_{name}, {data['type']})" if data["kind"] == "symbol" else "")
        return {"id": data["id"], "kind": data["kind"], "name": name, "text": text, "title": title,
                "depth": data["depth"], "children": data["children"], "differs": data["differs"],
                "match": data["match"], "cells": cells}

    def rows(self) -> list[dict]:
        """The rows listed now (what the browser draws), in order."""
        mode, text = self._filter()
        out = []
        stack = list(reversed(self.tree.children(0, mode, text, stamp=self.stamp)))
        while stack:
            row_id = stack.pop()
            row = dict(self._row_data(row_id))
            row["expanded"] = row_id in self.expanded and row["children"] > 0
            out.append(row)
            if row["expanded"]:
                below = self.tree.children(row_id, mode, text, stamp=self.stamp)
                row["children"] = len(below)
                stack.extend(reversed(below))
        return out

    def redraw(self, *, scroll_to: int = -1) -> None:
        if self.stale and not self.auto and self.view.rows:
            return
        rows = self.rows()
        mode, text = self._filter()
        matched = self.tree.count(mode, text, stamp=self.stamp) if (text or mode != "visible") else None
        self.count.value = (f"{len(rows)} rows listed" + (f"; {matched} entries match" if matched is not None
                                                           else ""))
        with self.view.hold_sync():
            self.view.rows = rows
            self.view.scroll_to = scroll_to
            self.view.generation += 1

    # --- actions (what a click does) --------------------------------------------------

    def _message(self, _widget: object, content: Any, _buffers: list) -> None:   # JSON from the frontend
        start = time.perf_counter()
        event, row_id = content.get("event"), content.get("id")
        if event == "expand":
            self.expand(row_id)
        elif event == "collapse":
            self.collapse(row_id)
        elif event == "select":
            self.select_row(row_id, open_menu=bool(content.get("open")))
        elif event == "toggle":
            self.toggle(row_id, content.get("arch"))
        self.timings.append((event, time.perf_counter() - start))
        del self.timings[:-200]

    def expand(self, row_id: int) -> None:
        self.expanded.add(row_id)
        self.redraw()

    def collapse(self, row_id: int) -> None:
        self.expanded.discard(row_id)
        self.redraw()

    def collapse_all(self) -> None:
        self.expanded.clear()
        self.redraw()

    def reveal(self, symbol: str, menu_path: list[str] | None = None) -> int | None:
        """Open the menus down to a symbol (the place whose menu path is `menu_path`, when it has
        several) and select it; returns its row id."""
        rows = self.tree.find(symbol)
        if not rows:
            return None
        chosen = rows[0]
        if menu_path is not None:
            chosen = next((r for r in rows if self.tree.path_prompts(r) == list(menu_path)), chosen)
        mode, text = self._filter()
        if not self.tree.shown(chosen, mode, text, stamp=self.stamp):
            self.mode.value, self.text.value = "all", ""
        self.expanded.update(self.tree.path(chosen))
        self.view.selected = chosen
        self.redraw(scroll_to=chosen)
        self.show_symbol(symbol, scroll=False)
        return chosen

    def select_row(self, row_id: int, *, open_menu: bool = False) -> None:
        """Select a row and show its symbol's panel; `open_menu`: open the menu it heads too."""
        self.view.selected = row_id
        if open_menu and row_id not in self.expanded:
            self.expand(row_id)
        row = self.tree.rows[row_id]
        if row.kind == "symbol":
            assert row.name is not None   # a symbol row has its symbol's name
            self.show_symbol(row.name, scroll=False)
        else:
            self.selected_symbol = None
            self.panel.value = ""
            self.explore_button.disabled = True
            self.path_box.children = ()

    def show_symbol(self, name: str, *, scroll: bool = True) -> None:
        try:
            panel = self.workspace.symbol_panel(name)
        except TalosnbError as e:
            self.panel.value = error_html(e)
            return
        self.selected_symbol = name
        self.panel.value = symbol_panel_html(panel)
        self.explore_button.disabled = self.on_open_symbol is None
        self.explore_button.description = f"edit {name} in Explore"
        self.path_box.children = tuple(menu_path_buttons(panel, lambda path: self.reveal(name, path)))

    def toggle(self, row_id: int, arch: str) -> Mapping[str, edit.ChangeSet]:
        """Cycle a row's value on one arch (menuconfig's space bar) through Workspace.set."""
        row = self.tree.rows[row_id]
        cell = self._row_data(row_id)["cells"].get(arch)
        if row.kind != "symbol" or cell is None or not cell["next"]:
            return {}
        assert row.name is not None   # a symbol row has its symbol's name
        return self.set_value(row.name, cell["next"], arch, row_id=row_id)

    def set_value(self, name: str, value: str, arch: str, *,
                  row_id: int | None = None) -> Mapping[str, edit.ChangeSet]:
        try:
            changes = self.workspace.set([edit.Assignment(name, value)], arches=[arch])
        except TalosnbError as e:
            self.outcome.value = error_html(e)
            return {}
        self.last_changes = changes
        head = (f"<div><b>{escape(name)}={escape(value)}</b> on {escape(arch)}: "
                + escape("; ".join(change_summary(c) for c in changes.values())) + "</div>")
        blocked = getattr(changes, "blocked", None)
        if blocked and not changes.refused:
            # the module-list guard, as everywhere; Explore offers the way past it
            errors = "".join(f"<li>{escape(f['arch'])}: {escape(f['message'])}</li>" for f in changes.module_list_errors)
            head += (f"<div class='talosnb-err'>Not changed: {escape(blocked)}<ul>{errors}</ul>"
                     "<i>To change it anyway, use “edit in Explore”.</i></div>")
        head += overridden_html(getattr(changes, "overridden", []),
                                "Undo in the Explore & toggle tab takes this change back.")
        self.outcome.value = TABLE_STYLE + head + "".join(change_html(c) for c in changes.values())
        if row_id is not None:
            self.view.selected = row_id
        if self.stale:
            self.refresh()
        return changes

    def _open_in_explore(self) -> None:
        if self.on_open_symbol is not None and self.selected_symbol:
            self.on_open_symbol(self.selected_symbol)

    def static_html(self) -> str:
        """What the view shows, as plain HTML (for saved notebooks and exported pages): the filter,
        the legend, the rows listed (indented, one value column per arch), the last outcome and
        the symbol panel."""
        arches = list(self.view.arches)
        head = "".join(f"<th>{escape(a)}</th>" for a in arches) + "<th>prompt (symbol)</th>"
        body = ""
        for row in self.view.rows:
            cells = "".join(f"<td><code>{escape(row['cells'][a]['notation'])}</code></td>" for a in arches)
            mark = ("&#9662; " if row["expanded"] else "&#9656; ") if row["children"] else ""
            name = f" <code>{escape(row['name'])}</code>" if row["name"] else ""
            indent = f"padding-left:{0.4 + 1.3 * row['depth']:.1f}em"
            body += f"<tr>{cells}<td style='{indent}'>{mark}{escape(row['text'])}{name}</td></tr>"
        mode, text = self._filter()
        shown = FILTER_LABELS[mode] + (f", filter “{escape(text)}”" if text else "")
        return (TABLE_STYLE + f"<div><b>show:</b> {shown}; {escape(self.count.value)}</div>" + LEGEND
                + f"<table class='talosnb-t'><tr>{head}</tr>{body}</table>" + self.outcome.value + self.panel.value)

    # --- for tests and benchmarks -----------------------------------------------------

    def row_text(self, row_id: int) -> str:
        """A row as one line of text: each arch's notation, then the prompt and the symbol."""
        row = next((r for r in self.view.rows if r["id"] == row_id), None) or self._row_data(row_id)
        values = "  ".join(f"{row['cells'][a]['notation'] or '':5}" for a in self.view.arches)
        return f"{values}  {row['text']}" + (f"  ({row['name']})" if row["name"] else "")

    def as_text(self) -> str:
        """The rows listed now as plain text, one per line, indented as in the tree (what a saved
        notebook or a log keeps of the view)."""
        width = max([9, *(len(r["cells"][a]["notation"]) for r in self.view.rows for a in self.view.arches)])
        arches = "  ".join(f"{a:<{width}}" for a in self.view.arches)
        lines = [f"{arches}  prompt (symbol)"]
        for row in self.view.rows:
            values = "  ".join(f"{row['cells'][a]['notation'] or '':<{width}}" for a in self.view.arches)
            mark = ("v " if row["expanded"] else "> ") if row["children"] else "  "
            name = f"  ({row['name']})" if row["name"] else ""
            lines.append(f"{values}  {'    ' * row['depth']}{mark}{row['text']}{name}".rstrip())
        return "\n".join(lines)


def menu_path_buttons(panel: SymbolPanel, on_click: Callable[[list[str]], object]) -> list[widgets.Widget]:
    """The menu path of each place a symbol is defined, as buttons that open the tree there."""
    paths: list[tuple[str, ...]] = []
    for side in panel.defined:
        for d in side.definitions:
            if tuple(d.menu_path) not in paths:
                paths.append(tuple(d.menu_path))
    out: list[widgets.Widget] = [widgets.HTML("<b>menu:</b>")] if paths else []
    for path in paths:
        label = " > ".join(path) or "(top level)"
        # the whole path shown (a long one wraps rather than being cut)
        button = widgets.Button(description=label, tooltip=f"open the menu tree at {label}",
                                layout=widgets.Layout(width="auto", height="auto"))
        button.on_click(lambda _, p=list(path): on_click(p))
        out.append(button)
    return out


def menu_tree(session: Session | Workspace | None = None, **inputs: Any) -> MenuTreeView:
    """The Menu tree view on its own (for a notebook cell): a session or Workspace, or the inputs
    of :func:`talosnb.widgets.open_workspace` (none: the embedded sample)."""
    return MenuTreeView(workspace_of(session, inputs))
