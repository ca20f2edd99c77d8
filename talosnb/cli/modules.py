"""talosnb modules add|remove: edit hack/modules-ARCH.txt, checked against the config.

Entries keep upstream's order (each new one at its ``LC_ALL=C sort`` place, nothing
else moved); the list is written atomically and never over a file that changed on
disk since it was read (unless ``--force``). Exit codes: 2 when an ENTRY names
nothing (nothing is written), 1 when a list has errors after the edit, else 0.
"""

from __future__ import annotations

import argparse

import kconfiglib

from talosnb.analyses.modules import ListEdit, ModuleList, edit_module_list, findings_frame, looks_like_symbol
from talosnb.core.errors import FileChangedError, InputError

from .common import Result, common_options, context, open_session

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
        p.add_argument("--dry-run", action="store_true", help="print the diff and the check, write nothing")
        p.add_argument("--force", action="store_true", help="overwrite even if the file changed on disk")


def _check_symbols(session, entries: list[str]) -> None:
    """A symbol no selected arch's Kconfig defines is a typo (say so with "did you mean"); one
    that is not a tristate anywhere never builds a module, whatever its obj- lines name."""
    for item in (e.strip() for e in entries):
        if not looks_like_symbol(item):
            continue
        defined = [c for c in session.configs.values() if c.has_symbol(item)]
        if not defined:
            next(iter(session.configs.values())).symbol(item)  # raises, with "did you mean"
        types = {kconfiglib.TYPE_TO_STR[c.symbol(item).orig_type] for c in defined}
        if "tristate" not in types:
            name = item.removeprefix("CONFIG_")
            raise InputError(f"CONFIG_{name} is a {' or '.join(sorted(types))}: it is never built as a "
                             "module; nothing written",
                             hint="name the module (or its tristate symbol) to list instead")


def _refuse_names_nothing(edits: dict[str, ListEdit], entries: list[str]) -> None:
    for item in entries:
        reasons = {arch: edit.skipped[item] for arch, edit in edits.items() if item in edit.skipped}
        if len(reasons) < len(edits):
            continue
        if len(reasons) == 1:
            (error,) = reasons.values()
            raise InputError(f"{error.message}; nothing written", where=error.where, hint=error.hint)
        detail = "".join(f"\n  {arch}: {e.message}" + (f" ({e.hint})" if e.hint else "")
                         for arch, e in reasons.items())
        raise InputError(f"{item} names nothing on {' or '.join(reasons)}; nothing written{detail}")


def _report(edit: ListEdit, diff: str, *, written: bool, dry_run: bool) -> tuple[dict, str]:
    module_list = edit.module_list
    verb = "added" if edit.action == "add" else "removed"
    status = "dry run, nothing written" if dry_run else (f"written to {module_list.path}" if written
                                                          else "unchanged, nothing written")
    text = f"\nmodules-{edit.arch}.txt: {len(edit.changed)} {verb} ({status})\n"
    if edit.unchanged:
        text += f"  already listed: {', '.join(edit.unchanged)}\n"
    for error in edit.skipped.values():
        text += f"  not for {edit.arch}: {error.message}\n"
    text += diff
    for finding in edit.warnings:
        text += f"warning {edit.arch:5} {finding.kind:16} {finding.entry}: added anyway: {finding.message}\n"
    text += f"{len(edit.errors)} error(s) in modules-{edit.arch}.txt after the edit\n"
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
    session = open_session(args)
    session.require_talos()
    _check_symbols(session, args.entries)
    list_version = session.list_version()
    edits: dict[str, ListEdit] = {}
    for arch, config in session.configs.items():
        module_list = ModuleList.load(session.inputs.talos.module_list_path(arch), arch)
        kmap = session.kbuild_map(arch, progress=args.progress)
        edits[arch] = edit_module_list(module_list, args.modules_action, args.entries, kmap, config.written(),
                                       tree_version=session.tree_version, list_version=list_version)
    _refuse_names_nothing(edits, args.entries)
    if not args.dry_run and not args.force:
        # Check every file first, so one refusal doesn't leave the other arch's list written.
        for edit in edits.values():
            snapshot = edit.module_list.snapshot
            if edit.module_list.changed() and snapshot is not None and snapshot.changed_on_disk():
                raise FileChangedError("changed on disk since it was loaded; nothing written",
                                       where=str(edit.module_list.path),
                                       hint="run the command again to edit the new contents, or pass "
                                            "--force to overwrite them")
    payload, text = context(session)
    payload["lists"] = {}
    errors = 0
    for arch, edit in edits.items():
        diff = edit.module_list.diff()
        written = not args.dry_run and edit.module_list.changed() and edit.module_list.save(force=args.force)
        payload["lists"][arch], more = _report(edit, diff, written=written, dry_run=args.dry_run)
        text += more
        errors += len(edit.errors)
    payload["errors"] = errors
    return Result(payload, text, 1 if errors else 0)
