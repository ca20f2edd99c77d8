"""talosnb report: one self-contained HTML file to share."""

from __future__ import annotations

import argparse

from talosnb.analyses.compare import compare, status_counts
from talosnb.core.errors import InputError
from talosnb.present.report import write_report

from .common import Result, common_options, context, open_workspace
from .compare import _need_both


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Write one HTML file (charts and tables inside, no external assets) with the inputs, "
                     "version warnings, the amd64/arm64 summary, charts and the differing symbols.")
    common_options(p)
    p.add_argument("--output", "-o", required=True, metavar="FILE.html", help="where to write the report")
    p.add_argument("--title", help="the report's title")
    p.add_argument("--gate", metavar="GATES",
                   help="also run these build gates and add their section (comma-separated: olddefconfig, "
                        "hardening, modules, or all; as talosnb check runs them)")
    p.add_argument("--hardening-checker", metavar="DIR|TARBALL",
                   help="with --gate hardening: a kernel-hardening-checker folder or .tar.gz instead of "
                        "downloading the Pkgfile's kspp_ref")


def run(args: argparse.Namespace) -> Result:
    _need_both(args)
    if not args.output.lower().endswith((".html", ".htm")):
        raise InputError(f"--output {args.output}: the report is HTML; name the file *.html")
    ws = open_workspace(args)
    session = ws.session
    payload, text = context(session)
    df = compare(session)
    report = None
    if args.gate:
        from talosnb.analyses.gates import parse_gates

        report = ws.gates(parse_gates(args.gate), progress=args.progress)
        payload["gates"] = report.statuses()
        for error in report.incomplete:
            text += f"note: not every gate ran: {error}\n"
    path = write_report(session, args.output, frame=df, title=args.title, gates=report)
    payload.update({"output": str(path), "status_counts": status_counts(df)})
    text += f"report written to {path}\n"
    return Result(payload, text, 0)
