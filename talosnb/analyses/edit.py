"""Setting symbols with the kernel's semantics: cascade, refusal explanations, verified fixes, undo.

The model is the kernel's own workflow: an assignment (or a fragment of them) is
merged into the .config and `conf --olddefconfig` computes the rest.  On a loaded
Config that is exactly `Symbol.set_value` on the loaded user values (talosnb's
engine follows conf's value rules), so a change set is:

1. set the user values of the requested symbols (in order, later ones win);
2. read back the written values: every assignment whose written value differs
   from the requested one did not take effect;
3. `set` keeps the change only when every assignment took effect (otherwise the
   prior user values are restored and the refusal is explained), `merge` keeps
   it and lists the assignments that did not take effect (as merge_config.sh does);
4. a kept change is then re-based: the user values become the written ones, as
   if the written file had been loaded again, so the next change set starts from
   what is on disk after a write.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeAlias, overload

import kconfiglib
from kconfiglib import BOOL, HEX, INT, STRING, TRISTATE, expr_value

from talosnb.core import dotconfig
from talosnb.core.errors import InputError
from talosnb.core.names import is_placeholder
from talosnb.kconfig import semantics, toolchain
from talosnb.kconfig.config import Config
from talosnb.kconfig.explain import (
    Explainer,
    Reason,
    assumed_probe_users,
    cascade_reason,
    display_value,
    location,
    value_reason,
)

_TRI = {"n": 0, "m": 1, "y": 2}

# --- assignments ------------------------------------------------------------

@dataclass(frozen=True)
class Assignment:
    """SYMBOL=value; values as kconfig holds them (strings unquoted, 'n' for not set)."""

    symbol: str
    value: str
    where: str | None = None   # file:line of a fragment line

    def __str__(self) -> str:
        return f"{self.symbol}={self.value}"

    def line(self, config: Config | None = None) -> str:
        """The .config line for this assignment."""
        if self.value == "n" and (config is None or _is_tri(config, self.symbol)):
            return dotconfig.format_line(self.symbol, "n")
        if config is not None and config.has_symbol(self.symbol) \
                and config.symbol(self.symbol).orig_type is STRING:
            return dotconfig.format_line(self.symbol, dotconfig.quote(self.value))
        return dotconfig.assignment_line(self.symbol, self.value)


def _is_tri(config: Config, name: str) -> bool:
    return not config.has_symbol(name) or config.symbol(name).orig_type in (BOOL, TRISTATE)


def parse_assignment(text: str, where: str | None = None) -> Assignment:
    """'SYMBOL=value', 'CONFIG_SYMBOL=value' or '# CONFIG_SYMBOL is not set'."""
    parsed = dotconfig.parse_assignment(text)
    if parsed is None:
        raise InputError(f"not an assignment: {text.strip()!r}", where=where,
                         hint="write SYMBOL=VALUE, e.g. BLK_DEV_NBD=m, or '# CONFIG_X is not set'")
    return Assignment(parsed[0], dotconfig.unquote(parsed[1]), where)


@overload
def parse_fragment(text: str, source: str, *, collect: Literal[False] = False) -> list[Assignment]: ...
@overload
def parse_fragment(text: str, source: str, *, collect: Literal[True]) -> tuple[list[Assignment], list[str]]: ...
def parse_fragment(text: str, source: str, *,
                   collect: bool = False) -> list[Assignment] | tuple[list[Assignment], list[str]]:
    """A config fragment as Talos users keep them: CONFIG_ lines, 'is not set' lines, comments.

    With collect=True, returns (assignments, ["file:line: problem", ...]) instead of
    raising at the first line that is not an assignment.
    """
    out: list[Assignment] = []
    bad: list[str] = []
    for linenr, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or (line.startswith("#") and not dotconfig.is_not_set_comment(line)):
            continue
        try:
            out.append(parse_assignment(line, where=f"{source}:{linenr}"))
        except InputError as e:
            if not collect:
                raise
            bad.append(f"{source}:{linenr}: {e.message}")
    return (out, bad) if collect else out


def canonical(config: Config, assignment: Assignment) -> Assignment:
    """Check the value against the symbol's type; hex gets its 0x like menuconfig adds it."""
    sym = config.symbol(assignment.symbol)   # raises with "did you mean"
    value, kind = assignment.value, sym.orig_type
    bad = None
    if kind is BOOL and value not in ("y", "n"):
        bad = "y or n" + (" (it is a bool: there is no m)" if value == "m" else "")
    elif kind is TRISTATE and value not in ("y", "m", "n"):
        bad = "y, m or n"
    elif kind is INT and not re.fullmatch(r"-?[0-9]+", value):
        bad = "a decimal number"
    elif kind is HEX:
        if not re.fullmatch(r"(0[xX])?[0-9a-fA-F]+", value):
            bad = "a hex number"
        elif not value.lower().startswith("0x"):
            value = "0x" + value
    if bad:
        raise InputError(f"{assignment.value!r} is not a valid value for CONFIG_{sym.name} "
                         f"({kconfiglib.TYPE_TO_STR[kind]})", where=assignment.where,
                         hint=f"use {bad}")
    return Assignment(sym.name, value, assignment.where)


# --- state: user values, restorable exactly -----------------------------------

# user values of the symbols that have one, (user value, user selection) of every choice,
# the choices' priority orders (semantics.choice_priority)
_UserState: TypeAlias = tuple[dict[kconfiglib.Symbol, int | str],
                              dict[kconfiglib.Choice, tuple[int | None, kconfiglib.Symbol | None]],
                              dict[kconfiglib.Choice, list[kconfiglib.Symbol]]]

class _Trial:
    """Records the user state of every symbol it touches, to put it back exactly."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.syms: dict = {}
        self.choices: dict = {}
        self.priorities: dict = {}

    def set(self, sym: kconfiglib.Symbol, value: str | None) -> None:
        if sym not in self.syms:
            self.syms[sym] = sym.user_value
        choice = sym.choice
        if choice is not None and choice not in self.choices:
            self.choices[choice] = (choice.user_value, choice.user_selection)
            self.priorities[choice] = list(semantics.choice_priority(choice))
        if value is None:
            sym.unset_value()
        else:
            sym.set_value(value)

    def state_before(self, now: _UserState) -> _UserState:
        """The full user state (as _user_state gives it) from before this trial's changes."""
        syms, choices, priorities = now
        syms = dict(syms)
        for sym, value in self.syms.items():
            if value is None:
                syms.pop(sym, None)
            else:
                syms[sym] = value
        choices = {**choices, **self.choices}
        priorities = {**priorities, **{c: list(p) for c, p in self.priorities.items()}}
        return syms, choices, priorities

    def restore(self) -> None:
        for sym, value in self.syms.items():
            sym.user_value = value
            sym._rec_invalidate()
        for choice, (value, selection) in self.choices.items():
            choice.user_value, choice.user_selection = value, selection
            semantics.choice_priority(choice)[:] = self.priorities[choice]
            choice._rec_invalidate()


def _user_state(config: Config) -> _UserState:
    kconf = config.kconf
    syms = {s: s.user_value for s in kconf.unique_defined_syms if s.user_value is not None}
    choices = {c: (c.user_value, c.user_selection) for c in kconf.unique_choices}
    priorities = {c: list(p) for c, p in semantics.choice_priorities(kconf).items()}
    return syms, choices, priorities


def _restore_state(config: Config, state: _UserState) -> None:
    """Put back user values, choice selections and priorities; invalidate only what differs."""
    kconf = config.kconf
    syms, choices, priorities = state
    for sym in kconf.unique_defined_syms:
        value = syms.get(sym)
        if sym.user_value != value:
            sym.user_value = value
            sym._rec_invalidate()
    table = semantics_table = semantics.choice_priorities(kconf)
    for choice in kconf.unique_choices:
        value, selection = choices.get(choice, (None, None))
        order = priorities.get(choice)
        current = semantics_table.get(choice)
        if (choice.user_value, choice.user_selection) != (value, selection) or \
                (order is not None and current != order) or (order is None and choice in table):
            choice.user_value, choice.user_selection = value, selection
            if order is None:
                table.pop(choice, None)
            else:
                table[choice] = list(order)
            choice._rec_invalidate()


def _rebase(config: Config, written: dict[str, str]) -> None:
    """Make the user values those of the written file, as loading it again would."""
    kconf = config.kconf
    for sym in kconf.unique_defined_syms:
        want = written.get(sym.name)
        if want is not None and sym.orig_type in (BOOL, TRISTATE):
            want = kconfiglib.STR_TO_TRI[want]
        if sym.user_value != want:
            sym.user_value = want
            sym._rec_invalidate()
    # conf reads the file top to bottom, and each choice member read goes to the front.
    for choice in kconf.unique_choices:
        members = [s for s in choice.syms if s.name in written]
        order = members[::-1] + [s for s in choice.syms if s.name not in written]
        selection = next((s for s in members if written[s.name] == "y"), None)
        mode = None if selection is None else 2
        priority = semantics.choice_priority(choice)
        if priority != order or choice.user_selection is not selection or choice.user_value != mode:
            priority[:] = order
            choice.user_selection, choice.user_value = selection, mode
            choice._rec_invalidate()


# --- results ------------------------------------------------------------------

@dataclass(frozen=True)
class CascadeChange:
    symbol: str
    old: str | None     # as written before (None: not in the file)
    new: str | None
    reason: str


@dataclass
class Refusal:
    assignment: Assignment
    got: str | None                    # the value it ended with
    reasons: list[Reason]
    fix: Fix | None = None

    @property
    def toolchain(self) -> bool:
        """A toolchain line whose probe answer can't be (or, in host mode, isn't) re-recorded."""
        return any(r.kind == "toolchain" for r in self.reasons)

    def as_dict(self) -> dict:
        return {"symbol": self.assignment.symbol, "requested": self.assignment.value, "got": self.got,
                "reasons": [r.as_dict() for r in self.reasons],
                "fix": None if self.fix is None else self.fix.as_dict()}


@dataclass
class Fix:
    """A set of assignments verified to make the requested one take effect."""

    assignments: list[Assignment]
    cascade: list[CascadeChange]
    tried: int
    budget: int
    found: bool
    exhausted: bool = False           # True: the budget ran out before every route was tried
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"found": self.found, "assignments": [str(a) for a in self.assignments],
                "cascade": [c.__dict__ for c in self.cascade], "tried": self.tried, "budget": self.budget,
                "exhausted": self.exhausted}


@dataclass
class ChangeSet:
    """What one set/merge did (or would do) on one arch."""

    arch: str
    tree_version: str
    requested: list[Assignment]
    results: dict[str, str | None]      # symbol -> value it ended with
    cascade: list[CascadeChange]
    refusals: list[Refusal]
    applied: bool
    mode: str                           # "set" or "merge"
    undefined: list[str] = field(default_factory=list)   # requested symbols this arch doesn't define
    # toolchain answers re-recorded by assignments to toolchain lines (recorded mode), before the rest
    toolchain: list[toolchain.ProbeChange] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refusals

    def changed(self) -> list[CascadeChange]:
        """Every written change, the requested ones included."""
        return self.cascade

    def as_dict(self) -> dict:
        return {"arch": self.arch, "tree_version": self.tree_version, "mode": self.mode,
                "applied": self.applied, "requested": [str(a) for a in self.requested],
                "results": self.results, "undefined": self.undefined,
                "toolchain": [c.as_dict() for c in self.toolchain],
                "cascade": [c.__dict__ for c in self.cascade],
                "refusals": [r.as_dict() for r in self.refusals]}


@dataclass
class WhyAnswer:
    """A symbol's value on one arch and where it comes from (`talosnb why SYMBOL`); with a value
    asked for (`talosnb why SYMBOL=VALUE`), the dry run of setting it."""

    symbol: str
    arch: str
    type: str                            # bool, tristate, int, hex, string
    value: str
    visible: str                         # n, m or y
    prompt: str | None
    defined_at: list[str]                # file:line of each definition
    depends_on: str | None
    selected_by: list[str]
    implied_by: list[str]
    assignable: list[str]
    reason: str                          # where the value comes from, in one line
    info: dict[str, Any] = field(default_factory=dict, repr=False)   # every fact kconfig.info gives
    requested: Assignment | None = None
    change: ChangeSet | None = None      # the dry run of `requested`: its cascade, or its refusal

    # the facts the JSON record carries, in its order
    FACTS: ClassVar[tuple[str, ...]] = ("symbol", "arch", "type", "value", "visible", "prompt", "defined_at",
                                        "depends_on", "selected_by", "implied_by", "reason", "assignable")

    @classmethod
    def of(cls, info: Mapping[str, Any], reason: str) -> WhyAnswer:
        """From kconfig.info.symbol_info's facts and the value's reason (explain.value_reason)."""
        return cls(**{k: info[k] for k in cls.FACTS if k != "reason"}, reason=reason, info=dict(info))

    @property
    def possible(self) -> bool | None:
        """Whether the requested value can take effect (None: no value asked for)."""
        return None if self.change is None else self.change.ok

    @property
    def refusal(self) -> Refusal | None:
        return self.change.refusals[0] if self.change is not None and self.change.refusals else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in self.FACTS}
        out["defined"] = True
        if self.change is not None and self.requested is not None:
            refusal = self.refusal
            out.update({"request": str(self.requested), "possible": self.change.ok,
                        "cascade": [c.__dict__ for c in self.change.cascade],
                        "refusal": None if refusal is None else refusal.as_dict()})
        return out


def _quote_if_string(config: Config, change: CascadeChange) -> str | None:
    """A cascade value as the .config line spells it (strings quoted)."""
    sym = config.kconf.syms[change.symbol]
    if change.new is not None and sym.orig_type is STRING:
        return dotconfig.quote(change.new)
    return change.new


def probe_command(change: toolchain.ProbeChange, limit: int = 60) -> str:
    """What a probe runs or reads, shortened for output: its variable or version (CC_VERSION_TEXT,
    CC_VERSION), a number computed from one (expr CC_VERSION / 10000), a yes/no probe's command."""
    command = re.sub(r"TALOSNB_TC_(\w+?)(_\d+)?\b", r"\1", change.command.removeprefix("$"))
    # scripts/Kconfig.include's scratch folder around cc-option & co. says nothing
    command = " ".join(command.replace('trap "rm -rf .tmp_$$" EXIT; mkdir .tmp_$$; ', "").split())
    return command if len(command) <= limit else command[:limit - 3] + "..."


def probe_label(change: toolchain.ProbeChange) -> str:
    """A probe as the output names it: a version or text by what it reads (CC_VERSION), a yes/no
    probe by the lines it decides (the probe of CC_HAS_ASM_INLINE)."""
    if change.kind == "yes/no" and change.used_by:
        return "the probe of " + ", ".join(change.used_by[:3]) + (", ..." if len(change.used_by) > 3 else "")
    return probe_command(change)


def _toolchain_refusal(assignment: Assignment, error: InputError) -> Refusal:
    text = error.message + (f"; {error.hint}" if error.hint else "")
    return Refusal(assignment, None, [Reason(text, error.where, fixed=True, kind="toolchain")])


def _net(changes: Sequence[toolchain.ProbeChange]) -> list[toolchain.ProbeChange]:
    """Successive changes of the same probes as one: the first old, the last new answer."""
    first: dict[str, toolchain.ProbeChange] = {}
    last: dict[str, toolchain.ProbeChange] = {}
    for c in changes:
        first.setdefault(c.probe, c)
        last[c.probe] = c
    return [toolchain.ProbeChange(p, c.kind, c.command, c.old, last[p].new, c.used_by)
            for p, c in first.items() if c.old != last[p].new]


# --- the editor -----------------------------------------------------------------

def _matches(config: Config, assignment: Assignment, written: dict[str, str]) -> bool:
    got = written.get(assignment.symbol)
    sym = config.kconf.syms[assignment.symbol]
    if sym.orig_type in (BOOL, TRISTATE):
        return (got or "n") == assignment.value
    if got is None:
        return False
    if sym.orig_type is HEX:
        try:
            return int(got, 16) == int(assignment.value, 16) and got.lower() == assignment.value.lower()
        except ValueError:
            return False
    return got == assignment.value


@dataclass
class Attempt:
    """One batch applied on trial to one arch's config: ``before`` and ``after`` are the written
    values (symbol -> value) without and with it. Until :meth:`keep` or :meth:`drop`, the config
    holds ``after``; keeping records one step of the editor's history, dropping restores the
    user values exactly (nothing is recomputed beyond what the batch touched)."""

    editor: Editor
    change: ChangeSet
    trial: _Trial
    before: dict[str, str]
    after: dict[str, str]
    done: bool = False

    @property
    def arch(self) -> str:
        return self.change.arch

    def keep(self) -> ChangeSet:
        assert not self.done, "an attempt is kept or dropped once"
        self.done = True
        editor, change = self.editor, self.change
        change.applied = True
        if change.cascade:
            state = self.trial.state_before(_user_state(editor.config))
            _rebase(editor.config, self.after)
            editor.history.append((change, state))
            editor.future.clear()
        return change

    def drop(self) -> ChangeSet:
        assert not self.done, "an attempt is kept or dropped once"
        self.done = True
        self.change.applied = False
        self.trial.restore()
        if self.change.toolchain:
            toolchain.set_probe_answers(self.editor.config, {c.probe: c.old for c in self.change.toolchain})
        return self.change


class Editor:
    """Edits one arch's loaded Config: set/merge, why, verified fixes, undo/redo."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.history: list[tuple] = []   # (ChangeSet, user state before)
        self.future: list[tuple] = []
        self._written_cache: dict[str, str] | None = None
        self._recomputed: set[str] | None = None
        self._toolchain_lines: frozenset[str] | None = None
        hidden = config.transitional
        self._sym_set = {s for s in config.kconf.unique_defined_syms
                         if s not in hidden and not is_placeholder(s.name)}

    @property
    def arch(self) -> str:
        return self.config.arch

    def written(self) -> dict[str, str]:
        """Symbol -> value as the config file would hold it now (Config.written), kept up to date
        incrementally: a check after each edit costs what the edit touched, not the whole tree."""
        return self._written()

    def _written(self) -> dict[str, str]:
        """The written values, recomputing only symbols whose cached value was invalidated.

        kconfiglib drops a symbol's cached value whenever something it depends on
        changes; every other symbol's line is still what it was the last time.
        Invalidations are recorded as they happen (semantics.invalidated), so values
        computed in between (by text(), a widget, an explanation) can't hide a
        change. The names recomputed are kept in `_recomputed` for the cascade.
        """
        cache = self._written_cache
        dirty = semantics.invalidated(self.config.kconf)
        if cache is None:
            dirty.clear()
            cache = self._written_cache = self.config.written()
            self._recomputed = None
            return dict(cache)
        stale = [sym for sym in dirty if sym in self._sym_set]
        dirty.clear()
        for sym in stale:
            line = sym.config_string
            if line:
                cache[sym.name] = "n" if line.startswith("#") else sym.str_value
            else:
                cache.pop(sym.name, None)
        self._recomputed = {sym.name for sym in stale}
        return dict(cache)

    def _cascade(self, before: dict[str, str], after: dict[str, str],
                 names: Iterable[str] | None = None, requested: AbstractSet[str] = frozenset(),
                 probes: Sequence[toolchain.ProbeChange] = ()) -> list[CascadeChange]:
        kconf = self.config.kconf
        assumed = assumed_probe_users(self.config)
        # a line read straight from a re-recorded answer says which answer (AS_VERSION from CC_VERSION)
        fed = {user: change for change in probes for user in change.used_by}
        out = []
        for name in sorted(names if names is not None else before.keys() | after.keys()):
            old, new = before.get(name), after.get(name)
            if old != new:
                if name in requested:
                    reason = "requested"
                elif name in fed:
                    reason = f"the toolchain's answer to {probe_label(fed[name])} was re-recorded"
                else:
                    reason = cascade_reason(self.config, kconf.syms[name], old, new, assumed)
                out.append(CascadeChange(name, old, new, reason))
        return out

    def _apply(self, assignments: Sequence[Assignment], trial: _Trial) -> dict[str, str]:
        kconf = self.config.kconf
        for a in assignments:
            trial.set(kconf.syms[a.symbol], a.value)
        return self._written()

    def attempt(self, assignments: Iterable[Assignment | str], *, mode: str = "set") -> Attempt:
        """Apply assignments as one batch (merged into the config, then olddefconfig) on trial:
        the config holds the result until the :class:`Attempt` is kept (one history step) or
        dropped (back exactly as it was). Its ChangeSet says what changed, with reasons, and
        each assignment that did not take effect, explained (no fix searched: see
        :meth:`find_fixes`)."""
        requested, undefined = self._prepare(assignments)
        # later assignments to the same symbol win, like later lines of a fragment
        final = {a.symbol: a for a in requested}
        # toolchain lines (CLANG_VERSION, PAHOLE_VERSION, CC_HAS_*, ...) have no prompt: in recorded
        # mode an assignment re-records the probe answer behind them, as if the config had been made
        # with that toolchain, and the rest of the batch applies on top
        retargeted = ({name: a for name, a in final.items() if name in self.toolchain_lines()}
                      if self.config.tree.mode == "recorded" else {})
        before = self._written()
        probes, toolchain_refusals = self._retarget(retargeted, mode)
        trial = _Trial(self.config)
        after = self._apply([a for a in requested if a.symbol not in retargeted], trial)
        touched = self._recomputed
        results = {a.symbol: after.get(a.symbol) for a in final.values()}
        cascade = self._cascade(before, after, touched, set(final), probes)
        refusals = []
        for a in final.values():
            if a.symbol in toolchain_refusals:
                refusal = toolchain_refusals[a.symbol]
                refusal.got = after.get(a.symbol)
                refusals.append(refusal)
            elif not _matches(self.config, a, after):
                refusals.append(Refusal(a, after.get(a.symbol), self._why_not(a)))
        change = ChangeSet(self.arch, self.config.tree.version, list(requested), results,
                           cascade, refusals, applied=False, mode=mode, undefined=undefined, toolchain=probes)
        return Attempt(self, change, trial, before, after)

    def set(self, assignments: Iterable[Assignment | str], *, mode: str = "set", dry_run: bool = False,
            fix: bool = True, fix_budget: int = 200) -> ChangeSet:
        """Apply assignments as one batch (merged into the config, then olddefconfig).

        mode="set": all or nothing — if any assignment can't take effect, nothing
        changes and each refusal is explained (with a verified fix if `fix`).
        mode="merge": keep the result and list what did not take effect.
        """
        attempt = self.attempt(assignments, mode=mode)
        change = attempt.change
        if not dry_run and (mode == "merge" or not change.refusals):
            attempt.keep()
        else:
            attempt.drop()
        if fix and mode == "set":
            self.find_fixes(change, budget=fix_budget)
        return change

    def find_fixes(self, change: ChangeSet, *, budget: int = 200) -> None:
        """A verified fix for each refusal of `change` (on the current values: the attempt dropped)."""
        for refusal in change.refusals:
            if not refusal.toolchain:   # no user value reaches a toolchain line
                refusal.fix = self.find_fix(refusal.assignment, budget=budget)

    # --- toolchain lines -------------------------------------------------------

    def toolchain_lines(self) -> frozenset[str]:
        """The lines that record a toolchain answer (toolchain.toolchain_symbols). A host-mode tree
        has no placeholders to tell them by: they are read from the recorded-mode parse of the same
        tree (cached on disk)."""
        if self._toolchain_lines is None:
            tree = self.config.tree
            if tree.mode != "recorded":
                from talosnb.kconfig.tree import KconfigTree
                tree = KconfigTree.load(tree.path, tree.arch, version=tree.version)
            self._toolchain_lines = frozenset(toolchain.toolchain_symbols(tree))
        return self._toolchain_lines

    def _retarget(self, wanted: dict[str, Assignment], mode: str,
                  ) -> tuple[list[toolchain.ProbeChange], dict[str, Refusal]]:
        """Re-record the probe answers behind `wanted` (toolchain.retarget); a line no answer gives
        that value is refused. `set` changes nothing then; `merge` keeps the lines that can be had."""
        if not wanted:
            return [], {}
        try:
            return toolchain.retarget(self.config, {n: a.value for n, a in wanted.items()}), {}
        except InputError as e:
            together = e
        # which lines can't be had: each on its own (retarget changes nothing when it raises)
        kept: list[toolchain.ProbeChange] = []
        refused: dict[str, Refusal] = {}
        for name, a in wanted.items():
            try:
                one = toolchain.retarget(self.config, {name: a.value})
            except InputError as e:
                refused[name] = _toolchain_refusal(a, e)
                continue
            if mode == "merge":
                kept += one
            else:
                toolchain.set_probe_answers(self.config, {c.probe: c.old for c in one})
        if not refused:   # each can be had, but not all of them at once
            refused = {name: _toolchain_refusal(a, together) for name, a in wanted.items()}
            if mode == "merge":
                toolchain.set_probe_answers(self.config, {c.probe: c.old for c in reversed(kept)})
                kept = []
        return _net(kept), refused

    def _prepare(self, assignments: Iterable[Assignment | str]) -> tuple[list[Assignment], list[str]]:
        requested, undefined, bad = [], [], []
        for a in assignments:
            if isinstance(a, str):
                a = parse_assignment(a)
            name = a.symbol.removeprefix("CONFIG_")
            if not self.config.has_symbol(name) or self.config.kconf.syms[name] in self.config.transitional:
                undefined.append(name)
                continue
            try:
                requested.append(canonical(self.config, Assignment(name, a.value, a.where)))
            except InputError as e:   # every bad value is reported, not just the first
                bad.append(e)
        if len(bad) == 1:
            raise bad[0]
        if bad:
            raise InputError(f"{len(bad)} bad values:\n  " + "\n  ".join(
                f"{e.where + ': ' if e.where else ''}{e.message}; {e.hint}" for e in bad),
                hint="fix these values; nothing was changed")
        return requested, undefined

    # --- why ---------------------------------------------------------------

    def why_not(self, assignment: Assignment) -> list[Reason]:
        """The why-not tree of ``assignment`` on the current values (empty when it takes
        effect), without the before/after bookkeeping of a dry-run :meth:`set`."""
        return self._why_not(canonical(self.config, assignment))

    def _why_not(self, assignment: Assignment) -> list[Reason]:
        """Explain (on the current state) why `assignment` doesn't take effect."""
        sym = self.config.kconf.syms[assignment.symbol]
        if self.config.tree.mode != "recorded" and sym.name in self.toolchain_lines():
            return [Reason(f"{sym.name} is a toolchain line: in host mode this machine's toolchain decides it, "
                           "as `make olddefconfig` here would; to re-record it as if the config had been made "
                           f"with another toolchain use {toolchain.opt_value('toolchain', 'recorded')}, or pick "
                           "the host compiler with LLVM=... or CC=...", location(sym), fixed=True,
                           kind="toolchain")]
        ex = Explainer(self.config)
        trial = _Trial(self.config)
        trial.set(sym, assignment.value)
        try:
            reasons = self._explain(ex, sym, assignment)
        finally:
            trial.restore()
        return reasons

    def _explain(self, ex: Explainer, sym: kconfiglib.Symbol, assignment: Assignment) -> list[Reason]:
        value = assignment.value
        if sym.orig_type in (BOOL, TRISTATE):
            want = kconfiglib.STR_TO_TRI[value]
            have = sym.tri_value
            if want == 1 and sym.type is BOOL and sym.orig_type is TRISTATE:
                return [Reason(f"{sym.name} can only be m when MODULES = y", location(self.config.kconf.modules),
                                   children=[ex.why_low(self.config.kconf.modules, 2)])]
            if have < want:
                return [ex.why_low(sym, want)]
            if have > want:
                return [ex.why_high(sym, want)]
            if sym.config_string == "" and want:
                return [ex.why_low(sym, want)]
            return []
        # int / hex / string
        reasons = []
        if not sym.visibility:
            head = ex.why_low(sym, 2)
            head.fix = None
            if any(n.prompt for n in sym.nodes):
                head.text = f"{sym.name} can't be set: its prompt is hidden"
            else:
                head.text = f"{sym.name} has no prompt: its value comes from its defaults only"
            reasons.append(head)
        else:
            for low, high, cond in sym.ranges:
                if expr_value(cond):
                    reasons.append(Reason(f"{value} is outside the range {low.str_value}..{high.str_value} "
                                          f"(the kernel clamps it to {sym.str_value})", location(sym),
                                          {sym.name: display_value(sym)},
                                          fixed=low.is_constant and high.is_constant,
                                          kind="range", bounds=(low.str_value, high.str_value)))
                    break
        return reasons

    def why(self, name: str, value: str | None = None, *, fix_budget: int = 200) -> WhyAnswer:
        """A symbol's value and where it comes from; with `value`, also the dry-run ChangeSet of
        setting it (its refusal carries the why-not tree and the verified fix)."""
        from talosnb.kconfig.info import symbol_info
        info = symbol_info(self.config, name)
        sym = self.config.symbol(name)
        answer = WhyAnswer.of(info, value_reason(self.config, sym))
        if value is not None:
            answer.requested = Assignment(sym.name, value)
            answer.change = self.set([answer.requested], dry_run=True, fix_budget=fix_budget)
        return answer

    # --- verified minimal fix ------------------------------------------------

    def find_fix(self, assignment: Assignment, *, budget: int = 200, seconds: float = 4.5) -> Fix:
        """The smallest set of extra assignments (breadth first) that makes `assignment` take effect.

        Candidates come from the leaves of the why-not tree; each is verified by
        applying it (plus the assignment) and undone afterwards. `budget` caps the
        number of candidates tried, `seconds` the time.
        """
        start = time.perf_counter()
        kconf = self.config.kconf
        base = self._written()
        tried = 0
        seen: set[frozenset] = set()
        frontier: list[dict[str, str]] = [{}]
        exhausted = False
        for _size in range(6):
            next_frontier: list[dict[str, str]] = []
            verified: list[tuple[int, dict[str, str], dict[str, str]]] = []
            for partial in frontier:
                trial = _Trial(self.config)
                try:
                    for name, value in partial.items():
                        trial.set(kconf.syms[name], value)
                    trial.set(kconf.syms[assignment.symbol], assignment.value)
                    leaves = self._fix_leaves(assignment)
                finally:
                    trial.restore()
                for leaf in leaves:
                    candidate = {**partial, **leaf}
                    key = frozenset(candidate.items())
                    if key in seen or assignment.symbol in leaf:
                        continue
                    seen.add(key)
                    if tried >= budget or time.perf_counter() - start > seconds:
                        exhausted = True
                        break
                    tried += 1
                    ok, written = self._verify(candidate, assignment)
                    if ok:
                        verified.append((len(written), candidate, written))
                    else:
                        next_frontier.append(candidate)
                if exhausted:
                    break
            if verified:
                # fewest assignments; then enabling what is missing before turning something off; then
                # the fewest lines changed (not a whole menu such as NETDEVICES=n)
                verified.sort(key=lambda v: (len(v[1]), self._lowering(v[1]), self._distance(base, v[2]),
                                             sorted(v[1].items())))
                _n, candidate, written = verified[0]
                fixes = [Assignment(n, v) for n, v in candidate.items()]
                cascade = [c if c.symbol not in candidate else CascadeChange(c.symbol, c.old, c.new, "set by the fix")
                           for c in self._preview([*fixes, assignment])]
                return Fix(fixes, cascade, tried, budget, True, seconds=time.perf_counter() - start)
            if exhausted or not next_frontier:
                break
            # keep the most promising partial fixes: those that changed the least
            frontier = next_frontier[:40]
        return Fix([], [], tried, budget, False, exhausted=exhausted, seconds=time.perf_counter() - start)

    def _lowering(self, candidate: dict[str, str]) -> int:
        """How many of a candidate fix's assignments turn a bool/tristate down (y -> m/n, m -> n)."""
        syms = self.config.kconf.syms
        return sum(1 for name, value in candidate.items()
                   if syms[name].orig_type in (BOOL, TRISTATE) and _TRI.get(value, 0) < syms[name].tri_value)

    @staticmethod
    def _distance(a: dict[str, str], b: dict[str, str]) -> int:
        return sum(1 for k in a.keys() | b.keys() if a.get(k) != b.get(k))

    def _preview(self, assignments: list[Assignment]) -> list[CascadeChange]:
        """The cascade of `assignments`, with reasons read while they are applied; then undone."""
        before = self._written()
        trial = _Trial(self.config)
        try:
            after = self._apply(assignments, trial)
            return self._cascade(before, after, self._recomputed, {a.symbol for a in assignments})
        finally:
            trial.restore()
            self._written()

    def _verify(self, candidate: dict[str, str], assignment: Assignment) -> tuple[bool, dict[str, str]]:
        kconf = self.config.kconf
        trial = _Trial(self.config)
        try:
            for name, value in candidate.items():
                trial.set(kconf.syms[name], value)
            trial.set(kconf.syms[assignment.symbol], assignment.value)
            written = self._written()
            fixes = [Assignment(n, v) for n, v in candidate.items()]
            ok = _matches(self.config, assignment, written) and all(
                _matches(self.config, f, written) for f in fixes)
        finally:
            trial.restore()
        return ok, written

    def _fix_leaves(self, assignment: Assignment) -> list[dict[str, str]]:
        """Alternative single assignments suggested by the why-not tree (current trial state)."""
        sym = self.config.kconf.syms[assignment.symbol]
        reasons = self._explain(Explainer(self.config), sym, assignment)
        leaves: list[dict[str, str]] = []

        def walk(reason: Reason) -> None:
            if reason.fixed:
                return
            if reason.fix:
                leaf = dict(reason.fix)
                if leaf not in leaves:
                    leaves.append(leaf)
            for child in reason.children:
                walk(child)
        for reason in reasons:
            walk(reason)
        # deepest conditions first: they unlock the ones above them; those that enable something before
        # those that turn something off, and of these the ones fewer symbols depend on first (a budget
        # that runs out keeps the best tried)
        kconf = self.config.kconf

        def turns_off(leaf: dict[str, str]) -> tuple[int, int]:
            down = [kconf.syms[n] for n, v in leaf.items() if kconf.syms[n].orig_type in (BOOL, TRISTATE)
                    and _TRI.get(v, 0) < kconf.syms[n].tri_value]
            return len(down), sum(len(sym._dependents) for sym in down)
        deep_first = leaves[::-1]
        return sorted(deep_first, key=turns_off)

    # --- history ---------------------------------------------------------------

    def undo(self) -> ChangeSet | None:
        return self._step(self.history, self.future)

    def redo(self) -> ChangeSet | None:
        return self._step(self.future, self.history)

    def _step(self, source: list, target: list) -> ChangeSet | None:
        """Undo (history to future) or redo (future to history) the last change of `source`: back to the
        state kept with it, keeping the current one in `target` for the way back."""
        if not source:
            return None
        change, state = source.pop()
        now = _user_state(self.config)
        _restore_state(self.config, state)
        if change.toolchain:   # the answers the change replaced (undo) or made (redo)
            answers = {c.probe: (c.old if source is self.history else c.new) for c in change.toolchain}
            toolchain.set_probe_answers(self.config, answers)
        self._written()   # recompute what the step invalidated now, not in the next edit
        target.append((change, now))
        return change


# --- both arches -----------------------------------------------------------------

class SessionLike(Protocol):
    """What the analyses use of a loaded session (app.session.Session, a later layer): its configs."""

    @property
    def configs(self) -> Mapping[str, Config]: ...


def editors_of(configs: Mapping[str, Config], kept: Mapping[str, Editor] | None = None) -> dict[str, Editor]:
    """One Editor per config (arch -> Editor), keeping those of `kept` that edit the same config
    (with their history). Whoever holds the configs being edited holds their editors, one per
    config: an editor keeps the written values up to date from the invalidations it reads."""
    kept = kept or {}
    return {arch: kept[arch] if arch in kept and kept[arch].config is config else Editor(config)
            for arch, config in configs.items()}


def attempt_symbols(editors: Mapping[str, Editor], assignments: Iterable[Assignment | str], *,
                    arches: Sequence[str] | None = None, mode: str = "set") -> dict[str, Attempt]:
    """The batch attempted once on every arch (or `arches`): arch -> Attempt, each holding its
    result on trial until kept or dropped. A symbol one arch doesn't define is listed in that
    arch's `undefined`, not as an error — unless no arch defines it (an InputError, with "did
    you mean"); in `set` mode a symbol given twice is an InputError too. Nothing is changed
    when one of these is raised."""
    parsed = [parse_assignment(a) if isinstance(a, str) else a for a in assignments]
    if mode == "set":
        # one request per symbol: which of two values was meant can't be guessed
        given: dict[str, list[str]] = {}
        for a in parsed:
            given.setdefault(a.symbol.removeprefix("CONFIG_"), []).append(a.value)
        twice = {name: values for name, values in given.items() if len(values) > 1}
        if twice:
            listed = "; ".join(f"CONFIG_{name} ({', '.join(values)})" for name, values in twice.items())
            raise InputError(f"given more than once: {listed}; nothing was changed",
                             hint="give each symbol once")
    chosen = {arch: editors[arch] for arch in (arches or editors)}
    for a in parsed:
        name = a.symbol.removeprefix("CONFIG_")
        if not any(e.config.has_symbol(name) for e in chosen.values()):
            next(iter(chosen.values())).config.symbol(name)   # raises with "did you mean"
    attempts: dict[str, Attempt] = {}
    try:
        for arch, editor in chosen.items():
            attempts[arch] = editor.attempt(parsed, mode=mode)
    except BaseException:
        for attempt in attempts.values():
            attempt.drop()
        raise
    return attempts


def set_symbols(editors: Mapping[str, Editor], assignments: Iterable[Assignment | str], *, arches: Sequence[str] | None = None,
                mode: str = "set", dry_run: bool = False, fix: bool = True,
                atomic: bool = False) -> dict[str, ChangeSet]:
    """Set on every arch (or `arches`); per arch a ChangeSet.

    Each arch applies or refuses on its own ("arm64: set; amd64: refused because
    ..."); with atomic=True (what `talosnb set` does) one refusal anywhere keeps
    every arch unchanged. A symbol one arch doesn't define is listed in that
    arch's `undefined`, not as an error — unless no arch defines it.
    """
    attempts = attempt_symbols(editors, assignments, arches=arches, mode=mode)
    refused = any(a.change.refusals for a in attempts.values())
    for attempt in attempts.values():
        if dry_run or (mode == "set" and (attempt.change.refusals or (atomic and refused))):
            attempt.drop()
        else:
            attempt.keep()
    if fix and mode == "set":
        for attempt in attempts.values():
            attempt.editor.find_fixes(attempt.change)
    return {arch: attempt.change for arch, attempt in attempts.items()}


def fix_verifier(editors: Mapping[str, Editor]) -> Callable[[str, Mapping[str, str]], bool]:
    """For the module-list check: does a suggested set of assignments really take effect on `arch`?"""

    def verify(arch: str, assignments: Mapping[str, str]) -> bool:
        editor = editors.get(arch)
        if editor is None:
            return False
        try:
            change = editor.set([Assignment(k, v) for k, v in assignments.items()], dry_run=True, fix=False)
        except InputError:
            return False
        return change.ok and not change.undefined
    return verify


def undo(editors: Mapping[str, Editor], arches: Sequence[str] | None = None) -> dict[str, ChangeSet | None]:
    """The last kept change of each arch (or `arches`) undone: arch -> that ChangeSet (None: none)."""
    return {arch: editors[arch].undo() for arch in (arches or editors)}


def redo(editors: Mapping[str, Editor], arches: Sequence[str] | None = None) -> dict[str, ChangeSet | None]:
    """The last undone change of each arch (or `arches`) done again: arch -> that ChangeSet (None: none)."""
    return {arch: editors[arch].redo() for arch in (arches or editors)}


def why_symbol(editors: Mapping[str, Editor], name: str, value: str | None = None, *,
               fix_budget: int = 200) -> dict[str, WhyAnswer | None]:
    """:meth:`Editor.why` on every arch: arch -> the answer, None where the arch doesn't define
    the symbol (an InputError, with "did you mean", when no arch does)."""
    name = name.removeprefix("CONFIG_")
    if not any(e.config.has_symbol(name) for e in editors.values()):
        next(iter(editors.values())).config.symbol(name)   # raises with "did you mean"
    return {arch: editor.why(name, value, fix_budget=fix_budget) if editor.config.has_symbol(name) else None
            for arch, editor in editors.items()}
