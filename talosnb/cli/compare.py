"""talosnb compare: amd64 and arm64 symbol by symbol."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from talosnb.analyses.compare import (
    STATUSES,
    by_menu,
    by_status,
    by_text,
    by_values,
    compare,
    module_counts,
    records,
    status_counts,
    summary,
)
from talosnb.core.errors import InputError

from .common import ExitStatus, Result, common_options, context, need_both_arches, open_session

if TYPE_CHECKING:
    import pandas as pd

DIFFERENCES = ("differs", "amd64-only", "arm64-only")
_SHOWN = ["symbol", "amd64", "arm64", "status", "menu"]



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Compare the amd64 and arm64 configs symbol by symbol. By default shows the symbols that "
                     "differ or that only one arch defines; a bool/tristate without a config line counts as n.")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    common_options(p)
    p.add_argument("--status", action="append", metavar="STATUS[,STATUS]",
                   help="which symbols: " + ", ".join(STATUSES) + ", one-arch or all "
                        "(default: differs,one-arch); repeatable")
    p.add_argument("--menu", metavar="TEXT", help="only symbols whose menu path contains TEXT (any case)")
    p.add_argument("--text", metavar="TEXT", help="only symbols whose name, prompt or help contains TEXT")
    p.add_argument("--values", metavar="A,B", help="only symbols set to A on one arch and B on the other "
                                                   "(e.g. m,y)")
    p.add_argument("--limit", type=int, metavar="N", help="list at most N symbols (the counts are of all)")


def _statuses(raw: list[str] | None) -> list[str]:
    if not raw:
        return list(DIFFERENCES)
    wanted: list[str] = []
    for item in raw:
        for name in filter(None, (s.strip() for s in item.split(","))):
            if name == "all":
                wanted.extend(STATUSES)
            elif name == "one-arch":
                wanted.extend(("amd64-only", "arm64-only"))
            elif name in STATUSES:
                wanted.append(name)
            else:
                raise InputError(f"unknown status '{name}'",
                                 hint="use " + ", ".join(STATUSES) + ", one-arch or all")
    return list(dict.fromkeys(wanted))


def _filtered(args: argparse.Namespace, df: pd.DataFrame) -> pd.DataFrame:
    shown = by_status(df, *_statuses(args.status))
    if args.menu:
        shown = by_menu(shown, args.menu)
    if args.text:
        shown = by_text(shown, args.text)
    if args.values:
        shown = by_values(shown, args.values)
    return shown


def _text_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> Result:
    need_both_arches(args)
    if args.limit is not None and args.limit < 0:
        raise InputError(f"--limit {args.limit}: expected 0 or more")
    session = open_session(args)
    payload, text = context(session)
    df = compare(session)
    shown = _filtered(args, df)
    limited = shown if args.limit is None else shown.head(args.limit)
    counts = status_counts(df)
    modules = module_counts(df)
    payload.update({
        "filters": {"status": _statuses(args.status), "menu": args.menu, "text": args.text,
                    "values": args.values},
        "symbols": records(limited),
        "matched": len(shown),
        "status_counts": counts,
        "module_counts": modules,
        "summary": records(summary(df).reset_index()),
    })
    cells = [["" if v is None else str(v) for v in (row[c] for c in _SHOWN)]
             for row in records(limited[_SHOWN])]
    # the headline: what differs between the arches (the filters may list other symbols too)
    apart = counts["differs"] + counts["amd64-only"] + counts["arm64-only"]
    text += (f"\n{apart} of {len(df)} symbols differ between amd64 and arm64 ({counts['differs']} with "
             f"other values, {counts['amd64-only'] + counts['arm64-only']} on one arch only); "
             f"{len(shown)} listed by the filters")
    text += f" (showing {len(limited)})\n\n" if len(limited) < len(shown) else "\n\n"
    if cells:
        text += _text_table(cells, ["SYMBOL", "AMD64", "ARM64", "STATUS", "MENU"])
        text += "(an empty value: the config has no line for the symbol)\n"
    text += "\nsymbols per status: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n"
    text += "modules (=m): " + ", ".join(f"{k} {v}" for k, v in modules.items()) + "\n\n"
    table = summary(df)
    text += _text_table([[menu, *(str(v) for v in row)] for menu, row in zip(table.index, table.values,
                                                                            strict=True)],
                        ["MENU", *(c.upper() for c in table.columns)])
    return Result(payload, text, ExitStatus.OK)
