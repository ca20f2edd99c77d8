"""talosnb set: assignments applied as one batch with the kernel's semantics, written, explained."""

from __future__ import annotations

import argparse

from talosnb.analyses import edit
from talosnb.analyses.edit import parse_assignment
from talosnb.core.errors import TalosnbError

from .common import Result, common_options, context, open_session, write_options
from .edits import (
    ModuleListGuard,
    fix_notes,
    new_modules,
    normalize_drift,
    payload_changes,
    refusing_drops,
    save_modules,
    undo_dry_run,
    write_all,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Apply the assignments as one batch, exactly as merging them into the .config and running "
                     "`make olddefconfig` would, and write config-ARCH. If any assignment can't take effect on an "
                     "arch, nothing is written; the reason is shown as a tree of unmet conditions with file:line, "
                     "with a fix verified on a copy. Exit 1 on refusal.")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples:\n  talosnb set BLK_DEV_NBD=m\n  talosnb set --arch arm64 CONFIG_NR_CPUS=512 "
                "'LOCALVERSION=\"-talos\"'\n  talosnb set --dry-run DEBUG_INFO_BTF=n")
    common_options(p)
    p.add_argument("assignments", nargs="+", metavar="SYMBOL=VALUE")
    write_options(p)
    p.add_argument("--no-fix", action="store_true", help="on refusal, don't search for a verified fix")
    p.add_argument("--add-to-module-list", action="store_true",
                   help="add the .ko files the new =m symbols build to hack/modules-ARCH.txt (needs --talos)")
    p.add_argument("--ignore-module-list", action="store_true",
                   help="write even if the change breaks the module list (a listed .ko no longer built as =m)")


def run(args: argparse.Namespace) -> Result:

    assignments = [parse_assignment(a, where=f"argument {i}") for i, a in enumerate(args.assignments, 1)]
    session = open_session(args)
    if args.add_to_module_list and session.inputs.talos is None:
        raise TalosnbError("--add-to-module-list needs a talos checkout; nothing was written",
                           hint="pass --talos (a siderolabs/talos checkout) or set TALOSNB_TALOS")
    drops = refusing_drops(session)
    checker = ModuleListGuard(session)
    drift = normalize_drift(session)
    # applied in memory (dry run or not), so the module-list check sees the result; undone for --dry-run
    changes = edit.set_symbols(session, assignments, mode="set", fix=not args.no_fix, atomic=True)
    refused = any(c.refusals for c in changes.values())
    broken = [] if refused else checker.new_errors()
    if args.dry_run and not refused:
        undo_dry_run(session, changes)
    blocked = None
    if refused:
        blocked = "an assignment can't take effect (see above)"
    elif broken and not args.ignore_module_list:
        blocked = ("hack/modules-ARCH.txt lists modules this change stops building as =m; remove them first "
                   "(talosnb modules remove ...) or pass --ignore-module-list")
    elif drops and not args.allow_drop:
        blocked = drops
    payload, text = context(session)
    modules, written = {}, {arch: False for arch in changes}
    if not blocked and not args.dry_run:
        modules = new_modules(session, changes, args)   # checks the lists before anything is written
        written = write_all(session, changes, args)
        save_modules(modules, args)
    elif not refused:
        modules = new_modules(session, changes, args, preview=True)
    payload.update({"changes": payload_changes(changes), "written": written, "refused": refused,
                    "modules": {a: {k: v for k, v in m.items() if k != "list"} for a, m in modules.items()},
                    "module_list_errors": broken, "blocked": blocked,
                    "normalized": {arch: [str(c) for c in d] for arch, d in drift.items()}})
    for arch, change in changes.items():
        text += "\n" + change.text() + "\n"
        if written.get(arch):
            text += f"  written to {session.configs[arch].source}\n"
        if drift.get(arch) and not refused:
            text += (f"  writing also normalizes {len(drift[arch])} line(s) as make olddefconfig would "
                     "(the tree differs from the one the config was made with):\n")
            text += "".join(f"    {c}\n" for c in drift[arch])
        for entry in modules.get(arch, {}).get("built", []):
            text += f"  now builds {entry}\n"
        for entry in modules.get(arch, {}).get("added", []):
            text += f"  {'would add' if args.dry_run else 'added'} to the module list: {entry}\n"
    for finding in broken:
        text += f"\nmodule list: {finding['arch']}: {finding['message']}"
        if finding.get("fix"):
            text += f"\n  fix: {finding['fix']}"
        text += "\n"
    if refused:
        text += fix_notes(session, checker, changes)
    if blocked:
        text += f"\nnothing written: {blocked}\n"
    elif args.dry_run:
        text += "\ndry run: nothing written\n"
    return Result(payload, text, 1 if blocked else 0)
