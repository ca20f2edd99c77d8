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
"

The package goes by phase: ``shells`` (parse time: the shells a tree is parsed through, and the
placeholders bound then), ``answers`` (load time: each config's answers) and ``retarget`` (edit
time: answers re-recorded). Every public name is importable from ``talosnb.kconfig.toolchain``.
"""

from .answers import ProbeAnswer, solve_placeholders
from .retarget import ProbeChange, require_recorded, retarget, set_probe_answers, toolchain_symbols
from .shells import (
    CC_ORIGIN,
    TEXT_VARIABLES,
    TOOL_VARIABLES,
    HostShell,
    Probe,
    RecordedShell,
    arch_env,
    bind_placeholders,
    host_env,
    llvm_hint,
    llvm_tools,
    opt_value,
    pahole_version,
    recorded_env,
)

__all__ = [
    "CC_ORIGIN", "TEXT_VARIABLES", "TOOL_VARIABLES", "HostShell", "Probe", "ProbeAnswer", "ProbeChange",
    "RecordedShell", "arch_env", "bind_placeholders", "host_env", "llvm_hint", "llvm_tools", "opt_value",
    "pahole_version", "recorded_env", "require_recorded", "retarget", "set_probe_answers", "solve_placeholders",
    "toolchain_symbols",
]
