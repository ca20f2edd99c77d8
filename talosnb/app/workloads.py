"""The workloads' kernel requirements in one user's work: the report per arch, the gate, and the
rule for set/merge.

- :func:`requirements_report`: every chosen requirement's status on each loaded arch, with why-not
  (``file:line``) and the verified fix for what is not met (:mod:`talosnb.analyses.requirements`);
- :func:`verdict`: the set/merge guard, a pure function of the values before and after a change
  (arch -> symbol -> value): which requirements were met before and fail after. The Workspace
  warns about them, or with strictness refuses the change;
- :func:`gate_results`: the report as the ``workloads`` gate of ``check``.

Requirements are resolved against each arch's tree once per session (module names through the
Kbuild map; the resolution of the shipped profiles is kept on disk per tree, so a warm run reads
no Kbuild map at all).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talosnb.analyses import requirements as rq
from talosnb.analyses.findings import Finding
from talosnb.core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from talosnb.analyses.edit import ChangeSet, Editor
    from talosnb.analyses.gates import GateResult
    from talosnb.analyses.modules import ModuleList

    from .session import Session

DEFAULT_GATE_WORKLOADS = ("kubernetes",)
GATE = "workloads"


@dataclass(frozen=True)
class WorkloadChoice:
    """Which workloads a check watches, which of their optional features count (None: every one),
    and who said so (the option, the pkgs checkout's ``.talosnb.toml``, or the default)."""

    workloads: tuple[str, ...] | None
    features: tuple[str, ...] | None
    source: str

    @property
    def gate_features(self) -> list[str]:
        """What the gate checks: the base requirements, and those of the features in use."""
        return [rq.BASE, *(f for f in self.features or () if f != rq.BASE)]


def checkout_choice(session: Session) -> WorkloadChoice | None:
    """The workloads and features the pkgs checkout's ``.talosnb.toml`` names (None without one),
    each name checked against the profiles: a name no profile has is an InputError at its line."""
    pkgs = session.inputs.pkgs
    settings = pkgs.settings() if pkgs is not None else None
    if settings is None:
        return None
    profiles = rq.load_profiles()
    if settings.workloads is not None:
        if not settings.workloads:
            raise InputError("workloads is empty", where=settings.where("workloads"),
                             hint=f"name at least one of {', '.join(sorted(profiles))}, or leave the key out "
                                  f"(the gate then checks {', '.join(DEFAULT_GATE_WORKLOADS)})")
        try:
            rq.select(profiles, settings.workloads)
        except InputError as e:
            raise InputError(e.message, where=settings.where("workloads"), hint=e.hint) from None
    if settings.features is not None:
        try:
            rq.select(profiles, settings.workloads or DEFAULT_GATE_WORKLOADS, settings.features or None)
        except InputError as e:
            raise InputError(e.message, where=settings.where("features"), hint=e.hint) from None
    return WorkloadChoice(settings.workloads, settings.features, str(settings.path))


def gate_choice(session: Session, workloads: Sequence[str] | None) -> WorkloadChoice:
    """The workloads gate's workloads: those named, else the checkout's ``.talosnb.toml``, else
    kubernetes; the base requirements, and those of the features the file says are in use."""
    if workloads:
        return WorkloadChoice(tuple(workloads), (), "named")
    found = checkout_choice(session)
    if found is not None and found.workloads:
        return found
    return WorkloadChoice(DEFAULT_GATE_WORKLOADS, found.features if found else (),
                          found.source if found else "default")


def guard_choice(session: Session, workloads: Sequence[str] | None) -> WorkloadChoice:
    """The set/merge guard's workloads: those named, else the checkout's ``.talosnb.toml`` (its
    features alone besides the base ones, when it names them), else every profile, every feature."""
    if workloads:
        return WorkloadChoice(tuple(workloads), None, "named")
    found = checkout_choice(session)
    return found if found is not None else WorkloadChoice(None, None, "default")


@dataclass
class RequirementsReport:
    """Each requirement's status per arch, and the findings of those not met or stale."""

    workloads: list[str]
    features: list[str] | None
    statuses: list[rq.Status]
    findings: list[Finding]
    tree_version: str

    @property
    def failed(self) -> bool:
        """A required requirement is not met (or its module isn't shipped) on some arch."""
        return any(s.failing and s.requirement.required for s in self.statuses)

    def counts(self) -> dict[str, dict[str, int]]:
        """arch -> status -> how many."""
        out: dict[str, dict[str, int]] = {}
        for s in self.statuses:
            per = out.setdefault(s.arch, dict.fromkeys(rq.STATUSES, 0))
            per[s.status] += 1
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per requirement and arch (what the table view and the JSON show)."""
        by_key = {(f.arch, f.details.get("workload"), f.details.get("feature"), f.entry): f for f in self.findings}
        rows = []
        for s in self.statuses:
            req = s.requirement
            found = by_key.get((s.arch, req.workload, req.feature, req.label))
            rows.append({"workload": req.workload, "feature": req.feature, "required": req.required,
                         "requirement": req.label, "kind": req.kind, "need": req.need, "arch": s.arch,
                         "status": s.status, "symbol": s.symbol, "value": s.value,
                         "modules": list(s.modules), "unshipped": list(s.unshipped),
                         "why": (found.message if found is not None and s.status not in ("met", "met-module")
                                 else s.resolved.not_applicable or ""),
                         "reason": (found.details.get("reason") if found is not None else None)
                                   or s.resolved.stale or s.resolved.not_applicable or "",
                         "where": found.where if found is not None else None,
                         "fix": found.fix if found is not None else None,
                         "source": req.source.title, "section": req.section, "url": req.source.url,
                         "profile": req.where})
        return rows

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows())

    def as_dict(self) -> dict[str, Any]:
        return {"workloads": self.workloads, "features": self.features, "tree_version": self.tree_version,
                "failed": self.failed, "counts": self.counts(), "requirements": self.rows()}


def resolved_for(session: Session, requirements: Sequence[rq.Requirement],
                 cache: dict | None = None) -> dict[str, list[rq.Resolved]]:
    """arch -> the requirements resolved against that arch's tree (once per `cache`: the caller's,
    e.g. the Workspace's; the resolution is also kept on disk per tree)."""
    cache = {} if cache is None else cache
    out = {}
    for arch in session.configs:
        key = (arch, tuple(r.key + (r.where,) for r in requirements))
        if key not in cache:
            cache[key] = _resolve_cached(session, arch, requirements)
        out[arch] = cache[key]
    return out


def _resolve_cached(session: Session, arch: str, requirements: Sequence[rq.Requirement]) -> list[rq.Resolved]:
    """Resolve through the Kbuild map only when the on-disk answer for this tree is missing: the
    names each requirement resolves to (symbols, .ko paths) or why it is stale."""
    from talosnb.core import cachefile

    from .answers import tree_stamp

    config = session.configs[arch]
    stored = None
    path = _cache_file(session, arch, requirements)
    if path is not None:
        stored = cachefile.read(path, engine=_ENGINE, what="workload requirements")
    assert session.inputs.kernel is not None, "a Session has a kernel tree"
    tree = str(session.inputs.kernel.path)
    if stored is not None:
        try:
            kept = json.loads(stored.read())
            # the Kbuild files the map was made from, as they were: a Kbuild file edited since
            # (the map not loaded in between) resolves the module names again
            if [list(s) for s in tree_stamp(tree, kept["kbuild"])] == kept["stamp"]:
                return [_from_answer(r, arch, a) for r, a in zip(requirements, kept["answers"], strict=True)]
        except (ValueError, KeyError, TypeError):
            pass
    kmap = session.kbuild_map(arch)
    resolved = rq.resolve(requirements, config, kmap)
    path = path or _cache_file(session, arch, requirements)     # the map was just built: now it has a stamp
    if path is not None:
        names = [*kmap.files, *kmap.directories]
        cachefile.write(path, json.dumps({"kbuild": names, "stamp": tree_stamp(tree, names),
                                          "answers": [_answer(r) for r in resolved]}).encode(), engine=_ENGINE)
    return resolved


def _cache_file(session: Session, arch: str, requirements: Sequence[rq.Requirement]) -> Path | None:
    """Where the resolution of `requirements` on this arch's tree is kept: keyed by the
    requirements, the tree, the symbols it defines and the stamp of the tree's Kbuild-map cache
    file (the file also keeps the stamps of the Kbuild files the map was made from, checked when it
    is read). None while there is no such file."""
    from talosnb.core.paths import cache_dir
    from talosnb.kbuild.cache import cache_path

    config = session.configs[arch]
    assert session.inputs.kernel is not None, "a Session has a kernel tree"
    tree = session.inputs.kernel.path
    try:
        stat = cache_path(tree, config.tree.srcarch).stat()
    except OSError:
        return None
    # which symbols the tree defines, and their types: a Kconfig file edited in place (same tree,
    # same version) changes what is stale without touching the Kbuild map
    defined = hashlib.sha256("\n".join(f"{name} {sym.orig_type}" for name, sym in sorted(config.kconf.syms.items())
                                       if sym.nodes).encode()).hexdigest()
    key = json.dumps([[_requirement_id(r) for r in requirements], str(Path(tree).resolve()), config.tree.version,
                      config.tree.srcarch, arch, stat.st_mtime_ns, stat.st_size, defined])
    return cache_dir() / "requirements" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


_ENGINE = "talosnb-requirements 2"


def _requirement_id(r: rq.Requirement) -> list:
    return [r.workload, r.feature, r.kind, r.name, list(r.alternatives), r.arches, r.kernel.text if r.kernel else None]


def _answer(r: rq.Resolved) -> dict:
    return {"stale": r.stale, "na": r.not_applicable,
            "candidates": [[c.name, list(c.symbols), list(c.modules), c.tristate] for c in r.candidates]}


def _from_answer(req: rq.Requirement, arch: str, answer: dict) -> rq.Resolved:
    return rq.Resolved(req, arch, tuple(rq.Candidate(n, tuple(s), tuple(m), bool(t))
                                        for n, s, m, t in answer["candidates"]),
                       stale=answer["stale"], not_applicable=answer["na"])


def values_of(session: Session, resolved: Mapping[str, Sequence[rq.Resolved]]) -> dict[str, dict[str, str]]:
    """arch -> symbol -> current value, for the symbols the resolved requirements read."""
    out = {}
    for arch, items in resolved.items():
        syms = session.configs[arch].kconf.syms
        out[arch] = {s: syms[s].str_value for r in items for c in r.candidates for s in c.symbols}
    return out


def shipped_of(module_lists: Mapping[str, ModuleList]) -> dict[str, frozenset[str]]:
    return {arch: frozenset(line.strip() for line in lst.lines if line.strip()) for arch, lst in module_lists.items()}


def requirements_report(session: Session, module_lists: Mapping[str, ModuleList] | None,
                        workloads: Iterable[str] | None = None, features: Iterable[str] | None = None, *,
                        profiles_dir: str | None = None, explain: bool = True,
                        cache: dict | None = None, editors: Mapping[str, Editor] | None = None,
                        ) -> RequirementsReport:
    """The chosen requirements on every loaded arch of `session`, the configs as they stand and
    the module lists as given (None: "met as a module" is not checked against a list).
    ``editors`` (arch -> Editor): those the configs were edited with, which explain what is not
    met (none given: the configs are as loaded, explained by editors made here)."""
    from talosnb.analyses.edit import editors_of

    profiles = rq.load_profiles(profiles_dir)
    chosen = list(workloads) if workloads else sorted(profiles)
    requirements = rq.select(profiles, chosen, features)
    resolved = resolved_for(session, requirements, cache)
    values = values_of(session, resolved)
    shipped = shipped_of(module_lists or {})
    editors = editors_of(session.configs, editors)
    statuses: list[rq.Status] = []
    findings: list[Finding] = []
    for arch, items in resolved.items():
        mine = rq.evaluate(items, values[arch], shipped.get(arch))
        statuses += mine
        known = _Explanations(session, arch, editors[arch]) if explain else None
        for status in mine:
            if status.status in ("met", "met-module", "not-applicable"):
                continue
            explanation = None
            if status.status == "not-met" and known is not None:
                explanation = known.get(status, editors[arch])
            findings.append(rq.finding(status, explanation))
        if known is not None:
            known.save()
    return RequirementsReport(chosen, list(features) if features else None, statuses, findings,
                              session.tree_version)


class _Explanations:
    """Why-not and verified fixes of one arch's config, kept on disk while the config is as loaded
    (the fix search is the slow part of a report; the same file on the same tree gets the same
    answers). An edited config is explained afresh."""

    def __init__(self, session: Session, arch: str, editor: Editor) -> None:
        from talosnb.core import cachefile
        from talosnb.core.paths import cache_dir

        config = session.configs[arch]
        self.config = config
        self.path: Path | None = None
        self.known: dict[str, dict] = {}
        self.dirty = False
        # once something was set, the config may differ from the file
        if not editor.history:
            key = json.dumps([hashlib.sha256(config.original_text.encode()).hexdigest(), str(config.tree.path),
                              config.tree.version, config.tree.mode, arch])
            self.path = cache_dir() / "requirements" / f"why-{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
            stored = cachefile.read(self.path, engine=_ENGINE, what="workload requirement explanations")
            if stored is not None:
                try:
                    self.known = dict(json.loads(stored.read()))
                except ValueError:
                    self.known = {}

    def get(self, status: rq.Status, editor: Editor) -> rq.Explanation:
        key = f"{status.symbol}={status.requirement.need}"
        hit = self.known.get(key)
        if hit is not None:
            return rq.Explanation(**hit)
        explanation = rq.explain(status, self.config, editor)
        self.known[key] = explanation.__dict__
        self.dirty = True
        return explanation

    def save(self) -> None:
        from talosnb.core import cachefile

        if self.path is not None and self.dirty:
            cachefile.write(self.path, json.dumps(self.known, sort_keys=True).encode(), engine=_ENGINE)


# --------------------------------------------------------------------------- the set/merge guard

@dataclass
class WorkloadVerdict:
    """What a change does to the workloads' requirements: those met before that fail after."""

    broken: list[rq.Status] = field(default_factory=list)

    def findings(self) -> list[Finding]:
        return [rq.finding(s) for s in self.broken]

    def messages(self) -> list[str]:
        profiles = rq.load_profiles()
        return [rq.change_finding(s, profiles=profiles).message for s in self.broken]

    def as_dict(self) -> dict[str, Any]:
        return {"broken": [{"arch": s.arch, "workload": s.requirement.workload, "feature": s.requirement.feature,
                            "required": s.requirement.required, "requirement": s.requirement.label,
                            "status": s.status, "symbol": s.symbol, "value": s.value,
                            "source": s.requirement.source.url, "section": s.requirement.section}
                           for s in self.broken], "messages": self.messages()}


def verdict(before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]],
            resolved: Mapping[str, Sequence[rq.Resolved]],
            shipped: Mapping[str, frozenset[str]] | None = None) -> WorkloadVerdict:
    """The requirements a change breaks: met before, failing after, from the values alone
    (arch -> symbol -> value, before and after the change)."""
    result = WorkloadVerdict()
    for arch, items in resolved.items():
        if arch not in after:
            continue
        lst = (shipped or {}).get(arch)
        result.broken += rq.broken(rq.evaluate(items, before.get(arch, after[arch]), lst),
                                   rq.evaluate(items, after[arch], lst))
    return result


def before_values(after: Mapping[str, Mapping[str, str]], changes: Mapping[str, ChangeSet]) -> dict[str, dict[str, str]]:
    """The values before an applied change: the values after, with each cascade line's old value."""
    out = {}
    for arch, values in after.items():
        before = dict(values)
        change = changes.get(arch)
        if change is not None and change.applied:
            for c in change.cascade:
                if c.symbol in before:
                    before[c.symbol] = c.old if c.old is not None else "n"
        out[arch] = before
    return out


def guard_change(session: Session, changes: Mapping[str, ChangeSet], module_lists: Mapping[str, ModuleList],
                 workloads: Iterable[str] | None = None, cache: dict | None = None,
                 features: Iterable[str] | None = None) -> WorkloadVerdict:
    """The guard of an applied set/merge (arch -> ChangeSet): what it breaks of `workloads`
    (default every profile's requirements), their base requirements and those of `features`
    (default every feature)."""
    profiles = rq.load_profiles()
    wanted = None if features is None else [rq.BASE, *features]
    requirements = rq.select(profiles, list(workloads) if workloads else None, wanted)
    resolved = {arch: items for arch, items in resolved_for(session, requirements, cache).items()
                if arch in changes}
    after = values_of(session, resolved)
    return verdict(before_values(after, changes), after, resolved, shipped_of(module_lists))


# --------------------------------------------------------------------------- the gate

def gate_results(report: RequirementsReport) -> list[GateResult]:
    """The report as the workloads gate: per arch, fail when a required requirement fails."""
    from dataclasses import replace

    from talosnb.analyses.gates import GateResult, WorkloadsSummary

    def counts(s: rq.Status) -> bool:    # a base requirement, or one of a feature the check names
        return s.requirement.required or (report.features is not None and s.requirement.feature in report.features)

    out = []
    for arch in dict.fromkeys(s.arch for s in report.statuses):
        mine = [s for s in report.statuses if s.arch == arch]
        failing = [s for s in mine if s.failing and counts(s)]
        findings = [replace(f, details={**f.details, "gate": GATE}) for f in report.findings if f.arch == arch]
        out.append(GateResult(GATE, arch, "fail" if failing else "pass", findings,
                              WorkloadsSummary(tuple(report.workloads), len(failing))))
    return out
