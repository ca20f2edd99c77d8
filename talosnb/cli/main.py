"""The talosnb command line: the top-level parser, dispatch, and one way of ending for every error."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from talosnb import __version__
from talosnb.core.errors import TalosnbError, TalosnbWarning, face
from talosnb.core.fileio import os_error, written_files
from talosnb.present.terminal import terminal_safe

from .common import ExitStatus, cli_name, emit
from .registry import BY_NAME, COMMANDS

if TYPE_CHECKING:
    from types import FrameType

DEBUG_ENV = "TALOSNB_DEBUG"

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


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None, line: str | None = None) -> None:
    if issubclass(category, TalosnbWarning):
        print(terminal_safe(f"talosnb: warning: {message}"), file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code. With ``argv`` None (the ``talosnb`` program),
    signals that arrive once the outcome is printed are ignored, so exit is quiet."""
    program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            handlers[signum] = signal.signal(signum, _on_signal)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", TalosnbWarning)
            warnings.showwarning = _show_warning
            return _main(argv)
    finally:
        if program:
            # the outcome is printed: an interruption now changes nothing, and must not turn
            # into noise (or another exit code) while Python shuts down
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
        else:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)


def _written_since(start: int) -> list[str]:
    return [str(p) for p in written_files()[start:]]


def _main(argv: list[str]) -> int:
    start = len(written_files())
    args, name = None, "talosnb"
    try:
        parser = build_parser(argv if argv else ["--help"])
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return ExitStatus.BAD_INPUT
        name = f"talosnb {args.command}"
        module = importlib.import_module(BY_NAME[args.command].module)
        with face(cli_name):
            result = module.run(args)
        emit(args, result)
        sys.stdout.flush()
        return int(result.status)
    except TalosnbError as e:
        return _fail(args, name, e, start)
    except BrokenPipeError:
        # output piped into e.g. `head`, which stopped reading: not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitStatus.OK
    except KeyboardInterrupt as e:
        return _interrupted(name, e, start)
    except OSError as e:
        # an OSError no check caught (a folder where a file should be, permissions, a full disk)
        return _fail(args, name, os_error(e, "cannot access it", e.filename), start)
    except Exception as e:  # noqa: BLE001 -- the last resort: a bug, said as one, never exit 1
        # Ctrl-C while a module is imported can come wrapped (RuntimeError from __set_name__): an interruption
        cause = _interruption_in(e)
        return _interrupted(name, cause, start) if cause is not None else _bug(args, name, e)


def _interruption_in(e: BaseException) -> KeyboardInterrupt | None:
    seen: set[int] = set()
    link: BaseException | None = e
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None


def _interrupted(name: str, e: KeyboardInterrupt, start: int) -> int:
    what = f"interrupted ({e.args[0]})" if isinstance(e, Interrupted) and e.args else "interrupted"
    written = _written_since(start)
    if written:
        said = ("written completely before the interruption: " + ", ".join(written)
                + "; nothing else was changed")
    else:
        said = "nothing was written"
    _flush_quietly()
    print(terminal_safe(f"{name}: {what}; {said}"), file=sys.stderr)
    return ExitStatus.INTERRUPTED


def _flush_quietly() -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()


def _fail(args: argparse.Namespace | None, name: str, e: TalosnbError, start: int) -> int:
    written = _written_since(start)
    if getattr(args, "format", None) == "json":
        # scripts get an object on stdout too, whatever went wrong
        json.dump({"error": {"message": e.message, "where": e.where, "hint": e.hint,
                             "exit_code": e.exit_code, "written": written}},
                  sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    _flush_quietly()
    print(terminal_safe(f"{name}: error: {e}"), file=sys.stderr)
    if written:
        print(terminal_safe(f"  note: written before the error: {', '.join(written)}"), file=sys.stderr)
    return e.exit_code


def _bug(args: argparse.Namespace | None, name: str, e: BaseException) -> int:
    import traceback

    frames = traceback.extract_tb(e.__traceback__)
    place = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    message = (f"internal error{place}: {type(e).__name__}: {e}. This is a bug in talosnb {__version__}, "
               "not a problem with your input: please report it with the command line and this message "
               f"(set {DEBUG_ENV}=1 to see the traceback)")
    if getattr(args, "format", None) == "json":
        json.dump({"error": {"message": message, "where": None, "hint": None, "bug": True,
                             "exit_code": int(ExitStatus.BUG)}}, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    _flush_quietly()
    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(e, file=sys.stderr)
    print(terminal_safe(f"{name}: {message}"), file=sys.stderr)
    return ExitStatus.BUG
