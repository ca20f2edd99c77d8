"""Toolchain probes: run them (host mode) or answer them from a config (recorded mode).

Linux's Kconfig asks the compiler, assembler, linker, pahole and rustc ~100
questions through `$(shell,...)` while it is parsed (scripts/Kconfig.include,
init/Kconfig, arch Kconfigs). On a laptop without the toolchain that produced a
Talos config (gcc 14 for 1.10, clang 22 today) the answers differ, and the
kernel's own `make olddefconfig` rewrites every toolchain-derived line.

Recorded mode parses the tree without running anything. Each probe becomes a
placeholder symbol whose value is decided per config, from what the config
records:

- a yes/no probe (`$(success,...)`, `$(cc-option,...)`, `$(as-instr,...)`, ...) is
  a bool placeholder. Its value is the one that reproduces the recorded lines of
  the symbols that use it: an invisible `def_bool` symbol is written exactly when
  it is y, a visible one exactly when its prompt is visible. A probe that leaves
  no trace in the config cannot change what is written; it is assumed to succeed
  and reported as such.
- a version (`cc-version.sh`, `ld-version.sh`, ..., `pahole-version.sh`) is an int
  placeholder holding the number the config records for the symbol it feeds;
  the version texts (CC_VERSION_TEXT, ...) are string placeholders, likewise.

Placeholders are named TALOSNB_PROBE_*/TALOSNB_TC_*; they are never written.

retarget() re-records answers (the config as if made with another toolchain:
`CLANG_VERSION=210108`, `CC_HAS_ASM_INLINE=n`, ...) and config.toolchain_from() takes
them from another config; everything depending on them recomputes.

Host mode takes its toolchain as the top Makefile does (host_env): LLVM=1,
LLVM=-SUFFIX or LLVM=PREFIX/, CROSS_COMPILE, CC, LD, HOSTCC, RUSTC, ...; and
CC_VERSION_TEXT, RUSTC_VERSION_TEXT, PAHOLE_VERSION and CLANG_FLAGS as it
derives them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import kconfiglib
from kconfiglib import BOOL, INT, STRING

from talosnb.core.errors import InputError, opt
from talosnb.core.names import PROBE_PREFIX, TC_PREFIX

from .types import Expr

if TYPE_CHECKING:
    from .config import Config
    from .tree import KconfigTree

# scripts/Kconfig.include: if-success = $(shell,{ $(1); } >/dev/null 2>&1 && echo "$(2)" || echo "$(3)")
_IF_SUCCESS = re.compile(r'^\{ (?P<cmd>.*); \} >/dev/null 2>&1 && echo "(?P<then>.*)" \|\| echo "(?P<else>.*)"$',
                         re.DOTALL)
# cc-name := $(shell,set -- $(cc-info) && echo $1)
_SET_ECHO = re.compile(r"^set -- (?P<words>.*) && echo \$(?P<n>\d)$", re.DOTALL)

# Version scripts and what their answer is made of (name word, version word).
_VERSION_SCRIPTS = {
    "cc-version.sh": ("CC_NAME", "CC_VERSION"),
    "as-version.sh": ("AS_NAME", "AS_VERSION"),
    "ld-version.sh": ("LD_NAME", "LD_VERSION"),
    "rustc-version.sh": (None, "RUSTC_VERSION"),
    "rustc-llvm-version.sh": (None, "RUSTC_LLVM_VERSION"),
    "pahole-version.sh": (None, "PAHOLE_VERSION"),
}

# Environment variables the kernel's Makefile exports whose text ends up in
# string symbols (init/Kconfig: default "$(CC_VERSION_TEXT)").
TEXT_VARIABLES = ("CC_VERSION_TEXT", "RUSTC_VERSION_TEXT", "PAHOLE_VERSION")  # the last: Linux >= 7.x


@dataclass
class Probe:
    """A toolchain question the tree asks, answered per config in recorded mode."""

    name: str           # placeholder symbol name
    kind: str           # "yes/no", "version" or "text"
    command: str        # the expanded shell command (or variable), as the kernel would run it
    locations: list[tuple[str, int]] = field(default_factory=list)
    negated_name: str | None = None


class RecordedShell:
    """Answers `$(shell,...)` during a recorded-mode parse with placeholders."""

    def __init__(self) -> None:
        self.probes: dict[str, Probe] = {}
        self._by_command: dict[tuple[str, str], str] = {}
        self.unknown: list[tuple[str, int, str]] = []

    def _placeholder(self, kind: str, command: str, prefix: str, kconf: kconfiglib.Kconfig) -> str:
        key = (kind, command)
        name = self._by_command.get(key)
        if name is None:
            name = f"{prefix}{len(self.probes) + 1:03d}"
            self._by_command[key] = name
            self.probes[name] = Probe(name, kind, command)
        self.probes[name].locations.append((kconf.filename, kconf.linenr))
        return name

    def if_success(self, command: str, then: str, other: str, kconf: kconfiglib.Kconfig) -> str:
        if (then, other) in (("y", "n"), ("n", "y")):
            name = self._placeholder("yes/no", command, PROBE_PREFIX, kconf)
            # $(failure,...) is the negation of the same question
            return name if then == "y" else f"!{name}"
        # e.g. cc-option-bit: the flag is only spliced into other probes'
        # command lines, which are not run; assume the toolchain takes it.
        return then

    def __call__(self, command: str, kconf: kconfiglib.Kconfig) -> str:
        m = _IF_SUCCESS.match(command)
        if m:
            return self.if_success(m["cmd"], m["then"], m["else"], kconf)
        m = _SET_ECHO.match(command)
        if m:
            words = m["words"].split()
            n = int(m["n"])
            return words[n - 1] if 0 < n <= len(words) else ""
        script = command.split()[0].rsplit("/", 1)[-1] if command.split() else ""
        if script in _VERSION_SCRIPTS:
            name_word, version_word = _VERSION_SCRIPTS[script]
            version = self._placeholder("version", version_word, TC_PREFIX + version_word + "_", kconf)
            return f"{TC_PREFIX}{name_word} {version}" if name_word else version
        if TC_PREFIX in command:
            # arithmetic on a version (7.x: `expr $(rustc-llvm-version) / 10000`):
            # a number of its own, read back from the symbol it feeds
            return self._placeholder("version", command, TC_PREFIX + "DERIVED_", kconf)
        if "--version" in command:
            # e.g. BINDGEN_VERSION_TEXT: default "$(shell,$(BINDGEN) --version ...)"
            return self._placeholder("text", command, TC_PREFIX + "TEXT_", kconf)
        # Unknown command: its text is only meaningful inside another probe
        # (e.g. `$(CC) -print-file-name=plugin`), which is answered as a whole.
        self.unknown.append((kconf.filename, kconf.linenr, command))
        return ""

    def text_variable(self, variable: str) -> str:
        name = f"{TC_PREFIX}{variable}"
        self.probes.setdefault(name, Probe(name, "text", f"${variable}"))
        return name


def recorded_env() -> dict[str, str]:
    """Toolchain variables for a recorded-mode parse: names only, nothing is run."""
    return {"CC": "cc", "LD": "ld", "HOSTCC": "cc", "NM": "nm", "OBJCOPY": "objcopy",
            "RUSTC": "rustc", "BINDGEN": "bindgen", "PAHOLE": "pahole", "CLANG_FLAGS": ""}


# Tools the top Makefile names, and their LLVM=1 spelling (Makefile: "Make variables (CC, etc...)").
_GNU_TOOLS = {"CC": "gcc", "LD": "ld", "AR": "ar", "NM": "nm", "OBJCOPY": "objcopy", "OBJDUMP": "objdump",
              "READELF": "readelf", "STRIP": "strip"}
_LLVM_TOOLS = {"CC": "clang", "LD": "ld.lld", "AR": "llvm-ar", "NM": "llvm-nm", "OBJCOPY": "llvm-objcopy",
               "OBJDUMP": "llvm-objdump", "READELF": "llvm-readelf", "STRIP": "llvm-strip",
               "LLVM_LINK": "llvm-link"}
# Variables a user may give (make takes them from its command line; talosnb, which has
# none, from the environment) and the Makefile's defaults for the rest.
TOOL_VARIABLES = (*_LLVM_TOOLS, "HOSTCC", "HOSTCXX", "RUSTC", "BINDGEN", "PAHOLE", "PYTHON3")
_DEFAULTS = {"RUSTC": "rustc", "BINDGEN": "bindgen", "PAHOLE": "pahole", "PYTHON3": "python3"}
# Read by Kconfig only when set (scripts/Kconfig.include, arch/arm64/Kconfig).
_PASSED_THROUGH = ("USERCFLAGS", "USERLDFLAGS", "CROSS_COMPILE_COMPAT", "LLVM_IAS")
# scripts/Makefile.clang: CLANG_TARGET_FLAGS_$(SRCARCH)
_CLANG_TARGETS = {"x86": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
def llvm_hint() -> str:
    """What to do when host mode can't find the compiler (options named in the caller's face)."""
    return ("set LLVM as for the kernel's make: LLVM=1 (clang, ld.lld, ...), LLVM=-22 (clang-22, "
            "ld.lld-22, ...) or LLVM=/usr/lib/llvm-22/bin/ (a folder, with the trailing /); "
            f"or use {opt_value('toolchain', 'recorded')} (the default), which runs no compiler")


def opt_value(name: str, value: str) -> str:
    """Option `name` given `value`, in the current face (--toolchain recorded / toolchain='recorded')."""
    words = opt(name)
    return f"{words} {value}" if words.startswith("--") else f"{words}={value!r}"


def llvm_tools(llvm: str) -> dict[str, str]:
    """The tools `make LLVM=...` uses: LLVM=1, LLVM=-SUFFIX or LLVM=PREFIX/ (Documentation/kbuild/llvm.rst)."""
    if llvm.endswith("/"):
        prefix, suffix = llvm, ""
    elif llvm.startswith("-"):
        prefix, suffix = "", llvm
    elif llvm == "1":
        prefix = suffix = ""
    else:
        # the top Makefile: $(error Invalid value for LLVM, see Documentation/kbuild/llvm.rst)
        raise InputError(f"invalid value for LLVM: {llvm!r}", where="LLVM", hint=llvm_hint())
    tools = {name: f"{prefix}{tool}{suffix}" for name, tool in _LLVM_TOOLS.items()}
    tools["HOSTCC"], tools["HOSTCXX"] = f"{prefix}clang{suffix}", f"{prefix}clang++{suffix}"
    return tools


def host_env(*, llvm: str | bool | None = None, environ: Mapping[str, str] | None = None,
             arch: str | None = None, cc: str | None = None, ld: str | None = None,
             rustc: str | None = None) -> dict[str, str]:
    """The variables `make olddefconfig` exports to Kconfig on this machine.

    Derived as the top Makefile derives them: `LLVM` (from `llvm`, else from
    `environ`) picks clang, ld.lld, llvm-nm, ... with its prefix or suffix, else
    $(CROSS_COMPILE)gcc, ld, nm ...; CC, LD, HOSTCC, RUSTC, ... given in `environ`
    (or as `cc`, `ld`, `rustc`) win, as make's command-line variables do;
    CC_VERSION_TEXT is the first line of `$(CC) --version` without '#',
    RUSTC_VERSION_TEXT likewise, PAHOLE_VERSION what scripts/pahole-version.sh
    prints. With `arch`, CLANG_FLAGS too (scripts/Makefile.clang); without,
    KconfigTree.load adds it for its arch. `environ` defaults to os.environ.
    """
    environ = os.environ if environ is None else environ
    if llvm is None:
        llvm = environ.get("LLVM", "")
    llvm = "1" if llvm is True else "" if llvm is False else str(llvm)
    env, chosen = _tool_env(llvm, environ, {"CC": cc, "LD": ld, "RUSTC": rustc})
    path = env["PATH"]
    _require_on_path(env, path, llvm)
    run_env = {**environ, "PATH": path}
    # Makefile: CC_VERSION_TEXT = $(subst $(pound),,$(shell LC_ALL=C $(CC) --version 2>/dev/null | head -n 1))
    env["CC_VERSION_TEXT"] = _make_shell(f"LC_ALL=C {env['CC']} --version 2>/dev/null | head -n 1",
                                         run_env).replace("#", "")
    env["RUSTC_VERSION_TEXT"] = _make_shell(f"{env['RUSTC']} --version 2>/dev/null", run_env).replace("#", "")
    env["PAHOLE_VERSION"] = pahole_version(env["PAHOLE"], run_env)
    # which default the compiler came from: a clang config is never redone with gcc unasked
    env[CC_ORIGIN] = "chosen" if chosen else "default"
    if arch is not None:
        env.update(arch_env(env, arch))
    return env


def _tool_env(llvm: str, environ: Mapping[str, str], given: dict[str, str | None]) -> tuple[dict[str, str], bool]:
    """The tool variables as the top Makefile sets them (LLVM's or $(CROSS_COMPILE)gcc's), then the
    environment's and the `given` ones winning as make's command-line variables do; and whether CC
    was chosen (by LLVM or by name) rather than defaulted."""
    cross = environ.get("CROSS_COMPILE", "")
    if llvm:
        tools = llvm_tools(llvm)
    else:
        tools = {name: f"{cross}{tool}" for name, tool in _GNU_TOOLS.items()}
        tools["HOSTCC"], tools["HOSTCXX"] = "gcc", "g++"
    env = {**tools, **_DEFAULTS}
    chosen = bool(llvm)
    for name in TOOL_VARIABLES:
        if environ.get(name):
            env[name] = environ[name]
            chosen = chosen or name == "CC"
    for name, value in given.items():
        if value is not None:
            env[name] = value
            chosen = chosen or name == "CC"
    for name in _PASSED_THROUGH:
        if name in environ:
            env[name] = environ[name]
    if llvm:
        env["LLVM"] = llvm
    env["CROSS_COMPILE"] = cross
    env["PATH"] = environ.get("PATH", os.defpath)
    return env, chosen


def _require_on_path(env: Mapping[str, str], path: str, llvm: str) -> None:
    """Refuse a host toolchain whose compiler or linker is not on PATH."""
    for name, what in (("CC", "C compiler"), ("LD", "linker")):
        program = env[name].split()[0] if env[name].split() else ""
        if not program or shutil.which(program, path=path) is None:
            raise InputError(f"host toolchain mode needs the {what} {env[name]!r} ({name}), which is not on PATH",
                             where=name, hint=llvm_hint() if llvm or "clang" in env["CC"] else
                             f"install it, give {name}=..., or " + llvm_hint())


# Not a make variable: how the host compiler was picked (see Config's clang check).
CC_ORIGIN = "TALOSNB_CC_ORIGIN"


def arch_env(env: Mapping[str, str], srcarch: str) -> dict[str, str]:
    """What the Makefile adds for one arch: CLANG_FLAGS when CC is clang (scripts/Makefile.clang)."""
    if "CLANG_FLAGS" in env or "clang" not in env.get("CC_VERSION_TEXT", ""):
        return {}
    srcarch = {"amd64": "x86"}.get(srcarch, srcarch)
    target = _CLANG_TARGETS.get(srcarch)
    if target is None:
        raise InputError(f"no clang target known for {srcarch}", hint=f"use {opt_value('toolchain', 'recorded')}")
    flags = [f"--target={target}"]
    if env.get("LLVM_IAS") == "0":
        cross = env.get("CROSS_COMPILE", "")
        elfedit = shutil.which(f"{cross}elfedit")
        flags += ["-fno-integrated-as",
                  f"--prefix={os.path.dirname(elfedit) + '/' if elfedit else ''}{os.path.basename(cross)}"]
    else:
        flags.append("-fintegrated-as")
    flags += ["-Werror=unknown-warning-option", "-Werror=ignored-optimization-argument",
              "-Werror=option-ignored", "-Werror=unused-command-line-argument"]
    return {"CLANG_FLAGS": " ".join(flags)}


def _make_shell(command: str, env: Mapping[str, str]) -> str:
    # make's $(shell ...): /bin/sh, trailing newline dropped, inner newlines to spaces
    out = subprocess.run(command, shell=True, check=False, capture_output=True, env=dict(env)).stdout
    return out.decode("utf-8", "replace").rstrip("\n").replace("\n", " ")


def pahole_version(pahole: str = "pahole", env: Mapping[str, str] | None = None) -> str:
    """As scripts/pahole-version.sh: "v1.25" -> 125, 0 when pahole is absent."""
    env = dict(os.environ if env is None else env)
    program = pahole.split()[0] if pahole.split() else ""
    if not program or shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        return "0"
    out = _make_shell(f"{pahole} --version", env)
    return re.sub(r"v([0-9]+)\.([0-9]+)", r"\1\2", out)


class HostShell:
    """Runs `$(shell,...)` like the kernel's conf: through /bin/sh, stdout kept."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}

    def __call__(self, command: str, kconf: kconfiglib.Kconfig) -> str:
        out = subprocess.run(command, check=False, shell=True, capture_output=True, env=self.env,
                             cwd=kconf.srctree or None).stdout.decode("utf-8", "replace")
        # preprocess.c: trailing newlines dropped, inner newlines become spaces
        return out.rstrip("\n").replace("\n", " ")


def bind_placeholders(kconf: kconfiglib.Kconfig, shell: RecordedShell) -> dict[str, kconfiglib.Symbol]:
    """Turn the placeholder names left in the parsed tree into evaluable symbols.

    Yes/no and version placeholders appear as (undefined) symbol references;
    text placeholders appear inside quoted defaults and are swapped for a symbol.
    """
    symbols: dict[str, kconfiglib.Symbol] = {}
    for name, probe in shell.probes.items():
        sym = kconf.syms.get(name)
        if sym is None:
            sym = kconfiglib.Symbol()
            sym.kconfig = kconf
            sym.name = name
            sym.is_constant = False
            sym.rev_dep = sym.weak_rev_dep = sym.direct_dep = kconf.n
        sym.orig_type = {"yes/no": BOOL, "version": INT, "text": STRING}[probe.kind]
        sym.direct_dep = kconf.y
        sym.defaults = [(kconf.y if probe.kind == "yes/no" else kconf._lookup_const_sym("0")
                         if probe.kind == "version" else kconf._lookup_const_sym(""), kconf.y)]
        symbols[name] = sym
        kconf.syms[name] = sym
    text_consts = {name for name, p in shell.probes.items() if p.kind == "text"}
    users: dict[str, list] = {name: [] for name in symbols}
    for sym in kconf.unique_defined_syms:
        new_defaults = []
        for value, cond in sym.defaults:
            if _is_text_const(value, text_consts):
                value = symbols[value.name]
            new_defaults.append((value, cond))
        sym.defaults = new_defaults
        for node in sym.nodes:
            node.defaults = [(symbols[v.name] if _is_text_const(v, text_consts) else v, c)
                             for v, c in node.defaults]
        for name in _referenced(sym, kconf):
            if name in users:
                users[name].append(sym)
    for name, syms in users.items():
        symbols[name]._dependents |= set(syms)
    kconf.talosnb_probe_users = {name: [s.name for s in syms] for name, syms in users.items()}
    return symbols


def _is_text_const(value: Any, text_consts: set[str]) -> bool:
    # `value` is any expression (Expr); only a Symbol is looked at further
    return value.__class__ is kconfiglib.Symbol and value.is_constant and value.name in text_consts


def _referenced(sym: kconfiglib.Symbol, kconf: kconfiglib.Kconfig) -> set[str]:
    names: set[str] = set()

    def walk(expr: Expr) -> None:
        for item in kconfiglib.expr_items(expr):
            if item.__class__ is kconfiglib.Symbol and item.name.startswith((PROBE_PREFIX, TC_PREFIX)):
                names.add(item.name)

    for value, cond in sym.defaults:
        walk(value)
        walk(cond)
    walk(sym.direct_dep)
    for node in sym.nodes:
        if node.prompt:
            walk(node.prompt[1])
        walk(node.dep)
    for _, _, cond in sym.ranges:
        walk(cond)
    walk(sym.rev_dep)
    walk(sym.weak_rev_dep)
    return names


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
        derived = _evaluate_expr(probe.command, numbers) if TC_PREFIX in probe.command else None
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


def _evaluate_expr(command: str, numbers: dict[str, str]) -> str | None:
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


# --- retargeting: the same config, as if made with another toolchain ---------

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
            value = _evaluate_expr(probe.command, numbers)
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
