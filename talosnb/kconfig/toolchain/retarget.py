"""Edit time: the same config as if made with another toolchain: answers re-recorded
(:func:`retarget`, :func:`set_probe_answers`) and everything depending on them recomputed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import kconfiglib
from kconfiglib import BOOL, INT

from talosnb.core.errors import InputError
from talosnb.core.names import TC_PREFIX

from ..types import Expr
from .answers import ProbeAnswer, evaluate_expr
from .shells import Probe, opt_value

if TYPE_CHECKING:
    from ..config import Config
    from ..tree import KconfigTree


@dataclass(frozen=True)
class ProbeChange:
    """One toolchain answer re-recorded: what the probe answered, and now answers."""

    probe: str                 # placeholder name
    kind: str                  # "yes/no", "version" or "text"
    command: str               # what the kernel would run
    old: str
    new: str
    used_by: tuple[str, ...]   # the symbols it feeds

    def __str__(self) -> str:
        return f"{self.command}: {self.old!r} -> {self.new!r}"

    def as_dict(self) -> dict[str, object]:
        return {"probe": self.probe, "kind": self.kind, "command": self.command, "old": self.old,
                "new": self.new, "used_by": list(self.used_by)}


def toolchain_symbols(config: Config | KconfigTree) -> list[str]:
    """The lines that record a toolchain answer, of a config or a parsed tree (both have the kconf):
    promptless symbols fed by a probe (CC_VERSION_TEXT, CLANG_VERSION, PAHOLE_VERSION, CC_HAS_*,
    AS_HAS_*, LD_IS_LLD, ...)."""
    kconf = config.kconf
    names = set()
    for users in getattr(kconf, "talosnb_probe_users", {}).values():
        for name in users:
            sym = kconf.syms[name]
            if not any(node.prompt for node in sym.nodes):
                names.add(name)
    return sorted(names)


def _answer(kconf: kconfiglib.Kconfig, probe: Probe) -> str:
    value = kconf.syms[probe.name].defaults[0][0]
    if probe.kind == "yes/no":
        return "y" if value is kconf.y else "n"
    return value.name


def _set_answer(kconf: kconfiglib.Kconfig, probe: Probe, value: str) -> None:
    sym = kconf.syms[probe.name]
    if probe.kind == "yes/no":
        target = kconf.y if value == "y" else kconf.n
    else:
        target = kconf._lookup_const_sym(value)
    sym.defaults = [(target, kconf.y)]
    sym._rec_invalidate()


def _recompute_derived(kconf: kconfiglib.Kconfig, probes: dict[str, Probe]) -> None:
    # `expr $(cc-version) / 10000` & co. follow the versions they are computed from
    numbers = {name: _answer(kconf, p) for name, p in probes.items() if p.kind == "version"}
    for name, probe in probes.items():
        if TC_PREFIX + "DERIVED_" in name:
            value = evaluate_expr(probe.command, numbers)
            if value is not None and value != numbers[name]:
                _set_answer(kconf, probe, value)
                numbers[name] = value


def set_probe_answers(config: Config, answers: dict[str, str]) -> list[ProbeChange]:
    """Give probes (by placeholder name) new answers; derived numbers follow.

    The low-level step of retarget() and config.toolchain_from(); also what undoes
    them: `set_probe_answers(config, {c.probe: c.old for c in changes})`.
    """
    kconf, probes = config.kconf, config.tree.probes
    require_recorded(config)
    before = {name: _answer(kconf, probe) for name, probe in probes.items()}
    for name, value in answers.items():
        if name not in probes:
            raise InputError(f"no toolchain probe named {name} in this tree",
                             hint="probe names come from this tree's ProbeAnswer list")
        _set_answer(kconf, probes[name], value)
    _recompute_derived(kconf, probes)
    return _record_changes(config, before)


def _record_changes(config: Config, before: dict[str, str]) -> list[ProbeChange]:
    kconf, probes = config.kconf, config.tree.probes
    users = kconf.talosnb_probe_users
    changes = []
    for name, probe in probes.items():
        now = _answer(kconf, probe)
        if now != before[name]:
            changes.append(ProbeChange(name, probe.kind, probe.command, before[name], now, tuple(users[name])))
    if changes:
        changed = {c.probe: c.new for c in changes}
        config.probe_answers = [
            ProbeAnswer(a.name, a.kind, a.command, changed[a.name], "recorded", a.used_by)
            if a.name in changed else a for a in config.probe_answers]
    return changes


def require_recorded(config: Config) -> None:
    if config.tree.mode != "recorded":
        raise InputError("toolchain answers can only be re-recorded in recorded mode",
                         hint=f"host mode asks this machine's toolchain; use {opt_value('toolchain', 'recorded')}")


def retarget(config: Config, values: dict[str, str]) -> list[ProbeChange]:
    """Re-record toolchain lines, as if the config had been made with that toolchain.

    `values` maps toolchain lines (see toolchain_symbols) to values as kconfig
    holds them ("220108", "clang version 22.1.8", "y"): each line's probe gets
    the answer that gives it that value, and everything depending on it
    recomputes, as `make olddefconfig` with that toolchain would. Yes/no lines
    (CC_HAS_*, LD_IS_LLD, CC_IS_CLANG, ...) go first, so a number may follow a
    compiler switch made in the same call. Returns the probes whose answers
    changed; nothing is changed when a value can't be reached (InputError).
    """
    require_recorded(config)
    kconf, probes = config.kconf, config.tree.probes
    allowed = set(toolchain_symbols(config))
    wanted: dict[str, str] = {}
    for raw_name, value in values.items():
        name = raw_name.removeprefix("CONFIG_")
        sym = kconf.syms.get(name)
        if sym is None or name not in allowed:
            raise InputError(f"CONFIG_{name} is not a toolchain line of this config",
                             where=_where(sym) if sym is not None and sym.nodes else None,
                             hint="toolchain lines are the promptless symbols the compiler probes decide: "
                                  + ", ".join(sorted(allowed)[:8]) + ", ...")
        _check_type(sym, str(value))
        wanted[name] = str(value)
    before = {name: _answer(kconf, probe) for name, probe in probes.items()}
    try:
        yes_no = {n: v for n, v in wanted.items() if kconf.syms[n].orig_type in (BOOL, kconfiglib.TRISTATE)}
        for name, value in yes_no.items():
            _retarget_yes_no(kconf, probes, kconf.syms[name], value)
        assigned: dict[str, tuple[str, str]] = {}
        followers = [name for name in wanted if name not in yes_no
                     and not _retarget_value(kconf, probes, kconf.syms[name], wanted[name], assigned)]
        _recompute_derived(kconf, probes)
        for name in followers:
            # a line that follows another (AS_VERSION = CLANG_VERSION with clang's assembler)
            # may be given with the value it gets; any other value can't be had
            if kconf.syms[name].str_value != wanted[name]:
                raise _follower_error(kconf, probes, kconf.syms[name])
        for name, value in wanted.items():
            got = kconf.syms[name].str_value
            if got != value:
                raise InputError(f"CONFIG_{name} stays {got!r}, not {value!r}, with the probes re-recorded",
                                 where=_where(kconf.syms[name]),
                                 hint="another requested value or the symbol's range decides it")
    except InputError:
        for name, probe in probes.items():
            _set_answer(kconf, probe, before[name])
        raise
    return _record_changes(config, before)


def _where(sym: kconfiglib.Symbol) -> str:
    node = sym.nodes[0]
    return f"{node.filename}:{node.linenr}"


def _check_type(sym: kconfiglib.Symbol, value: str) -> None:
    kind = sym.orig_type
    ok = {BOOL: value in ("y", "n"), kconfiglib.TRISTATE: value in ("y", "m", "n"),
          INT: re.fullmatch(r"-?[0-9]+", value) is not None,
          kconfiglib.HEX: re.fullmatch(r"(0[xX])?[0-9a-fA-F]+", value) is not None}.get(kind, True)
    if not ok:
        raise InputError(f"{value!r} is not a {kconfiglib.TYPE_TO_STR[kind]} value for CONFIG_{sym.name}",
                         where=_where(sym))


def _retarget_yes_no(kconf: kconfiglib.Kconfig, probes: dict[str, Probe], sym: kconfiglib.Symbol,
                     value: str) -> None:
    """The fewest flips of the symbol's own yes/no probes that give it `value`."""
    users = kconf.talosnb_probe_users
    own = [probes[name] for name, names in users.items()
           if sym.name in names and probes[name].kind == "yes/no"]
    if len(own) > 10:
        raise InputError(f"CONFIG_{sym.name} depends on {len(own)} compiler probes; re-record them one by one",
                         where=_where(sym))
    current = [_answer(kconf, p) for p in own]
    best = None
    for combo in range(1 << len(own)):
        answers = ["n" if combo >> bit & 1 else "y" for bit in range(len(own))]
        for probe, answer in zip(own, answers, strict=True):
            _set_answer(kconf, probe, answer)
        if sym.str_value == value:
            flips = sum(a != c for a, c in zip(answers, current, strict=True))
            score = (flips, combo.bit_count())
            if best is None or score < best[0]:
                best = (score, answers)
    chosen = best[1] if best else current
    for probe, answer in zip(own, chosen, strict=True):
        _set_answer(kconf, probe, answer)
    if best is None:
        raise InputError(f"no compiler probe answer gives CONFIG_{sym.name}={value}: it also depends on "
                         f"{kconfiglib.expr_str(sym.direct_dep)}", where=_where(sym),
                         hint="re-record what it depends on too (in the same call)")


def _active_default(sym: kconfiglib.Symbol) -> Expr | None:
    for default, cond in sym.defaults:
        if kconfiglib.expr_value(cond):
            return default
    return None


def _retarget_value(kconf: kconfiglib.Kconfig, probes: dict[str, Probe], sym: kconfiglib.Symbol, value: str,
                    assigned: dict) -> bool:
    """A version or text line: the probe its active default reads gets the value.
    False when the line reads no probe (it follows another line or a constant)."""
    name = getattr(_active_default(sym), "name", "")
    probe = probes.get(name)
    if probe is None or probe.kind == "yes/no" or TC_PREFIX + "DERIVED_" in name:
        return False
    if name in assigned and assigned[name][1] != value:
        raise InputError(f"CONFIG_{sym.name}={value} and CONFIG_{assigned[name][0]}={assigned[name][1]} "
                         f"are the same probe ({probe.command})", where=_where(sym),
                         hint="give one value")
    assigned[name] = (sym.name, value)
    _set_answer(kconf, probe, value)
    return True


def _follower_error(kconf: kconfiglib.Kconfig, probes: dict[str, Probe],
                    sym: kconfiglib.Symbol) -> InputError:
    active = _active_default(sym)
    shown = kconfiglib.expr_str(active) if active is not None else "no default"
    readers = [cond for default, cond in sym.defaults if getattr(default, "name", "") in probes]
    reason = (f"; it takes the toolchain's answer only if {kconfiglib.expr_str(readers[0])}"
              if readers and not kconfiglib.expr_value(readers[0]) else "")
    return InputError(f"CONFIG_{sym.name} follows {shown} in this config{reason}", where=_where(sym),
                      hint="re-record what it follows (or the compiler switch) instead, or in the same call")
