"""The talosnb command line: the top-level parser, dispatch, and one way of ending for every error."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from talosnb import __version__
from talosnb.core.errors import TalosnbError, face

from .common import ExitStatus, cli_name, emit
from .registry import BY_NAME, COMMANDS

DESCRIPTION = ("Inspect, toggle and write back Talos Linux kernel configs and module lists, "
               "with the kernel's own Kconfig semantics.")
EPILOG = ("With no --pkgs/--talos/--kernel-src (or $TALOSNB_PKGS, $TALOSNB_TALOS, $TALOSNB_KERNEL_SRC)\n"
          "every command works on the embedded sample.\n\n"
          "examples:\n"
          "  talosnb why MVPP2=m                 can it be had on each arch? if not: why, and a fix\n"
          "  talosnb set BLK_DEV_NBD=m --pkgs ~/src/pkgs --kernel-src linux-6.12.tar.xz\n"
          "  talosnb check --talos ~/src/talos --pkgs ~/src/pkgs\n"
          "  talosnb compare --format json\n\n"
          "exit codes: 0 ok, 1 findings or refusals, 2 bad usage or bad input,\n"
          "3 an unexpected error inside talosnb (a bug: please report it), 130 interrupted.\n"
          "talosnb COMMAND --help shows each command's options.")


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser, with the arguments of the command `argv` names (every command: with none given,
    all of them, for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="talosnb", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"talosnb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.summary, description=command.summary)
        if chosen is None and not argv or chosen == command.name:
            importlib.import_module(command.module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv if argv else ["--help"])
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return ExitStatus.BAD_INPUT
    module = importlib.import_module(BY_NAME[args.command].module)
    try:
        with face(cli_name):
            result = module.run(args)
        emit(args, result)
        return int(result.status)
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
        return ExitStatus.OK
    except KeyboardInterrupt:
        print("interrupted; nothing was half-written (writes are atomic)", file=sys.stderr)
        return ExitStatus.INTERRUPTED
