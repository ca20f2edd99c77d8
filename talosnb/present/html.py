"""HTML fragments of analysis results for notebooks and reports: tables, cascades, why-not trees,
the symbol panel, the build gates' summary. Every text from the inputs is escaped."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from talosnb.analyses import edit

if TYPE_CHECKING:
    from talosnb.analyses.findings import Finding
    from talosnb.analyses.gates import GateReport
    from talosnb.analyses.symbol import ArchPanel, SymbolPanel

from . import edit as edit_words
from . import text as words
from .gates import gate_note

if TYPE_CHECKING:
    from talosnb.app.workspace import Overridden


def escape(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


TABLE_STYLE = ("<style>.talosnb-t{border-collapse:collapse;font-size:12px}"
                ".talosnb-t th,.talosnb-t td{border:1px solid #ddd;padding:2px 6px;text-align:left;"
                "vertical-align:top}.talosnb-t th{background:#f3f3f3}"
                ".talosnb-err{border:2px solid #c00;background:#fee;padding:6px;color:#600}"
                ".talosnb-ok{border:2px solid #2a2;background:#efe;padding:6px}"
                ".talosnb-fixed{color:#a00}"
                ".talosnb-panel td,.talosnb-panel th{font-size:12px}.talosnb-panel th{white-space:nowrap}"
                ".talosnb-panel code{white-space:pre-wrap}.talosnb-help p{margin:0 0 6px 0}"
                ".talosnb-help pre{margin:0 0 6px 0;white-space:pre-wrap}.talosnb-help{font-family:inherit;"
                "margin:2px 0 6px 0;padding:4px 8px;background:#f8f8f8;border-left:3px solid #ccc}"
                ".talosnb-dim{color:#888}</style>")


def frame_html(df: pd.DataFrame) -> str:
    if df is None or not len(df):
        return "<i>nothing to show</i>"
    # a missing value is an empty cell: pandas writes None in an object column as "None"
    df = df.astype(object).where(df.notna(), "")
    # headers over their (left-aligned) cells: pandas right-aligns them unless told
    return df.to_html(index=False, escape=True, na_rep="", border=0, classes="talosnb-t", justify="left")


def cascade_html(cascade: Sequence[edit.CascadeChange], limit: int = 200) -> str:
    """The real changes first; the lines only written because a prompt became visible (n), folded."""
    if not cascade:
        return "<i>no line changes</i>"
    real, shown = edit_words.cascade_groups(cascade)
    out = _cascade_table(real, limit) if real else ""
    if shown:
        out += (f"<details class='talosnb-now-visible'><summary>{escape(edit_words.now_visible_line(shown))}</summary>"
                f"{_cascade_table(shown, limit)}</details>")
    return out


def _cascade_table(cascade: Sequence[edit.CascadeChange], limit: int) -> str:
    rows = "".join(f"<tr><td><code>{escape(c.symbol)}</code></td><td>{escape(words.line_value(c.old))}</td>"
                   f"<td>{escape(words.line_value(c.new))}</td><td>{escape(c.reason)}</td></tr>" for c in cascade[:limit])
    more = (f"<tr><td colspan=4><i>... and {len(cascade) - limit} more</i></td></tr>"
            if len(cascade) > limit else "")
    return (f"<table class='talosnb-t'><tr><th>symbol</th><th>was</th><th>now</th><th>why</th></tr>"
            f"{rows}{more}</table>")


def reason_html(reason: edit.Reason) -> str:
    where = f" <code>{escape(reason.where)}</code>" if reason.where else ""
    fixed = " <span class='talosnb-fixed'>[fixed: no assignment changes it]</span>" if reason.fixed else ""
    children = "".join(reason_html(c) for c in reason.children)
    return f"<li>{escape(reason.text)}{where}{fixed}" + (f"<ul>{children}</ul>" if children else "") + "</li>"


def refusal_html(refusal: edit.Refusal) -> str:
    head = html.escape(edit_words.refusal_head(refusal), quote=False).replace(
        html.escape(str(refusal.assignment), quote=False), f"<b>{escape(refusal.assignment)}</b>", 1)
    out = f"{head}<ul>{''.join(reason_html(r) for r in refusal.reasons)}</ul>"
    fix = refusal.fix
    if fix is not None:
        if fix.found:
            out += (f"<b>verified fix:</b> set <code>{escape(' '.join(str(a) for a in fix.assignments))}</code> "
                    f"({fix.tried} candidate(s) tried); with it, {len(fix.cascade)} line(s) change:"
                    f"<details><summary>side effects</summary>{cascade_html(fix.cascade, 100)}</details>")
        else:
            out += f"<i>{escape(edit_words.fix_head(fix, refusal))}</i>"
    return out


def change_html(change: edit.ChangeSet) -> str:
    out = f"<h4>{escape(edit_words.change_head(change))}</h4>"
    for name in change.undefined:
        out += f"<div><i>{escape(edit_words.undefined_line(name, change.arch))}</i></div>"
    if change.refusals:
        out += "".join(f"<div>{refusal_html(r)}</div>" for r in change.refusals)
    else:
        if change.toolchain:
            out += (f"<div><b>{escape(edit_words.TOOLCHAIN_HEADING)}</b><ul>"
                    + "".join(f"<li><code>{escape(edit_words.probe_line(c))}</code></li>" for c in change.toolchain)
                    + "</ul></div>")
        out += cascade_html(change.cascade)
    return out


def _panel_cells(panel: ArchPanel, fact: str) -> str:
    """One fact of one arch's side of the symbol panel, as HTML (the wording is present.text's)."""
    if fact == "defined at":
        return "<br>".join(f"<code>{escape(d.where)}</code> " + (
            f"“{escape(d.prompt)}”" + ("" if d.visible else " <span class='talosnb-dim'>(hidden)</span>")
            if d.prompt else "<span class='talosnb-dim'>(no prompt)</span>") for d in panel.definitions)
    if fact == "prompt shown if":
        return "<br>".join(f"<code>{escape(words.expression(d.visible_if))}</code>" if d.visible_if else "-"
                           for d in panel.definitions if d.prompt) or "-"
    if fact == "value":
        return f"<b>{escape(panel.value if panel.value != '' else chr(34) * 2)}</b> " \
               f"<code class='talosnb-dim'>{escape(panel.line or words.NO_LINE)}</code>"
    plain = {"why": lambda: panel.reason, "assignable": lambda: words.assignable_text(panel),
             "range": lambda: words.range_text(panel.range), "default": lambda: words.default_text(panel.default)}
    if fact in plain:
        return escape(plain[fact]())
    if fact == "depends on":
        return f"<code>{escape(words.expression(panel.depends_on))}</code>"
    if fact == "modules":
        return "<br>".join(escape(line) for line in words.modules_text(panel)) or "-"
    if fact == "choice":
        if panel.choice is None:
            return "-"
        name, where, selection = words.choice_text(panel.choice)
        return f"{escape(name)} <code>{escape(where)}</code>; selected: <code>{escape(selection)}</code>"
    if fact in ("selects", "implies"):
        targets = panel.selects if fact == "selects" else panel.implies
        return "<br>".join(f"<code>{escape(words.target_line(t))}</code>" for t in targets) or "-"
    groups = words.reverse_groups(panel.selected_by if fact == "selected by" else panel.implied_by)
    return "<br>".join(f"[{escape(v)}]: " + "<br>&nbsp;&nbsp;".join(f"<code>{escape(t)}</code>" for t in terms)
                       for v, terms in groups) or "-"


def history_html(df: pd.DataFrame, limit: int = 20) -> str:
    """A config line's history (talosnb.analyses.history.history_of) as a table, newest first:
    kernel bumps, reorder-only commits and moved lines marked; absent values as (no line)."""
    if df is None or not len(df):
        return "<i>no commit changed this line</i>"
    rows = []
    r: Any   # pandas-stubs types itertuples() fields as any scalar: here the history frame's columns
    for r in df.head(limit).itertuples():
        marks = [m for m, on in ((f"kernel bump {r.kernel_bump}", bool(r.kernel_bump)),
                                 ("reorder only", bool(r.reorder_only)), ("line moved", r.change == "moved")) if on]
        rows.append(f"<tr><td>{escape(r.date)}</td><td><code>{escape(r.commit)}</code></td><td>{escape(r.arch)}</td>"
                    f"<td>{escape(_line(r.before))} &rarr; {escape(_line(r.after))}</td><td>{escape(r.subject)}"
                    + (f" <i>[{escape('; '.join(marks))}]</i>" if marks else "") + "</td></tr>")
    more = (f"<tr><td colspan=5><i>... and {len(df) - limit} older</i></td></tr>" if len(df) > limit else "")
    return ("<table class='talosnb-t'><tr><th>date</th><th>commit</th><th>arch</th><th>value</th><th>subject</th></tr>"
            + "".join(rows) + more + "</table>")


def _line(value: str | None) -> str:
    return words.NO_LINE if value is None else (value if value != "" else '""')


def overridden_html(items: Sequence[Overridden], undo: str) -> str:
    """Values the user set earlier that a change replaced, as a warning pointing to `undo`."""
    if not items:
        return ""
    lines = "".join(f"<li>{escape(words.overridden_line(o))}</li>" for o in items)
    return (f"<div class='talosnb-err talosnb-overridden'>This changes a value you set earlier:<ul>{lines}</ul>"
            f"<i>{escape(undo)}</i></div>")


def help_html(text: str) -> str:
    """A help text as menuconfig's help screen reads: flowing paragraphs, indented blocks kept."""
    return "".join(f"<p>{escape(body)}</p>" if kind == "text" else f"<pre>{escape(body)}</pre>"
                   for kind, body in words.help_blocks(text))


def symbol_panel_html(panel: SymbolPanel) -> str:
    """The symbol panel (analyses.symbol.symbol_panel): every fact per arch, side by side; help
    under its own heading (per arch when the arches' help texts differ)."""
    arches = list(panel.arches)
    sides = panel.arches
    defined = panel.defined
    # the facts present.text shows, the table's rows led by where the symbol is defined
    facts = ["defined at", *(f for f in words.panel_facts(defined) if f != "defined at")]
    head = "".join(f"<th>{escape(a)}</th>" for a in arches)
    body = ""
    for fact in facts:
        cells = "".join(f"<td>{_panel_cells(side, fact)}</td>" if side is not None else
                        f"<td class='talosnb-dim'><i>not defined on {escape(a)}</i></td>"
                        for a, side in sides.items())
        body += f"<tr><th>{escape(words.fact_label(fact, panel.type))}</th>{cells}</tr>"
    helps = ""
    if panel.help:
        helps = f"<h4 style='margin:6px 0 2px 0'>Help</h4><div class='talosnb-help'>{help_html(panel.help)}</div>"
    elif any(p.help for p in defined):
        for arch, side in sides.items():
            if side is not None:
                text = side.help.strip() if side.help else "(no help text on this arch)"
                helps += (f"<h4 style='margin:6px 0 2px 0'>Help ({escape(arch)})</h4>"
                          f"<div class='talosnb-help'>{help_html(text)}</div>")
    prompt = panel.prompt or "(no prompt: set only by defaults, select or imply)"
    return (TABLE_STYLE
            + f"<h3 style='margin:4px 0'>CONFIG_{escape(panel.symbol)}</h3>"
            + f"<div><i>{escape(prompt)}</i> — {escape(panel.type)}</div>"
            + f"<table class='talosnb-t talosnb-panel'><tr><th></th>{head}</tr>{body}</table>"
            + helps)


# (a gate with no status on an arch looks up None: no style)
_STATUS_STYLE: dict[str | None, str] = {"pass": "background:#efe;color:#060",
                                        "fail": "background:#fee;color:#a00;font-weight:bold",
                                        "not-run": "color:#777"}


def gates_summary_html(report: GateReport) -> str:
    """The build gates' summary (the Build gates tab): each gate, with what it checks, its status per
    arch and its notes; a warning per checker that is not the Pkgfile's."""
    from talosnb.analyses.gates import GATE_TITLES

    arches = report.arches
    rows = ""
    for gate, per_arch in report.statuses().items():
        notes = "; ".join(dict.fromkeys(note for r in report.gate_results(gate) if (note := gate_note(r))))
        cells = "".join(f"<td style='{_STATUS_STYLE.get(per_arch.get(a), '')}'>{escape(per_arch.get(a, '-'))}</td>"
                        for a in arches)
        rows += f"<tr><td><b>{escape(gate)}</b><br><small>{escape(GATE_TITLES[gate])}</small></td>{cells}<td>{escape(notes)}</td></tr>"
    head = "".join(f"<th>{escape(a)}</th>" for a in arches)
    warnings = "".join(f"<div class='talosnb-err'>{escape(c.message)}</div>" for c in report.version_checks
                       if c.kind == "mismatch")
    return (TABLE_STYLE + f"<table class='talosnb-t'><tr><th>gate</th>{head}<th>note</th></tr>{rows}</table>"
            + warnings)


def gate_finding_html(finding: Finding) -> str:
    """One gate finding as the Build gates tab details it: level, gate, arch and message, its fix,
    where, the why-not tree, and what saving does for an option olddefconfig already fixes."""
    parts = [(f"<div><b>{escape(finding.level)}</b> ({escape(finding.details.get('gate'))} gate, "
              f"{escape(finding.arch)}): {escape(finding.message)}</div>")]
    if finding.fix:
        parts.append(f"<div>fix: <code>{escape(finding.fix)}</code></div>")
    if finding.where:
        parts.append(f"<div>where: <code>{escape(finding.where)}</code></div>")
    why_not = finding.details.get("why_not")
    if why_not:
        parts.append("<div>why not:<ul>" + "".join(_why_not_html(r) for r in why_not) + "</ul></div>")
    if finding.details.get("normalize"):
        parts.append("<div><i>make olddefconfig already gives the checker what it wants: saving (the "
                     "Save tab) writes the config as olddefconfig does.</i></div>")
    return "".join(parts)


def _why_not_html(reason: Mapping[str, Any]) -> str:
    """A why-not tree's node as a finding's details hold it (``Reason.as_dict``), with its children."""
    where = f" <code>{escape(reason['where'])}</code>" if reason.get("where") else ""
    fixed = " <span class='talosnb-fixed'>[fixed: no assignment changes it]</span>" if reason.get("fixed") else ""
    children = "".join(_why_not_html(c) for c in reason.get("children", []))
    return f"<li>{escape(reason['text'])}{where}{fixed}" + (f"<ul>{children}</ul>" if children else "") + "</li>"
