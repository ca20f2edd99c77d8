"""talosnb hardware: which driver claims each device, what the configs do with it, and the change
that supports a device that isn't (written with --write, through the Workspace like ``set``)."""

from __future__ import annotations

import argparse
import sys
import warnings
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


def _devices(args: argparse.Namespace, captures: list[tuple[str, str]]) -> list:
    from talosnb.analyses.hardware import Device, parse_capture, parse_id, parse_modalias
    from talosnb.core.errors import InputError

    devices = [d for where, text in captures for d in parse_capture(text, where)]
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


def _answer_key(args: argparse.Namespace, captures: list[tuple[str, str]]) -> str | None:
    """The key of this lookup's kept answer (app.hardware_answers), None when it is not kept."""
    from talosnb.app import hardware_answers

    if (args.write and not args.dry_run) or args.toolchain != "recorded" or args.toolchain_from:
        return None
    request = {name: getattr(args, name, None) for name in (
        "id", "usb", "compatible", "modalias", "arch", "no_patches", "strict", "workload", "dry_run", "write",
        "allow_drop", "allow_series_change", "force", "follow_symlinks")}
    return hardware_answers.answer_key(request, captures, pkgs=args.pkgs, talos=args.talos,
                                       kernel_src=args.kernel_src, extensions=args.extensions,
                                       hardening_checker=args.hardening_checker)


def run(args: argparse.Namespace) -> Result:
    from talosnb.app import hardware_answers
    from talosnb.core.errors import InputError
    from talosnb.inputs.captures import read_captures

    if args.compare and not args.modules_alias:
        raise InputError("--compare goes with --modules-alias", hint="add --modules-alias --arch ARCH")
    if args.modules_alias:
        if args.arch == "all":
            raise InputError("--modules-alias describes one build", hint="add --arch amd64 or --arch arm64")
        if args.inputs or args.id or args.usb or args.compatible or args.modalias or args.write:
            raise InputError("--modules-alias takes no devices and writes nothing",
                             hint="run the lookup and --modules-alias as two commands")
        from talosnb.app.hardware import Hardware

        return _modules_alias(args, Hardware.open(args.pkgs, args.talos, args.kernel_src, arch=args.arch,
                                                  patches=not args.no_patches, progress=args.progress))
    captures = read_captures(args.inputs, sys.stdin.read() if "-" in args.inputs else None)
    key = _answer_key(args, captures)
    kept = hardware_answers.recall(key)
    if kept is not None:
        return Result(kept["payload"], kept["text"], ExitStatus(kept["status"]))
    devices = _devices(args, captures)
    if not devices:
        raise InputError("no devices given",
                         hint="give a capture file (or - for standard input), or --id/--usb/--compatible/--modalias")
    from talosnb.app.hardware import Hardware

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hardware = Hardware.open(args.pkgs, args.talos, args.kernel_src, arch=args.arch,
                                 patches=not args.no_patches, progress=args.progress)
        result = _lookup(args, hardware, hardware.describe(devices))
    for w in caught:     # said as they would have been; an answer that warned is not kept
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if not caught and not (args.write and not args.dry_run):
        hardware_answers.keep(key, {"payload": result.payload, "text": result.body, "status": int(result.status)})
    return result


def _lookup(args: argparse.Namespace, hardware: Any, reports: list) -> Result:
    from talosnb.app.hardware import lookup_status, needed_changes, support_devices
    from talosnb.present.edit import outcome_text
    from talosnb.present.hardware import report_lines, summary_line, support_dict, support_reason_text

    index = hardware.index()
    payload: dict[str, Any] = {"kernel_source": index.source, "kernel_version": index.kernel_version,
                               "arches": hardware.arches, "devices": [r.as_dict() for r in reports]}
    lines = [f"device ID tables of {index.source} ({index.kernel_version}); configs: "
             + ", ".join(str(hardware.inputs.pkgs.config_path(a)) for a in hardware.arches), ""]
    lines += report_lines(reports)
    lines.append(summary_line(reports))
    support = None
    if needed_changes(reports)[0]:
        ws = open_workspace(args)
        support = support_devices(ws, reports, plan_options(args), write=args.write, dry_run=args.dry_run)
    if support is not None:
        payload["support"] = support_dict(support)
        lines += ["", "the change that supports them:"]
        lines += [f"  {arch}: {support_reason_text(r)}" for arch, rs in support.reasons.items() for r in rs]
        for arch, item, outcome in support.outcomes:
            lines.append(f"{arch}: set {item}")
            lines.append(outcome_text(outcome, written={a: support.written.get(a, False) for a in outcome},
                                      dry_run=not args.write or args.dry_run,
                                      sources={a: c.source for a, c in ws.configs.items()}).rstrip("\n"))
        payload.update({"written": support.written, "blocked": support.blocked})
        for arch, item, why in support.refused:
            lines.append(f"not possible on {arch}: {item} ({why})")
        if support.blocked:
            lines.append(f"nothing written: {support.blocked}")
        elif not args.write or args.dry_run:
            lines.append("nothing written (add --write to apply the changes that can be made)")
    status = lookup_status(support)
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
