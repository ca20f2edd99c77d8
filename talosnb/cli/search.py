"""talosnb search: symbols by name, prompt, help text or module."""

from __future__ import annotations

import argparse

from talosnb.analyses.search import search
from talosnb.core.errors import InputError

from .common import Result, common_options, context, open_session


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Ranked: exact name, name prefix, name substring, prompt, help, module (.ko name or source "
                     "path, via the Kbuild files), similar names.")
    common_options(p)
    p.add_argument("text", nargs="+")
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--no-modules", action="store_true", help="don't read the Kbuild files (faster)")


def run(args: argparse.Namespace) -> Result:

    if not " ".join(args.text).strip():
        raise InputError("nothing to search for", hint="give a symbol name, words of a prompt, or a module name")
    session = open_session(args)
    maps = None
    if not args.no_modules:
        maps = {arch: session.kbuild_map(arch, progress=args.progress) for arch in session.configs}
    query = " ".join(args.text)
    frame = search(session.configs, query, limit=args.limit, kbuild_maps=maps)
    payload, text = context(session)
    payload["query"] = query
    rows = frame.to_dict(orient="records")
    payload["results"] = rows
    if not len(frame):
        text += f"\nnothing matches {query!r}\n"
    for row in rows:
        values = ", ".join(f"{a}={v}" for a, v in sorted(row["values"].items()))
        text += f"\n{row['symbol']:32} {row['type']:8} [{values}]  ({row['match']})\n"
        if isinstance(row["prompt"], str) and row["prompt"]:
            text += f"  {row['prompt']}\n"
        text += f"  {row['defined_at']}\n"
    return Result(payload, text, 0)
