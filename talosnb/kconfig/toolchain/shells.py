"""Parse time: the shells Kconfig's ``$(shell,...)`` runs through while a tree is parsed.

Recorded mode (:class:`RecordedShell`) runs nothing: each probe becomes a placeholder symbol
(:func:`bind_placeholders`); host mode (:class:`HostShell`) runs the commands with the
toolchain the top Makefile would take (:func:`host_env`, :func:`arch_env`). Only this phase
shapes a parsed tree, so only this file keys the tree cache."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kconfiglib
from kconfiglib import BOOL, INT, STRING

from talosnb.core.errors import InputError, opt
from talosnb.core.names import PROBE_PREFIX, TC_PREFIX

from ..types import Expr

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
