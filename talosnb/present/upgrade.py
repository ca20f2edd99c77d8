"""A kernel upgrade (:class:`~talosnb.analyses.upgrade.UpgradeReport`) for a person and for a
program: the terminal's text (``talosnb upgrade``, the widget, the notebook) and the JSON form.
The HTML section of a report renders the same report in ``present/report.py`` (``upgrade_html``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from talosnb.analyses.findings import LEVELS
from talosnb.analyses.upgrade import SECTION_TITLES, SECTIONS, ChoiceGroup, grouped, shorten
from talosnb.analyses.upgrade.rules import line_text

if TYPE_CHECKING:
    from talosnb.analyses.findings import Finding
    from talosnb.analyses.upgrade import ChoiceNotHonoured, ModuleEdit, UpgradeReport
    from talosnb.kconfig.explain import Reason


# --- pieces -------------------------------------------------------------------

def reason_lines(reason: Reason, indent: int = 0, *, children: int = 3, depth: int = 6) -> list[str]:
    """A why-not tree as lines, like :meth:`Reason.lines` but cut for a terminal: long
    conditions shortened, at most ``children`` per level and ``depth`` levels."""
    where = f" ({reason.where})" if reason.where else ""
    mark = " [fixed]" if reason.fixed else ""
    out = ["  " * indent + "- " + shorten(reason.text, 200) + where + mark]
    if depth <= 1:
        if reason.children:
            out.append("  " * (indent + 1) + f"... ({len(reason.children)} more condition(s))")
        return out
    for child in reason.children[:children]:
        out += reason_lines(child, indent + 1, children=children, depth=depth - 1)
    if len(reason.children) > children:
        out.append("  " * (indent + 1) + f"... and {len(reason.children) - children} more")
    return out


def choice_text(item: ChoiceNotHonoured, *, children: int = 3, depth: int = 6) -> str:
    """A choice not honoured for a terminal: finding, why-not tree (at most ``children`` conditions
    per level, ``depth`` levels) and fix."""
    f = item.finding
    out = [f"{f.level:7} {f.kind:18} {shorten(f.message)}", f"        at {f.where}"]
    for reason in item.reasons:
        out += reason_lines(reason, 3, children=children, depth=depth)
    if f.fix:
        out.append(f"        fix: {f.fix}")
    return "\n".join(out)


def cause_text(group: ChoiceGroup) -> str:
    """The root condition of a group as the why-not tree words it ("X = n: no line in the config, ...")."""
    found = group.cause_reason()
    if found is not None:
        return found.text + (f" ({found.where})" if found.where else "")
    return ", ".join(f"{name}={value}" for name, value in group.cause) + " is needed"


def _config_line(item: ChoiceNotHonoured) -> str:
    old = item.finding.details.get("old")
    return line_text(item.symbol, old) if old is not None else f"CONFIG_{item.symbol}"


def group_text(group: ChoiceGroup, *, children: int = 3, depth: int = 6) -> str:
    """A group for a terminal: the cause, every line it takes, the first line's tree, one fix."""
    first = group.items[0]
    kinds = {c.finding.kind for c in group.items}
    kind = kinds.pop() if len(kinds) == 1 else "several"
    lines = ", ".join(f"{_config_line(c)} (:{c.line_number})" for c in group.items)
    out = [(f"{group.level:7} {kind:18} {len(group.items)} lines can't be kept for one cause, "
            f"{shorten(cause_text(group), 200)}"),
           f"        at {(first.finding.where or '').rsplit(':', 1)[0]}: {lines}",
           f"        the first, {_config_line(first)}:"]
    for reason in first.reasons:
        out += reason_lines(reason, 4, children=children, depth=depth)
    fix = group.fix
    if fix is not None:
        out.append("        fix: set " + " ".join(str(a) for a in fix.assignments) +
                   f" (verified on the new tree for all {len(group.items)}; {len(fix.cascade)} line(s) "
                   "change with it)")
    return "\n".join(out)


def edit_text(edit: ModuleEdit) -> str:
    """A proposed module-list edit: "[key] -old.ko +new.ko", then its reason on the next line."""
    parts = [f"-{e}" for e in edit.remove] + [f"+{e}" for e in edit.add]
    return f"[{edit.key}] {' '.join(parts)}\n            ({edit.reason})"


# --- the report -----------------------------------------------------------------

def summary_lines(report: UpgradeReport) -> list[str]:
    """The head of the report: versions, what was read, per arch the count of each section."""
    out = [f"upgrade {report.from_version or report.config_version or '?'} -> {report.to_version}"
           + ("" if report.from_version else " (no current tree: 'before' values come from the config alone)")]
    out += [f"  {line}" for line in report.inputs]
    for arch, part in report.arches.items():
        levels = {lv: sum(1 for c in part.choices if c.finding.level == lv) for lv in LEVELS}
        out.append(f"  {arch}: {len(part.choices)} choice(s) not honoured ({levels['error']} error(s)), "
                   f"{len(part.new_symbols)} new symbol(s) "
                   f"({sum(1 for s in part.new_symbols if s.value in ('y', 'm'))} =y/=m), "
                   f"{len(part.removed)} removed, "
                   f"{sum(1 for m in part.modules if m.status not in ('unchanged', 'metadata'))} "
                   f"module-list entr(ies) to change, {len(part.edits)} proposed edit(s)")
    for what in report.not_computed:
        out.append(f"  not computed: {what}")
    for note in report.notes:
        out.append(f"  note: {note}")
    return out


def upgrade_text(report: UpgradeReport, *, info: bool = False, limit: int | None = None,
                 sections: Iterable[str] | None = None) -> str:
    """The report for a terminal: choices first (what a bump breaks silently), then the
    rest (only ``sections``, when given); informational rows only with ``info``, at most
    ``limit`` rows per section."""
    out = summary_lines(report)
    sections_wanted = list(sections or ())
    sections_rows = _section_rows(report, info)
    shown = [s for s in SECTIONS if sections is None or s in set(sections_wanted)]
    for section in shown:
        rows = sections_rows[section]
        if limit is not None and len(rows) > limit:
            rows = rows[:limit] + [f"  ... and {len(rows) - limit} more (--limit)"]
        out.append("")
        out.append(f"== {SECTION_TITLES[section]}" + ("" if rows else ": nothing"))
        out += rows
    return "\n".join(out) + "\n"


def _section_rows(report: UpgradeReport, info: bool) -> dict[str, list[str]]:
    """Each section's lines for :func:`upgrade_text` (informational ones only with `info`)."""
    def fix(f: Finding, indent: str) -> str:
        return f"\n{indent}fix: {f.fix}" if f.fix else ""

    rows: dict[str, list[str]] = {s: [] for s in SECTIONS}
    rows["choices"] = [f"{c.arch:5} {group_text(c)}" if isinstance(c, ChoiceGroup)
                       else f"{c.finding.arch:5} {choice_text(c)}"
                       for c in report.choice_items() if isinstance(c, ChoiceGroup) or c.finding.level != "info"
                       or info]
    rows["new"] = _new_symbol_rows(report, info)
    rows["removed"] = [f"  {f.arch:5} {f.message}  [{f.where}]" for f in report.findings("removed")
                       if f.details.get("set_by_config") is not False or info]
    rows["modules"] = [f"  {f.level:7} {f.arch:5} {f.message}" + fix(f, " " * 10)
                       for f in report.findings("modules") if f.level != "info" or info]
    rows["modules"] += [f"  edit {edit_text(e)}" for e in report.edits()]
    rows["patches"] = [f"  {f.level:7} {f.message}" + fix(f, " " * 10) for f in report.patches]
    if report.bump is not None:
        rows["bump"] = [f"  {f.message}  [{f.where}]" + fix(f, " " * 4)
                        for f in report.bump.findings(report.to_version)]
    return rows


def _new_symbol_rows(report: UpgradeReport, info: bool) -> list[str]:
    """The new symbols by menu: those that change the kernel (all of them with `info`)."""
    rows: list[str] = []
    new_frame = report.new_symbols_frame()
    shown_new = new_frame if info else new_frame[new_frame["changes_kernel"] == True]
    menu = None
    row: Any   # pandas-stubs types itertuples() fields as any scalar (bytes, NA...): here str columns
    for row in shown_new.itertuples():
        if row.menu != menu:
            menu = row.menu
            rows.append(f"  [{menu}]")
        values = "  ".join(f"{a}={getattr(row, a) if getattr(row, a) is not None else '-'}"
                           for a in report.arches)
        builds = f"  builds {row.builds}" if row.builds else ""
        renamed = f"  (renamed from {row.renamed_from})" if row.renamed_from else ""
        rows.append(f"    CONFIG_{row.symbol}: {values}  {row.prompt!r} ({row.where}){builds}{renamed}")
    if len(shown_new) < len(new_frame):
        rows.append(f"  ({len(new_frame) - len(shown_new)} more that stay n: --info lists them)")
    return rows


# --- JSON ---------------------------------------------------------------------------

def group_dict(group: ChoiceGroup) -> dict:
    """A group's JSON form: the cause as assignments and in words, its lines, the one fix."""
    fix = group.fix
    return {"arch": group.arch, "level": group.level, "cause": [f"{n}={v}" for n, v in group.cause],
            "cause_text": cause_text(group), "symbols": group.symbols,
            "where": [c.finding.where for c in group.items],
            "fix": None if fix is None else " ".join(str(a) for a in fix.assignments)}


def upgrade_json(report: UpgradeReport) -> dict:
    """The report as JSON data (``talosnb upgrade --format json``)."""
    return {
        "from_version": report.from_version, "config_version": report.config_version,
        "to_version": report.to_version, "not_computed": report.not_computed, "notes": report.notes,
        "inputs": report.inputs,
        "counts": report.counts(),
        "arches": {arch: {
            "choices": [c.as_dict() for c in r.choices],
            "choice_groups": [group_dict(g) for g in grouped(r.choices) if isinstance(g, ChoiceGroup)],
            "new_symbols": [s.finding(report.to_version).as_dict() | {"help": s.help, "value": s.value,
                                                                      "renamed_from": list(s.renamed_from)}
                            for s in r.new_symbols],
            "removed": [x.finding(report.to_version).as_dict() for x in r.removed],
            "modules": [m.__dict__ | {"new_entries": list(m.new_entries), "symbols": list(m.symbols)}
                        for m in r.modules],
            "module_findings": [f.as_dict() for f in r.module_findings],
            "edits": [e.as_dict() for e in r.edits],
            "config_changes": r.config_changes,
        } for arch, r in report.arches.items()},
        "patches": [f.as_dict() for f in report.patches],
        "bump": None if report.bump is None else report.bump.as_dict(),
    }
