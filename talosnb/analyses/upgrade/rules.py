"""The upgrade report's sections and its rules as data: every message and fix of every section on one
screen, and the config line as conf writes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from talosnb.core import dotconfig

from ..findings import Finding, Rule, render, rule_table

SECTIONS = ("choices", "new", "removed", "modules", "patches", "bump")

SECTION_TITLES = {
    "choices": "Choices not honoured",
    "new": "New symbols",
    "removed": "Removed symbols",
    "modules": "Module lists",
    "patches": "Patches",
    "bump": "The bump",
}

RULES: dict[str, Rule] = rule_table(
    # --- choices not honoured: a line the config sets that the new tree writes differently
    Rule("removed", "error",
         "{line}: the {to_version} tree doesn't define {symbol}, so the line is dropped{replacement_text}",
         "{fix_text}"),
    Rule("renamed", "warning",
         "{line}: {symbol} is transitional in {to_version} ({transitional_at}), renamed to "
         "{renamed_to}; {carried_text}",
         "{fix_text}"),
    Rule("choice", "error", "{line} can't be kept: {reason}", "{fix_text}"),
    Rule("choice-pick", "error", "{line} becomes {new_line}: {reason}", "{fix_text}"),
    Rule("choice-member-gone", "error",
         "{line} becomes CONFIG_{symbol}=y: the config's selection of this choice, CONFIG_{old_selection}, "
         "is not in {to_version}; {symbol} is the choice's pick now ({choice_at})",
         "{fix_text}"),
    Rule("dependency", "error", "{line} can't be kept: {reason}", "{fix_text}"),
    Rule("range", "error", "{line} can't be kept: {reason}", "{fix_text}"),
    Rule("raised", "warning", "{line} becomes {new_line}: {reason}", "{fix_text}"),
    Rule("type", "warning", "{line} becomes {new_line}: {symbol} is a {new_type} in {to_version}", None),
    Rule("value", "warning", "{line} becomes {new_line}: {reason}", "{fix_text}"),
    Rule("hidden", "info", "{line} is no longer written (the value stays n): {reason}", None),
    # --- removed symbols: every config line the new tree doesn't define
    Rule("removed-symbol", "info",
         "{line}: not defined in {to_version}; writing drops the line{replacement_text}", None),
    # --- new symbols: visible in the new tree, no line in the config (conf --listnewconfig)
    Rule("new-symbol", "info", "CONFIG_{symbol}={value} is new in {to_version}: {prompt}", None),
    # --- module lists
    Rule("module-moved", "warning", "{entry} is at {new_entry} in {to_version}{how}",
         "replace {entry} with {new_entry} in {module_list_name}"),
    Rule("module-renamed", "warning",
         "{entry}: CONFIG_{symbol} builds {new_entry} in {to_version} instead{how}", "{edit_text}"),
    Rule("module-split", "warning",
         "{entry}: CONFIG_{symbol} now also builds {new_entries}{how}", "add {new_entries} to {module_list_name}"),
    Rule("module-needs", "warning",
         "{entry} is newly built as a module on {to_version}, and listed modules need it: {how}",
         "add {entry} to {module_list_name}"),
    Rule("module-gone", "error", "{entry} is not in {to_version}: {fate}", "drop {entry} from {module_list_name}"),
    Rule("module-not-built", "error", "{entry} is not built as a module on {to_version}: {reason}",
         "{fix_text}"),
    Rule("module-unknown", "warning",
         "{entry} is not in the {to_version} tree; without the current tree it can't tell whether it was "
         "renamed, split or dropped{suggestion}", "drop {entry} from {module_list_name}, or list its successor"),
    Rule("module-new", "info",
         "{entry} is newly built as a module on {to_version} (CONFIG_{symbol}=m), not in {module_list_name}",
         None),
    # --- patches
    Rule("patch-applies", "info", "{entry} applies to {to_version}{extra}", None),
    Rule("patch-upstream", "warning",
         "{entry}: its Kconfig/Kbuild changes are already in {to_version} (they apply reversed){extra}",
         "drop {entry} from kernel/build/patches once its other changes are upstream too: the build's "
         "patch -p1 fails on a patch already applied"),
    Rule("patch-partly-upstream", "warning",
         "{entry}: part of it is already in {to_version}: {files}{extra}",
         "drop the parts already upstream from {entry}"),
    Rule("patch-fails", "error", "{entry} does not apply to {to_version}: {problem}",
         "rebase {entry} onto {to_version}, or drop it"),
    Rule("patch-skipped", "info",
         "{entry} changes no Kconfig/Kbuild file; its other hunks can't be checked on a Kconfig tree{extra}", None),
    # --- the bump
    Rule("bump", "info", "Pkgfile {key}: {old} -> {new}", None),
    Rule("bump-no-hashes", "warning",
         "the Pkgfile's linux_sha256/linux_sha512 for {to_version} are unknown: {why}",
         "pass --sha256 and --sha512 (kernel.org's sha256sums.asc), or kernel.org's linux-{to_version} tarball "
         "as --to-kernel-src"),
)


def section_finding(section: str, kind: str, arch: str, entry: str | None, *, details: Mapping[str, Any] | None = None,
             **kwargs: Any) -> Finding:
    return render(RULES, kind, arch, entry, details={"section": section, **(details or {})}, **kwargs)


def line_text(symbol: str, value: str | None) -> str:
    """A config line as conf writes it (value as written: strings quoted, 'n' for not set)."""
    return f"({dotconfig.no_line(symbol)})" if value is None else dotconfig.format_line(symbol, value)
