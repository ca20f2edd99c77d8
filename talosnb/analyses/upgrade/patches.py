"""The pkgs patches on the new tree, as findings: applies, already upstream, partly upstream, fails."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..findings import Finding
from .rules import section_finding

if TYPE_CHECKING:

    from talosnb.inputs.patches import PatchReport


def patch_findings(report: PatchReport, to_version: str) -> list[Finding]:
    """Each pkgs patch on the new tree (a :class:`talosnb.inputs.patches.PatchReport`)."""
    out = []
    kinds = {"applied": "patch-applies", "upstream": "patch-upstream", "partly-upstream": "patch-partly-upstream",
             "failed": "patch-fails", "skipped": "patch-skipped"}
    for patch in report.patches:
        notes = []
        if patch.skipped_hunks:
            notes.append(f"{patch.skipped_hunks} hunk(s) for files Kconfig/Kbuild don't read not checked")
        notes += [n for n in patch.notes if " with fuzz " in n]
        extra = f" ({'; '.join(notes)})" if notes else ""
        where = patch.where or str(report.patches_dir / patch.name)
        out.append(section_finding("patches", kinds.get(patch.status, "patch-applies"), "all", patch.name, where=where,
                            to_version=to_version, extra=extra, problem=patch.problem or "",
                            files=", ".join(patch.upstream),
                            details={"status": patch.status, "applied_files": ", ".join(patch.applied),
                                     "upstream_files": ", ".join(patch.upstream),
                                     "failed_files": ", ".join(patch.failed)}))
    return out
