"""A self-contained HTML report of an analysis, to share with people without talosnb.

One file, no external assets: charts are SVG images embedded as data: URIs,
tables are plain HTML, the styles and the small table filter script are inline.
Every piece of text from the inputs is escaped.

The report shows the inputs and the kernel tree version, version warnings,
the build gates when they were run (``gates=``),
the amd64/arm64 comparison (summary, charts, the symbols that differ), and any
extra sections the caller adds: `sections=[(title, body), ...]` where a body is
a DataFrame (shown as a table), a matplotlib Figure (a chart), an `Html`
fragment (inserted as is) or a plain string (shown as text).
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from talosnb import __version__
from talosnb.core import layout
from talosnb.core.arches import ARCHES
from talosnb.core.fileio import atomic_write
from talosnb.core.versions import grouped

from .change import new_modules_text
from .hardware import device_change_text
from .text import line_value

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from talosnb.analyses.change import ChangeReport
    from talosnb.analyses.gates import GateReport
    from talosnb.analyses.upgrade import UpgradeReport
    from talosnb.app.session import Session


class Html(str):
    """An HTML fragment to insert into a report as it is (no escaping): only for trusted markup."""


Section = tuple[str, "pd.DataFrame | Figure | Html | str"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .2em .5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
.mismatch { color: #a00; font-weight: bold; } .note { color: #555; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; }
input.filter { margin: .3em 0; padding: .3em; width: 24em; }
code { font-size: .95em; } div.scroll { overflow-x: auto; }
td .why { display: block; color: #555; font-size: .9em; } td.requested { background: #eef6ff !important; }
td.absent { color: #999; } pre.paste { background: #f6f6f6; padding: .6em; border: 1px solid #ddd; }
.pass { color: #070; font-weight: bold; } .fail { color: #a00; font-weight: bold; }
"""

# Hides the rows of a table that don't contain the text typed above it.
_SCRIPT = """
document.querySelectorAll("input.filter").forEach(function (box) {
  var table = document.getElementById(box.dataset.table);
  var shown = document.getElementById(box.dataset.table + "-shown");
  box.addEventListener("input", function () {
    var text = box.value.toLowerCase(), count = 0;
    table.tBodies[0].querySelectorAll("tr").forEach(function (row) {
      var hit = row.textContent.toLowerCase().indexOf(text) >= 0;
      row.hidden = !hit;
      if (hit) count++;
    });
    shown.textContent = count;
  });
});
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _is_missing(value: object) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _cell(value: object) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _e(value)


def table_html(df: pd.DataFrame, *, table_id: str | None = None, filterable: bool = False) -> str:
    """A DataFrame as an escaped HTML table (a named index becomes the first column; others are left out)."""
    import pandas as pd

    if df.index.nlevels > 1 or df.index.name is not None:
        df = df.reset_index()
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
               for c in df.columns]
    head = "".join(f'<th{" class=num" if num else ""}>{_e(c)}</th>' for c, num in zip(df.columns, numeric,
                                                                                      strict=True))
    rows = []
    for values in df.itertuples(index=False, name=None):
        cells = "".join(f'<td class=num>{_cell(v)}</td>' if num else f"<td>{_cell(v)}</td>"
                        for v, num in zip(values, numeric, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    ident = f' id="{_e(table_id)}"' if table_id else ""
    out = ""
    if filterable and table_id:
        out += (f'<p><input class="filter" type="search" placeholder="filter rows" '
                f'data-table="{_e(table_id)}" aria-label="filter rows"> '
                f'<span id="{_e(table_id)}-shown">{len(df)}</span> of {len(df)} rows</p>\n')
    return out + (f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead>\n<tbody>\n'
                  + "\n".join(rows) + "\n</tbody></table></div>\n")


def figure_html(fig: Figure, alt: str) -> str:
    """A Figure as an <img> holding its SVG (no external file; reproducible bytes)."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "talosnb", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img alt="{_e(alt)}" src="data:image/svg+xml;base64,{data}">'
            f"<figcaption>{_e(alt)}</figcaption></figure>\n")


def _body_html(body: pd.DataFrame | Figure | Html | str, anchor: str) -> str:
    import pandas as pd
    from matplotlib.figure import Figure

    if isinstance(body, pd.DataFrame):
        return table_html(body, table_id=f"{anchor}-table", filterable=len(body) > 20)
    if isinstance(body, Figure):
        title = body.axes[0].get_title() if body.axes else ""
        return figure_html(body, title or anchor)
    if isinstance(body, Html):
        return str(body) + "\n"
    if isinstance(body, str):
        return f'<pre class="text">{_e(body)}</pre>\n'
    raise TypeError(f"a report section is a DataFrame, Figure, Html or str, not {type(body).__name__}")


def _anchor(title: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"
    anchor, n = base, 2
    while anchor in used:
        anchor, n = f"{base}-{n}", n + 1
    used.add(anchor)
    return anchor


def _inputs_table(session: Session) -> pd.DataFrame:
    import pandas as pd

    inputs = session.inputs
    assert inputs.kernel is not None   # a Session has one (Session.open checks)
    rows = [("kernel tree", f"Linux {session.tree_version}", str(inputs.kernel.origin))]
    rows.append(("pkgs checkout", "embedded sample" if inputs.sample else "",
                 str(inputs.pkgs.path) if inputs.pkgs else "not given"))
    for arch, config in session.configs.items():
        recorded = f"made for Linux {config.recorded_version}" if config.recorded_version else "no header"
        rows.append((layout.config_name(arch), recorded, str(config.source)))
    if inputs.patches is not None and inputs.patches.patches:
        rows.append(("pkgs patches", inputs.patches.summary(), str(inputs.patches.patches_dir)))
    rows.append(("talos checkout", "", str(inputs.talos.path) if inputs.talos else "not given"))
    rows.append(("toolchain mode", session.toolchain, ""))
    rows.append(("made with", f"talosnb {__version__}", ""))
    return pd.DataFrame(rows, columns=["input", "what", "where"])


def _checks_html(session: Session) -> str:
    items = []
    for check in grouped(session.version_checks()):
        cls = "mismatch" if check.kind == "mismatch" else "note"
        label = "WARNING" if check.kind == "mismatch" else "note"
        items.append(f'<li class="{cls}">{label}: {_e(check.message)}</li>')
    for arch, config in session.configs.items():
        for note in config.notes:
            items.append(f'<li class="note">{layout.config_name(arch)}: {_e(note.where)}: {_e(note.message)}</li>')
    if not items:
        return "<p>No version warnings: the tree, the Pkgfile and the configs agree.</p>\n"
    return "<ul>\n" + "\n".join(items) + "\n</ul>\n"


_DIFF_COLUMNS = ["symbol", "amd64", "arm64", "type", "prompt", "menu_path", "location"]
_ONLY_COLUMNS = ["symbol", "defined", "amd64", "arm64", "type", "prompt", "menu_path", "location"]


_GATE_FINDING_COLUMNS = ["level", "gate", "arch", "kind", "entry", "where", "message", "fix"]


def gates_html(report: GateReport) -> Html:
    """The build gates (a :class:`~talosnb.analyses.gates.GateReport`): each gate's status per arch,
    every finding with its fix, and kernel-hardening-checker's whole table for both arches."""
    import pandas as pd

    from talosnb.analyses.gates import GATE_TITLES, findings_frame

    from .gates import hardening_table
    from .gates import summary_frame as gates_summary_frame

    summary_frame = gates_summary_frame(report)
    summary_frame.insert(1, "what", [GATE_TITLES[g] for g in summary_frame["gate"]])
    findings = findings_frame(report.findings)
    shown = findings[findings["level"] != "info"] if len(findings) else findings
    out = ("<p>What the Talos kernel build checks, run on the configs as they stand: <b>pass</b>, "
           "<b>fail</b>, or <b>not-run</b> (the inputs can't run that gate).</p>\n"
           + table_html(summary_frame))
    if report.checker is not None:
        out += (f"<p class=\"note\">hardening: {_e(report.checker.describe())}, the step of "
                f"<code>{_e(report.step.where if report.step else '')}</code></p>\n")
    for check in report.version_checks:
        cls = "mismatch" if check.kind == "mismatch" else "note"
        out += f'<p class="{cls}">{_e(check.message)}</p>\n'
    out += (f"<h3>Findings</h3>\n<p>{len(shown)} error(s) and warning(s); informational findings are left "
            "out.</p>\n" + table_html(shown[[c for c in _GATE_FINDING_COLUMNS if c in shown.columns]]
                                        if len(shown) else pd.DataFrame(columns=_GATE_FINDING_COLUMNS),
                                        table_id="gate-findings-table", filterable=True))
    if report.rows:
        table = hardening_table(report)
        out += (f"<h3>kernel-hardening-checker, both arches</h3>\n<details><summary>{len(table)} checks: "
                "the checker's result on each arch, what the gate made of it, and the verdict on a failing "
                "option</summary>\n" + table_html(table, table_id="hardening-table", filterable=True)
                + "</details>\n")
    return Html(out)


def report_html(session: Session, *, frame: pd.DataFrame | None = None, sections: Iterable[Section] = (),
                title: str | None = None, gates: GateReport | None = None) -> str:
    """The report as one HTML document (see the module docstring); with ``gates`` (a GateReport
    of talosnb.analyses.gates.run_gates) also a "Build gates" section."""
    import pandas as pd

    from talosnb.analyses.compare import (
        compare,
        differing,
        module_counts,
        one_arch_only,
        status_counts,
        summary,
    )

    from .plots import differences_by_menu, values_by_menu

    df = compare(session) if frame is None else frame
    title = title or f"talosnb: amd64 and arm64 kernel configs on Linux {session.tree_version}"
    used: set[str] = set()
    parts: list[tuple[str, str, str]] = []   # (anchor, title, body)

    def add(section_title: str, body: str) -> None:
        parts.append((_anchor(section_title, used), section_title, body))

    add("Inputs", table_html(_inputs_table(session)))
    add("Version warnings and load notes", _checks_html(session))
    if gates is not None:
        add("Build gates", str(gates_html(gates)))

    counts = status_counts(df)
    modules = module_counts(df)
    written = {arch: int(df[arch].notna().sum()) for arch in ARCHES}
    overview = pd.DataFrame({"status": list(counts), "symbols": list(counts.values())})
    per_arch = pd.DataFrame({"arch": list(ARCHES), "config lines": [written[a] for a in ARCHES],
                             "modules (=m)": [modules[a] for a in ARCHES]})
    add("Comparison summary",
        f"<p>{len(df)} symbols are defined on amd64 or arm64. A bool or tristate that a config has no "
        "line for counts as n; <code>defined-but-unset</code> symbols are defined on both arches and "
        "written by neither config.</p>\n"
        + table_html(overview) + table_html(per_arch)
        + "<h3>Per top-level menu</h3>\n" + table_html(summary(df), table_id="summary-table"))
    add("Charts", figure_html(differences_by_menu(df), "Differences per top-level menu")
        + figure_html(values_by_menu(df), "y, m and n lines per arch and top-level menu"))
    diff = differing(df)[_DIFF_COLUMNS]
    add("Differing symbols",
        f"<p>{len(diff)} symbols both arches define but set differently (empty cell: no line in "
        "that config).</p>\n" + table_html(diff, table_id="differing-table", filterable=True))
    only = one_arch_only(df)[_ONLY_COLUMNS]
    add("Symbols only one arch defines",
        f"<details><summary>{len(only)} symbols</summary>\n"
        + table_html(only, table_id="one-arch-table", filterable=True) + "</details>\n")
    for section_title, body in sections:
        anchor = _anchor(section_title, used)
        parts.append((anchor, section_title, _body_html(body, anchor)))

    return _page(title, parts)


def _page(title: str, parts: list[tuple[str, str, str]], intro: str = "") -> str:
    """One HTML document: the title, a table of contents, the (anchor, title, body) sections."""
    toc = "".join(f'<li><a href="#{a}">{_e(t)}</a></li>' for a, t, _ in parts)
    body = "".join(f'<section id="{a}">\n<h2>{_e(t)}</h2>\n{b}</section>\n' for a, t, b in parts)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"generator\" content=\"talosnb {_e(__version__)}\">\n"
            f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{_e(title)}</h1>\n{intro}<nav><ul>{toc}</ul></nav>\n{body}"
            f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")


def write_report(session: Session, path: str | os.PathLike, *, frame: pd.DataFrame | None = None,
                 sections: Iterable[Section] = (), title: str | None = None, gates: GateReport | None = None) -> Path:
    """Write the report to `path` atomically (a reader never sees half a file); returns the path.

    `frame` is a comparison already made (compare(session)); `sections` adds
    (title, DataFrame | Figure | Html | str) sections after the built-in ones; `gates`
    (a GateReport) adds the "Build gates" section.
    """
    text = report_html(session, frame=frame, sections=sections, title=title, gates=gates)
    atomic_write(path, text)
    return Path(path)


# --- the change report ---------------------------------------------------------

def _gate_state(counts: Mapping[str, int]) -> str:
    errors, warnings = counts.get("error", 0), counts.get("warning", 0)
    state = '<span class="pass">pass</span>' if not errors else '<span class="fail">FAIL</span>'
    return f"{state} ({errors} error(s), {warnings} warning(s))"


def _side_by_side(report: ChangeReport, kinds: tuple[str, ...], anchor: str) -> str:
    """Per top-level menu, one row per symbol with each arch's old -> new and reason."""
    arches = list(report.arches)
    by_menu: dict[str, dict[str, dict]] = {}
    for change in report.lines(kinds):
        by_menu.setdefault(change.menu, {}).setdefault(change.symbol, {})[change.arch] = change
    if not by_menu:
        return "<p>No config line.</p>\n"
    out = []
    from talosnb.kconfig.info import TOP_LEVEL

    for n, menu in enumerate(sorted(by_menu, key=lambda m: (m != TOP_LEVEL, m))):
        rows = []
        for symbol in sorted(by_menu[menu]):
            per_arch = by_menu[menu][symbol]
            first = next(iter(per_arch.values()))
            cells = [f"<td><code>CONFIG_{_e(symbol)}</code><span class=why>{_e(first.prompt or '')}</span></td>"]
            for arch in arches:
                c = per_arch.get(arch)
                if c is None:
                    cells.append('<td class="absent">unchanged</td>')
                    continue
                extra = (f"; make olddefconfig writes {_e(line_value(c.expected))}"
                         if c.kind in ("not-reproduced", "missing") else "")
                cls = ' class="requested"' if c.requested else ""
                cells.append(f"<td{cls}>{_e(line_value(c.old))} &rarr; <b>{_e(line_value(c.new))}</b>"
                             f"<span class=why>{_e(c.reason)}{extra}</span></td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        head = "<th>symbol</th>" + "".join(f"<th>{_e(a)}</th>" for a in arches)
        table_id = f"{anchor}-{n}"
        filter_box = (f'<p><input class="filter" type="search" placeholder="filter rows" data-table="{table_id}" '
                      f'aria-label="filter rows"> <span id="{table_id}-shown">{len(rows)}</span> of {len(rows)} '
                      "rows</p>\n" if len(rows) > 20 else "")
        out.append(f"<h3>{_e(menu)} ({len(rows)})</h3>\n{filter_box}<div class=\"scroll\"><table id=\"{table_id}\">"
                   f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>\n")
    return "".join(out)


def change_report_html(report: ChangeReport, *, title: str | None = None) -> str:
    """A ChangeReport (talosnb.analyses.change) as one self-contained HTML document."""
    from talosnb.analyses.change import KINDS

    title = title or f"talosnb: what the change does, on Linux {report.tree_version}"
    used: set[str] = set()
    parts: list[tuple[str, str, str]] = []

    def add(section_title: str, body: str) -> None:
        parts.append((_anchor(section_title, used), section_title, body))

    summary = []
    for arch, one in report.arches.items():
        gates = "; ".join(f"{g.gate}: {_gate_state(g.before)} &rarr; {_gate_state(g.after)}" for g in one.gates)
        summary.append(
            f"<tr><td>{_e(arch)}</td><td class=num>{len(one.by_kind('change'))}</td>"
            f"<td><code>{_e(' '.join(one.requested) or '-')}</code></td><td class=num>{len(one.built)}</td>"
            f"<td class=num>{len(one.unbuilt)}</td>"
            f"<td>{_e(f'+{len(one.list_added)} -{len(one.list_removed)}') if one.has_lists else 'no lists'}</td>"
            f"<td>{gates or '-'}</td></tr>")
    intro = (f"<p>Head: <code>{_e(report.head_label)}</code><br>Base: <code>{_e(report.base_label)}</code><br>"
             f"Both read against the Linux {_e(report.tree_version)} Kconfig and Kbuild files.</p>\n")
    notes = "".join(f'<li class="note">{_e(n)}</li>' for n in report.notes)
    add("Summary", "<div class=\"scroll\"><table><thead><tr><th>arch</th><th class=num>config lines changed</th>"
        "<th>set by the change</th><th class=num>modules newly built</th><th class=num>no longer built</th>"
        "<th>module list</th><th>gates before &rarr; after</th></tr></thead>\n<tbody>" + "".join(summary)
        + "</tbody></table></div>\n" + (f"<ul>{notes}</ul>\n" if notes else ""))
    add("Config lines changed",
        "<p>Each line the change adds, drops or changes, grouped by top-level menu, with the reason "
        "<code>make olddefconfig</code> gives it (highlighted: the assignments the change made).</p>\n"
        + _side_by_side(report, ("change",), "lines"))
    others = [k for k in KINDS if k != "change" and report.lines((k,))]
    if others:
        body = ""
        for kind in others:
            body += (f"<details{' open' if kind in ('not-reproduced', 'missing') else ''}><summary>"
                     f"{_e(KINDS[kind])} ({len(report.lines((kind,)))})</summary>\n"
                     + _side_by_side(report, (kind,), f"other-{kind}") + "</details>\n")
        add("Other line differences", body)
    add("Modules", "<p>The <code>.ko</code> files the configs build as modules after the change and not before "
        "(as <code>modules.order</code> would show them), ready to paste:</p>\n"
        f'<pre class="paste">{_e(new_modules_text(report))}</pre>\n')
    lists = []
    for arch, one in report.arches.items():
        if not one.has_lists:
            lists.append(f"<p>{_e(arch)}: no module lists (give a talos checkout).</p>")
            continue
        items = "".join(f"<li><code>+ {_e(e)}</code></li>" for e in one.list_added)
        items += "".join(f"<li><code>- {_e(e)}</code></li>" for e in one.list_removed)
        unlisted = "".join(f"<li><code>{_e(e)}</code></li>" for e in one.unlisted_built)
        lists.append(f"<h3>{_e(layout.module_list_name(arch))}</h3>" + (f"<ul>{items}</ul>" if items else "<p>unchanged</p>")
                     + (f"<p>Newly built but not listed (fine unless the initramfs needs them):</p><ul>{unlisted}</ul>"
                        if unlisted else ""))
    add("Module lists", "\n".join(lists) + "\n")
    add("Gates", _gates_html(report))
    add("Workloads", _workloads_html(report))
    if report.devices_given:
        add("Devices", _devices_html(report))
    history_rows = []
    for arch, one in report.arches.items():
        for symbol, r in sorted(one.history.items()):
            marks = (" [kernel bump]" if r.kernel_bump else "") + (" [reorder only]" if r.reorder_only else "")
            history_rows.append(f"<tr><td><code>CONFIG_{_e(symbol)}</code></td><td>{_e(arch)}</td>"
                                f"<td>{_e(r.date)}</td><td><code>{_e(r.commit)}</code></td>"
                                f"<td>{_e(line_value(r.before))} &rarr; {_e(line_value(r.after))}</td>"
                                f"<td>{_e(r.subject)}{_e(marks)}</td></tr>")
    if history_rows:
        add("History", "<p>When each changed line last changed before the base:</p>\n<div class=\"scroll\">"
            "<table><thead><tr><th>symbol</th><th>arch</th><th>date</th><th>commit</th><th>value</th>"
            "<th>subject</th></tr></thead>\n<tbody>" + "\n".join(history_rows) + "</tbody></table></div>\n")
    return _page(title, parts, intro)


def _gates_html(report: ChangeReport) -> str:
    gate_rows = []
    for arch, one in report.arches.items():
        for g in one.gates:
            news = "".join(f"<li>new: {_e(f.message)}</li>" for f in g.new_errors)
            news += "".join(f"<li>fixed: {_e(f.message)}</li>" for f in g.fixed_errors)
            gate_rows.append(f"<tr><td>{_e(g.gate)}</td><td>{_e(arch)}</td><td>{_gate_state(g.before)}</td>"
                             f"<td>{_gate_state(g.after)}</td><td>{f'<ul>{news}</ul>' if news else '-'}</td></tr>")
    if not gate_rows:
        return "<p>No gate could run (the module-list check needs a talos checkout).</p>\n"
    return ("<table><thead><tr><th>gate</th><th>arch</th><th>before</th><th>after</th><th>errors</th></tr>"
            "</thead>\n<tbody>" + "".join(gate_rows) + "</tbody></table>\n")


def _workloads_html(report: ChangeReport) -> str:
    broken = [m for one in report.arches.values() for m in one.workloads_broken]
    fixed = [m for one in report.arches.values() for m in one.workloads_fixed]
    if not broken and not fixed:
        return "<p>The change breaks no workload's kernel requirement.</p>\n"
    return ("<p>What the workloads publish they need from the kernel (talosnb requirements):</p><ul>"
            + "".join(f"<li>{_e(m)}</li>" for m in broken + fixed) + "</ul>\n")


def _devices_html(report: ChangeReport) -> str:
    """The devices of the hardware capture whose support the change moves, per arch."""
    moved = [(arch, m) for arch, one in report.arches.items() for m in one.devices]
    if not moved:
        return f"<p>None of the {report.devices_given} captured devices is affected.</p>\n"
    return (f"<p>The devices of the hardware capture ({report.devices_given}) whose support the change "
            "moves:</p><ul>" + "".join(f"<li>{_e(arch)}: {_e(device_change_text(m))}</li>" for arch, m in moved) + "</ul>\n")


def write_change_report(report: ChangeReport, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write the change report's HTML to `path` atomically; returns the path."""
    atomic_write(path, change_report_html(report, title=title))
    return Path(path)



def upgrade_html(report: UpgradeReport) -> Html:
    """A kernel upgrade (a :class:`~talosnb.analyses.upgrade.UpgradeReport`), for the report's
    sections: the summary and what could not be computed, then each part of the report as a
    filterable table; the why-not tree of every choice not honoured in a collapsed block."""
    from talosnb.analyses.upgrade import SECTION_TITLES

    from .upgrade import cause_text, reason_lines, summary_lines

    out = "<pre>" + _e("\n".join(summary_lines(report))) + "</pre>\n"
    choices = report.choices_frame()
    out += (f"<h3>{SECTION_TITLES['choices']}</h3>\n<p>{len(choices)} line(s) the configs set that the "
            f"{_e(report.to_version)} tree writes differently (what a bump changes silently).</p>\n"
            + table_html(choices, table_id="upgrade-choices-table", filterable=True))
    groups = report.choice_groups()
    if groups:
        out += ("<p>One cause behind several lines:</p>\n<ul>" + "".join(
            f"<li>{_e(g.arch)}: {len(g.items)} lines ({_e(', '.join('CONFIG_' + n for n in g.symbols))}): "
            f"{_e(cause_text(g))}" + (f"; fix: <code>{_e(' '.join(str(a) for a in g.fix.assignments))}</code>, "
                                       "verified for all of them" if g.fix is not None else "") + "</li>"
            for g in groups) + "</ul>\n")
    trees = "".join(
        f"<details><summary><code>{_e(c.finding.arch)} {_e(c.symbol)}</code> {_e(c.finding.kind)}</summary>"
        f"<pre>{_e(chr(10).join(line for reason in c.reasons for line in reason_lines(reason)))}</pre></details>\n"
        for c in report.choices() if c.reasons)
    out += ("<details><summary>why, per line (file:line in the new tree)</summary>\n" + trees + "</details>\n"
            if trees else "")
    new = report.new_symbols_frame().drop(columns=["help"])
    out += (f"<h3>{SECTION_TITLES['new']}</h3>\n<p>{len(new)} symbol(s) the configs have no line for, as "
            "<code>make listnewconfig</code> lists them, per arch side by side (empty: not new there).</p>\n"
            + table_html(new, table_id="upgrade-new-table", filterable=True))
    removed = report.removed_frame()
    out += (f"<h3>{SECTION_TITLES['removed']}</h3>\n"
            + table_html(removed, table_id="upgrade-removed-table", filterable=True))
    modules = report.modules_frame()
    changed = modules[~modules["status"].isin(["unchanged", "metadata"])] if len(modules) else modules
    out += (f"<h3>{SECTION_TITLES['modules']}</h3>\n" + table_html(changed, table_id="upgrade-modules-table")
            + "<p>Proposed edits (upstream's <code>LC_ALL=C</code> order kept):</p>\n"
            + table_html(report.edits_frame(), table_id="upgrade-edits-table"))
    findings = report.findings_frame()
    for section in ("patches", "bump"):
        rows = findings[findings["section"] == section] if len(findings) else findings
        out += (f"<h3>{SECTION_TITLES[section]}</h3>\n"
                + (table_html(rows[["level", "kind", "entry", "where", "message", "fix"]]) if len(rows)
                   else "<p><i>nothing</i></p>\n"))
    return Html(out)


__all__ = ["Html", "Section", "change_report_html", "figure_html", "gates_html", "report_html", "table_html",
           "upgrade_html", "write_change_report", "write_report"]
