"""A Workspace in words: what is loaded, the files a save would write, and what it wrote (the text
the notebooks print and ``talosnb upgrade --write`` ends with)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from talosnb.app.session import NEEDS_KERNEL_AND_PKGS
from talosnb.core.errors import opt
from talosnb.core.versions import grouped

if TYPE_CHECKING:
    from talosnb.app.workspace import PendingFile, SaveResult, Workspace


def workspace_text(ws: Workspace) -> str:
    """One line saying what is loaded (no absolute paths, so it is the same on any machine), then a
    line per version check that disagrees."""
    inputs = ws.session.inputs
    assert inputs.kernel is not None, NEEDS_KERNEL_AND_PKGS
    origin = "the embedded sample" if inputs.sample else inputs.kernel.origin.name
    text = f"Linux {ws.session.tree_version} ({origin}); configs: {', '.join(ws.arches)}"
    text += "; module lists: " + (", ".join(ws.module_lists) if ws.module_lists else "none")
    if ws.extension_lists:
        text += f"; extension module lists: {len(ws.extension_lists)}"
    if inputs.patches is not None and inputs.patches.patches:
        text += f"; pkgs patches: {inputs.patches.summary()}"
    if ws.scratch is not None:
        text += "; saving writes to a scratch copy of the config and module-list files"
    for check in grouped(ws.session.version_checks()):
        text += f"\n{'WARNING' if check.kind == 'mismatch' else 'note'}: {check.message}"
    return text


def drop_warning_text(pending: PendingFile) -> str:
    """What a save of this config would drop (lines for symbols the tree doesn't define), and that
    it is refused without the override."""
    return (f"{len(pending.dropped)} line(s) name symbols this kernel tree doesn't define "
            f"(first: {pending.dropped[0]}); writing drops them, and a save is refused without "
            f"{opt('allow_drop')}; better use the tree the config was made for")


def pending_file_text(pending: PendingFile) -> str:
    """One file a save would write: its name and where it lives, how much changes, the lines."""
    if not pending.changed:
        return f"{pending.name} ({pending.label}): no change\n"
    count = (f"{len(pending.lines)} change(s)" if pending.kind == "config"
             else f"{sum(1 for ln in pending.lines if ln[:1] in '+-' and ln[:3] not in ('+++', '---'))} "
                  "line(s) added/removed")
    out = f"{pending.name} ({pending.label}): {count}\n"
    if pending.dropped:
        out += f"  WARNING: {drop_warning_text(pending)}\n"
    return out + "".join(f"  {ln}\n" for ln in pending.lines)


def pending_text(pending: Iterable[PendingFile]) -> str:
    """Every file a save would write (``Workspace.pending()``), changed or not."""
    return "".join(pending_file_text(p) for p in pending)


def save_text(result: SaveResult) -> str:
    """What a save wrote, where, and the commands that build it."""
    if not result.written:
        return "nothing to write: no pending change\n"
    out = "wrote " + ", ".join(f"{p.name} ({p.label})" for p in result.written) + "\n"
    out += "".join(f"  {p.path}\n" for p in result.written)
    if result.scratch is not None:
        out += f"(a scratch copy in {result.scratch}, removed when the workspace goes away)\n"
    return out + "\n" + result.command
