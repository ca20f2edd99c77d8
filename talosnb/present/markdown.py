"""Markdown renderings, to paste into a pull request description or an issue (GitHub flavour).

Tables are pipe tables with every ``|`` and newline of the inputs escaped; long
parts fold into ``<details>`` blocks, which GitHub renders collapsed.
"""

from __future__ import annotations

from collections.abc import Mapping

from talosnb.analyses.change import KINDS, ChangeReport
from talosnb.core import layout
from talosnb.kconfig.info import TOP_LEVEL

from .change import new_modules_text
from .hardware import device_change_text
from .text import line_value

# Above this many rows a table folds into a <details> block.
FOLD = 15


def cell(value: object) -> str:
    """Text for one table cell: pipes and backslashes escaped, newlines as spaces, and HTML as text
    (a config string or a commit subject holding ``<img onerror=...>`` is shown, never rendered)."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _plain(value: object) -> str:
    """One line of text for a code span: HTML is not rendered there, so only pipes and newlines."""
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _longest_run(text: str, char: str = "`") -> int:
    longest = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        longest = max(longest, run)
    return longest


def code(value: object) -> str:
    """Inline code that survives backticks in the value: its fence is longer than any run of them."""
    text = _plain(value)
    if not text:
        return ""
    fence = "`" * (_longest_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(body: str, info: str = "") -> str:
    """A fenced code block that no line of ``body`` can close."""
    fence = "`" * max(3, _longest_run(body) + 1)
    return f"{fence}{info}\n{body}{'' if body.endswith(chr(10)) or not body else chr(10)}{fence}\n"


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _fold(summary: str, body: str, rows: int) -> str:
    if rows <= FOLD:
        return body
    return f"<details><summary>{summary}</summary>\n\n{body}\n</details>\n"


def _gate(counts: Mapping[str, int]) -> str:
    errors, warnings = counts.get("error", 0), counts.get("warning", 0)
    return f"{'pass' if not errors else '**FAIL**'} ({errors} error(s), {warnings} warning(s))"


def _lines_tables(report: ChangeReport, kind: str) -> str:
    arches = list(report.arches)
    by_menu: dict[str, dict[str, dict]] = {}
    for change in report.lines((kind,)):
        by_menu.setdefault(change.menu, {}).setdefault(change.symbol, {})[change.arch] = change
    out = []
    for menu in sorted(by_menu, key=lambda m: (m != TOP_LEVEL, m)):
        rows = []
        for symbol in sorted(by_menu[menu]):
            row = [code(f"CONFIG_{symbol}")]
            for arch in arches:
                c = by_menu[menu][symbol].get(arch)
                if c is None:
                    row.append("unchanged")
                    continue
                text = f"{cell(line_value(c.old))} → **{cell(line_value(c.new))}**"
                reason = c.reason if not c.requested else f"**{c.reason}**"
                if c.kind in ("not-reproduced", "missing"):
                    reason += f"; make olddefconfig writes {line_value(c.expected)}"
                row.append(f"{text} ({cell(reason)})")
            rows.append(row)
        body = table(["symbol", *arches], rows)
        out.append(f"**{cell(menu)}** ({len(rows)})\n\n" + _fold(f"{len(rows)} lines", body, len(rows)))
    return "\n".join(out)


def change_markdown(report: ChangeReport, *, title: str | None = None) -> str:
    """A ChangeReport as Markdown: summary, config lines per menu side by side, the "New modules:"
    list, module-list edits, gates before and after, history."""
    out = [f"### {title or 'What this change does to the kernel configs'}", "",
           (f"Head `{cell(report.head_label)}` against base `{cell(report.base_label)}`, "
            f"read against the Linux {report.tree_version} Kconfig and Kbuild files."), ""]
    out += [f"> {cell(n)}" for n in report.notes]
    if report.notes:
        out.append("")
    out.append(_summary_table(report))
    out.append("#### Config lines changed\n")
    changed = _lines_tables(report, "change")
    out.append(changed or "No config line changes.\n")
    for kind in KINDS:
        if kind == "change" or not report.lines((kind,)):
            continue
        out.append(f"<details><summary>{KINDS[kind]} ({len(report.lines((kind,)))})</summary>\n\n"
                   + _lines_tables(report, kind) + "\n</details>\n")
    out += _modules_section(report)
    out += _gates_section(report)
    out += _workloads_section(report)
    out += _devices_section(report)
    out += _history_section(report)
    return "\n".join(out).rstrip("\n") + "\n"


def _summary_table(report: ChangeReport) -> str:
    rows = []
    for arch, one in report.arches.items():
        gates = "; ".join(f"{g.gate}: {_gate(g.before)} → {_gate(g.after)}" for g in one.gates) or "-"
        lists = f"+{len(one.list_added)} −{len(one.list_removed)}" if one.has_lists else "no lists"
        rows.append([arch, str(len(one.by_kind("change"))), code(" ".join(one.requested)) or "-",
                     str(len(one.built)), str(len(one.unbuilt)), lists, cell(gates)])
    return table(["arch", "lines changed", "set by the change", "newly built", "no longer built",
                  "module list", "gates before → after"], rows)


def _modules_section(report: ChangeReport) -> list[str]:
    out = ["#### Modules\n", fenced(new_modules_text(report))]
    for arch, one in report.arches.items():
        if not one.has_lists:
            continue
        edits = [f"+ {e}" for e in one.list_added] + [f"- {e}" for e in one.list_removed]
        out.append(f"`{layout.module_list_name(arch)}`: " + ("\n" + fenced("\n".join(edits) + "\n", "diff") if edits
                                                 else "unchanged\n"))
        if one.unlisted_built:
            out.append(f"Newly built on {arch} but not listed (fine unless the initramfs needs them): "
                       + ", ".join(code(e) for e in one.unlisted_built) + "\n")
    return out


def _gates_section(report: ChangeReport) -> list[str]:
    gate_rows = []
    for arch, one in report.arches.items():
        for g in one.gates:
            news = [f"new: {f.message}" for f in g.new_errors] + [f"fixed: {f.message}" for f in g.fixed_errors]
            gate_rows.append([g.gate, arch, _gate(g.before), _gate(g.after), cell("; ".join(news)) or "-"])
    if not gate_rows:
        return []
    return ["#### Gates\n", table(["gate", "arch", "before", "after", "errors"], gate_rows)]


def _workloads_section(report: ChangeReport) -> list[str]:
    lines = [f"- {cell(m)}" for one in report.arches.values() for m in one.workloads_broken + one.workloads_fixed]
    if not lines:
        return []
    return ["#### Workloads\n", *lines, ""]


def _devices_section(report: ChangeReport) -> list[str]:
    if not report.devices_given:
        return []
    lines = [f"- {arch}: {cell(device_change_text(m))}" for arch, one in report.arches.items() for m in one.devices]
    return ["#### Devices\n", *(lines or [f"None of the {report.devices_given} captured devices is affected."]), ""]


def _history_section(report: ChangeReport) -> list[str]:
    history = []
    for arch, one in report.arches.items():
        for symbol, r in sorted(one.history.items()):
            marks = (" [kernel bump]" if r.kernel_bump else "") + (" [reorder only]" if r.reorder_only else "")
            history.append([code(f"CONFIG_{symbol}"), arch, r.date, code(r.commit),
                            cell(f"{line_value(r.before)} → {line_value(r.after)}"), cell(r.subject + marks)])
    if not history:
        return []
    body = table(["symbol", "arch", "date", "commit", "value", "subject"], history)
    return ["#### History\n\nWhen each changed line last changed before the base:\n\n"
            + _fold(f"{len(history)} lines", body, len(history))]


__all__ = ["cell", "change_markdown", "code", "fenced", "table"]
