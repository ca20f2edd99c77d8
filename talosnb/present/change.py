"""What a change does (:class:`~talosnb.analyses.change.ChangeReport`) as plain text (the
terminal's ``talosnb report --base``), the "New modules:" list of a pkgs pull request, and the
JSON form. Markdown and HTML render the same report in ``present/markdown.py`` and ``present/report.py``."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING

from talosnb.core import layout

from .hardware import device_change_text
from .text import line_value

if TYPE_CHECKING:
    from talosnb.analyses.change import ArchChange, ChangeReport, ExtensionBreak


def gate_counts(counts: Mapping[str, int]) -> str:
    """A gate's state from its counts: "pass (0 error(s), 2 warning(s))", or FAIL."""
    state = "pass" if not counts.get("error") else "FAIL"
    return f"{state} ({counts.get('error', 0)} error(s), {counts.get('warning', 0)} warning(s))"


def extension_break_text(broken: ExtensionBreak) -> str:
    """"CONFIG_PHONET n: breaks drivers/usb-modem's cdc-phonet.ko (files/modules.txt)"."""
    what = ", ".join(f"CONFIG_{s} {value}" for s, value in broken.symbols) or "the change"
    return f"{what}: breaks {broken.extension}'s {posixpath.basename(broken.entry)} ({broken.file_name})"


def new_modules_text(report: ChangeReport) -> str:
    """The "New modules:" list of a pkgs pull request, per arch, ready to paste."""
    out = []
    for arch, change in report.arches.items():
        if change.built:
            out.append(f"New modules ({arch}):")
            out += change.built
    for arch, change in report.arches.items():
        if change.unbuilt:
            out.append(f"No longer built ({arch}):")
            out += change.unbuilt
    return "\n".join(out) + "\n" if out else "No module is newly built or no longer built.\n"


def change_text(report: ChangeReport) -> str:
    """Plain text: per arch the changes by kind, the modules, the lists and the gates."""
    from talosnb.analyses.change import KINDS

    v = line_value
    out = [f"change: {report.head_label} against {report.base_label} (kernel tree {report.tree_version})"]
    out += [f"note: {n}" for n in report.notes]
    for arch, change in report.arches.items():
        out.append("")
        counts = ", ".join(f"{len(change.by_kind(k))} {k}" for k in KINDS if change.by_kind(k))
        out.append(f"== {arch}: {counts or 'no config line changes'}")
        if change.requested:
            out.append("  set by the change: " + " ".join(change.requested))
        for kind, title in KINDS.items():
            shown = change.by_kind(kind)
            if not shown:
                continue
            out.append(f"  {title}:")
            for c in shown:
                extra = f"; olddefconfig writes {v(c.expected)}" if kind in ("not-reproduced", "missing") else ""
                out.append(f"    CONFIG_{c.symbol}: {v(c.old)} -> {v(c.new)}  ({c.reason}{extra})")
        if change.built or change.unbuilt:
            out += [f"  newly built: {ko}" for ko in change.built]
            out += [f"  no longer built: {ko}" for ko in change.unbuilt]
        else:
            out.append("  no module newly built or no longer built")
        if change.has_lists:
            out += [f"  {layout.module_list_name(arch)} + {e}" for e in change.list_added]
            out += [f"  {layout.module_list_name(arch)} - {e}" for e in change.list_removed]
            if not change.list_added and not change.list_removed:
                out.append(f"  {layout.module_list_name(arch)} unchanged")
        out += [f"  extensions: {extension_break_text(m)}" for m in change.extensions_broken]
        out += [f"  workloads: {m.split(': ', 1)[1]}" for m in change.workloads_broken]
        out += [f"  workloads: {m.split(': ', 1)[1]}" for m in change.workloads_fixed]
        out += [f"  devices: {device_change_text(m)}" for m in change.devices]
        if report.devices_given and not change.devices:
            out.append(f"  devices: none of the {report.devices_given} captured is affected")
        for gate in change.gates:
            out.append(f"  gate {gate.gate}: before {gate_counts(gate.before)}, after {gate_counts(gate.after)}")
            out += [f"    new error: {f.message}" for f in gate.new_errors]
            out += [f"    fixed: {f.message}" for f in gate.fixed_errors]
        for symbol, record in change.history.items():
            out.append(f"  last changed before: CONFIG_{symbol} {record.date} {record.commit} "
                       f"{v(record.before)} -> {v(record.after)} {record.subject}")
    out.append("")
    out.append(new_modules_text(report).rstrip("\n"))
    return "\n".join(out) + "\n"


def arch_change_json(change: ArchChange) -> dict:
    """One arch's part of :func:`change_json`."""
    return {"arch": change.arch, "base": change.base_source, "head": change.head_source,
            "requested": change.requested, "lines": [c.as_dict() for c in change.lines],
            "modules": {"built": change.built, "no_longer_built": change.unbuilt,
                        "built_not_listed": change.unlisted_built if change.has_lists else None},
            "module_list": ({"added": change.list_added, "removed": change.list_removed}
                            if change.has_lists else None),
            "gates": [g.as_dict() for g in change.gates], "drift": change.drift,
            "history": {symbol: record.as_dict() for symbol, record in change.history.items()},
            "workloads": {"broken": change.workloads_broken, "met_again": change.workloads_fixed},
            "extensions_broken": [extension_break_text(b) for b in change.extensions_broken],
            "devices": [device_change_text(d) for d in change.devices]}


def change_json(report: ChangeReport) -> dict:
    """The report as JSON data (``talosnb report --base ... --format json``)."""
    return {"base": report.base_label, "head": report.head_label, "tree_version": report.tree_version,
            "notes": report.notes, "ok": report.ok, "devices_given": report.devices_given,
            "arches": {arch: arch_change_json(change) for arch, change in report.arches.items()}}
