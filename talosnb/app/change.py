"""The change report of a loaded session against its base: a git ref of the checkouts, or folders.

The head is what the session loaded (the checkouts on disk, uncommitted edits
included). The base is read from git (``git cat-file`` of the merge base of the
ref and HEAD, written to a scratch folder that is removed once loaded) or from
folders laid out like the checkouts; it is loaded against the head's kernel
tree, so both sides are judged by the same Kconfig and Kbuild files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talosnb.analyses.change import ChangeReport, session_change_report
from talosnb.analyses.history import HistoryIndex, build_index, is_git_checkout
from talosnb.core import layout
from talosnb.core.errors import InputError, opt
from talosnb.inputs.gitrefs import PKGS_FILES, TALOS_FILES, checkout_at

from .session import NEEDS_KERNEL_AND_PKGS, Session

if TYPE_CHECKING:
    from talosnb.analyses.hardware import Device
    from talosnb.kbuild.devices import DeviceIndex

BASE_PREFIX = "talosnb-base-"


def _arch_option(session: Session) -> str:
    arches = list(session.configs)
    return arches[0] if len(arches) == 1 else "all"


def change_report_for(head: Session, *, base: str | None = None, base_pkgs: str | os.PathLike | None = None,
                      base_talos: str | os.PathLike | None = None, history: bool = True,
                      devices: Sequence[Device] = (), device_index: DeviceIndex | None = None) -> ChangeReport:
    """The change from the base (``base``, a git ref of the head's checkouts, or the folders
    ``base_pkgs``/``base_talos``) to the head session, per arch.

    ``history``: when the pkgs checkout is a git clone, say when each changed line
    last changed before the base (from the history index, cached by commit).
    ``devices`` (a hardware capture): name those whose support the change moves; their ID tables
    come from the head's kernel source (the full source: a skeleton says it has no C files), or
    ``device_index`` when one is loaded already.
    """
    _check_base(head, base, base_pkgs, base_talos)
    lookup: dict[str, Any] = {}
    if devices:
        from talosnb.kbuild.devices import load_device_index

        kernel = head.inputs.kernel
        assert kernel is not None, NEEDS_KERNEL_AND_PKGS
        lookup = {"devices": devices,
                  "device_index": device_index or load_device_index(kernel.origin, kernel.version)}
    if base is not None:
        return _change_from_ref(head, base, history=history, lookup=lookup)
    assert head.inputs.kernel is not None, NEEDS_KERNEL_AND_PKGS
    base_session = Session.open(base_pkgs, base_talos, head.inputs.kernel.path, arch=_arch_option(head),
                                toolchain=head.toolchain)
    inputs = base_session.inputs
    assert inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
    index: HistoryIndex | None = None
    if history and is_git_checkout(inputs.pkgs.path):
        index = build_index(inputs.pkgs.path, arches=list(head.configs))
    label = str(inputs.pkgs.path) + (f" and {inputs.talos.path}" if inputs.talos else "")
    return session_change_report(base_session, head, base_label=label, head_label=_head_label(head), history=index,
                                 **lookup)


def _check_base(head: Session, base: str | None, base_pkgs: str | os.PathLike | None,
                base_talos: str | os.PathLike | None) -> None:
    if (base is None) == (base_pkgs is None):
        raise InputError("give the base of the change: a git ref, or a base pkgs folder (not both)",
                         hint=f"{opt('base')} (e.g. origin/main), or {opt('base_pkgs')} with {opt('base_talos')}")
    if head.inputs.sample and base is not None:
        raise InputError("the embedded sample has no git history to take a base from",
                         hint=f"give git checkouts ({opt('pkgs')}, {opt('talos')}), or the base as folders "
                              f"({opt('base_pkgs')})")
    if base_talos is not None and base_pkgs is None:
        raise InputError("a base talos folder needs a base pkgs folder too", hint=f"add {opt('base_pkgs')}")


def _change_from_ref(head: Session, base: str, *, history: bool, lookup: dict[str, Any]) -> ChangeReport:
    """The change from the head's checkouts at git ref `base` (checked out in a scratch folder)."""
    assert head.inputs.kernel is not None and head.inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
    scratch = Path(tempfile.mkdtemp(prefix=BASE_PREFIX))
    try:
        pkgs = checkout_at(head.inputs.pkgs.path, base, scratch / "pkgs", PKGS_FILES,
                           what="pkgs checkout", option=opt("pkgs"))
        talos = None
        if head.inputs.talos is not None:
            talos = checkout_at(head.inputs.talos.path, base, scratch / "talos", TALOS_FILES,
                                what="talos checkout", option=opt("talos"))
        base_session = Session.open(pkgs.folder, talos.folder if talos else None, head.inputs.kernel.path,
                                    arch=_arch_option(head), toolchain=head.toolchain)
        base_label = f"{pkgs.label} of {head.inputs.pkgs.path}"
        if talos is not None and talos.checkout.root != pkgs.checkout.root:
            assert head.inputs.talos is not None   # talos was checked out from it
            base_label += f" and {talos.label} of {head.inputs.talos.path}"
        index = build_index(head.inputs.pkgs.path, rev=pkgs.commit, arches=list(head.configs)) if history else None
        report = session_change_report(base_session, head, base_label=base_label, head_label=_head_label(head),
                                       history=index, **lookup)
        for name, one in report.arches.items():
            one.base_source = f"{base}:{pkgs.checkout.repo_path(layout.config_file(name))}"
        # the scratch folder is gone once this returns: name the files as git does, REF:path
        renames = [(str(pkgs.folder) + "/", f"{base}:{pkgs.checkout.prefix}")]
        if talos is not None:
            renames.append((str(talos.folder) + "/", f"{base}:{talos.checkout.prefix}"))
        for i, note in enumerate(report.notes):
            for old, new in renames:
                note = note.replace(old, new)
            report.notes[i] = note
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _head_label(head: Session) -> str:
    if head.inputs.sample:
        return "the embedded sample"
    assert head.inputs.pkgs is not None, NEEDS_KERNEL_AND_PKGS
    label = str(head.inputs.pkgs.path)
    if head.inputs.talos is not None:
        label += f" and {head.inputs.talos.path}"
    return label


__all__ = ["change_report_for"]
