"""talosnb lab: the notebooks copied into a working folder, and JupyterLab started there."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from talosnb.core.errors import InputError

from .common import ExitStatus, Result

# How long JupyterLab may take to answer before the address is printed anyway
START_TIMEOUT = 120.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    from talosnb.app.lab import default_lab_folder

    p.description = (
        "Copy the notebooks that ship with talosnb (and nbval's sanitize file) into DIR and start JupyterLab "
        "there. A notebook changed in DIR is never overwritten: it is kept, and said so; an unchanged earlier "
        "copy is updated to this version's. The shipped notebooks themselves are never opened.")
    p.add_argument("folder", nargs="?", metavar="DIR",
                   help=f"the working folder (made if missing; default {default_lab_folder()})")
    p.add_argument("--no-browser", action="store_true",
                   help="don't open a browser: print the address to open once JupyterLab answers")
    p.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one)")
    p.set_defaults(format="text")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _copy_text(done: object) -> str:
    from talosnb.app.lab import LabFolder

    assert isinstance(done, LabFolder)
    lines = [f"talosnb lab: notebooks in {done.folder}"]
    for label, names in (("copied", done.copied), ("updated", done.updated), ("already current", done.current)):
        if names:
            lines.append(f"  {label}: {', '.join(names)}")
    if done.kept:
        lines.append(f"  kept (changed here, not overwritten): {', '.join(done.kept)}")
        lines.append("  to get the shipped version of one, rename or delete it and run talosnb lab again")
    return "\n".join(lines) + "\n"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run(args: argparse.Namespace) -> Result:
    from talosnb.app.lab import default_lab_folder, prepare_lab

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: not a port number", hint="give 1..65535, or leave it out")
    done = prepare_lab(Path(args.folder) if args.folder else default_lab_folder())
    sys.stdout.write(_copy_text(done))
    sys.stdout.flush()

    port = args.port or _free_port()
    token = secrets.token_hex(24)
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={done.folder}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")     # Jupyter refuses root otherwise
    # the token through the environment, not the command line (which other users can read)
    env = {**os.environ, "JUPYTER_TOKEN": token}
    # its own session: Ctrl-C reaches talosnb, which stops the server (Jupyter would ask first)
    server = subprocess.Popen(command, cwd=done.folder, env=env, start_new_session=True)
    address = f"http://127.0.0.1:{port}/lab?token={token}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while server.poll() is None and time.monotonic() < deadline and not _answers(
                f"http://127.0.0.1:{port}/api/status?token={token}"):
            time.sleep(0.3)
        if server.poll() is not None:
            raise InputError(f"JupyterLab stopped at once (exit {server.returncode}); its messages are above",
                             where=str(done.folder), hint="check that jupyterlab is installed with talosnb")
        sys.stdout.write(f"JupyterLab: {address}\n(Ctrl-C stops it)\n")
        sys.stdout.flush()
        status = server.wait()
    except KeyboardInterrupt:
        _stop(server)
        return Result({**done.as_dict(), "address": address}, "JupyterLab stopped\n", ExitStatus.OK)
    finally:
        if server.poll() is None:
            _stop(server)
    return Result({**done.as_dict(), "address": address}, "", ExitStatus.OK if status == 0 else ExitStatus.FINDINGS)


def _stop(server: subprocess.Popen) -> None:
    """Stop JupyterLab as its own Ctrl-C would, then harder if it doesn't go."""
    try:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
