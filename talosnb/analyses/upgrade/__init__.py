"""Moving a Talos config and its module lists to a new kernel, with everything that changes explained.

A kernel bump changes what ``make olddefconfig`` writes from the same config, and
which ``.ko`` files the module lists may name. This module works it out from loaded
objects — the config loaded against the new tree (and, when it can be had, against
the tree the checkout uses now), both trees' Kbuild maps, the module lists, the
pkgs patches and the Pkgfile — and states it as data:

- **choices not honoured**: every line the config sets (a visible symbol's value, or
  ``is not set``) that the new tree writes differently, with the reason as a why-not
  tree with ``file:line`` in the new tree (removed; renamed, read from the new
  tree's ``transitional`` symbols; a choice member gone; a new dependency unmet; a
  range changed) and a verified fix where one exists; lines of an arch with one
  cause (the same root in their trees) are also one :class:`ChoiceGroup`. A bump
  breaks these silently.
- **new symbols**: visible in the new tree with no line in the config, as the
  kernel's ``conf --listnewconfig`` lists them (``check_conf`` in
  scripts/kconfig/conf.c), with the value olddefconfig gives, prompt, help, menu;
- **removed symbols**: config lines the new tree doesn't define;
- **module lists**: each listed ``.ko`` against the new tree's Kbuild map
  (unchanged, moved, renamed, split, gone, not built), the newly built ``=m``
  modules, and a proposed edit that keeps upstream's ``LC_ALL=C`` order;
- **patches**: each pkgs patch on the new tree (applies, already upstream, fails);
- **the bump**: the Pkgfile's ``linux_version``/``linux_sha256``/``linux_sha512``.

Everything is a :class:`~talosnb.analyses.findings.Finding` row (rules as data in
:data:`RULES`, section in ``details["section"]``), plus DataFrames for notebooks.
What can't be computed (no current tree, no module lists) is said in
:attr:`UpgradeReport.not_computed`, never guessed.

The package, one file per concern, read in this order:

- ``rules``: the sections, their titles and :data:`RULES` (every message and fix);
- ``view``: :class:`ArchView`, one arch's config on both trees, read once for every section;
- ``choices``: choices not honoured, with why-not trees and verified fixes;
- ``symbols``: new and removed symbols;
- ``successors``: the module lists on the new tree and the proposed edits;
- ``patches`` and ``bump``: the pkgs patches and the Pkgfile;
- ``report``: :class:`UpgradeReport` and :func:`upgrade_report`, which puts them together.

Every public name is importable from ``talosnb.analyses.upgrade`` itself.
"""

from .bump import Bump, bump
from .choices import ChoiceGroup, ChoiceNotHonoured, choices_not_honoured, grouped, shorten
from .patches import patch_findings
from .report import ArchReport, UpgradeReport, upgrade_report
from .rules import RULES, SECTION_TITLES, SECTIONS
from .successors import (
    ModuleEdit,
    ModuleStatus,
    apply_edits,
    module_changes,
    modules_built_fast,
    proposed_list,
)
from .symbols import NewSymbol, RemovedSymbol, new_symbol_names, new_symbols, removed_symbols
from .view import ArchView, ConfigLineAt, config_lines, transitional_successors

__all__ = [
    "RULES", "SECTIONS", "SECTION_TITLES", "ArchReport", "ArchView", "Bump", "ChoiceGroup", "ChoiceNotHonoured", "ConfigLineAt",
    "ModuleEdit", "ModuleStatus", "NewSymbol", "RemovedSymbol", "UpgradeReport", "apply_edits", "bump",
    "choices_not_honoured", "config_lines", "grouped", "module_changes", "modules_built_fast", "new_symbol_names",
    "new_symbols", "patch_findings", "proposed_list", "removed_symbols", "shorten", "transitional_successors",
    "upgrade_report",
]
