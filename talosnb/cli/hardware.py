"""talosnb hardware: which driver claims each device, what the configs do with it, and the change
that supports a device that isn't (written with --write, through the Workspace like ``set``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import (
    ExitStatus,
    Result,
    common_options,
    gate_options,
    open_workspace,
    plan_options,
    write_options,
)

INPUT_HELP = ("a file or - (standard input): talosctl get pcidevices -o yaml|json, lspci -nn, lspci -n, lsusb, "
              "modalias lines, device-tree compatible strings")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Look devices up in the kernel source's ID tables (MODULE_DEVICE_TABLE of pci, usb, of, "
                     "acpi): the modules that claim each one with the table entry (file:line), the CONFIG "
                     "symbols that build them and their value per arch, the module-list line, whether the "
                     "driver talosctl reports is one of them; for a device no built module claims, the change "
                     "that supports it (SYMBOL=m with its cascade and the module-list entry, as `set "
                     "--add-to-module-list` works it out), written with --write. Needs the full kernel source "
                     "(C files): a kernel.org tarball or Debian's /usr/src/linux-source-X.Y.tar.xz, read as a "
                     "stream and indexed once (cached). Exit 1 when a device is not supported on some arch and "
                     "nothing was written.")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples:\n  talosctl get pcidevices -o yaml | talosnb hardware --kernel-src linux-6.12.117.tar.xz -\n"
                "  talosnb hardware --id 8086:1593 --usb 0bda:8153 --compatible rockchip,rk3588-dwmac\n"
                "  lspci -nn > node.txt; talosnb hardware node.txt --write\n"
                "  talosnb hardware --modules-alias --arch amd64 --compare /lib/modules/$(uname -r)/modules.alias")
    common_options(p)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help=INPUT_HELP)
    p.add_argument("--id", action="append", default=[], metavar="VVVV:DDDD", help="a PCI vendor:device ID")
    p.add_argument("--usb", action="append", default=[], metavar="VVVV:PPPP", help="a USB vendor:product ID")
    p.add_argument("--compatible", action="append", default=[], metavar="VENDOR,CHIP",
                   help="a device-tree compatible string")
    p.add_argument("--modalias", action="append", default=[], metavar="STRING", help="a modalias string")
    p.add_argument("--modules-alias", action="store_true",
                   help="print what modules.alias of a build of config-ARCH would hold (pci, usb, of, acpi "
                        "lines, depmod's syntax); needs one --arch")
    p.add_argument("--compare", metavar="MODULES.ALIAS",
                   help="with --modules-alias: compare line by line with a real build's modules.alias")
    p.add_argument("--write", action="store_true",
                   help="write the change that supports the unsupported devices (config-ARCH and the module lists)")
    write_options(p)
    gate_options(p)


def _devices(args: argparse.Namespace) -> list:
    from talosnb.analyses.hardware import Device, parse_id, parse_modalias, read_inputs
    from talosnb.core.errors import InputError

    stdin = sys.stdin.read() if "-" in args.inputs else None
    devices = read_inputs(args.inputs, stdin_text=stdin)
    for i, text in enumerate(args.id, 1):
        devices.append(parse_id(text, "pci", f"--id {i}"))
    for i, text in enumerate(args.usb, 1):
        devices.append(parse_id(text, "usb", f"--usb {i}"))
    for i, text in enumerate(args.compatible, 1):
        if "," not in text or not text.strip():
            raise InputError(f"{text!r} is not a compatible string", where=f"--compatible {i}",
                             hint="vendor,chip as in a device tree: e.g. rockchip,rk3588-dwmac")
        devices.append(Device("of", f"--compatible {i}", text.strip(), name=text.strip()))
    for i, text in enumerate(args.modalias, 1):
        devices.append(parse_modalias(text, f"--modalias {i}"))
    return devices


def run(args: argparse.Namespace) -> Result:
    from talosnb.app.hardware import Hardware
    from talosnb.core.errors import InputError

    if args.compare and not args.modules_alias:
        raise InputError("--compare goes with --modules-alias", hint="add --modules-alias --arch ARCH")
    if args.modules_alias:
        if args.arch == "all":
            raise InputError("--modules-alias describes one build", hint="add --arch amd64 or --arch arm64")
        if args.inputs or args.id or args.usb or args.compatible or args.modalias or args.write:
            raise InputError("--modules-alias takes no devices and writes nothing",
                             hint="run the lookup and --modules-alias as two commands")
        return _modules_alias(args, Hardware.open(args.pkgs, args.talos, args.kernel_src, arch=args.arch,
                                                  patches=not args.no_patches, progress=args.progress))
    devices = _devices(args)
    if not devices:
        raise InputError("no devices given",
                         hint="give a capture file (or - for standard input), or --id/--usb/--compatible/--modalias")
    hardware = Hardware.open(args.pkgs, args.talos, args.kernel_src, arch=args.arch, patches=not args.no_patches,
                             progress=args.progress)
    reports = hardware.describe(devices)
    return _lookup(args, hardware, reports)


def _lookup(args: argparse.Namespace, hardware: Any, reports: list) -> Result:
    from talosnb.app.hardware import needed_changes, plan_support
    from talosnb.app.plan import Request
    from talosnb.present.hardware import report_lines, summary_line
    from talosnb.present.text import outcome_text

    index = hardware.index()
    payload: dict[str, Any] = {"kernel_source": index.source, "kernel_version": index.kernel_version,
                               "arches": hardware.arches, "devices": [r.as_dict() for r in reports]}
    lines = [f"device ID tables of {index.source} ({index.kernel_version}); configs: "
             + ", ".join(str(hardware.inputs.pkgs.config_path(a)) for a in hardware.arches), ""]
    lines += report_lines(reports)
    lines.append(summary_line(reports))
    status = ExitStatus.OK
    assignments, _ = needed_changes(reports)
    if assignments:
        ws = open_workspace(args)
        support = plan_support(ws, reports, strict=args.strict)
        payload["support"] = support.as_dict()
        lines += ["", "the change that supports them:"]
        lines += [f"  {arch}: {r}" for arch, rs in support.reasons.items() for r in rs]
        names = sorted({f"config-{arch}" for o in support.applied for arch in o.changed_arches()})
        names += sorted({f"modules-{arch}.txt" for o in support.applied for arch, m in o.modules.items()
                         if m.get("added")})
        writing = bool(support.applied) and args.write and not args.dry_run
        # what writing would refuse, said dry run or not: the save planned, judged, committed when asked
        plan = ws.propose(Request("save", names=tuple(names), write=True, dry_run=not writing),
                          plan_options(args)) if names else None
        dropped = plan.verdict("dropped-lines") if plan is not None else None
        blocked = dropped.message if dropped is not None and dropped.refuses else None
        written: dict[str, bool] = {}
        if blocked is None and writing and plan is not None:
            saved = ws.commit(plan)
            names_written = {p.name for p in saved.written} if saved is not None else set()
            written = {arch: f"config-{arch}" in names_written for arch in ws.configs}
        for arch, item, outcome in support.outcomes:
            lines.append(f"{arch}: set {item}")
            lines.append(outcome_text(outcome, written={a: written.get(a, False) for a in outcome},
                                      dry_run=not args.write or args.dry_run,
                                      sources={a: c.source for a, c in ws.configs.items()}).rstrip("\n"))
        payload.update({"written": written, "blocked": blocked})
        for arch, item, why in support.refused:
            lines.append(f"not possible on {arch}: {item} ({why})")
        if blocked:
            lines.append(f"nothing written: {blocked}")
        elif not args.write or args.dry_run:
            lines.append("nothing written (add --write to apply the changes that can be made)")
        status = ExitStatus.OK if any(written.values()) and not support.refused else ExitStatus.FINDINGS
    return Result(payload, "\n".join(lines) + "\n", status)


def _modules_alias(args: argparse.Namespace, hardware: Any) -> Result:
    from talosnb.present.hardware import alias_lines, compare_aliases

    aliases = hardware.modules_alias(args.arch)
    lines = alias_lines(aliases)
    payload: dict[str, Any] = {"arch": args.arch, "aliases": [
        {"pattern": a.pattern, "module": a.module, "kind": a.kind, "entry": a.where, "ko": a.ko} for a in aliases]}
    if args.compare:
        from talosnb.core.fileio import read_text

        real, _ = read_text(Path(args.compare), what="modules.alias")
        figures = compare_aliases(lines, real)
        payload["compare"] = figures
        text = "".join(f"{kind}: {f['reproduced']} of {f['real']} lines reproduced, {f['extra']} predicted lines "
                       f"not in it\n" for kind, f in figures.items())
        return Result(payload, text, ExitStatus.OK)
    return Result(payload, "".join(f"{line}\n" for line in lines), ExitStatus.OK)
