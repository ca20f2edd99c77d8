"""talosnb modules add|remove: edit hack/modules-ARCH.txt, checked against the config.

Entries keep upstream's order (each new one at its ``LC_ALL=C sort`` place, nothing
else moved); the list is written atomically and never over a file that changed on
disk since it was read (unless ``--force``). Exit codes: 2 when an ENTRY names
nothing (nothing is written), 1 when a list has errors after the edit, else 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from talosnb.analyses.modules import ListEdit, findings_frame
from talosnb.app.plan import Request
from talosnb.core import layout

from .common import (
    ExitStatus,
    Result,
    common_options,
    context,
    follow_symlinks_option,
    open_workspace,
    plan_options,
)

ENTRY_HELP = ("a .ko path as listed (kernel/drivers/block/nbd.ko), a module name (nbd) or a Kconfig "
              "symbol (BLK_DEV_NBD or CONFIG_BLK_DEV_NBD: the modules it builds)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Edit the talos module lists. Entries keep upstream's order: each new one goes to its "
                          "LC_ALL=C sort place, nothing else moves. Prints the diff and the list's errors after "
                          "the edit; exits 1 when a list has errors, 2 when an ENTRY names nothing (then nothing "
                          "is written).")
    actions = parser.add_subparsers(dest="modules_action", metavar="ACTION", required=True)
    for action, words in (("add", "add entries (one the config doesn't build as =m is added, with a warning)"),
                          ("remove", "remove listed entries")):
        p = actions.add_parser(action, help=words, description=f"{words[0].upper()}{words[1:]}. "
                                                                f"ENTRY: {ENTRY_HELP}.")
        common_options(p)
        p.add_argument("entries", nargs="+", metavar="ENTRY", help=ENTRY_HELP)
        p.add_argument("--list", metavar="LIST", default="talos",
                       help="the list to edit: talos (hack/modules-ARCH.txt, the default) or an extension's, "
                            "extensions/NAME (e.g. extensions/drivers/usb-modem; needs --extensions)")
        p.add_argument("--dry-run", action="store_true", help="print the diff and the check, write nothing")
        p.add_argument("--force", action="store_true", help="overwrite even if the file changed on disk")
        follow_symlinks_option(p)


def _report(edit: ListEdit, diff: str, *, written: bool, dry_run: bool, name: str) -> tuple[dict, str]:
    module_list = edit.module_list
    verb = "added" if edit.action == "add" else "removed"
    status = "dry run, nothing written" if dry_run else (f"written to {module_list.path}" if written
                                                          else "unchanged, nothing written")
    text = f"\n{name}: {len(edit.changed)} {verb} ({status})\n"
    if edit.unchanged:
        text += f"  already listed: {', '.join(edit.unchanged)}\n"
    for error in edit.skipped.values():
        text += f"  not for {edit.arch}: {error.message}\n"
    text += diff
    for finding in edit.warnings:
        text += f"warning {edit.arch:5} {finding.kind:16} {finding.entry}: added anyway: {finding.message}\n"
    text += f"{len(edit.errors)} error(s) in {name} after the edit\n"
    row: Any   # pandas-stubs types itertuples() fields as any scalar: here the findings' str columns
    for row in findings_frame(edit.errors).itertuples():
        text += f"{row.level:7} {row.arch:5} {row.kind:16} {row.entry or ''}: {row.message}\n"
        if row.fix:
            text += f"        fix: {row.fix}\n"
    payload = {
        "file": str(module_list.path), "action": edit.action, verb: edit.changed,
        "already_listed": edit.unchanged, "written": written, "dry_run": dry_run,
        "skipped": [{"entry": item, "reason": str(e)} for item, e in edit.skipped.items()],
        "diff": diff,
        "warnings": findings_frame(edit.warnings).to_dict(orient="records"),
        "errors": findings_frame(edit.errors).to_dict(orient="records"),
    }
    return payload, text


def run(args: argparse.Namespace) -> Result:
    ws = open_workspace(args)
    extension = args.list not in (None, "talos")
    if extension:
        ws.extension_list(args.list)      # named: it must be there
    else:
        ws.session.require_talos()
    for arch in ws.arches:
        if not extension:
            ws.module_list(arch)          # each selected arch's list must be there
        ws.session.kbuild_map(arch, progress=args.progress)
    request = Request("modules", module_action=args.modules_action, module_entries=tuple(args.entries),
                      list_id=args.list, write=True, dry_run=args.dry_run)
    plan = ws.propose(request, plan_options(args))
    edits = plan.list_edits
    names = {arch: ws.extension_of(edit.module_list).file_name if extension else layout.module_list_name(arch)
             for arch, edit in edits.items()}
    diffs = {arch: edit.module_list.diff() for arch, edit in edits.items()}
    saved = set()
    if not args.dry_run:
        result = ws.commit(plan)
        saved = {p.arch for p in result.written} if result is not None else set()
    payload, text = context(ws.session)
    payload["lists"] = {}
    errors = 0
    for arch, edit in edits.items():
        payload["lists"][arch], more = _report(edit, diffs[arch], written=arch in saved, dry_run=args.dry_run,
                                               name=names[arch])
        text += more
        errors += len(edit.errors)
    payload["errors"] = errors
    return Result(payload, text, ExitStatus.FINDINGS if errors else ExitStatus.OK)
