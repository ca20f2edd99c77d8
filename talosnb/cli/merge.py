"""talosnb merge: config fragments applied as merge_config.sh + olddefconfig do."""

from __future__ import annotations

import argparse

from talosnb.analyses import edit
from talosnb.analyses.edit import parse_fragment
from talosnb.core.errors import InputError
from talosnb.core.fileio import read_text

from .common import Result, common_options, context, open_session, write_options
from .edits import payload_changes, refusing_drops, undo_dry_run, write_all


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Apply fragment files (CONFIG_X=... and '# CONFIG_X is not set' lines) in order, as the "
                     "kernel's scripts/kconfig/merge_config.sh followed by olddefconfig does, and write "
                     "config-ARCH. Every requested value that did not end up in the result is listed (exit 1), "
                     "like merge_config.sh's warnings.")
    common_options(p)
    p.add_argument("fragments", nargs="+", metavar="FRAGMENT")
    write_options(p)


def _redefinitions(assignments) -> list[str]:
    """merge_config.sh's 'Value of X is redefined by fragment' notes."""
    seen, out = {}, []
    for a in assignments:
        first = seen.get(a.symbol)
        if first is not None and first.value != a.value:
            out.append(f"{a.where}: CONFIG_{a.symbol}={a.value} redefines {first.value} from {first.where}")
        seen[a.symbol] = a
    return out


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
    session = open_session(args)
    drops = refusing_drops(session)
    redefined = _redefinitions(assignments)
    # like merge_config.sh: a symbol the tree doesn't define is reported, not fatal
    unknown = [a for a in assignments
               if not any(c.has_symbol(a.symbol) for c in session.configs.values())]
    known = [a for a in assignments if a not in unknown]
    changes = edit.set_symbols(session, known, mode="merge", fix=False) if known else {}
    if args.dry_run:
        undo_dry_run(session, changes)
    blocked = drops if drops and not args.allow_drop else None
    written = ({arch: False for arch in changes} if blocked or args.dry_run
               else write_all(session, changes, args))
    payload, text = context(session)
    unmet = {arch: [r.as_dict() for r in change.refusals] for arch, change in changes.items()}
    payload.update({"changes": payload_changes(changes), "written": written, "unmet": unmet,
                    "unknown": [{"symbol": a.symbol, "where": a.where} for a in unknown],
                    "redefined": redefined, "blocked": blocked})
    for line in redefined:
        text += f"\nnote: {line}"
    for a in unknown:
        text += (f"\nWARNING: {a.where}: CONFIG_{a.symbol} is not defined in the {session.tree_version} tree "
                 "on any arch; ignored")
    if redefined or unknown:
        text += "\n"
    for arch, change in changes.items():
        text += f"\n{arch} ({change.tree_version}): {len(change.cascade)} change(s)"
        text += " (dry run)\n" if args.dry_run else (" written\n" if written.get(arch) else "\n")
        text += "".join(f"  {name}: not defined on {arch}\n" for name in change.undefined)
        text += "".join(f"  {c}\n" for c in change.cascade)
        for refusal in change.refusals:
            where = f"{refusal.assignment.where}: " if refusal.assignment.where else ""
            got = refusal.got if refusal.got is not None else "n (no line in the file)"
            text += f"  WARNING: {where}{refusal.assignment} requested, but the result has {got}\n"
            for reason in refusal.reasons:
                text += "\n".join(reason.lines(2)) + "\n"
    if blocked:
        text += f"\nnothing written: {blocked}\n"
    return Result(payload, text, 1 if blocked or unknown or any(unmet.values()) else 0)
