"""talosnb report: one self-contained HTML file to share: the two arches compared, or what a change does."""

from __future__ import annotations

import argparse
from pathlib import Path

from talosnb.core.errors import InputError
from talosnb.core.fileio import atomic_write

from .common import (
    ExitStatus,
    Result,
    common_options,
    context,
    need_both_arches,
    open_session,
    open_workspace,
    refuse_toolchain_options,
)

_HTML = (".html", ".htm")
_MARKDOWN = (".md", ".markdown")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Without --base: write one HTML file (charts and tables inside, no external assets) with the inputs, "
        "version warnings, the amd64/arm64 summary, charts and the differing symbols. "
        "With --base REF (or --base-pkgs DIR): what the checkouts change against that base, per arch: each "
        "config line with its reason, the .ko files newly built or no longer built (the 'New modules:' list), "
        "the module-list edits and the gates before and after; as HTML (--output FILE.html), Markdown "
        "(--format markdown, for a pull request), JSON or text. Exits 1 when a gate fails after the change.")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples:\n"
                "  talosnb report --output talos-kernel.html\n"
                "  talosnb report --pkgs ~/src/pkgs --talos ~/src/talos --base origin/main --format markdown\n"
                "  talosnb report --base origin/main -o change.html\n"
                "  talosnb report --base-pkgs /tmp/old/pkgs --base-talos /tmp/old/talos --format json")
    common_options(p, formats=("text", "json", "markdown"))
    p.add_argument("--output", "-o", metavar="FILE",
                   help="where to write the report: FILE.html (the comparison needs it), or FILE.md for a "
                        "change report in Markdown")
    p.add_argument("--title", help="the report's title")
    p.add_argument("--gate", metavar="GATES",
                   help="also run these build gates and add their section (comma-separated: olddefconfig, "
                        "hardening, modules, or all; as talosnb check runs them)")
    p.add_argument("--hardening-checker", metavar="DIR|TARBALL",
                   help="with --gate hardening: a kernel-hardening-checker folder or .tar.gz instead of "
                        "downloading the Pkgfile's kspp_ref")
    base = p.add_argument_group("change report (the base to compare the checkouts against)")
    base.add_argument("--base", metavar="REF",
                      help="a git ref of the pkgs and talos checkouts, e.g. origin/main; the base is its merge "
                           "base with HEAD, as a pull request shows it")
    base.add_argument("--base-pkgs", metavar="DIR", help="the base as a folder laid out like the pkgs checkout")
    base.add_argument("--base-talos", metavar="DIR", help="with --base-pkgs: the base talos folder")
    base.add_argument("--capture", action="append", default=[], metavar="FILE",
                      help="a hardware capture (as talosnb hardware reads: talosctl get pcidevices -o yaml|json, "
                           "lspci -nn, lsusb, modalias lines; - for standard input): name the devices whose "
                           "support the change moves (needs the full kernel source, --kernel-src)")
    base.add_argument("--no-history", action="store_true",
                      help="don't look up when each changed line last changed (git log of the pkgs checkout)")
    p.add_argument("--upgrade-to", metavar="PATH",
                   help="add a kernel upgrade section: what moving to this kernel folder or tarball changes "
                        "(as talosnb upgrade --to-kernel-src PATH reports it)")


def run(args: argparse.Namespace) -> Result:
    if args.capture and args.base is None and args.base_pkgs is None:
        raise InputError("--capture names the devices a change affects: it goes with a change report",
                         hint="add --base REF (or --base-pkgs DIR); talosnb hardware looks a capture up on its own")
    if args.base is not None or args.base_pkgs is not None or args.base_talos is not None:
        if args.upgrade_to:
            raise InputError("--upgrade-to adds a section to the comparison report, not to a change report",
                             hint="run talosnb report --upgrade-to PATH -o FILE.html without --base")
        return _change(args)
    if args.format == "markdown":
        raise InputError("--format markdown is for change reports", hint="add --base REF (or --base-pkgs DIR)")
    need_both_arches(args)
    if not args.output:
        raise InputError("the comparison report is an HTML file: give --output FILE.html",
                         hint="or add --base REF for a change report printed as text, Markdown or JSON")
    if not args.output.lower().endswith(_HTML):
        raise InputError(f"--output {args.output}: the report is HTML; name the file *.html")
    from talosnb.analyses.compare import compare, status_counts
    from talosnb.present.report import write_report

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
    sections = []
    if args.upgrade_to:
        refuse_toolchain_options(args, "--upgrade-to")
        from talosnb.app.upgrade import Upgrade
        from talosnb.present.report import upgrade_html

        upgrade = Upgrade.open(args.pkgs, args.talos, args.kernel_src, to_kernel_src=args.upgrade_to,
                               toolchain=args.toolchain, scratch=False, patches=not args.no_patches,
                               progress=args.progress)
        bump = upgrade.report()
        sections.append((f"Kernel upgrade {bump.from_version or bump.config_version} -> {bump.to_version}",
                         upgrade_html(bump)))
        payload["upgrade"] = bump.counts()
    path = write_report(session, args.output, frame=df, title=args.title, sections=sections, gates=report)
    payload.update({"output": str(path), "status_counts": status_counts(df)})
    text += f"report written to {path}\n"
    return Result(payload, text, ExitStatus.OK)


def _change(args: argparse.Namespace) -> Result:
    if args.base is not None and (args.base_pkgs is not None or args.base_talos is not None):
        raise InputError("--base and --base-pkgs/--base-talos name the base twice", hint="give one of them")
    if args.base_talos is not None and args.base_pkgs is None:
        raise InputError("--base-talos needs --base-pkgs too", hint="add --base-pkgs DIR")
    output = args.output
    if output and not output.lower().endswith(_HTML + _MARKDOWN):
        raise InputError(f"--output {output}: name the file *.html (HTML) or *.md (Markdown)")
    from talosnb.app.change import change_report_for
    from talosnb.present.change import change_json, change_text

    devices = []
    if args.capture:
        import sys

        from talosnb.analyses.hardware import read_inputs

        devices = read_inputs(args.capture, stdin_text=sys.stdin.read() if "-" in args.capture else None)
        if not devices:
            raise InputError("no devices in the captures", where=", ".join(args.capture),
                             hint="give talosctl get pcidevices -o yaml|json, lspci -nn, lsusb or modalias lines")
    session = open_session(args)
    payload, text = context(session)
    report = change_report_for(session, base=args.base, base_pkgs=args.base_pkgs, base_talos=args.base_talos,
                               history=not args.no_history, devices=devices)
    status = ExitStatus.OK if report.ok else ExitStatus.FINDINGS
    payload.update(change_json(report))
    if output:
        if output.lower().endswith(_HTML):
            from talosnb.present.report import change_report_html
            body = change_report_html(report, title=args.title)
        else:
            from talosnb.present.markdown import change_markdown
            body = change_markdown(report, title=args.title)
        atomic_write(output, body)
        payload["output"] = str(Path(output))
        if args.format == "markdown":
            return Result(payload, body, status)
        return Result(payload, text + change_text(report) + f"report written to {output}\n", status)
    if args.format == "markdown":
        from talosnb.present.markdown import change_markdown
        return Result(payload, change_markdown(report, title=args.title), status)
    return Result(payload, text + change_text(report), status)
