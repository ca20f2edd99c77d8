"""How an edit reads, as text: a change set (what a set or merge changed per arch, with reasons),
a refusal with its why-not tree and verified fix, the outcome of `talosnb set`/`merge`, and
`talosnb why` (a symbol's value, where it comes from, what setting it would do; also its JSON
record). The command line prints these strings and the widgets show the very same ones (the
HTML of a change set, :mod:`talosnb.present.html`, is made of them too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from talosnb.analyses import edit
from talosnb.core import dotconfig
from talosnb.core.errors import opt

from .gates import guard_text, workloads_text
from .text import ends_as, expression, line_value, overridden_line, reverse_groups

if TYPE_CHECKING:
    from collections.abc import Sequence

    from talosnb.analyses.edit import WhyAnswer
    from talosnb.analyses.symbol import ArchPanel
    from talosnb.app.workspace import EditOutcome
    from talosnb.kconfig.explain import Reason
    from talosnb.kconfig.toolchain import ProbeChange


# --- changes, refusals, fixes -----------------------------------------------------

def cascade_line(change: edit.CascadeChange) -> str:
    return f"{change.symbol}: {line_value(change.old)} -> {line_value(change.new)}  ({change.reason})"


#: the heading the re-recorded toolchain answers go under, before the cascade
TOOLCHAIN_HEADING = "toolchain (re-recorded as if made with that toolchain):"


def probe_line(change: ProbeChange) -> str:
    """One re-recorded toolchain answer (a toolchain.ProbeChange): the probe, old -> new, and the lines
    it feeds (a yes/no probe: what it runs)."""
    def shown(value: str) -> str:
        return dotconfig.quote(value) if change.kind == "text" and not value.isdigit() else value
    label = edit.probe_label(change)
    if change.kind == "yes/no":
        note = edit.probe_command(change)
    else:
        readers = [name for name in change.used_by if name != label]
        note = ", ".join(readers[:4]) + (", ..." if len(readers) > 4 else "")
        note = f"read by {note}" if note else ""
    return f"{label}: {shown(change.old)} -> {shown(change.new)}" + (f"  ({note})" if note else "")


def toolchain_lines(changes: Sequence[ProbeChange]) -> list[str]:
    """The heading and one line per re-recorded answer (empty when none was)."""
    if not changes:
        return []
    return [TOOLCHAIN_HEADING] + [f"  {probe_line(c)}" for c in changes]


def change_head(change: edit.ChangeSet) -> str:
    """``amd64 (6.12.117): 3 change(s)`` / ``refused, nothing changed`` / ``no change``."""
    if change.mode == "set" and change.refusals:
        state = "refused, nothing changed"
    elif not change.cascade:
        state = "no change"
    else:
        state = f"{len(change.cascade)} change(s)" + ("" if change.applied else " (not applied)")
    return f"{change.arch} ({change.tree_version}): {state}"


def change_summary(change: edit.ChangeSet) -> str:
    """The head without the arch and tree: what the status line says per arch."""
    return change_head(change).split("): ", 1)[1]


def undefined_line(name: str, arch: str) -> str:
    return f"{name}: not defined on {arch}"


def cascade_groups(cascade: Iterable[edit.CascadeChange]) -> tuple[list[edit.CascadeChange],
                                                                   list[edit.CascadeChange]]:
    """The real changes of a cascade, and apart from them the lines only written because a prompt
    became visible with nothing set ("now visible", n: conf writes '# CONFIG_X is not set' for each),
    which can be many and say little."""
    real: list[edit.CascadeChange] = []
    shown: list[edit.CascadeChange] = []
    for c in cascade:
        quiet = c.old is None and c.new == "n" and c.reason.startswith("now visible")
        (shown if quiet else real).append(c)
    return real, shown


def now_visible_line(shown: list[edit.CascadeChange], limit: int = 8) -> str:
    names = ", ".join(c.symbol for c in shown[:limit]) + (", ..." if len(shown) > limit else "")
    return f"now visible, n ({len(shown)} line(s) '# CONFIG_X is not set'): {names}"


def change_text(change: edit.ChangeSet) -> str:
    out = [change_head(change)]
    out += [f"  {undefined_line(n, change.arch)}" for n in change.undefined]
    if not (change.mode == "set" and change.refusals):
        out += [f"  {line}" for line in toolchain_lines(change.toolchain)]
        real, shown = cascade_groups(change.cascade)
        out += [f"  {cascade_line(c)}" for c in real]
        if shown:
            out.append(f"  {now_visible_line(shown)}")
    for refusal in change.refusals:
        out.append("  " + refusal_text(refusal).replace("\n", "\n  "))
    return "\n".join(out)


def refusal_head(refusal: edit.Refusal) -> str:
    kind = "bool" if refusal.assignment.value in ("y", "m", "n") else "value"
    return f"{refusal.assignment} can't take effect: it ends as {ends_as(refusal.got, kind)}"


def reason_line(reason: Reason) -> str:
    where = f" ({reason.where})" if reason.where else ""
    mark = " [fixed: no assignment changes it]" if reason.fixed else ""
    return reason.text + where + mark


def reason_lines(reason: Reason, indent: int = 0) -> list[str]:
    out = ["  " * indent + "- " + reason_line(reason)]
    for child in reason.children:
        out += reason_lines(child, indent + 1)
    return out


def _range_reason(refusal: edit.Refusal | None) -> Reason | None:
    if refusal is None:
        return None
    return next((r for r in refusal.reasons if getattr(r, "kind", "") == "range"), None)


def fix_head(fix: edit.Fix, refusal: edit.Refusal | None = None) -> str:
    """One line: the verified fix, or why there is none (for a value out of its range: the range)."""
    if fix.found:
        return ("verified fix: set " + " ".join(str(a) for a in fix.assignments)
                + f"  ({fix.tried} candidate(s) tried)")
    out_of_range = _range_reason(refusal)
    if out_of_range is not None:
        assert refusal is not None and out_of_range.bounds is not None   # a range reason has its bounds
        low, high = out_of_range.bounds
        where = f" ({out_of_range.where})" if out_of_range.where else ""
        return (f"no fix: {refusal.assignment.value} is outside the range {low}..{high} in force here{where}; "
                f"give a value from {low} to {high}")
    why = ("the search budget ran out" if fix.exhausted
           else "every route found is blocked (fixed conditions or conflicts)")
    return f"no verified fix: {why} ({fix.tried} candidate(s) tried, budget {fix.budget})"


def side_effects(fix: edit.Fix, limit: int = 40) -> list[str]:
    """The fix's cascade, what gets built (or stops being built) first; 'is not set'-only lines last."""
    if not fix.cascade:
        return []
    def quiet(c: edit.CascadeChange) -> bool:
        return (c.old or "n") == "n" and (c.new or "n") == "n"
    shown = sorted(fix.cascade, key=lambda c: (quiet(c), c.reason not in ("requested", "set by the fix"),
                                               c.symbol))
    count = sum(1 for c in fix.cascade if quiet(c))
    out = [f"side effects ({len(fix.cascade)}"
           + (f", of which {count} only add or drop an 'is not set' line" if count else "") + "):"]
    out += [f"  {cascade_line(c)}" for c in shown[:limit]]
    if len(fix.cascade) > limit:
        out.append(f"  ... and {len(fix.cascade) - limit} more")
    return out


def many_lines_warning(fix: edit.Fix) -> str | None:
    if len(fix.cascade) <= 50:
        return None
    return (f"WARNING: this fix changes {len(fix.cascade)} lines; review them before applying it "
            f"(set {' '.join(str(a) for a in fix.assignments)} with {opt('dry_run')})")


def fix_text(fix: edit.Fix, refusal: edit.Refusal | None = None) -> str:
    out = [fix_head(fix, refusal)]
    if fix.found:
        warning = many_lines_warning(fix)
        if warning:
            out.append("  " + warning)
        out += ["  " + line for line in side_effects(fix)]
    return "\n".join(out)


def refusal_text(refusal: edit.Refusal) -> str:
    out = [refusal_head(refusal)]
    for reason in refusal.reasons:
        out += reason_lines(reason, 1)
    if refusal.fix is not None:
        out.append("  " + fix_text(refusal.fix, refusal).replace("\n", "\n  "))
    return "\n".join(out)


def fix_button_label(arch: str, refusal: edit.Refusal) -> str:
    """What the button applying a verified fix says."""
    assert refusal.fix is not None   # the button is made for a refusal with a verified fix
    fix = " ".join(str(a) for a in [*refusal.fix.assignments, refusal.assignment])
    return f"apply verified fix on {arch}: {fix}"


def module_list_error_lines(outcome: EditOutcome) -> list[str]:
    out = []
    for finding in outcome.module_list_errors:
        out.append(f"module list: {finding['arch']}: {finding['message']}")
        if finding.get("fix"):
            out.append(f"  fix: {finding['fix']}")
    return out


def outcome_text(outcome: EditOutcome, *, written: Mapping[str, bool] | None = None, dry_run: bool = False,
                 sources: Mapping[str, str] | None = None) -> str:
    """A set or merge outcome as `talosnb set`/`merge` print it (`written`: which configs a save wrote),
    then the build gates the change makes fail."""
    gates = guard_text(outcome.gates) if outcome.gates is not None else ""
    gates += workloads_text(outcome.workloads) if outcome.workloads is not None else ""
    gates = "\n" + gates if gates else ""
    if outcome.mode == "merge":
        return _merge_text(outcome, written or {}, dry_run) + gates
    written = written or {}
    text = ""
    for arch, change in outcome.changes.items():
        text += "\n" + change_text(change) + "\n"
        if written.get(arch) and sources:
            text += f"  written to {sources[arch]}\n"
        if outcome.drift.get(arch) and not outcome.refused:
            text += (f"  writing also normalizes {len(outcome.drift[arch])} line(s) as make olddefconfig would "
                     "(the tree differs from the one the config was made with):\n")
            text += "".join(f"    {c}\n" for c in outcome.drift[arch])
        for entry in outcome.modules.get(arch, {}).get("built", []):
            text += f"  now builds {entry}\n"
        for entry in outcome.modules.get(arch, {}).get("added", []):
            text += f"  {'would add' if dry_run else 'added'} to the module list: {entry}\n"
    for line in module_list_error_lines(outcome):
        text += ("\n" if line.startswith("module list") else "") + line + "\n"
    for o in outcome.overridden:
        text += f"\nWARNING: {overridden_line(o)}; set {o.symbol}={o.wanted} again if you still want it\n"
    text += "".join(outcome.fix_notes)
    return text + gates


def _merge_text(outcome: EditOutcome, written: Mapping[str, bool], dry_run: bool) -> str:
    text = "".join(f"\nnote: {line}" for line in outcome.redefined)
    for a in outcome.unknown:
        text += (f"\nWARNING: {a.where}: CONFIG_{a.symbol} is not defined in the {outcome.tree_version} tree "
                 "on any arch; ignored")
    if outcome.redefined or outcome.unknown:
        text += "\n"
    for arch, change in outcome.changes.items():
        text += f"\n{arch} ({change.tree_version}): {len(change.cascade)} change(s)"
        text += " (dry run)\n" if dry_run else (" written\n" if written.get(arch) else "\n")
        text += "".join(f"  {undefined_line(name, arch)}\n" for name in change.undefined)
        text += "".join(f"  {line}\n" for line in toolchain_lines(change.toolchain))
        text += "".join(f"  {cascade_line(c)}\n" for c in change.cascade)
        for refusal in change.refusals:
            where = f"{refusal.assignment.where}: " if refusal.assignment.where else ""
            text += (f"  WARNING: {where}{refusal.assignment} requested, but the result has "
                     f"{ends_as(refusal.got)}\n")
            for reason in refusal.reasons:
                text += "\n".join(reason_lines(reason, 2)) + "\n"
    return text


# --- talosnb why ------------------------------------------------------------------


def why_record(name: str, arch: str, answer: WhyAnswer | None) -> dict[str, Any]:
    """One arch's answer as `talosnb why --format json` lists it (``defined`` False: the arch
    doesn't define the symbol)."""
    if answer is None:
        return {"symbol": name, "arch": arch, "defined": False}
    return answer.as_dict()


def why_text(name: str, arch: str, answer: WhyAnswer | None, panel: ArchPanel | None = None) -> str:
    """One arch's answer as `talosnb why` prints it: the value and where it comes from, where the
    symbol is defined, what it depends on and what selects it (read from its ``panel``); with a
    value asked for, what else it would change, or why it can't take effect and a verified fix."""
    if answer is None:
        return f"\n{name} [{arch}]: not defined on {arch}\n"
    text = f"\n{name} [{arch}] = {answer.value} ({answer.type}): {answer.reason}\n"
    text += f"  defined at {', '.join(answer.defined_at)}\n"
    if panel is not None:
        if panel.depends_on:
            text += f"  depends on {expression(panel.depends_on)}\n"
        for level, terms in reverse_groups(panel.selected_by):
            text += f"  selected by [{level}]:\n" + "".join(f"    - {t}\n" for t in terms)
    change, refusal = answer.change, answer.refusal
    if change is None:
        return text
    if refusal is None:
        text += (f"  {answer.requested} can take effect; " + (
            f"it would change {len(change.cascade)} line(s):\n" if change.cascade else "nothing else changes\n"))
        text += "".join(f"    {cascade_line(c)}\n" for c in change.cascade)
    else:
        text += "  " + refusal_text(refusal).replace("\n", "\n  ") + "\n"
    return text
