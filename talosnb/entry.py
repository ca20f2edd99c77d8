"""The command's first code: a Ctrl-C that comes while Python is still importing talosnb's command
line ends the run as an interruption (exit 130, one line), not with a traceback from the import."""

from __future__ import annotations

import atexit
import os
import signal
import sys
from types import FrameType


def _interrupted_while_starting(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"talosnb: interrupted while starting; nothing was written\n")
    os._exit(130)   # ExitStatus.INTERRUPTED, not imported yet


def run() -> int:
    """Import the command line with Ctrl-C ending the process at once, then run it with Python's
    own Ctrl-C back (the commands turn it into their 'interrupted' message)."""
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from talosnb.cli.main import main
    from talosnb.core.errors import ExitStatus
    signal.signal(signal.SIGINT, signal.default_int_handler)
    status = main()
    if status == ExitStatus.INTERRUPTED:
        # CPython remembers a Ctrl-C that went through an import even after it was handled, and
        # would end the process by SIGINT (status -2) instead of this one: finish here
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(status)
    return status
