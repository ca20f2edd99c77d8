"""What the cluster's workloads need from the kernel config: requirement profiles, checked per arch.

Each workload (Kubernetes, Cilium, Longhorn, ...) publishes what it needs of the kernel: a list
of CONFIG options or of kernel modules, some for every install, some only for a feature (Cilium's
IPsec, Longhorn's v2 data engine). ``talosnb/profiles/*.toml`` holds those facts as data, one file
per workload, each requirement with its source (URL and section). This module

- reads and checks the profiles (:func:`load_profiles`): a wrong key, kind, value or version range
  is an InputError naming the profile's file and line;
- resolves each requirement against one arch's tree (:func:`resolve`): a symbol the tree defines,
  a module name turned into the symbols whose ``obj-$(CONFIG_...)`` builds it (the Kbuild map), or
  *stale*: the tree has no such symbol or module (a `transitional` symbol names its successor);
- evaluates the resolved requirements on a config's values (:func:`evaluate`), a pure function
  of the values: met, met as a module (and whether the ``.ko`` ships in ``hack/modules-ARCH.txt``),
  not met, stale, or not applicable (another arch, kernel versions the source excludes);
- explains what is not met (:func:`explain`): why the config has the value (``file:line``, the
  why-not tree of the kernel's Kconfig) and the verified fix of the edit engine.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kconfiglib

from talosnb.core import dotconfig
from talosnb.core.errors import InputError

from .findings import Finding, Rule, render, rule_table

if TYPE_CHECKING:
    from talosnb.kbuild.model import KbuildMap
    from talosnb.kconfig.config import Config

    from .edit import Editor

PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"

NEEDS = ("y", "m")
KINDS = {"symbols": "symbol", "modules": "module"}
PROFILE_KEYS = {"workload", "title", "versions", "sources", "features", "requirement"}
GROUP_KEYS = {"source", "section", "feature", "need", "kernel", "arches", "aliases", "any", "note"} | set(KINDS)
ARCHES = ("amd64", "arm64")
BASE = "base"          # the feature name of what every install needs

STATUSES = ("met", "met-module", "not-shipped", "not-met", "stale", "not-applicable")
# a required requirement in one of these fails the check (exit 1)
FAILING = ("not-met", "not-shipped")

_SYMBOL = re.compile(r"[A-Z0-9_]+")
_MODULE = re.compile(r"[A-Za-z0-9_-]+")
_BOUND = re.compile(r"\s*(>=|<=|<|>|==)\s*(\d+(?:\.\d+){0,2})\s*")


# --------------------------------------------------------------------------- profiles as data

@dataclass(frozen=True)
class KernelRange:
    """Kernel versions a requirement applies to: ``>=5.6``, ``<5.2``, ``>=4.15,<6.1``."""

    text: str
    bounds: tuple[tuple[str, tuple[int, ...]], ...]

    def holds(self, version: str) -> bool:
        have = _version_tuple(version)
        for op, bound in self.bounds:
            n = len(bound)
            left = have[:n] + (0,) * (n - len(have[:n]))
            ok = {">=": left >= bound, ">": left > bound, "<": left < bound, "<=": left <= bound,
                  "==": left == bound}[op]
            if not ok:
                return False
        return True


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def parse_range(text: str, where: str) -> KernelRange:
    bounds = []
    for part in text.split(","):
        m = _BOUND.fullmatch(part)
        if not m:
            raise InputError(f"bad kernel version range {text!r}", where=where,
                             hint="write bounds like \">=5.6\", \"<5.2\" or \">=4.15,<6.1\" (comma: and)")
        bounds.append((m.group(1), tuple(int(p) for p in m.group(2).split("."))))
    return KernelRange(text, tuple(bounds))


@dataclass(frozen=True)
class Source:
    key: str
    url: str
    title: str


@dataclass(frozen=True)
class Requirement:
    """One thing a workload needs: a symbol (or module) and its alternatives, any of which will do."""

    workload: str
    kind: str                        # "symbol" or "module"
    name: str                        # symbol without CONFIG_, or module name
    need: str                        # "y": built in; "m": a module is enough
    feature: str                     # BASE, or the optional feature it belongs to
    source: Source
    section: str
    where: str                       # the profile's file:line
    alternatives: tuple[str, ...] = ()
    arches: tuple[str, ...] | None = None
    kernel: KernelRange | None = None
    note: str = ""

    @property
    def required(self) -> bool:
        return self.feature == BASE

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.alternatives)

    @property
    def label(self) -> str:
        head = f"CONFIG_{self.name}" if self.kind == "symbol" else f"module {self.name}"
        if self.alternatives:
            head += " (or " + ", ".join(f"CONFIG_{a}" if self.kind == "symbol" else a
                                        for a in self.alternatives) + ")"
        return head

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.workload, self.feature, self.kind, self.name)

    def applies(self, arch: str, kernel_version: str) -> str | None:
        """Why it doesn't apply here (None: it does)."""
        if self.arches is not None and arch not in self.arches:
            return f"only on {', '.join(self.arches)}"
        if self.kernel is not None and not self.kernel.holds(kernel_version):
            return f"only for Linux {self.kernel.text}"
        return None


@dataclass(frozen=True)
class Profile:
    workload: str
    title: str
    versions: str
    path: Path
    sources: dict[str, Source]
    features: dict[str, str]                  # name -> title (BASE not included)
    requirements: tuple[Requirement, ...]


def _line_of(text: str, needle: str, start: int = 0) -> int:
    at = text.find(needle, start)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


class _Locator:
    """file:line of the n-th ``[[requirement]]`` table and of words in it."""

    def __init__(self, path: Path, text: str) -> None:
        # the profiles talosnb ships are named by their place in the package (the same on every machine)
        shipped = path.parent.resolve() == PROFILES_DIR
        self.path, self.text = (f"talosnb/profiles/{path.name}" if shipped else str(path)), text
        self.starts = [m.start() for m in re.finditer(r"^\[\[requirement\]\]", text, re.MULTILINE)]

    def at(self, needle: str | None = None, group: int | None = None) -> str:
        start = self.starts[group] if group is not None and group < len(self.starts) else 0
        line = _line_of(self.text, needle, start) if needle else _line_of(self.text, "[[requirement]]", start)
        return f"{self.path}:{line}"


def _load_profile(path: Path) -> Profile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"can't read the profile: {e.strerror}", where=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise InputError(f"not valid TOML: {e}", where=f"{path}:{m.group(1)}" if m else str(path),
                         hint="fix the profile's syntax (https://toml.io)") from None
    loc = _Locator(path, text)
    unknown = sorted(set(data) - PROFILE_KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in a workload profile", where=loc.at(unknown[0]),
                         hint=f"a profile has {', '.join(sorted(PROFILE_KEYS))}")
    workload = data.get("workload")
    if not isinstance(workload, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", workload):
        raise InputError("the profile names no workload (workload = \"name\": lower case, digits, -)",
                         where=loc.at("workload"))
    if workload != path.stem:
        raise InputError(f"the profile of {workload!r} is in {path.name}", where=loc.at("workload"),
                         hint=f"name the file {workload}.toml (one file per workload)")
    sources = {}
    for key, value in (data.get("sources") or {}).items():
        if not isinstance(value, dict) or not isinstance(value.get("url"), str) or \
                not value["url"].startswith("https://"):
            raise InputError(f"source {key!r} has no https:// url", where=loc.at(f"[sources.{key}]"))
        sources[key] = Source(key, value["url"], str(value.get("title", value["url"])))
    features = {}
    for key, value in (data.get("features") or {}).items():
        if key == BASE or not isinstance(value, dict):
            raise InputError(f"bad feature {key!r}", where=loc.at(f"[features.{key}]"),
                             hint=f"a feature is a table with a title; {BASE!r} is what every install needs")
        features[key] = str(value.get("title", key))
    requirements: list[Requirement] = []
    groups = data.get("requirement") or []
    if not groups:
        raise InputError(f"the profile of {workload} has no [[requirement]]", where=str(path))
    for index, group in enumerate(groups):
        requirements += _group(workload, group, index, loc, sources, features)
    return Profile(workload, str(data.get("title", workload)), str(data.get("versions", "")), path, sources,
                   features, tuple(requirements))


def _group(workload: str, group: dict, index: int, loc: _Locator, sources: Mapping[str, Source],
           features: Mapping[str, str]) -> list[Requirement]:
    unknown = sorted(set(group) - GROUP_KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in a requirement (a kind of requirement is one of "
                         f"{', '.join(KINDS)})", where=loc.at(unknown[0], index),
                         hint=f"a [[requirement]] has {', '.join(sorted(GROUP_KEYS))}")
    kinds = [k for k in KINDS if k in group]
    if len(kinds) != 1:
        raise InputError("a requirement lists either symbols or modules" if kinds else
                         "a requirement lists no symbols or modules", where=loc.at(None, index))
    kind = KINDS[kinds[0]]
    names = group[kinds[0]]
    pattern = _SYMBOL if kind == "symbol" else _MODULE
    if not isinstance(names, list) or not names:
        raise InputError(f"{kinds[0]} must be a list of names", where=loc.at(kinds[0], index))
    for name in names:
        if not isinstance(name, str) or not pattern.fullmatch(name.removeprefix("CONFIG_")):
            raise InputError(f"bad {kind} name {name!r}", where=loc.at(str(name), index),
                             hint="symbols are upper case like BPF_JIT (CONFIG_ optional), modules like nvme_tcp")
    need = group.get("need")
    if need not in NEEDS:
        raise InputError(f"need = {need!r}: expected \"y\" (built in) or \"m\" (a module is enough)",
                         where=loc.at("need", index))
    source = sources.get(group.get("source", ""))
    if source is None:
        raise InputError(f"requirement names source {group.get('source')!r}, which [sources] doesn't define",
                         where=loc.at("source", index))
    feature = group.get("feature", BASE)
    if feature != BASE and feature not in features:
        raise InputError(f"requirement names feature {feature!r}, which [features] doesn't define",
                         where=loc.at("feature", index))
    kernel = parse_range(group["kernel"], loc.at("kernel", index)) if "kernel" in group else None
    arches = group.get("arches")
    if arches is not None and (not isinstance(arches, list) or not set(arches) <= set(ARCHES)):
        raise InputError(f"arches = {arches!r}: expected a list of {', '.join(ARCHES)}", where=loc.at("arches", index))
    aliases = group.get("aliases", {})
    if not isinstance(aliases, dict) or not set(aliases) <= set(names):
        raise InputError("aliases must map names of this requirement to their other names",
                         where=loc.at("aliases", index))
    common = {"workload": workload, "kind": kind, "need": need, "feature": feature, "source": source,
              "section": str(group.get("section", "")), "arches": tuple(arches) if arches else None,
              "kernel": kernel, "note": str(group.get("note", ""))}
    clean = [n.removeprefix("CONFIG_") for n in names]
    if group.get("any"):
        return [Requirement(name=clean[0], alternatives=tuple(clean[1:]), where=loc.at(names[0], index), **common)]
    return [Requirement(name=n, alternatives=tuple(a.removeprefix("CONFIG_") for a in aliases.get(raw, ())),
                        where=loc.at(raw, index), **common)
            for n, raw in zip(clean, names, strict=True)]


@functools.lru_cache(maxsize=8)
def _load_folder(folder: Path, stamp: tuple) -> dict[str, Profile]:
    profiles = {}
    for path in sorted(folder.glob("*.toml")):
        profile = _load_profile(path)
        profiles[profile.workload] = profile
    return profiles


def load_profiles(folder: str | Path | None = None) -> dict[str, Profile]:
    """Every workload profile of `folder` (default: the ones talosnb ships), by workload name."""
    folder = Path(folder) if folder is not None else PROFILES_DIR
    if not folder.is_dir():
        raise InputError("no such folder of workload profiles", where=str(folder))
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.toml")))
    return _load_folder(folder, stamp)


def select(profiles: Mapping[str, Profile], workloads: Iterable[str] | None = None,
           features: Iterable[str] | None = None) -> list[Requirement]:
    """The requirements of `workloads` (default all): their base ones, and those of `features`
    (default every feature; ``base`` alone: only what every install needs). A name that no
    profile has is an InputError."""
    chosen = list(workloads) if workloads else list(profiles)
    for name in chosen:
        if name not in profiles:
            raise InputError(f"no workload profile named {name!r}",
                             hint=f"name one of {', '.join(sorted(profiles))} (talosnb requirements --list)")
    wanted = set(features) if features else None
    if wanted is not None:
        known = {BASE} | {f for n in chosen for f in profiles[n].features}
        bad = sorted(wanted - known)
        if bad:
            raise InputError(f"no feature named {bad[0]!r} in {', '.join(chosen)}",
                             hint=f"name one of {', '.join(sorted(known))} (talosnb requirements --list)")
    return [r for n in chosen for r in profiles[n].requirements
            if wanted is None or r.feature == BASE or r.feature in wanted]


def required_only(requirements: Iterable[Requirement]) -> list[Requirement]:
    return [r for r in requirements if r.required]


# --------------------------------------------------------------------------- resolved against a tree

@dataclass(frozen=True)
class Candidate:
    """One way a requirement is met on this tree: a symbol, and the ``.ko`` its =m builds."""

    name: str                    # as the profile spells it
    symbols: tuple[str, ...]     # the symbols whose value decides it (a module: any of its own symbols)
    modules: tuple[str, ...]     # .ko paths it builds as a module (relative to /lib/modules/<ver>/)
    tristate: bool = True


@dataclass(frozen=True)
class Resolved:
    """A requirement on one arch's tree: its candidates, or why it is stale / not applicable."""

    requirement: Requirement
    arch: str
    candidates: tuple[Candidate, ...] = ()
    stale: str | None = None          # why the tree has none of its names
    not_applicable: str | None = None


def resolve(requirements: Iterable[Requirement], config: Config, kmap: KbuildMap | None) -> list[Resolved]:
    """Each requirement against `config`'s tree (and its Kbuild map, for module names and the
    ``.ko`` a symbol builds; without one, module requirements are stale with a note)."""
    out = []
    for req in requirements:
        why = req.applies(config.arch, config.tree.version)
        if why:
            out.append(Resolved(req, config.arch, not_applicable=why))
            continue
        candidates, missing = [], []
        for name in req.names:
            candidate = (_symbol_candidate(config, kmap, name) if req.kind == "symbol"
                         else _module_candidate(config, kmap, name))
            if isinstance(candidate, str):
                missing.append(candidate)
            else:
                candidates.append(candidate)
        out.append(Resolved(req, config.arch, tuple(candidates),
                            stale=None if candidates else "; ".join(missing)))
    return out


def _symbol_candidate(config: Config, kmap: KbuildMap | None, name: str) -> Candidate | str:
    sym = config.kconf.syms.get(name)
    if sym is None or not config.has_symbol(name):
        return f"the {config.tree.version} tree doesn't define CONFIG_{name}"
    if sym in config.transitional:
        return f"CONFIG_{name} is transitional in the {config.tree.version} tree{_successors(config, sym)}"
    paths = tuple(kmap.symbol_modules(name)) if kmap is not None else ()
    return Candidate(name, (name,), paths, sym.orig_type is kconfiglib.TRISTATE)


def _successors(config: Config, sym: kconfiglib.Symbol) -> str:
    """A transitional symbol (Linux 7.x) names its successor through the successor's `default OLD`."""
    heirs = [other.name for other in config.kconf.unique_defined_syms
             if other not in config.transitional
             and any(sym in kconfiglib.expr_items(value) for value, _cond in other.defaults)]
    return f" (renamed: CONFIG_{', CONFIG_'.join(heirs)} takes its value)" if heirs else " (read from old configs only)"


def _module_candidate(config: Config, kmap: KbuildMap | None, name: str) -> Candidate | str:
    from talosnb.kbuild.model import module_name

    if kmap is None:
        return f"module {name}: no Kbuild map of the tree to look the module up in"
    exact = kmap.named(name)
    if not exact:
        # a module merged into another keeps the other's name as its prefix (nf_conntrack_ipv4 ->
        # nf_conntrack since Linux 4.19)
        parts = module_name(name).split("_")
        heir = next((head for n in range(len(parts) - 1, 0, -1)
                     if kmap.named(head := "_".join(parts[:n]))), None)
        return (f"the {config.tree.version} tree builds no module named {name}"
                + (f" (it has {heir})" if heir else ""))
    symbols: list[str] = []
    modules: list[str] = []
    for path in exact:
        rule = kmap.rule(path)
        if rule is None:
            continue
        own = [s for s in rule.own_symbols if config.has_symbol(s)] or \
              [s for s in rule.symbols if config.has_symbol(s)][-1:]
        symbols += [s for s in own if s not in symbols]
        if path in kmap.modules:
            modules.append(path)
    if not symbols:
        return f"module {name}: the {config.tree.version} tree names no symbol that builds it"
    tristate = any(config.kconf.syms[s].orig_type is kconfiglib.TRISTATE for s in symbols)
    return Candidate(name, tuple(symbols), tuple(modules), tristate)


# --------------------------------------------------------------------------- evaluated on values

@dataclass(frozen=True)
class Status:
    """A requirement's status on one arch, from the config's values."""

    resolved: Resolved
    status: str                     # one of STATUSES
    symbol: str | None = None       # the symbol that decided it (the best candidate)
    value: str | None = None
    modules: tuple[str, ...] = ()   # met as a module: the .ko files
    unshipped: tuple[str, ...] = ()  # of those, the ones hack/modules-ARCH.txt doesn't list

    @property
    def requirement(self) -> Requirement:
        return self.resolved.requirement

    @property
    def arch(self) -> str:
        return self.resolved.arch

    @property
    def failing(self) -> bool:
        return self.status in FAILING


_RANK = {"y": 2, "m": 1, "n": 0}


def evaluate(resolved: Iterable[Resolved], values: Mapping[str, str],
             shipped: frozenset[str] | set[str] | None = None) -> list[Status]:
    """Each resolved requirement's status from `values` (symbol -> "y"/"m"/"n"/...; a symbol that
    is not there is n). `shipped`: the ``.ko`` paths the module list holds (None: no list, so
    "met as a module" is not checked further). A pure function: the set/merge guard calls it on
    the values before and after a change."""
    out = []
    for r in resolved:
        if r.not_applicable:
            out.append(Status(r, "not-applicable"))
            continue
        if r.stale:
            out.append(Status(r, "stale"))
            continue
        best: tuple[int, Candidate, str, str] | None = None
        for c in r.candidates:
            for s in c.symbols:
                v = values.get(s, "n")
                rank = _RANK.get(v, 2 if v not in ("", "n") else 0)
                if best is None or rank > best[0]:
                    best = (rank, c, s, v)
        assert best is not None   # resolved without stale has candidates
        rank, candidate, symbol, value = best
        need = _RANK[r.requirement.need]
        if rank < need:
            out.append(Status(r, "not-met", symbol, value))
        elif rank == 2:
            out.append(Status(r, "met", symbol, value))
        else:
            mods = candidate.modules
            missing = tuple(m for m in mods if shipped is not None and m not in shipped)
            out.append(Status(r, "not-shipped" if missing and len(missing) == len(mods) else "met-module",
                              symbol, value, mods, missing))
    return out


def broken(before: Sequence[Status], after: Sequence[Status]) -> list[Status]:
    """The requirements met (or met as a module) in `before` and failing in `after` (same order)."""
    was = {(s.arch, s.requirement.key): s for s in before}
    return [s for s in after if s.failing and (prior := was.get((s.arch, s.requirement.key))) is not None
            and prior.status in ("met", "met-module")]


# --------------------------------------------------------------------------- findings

RULES: dict[str, Rule] = rule_table(
    Rule("requirement-not-met", "error",
         "{workload} {feature_text}needs {label}{need_text} ({cite}); {config_name} has {symbol}={value} ({why})",
         "{fix}"),
    Rule("requirement-not-shipped", "error",
         "{workload} {feature_text}needs {label} ({cite}): built as a module, but {module_list_file} doesn't list "
         "{unshipped}, so it is not there at run time",
         "list it (talosnb modules add {unshipped_first}), or set CONFIG_{symbol}=y"),
    Rule("requirement-stale", "warning",
         "{workload} {feature_text}lists {label} ({cite}), but {why}: the requirement was written for another kernel",
         None),
    Rule("requirement-met-module", "info",
         "{workload} {feature_text}needs {label}: met as a module ({modules})", None),
    Rule("requirement-met", "info", "{workload} {feature_text}needs {label}: met ({symbol}={value})", None),
    Rule("requirement-not-applicable", "info", "{workload} {feature_text}: {label} {why}", None),
    # what a change does to a requirement (set/merge warnings, report --base)
    Rule("requirement-broken", "warning",
         "{arch}: breaks {title}'s {which} requirement {label} (now {now_symbol}={value}{unshipped_text}; {cite})", None),
    Rule("requirement-met-again", "info", "{arch}: meets {title}'s {which} requirement {label} again", None),
)

DETAILS = ("workload", "feature", "required", "status", "source", "section", "url", "profile", "reason")


@dataclass
class Explanation:
    """Why a requirement is not met on a config, and its verified fix."""

    why: str
    where: str | None
    fix: str
    assignments: list[str] = field(default_factory=list)
    why_not: list[dict] = field(default_factory=list)


def explain(status: Status, config: Config, editor: Editor | None, *, fix_budget: int = 60) -> Explanation:
    """Why `status`'s symbol has its value on `config` and the fix the edit engine verifies: the
    assignment alone when a dry run of it takes effect, else the why-not tree (``file:line`` in the
    kernel tree) and the fix search's answer."""
    from talosnb.kconfig.explain import location, value_reason

    from .edit import Assignment

    assert status.symbol is not None
    sym = config.kconf.syms[status.symbol]
    want = "y"     # built in: there at run time whatever the module list says
    line = _config_line(config, status.symbol)
    why = value_reason(config, sym)
    if editor is None:
        return Explanation(why, line or location(sym), f"set CONFIG_{status.symbol}={want}")
    change = editor.set([Assignment(status.symbol, want)], dry_run=True, fix=True, fix_budget=fix_budget)
    if change.ok:
        others = len(change.cascade) - 1
        text = f"set CONFIG_{status.symbol}={want}" + (f" ({others} other line(s) follow)" if others > 0 else "")
        return Explanation(why, line or location(sym), text + ", verified", [f"{status.symbol}={want}"])
    refusal = change.refusals[0]
    reasons = [r.as_dict() for r in refusal.reasons]
    where = next((r.where for r in refusal.reasons if r.where), None) or location(sym)
    head = refusal.reasons[0].text if refusal.reasons else why
    if refusal.fix is not None and refusal.fix.found:
        sets = [str(a) for a in refusal.fix.assignments] + [f"{status.symbol}={want}"]
        return Explanation(head, where, "set " + " ".join(sets) + ", verified", sets, reasons)
    tried = ("no verified fix" if refusal.fix is None else
             f"no verified fix ({'the search budget ran out' if refusal.fix.exhausted else 'every route is blocked'}; "
             f"{refusal.fix.tried} candidate(s) tried)")
    return Explanation(head, where, tried, [], reasons)


def _config_line(config: Config, symbol: str) -> str | None:
    """config-ARCH:line of the symbol's line in the file as loaded (None: no line)."""
    for number, line in enumerate(config.original_text.splitlines(), 1):
        if dotconfig.line_symbol(line) == dotconfig.PREFIX + symbol:
            return f"{config.source}:{number}"
    return None


def change_finding(status: Status, *, broken: bool = True, profiles: Mapping[str, Profile] | None = None) -> Finding:
    """A requirement a change breaks ("amd64: breaks Cilium's base requirement CONFIG_X (now X=n;
    source, section)"; `broken`), or meets again (not `broken`), as a finding: the set/merge
    warnings and report --base say its message."""
    req = status.requirement
    title = profiles[req.workload].title if profiles and req.workload in profiles else req.workload
    return render(RULES, "requirement-broken" if broken else "requirement-met-again", status.arch, req.label,
                  symbols=[status.symbol] if status.symbol else [], title=title, label=req.label,
                  which="base" if req.required else req.feature, now_symbol=str(status.symbol), value=str(status.value), unshipped_text=", its .ko not listed" if status.status == "not-shipped" else "",
                  cite=f"{req.source.title}, {req.section}")


def finding(status: Status, explanation: Explanation | None = None) -> Finding:
    """The finding of one status (rendered from RULES)."""
    req = status.requirement
    kind = f"requirement-{status.status}"
    feature_text = "" if req.required else f"({req.feature}) "
    need_text = " built in" if req.need == "y" else ""
    why = explanation.why if explanation else (status.resolved.stale or status.resolved.not_applicable or "")
    details: dict[str, Any] = {"workload": req.workload, "feature": req.feature, "required": req.required,
                               "status": status.status, "source": req.source.title, "section": req.section,
                               "url": req.source.url, "profile": req.where}
    if status.modules:
        details["modules"] = list(status.modules)
    if status.unshipped:
        details["unshipped"] = list(status.unshipped)
    details["reason"] = why
    if explanation is not None:
        details["assignments"] = explanation.assignments
        details["why_not"] = explanation.why_not
    level = None
    if status.status in FAILING and not req.required:
        level = "warning"
    elif status.status == "stale" and not req.required:
        level = "info"
    return render(RULES, kind, status.arch, req.label, symbols=[status.symbol] if status.symbol else [],
                  values={status.symbol: status.value} if status.symbol and status.value else None,
                  where=explanation.where if explanation else (req.where if status.status == "stale" else None),
                  level=level, details=details, workload=req.workload, feature_text=feature_text,
                  label=req.label, need_text=need_text, cite=f"{req.source.title}, {req.section}: {req.source.url}", value=status.value or "", why=why,
                  fix=explanation.fix if explanation else "",
                  modules=", ".join(status.modules) or "built as a module",
                  unshipped=", ".join(status.unshipped), unshipped_first=status.unshipped[0] if status.unshipped else "")
