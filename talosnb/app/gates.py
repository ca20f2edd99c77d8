"""The build gates in one user's work: the report of the configs as they stand (made once per
change), and the rule for set/merge — a change that makes a gate fail which passed before is
warned about, or refused when the user asks for strictness.

The hardening gate is what this guard watches. The module-list gate has its own guard, which
refuses a change that stops building a listed module (the Workspace's module-list rule), and
the olddefconfig gate is about the file on disk: any unsaved edit differs from it, and saving
writes exactly what olddefconfig writes, so a change never breaks it.

The hardening guard runs kernel-hardening-checker only when a change touches an option the
checker looks at: the options its table names, read once per arch from its verbose report.
It never downloads anything by itself unless strictness demands the check: it uses the
checker the user gave, or the one a gate run already obtained or the cache holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from talosnb.analyses import gates as gate_rules
from talosnb.analyses.edit import ChangeSet, Editor, fix_verifier
from talosnb.core import layout
from talosnb.core.errors import InputError, TalosnbError, opt
from talosnb.inputs import hardening
from talosnb.kconfig.diff import config_diff

from .plan import Verdict
from .session import NEEDS_KERNEL_AND_PKGS

if TYPE_CHECKING:
    from talosnb.analyses.findings import Finding
    from talosnb.analyses.modules import ExtensionList, ModuleList

    from .session import Session


@dataclass
class GateChange:
    """A gate that passed before a change and fails with it, on one arch."""

    gate: str
    arch: str
    findings: list[Finding] = field(default_factory=list)     # the gate's error findings with the change

    def text(self) -> str:
        what = "; ".join(f.entry or f.message for f in self.findings[:5])
        more = f" and {len(self.findings) - 5} more" if len(self.findings) > 5 else ""
        return f"{self.arch}: the {self.gate} gate passed before and fails with this change ({what}{more})"


@dataclass
class GuardResult:
    """What the guard found for one change: gates it breaks, and gates it could not check."""

    broken: list[GateChange] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)     # "hardening: why", once per reason

    def as_dict(self) -> dict:
        return {"broken": [{"gate": b.gate, "arch": b.arch, "findings": gate_rules.records(b.findings)}
                           for b in self.broken], "unchecked": list(self.unchecked)}


class GateKeeper:
    """The build gates over one session (and its module lists): reports and the set/merge guard.
    ``editors`` (arch -> Editor) are the configs' editors, which say whether a config was edited
    (the build then checks what saving writes) and verify fixes."""

    def __init__(self, session: Session, editors: Mapping[str, Editor], *,
                 hardening_checker: str | None = None) -> None:
        self.session = session
        self.editors = editors
        self.hardening_checker = hardening_checker
        self._reports: dict[tuple, gate_rules.GateReport] = {}
        # the kernel-hardening-checkers obtained: (the checker given, the Pkgfile's pin) -> checker
        self.checkers: dict[tuple, hardening.HardeningChecker] = {}
        self._watched: dict[tuple, frozenset[str]] = {}

    # --- reports -------------------------------------------------------------

    def report(self, chosen: Sequence[str] | None = None, *, key: object = None, module_lists: Mapping[str, ModuleList] | None = None,
               explicit: bool = False, progress: bool = False, unlisted: bool = False,
               extension_lists: Sequence[ExtensionList] | None = None) -> gate_rules.GateReport:
        """The gates in `chosen` (default all) on the configs as they stand; with a `key` (the
        workspace's change counter), made once per key. `module_lists` are the lists as edited
        (default: read from the talos checkout); ``unlisted`` adds the informational findings of
        modules built but not listed."""
        chosen = gate_rules.parse_gates(chosen)
        cache_key = (key, tuple(chosen), unlisted)
        if key is not None and cache_key in self._reports:
            return self._reports[cache_key]
        module_findings = None
        if "modules" in chosen and (module_lists or extension_lists):
            module_findings = self.session.check_modules(module_lists or {}, verify_fix=fix_verifier(self.editors),
                                                         unlisted=unlisted, extension_lists=extension_lists)
        report = gate_rules.run_gates(self.session, chosen, explicit=explicit, checkers=self.checkers,
                                      editors=self.editors,
                                      hardening_checker=self.hardening_checker, progress=progress,
                                      module_findings=module_findings, unlisted=unlisted)
        if key is not None:
            self._reports = {k: v for k, v in self._reports.items() if k[0] == key}
            self._reports[cache_key] = report
        return report

    # --- the guard -------------------------------------------------------------

    def verdict(self, changes: Mapping[str, ChangeSet], *, before: Mapping[str, Callable[[], str]],
                after: Mapping[str, Callable[[], str]], first_edit: Mapping[str, bool],
                strict: bool = False) -> Verdict:
        """Which guarded gates `changes` (arch -> ChangeSet, on trial) make fail that passed before:
        a function of the config texts the build would check ``before`` and ``after`` the change
        (arch -> a function giving it: a text is built only when a check needs it).
        ``first_edit``: arch -> the config was not edited before (saving then also writes what
        olddefconfig changes in the file, which the gate sees too).

        The verdict refuses with ``strict`` when a gate breaks (its ``detail`` is the GuardResult);
        with ``strict`` a gate that can't be checked is an InputError (the check is what was asked for)."""
        result = GuardResult()
        applied = {arch: c for arch, c in changes.items() if c.cascade}
        if applied:
            self._hardening_verdict(applied, result, before=before, after=after, first_edit=first_edit,
                                    strict=strict)
        message = ""
        if result.broken:
            message = "; ".join(b.text() for b in result.broken) + "; nothing was changed"
        return Verdict("gates", strict and bool(result.broken), message, "strict",
                       [f for b in result.broken for f in b.findings], detail=result)

    def checker_at_hand(self, *, strict: bool) -> bool:
        """Whether the guard would run kernel-hardening-checker (cheap: nothing is downloaded)."""
        if self._step_and_pin() is None:
            return False
        try:
            return self._checker(download=False) is not None or strict
        except TalosnbError:
            return strict

    def _step_and_pin(self) -> tuple[hardening.HardeningStep, object] | None:
        session = self.session
        assert session.inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
        step = hardening.read_step(layout.build_dir(session.inputs.pkgs.path))
        pin = session.inputs.pkgs.pkgfile_info().kspp()
        if step is None or (pin is None and not self.hardening_checker):
            return None           # the build has no hardening gate here: nothing to break
        return step, pin

    def _checker(self, *, download: bool) -> hardening.HardeningChecker | None:
        """The checker at hand: the one given, one a gate run obtained, or the cached download."""
        assert self.session.inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
        pin = self.session.inputs.pkgs.pkgfile_info().kspp()
        cache = self.checkers
        key = (self.hardening_checker, pin)
        if key in cache:
            return cache[key]
        if self.hardening_checker or download:
            return hardening.checker_for(cache, pin, self.hardening_checker)
        found = hardening.cached_checker(pin) if pin is not None else None
        if found is not None:
            cache[key] = found
        return found

    def _hardening_verdict(self, changes: Mapping[str, ChangeSet], result: GuardResult, *,
                           before: Mapping[str, Callable[[], str]], after: Mapping[str, Callable[[], str]],
                           first_edit: Mapping[str, bool], strict: bool) -> None:
        found = self._step_and_pin()
        if found is None:
            return
        step, _pin = found
        try:
            checker = self._checker(download=strict)
        except TalosnbError:
            if strict:
                raise
            checker = None
        if checker is None:
            result.unchecked.append("hardening gate not checked: kernel-hardening-checker is not at hand "
                                    f"(run the gates once, or give {opt('hardening_checker')})")
            return
        session = self.session
        touched = {}
        for arch, change in changes.items():
            config = session.configs[arch]
            names = {c.symbol for c in change.cascade}
            if first_edit[arch]:
                # the first edit: saving then also writes what olddefconfig changes in the file
                names |= {c.symbol for c in config_diff(config.original_text, after[arch]())}
            if names & self._watched_options(step, checker, arch, after[arch]):
                touched[arch] = config
        if not touched:
            return
        now, _runs, _rows = gate_rules.hardening_gate(touched, step, checker, fix=False,
                                                      texts={arch: after[arch]() for arch in touched})
        failing = [gate for gate in now if gate.status == "fail"]
        if not failing:
            return
        # and before the change? the same step on the text the build saw before
        was, _runs, _rows = gate_rules.hardening_gate({g.arch: touched[g.arch] for g in failing}, step, checker,
                                                      fix=False, texts={g.arch: before[g.arch]() for g in failing})
        passed = {gate.arch for gate in was if gate.status == "pass"}
        for gate in failing:
            if gate.arch in passed:
                result.broken.append(GateChange("hardening", gate.arch,
                                                [f for f in gate.findings if f.level == "error"]))

    def _watched_options(self, step: hardening.HardeningStep, checker: hardening.HardeningChecker,
                         arch: str, text: Callable[[], str]) -> frozenset[str]:
        """Every option the checker's checks read on this arch (the verbose table's CONFIG_ lines)."""
        key = (str(checker.path), arch)
        if key not in self._watched:
            verbose = hardening.HardeningStep((hardening.Stage(step.stages[0].program, ("-c", ".config", "-m",
                                                                                       "verbose")),),
                                              step.where, step.pkg_dir)
            run = hardening.run_step(verbose, checker, text(), arch)
            names = {m.group(1) for m in re.finditer(r"^CONFIG_(\w+)\s*\|", run.checker_output, re.MULTILINE)}
            if not names:
                raise InputError("kernel-hardening-checker -m verbose printed no checks",
                                 where=str(checker.path), hint=hardening.checker_hint())
            self._watched[key] = frozenset(names)
        return self._watched[key]

