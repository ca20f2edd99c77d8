"""HTML fragments of analysis results for notebooks and reports: tables, cascades, why-not trees,
the symbol panel. Every text from the inputs is escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from talosnb.analyses import edit


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: str | None) -> str:
    return "(not written)" if value is None else value


_TABLE_STYLE = ("<style>.talosnb-t{border-collapse:collapse;font-size:12px}"
                ".talosnb-t th,.talosnb-t td{border:1px solid #ddd;padding:2px 6px;text-align:left;"
                "vertical-align:top}.talosnb-t th{background:#f3f3f3}"
                ".talosnb-err{border:2px solid #c00;background:#fee;padding:6px;color:#600}"
                ".talosnb-ok{border:2px solid #2a2;background:#efe;padding:6px}"
                ".talosnb-fixed{color:#a00}</style>")


def frame_html(df: pd.DataFrame) -> str:
    if df is None or not len(df):
        return "<i>nothing to show</i>"
    return df.to_html(index=False, escape=True, na_rep="", border=0, classes="talosnb-t")


def cascade_html(cascade: Sequence[edit.CascadeChange], limit: int = 200) -> str:
    if not cascade:
        return "<i>no line changes</i>"
    rows = "".join(f"<tr><td><code>{_e(c.symbol)}</code></td><td>{_e(_fmt(c.old))}</td>"
                   f"<td>{_e(_fmt(c.new))}</td><td>{_e(c.reason)}</td></tr>" for c in cascade[:limit])
    more = (f"<tr><td colspan=4><i>... and {len(cascade) - limit} more</i></td></tr>"
            if len(cascade) > limit else "")
    return (f"<table class='talosnb-t'><tr><th>symbol</th><th>was</th><th>now</th><th>why</th></tr>"
            f"{rows}{more}</table>")


def reason_html(reason: edit.Reason) -> str:
    where = f" <code>{_e(reason.where)}</code>" if reason.where else ""
    fixed = " <span class='talosnb-fixed'>[fixed: no assignment changes it]</span>" if reason.fixed else ""
    children = "".join(reason_html(c) for c in reason.children)
    return f"<li>{_e(reason.text)}{where}{fixed}" + (f"<ul>{children}</ul>" if children else "") + "</li>"


def refusal_html(refusal: edit.Refusal) -> str:
    out = (f"<b>{_e(refusal.assignment)}</b> can't take effect: it ends as {_e(_fmt(refusal.got))}"
           f"<ul>{''.join(reason_html(r) for r in refusal.reasons)}</ul>")
    fix = refusal.fix
    if fix is not None:
        if fix.found:
            out += (f"<b>verified fix:</b> set <code>{_e(' '.join(str(a) for a in fix.assignments))}</code> "
                    f"({fix.tried} candidate(s) tried); with it, {len(fix.cascade)} line(s) change:"
                    f"<details><summary>side effects</summary>{cascade_html(fix.cascade, 100)}</details>")
        else:
            out += f"<i>{_e(fix.text())}</i>"
    return out


def change_html(change: edit.ChangeSet) -> str:
    head = change.text().splitlines()[0]
    out = f"<h4>{_e(head)}</h4>"
    for name in change.undefined:
        out += f"<div><i>{_e(name)} is not defined on {_e(change.arch)}</i></div>"
    if change.refusals:
        out += "".join(f"<div>{refusal_html(r)}</div>" for r in change.refusals)
    else:
        out += cascade_html(change.cascade)
    return out


def symbol_html(view: dict) -> str:
    """The symbol panel: prompt, type, help, where, relations, value per arch."""
    def items(values):
        return ", ".join(f"<code>{_e(v)}</code>" for v in values) or "-"

    selects = [s["symbol"] + (f" if {s['if']}" if s["if"] else "") for s in view["selects"]]
    rows = ""
    for arch, info in view["arches"].items():
        if info is None:
            rows += f"<tr><td>{_e(arch)}</td><td colspan=4><i>not defined on {_e(arch)}</i></td></tr>"
            continue
        value = info["value"] if info["value"] != "" else '""'
        rows += (f"<tr><td>{_e(arch)}</td><td><b>{_e(value)}</b></td>"
                 f"<td>{_e(info['reason'])}</td><td>{_e(', '.join(info['assignable']) or '-')}</td>"
                 f"<td>{_e(info['written_as'] or '(no line)')}</td></tr>")
    menu = " &gt; ".join(_e(m) for m in view["menu_path"])
    help_text = f"<pre style='white-space:pre-wrap'>{_e(view['help'].strip())}</pre>" if view["help"] else ""
    return (
        _TABLE_STYLE
        + f"<h3 style='margin:4px 0'>CONFIG_{_e(view['symbol'])}</h3>"
        + f"<div><i>{_e(view['prompt'] or '(no prompt: set only by defaults, select or imply)')}</i></div>"
        + f"<div>type <b>{_e(view['type'])}</b>; defined at {items(view['defined_at'])}</div>"
        + (f"<div>menu: {menu}</div>" if menu else "")
        + f"<div>depends on: <code>{_e(view['depends_on'] or '-')}</code></div>"
        + f"<div>selects: {items(selects)}</div>"
        + f"<div>selected by: {items(view['selected_by'])}; implied by: {items(view['implied_by'])}</div>"
        + "<table class='talosnb-t'><tr><th>arch</th><th>value</th><th>why</th><th>assignable</th>"
        + f"<th>config line</th></tr>{rows}</table>"
        + help_text)


def history_html(df: pd.DataFrame, limit: int = 20) -> str:
    """A config line's history (talosnb.analyses.history.history_of) as a table, newest first:
    kernel bumps, reorder-only commits and moved lines marked; absent values as (no line)."""
    if df is None or not len(df):
        return "<i>no commit changed this line</i>"
    rows = []
    for r in df.head(limit).itertuples():
        marks = [m for m, on in ((f"kernel bump {r.kernel_bump}", bool(r.kernel_bump)),
                                 ("reorder only", bool(r.reorder_only)), ("line moved", r.change == "moved")) if on]
        rows.append(f"<tr><td>{_e(r.date)}</td><td><code>{_e(r.commit)}</code></td><td>{_e(r.arch)}</td>"
                    f"<td>{_e(_line(r.before))} &rarr; {_e(_line(r.after))}</td><td>{_e(r.subject)}"
                    + (f" <i>[{_e('; '.join(marks))}]</i>" if marks else "") + "</td></tr>")
    more = (f"<tr><td colspan=5><i>... and {len(df) - limit} older</i></td></tr>" if len(df) > limit else "")
    return ("<table class='talosnb-t'><tr><th>date</th><th>commit</th><th>arch</th><th>value</th><th>subject</th></tr>"
            + "".join(rows) + more + "</table>")


def _line(value) -> str:
    return "(no line)" if value is None else (value if value != "" else '""')
