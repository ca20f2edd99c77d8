"""How the build gates read: one renderer per format over the typed results of
:mod:`talosnb.analyses.gates` (``GateReport``, ``GateResult`` and its summary, ``HardeningCheck``)
and of the gates' guard (:mod:`talosnb.app.gates`, :mod:`talosnb.app.workloads`).

- text: :func:`gate_note` (one gate on one arch), :func:`report_note` (a gate on every arch),
  :func:`gates_summary_text` and :func:`gate_finding_text` (``talosnb check``), :func:`guard_text`
  and :func:`workloads_text` (what ``set``/``merge`` warn about);
- ``talosnb check``: :func:`check_text` and :func:`check_dict` (its JSON), over :func:`report_dict`;
- tables: :func:`summary_frame`, :func:`hardening_table` (the checker's whole table, both arches)
  and :func:`hardening_frame_filter`;
- HTML: :func:`talosnb.present.html.gates_summary_html` (the Build gates tab), and the Build gates
  section of a report (:func:`talosnb.present.report.gates_html`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from talosnb.analyses.gates import (
    GateReport,
    GateResult,
    GateSummary,
    GateTreatment,
    HardeningSummary,
    ModuleListsSummary,
    OlddefconfigSummary,
    WorkloadsSummary,
    hardening_checks,
    records,
    sort_findings,
)
from talosnb.core import layout
from talosnb.core.errors import opt

if TYPE_CHECKING:
    import pandas as pd

    from talosnb.analyses.findings import Finding
    from talosnb.app.gates import GuardResult
    from talosnb.app.workloads import WorkloadChoice, WorkloadVerdict


# --- text ----------------------------------------------------------------------

def _olddefconfig_text(summary: OlddefconfigSummary) -> str:
    if summary.edited:
        return "edited here: saving writes it as olddefconfig does"
    if summary.changed:
        return f"{summary.changed} line(s) would change"
    if summary.layout and summary.line_endings:
        return "only the layout and the line endings differ"
    if summary.layout:
        return "only the layout differs"
    if summary.line_endings:
        return "only the line endings differ"
    return "the config is what olddefconfig writes"


def _hardening_text(summary: HardeningSummary) -> str:
    text = f"{summary.checker} ({f'{summary.failing} option(s) fail' if summary.failed else 'passes'})"
    if summary.mismatch_ref:
        text += f"; version mismatch: not kspp_ref {summary.mismatch_ref[:12]}"
    return text


def _lists_text(summary: ModuleListsSummary) -> str:
    """'modules-amd64.txt is right', or the errors per list ('2 error(s) in modules-amd64.txt, 1 in
    extensions/drivers/usb-modem'); with an extensions checkout, how many of its lists were read."""
    base = layout.module_list_name(summary.arch)
    shipped = summary.extension_lists
    if not summary.errors:
        return f"{base} is right" + (f", and the {shipped} extension list(s)" if shipped else "")
    parts = [f"{n} error(s) in {base if name == 'talos' else name}" for name, n in summary.errors]
    return ", ".join(parts) + (f" ({shipped} extension list(s) read)" if shipped else "")


def _workloads_text(summary: WorkloadsSummary) -> str:
    names = ", ".join(summary.workloads)
    return (f"{summary.failing} required of {names} not met" if summary.failing
            else f"{names}: every required option is there")


def summary_text(summary: GateSummary | None) -> str:
    """A gate's summary on one arch, in words ("22 line(s) would change", "modules-amd64.txt is right")."""
    if summary is None:
        return ""
    if isinstance(summary, OlddefconfigSummary):
        return _olddefconfig_text(summary)
    if isinstance(summary, HardeningSummary):
        return _hardening_text(summary)
    if isinstance(summary, ModuleListsSummary):
        return _lists_text(summary)
    if isinstance(summary, WorkloadsSummary):
        return _workloads_text(summary)
    return summary.why      # NotRunSummary


def gate_note(result: GateResult) -> str:
    """One gate's note on one arch."""
    return summary_text(result.summary)


def report_note(report: GateReport, gate: str) -> str:
    """The gate's notes on one line: once when every arch says the same, else each arch's part
    named ("amd64: 22 line(s) would change; arm64: 31 line(s) would change") unless it names
    its arch itself ("modules-amd64.txt is right")."""
    notes = [(r.arch, note) for r in report.gate_results(gate) if (note := gate_note(r))]
    if len({note for _arch, note in notes}) <= 1:
        return notes[0][1] if notes else ""
    parts = (note if arch in note else f"{arch}: {note}" for arch, note in notes)
    return "; ".join(dict.fromkeys(parts))


def gates_summary_text(report: GateReport) -> str:
    """Each gate's status per arch with its notes, as `talosnb check` prints it."""
    arches = report.arches
    out = ""
    for gate, per_arch in report.statuses().items():
        cells = "  ".join(f"{arch} {per_arch.get(arch, '-'):7}" for arch in arches)
        out += f"  {gate:12}  {cells}  {report_note(report, gate)}\n"
    return "gates:\n" + out


def gate_finding_text(finding: Finding) -> str:
    """One gate finding: level, arch, kind, message, where, why-not tree and fix."""
    about = f"{finding.entry}: " if finding.entry else ""
    text = f"{finding.level:7} {finding.arch:5} {finding.kind:19} {about}{finding.message}\n"
    if finding.where:
        text += f"        at {finding.where}\n"
    for reason in finding.details.get("why_not") or []:
        text += "".join(f"        {line}\n" for line in _why_not_lines(reason, 0))
    if finding.fix:
        text += f"        fix: {finding.fix}\n"
    return text


def _why_not_lines(reason: Mapping[str, Any], indent: int) -> list[str]:
    where = f" ({reason['where']})" if reason.get("where") else ""
    mark = " [fixed: no assignment changes it]" if reason.get("fixed") else ""
    out = ["  " * indent + "- " + reason["text"] + where + mark]
    for child in reason.get("children", []):
        out += _why_not_lines(child, indent + 1)
    return out


def guard_text(result: GuardResult) -> str:
    """What the gates' guard says about a change: a warning per gate it breaks (in the words of its
    refusal), a note per gate it could not check."""
    out = "".join(f"WARNING: {b.text()}\n" for b in result.broken)
    out += "".join(f"note: {u}\n" for u in result.unchecked)
    return out


def workloads_text(verdict: WorkloadVerdict) -> str:
    """What the workloads' guard says about a change: a warning per requirement it breaks."""
    return "".join(f"WARNING: {m}\n" for m in verdict.messages())


def workload_choice_text(choice: WorkloadChoice) -> str:
    """Which workloads the workloads gate checks, the features in use, and who said so."""
    said = {"named": opt("workload"), "default": "the default"}.get(choice.source, choice.source)
    features = [f for f in choice.gate_features if f != "base"]
    return (f"workloads gate: {', '.join(choice.workloads or ())}"
            + (f" (features in use: {', '.join(features)})" if features else "") + f", from {said}\n")


def check_text(report: GateReport, chosen: Sequence[str], *, info: bool = False,
               choice: WorkloadChoice | None = None) -> str:
    """`talosnb check`'s words after the inputs' context: the workloads checked, the checker's version
    notes, each gate's status, the count of findings, each gate's findings (the informational ones
    with ``info``), and the gates that could not run."""
    text = workload_choice_text(choice) if choice is not None else ""
    text += "".join(f"{'WARNING' if c.kind == 'mismatch' else 'note'}: {c.message}\n" for c in report.version_checks)
    findings, shown = _findings(report, info=info)
    errors = sum(1 for f in findings if f.level == "error")
    text += gates_summary_text(report)
    hidden = len(findings) - len(shown)
    text += (f"\n{errors} error(s), {len(findings)} finding(s) in all"
             + (f" ({hidden} informational ones not shown: {opt('info')} lists them)" if hidden else "") + "\n")
    for gate in chosen:
        mine = [f for f in shown if f.details.get("gate") == gate]
        if mine:
            text += f"\n{gate}:\n" + "".join(gate_finding_text(f) for f in mine)
    text += "".join(f"\nnot every gate ran: {error}\n" for error in report.incomplete)
    return text


def _findings(report: GateReport, *, info: bool) -> tuple[list[Finding], list[Finding]]:
    """Every finding, errors first, and those shown (not the informational ones unless ``info``)."""
    findings = sort_findings(report.findings)
    return findings, findings if info else [f for f in findings if f.level != "info"]


# --- JSON ----------------------------------------------------------------------

def result_dict(result: GateResult) -> dict[str, Any]:
    return {"gate": result.gate, "arch": result.arch, "status": result.status, "note": gate_note(result),
            "errors": result.errors}


def check_dict(report: GateReport, *, info: bool = False, choice: WorkloadChoice | None = None) -> dict[str, Any]:
    """`talosnb check --format json` after the inputs' context (whose ``version_checks`` the
    checker's are added to): the report, the findings shown, the count of errors, the gates that
    could not run, and the workloads checked."""
    findings, shown = _findings(report, info=info)
    out: dict[str, Any] = {}
    if choice is not None:
        out["workloads"] = {"workloads": list(choice.workloads or ()), "features": choice.gate_features,
                            "from": choice.source}
    out.update(report_dict(report))
    out["findings"] = records(shown)
    out["errors"] = sum(1 for f in findings if f.level == "error")
    out["incomplete"] = [{"message": e.message, "where": e.where, "hint": e.hint} for e in report.incomplete]
    return out


def version_check_dicts(report: GateReport) -> list[dict[str, Any]]:
    """The checker's version checks as the JSON's ``version_checks`` lists them."""
    return [{"kind": c.kind, "level": c.level, "message": c.message} for c in report.version_checks]


def report_dict(report: GateReport) -> dict[str, Any]:
    """The report as `talosnb check --format json` gives it: statuses, each result with its note, and
    the hardening checker and step run."""
    checker = report.checker
    return {"gates": report.statuses(), "results": [result_dict(r) for r in report.results],
            "hardening_checker": None if checker is None else {
                "path": str(checker.path), "ref": checker.ref, "origin": checker.origin, "sha256": checker.sha256},
            "hardening_step": None if report.step is None else report.step.where}


# --- tables --------------------------------------------------------------------

def summary_frame(report: GateReport) -> pd.DataFrame:
    """One row per gate: its status on each arch and its notes."""
    import pandas as pd

    rows = []
    for gate in dict.fromkeys(r.gate for r in report.results):
        row: dict[str, Any] = {"gate": gate}
        for r in report.gate_results(gate):
            row[r.arch] = r.status
        row["note"] = report_note(report, gate)
        rows.append(row)
    return pd.DataFrame(rows)


def treatment_text(treatment: GateTreatment) -> str:
    """What the gate made of a check on one arch: "ok", "fails the gate", "ignored by the filter
    (line 17: ...)", "outside the filter's groups (defconfig, kspp)", "not gated"."""
    if treatment.kind == "ok":
        return "ok"
    if treatment.kind == "gated":
        return "fails the gate"
    if treatment.kind == "outside-groups":
        return f"outside the filter's groups ({', '.join(treatment.groups)})"
    if treatment.kind == "ignored":
        return f"ignored by the filter (line {treatment.line}" + (f": {treatment.comment})" if treatment.comment
                                                                  else ")")
    return "not gated"


def hardening_table(report: GateReport) -> pd.DataFrame:
    """The checker's whole table (OK and FAIL), both arches side by side: per arch its result and
    what the gate made of it ("fails the gate", "ignored by the filter: ...", "outside the filter's
    groups", "ok"), and the verdict of a failing option."""
    import pandas as pd

    arches = list(report.rows)
    rows = []
    for check in hardening_checks(report):
        row: dict[str, Any] = {"option": check.option, "decision": check.decision, "reason": check.reason,
                               "desired": check.desired}
        for arch, result in check.results.items():
            row[arch] = result
            row[f"{arch} gate"] = treatment_text(check.treatments[arch])
            if arch in check.verdicts:
                row[f"{arch} verdict"] = check.verdicts[arch]
        rows.append(row)
    columns = ["option", "decision", "reason", "desired"]
    for arch in arches:
        columns += [arch, f"{arch} gate", f"{arch} verdict"]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return frame.where(frame.notna(), None)


def hardening_frame_filter(frame: pd.DataFrame, *, arch: str | None = None, status: str | None = None,
                           text: str | None = None) -> pd.DataFrame:
    """Rows of :func:`hardening_table`: ``status`` "fail" (the checker fails it), "gate" (it fails
    the gate), "ok"; ``arch`` one arch's columns decide; ``text`` in the option, decision or reason.
    The table of a gate that did not run has no rows and no arch columns: nothing to filter."""
    if frame.empty:
        return frame
    keep = frame["option"].notna()
    arches = [arch] if arch else [c for c in ("amd64", "arm64") if c in frame.columns]
    if status in ("fail", "gate", "ok"):
        hit = None
        for a in arches:
            gate = frame[f"{a} gate"].fillna("")
            one = {"fail": gate.ne("ok") & gate.ne(""), "gate": gate.eq("fails the gate"), "ok": gate.eq("ok")}[status]
            hit = one if hit is None else hit | one
        if hit is None:   # what `keep &= None` raises
            raise TypeError("no arch gate columns in the frame: it is not one hardening_table made")
        keep &= hit
    if text:
        blob = (frame["option"] + " " + frame["decision"] + " " + frame["reason"]).str.lower()
        keep &= blob.str.contains(text.lower(), regex=False)
    return frame[keep]
