"""The talosnb command line.

Exit codes: 0 ok, 1 findings or refusals, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence

from . import __version__
from .errors import TalosnbError
from .kconfig.diff import config_diff
from .kconfig.info import symbol_info
from .session import Session


def common_options(parser: argparse.ArgumentParser) -> None:
    """The options every subcommand takes: inputs, --arch, --toolchain, --format, --progress."""
    inputs = parser.add_argument_group("inputs (default: $TALOSNB_PKGS/$TALOSNB_TALOS/$TALOSNB_KERNEL_SRC, "
                                       "else the embedded sample)")
    inputs.add_argument("--pkgs", metavar="DIR", help="siderolabs/pkgs checkout (kernel/build/config-ARCH, Pkgfile)")
    inputs.add_argument("--talos", metavar="DIR", help="siderolabs/talos checkout (hack/modules-ARCH.txt)")
    inputs.add_argument("--kernel-src", metavar="PATH",
                        help="kernel source folder or tarball (.tar.xz/.tar.gz); default: download the "
                             "Pkgfile's linux_version from kernel.org, verified")
    parser.add_argument("--arch", default="all", choices=["amd64", "arm64", "all"], help="default: all")
    parser.add_argument("--toolchain", default="recorded", choices=["recorded", "host"],
                        help="recorded: answer compiler probes from what the config records (default); "
                             "host: run them with this machine's compiler, like make olddefconfig")
    parser.add_argument("--format", default="text", choices=["text", "json"], help="output format")
    parser.add_argument("--progress", action="store_true", help="show progress bars for long work")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="talosnb",
        description="Inspect, toggle and write back Talos Linux kernel configs and module lists, "
                    "with the kernel's own Kconfig semantics.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="With no --pkgs/--talos/--kernel-src (or $TALOSNB_PKGS, $TALOSNB_TALOS, $TALOSNB_KERNEL_SRC)\n"
               "every command works on the embedded sample.\n\n"
               "examples:\n"
               "  talosnb why MVPP2=m                 can it be had on each arch? if not: why, and a fix\n"
               "  talosnb set BLK_DEV_NBD=m --pkgs ~/src/pkgs --kernel-src linux-6.12.tar.xz\n"
               "  talosnb check --talos ~/src/talos --pkgs ~/src/pkgs\n"
               "  talosnb compare --format json\n\n"
               "exit codes: 0 ok, 1 findings or refusals, 2 bad usage or bad input.\n"
               "talosnb COMMAND --help shows each command's options.")
    parser.add_argument("--version", action="version", version=f"talosnb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("normalize", help="rewrite config-ARCH as make olddefconfig would, print what changed",
                       description="Load each config-ARCH against the kernel tree and write it back exactly "
                                   "as the kernel's `make olddefconfig` would (toolchain lines kept in "
                                   "recorded mode). Prints the changes in scripts/diffconfig notation.")
    common_options(p)
    p.add_argument("--output", metavar="FILE", help="write here instead of in place (one --arch only)")
    p.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    p.add_argument("--force", action="store_true", help="overwrite even if the file changed on disk")
    p.add_argument("--allow-drop", action="store_true",
                   help="write even though lines for symbols this tree doesn't define are dropped")

    p = sub.add_parser("check", help="check hack/modules-ARCH.txt against the configs and the Kbuild files",
                       description="Every .ko in the talos module lists must be built as a module (=m, "
                                   "with every directory guard on) by the config of its arch. Exits 1 when "
                                   "an error-level finding exists.")
    common_options(p)
    p.add_argument("--info", action="store_true", help="also list informational findings")

    p = sub.add_parser("get", help="show symbols: value per arch, type, prompt, where defined, why",
                       description="Show symbols (with or without CONFIG_) on each arch.")
    common_options(p)
    p.add_argument("symbols", nargs="+", metavar="SYMBOL")

    # Further subcommands live in their own modules (talosnb/cli_*.py), each with
    # register(sub) -> {name: handler}; imported here to avoid an import cycle.
    for name in EXTENSIONS:
        module = importlib.import_module(f"talosnb.{name}")
        COMMANDS.update(module.register(sub))
    return parser


def emit(args, payload: dict, text: str) -> None:
    if args.format == "json":
        json.dump(payload, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text)


def open_session(args) -> Session:
    return Session.open(args.pkgs, args.talos, args.kernel_src, arch=args.arch, toolchain=args.toolchain,
                        progress=args.progress)


def context(session: Session) -> tuple[dict, str]:
    checks = session.version_checks()
    payload = {"tree_version": session.tree_version, "toolchain": session.toolchain,
               "version_checks": [{"kind": c.kind, "level": c.level, "message": c.message} for c in checks]}
    lines = [(f"kernel tree {session.tree_version} ({session.inputs.kernel.origin}), "
              f"toolchain {session.toolchain}")]
    for c in checks:
        lines.append(f"{'WARNING' if c.kind == 'mismatch' else 'note'}: {c.message}")
    return payload, "\n".join(lines) + "\n"


def cmd_normalize(args) -> int:
    if args.output and args.arch == "all":
        raise TalosnbError("--output needs one --arch", hint="add --arch amd64 or --arch arm64")
    session = open_session(args)
    if args.output and not args.force:
        _refuse_other_arch_output(args.output, args.arch)
    payload, text = context(session)
    payload["configs"] = {}
    status = 0
    for arch, config in session.configs.items():
        new_text = config.text()
        changes = config_diff(config.original_text, new_text)
        dropped = [n for n in config.notes if n.kind == "unknown-symbol"]
        target = args.output or config.source
        written = False
        refused = None
        if dropped and not args.allow_drop:
            refused = (f"{len(dropped)} line(s) name symbols this {session.tree_version} tree doesn't "
                       "define; not writing (pass --allow-drop to drop them)")
            status = 1
        elif not args.dry_run:
            written = config.write(target, force=args.force)
        payload["configs"][arch] = {
            "file": str(target), "written": written, "refused": refused,
            "changes": [{"symbol": c.symbol, "old": c.old, "new": c.new, "kind": c.kind} for c in changes],
            "notes": [{"where": n.where, "symbol": n.symbol, "kind": n.kind, "message": n.message}
                      for n in config.notes],
        }
        text += f"\nconfig-{arch}: {len(changes)} change(s)"
        text += " (dry run)\n" if args.dry_run else (" written to " + str(target) + "\n" if written
                                                   else ", nothing written\n")
        text += "".join(f"  {c}\n" for c in changes)
        text += "".join(f"  {n.where}: {n.message}\n" for n in config.notes)
        if refused:
            text += f"  REFUSED: {refused}\n"
    emit(args, payload, text)
    return status


def _refuse_other_arch_output(output: str, arch: str) -> None:
    """--output over an existing config of the other arch would silently replace it."""
    from pathlib import Path

    from .kconfig.config import header_version
    from .kconfig.tree import ARCHES
    path = Path(output)
    if not path.is_file():
        return
    try:
        header = header_version(path.read_text(errors="replace"))
    except OSError:
        return
    if header and header[0] != ARCHES[arch][0]:
        raise TalosnbError(f"{output} holds a Linux/{header[0]} config, and this is the {arch} one; not "
                           "overwriting it", where=output, hint="check --output and --arch, or pass --force")


def cmd_get(args) -> int:
    session = open_session(args)
    payload, text = context(session)
    payload["symbols"] = []
    missing = []
    for name in args.symbols:
        for arch, config in session.configs.items():
            if not config.has_symbol(name):
                missing.append((name, arch))
                entry = {"symbol": name.removeprefix("CONFIG_"), "arch": arch, "defined": False}
                payload["symbols"].append(entry)
                text += f"\n{name.removeprefix('CONFIG_')} [{arch}]: not defined in this tree for {arch}\n"
                continue
            info = symbol_info(config, name)
            info["defined"] = True
            payload["symbols"].append(info)
            text += (f"\n{info['symbol']} [{arch}] = {info['value']}  ({info['type']}"
                     f"{', visible' if info['visible'] != 'n' else ', not visible'})\n")
            if info["prompt"]:
                text += f"  prompt: {info['prompt']}\n"
            text += f"  defined at: {', '.join(info['defined_at'])}\n"
            if info["menu_path"]:
                text += f"  menu: {' > '.join(info['menu_path'])}\n"
            if info["depends_on"]:
                text += f"  depends on: {info['depends_on']}\n"
            if info["selected_by"]:
                text += f"  selected by: {', '.join(info['selected_by'])}\n"
            if info["implied_by"]:
                text += f"  implied by: {', '.join(info['implied_by'])}\n"
            for d in info["defaults"]:
                text += f"  default {d['value']}" + (f" if {d['if']}" if d["if"] else "") + "\n"
            if info["assignable"]:
                text += f"  assignable: {', '.join(info['assignable'])}\n"
    unknown_everywhere = {n for n, _ in missing
                          if sum(1 for m, _ in missing if m == n) == len(session.configs)}
    if unknown_everywhere:
        config = next(iter(session.configs.values()))
        config.symbol(min(unknown_everywhere))  # raises with "did you mean"
    emit(args, payload, text)
    return 0


def cmd_check(args) -> int:
    from .edit import fix_verifier
    from .modules import findings_frame

    session = open_session(args)
    session.require_talos()
    payload, text = context(session)
    for arch in session.configs:
        session.kbuild_map(arch, progress=args.progress)
    findings = session.check_modules(verify_fix=fix_verifier(session))
    frame = findings_frame(findings)
    errors = int((frame["level"] == "error").sum()) if len(frame) else 0
    shown = frame if args.info or not len(frame) else frame[frame["level"] != "info"]
    payload["findings"] = shown.to_dict(orient="records")
    payload["errors"] = errors
    hidden = len(frame) - len(shown)
    text += (f"\n{errors} error(s), {len(frame)} finding(s) in all"
             + (f" ({hidden} informational ones not shown: --info lists them)" if hidden else "") + "\n")
    for row in shown.itertuples():
        text += f"{row.level:7} {row.arch:5} {row.kind:16} {row.entry or ''}: {row.message}\n"
        if isinstance(row.where, str) and row.where:
            text += f"        at {row.where}\n"
        if row.fix:
            text += f"        fix: {row.fix}\n"
    emit(args, payload, text)
    return 1 if errors else 0


COMMANDS = {"normalize": cmd_normalize, "get": cmd_get, "check": cmd_check}

# Modules under talosnb/ that add subcommands (see build_parser).
EXTENSIONS: list[str] = [name for name in ("cli_edit", "cli_modules", "cli_workbench")
                         if importlib.util.find_spec(f"talosnb.{name}") is not None]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except TalosnbError as e:
        if getattr(args, "format", None) == "json":
            # scripts get an object on stdout too, whatever went wrong
            json.dump({"error": {"message": e.message, "where": e.where, "hint": e.hint,
                                 "exit_code": e.exit_code}}, sys.stdout, indent=2, sort_keys=True)
            sys.stdout.write("\n")
        sys.stdout.flush()
        print(f"talosnb {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        # output piped into e.g. `head`, which stopped reading: not an error of ours
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted; nothing was half-written (writes are atomic)", file=sys.stderr)
        return 130
