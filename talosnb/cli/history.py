"""talosnb history: the commits of the pkgs checkout that changed a symbol's config line."""

from __future__ import annotations

import argparse
import os
import re

from talosnb.core.arches import parse_arches
from talosnb.core.errors import InputError
from talosnb.core.paths import ENV_PKGS

from .common import ExitStatus, Result, positive

_NAME = re.compile(r"^(CONFIG_)?[A-Za-z0-9_]+$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "When did a config line get its value, in which commit, and why: the commits of the pkgs checkout's "
        "git history that changed each SYMBOL's line in kernel/build/config-ARCH (renames of the file "
        "followed), newest first, with date, subject and the value before and after. Kernel bumps (the "
        "Pkgfile's linux_version changed in the same commit) and reorder-only commits are marked. Needs no "
        "kernel tree; the index is built in one pass over the history and cached by commit.")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples:\n"
                "  talosnb history --pkgs ~/src/pkgs BLK_DEV_NBD\n"
                "  talosnb history --pkgs ~/src/pkgs CONFIG_WIREGUARD --arch arm64 --limit 5\n"
                "  talosnb history --pkgs ~/src/pkgs IGC --rev origin/main --values-only --format json")
    p.add_argument("symbols", nargs="+", metavar="SYMBOL", help="with or without CONFIG_")
    p.add_argument("--pkgs", metavar="DIR",
                   help="siderolabs/pkgs checkout, a git clone (default: $TALOSNB_PKGS)")
    p.add_argument("--arch", default="all", choices=["amd64", "arm64", "all"], help="default: all")
    p.add_argument("--rev", default="HEAD", metavar="REV", help="the history up to this commit (default: HEAD)")
    p.add_argument("--limit", type=positive, metavar="N", help="show the newest N commits per symbol")
    p.add_argument("--values-only", action="store_true",
                   help="leave out commits that only moved the line (its value unchanged)")
    p.add_argument("--format", default="text", choices=["text", "json"], help="output format")


def run(args: argparse.Namespace) -> Result:
    from talosnb.analyses.history import build_index
    from talosnb.present.history import history_text

    pkgs = args.pkgs or os.environ.get(ENV_PKGS)
    if not pkgs:
        raise InputError("history reads the git log of a pkgs checkout: give --pkgs DIR (a git clone)",
                         hint="or set TALOSNB_PKGS; the embedded sample has no history")
    for name in args.symbols:
        if not _NAME.match(name):
            raise InputError(f"not a symbol name: {name!r}", hint="e.g. BLK_DEV_NBD or CONFIG_BLK_DEV_NBD")
    arches = parse_arches(args.arch)
    index = build_index(pkgs, rev=args.rev, arches=arches)
    payload: dict = {"checkout": index.checkout, "commit": index.commit, "symbols": {}}
    text = f"history of {index.checkout} at {index.commit[:12]} ({len(index.commits)} commits touch the configs)\n"
    for name in args.symbols:
        symbol = name.removeprefix("CONFIG_")
        rows = index.records(symbol, None if args.arch == "all" else args.arch)
        if args.values_only:
            rows = [r for r in rows if r.change != "moved"]
        total = len(rows)
        if args.limit:
            rows = rows[:args.limit]
        payload["symbols"][symbol] = {"commits": [r.as_dict() for r in rows], "total": total}
        text += "\n" + history_text(symbol, rows, total, arches)
    return Result(payload, text, ExitStatus.OK)
