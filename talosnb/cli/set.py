"""talosnb set: assignments applied as one batch with the kernel's semantics, written, explained."""

from __future__ import annotations

import argparse

from talosnb.analyses.edit import parse_assignment
from talosnb.app.plan import Request
from talosnb.core.errors import InputError

from .common import (
    Result,
    common_options,
    gate_options,
    open_workspace,
    plan_options,
    render_edit,
    write_options,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Apply the assignments as one batch, exactly as merging them into the .config and running "
                     "`make olddefconfig` would, and write config-ARCH. If any assignment can't take effect on an "
                     "arch, nothing is written; the reason is shown as a tree of unmet conditions with file:line, "
                     "with a fix verified on a copy. Exit 1 on refusal. In recorded mode an assignment to a toolchain line "
                     "(CC_VERSION_TEXT, CLANG_VERSION, PAHOLE_VERSION, CC_HAS_*, ...) re-records that compiler "
                     "probe's answer, as if the config had been made with that toolchain (listed under its own "
                     "heading); in host mode the host's toolchain decides them.")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples:\n  talosnb set BLK_DEV_NBD=m\n  talosnb set --arch arm64 CONFIG_NR_CPUS=512 "
                "'LOCALVERSION=\"-talos\"'\n  talosnb set --dry-run DEBUG_INFO_BTF=n\n"
                "  talosnb set CLANG_VERSION=210108 'CC_VERSION_TEXT=\"clang version 21.1.8\"' PAHOLE_VERSION=129\n"
                "  talosnb set --toolchain-from ../pkgs-bumped USB_SERIAL=m")
    common_options(p)
    # "*", checked in run(): `--add-to-module-list DUMMY=m` gives the option the assignment (a LIST
    # never holds "="), which run() takes back, so the flag still goes anywhere on the line
    p.add_argument("assignments", nargs="*", metavar="SYMBOL=VALUE")
    write_options(p)
    gate_options(p)
    p.add_argument("--no-fix", action="store_true", help="on refusal, don't search for a verified fix")
    p.add_argument("--add-to-module-list", nargs="?", const=True, default=False, metavar="LIST",
                   help="add the .ko files the new =m symbols build to a module list: talos's hack/modules-ARCH.txt "
                        "(needs --talos), or =extensions/NAME (needs --extensions); without LIST, talos's, unless an "
                        "extension's list could take them too (then say which)")
    p.add_argument("--ignore-module-list", action="store_true",
                   help="write even if the change breaks the module list (a listed .ko no longer built as =m)")


def run(args: argparse.Namespace) -> Result:
    given = list(args.assignments)
    if isinstance(args.add_to_module_list, str) and "=" in args.add_to_module_list:
        given.insert(0, args.add_to_module_list)
        args.add_to_module_list = True
    if not given:
        raise InputError("no assignment given", hint="give SYMBOL=VALUE, e.g. talosnb set BLK_DEV_NBD=m")
    assignments = tuple(parse_assignment(a, where=f"argument {i}") for i, a in enumerate(given, 1))
    ws = open_workspace(args)
    request = Request("set", assignments, add_to_module_list=args.add_to_module_list, fix_search=not args.no_fix,
                      write=True, dry_run=args.dry_run)
    plan = ws.propose(request, plan_options(args))
    return render_edit(ws, plan, dry_run=args.dry_run)
