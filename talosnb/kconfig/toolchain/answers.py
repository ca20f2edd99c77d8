"""Load time: the answer of every probe placeholder, decided per config from the lines the
config records (:func:`solve_placeholders`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import kconfiglib

from talosnb.core.names import TC_PREFIX

from .shells import Probe


@dataclass
class ProbeAnswer:
    name: str
    kind: str
    command: str
    value: str
    evidence: str  # "recorded" (decided by lines in the config) or "assumed" (no trace)
    used_by: list[str]


def solve_placeholders(kconf: kconfiglib.Kconfig, recorded: Mapping[str, str | None],
                       probes: dict[str, Probe]) -> list[ProbeAnswer]:
    """Give each placeholder the value that reproduces the config's recorded lines.

    `recorded` maps symbol name -> the exact line the config has for it ("" if the
    symbol is not written). Assumes the config is already loaded into `kconf`.
    """
    users = kconf.talosnb_probe_users
    answers = _solve_numbers(kconf, recorded, probes, users)
    yes_no = [name for name, p in probes.items() if p.kind == "yes/no"]
    for name in yes_no:
        _set_default(kconf.syms[name], kconf.y)
    # Probes that feed the same symbols are decided together: e.g. a string
    # default chosen by the first of two succeeding cc-option probes.
    decided: dict[str, tuple[str, str]] = {}
    for group in _probe_groups(yes_no, users):
        decided.update(_decide_group(kconf, group, users, recorded))
    for name in yes_no:
        value, evidence = decided.get(name, ("y", "assumed"))
        probe = probes[name]
        answers[name] = ProbeAnswer(name, probe.kind, probe.command, value, evidence, users[name])
    return [answers[name] for name in sorted(answers)]


def _set_default(sym: kconfiglib.Symbol, value_sym: kconfiglib.Symbol) -> None:
    sym.defaults = [(value_sym, sym.kconfig.y)]
    sym._rec_invalidate()


def _solve_numbers(kconf: kconfiglib.Kconfig, recorded: Mapping[str, str | None], probes: dict[str, Probe],
                   users: dict[str, list[str]]) -> dict[str, ProbeAnswer]:
    """Versions and texts: the number or text the config records for the symbol fed by each."""
    answers: dict[str, ProbeAnswer] = {}
    numbers: dict[str, str] = {}
    # derived numbers (`expr VERSION / 10000`) after the versions they are computed from
    for name, probe in sorted(probes.items(), key=lambda item: TC_PREFIX + "DERIVED_" in item[0]):
        if probe.kind == "yes/no":
            continue
        derived = evaluate_expr(probe.command, numbers) if TC_PREFIX in probe.command else None
        if derived is not None:
            value, evidence = derived, "recorded"
        else:
            value, evidence = _recorded_number(probe, users[name], recorded)
        numbers[name] = value
        _set_default(kconf.syms[name], kconf._lookup_const_sym(value))
        answers[name] = ProbeAnswer(name, probe.kind, probe.command, value, evidence, users[name])
    return answers


def _recorded_number(probe: Probe, user_names: list[str], recorded: Mapping[str, str | None]) -> tuple[str, str]:
    """(value, evidence) of a version or text probe from the lines of the symbols it feeds.

    A 0 or empty line may be a symbol the answer does not reach (CLANG_VERSION=0
    beside GCC_VERSION=140200, both from cc-version): another user's number wins,
    but with no other, the 0 itself is the answer (PAHOLE_VERSION=0: no pahole)."""
    fallback = None
    for user in user_names:
        got = _line_value(recorded.get(user))
        if got is None or (probe.kind == "version" and not got.lstrip("-").isdigit()):
            continue
        if got in ("", "0"):
            fallback = fallback if fallback is not None else got
            continue
        return got, "recorded"
    if fallback is not None:
        return fallback, "recorded"
    return ("0" if probe.kind == "version" else ""), "assumed"


def _mismatches(kconf: kconfiglib.Kconfig, user_names: list[str], recorded: Mapping[str, str | None]) -> int:
    """How many of these symbols' lines differ from the config's."""
    return sum(kconf.syms[user].config_string.rstrip("\n") != (recorded.get(user) or "") for user in user_names)


def _decide_group(kconf: kconfiglib.Kconfig, group: list[str], users: dict[str, list[str]],
                  recorded: Mapping[str, str | None]) -> dict[str, tuple[str, str]]:
    """name -> (y/n, evidence) for yes/no probes feeding the same symbols: the answers that reproduce
    the most recorded lines (on a tie, the most probes succeeding), each left set in `kconf`."""
    syms = [kconf.syms[name] for name in group]
    if len(group) > 10:
        return {sym.name: ("y", "assumed") for sym in syms}
    group_users = sorted({u for name in group for u in users[name]})
    scores = []
    for combo in range(1 << len(group)):
        for bit, sym in enumerate(syms):
            _set_default(sym, kconf.n if combo >> bit & 1 else kconf.y)
        # fewest mismatches first; on a tie, the most probes succeeding
        scores.append((_mismatches(kconf, group_users, recorded), combo.bit_count(), combo))
    best = min(scores)
    by_combo = {combo: score for score, _bits, combo in scores}
    decided = {}
    for bit, sym in enumerate(syms):
        failed = best[2] >> bit & 1
        _set_default(sym, kconf.n if failed else kconf.y)
        # recorded only if the config tells this probe's answer apart: the other
        # answer (everything else kept) reproduces fewer of the recorded lines
        told = by_combo[best[2] ^ (1 << bit)] > best[0]
        decided[sym.name] = ("n" if failed else "y", "recorded" if told else "assumed")
    return decided


def evaluate_expr(command: str, numbers: dict[str, str]) -> str | None:
    """`expr A OP B` over solved version numbers, as the shell's expr computes it."""
    words = command.split()
    if len(words) != 4 or words[0] != "expr" or words[2] not in ("+", "-", "*", "/", "%"):
        return None
    try:
        a, b = (int(numbers.get(w, w)) for w in (words[1], words[3]))
    except ValueError:
        return None
    if words[2] in "/%" and b == 0:
        return None
    result = {"+": a + b, "-": a - b, "*": a * b,
              "/": abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1),
              "%": a - b * (abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)) if b else 0}[words[2]]
    return str(result)


def _probe_groups(names: list[str], users: dict[str, list[str]]) -> list[list[str]]:
    parent = {name: name for name in names}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_user: dict[str, str] = {}
    for name in names:
        for user in users[name]:
            if user in by_user:
                parent[find(name)] = find(by_user[user])
            else:
                by_user[user] = name
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(find(name), []).append(name)
    return list(groups.values())


def _line_value(line: str | None) -> str | None:
    if not line:
        return None
    if line.startswith("#"):
        return "n"
    value = line.split("=", 1)[1]
    if value.startswith('"'):
        return kconfiglib.unescape(value[1:-1])
    return value
