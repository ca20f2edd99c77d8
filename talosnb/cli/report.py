"""talosnb report: one self-contained HTML file to share."""

from __future__ import annotations

import argparse

from talosnb.analyses.compare import compare, status_counts
from talosnb.core.errors import InputError
from talosnb.present.report import write_report

from .common import Result, common_options, context, open_session
from .compare import _need_both


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Write one HTML file (charts and tables inside, no external assets) with the inputs, "
                     "version warnings, the amd64/arm64 summary, charts and the differing symbols.")
    common_options(p)
    p.add_argument("--output", "-o", required=True, metavar="FILE.html", help="where to write the report")
    p.add_argument("--title", help="the report's title")
    p.add_argument("--upgrade-to", metavar="PATH",
                   help="add a kernel upgrade section: what moving to this kernel folder or tarball changes "
                        "(as talosnb upgrade --to-kernel-src PATH reports it)")


def run(args: argparse.Namespace) -> Result:
    _need_both(args)
    if not args.output.lower().endswith((".html", ".htm")):
        raise InputError(f"--output {args.output}: the report is HTML; name the file *.html")
    session = open_session(args)
    payload, text = context(session)
    df = compare(session)
    sections = []
    if args.upgrade_to:
        from talosnb.app.upgrade import Upgrade
        from talosnb.present.report import upgrade_html

        upgrade = Upgrade.open(args.pkgs, args.talos, args.kernel_src, to_kernel_src=args.upgrade_to,
                               toolchain=args.toolchain, scratch=False, patches=not args.no_patches,
                               progress=args.progress)
        report = upgrade.report()
        sections.append((f"Kernel upgrade {report.from_version or report.config_version} -> {report.to_version}",
                         upgrade_html(report)))
        payload["upgrade"] = report.counts()
    path = write_report(session, args.output, frame=df, title=args.title, sections=sections)
    payload.update({"output": str(path), "status_counts": status_counts(df)})
    text += f"report written to {path}\n"
    return Result(payload, text, 0)
