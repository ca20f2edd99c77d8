"""talosnb diff: what normalize would change, or config-ARCH against another .config."""

from __future__ import annotations

import argparse

from talosnb.core.errors import TalosnbError
from talosnb.core.fileio import read_text
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff, line_endings_change

from .common import ExitStatus, Result, common_options, context, open_session


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Without --against: the lines config-ARCH would change when written by talosnb (make "
                     "olddefconfig). With --against FILE: FILE compared with config-ARCH, in scripts/diffconfig "
                     "notation (-removed, +added, old -> new).")
    common_options(p)
    p.add_argument("--against", metavar="FILE", help="a .config to compare with (needs one --arch)")


def run(args: argparse.Namespace) -> Result:

    if args.against and args.arch == "all":
        raise TalosnbError("--against compares with one config: give --arch amd64 or --arch arm64")
    session = open_session(args)
    payload, text = context(session)
    payload["diffs"] = {}
    for arch, config in session.configs.items():
        if args.against:
            against_text, _snapshot = read_text(args.against, what="the --against config")
            other = Config.from_text(config.tree, against_text, source=args.against)
            old, new = other.original_text, config.original_text
            label = f"{args.against} -> {config.source}"
            config_text = config.text()
            Config.from_text(config.tree, config_text, source=config.source)   # reload this one's values
        else:
            old, new = config.original_text, config.text()
            label = f"{config.source} -> as talosnb writes it"
        changes = config_diff(old, new)
        endings = line_endings_change(old, new)
        payload["diffs"][arch] = {"label": label,
                                  "changes": [{"symbol": c.symbol, "old": c.old, "new": c.new, "kind": c.kind}
                                              for c in changes],
                                  "line_endings": endings.as_dict() if endings is not None else None}
        shown = [*changes, *([endings] if endings is not None else [])]
        text += f"\n{arch}: {label}: {len(shown)} difference(s)\n" + "".join(f"  {c}\n" for c in shown)
    return Result(payload, text, ExitStatus.OK)
