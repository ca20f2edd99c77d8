"""The upgrade report: every section per arch, as rows and DataFrames, and
:func:`upgrade_report`, which computes it from loaded objects."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from talosnb.kbuild import KbuildMap
from talosnb.kconfig.config import Config

from ..edit import Editor
from ..findings import LEVELS, Finding
from ..findings import findings_frame as generic_frame
from ..modules import ExtensionList, ModuleList
from .bump import Bump
from .choices import ChoiceGroup, ChoiceNotHonoured, FixBudget, choices_not_honoured, grouped
from .patches import patch_findings
from .rules import SECTIONS
from .successors import ModuleEdit, ModuleStatus, module_changes
from .symbols import NewSymbol, RemovedSymbol, new_symbols, removed_symbols
from .view import ArchView, ConfigLineAt

if TYPE_CHECKING:
    import pandas as pd

    from talosnb.inputs.patches import PatchReport


@dataclass
class ArchReport:
    """One arch's part of the report."""

    arch: str
    choices: list[ChoiceNotHonoured] = field(default_factory=list)
    new_symbols: list[NewSymbol] = field(default_factory=list)
    removed: list[RemovedSymbol] = field(default_factory=list)
    modules: list[ModuleStatus] = field(default_factory=list)
    module_findings: list[Finding] = field(default_factory=list)
    edits: list[ModuleEdit] = field(default_factory=list)
    config_changes: int = 0           # lines normalizing on the new tree changes in all


@dataclass
class UpgradeReport:
    """Everything a move to a new kernel changes, per arch, as data."""

    from_version: str | None          # the current tree (None: not loaded)
    config_version: str | None        # what the configs' headers say
    to_version: str
    arches: dict[str, ArchReport]
    patches: list[Finding] = field(default_factory=list)
    bump: Bump | None = None
    not_computed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)   # what was read, in words
    seconds: float = 0.0

    # --- rows ------------------------------------------------------------------
    def findings(self, section: str | None = None) -> list[Finding]:
        out: list[Finding] = []
        for report in self.arches.values():
            out += [c.finding for c in report.choices]
            out += [s.finding(self.to_version) for s in report.new_symbols]
            out += [r.finding(self.to_version) for r in report.removed]
            out += report.module_findings
        out += self.patches
        if self.bump is not None:
            out += self.bump.findings(self.to_version)
        return [f for f in out if section is None or f.details.get("section") == section]

    def errors(self) -> int:
        return sum(1 for f in self.findings() if f.level == "error")

    def choices(self) -> list[ChoiceNotHonoured]:
        return [c for report in self.arches.values() for c in report.choices]

    def choice_items(self) -> list[ChoiceNotHonoured | ChoiceGroup]:
        """The choices not honoured as a person reads them: the lines of an arch that share a cause
        as one :class:`ChoiceGroup`."""
        return grouped(self.choices())

    def choice_groups(self) -> list[ChoiceGroup]:
        return [c for c in self.choice_items() if isinstance(c, ChoiceGroup)]

    def edits(self) -> list[ModuleEdit]:
        return [e for report in self.arches.values() for e in report.edits]

    def counts(self) -> dict[str, dict[str, int]]:
        """section -> level -> number of findings."""
        out = {s: dict.fromkeys(LEVELS, 0) for s in SECTIONS}
        for f in self.findings():
            out[f.details["section"]][f.level] += 1
        return out

    # --- frames ------------------------------------------------------------------
    def findings_frame(self, section: str | None = None) -> pd.DataFrame:
        """Every finding as a row, with its section (and ``menu`` for new symbols) as columns."""
        frame = generic_frame(self.findings(section), details=("section", "menu"))
        return frame

    def choices_frame(self) -> pd.DataFrame:
        import pandas as pd
        rows = [{"arch": c.finding.arch, "level": c.finding.level, "kind": c.finding.kind, "symbol": c.symbol,
                 "old": c.finding.details.get("old"), "new": c.finding.details.get("new"),
                 "set_by_config": c.finding.details.get("set_by_config"),
                 "current_tree_too": c.finding.details.get("current_tree_too"),
                 "where": c.finding.where, "defined_at": c.finding.details.get("defined_at"),
                 "message": c.finding.message, "fix": c.finding.fix} for c in self.choices()]
        return pd.DataFrame(rows, columns=["arch", "level", "kind", "symbol", "old", "new", "set_by_config",
                                           "current_tree_too", "where", "defined_at", "message", "fix"],
                            dtype=object)

    def new_symbols_frame(self) -> pd.DataFrame:
        """New symbols side by side: one row per symbol, the value on each arch (empty where it
        is not new there), grouped by top-level menu."""
        import pandas as pd
        arches = list(self.arches)
        rows: dict[str, dict] = {}
        for arch, report in self.arches.items():
            for s in report.new_symbols:
                row = rows.setdefault(s.symbol, {"symbol": s.symbol, "type": s.type, "menu": s.menu,
                                                 "menu_path": s.menu_path, "prompt": s.prompt, "where": s.where,
                                                 "changes_kernel": False, "builds": "", "help": s.help,
                                                 "renamed_from": ", ".join(f"CONFIG_{n}" for n in s.renamed_from),
                                                 **{a: None for a in arches}})
                row[arch] = s.value
                row["changes_kernel"] = row["changes_kernel"] or s.changes_kernel
                row["builds"] = ", ".join(dict.fromkeys([*filter(None, row["builds"].split(", ")), *s.modules]))
        columns = ["menu", "symbol", *arches, "changes_kernel", "builds", "renamed_from", "type", "prompt",
                   "menu_path", "where", "help"]
        frame = pd.DataFrame(list(rows.values()), columns=columns, dtype=object)
        if not frame.empty:
            frame = frame.sort_values(["menu", "symbol"], kind="stable").reset_index(drop=True)
        return frame

    def removed_frame(self) -> pd.DataFrame:
        import pandas as pd
        rows = [{"arch": r.arch, "symbol": r.symbol, "value": r.value, "where": r.where,
                 "set_by_config": r.set_by_config, "replaced_by": ", ".join(r.replaced_by), "how": r.how}
                for report in self.arches.values() for r in report.removed]
        return pd.DataFrame(rows, columns=["arch", "symbol", "value", "where", "set_by_config", "replaced_by",
                                           "how"], dtype=object)

    def modules_frame(self) -> pd.DataFrame:
        import pandas as pd
        rows = [{"arch": m.arch, "entry": m.entry, "status": m.status, "new": ", ".join(m.new_entries),
                 "symbols": ", ".join(m.symbols), "where": m.where, "detail": m.detail}
                for report in self.arches.values() for m in report.modules]
        return pd.DataFrame(rows, columns=["arch", "entry", "status", "new", "symbols", "where", "detail"],
                            dtype=object)

    def edits_frame(self) -> pd.DataFrame:
        import pandas as pd
        rows = [e.as_dict() | {"remove": ", ".join(e.remove), "add": ", ".join(e.add)} for e in self.edits()]
        return pd.DataFrame(rows, columns=["key", "arch", "kind", "entry", "remove", "add", "reason"], dtype=object)


# what the upgrade changes in an extension's list: a successor taken over (an entry that is no longer
# built is reported, not dropped: the extension may ship it for another kernel or arch)
EXTENSION_EDITS = ("moved", "renamed", "split")


def upgrade_report(new: Mapping[str, Config], *, old: Mapping[str, Config] | None = None,
                   new_kbuild: Mapping[str, KbuildMap] | None = None,
                   old_kbuild: Mapping[str, KbuildMap] | None = None,
                   module_lists: Mapping[str, ModuleList] | None = None, patches: PatchReport | None = None,
                   bump_info: Bump | None = None, not_computed: Sequence[str] = (), notes: Sequence[str] = (),
                   fixes: bool = True, fix_seconds: float = 1.0, editors: Mapping[str, Editor] | None = None,
                   config_labels: Mapping[str, str] | None = None, list_labels: Mapping[str, str] | None = None,
                   inputs: Sequence[str] = (), extension_lists: Sequence[ExtensionList] = ()) -> UpgradeReport:
    """The whole report from loaded objects: per arch the config on the new tree (``new``) and,
    when there, on the current tree (``old``), both trees' Kbuild maps and the module lists;
    the pkgs patches on the new tree (a PatchReport) and the Pkgfile bump. Missing inputs
    leave their parts out, and ``not_computed`` says which. ``fix_seconds`` bounds the
    verified-fix search over the whole report (beyond it, lines keep their why-not tree).
    ``config_labels``/``list_labels`` (arch -> name) name the files in file:line; ``inputs``
    says in words what was read. ``extension_lists``: the system extensions' lists, whose entries
    moved, renamed or split on the new tree are proposed as edits too (one per list file: a
    files/modules.txt both arches ship is edited as its first arch says); what they leave unbuilt
    is reported, and left to the extension's maintainer to drop."""
    start = time.perf_counter()
    arches = list(new)
    to_version = new[arches[0]].tree.version
    config_version = next((c.recorded_version for c in new.values() if c.recorded_version), None)
    from_version = next(iter(old.values())).tree.version if old else None
    report = UpgradeReport(from_version, config_version, to_version, {}, not_computed=list(not_computed),
                           notes=list(notes), inputs=list(inputs))
    budget = FixBudget(fix_seconds, per_fix=max(0.05, fix_seconds / 4), candidates=40)
    for arch in arches:
        view = ArchView(new[arch], (old or {}).get(arch), source=(config_labels or {}).get(arch))
        part = ArchReport(arch)
        part.choices = choices_not_honoured(view, fixes=fixes, editor=(editors or {}).get(arch), budget=budget)
        kmap = (new_kbuild or {}).get(arch)
        part.new_symbols = new_symbols(view, kmap)
        part.removed = removed_symbols(view)
        if module_lists and arch in module_lists and kmap is not None:
            behind = {c.symbol: c.finding.message for c in part.choices if c.finding.level != "info"}
            part.modules, part.module_findings, part.edits = module_changes(
                module_lists[arch], view, kmap, old_kbuild=(old_kbuild or {}).get(arch), not_honoured=behind,
                label=(list_labels or {}).get(arch))
        if kmap is not None:
            behind = {c.symbol: c.finding.message for c in part.choices if c.finding.level != "info"}
            for ext in extension_lists:
                if arch not in ext.arches:
                    continue
                statuses, found, edits = module_changes(
                    ext.module_list, view, kmap, old_kbuild=(old_kbuild or {}).get(arch), not_honoured=behind,
                    label=ext.file_name, list_id=ext.list_id, file_name=ext.file_name, newly_built=False)
                part.modules += [m for m in statuses if m.status not in ("unchanged", "metadata")]
                part.module_findings += found
                first = next(a for a in ext.arches if a in new)
                part.edits += [e for e in edits if e.kind in EXTENSION_EDITS and arch == first]
        part.config_changes = sum(1 for name in view.lines.keys() | view.written.keys()
                                  if view.lines.get(name, ConfigLineAt(name, "", "")).value
                                  != view.written.get(name, ""))
        report.arches[arch] = part
    if fixes and budget.skipped:
        report.notes.append(f"the verified-fix search stopped after {fix_seconds:.1f} s: {budget.skipped} "
                            "line(s) show their why-not tree only (talosnb why SYMBOL=VALUE searches one)")
    if patches is not None:
        report.patches = patch_findings(patches, to_version)
    report.bump = bump_info
    report.seconds = time.perf_counter() - start
    return report
