"""talosnb check: the gates of the Talos kernel build, before the build."""

from __future__ import annotations

import argparse

from talosnb.analyses import gates
from talosnb.present.gates import gate_finding_text, gates_summary_text, report_dict

from .common import ExitStatus, Result, common_options, context, open_workspace, workload_names


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Run the gates a Talos kernel change must pass, on the configs as they are: "
        "olddefconfig (pkgs CI: make kernel-olddefconfig must leave config-ARCH unchanged; each line it would "
        "change, and why), hardening (kernel/build/pkg.yaml: kernel-hardening-checker at the Pkgfile's "
        "kspp_ref piped into the checkout's filter-hardened-check.py; each failing option with a verified "
        "fix, or why it can't be had), modules (the talos image build: every .ko of hack/modules-ARCH.txt "
        "must be built as a module). Exits 1 when a gate fails.")
    p.epilog = ("kernel-hardening-checker is downloaded from GitHub at kspp_ref and verified against "
                "kspp_sha256/kspp_sha512 (then cached); offline, pass --hardening-checker or set "
                "$TALOSNB_HARDENING_CHECKER. A gate the inputs can't run (no talos checkout, no kspp_ref) is "
                "skipped with a note, unless --gate names it.")
    common_options(p)
    p.add_argument("--gate", metavar="GATES", default=None,
                   help="comma-separated: olddefconfig, hardening, modules (default: all), and workloads (the "
                        "required kernel options of --workload; only when named)")
    p.add_argument("--workload", action="append", default=[], metavar="NAME",
                   help="with --gate workloads: whose requirements (repeat or comma-separate; default: the workloads "
                        "and features .talosnb.toml in the pkgs checkout names, else kubernetes)")
    p.add_argument("--hardening-checker", metavar="DIR|TARBALL",
                   help="a kernel-hardening-checker folder or .tar.gz to run instead of downloading the "
                        "Pkgfile's kspp_ref (default: $TALOSNB_HARDENING_CHECKER)")
    p.add_argument("--info", action="store_true",
                   help="also list informational findings (among them the modules built but not listed)")


def run(args: argparse.Namespace) -> Result:
    chosen = gates.parse_gates(args.gate)
    ws = open_workspace(args)
    session = ws.session
    if "modules" in chosen and args.gate:
        for arch in ws.arches:
            ws.module_list(arch)      # named: a missing talos checkout or list is an error
    for arch in ws.module_lists:
        session.kbuild_map(arch, progress=args.progress)
    report = ws.gates(chosen, explicit=args.gate is not None, progress=args.progress, unlisted=args.info,
                      workloads=workload_names(args.workload) or None)
    payload, text = context(session)
    if "workloads" in chosen:
        from talosnb.app.workloads import gate_choice

        choice = gate_choice(session, workload_names(args.workload) or None)
        payload["workloads"] = {"workloads": list(choice.workloads or ()), "features": choice.gate_features,
                                "from": choice.source}
        said = {"named": "--workload", "default": "the default"}.get(choice.source, choice.source)
        features = [f for f in choice.gate_features if f != "base"]
        text += (f"workloads gate: {', '.join(choice.workloads or ())}"
                 + (f" (features in use: {', '.join(features)})" if features else "") + f", from {said}\n")
    for check in report.version_checks:
        payload["version_checks"].append({"kind": check.kind, "level": check.level, "message": check.message})
        text += f"{'WARNING' if check.kind == 'mismatch' else 'note'}: {check.message}\n"
    payload.update(report_dict(report))
    findings = gates.sort_findings(report.findings)
    errors = sum(1 for f in findings if f.level == "error")
    shown = findings if args.info else [f for f in findings if f.level != "info"]
    payload["findings"] = gates.records(shown)
    payload["errors"] = errors
    text += gates_summary_text(report)
    hidden = len(findings) - len(shown)
    text += (f"\n{errors} error(s), {len(findings)} finding(s) in all"
             + (f" ({hidden} informational ones not shown: --info lists them)" if hidden else "") + "\n")
    for gate in chosen:
        mine = [f for f in shown if f.details.get("gate") == gate]
        if mine:
            text += f"\n{gate}:\n" + "".join(gate_finding_text(f) for f in mine)
    incomplete = report.incomplete
    for error in incomplete:
        text += f"\nnot every gate ran: {error}\n"
    payload["incomplete"] = [{"message": e.message, "where": e.where, "hint": e.hint} for e in incomplete]
    # a gate that could not run leaves the verdict open: bad input/environment, whatever the others say
    return Result(payload, text, ExitStatus.BAD_INPUT if incomplete else ExitStatus.FINDINGS if report.failed else ExitStatus.OK)
