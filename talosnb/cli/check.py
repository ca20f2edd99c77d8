"""talosnb check: the gates of the Talos kernel build, before the build."""

from __future__ import annotations

import argparse

from talosnb.analyses import gates
from talosnb.present.gates import check_dict, check_text, version_check_dicts

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
    choice = None
    if "workloads" in chosen:
        from talosnb.app.workloads import gate_choice

        choice = gate_choice(session, workload_names(args.workload) or None)
    payload["version_checks"] += version_check_dicts(report)
    payload.update(check_dict(report, info=args.info, choice=choice))
    text += check_text(report, chosen, info=args.info, choice=choice)
    # a gate that could not run leaves the verdict open: bad input/environment, whatever the others say
    status = ExitStatus.BAD_INPUT if report.incomplete else ExitStatus.FINDINGS if report.failed else ExitStatus.OK
    return Result(payload, text, status)
