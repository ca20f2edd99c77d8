"""talosnb merge: config fragments applied as merge_config.sh + olddefconfig do."""

from __future__ import annotations

import argparse

from talosnb.analyses.edit import parse_fragment
from talosnb.app.plan import Request
from talosnb.core.errors import InputError
from talosnb.core.fileio import read_text

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
    p.description = ("Apply fragment files (CONFIG_X=... and '# CONFIG_X is not set' lines) in order, as the "
                     "kernel's scripts/kconfig/merge_config.sh followed by olddefconfig does, and write "
                     "config-ARCH. Every requested value that did not end up in the result is listed (exit 1), "
                     "like merge_config.sh's warnings. Lines for toolchain lines (CLANG_VERSION=..., CC_HAS_*=...) re-record "
                     "that compiler probe's answer in recorded mode, as if the config had been made with that "
                     "toolchain.")
    common_options(p)
    p.add_argument("fragments", nargs="+", metavar="FRAGMENT")
    write_options(p)
    gate_options(p)


def run(args: argparse.Namespace) -> Result:
    assignments, problems = [], []
    for path in args.fragments:
        text, _snapshot = read_text(path, what="config fragment")
        got, bad = parse_fragment(text, path, collect=True)
        assignments += got
        problems += bad
    if problems:
        raise InputError(f"{len(problems)} line(s) in the fragments are not assignments:\n  "
                         + "\n  ".join(problems[:20]),
                         hint="a fragment has CONFIG_X=value and '# CONFIG_X is not set' lines; nothing was written")
    if not assignments:
        raise InputError("the fragments hold no assignments", where=", ".join(args.fragments),
                         hint="a fragment has CONFIG_X=value and '# CONFIG_X is not set' lines")
    ws = open_workspace(args)
    plan = ws.propose(Request("merge", tuple(assignments), write=True, dry_run=args.dry_run), plan_options(args))
    return render_edit(ws, plan, dry_run=args.dry_run)
