"""The three gates of the Talos kernel build, run before the build, on the configs as they stand.

A Talos kernel change fails late, in a long docker build, at one of three gates:

1. ``olddefconfig`` — pkgs CI runs ``make kernel-olddefconfig`` and then checks
   that the tree is clean: the committed ``config-ARCH`` must be exactly what
   ``make olddefconfig`` writes. The gate lists every line it would change,
   with the kernel's reason (the same reasons ``set`` gives for a cascade).
2. ``hardening`` — ``kernel/build/pkg.yaml`` pipes kernel-hardening-checker
   (at the Pkgfile's ``kspp_ref``) into the checkout's
   ``filter-hardened-check.py ${CARCH}`` before compiling. The gate runs that
   very step (:mod:`talosnb.inputs.hardening`) on each config as talosnb would
   write it, edits included, so its verdict is the build's; each option the
   filter prints becomes a finding with talosnb's own verdict on it: fixable
   (a fix verified by the edit engine and by the checker), blocked (the
   why-not tree, with ``file:line`` in the kernel tree) or not in this tree
   (the checker knows a symbol this kernel doesn't define).
3. ``modules`` — the talos image build copies every ``.ko`` of
   ``hack/modules-ARCH.txt``; the module-list checks (:mod:`.modules`) decide it.

Findings are rows (:mod:`.findings`) with a ``gate`` detail; :class:`GateReport`
holds them with a pass/fail/not-run status and a typed summary per gate and arch
(:class:`GateResult`), the checker's rows read once from its JSON (:class:`CheckerRow`), and
:func:`hardening_checks` gives the checker's whole table, both arches side by side. How all of
it reads (text, JSON, tables, HTML) is :mod:`talosnb.present.gates`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

import kconfiglib
from kconfiglib import BOOL, STRING, TRISTATE

from talosnb.core import dotconfig, layout
from talosnb.core.errors import InputError
from talosnb.core.paths import ENV_HARDENING_CHECKER
from talosnb.core.versions import VersionCheck
from talosnb.inputs import hardening
from talosnb.kconfig import toolchain
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff, line_endings_change
from talosnb.kconfig.explain import Reason, assumed_probe_users, cascade_reason, location, value_reason

from .edit import Assignment, Editor, Fix, Refusal, SessionLike, editors_of
from .findings import LEVELS, Finding, Rule, render, rule_table
from .findings import findings_frame as generic_frame

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

    from talosnb.inputs.checkouts import ExtensionsCheckout, TalosCheckout
    from talosnb.inputs.pkgfile import ToolPin
    from talosnb.inputs.resolve import Inputs

    from .modules import VerifyFix


class GateSession(SessionLike, Protocol):
    """What the gates use of a loaded session (app.session.Session): its inputs and module check."""

    @property
    def inputs(self) -> Inputs: ...

    def require_talos(self) -> TalosCheckout: ...

    def check_modules(self, lists: dict | None = None, *, verify_fix: VerifyFix | None = None,
                      unlisted: bool = True) -> list[Finding]: ...

GATES: tuple[str, ...] = ("olddefconfig", "hardening", "modules")
# Checks named on request only (not part of "all", which is the build's own gates): the
# workloads' kernel requirements (talosnb.app.workloads).
EXTRA_GATES: tuple[str, ...] = ("workloads",)

GATE_TITLES = {"olddefconfig": "make olddefconfig leaves the config as committed (pkgs CI)",
               "hardening": "kernel-hardening-checker | filter-hardened-check.py (kernel/build/pkg.yaml)",
               "modules": "every .ko of hack/modules-ARCH.txt is built as a module (the talos image build)",
               "workloads": "the workloads' published kernel requirements (talosnb requirements)"}

DETAILS = ("gate", "verdict", "desired", "decision", "reason", "check_result")

RULES: dict[str, Rule] = rule_table(
    # olddefconfig
    Rule("olddefconfig-change", "error",
         "make olddefconfig changes CONFIG_{symbol}: {old} -> {new} ({why})",
         "normalize {config_name} (it then reads {new_line}){keep}"),
    Rule("olddefconfig-drop", "error",
         "make olddefconfig drops {old_line}: the {tree_version} tree doesn't define CONFIG_{symbol}",
         "use the kernel tree the config is for; or normalize {config_name}, which drops the line"),
    Rule("olddefconfig-layout", "error",
         "{config_name} has the values make olddefconfig writes but not its layout ({count} line(s) differ, "
         "the first at line {line}), so the dirty-tree check after it fails",
         "normalize {config_name}"),
    Rule("olddefconfig-line-endings", "error",
         "{config_name} ends {count} line(s) in CR LF, the first at line {line}; make olddefconfig reads the CR "
         "away and writes LF only, so the dirty-tree check after it fails",
         "normalize {config_name} (it writes LF), or convert the file's line endings (dos2unix), then commit it"),
    # hardening
    Rule("hardening-fixable", "error",
         "CONFIG_{symbol} fails the hardening gate: {checker} wants {desired} ({decision}, {reason}); "
         "{actual}",
         "set {assignments}{side_effects}"),
    Rule("hardening-fail", "error",
         "CONFIG_{symbol} fails the hardening gate: {checker} wants {desired} ({decision}, {reason}); "
         "{actual}", None),
    Rule("hardening-normalize", "error",
         "CONFIG_{symbol} fails the hardening gate: {checker} wants {desired} ({decision}, {reason}); "
         "{actual} in the config file",
         "normalize {config_name}: make olddefconfig writes {line} ({why})"),
    Rule("hardening-blocked", "error",
         "CONFIG_{symbol} fails the hardening gate: {checker} wants {desired} ({decision}, {reason}); "
         "{actual}; it can't be had here: {why}",
         "{fix}"),
    Rule("hardening-not-in-tree", "error",
         "CONFIG_{symbol} fails the hardening gate: {checker} wants {desired} ({decision}, {reason}), "
         "but the {tree_version} tree for {arch} doesn't define CONFIG_{missing}{renamed}",
         "no config change can pass this check on this kernel: add CONFIG_{symbol} to the ignore list of "
         "{filter} (with the reason), or use a {tool} that knows this kernel"),
    Rule("hardening-step-failed", "error",
         "the hardening step fails without naming an option (exit {status}): {output}",
         "run the step by hand to see why: {command}"),
    Rule("hardening-checker-mismatch", "warning", "{message}",
         "pass the {tool} of kspp_ref {ref} ({url})"),
    # every gate
    Rule("gate-not-run", "info", "the {gate} gate was not run: {why}", "{fix}"),
)


def make_finding(kind: str, arch: str, entry: str | None, gate: str, *, details: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> Finding:
    return render(RULES, kind, arch, entry, details={"gate": gate, **(details or {})}, gate=gate, **kwargs)


GateStatus = Literal["pass", "fail", "not-run"]


@dataclass(frozen=True)
class OlddefconfigSummary:
    """What the olddefconfig gate found on one arch: lines it would change, a layout or line-ending
    difference, or a config edited here (saving writes it as olddefconfig does)."""

    changed: int = 0
    layout: bool = False
    line_endings: bool = False
    edited: bool = False


@dataclass(frozen=True)
class HardeningSummary:
    """The hardening step's run on one arch: the checker (described), whether the step failed, how
    many printed options fail, and the Pkgfile's kspp_ref when the checker is another one."""

    checker: str
    failed: bool
    failing: int
    mismatch_ref: str | None = None


@dataclass(frozen=True)
class ModuleListsSummary:
    """The module lists of one arch: errors per list (talos's first, ``"talos"`` naming
    ``modules-ARCH.txt``), and how many extension lists were read."""

    arch: str
    errors: tuple[tuple[str, int], ...] = ()
    extension_lists: int = 0


@dataclass(frozen=True)
class WorkloadsSummary:
    """The workloads gate on one arch: the workloads checked and how many required options fail."""

    workloads: tuple[str, ...]
    failing: int


@dataclass(frozen=True)
class NotRunSummary:
    """Why a gate did not run (what it needs and the inputs lack)."""

    why: str


GateSummary = OlddefconfigSummary | HardeningSummary | ModuleListsSummary | WorkloadsSummary | NotRunSummary


@dataclass
class GateResult:
    """One gate on one arch: "pass", "fail" or "not-run", its findings, and what it found in short
    (``summary``: :mod:`talosnb.present.gates` words it)."""

    gate: str
    arch: str
    status: GateStatus
    findings: list[Finding] = field(default_factory=list)
    summary: GateSummary | None = None
    error: InputError | None = None    # not run because something it needs could not be had

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")


@dataclass
class GateReport:
    """Every gate that was asked for, per arch, and what the hardening gate ran."""

    results: list[GateResult]
    checker: hardening.HardeningChecker | None = None
    step: hardening.HardeningStep | None = None
    runs: dict[str, hardening.StepRun] = field(default_factory=dict)
    rows: dict[str, list[CheckerRow]] = field(default_factory=dict)     # arch -> the checker's rows
    filter_rules: hardening.FilterRules | None = None
    version_checks: list[VersionCheck] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    @property
    def failed(self) -> bool:
        return any(r.status == "fail" for r in self.results)

    @property
    def incomplete(self) -> list[InputError]:
        """Why gates that should have run did not (each error once)."""
        out = []
        for r in self.results:
            if r.error is not None and r.error not in out:
                out.append(r.error)
        return out

    @property
    def arches(self) -> list[str]:
        return list(dict.fromkeys(r.arch for r in self.results))

    def status(self, gate: str, arch: str) -> GateStatus | None:
        return next((r.status for r in self.results if r.gate == gate and r.arch == arch), None)

    def statuses(self) -> dict[str, dict[str, GateStatus]]:
        """gate -> arch -> status."""
        out: dict[str, dict[str, GateStatus]] = {}
        for r in self.results:
            out.setdefault(r.gate, {})[r.arch] = r.status
        return out

    def gate_results(self, gate: str) -> list[GateResult]:
        return [r for r in self.results if r.gate == gate]

    def findings_frame(self) -> pd.DataFrame:
        return findings_frame(self.findings)


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Gate findings as a DataFrame, with the gate and the hardening details as columns."""
    return generic_frame(findings, details=DETAILS)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """In findings_frame's order: errors first, then by arch, kind, entry, where and message."""
    rank = {level: i for i, level in enumerate(LEVELS)}
    return sorted(findings, key=lambda f: (rank[f.level], f.arch, f.kind, f.entry is not None, f.entry or "",
                                           f.where is not None, f.where or "", f.message))


def records(findings: Iterable[Finding]) -> list[dict]:
    """Findings as flat records with every detail (for JSON), in findings_frame's order."""
    return [{"gate": None, **f.as_dict()} for f in sort_findings(findings)]


# --------------------------------------------------------------------------- olddefconfig

def _config_lines(text: str) -> dict[str, int]:
    """Symbol -> the line of the file that sets it (the last one, which wins when read)."""
    out = {}
    for number, line in enumerate(dotconfig.split_lines(text), 1):
        name = dotconfig.line_symbol(line.rstrip())
        if name:
            out[name.removeprefix(dotconfig.PREFIX)] = number
    return out


def olddefconfig_gate(config: Config, editor: Editor | None = None) -> GateResult:
    """The lines `make olddefconfig` would change in the config file as the build would see it
    (:func:`as_the_build_sees_it`), each with the kernel's reason; or, when only the layout
    differs, the first line that does. A config edited here passes: saving writes it exactly as
    olddefconfig does.

    The header's kernel version is the tree's in what olddefconfig writes; a header that only
    differs in it (a config for another stable release of the tree's series) is no failure here.
    """
    arch = config.arch
    if editor is not None and editor.history:
        return GateResult("olddefconfig", arch, "pass", [], OlddefconfigSummary(edited=True))
    source = config.source
    new_text = config.text()
    changes = config_diff(config.original_text, new_text)
    lines = _config_lines(config.original_text)
    dropped = {n.symbol: n for n in config.notes if n.kind == "unknown-symbol"}
    assumed = assumed_probe_users(config)
    findings = []
    for change in changes:
        where = f"{source}:{lines[change.symbol]}" if change.symbol in lines else source
        sym = config.kconf.syms.get(change.symbol)
        values = {change.symbol: change.new if change.new is not None else "(no line)"}
        if change.symbol in dropped or sym is None or not sym.nodes:
            findings.append(make_finding("olddefconfig-drop", arch, f"CONFIG_{change.symbol}", "olddefconfig",
                                         symbols=[change.symbol], values=values, where=where,
                                         old_line=dotconfig.written_line(change.symbol, change.old),
                                         tree_version=config.tree.version,
                                         details={"old": change.old, "new": change.new}))
            continue
        if sym in config.transitional:
            why = (f"transitional in the {config.tree.version} tree: read from an old .config, then "
                   f"never written ({location(sym)})")
        else:
            why = cascade_reason(config, sym, change.old, change.new, assumed)
        keep = ""
        if change.old not in (None, "n") or (change.old == "n" and change.new not in (None, "n")):
            keep = f"; to keep {dotconfig.written_line(change.symbol, change.old)}, see why {change.symbol}={change.old}"
        findings.append(make_finding("olddefconfig-change", arch, f"CONFIG_{change.symbol}", "olddefconfig",
                                     symbols=[change.symbol], values=values, where=where,
                                     old=change.old if change.old is not None else "(no line)",
                                     new=change.new if change.new is not None else "(no line)",
                                     new_line=dotconfig.written_line(change.symbol, change.new), why=why, keep=keep,
                                     details={"defined_at": location(sym), "old": change.old, "new": change.new}))
    if not changes and new_text != config.original_text:
        first = _first_layout_difference(config.original_text, new_text, config.recorded_version,
                                         config.tree.version)
        if first is not None:
            line, count = first
            findings.append(make_finding("olddefconfig-layout", arch, None, "olddefconfig",
                                         where=f"{source}:{line}", line=line, count=count))
    endings = line_endings_change(config.original_text, new_text)
    if endings is not None:
        findings.append(make_finding("olddefconfig-line-endings", arch, None, "olddefconfig",
                                     where=f"{source}:{endings.first}", line=endings.first, count=endings.count))
    summary = OlddefconfigSummary(changed=len(changes), layout=any(f.kind == "olddefconfig-layout" for f in findings),
                                  line_endings=endings is not None)
    return GateResult("olddefconfig", arch, "fail" if findings else "pass", findings, summary)


def _first_layout_difference(old: str, new: str, recorded: str | None, tree_version: str) -> tuple[int, int] | None:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    if recorded and recorded != tree_version:
        # the tree's release in the header is no layout difference of the file
        new_lines = [ln.replace(f" {tree_version} Kernel Configuration", f" {recorded} Kernel Configuration")
                     if i < dotconfig.HEADER_LINES else ln for i, ln in enumerate(new_lines)]
    if old_lines == new_lines and old.endswith("\n") == new.endswith("\n"):
        return None
    import difflib

    differing = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b]
    first = differing[0] + 1 if differing else min(len(old_lines), len(new_lines)) + 1
    count = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in
                difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes() if tag != "equal")
    return first, max(count, 1)


# --------------------------------------------------------------------------- hardening

_NOT_VALUE = re.compile(r'^FAIL: CONFIG_(\w+) is not "(.*)"$')
_NOT_PRESENT = re.compile(r"^FAIL: CONFIG_(\w+) is not present$")


@dataclass(frozen=True)
class CheckerRow:
    """One check of kernel-hardening-checker's JSON output (``-m json``): the option, what the check
    wants (``desired_val``, as text), its group (``decision``) and reason, and its result
    (``check_result``: ``OK``, ``FAIL: ...``). ``fields`` is the whole JSON object, every field the
    checker gives kept (``type``, ``check_result_bool``, ...)."""

    option_name: str
    desired_val: str
    decision: str
    reason: str
    check_result: str
    fields: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> CheckerRow:
        return cls(str(obj["option_name"]), str(obj["desired_val"]), str(obj["decision"]),
                   str(obj.get("reason", "")), str(obj["check_result"]), dict(obj))

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What names one check: option, desired value, group and reason (an option has several)."""
        return (self.option_name, self.desired_val, self.decision, self.reason)

    @property
    def failing(self) -> bool:
        return self.check_result.startswith("FAIL")

    @property
    def symbol(self) -> str:
        """The option's name without CONFIG_."""
        return self.option_name.removeprefix(dotconfig.PREFIX)

    def as_dict(self) -> dict[str, Any]:
        """The checker's JSON object, as it printed it."""
        return dict(self.fields)


def parse_checker_output(text: str) -> list[CheckerRow] | None:
    """The checker's JSON rows (option_name, type, reason, decision, desired_val, check_result,
    check_result_bool), read once into CheckerRows; None when it printed something else."""
    try:
        rows = json.loads(text)
    except ValueError:
        return None
    keys = {"option_name", "decision", "desired_val", "check_result"}
    if not isinstance(rows, list) or not all(isinstance(r, dict) and keys <= r.keys() for r in rows):
        return None
    return [CheckerRow.of(r) for r in rows]


def printed_options(printed: str, rows: list[CheckerRow]) -> list[CheckerRow]:
    """The checker rows the filter printed as violations (its table: name | desired | decision | reason)."""
    by_fields: dict[tuple, list[CheckerRow]] = {}
    for row in rows:
        if not row.failing:
            continue
        by_fields.setdefault(row.key, []).append(row)
    out: list[CheckerRow] = []
    for line in printed.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4:
            continue
        hits = by_fields.get(tuple(cells[:4]))
        if hits is None:
            # a filter that prints fewer columns still names the option first
            hits = [r for key, rs in by_fields.items() if key[0] == cells[0] for r in rs][:1]
        for row in hits:
            if row not in out:
                out.append(row)
    return out


def _checker_value(desired: str, sym: kconfiglib.Symbol, current: str) -> str | None:
    """The assignment value that gives the checker's desired value; None when there is none."""
    if desired == "is not set":
        return "n" if sym.orig_type in (BOOL, TRISTATE) else None
    if desired in ("y", "m"):
        return desired
    if sym.orig_type is STRING:
        wanted = re.fullmatch(r"\*(.+)\*", desired)
        if wanted:
            # the checker wants the string to contain the word: add it to the comma list (CONFIG_LSM)
            return f"{current},{wanted.group(1)}" if current else wanted.group(1)
        return desired
    if re.fullmatch(r"-?\d+|0[xX][0-9a-fA-F]+", desired):
        return desired
    return None


def _renamed(config: Config, name: str) -> str:
    """How a symbol this tree doesn't set lives on: a `transitional` symbol (Linux 7.x) names its
    successor through the successor's `default OLD`."""
    sym = config.kconf.syms.get(name)
    if sym is None or sym not in config.transitional:
        return ""
    heirs = []
    for other in config.kconf.unique_defined_syms:
        for value, _cond in other.defaults:
            if sym in kconfiglib.expr_items(value) and other not in config.transitional:
                heirs.append(f"CONFIG_{other.name} takes its value (default {name}, {location(other)})")
                break
    return (f" (it is transitional here, {location(sym)}: renamed; " + "; ".join(heirs) + ")") if heirs else \
        f" (it is transitional here: read from old configs only, {location(sym)})"


def _no_fix(fix: Fix | None) -> str:
    """A finding's fix field when the search found none: what it tried."""
    if fix is None:
        return "no verified fix"
    why = "the search budget ran out" if fix.exhausted else "every route found is blocked"
    return f"no verified fix ({why}; {fix.tried} candidate(s) tried)"


def _blocker(reasons: list[Reason]) -> Reason | None:
    """The first condition that no assignment changes, else the deepest one: what blocks the value."""
    def walk(reason: Reason, depth: int) -> Iterator[tuple[Reason, int]]:
        yield reason, depth
        for child in reason.children:
            yield from walk(child, depth + 1)
    nodes = [pair for r in reasons for pair in walk(r, 0)]
    fixed = [r for r, _d in nodes if r.fixed]
    if fixed:
        return fixed[0]
    return max(nodes, key=lambda pair: pair[1])[0] if nodes else None


VerdictKind = Literal["fail", "fixable", "normalize", "blocked", "not-in-tree"]


@dataclass
class HardeningVerdict:
    """talosnb's verdict on one option the hardening gate fails: ``fixable`` (by ``assignments``, with
    the ``cascade`` of lines they change; ``by_others``: the other options' fixes satisfy it too),
    ``normalize`` (olddefconfig already writes what the checker wants: ``why``), ``blocked`` (``why``,
    what ``fix`` there is, and the why-not tree), ``not-in-tree`` (the tree doesn't define ``missing``;
    ``renamed`` says how it lives on), or ``fail`` (no verdict asked for)."""

    kind: VerdictKind
    assignments: list[Assignment] = field(default_factory=list)
    where: str | None = None
    why: str = ""
    fix: str = ""
    cascade: int = 0
    by_others: bool = False
    missing: str = ""
    renamed: str = ""
    why_not: list[dict[str, Any]] | None = None     # the why-not tree (Reason.as_dict), when one was made


def _verdict(config: Config, editor: Editor | None, row: CheckerRow, *, fix_budget: int) -> HardeningVerdict:
    """fixable, blocked or not-in-tree for one failing checker row, with the fix or the why-not tree."""
    name = row.symbol
    wanted = [(name, row.desired_val)]
    result = row.check_result
    other = _NOT_VALUE.match(result)
    if other and other.group(1) != name:
        # a compound check: the option is as desired but another one it needs is not
        wanted.append((other.group(1), other.group(2)))
    absent = _NOT_PRESENT.match(result)
    missing = [n for n, _v in wanted if not config.has_symbol(n) or config.kconf.syms[n] in config.transitional]
    if absent and absent.group(1) not in missing and not config.has_symbol(absent.group(1)):
        missing.append(absent.group(1))
    if missing:
        return HardeningVerdict("not-in-tree", missing=missing[0], renamed=_renamed(config, missing[0]))
    assignments = _checker_assignments(config, wanted)
    if isinstance(assignments, HardeningVerdict):
        return assignments
    fixed = _toolchain_blocked(config, editor, assignments)
    if fixed is not None:
        return fixed
    if editor is None:
        return HardeningVerdict("fixable", assignments, where=location(config.kconf.syms[name]))
    if absent:
        assignments = _with_line(config.kconf.syms[absent.group(1)], editor, assignments, fix_budget)
        if isinstance(assignments, HardeningVerdict):
            return assignments
    return _tried(config, editor, name, assignments, fix_budget)


def _toolchain_blocked(config: Config, editor: Editor | None, assignments: list[Assignment]) -> HardeningVerdict | None:
    """Blocked when the check wants another value of a toolchain line (CC_IS_CLANG=y on a gcc config):
    the build's compiler decides it, and a hardening fix doesn't change the compiler (set/merge can
    re-record such a line on purpose). The why-not tree of the other assignments comes with it."""
    lines = set(toolchain.toolchain_symbols(config)) if config.tree.mode == "recorded" else set()
    changed = [a for a in assignments if a.symbol in lines and config.kconf.syms[a.symbol].str_value != a.value]
    if not changed:
        return None
    sym = config.kconf.syms[changed[0].symbol]
    others = [a for a in assignments if a not in changed]
    why_not = []
    if editor is not None and others:
        why_not = [r.as_dict() for refusal in editor.set(others, dry_run=True, fix=False).refusals
                   for r in refusal.reasons]
    return HardeningVerdict("blocked", where=location(sym),
                            why=f"{sym.name} = {sym.str_value}: fixed for this arch and toolchain (a line the "
                                "config's compiler decides; give it with set to re-record the toolchain)",
                            fix="no verified fix (it needs another compiler)", why_not=why_not)


def _checker_assignments(config: Config, wanted: list[tuple[str, str]]) -> list[Assignment] | HardeningVerdict:
    """The checker's desired values as assignments; blocked where one can't be read as a value."""
    assignments = []
    for n, desired in wanted:
        sym = config.kconf.syms[n]
        value = _checker_value(desired, sym, sym.str_value)
        if value is None:
            return HardeningVerdict("blocked", why=f"talosnb can't turn the checker's {desired!r} into a value "
                                                   f"of the {kconfiglib.TYPE_TO_STR[sym.orig_type]} CONFIG_{n}",
                                    fix="set it by hand", where=location(sym))
        assignments.append(Assignment(n, value))
    return assignments


def _with_line(sym: kconfiglib.Symbol, editor: Editor, assignments: list[Assignment],
               fix_budget: int) -> list[Assignment] | HardeningVerdict:
    """"is not present": the check wants a line for the option, which olddefconfig writes only
    while its prompt is visible; what makes it visible is what lets it be set to y. The
    assignments with those added, or blocked."""
    if sym.config_string or sym.orig_type not in (BOOL, TRISTATE):
        return assignments
    probe = editor.set([Assignment(sym.name, "y")], dry_run=True, fix=True, fix_budget=fix_budget)
    for refusal in probe.refusals:
        if refusal.fix is None or not refusal.fix.found:
            blocker = _blocker(refusal.reasons)
            return HardeningVerdict("blocked", where=(blocker.where if blocker else None) or location(sym),
                                    why=f"the config has a line for CONFIG_{sym.name} only while it can be set, "
                                        "and it can't here" + (f": {blocker.text}" if blocker else ""),
                                    fix=_no_fix(refusal.fix), why_not=[r.as_dict() for r in refusal.reasons])
        assignments = [a for a in refusal.fix.assignments if a.symbol != sym.name] + assignments
    return assignments


def _tried(config: Config, editor: Editor, name: str, assignments: list[Assignment], fix_budget: int) -> HardeningVerdict:
    """The verdict of a dry run of `assignments` with verified fixes: fixable with the fixes that
    work together, else blocked with what stands in the way."""
    change = editor.set(assignments, dry_run=True, fix=True, fix_budget=fix_budget)
    if change.ok:
        return HardeningVerdict("fixable", assignments, cascade=len(change.cascade),
                                where=location(config.kconf.syms[name]))
    stuck = [r for r in change.refusals if r.fix is None or not r.fix.found]
    if stuck:
        return _stuck(config, name, stuck)
    extra: list[Assignment] = []
    for refusal in change.refusals:
        assert refusal.fix is not None   # every refusal has a fix found: the stuck ones returned above
        extra += [a for a in refusal.fix.assignments if a not in extra]
    combined = [*extra, *assignments]
    check = editor.set(combined, dry_run=True, fix=False)
    if not check.ok:
        blocker = _blocker(check.refusals[0].reasons)
        return HardeningVerdict("blocked", why="the fixes found for each part don't work together"
                                                + (f": {blocker.text}" if blocker else ""),
                                fix="set them one by one and look at the cascade",
                                where=blocker.where if blocker else None,
                                why_not=[r.as_dict() for r in check.refusals[0].reasons])
    return HardeningVerdict("fixable", combined, cascade=len(check.cascade), where=location(config.kconf.syms[name]))


def _stuck(config: Config, name: str, stuck: list[Refusal]) -> HardeningVerdict:
    """Blocked: every part that can't be had, the one the checker named first (a compound check's need)."""
    stuck.sort(key=lambda r: r.assignment.symbol == name)
    blockers = [_blocker(r.reasons) for r in stuck]
    why = "; ".join(f"{r.assignment} can't take effect" + (f": {b.text}" if b else "")
                    for r, b in zip(stuck, blockers, strict=True))
    fix = _no_fix(stuck[0].fix)
    where = next((b.where for b in blockers if b and b.where), None) or location(config.kconf.syms[name])
    return HardeningVerdict("blocked", why=why, fix=fix, where=where,
                            why_not=[reason.as_dict() for r in stuck for reason in r.reasons])


def _actual(config: Config, row: CheckerRow) -> str:
    name = row.symbol
    if not config.has_symbol(name):
        return "no such option"
    line = config.kconf.syms[name].config_string
    if not line:
        return "no line for it"
    return "is not set" if line.startswith("#") else line.strip().split("=", 1)[1]


def as_the_build_sees_it(config: Config, editor: Editor | None = None) -> str:
    """The config text the build would check: the file as loaded until the config is edited here,
    then what saving writes (``Config.text()``, as olddefconfig writes it)."""
    if editor is not None and editor.history:
        return config.text()
    return config.original_text


def hardening_gate(configs: Mapping[str, Config], step: hardening.HardeningStep,
                   checker: hardening.HardeningChecker, *, editors: Mapping[str, Editor] | None = None,
                   fix: bool = True, fix_budget: int = 60,
                   texts: Mapping[str, str] | None = None,
                   ) -> tuple[list[GateResult], dict[str, hardening.StepRun], dict[str, list[CheckerRow]]]:
    """Run the build's hardening step on each config as the build would see it
    (:func:`as_the_build_sees_it`); per arch a GateResult whose findings are the options the
    filter prints, each with its verdict.

    Returns (results, runs: arch -> StepRun, rows: arch -> the checker's JSON rows).
    With ``fix``, each option gets a verdict: fixable by normalizing (olddefconfig already
    gives the checker what it wants), fixable by a verified set of assignments, blocked, or
    not in this tree; then the checker is run once more with every fix of the arch applied:
    an option it still fails is blocked, one it no longer fails is fixed by the others' fixes.
    Without ``fix`` the options are only listed (kind "hardening-fail"). ``texts`` (arch -> a
    .config text) checks these texts instead, e.g. a change not applied yet.
    """
    editors = editors or {}
    texts = dict(texts) if texts is not None else {
        arch: as_the_build_sees_it(config, editors.get(arch)) for arch, config in configs.items()}
    runs = _run_all(step, checker, texts)
    results, all_rows = [], {}
    tool = hardening.TOOL
    described = f"{tool} {checker.ref[:12]}" if checker.ref else tool
    filter_name = (str(step.filter_script.relative_to(step.pkg_dir.parent.parent)) if step.filter_script
                   else "the filter")
    for arch, run in runs.items():
        config = configs[arch]
        rows = parse_checker_output(run.checker_output) or []
        all_rows[arch] = rows
        failing = printed_options(run.printed, rows) if run.status else []
        findings = []
        if run.status and not failing:
            output = run.printed.strip().splitlines()[-3:] + \
                [ln for stage in run.stages for ln in stage.stderr.strip().splitlines()[-3:]]
            command = " | ".join(" ".join(argv) for argv in step.command(checker, arch))
            findings.append(make_finding(
                "hardening-step-failed", arch, None, "hardening", where=step.where, status=run.status,
                output=" / ".join(output) or "nothing printed", command=command.replace(sys.executable, "python3")))
        verdicts = {row.key: HardeningVerdict("fail") for row in failing}
        if fix and failing:
            verdicts = _verdicts(config, editors.get(arch), step, checker, texts[arch], failing, fix_budget)
        for row in failing:
            findings.append(_hardening_finding(config, row, verdicts[row.key], described, filter_name))
        results.append(GateResult("hardening", arch, "fail" if run.status else "pass", findings,
                                  HardeningSummary(described, bool(run.status), len(failing))))
    return results, runs, all_rows


def _run_all(step: hardening.HardeningStep, checker: hardening.HardeningChecker,
             texts: Mapping[str, str]) -> dict[str, hardening.StepRun]:
    # the arches' runs are independent processes: run them side by side
    with ThreadPoolExecutor(max_workers=max(1, len(texts))) as pool:
        futures = {arch: pool.submit(hardening.run_step, step, checker, text, arch) for arch, text in texts.items()}
        return {arch: future.result() for arch, future in futures.items()}


def _failing_keys(step: hardening.HardeningStep, checker: hardening.HardeningChecker, text: str,
                  arch: str) -> dict[tuple, CheckerRow]:
    rows = parse_checker_output(hardening.run_step(step, checker, text, arch).checker_output) or []
    return {r.key: r for r in rows if r.failing}


def _verdicts(config: Config, editor: Editor | None, step: hardening.HardeningStep, checker: hardening.HardeningChecker, checked_text: str, failing: list[CheckerRow],
              fix_budget: int) -> dict[tuple, HardeningVerdict]:
    arch = config.arch
    verdicts: dict[tuple, HardeningVerdict] = {}
    normalized = config.text()
    still_in_normalized = (_failing_keys(step, checker, normalized, arch) if normalized != checked_text
                           else {r.key: r for r in failing})
    for row in failing:
        key = row.key
        if key not in still_in_normalized:
            sym = config.kconf.syms.get(row.symbol)
            why = value_reason(config, sym) if sym is not None and sym.nodes else "olddefconfig drops the line"
            verdicts[key] = HardeningVerdict("normalize", why=why, where=location(sym) if sym is not None else None)
        else:
            verdicts[key] = _verdict(config, editor, row, fix_budget=fix_budget)
    if editor is None:
        return verdicts
    combined: list[Assignment] = []
    for verdict in verdicts.values():
        if verdict.kind == "fixable":
            combined += [a for a in verdict.assignments if a not in combined]
    if not combined:
        return verdicts
    # the text saving would write with every fix merged in, as merging them would: tried, then dropped
    attempt = editor.attempt(combined, mode="merge")
    try:
        fixed_text = config.text()
    finally:
        attempt.drop()
    still = _failing_keys(step, checker, fixed_text, arch)
    for row in failing:
        key = row.key
        verdict = verdicts[key]
        if verdict.kind == "fixable" and key in still:
            verdicts[key] = HardeningVerdict(
                "blocked", where=verdict.where,
                why=f"setting {' '.join(str(a) for a in verdict.assignments)} takes effect, but the checker "
                    f"still reports {still[key].check_result}",
                fix="see what the check needs besides the option (kernel-hardening-checker -m verbose)")
        elif verdict.kind in ("blocked", "not-in-tree") and key not in still:
            # a compound check another option's fix satisfies (e.g. an OR of two options)
            verdicts[key] = HardeningVerdict("fixable", list(combined), where=verdict.where, by_others=True)
    return verdicts


def _hardening_finding(config: Config, row: CheckerRow, verdict: HardeningVerdict, described: str,
                       filter_name: str) -> Finding:
    name = row.symbol
    actual = _actual_in_file(config, row, verdict)
    params: dict[str, Any] = {"checker": described, "desired": row.desired_val, "decision": row.decision,
                              "reason": row.reason, "actual": actual, "tool": hardening.TOOL,
                              "tree_version": config.tree.version, "filter": filter_name}
    if verdict.kind == "fixable":
        params["assignments"] = " ".join(str(a) for a in verdict.assignments)
        n = verdict.cascade
        params["side_effects"] = (" (the fixes of the other options, which satisfy this check too)"
                                  if verdict.by_others else f" ({n} line(s) change with it)" if n > 1 else "")
    elif verdict.kind == "normalize":
        params["why"] = verdict.why
        params["line"] = dotconfig.written_line(name, config.written().get(name))
    elif verdict.kind == "blocked":
        params.update(why=verdict.why, fix=verdict.fix)
    elif verdict.kind == "not-in-tree":
        params.update(missing=verdict.missing, renamed=verdict.renamed)
    kind = f"hardening-{verdict.kind}"
    return make_finding(kind, config.arch, row.option_name, "hardening", symbols=[name], values={name: actual},
                        where=verdict.where,
                        details={"verdict": "fixable" if verdict.kind == "normalize" else verdict.kind,
                                 "desired": row.desired_val, "decision": row.decision,
                                 "reason": row.reason, "check_result": row.check_result,
                                 "assignments": [str(a) for a in verdict.assignments],
                                 "normalize": verdict.kind == "normalize",
                                 **({"why_not": verdict.why_not} if verdict.why_not is not None else {})},
                        **params)


def _actual_in_file(config: Config, row: CheckerRow, verdict: HardeningVerdict) -> str:
    """The option's value in the text the checker read, in words."""
    result = row.check_result
    found = re.fullmatch(r'FAIL: "(.*)"', result)
    value = found.group(1) if found else "no line for it" if result == "FAIL: is not found" else _actual(config, row)
    if value in ("is not set", "no line for it", "no such option"):
        return {"is not set": "it is not set", "no line for it": "it has no line",
                "no such option": "there is no such option"}[value]
    return f"it is {value}"


TreatmentKind = Literal["ok", "gated", "ignored", "outside-groups", "not-gated"]


@dataclass(frozen=True)
class GateTreatment:
    """What the hardening gate made of one check on one arch: ``ok`` (the checker passes it),
    ``gated`` (it fails the gate), ``ignored`` (the filter's ignore list has it, at ``line``, with
    its ``comment``), ``outside-groups`` (its decision is none of the filter's ``groups``), or
    ``not-gated`` (failing, and the filter doesn't print it for another reason)."""

    kind: TreatmentKind
    line: int | None = None
    comment: str = ""
    groups: tuple[str, ...] = ()


@dataclass
class HardeningCheck:
    """One check of the checker's table, both arches side by side: per arch its result, what the
    gate made of it, and the verdict of a failing option (None when it does not fail the gate)."""

    option: str
    decision: str
    reason: str
    desired: str
    results: dict[str, str] = field(default_factory=dict)              # arch -> check_result
    treatments: dict[str, GateTreatment] = field(default_factory=dict)
    verdicts: dict[str, str | None] = field(default_factory=dict)       # arch -> verdict, gated checks only


def hardening_checks(report: GateReport) -> list[HardeningCheck]:
    """The checker's whole table (OK and FAIL) of the report's run, one HardeningCheck per check, in
    the checker's order (the first arch's, then checks only another arch has)."""
    table: dict[tuple, HardeningCheck] = {}
    for arch in report.rows:
        failing = {row.key for row in _failing_rows(report, arch)}
        verdicts = {f.entry and (f.entry, f.details.get("desired"), f.details.get("decision"),
                                 f.details.get("reason")): f.details.get("verdict")
                    for f in report.findings if f.arch == arch and f.details.get("gate") == "hardening"}
        for row in report.rows[arch]:
            check = table.setdefault(row.key, HardeningCheck(row.option_name, row.decision, row.reason,
                                                             row.desired_val))
            check.results[arch] = row.check_result
            check.treatments[arch] = (GateTreatment("ok") if not row.failing else GateTreatment("gated")
                                      if row.key in failing else _treatment(report.filter_rules, row, arch))
            if row.key in failing:
                check.verdicts[arch] = verdicts.get(row.key)
    return list(table.values())


def _failing_rows(report: GateReport, arch: str) -> list[CheckerRow]:
    run = report.runs.get(arch)
    if run is None or not run.status:
        return []
    return printed_options(run.printed, report.rows.get(arch, []))


def _treatment(rules: hardening.FilterRules | None, row: CheckerRow, arch: str) -> GateTreatment:
    """Why a failing check does not fail the gate, from the filter's rules."""
    if rules is None:
        return GateTreatment("not-gated")
    if row.decision not in rules.groups:
        return GateTreatment("outside-groups", groups=tuple(sorted(rules.groups)))
    entry = rules.ignore_entry(row.option_name, arch)
    if entry is not None:
        line, comment = entry
        return GateTreatment("ignored", line=line, comment=comment or "")
    return GateTreatment("not-gated")


# --------------------------------------------------------------------------- all three

def _not_run(gate: str, arch: str, why: str, fix: str, level: str | None = None) -> GateResult:
    finding = make_finding("gate-not-run", arch, None, gate, why=why, fix=fix, level=level)
    return GateResult(gate, arch, "not-run", [finding], NotRunSummary(why))


def parse_gates(text: str | Iterable[str] | None) -> list[str]:
    """'olddefconfig,hardening,modules' (or 'all', or a list) -> the gates in their build order; the
    extra checks (workloads) come after, only when named."""
    if text is None or text == "all":
        return list(GATES)
    words = [w.strip() for w in (text.split(",") if isinstance(text, str) else text) if w.strip()]
    known = (*GATES, *EXTRA_GATES)
    unknown = [w for w in words if w not in known and w != "all"]
    if unknown or not words:
        raise InputError(f"unknown gate {unknown[0]!r}" if unknown else "no gate named",
                         hint=f"name some of {', '.join(known)} (comma-separated), or all (the build's "
                              f"{len(GATES)})")
    chosen = list(GATES) if "all" in words else [g for g in GATES if g in words]
    return chosen + [g for g in EXTRA_GATES if g in words]


def run_gates(session: GateSession, gates: Collection[str] = GATES, *, explicit: bool = False,
              hardening_checker: str | None = None, checkers: dict[tuple, hardening.HardeningChecker] | None = None, fix: bool = True,
              progress: bool = False, editors: Mapping[str, Editor] | None = None,
              module_findings: list[Finding] | None = None, verify_fix: VerifyFix | None = None, unlisted: bool = False) -> GateReport:
    """Every gate in `gates` on every loaded arch of `session` (its configs as they stand).

    A gate the inputs can't run (no talos checkout for the module lists, a Pkgfile pinning no
    kernel-hardening-checker) is "not-run" with a note; with ``explicit`` (the gates were
    named) that is an InputError instead. ``hardening_checker`` is a folder or tarball to use
    instead of the Pkgfile's pin (downloaded and verified otherwise); ``checkers`` keeps the
    checkers obtained, (that spec, the pin) -> checker, from one run to the next. ``module_findings``
    are module-list findings already made (else ``session.check_modules`` makes them, with the
    informational "built but not listed" ones when ``unlisted``: no gate depends on those).
    ``editors`` (arch -> Editor) are those the configs were edited with (an edited config is
    checked as saving would write it), which also verify the fixes; none given: the configs are
    as loaded, and fixes are verified by editors made here.
    """
    editors = editors_of(session.configs) if editors is None else editors
    arches = list(session.configs)
    report = GateReport([])
    for gate in GATES:
        if gate not in gates:
            continue
        if gate == "olddefconfig":
            report.results += [olddefconfig_gate(session.configs[arch], editors.get(arch)) for arch in arches]
        elif gate == "hardening":
            _hardening(session, report, arches, explicit=explicit, spec=hardening_checker, fix=fix,
                       progress=progress, editors=editors, checkers=checkers)
        elif gate == "modules":
            if session.inputs.talos is None and module_findings is None:
                if explicit:
                    session.require_talos()
                report.results += [_not_run("modules", arch, "no talos checkout (hack/modules-ARCH.txt)",
                                            "give the talos checkout") for arch in arches]
                continue
            found = (session.check_modules(verify_fix=verify_fix, unlisted=unlisted) if module_findings is None
                     else module_findings)
            for arch in arches:
                mine = [_as_modules_gate(f) for f in found if f.arch == arch]
                summary = _lists_summary(mine, arch, session.inputs.extensions)
                report.results.append(GateResult("modules", arch, "fail" if summary.errors else "pass", mine,
                                                 summary))
    return report


def _lists_summary(findings: list[Finding], arch: str, extensions: ExtensionsCheckout | None) -> ModuleListsSummary:
    """The errors per list (talos's first, then the extension lists by name) and, with an extensions
    checkout, how many of its lists were read."""
    per_list: dict[str, int] = {}
    for f in findings:
        if f.level == "error":
            name = f.details.get("list") or "talos"
            per_list[name] = per_list.get(name, 0) + 1
    shipped = len(extensions.list_files(arch)) if extensions is not None else 0
    ordered = sorted(per_list.items(), key=lambda item: (item[0] != "talos", item[0]))
    return ModuleListsSummary(arch, tuple(ordered), shipped)


def module_fix(finding: Finding) -> list[str] | None:
    """The assignments that fix a module-list error whose fix is only assignments (CONFIG_X=m ...);
    None when it has another fix."""
    words = (finding.fix or "").split()
    found = [re.fullmatch(r"(?:CONFIG_)?([A-Za-z0-9_]+)=(\S+)", w) for w in words]
    if finding.level != "error" or not words or not all(found):
        return None
    return [f"{m.group(1)}={m.group(2)}" for m in found if m]     # all match


def _as_modules_gate(finding: Finding) -> Finding:
    """A module-list finding as the modules gate's: its gate, and its verdict when assignments fix it."""
    fix = module_fix(finding)
    verdict = {} if fix is None else {"verdict": "fixable", "assignments": fix}
    return replace(finding, details={**finding.details, "gate": "modules", **verdict})


def _mismatch(results: list[GateResult], pin: ToolPin, check: VersionCheck) -> None:
    """The checker run is not the Pkgfile's kspp_ref: each arch's result says so first."""
    for result in results:
        result.findings.insert(0, make_finding(
            "hardening-checker-mismatch", result.arch, None, "hardening", where=pin.where,
            message=check.message, tool=hardening.TOOL, ref=pin.ref, url=hardening.checker_url(pin.ref)))
        if isinstance(result.summary, HardeningSummary):
            result.summary = replace(result.summary, mismatch_ref=pin.ref)


def _hardening(session: GateSession, report: GateReport, arches: list[str], *, explicit: bool, spec: str | os.PathLike | None, fix: bool,
               progress: bool, editors: Mapping[str, Editor],
               checkers: dict[tuple, hardening.HardeningChecker] | None) -> None:
    pkgs = session.inputs.pkgs
    assert pkgs is not None, "Session.open refuses inputs without a pkgs checkout"
    info = pkgs.pkgfile_info()
    pin = info.kspp()
    if pin is None and not (spec or os.environ.get(ENV_HARDENING_CHECKER)):
        if explicit:
            raise InputError(f"the Pkgfile pins no {hardening.TOOL} (no kspp_ref)", where=str(info.path),
                             hint=hardening.checker_hint())
        report.results += [_not_run("hardening", a, f"the Pkgfile pins no {hardening.TOOL} (no kspp_ref)",
                                    f"give a {hardening.TOOL} folder or tarball") for a in arches]
        return
    step = hardening.read_step(layout.build_dir(pkgs.path))
    if step is None:
        if explicit:
            raise InputError(f"the build runs no {hardening.TOOL}", where=str(pkgs.path / layout.BUILD_PKG_YAML),
                             hint="the hardening gate needs the step of kernel/build/pkg.yaml that runs it")
        report.results += [_not_run("hardening", a, f"kernel/build/pkg.yaml runs no {hardening.TOOL}", "")
                           for a in arches]
        return
    try:
        checker = hardening.checker_for(checkers if checkers is not None else {}, pin, spec, progress=progress)
    except InputError as e:
        if explicit:
            raise
        # the other gates still run; this one says why it couldn't, and the run is incomplete
        for arch in arches:
            result = _not_run("hardening", arch, f"{e.where + ': ' if e.where else ''}{e.message}",
                              e.hint or "", level="warning")
            result.error = e
            report.results.append(result)
        return
    report.checker, report.step = checker, step
    report.filter_rules = hardening.read_filter_rules(step.filter_script) if step.filter_script else None
    check = hardening.pin_check(checker, pin)
    if check is not None:
        report.version_checks.append(check)
    results, runs, rows = hardening_gate({a: session.configs[a] for a in arches}, step, checker,
                                         editors=editors, fix=fix)
    if check is not None and check.kind == "mismatch":
        assert pin is not None   # pin_check makes no check without a pin
        _mismatch(results, pin, check)
    report.results += results
    report.runs.update(runs)
    report.rows.update(rows)
