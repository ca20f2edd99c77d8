"""Fault injection for the reliability suite: forked children killed at chosen points,
started together, or run with fewer privileges; all bounded in time."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parents[1]
KILLED = -signal.SIGKILL


def fork(fn: Callable[[], int | None], *, timeout: float = 120.0) -> int:
    """Run ``fn`` in a forked child; its exit code, or -signal when a signal ended it."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the child
        code = 0
        try:
            code = fn() or 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001 -- reported by the exit code
            traceback.print_exc()
            code = 99
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    return wait(pid, timeout)


def wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError(f"child {pid} still running after {timeout} s")
        time.sleep(0.002)


class LineKiller:
    """A trace function that SIGKILLs the process at the n-th line executed in one source file
    (n=0: count only, see ``count``). Kills land between any two statements of the write path."""

    def __init__(self, source_file: str, at: int = 0) -> None:
        self.file = source_file
        self.at = at
        self.count = 0

    def _local(self, frame, event, arg):
        if event == "line":
            self.count += 1
            if self.count == self.at:
                os.kill(os.getpid(), signal.SIGKILL)
        return self._local

    def __call__(self, frame, event, arg):
        if frame.f_code.co_filename == self.file:
            return self._local
        return None

    def __enter__(self) -> Self:
        sys.settrace(self)
        return self

    def __exit__(self, *exc) -> None:
        sys.settrace(None)


def leftovers(*folders: Path) -> list[str]:
    """talosnb's temporary files and journals left in these folders."""
    out = []
    for folder in folders:
        out += [f"{folder.name}/{n}" for n in os.listdir(folder) if ".talosnb-" in n]
    return sorted(out)


def copy_checkouts(source: Path, dest: Path) -> Path:
    """A writable copy of a data/talos-* folder's pkgs and talos checkouts."""
    for name in ("pkgs", "talos"):
        shutil.copytree(source / name, dest / name)
    for path in dest.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    return dest


def talosnb(*args: str, env: dict | None = None, preexec=None, timeout: float = 300,
            cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The talosnb program as a user runs it (a fresh interpreter)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC", "TALOSNB_DEBUG"):
        if name not in (env or {}):
            full_env.pop(name, None)
    prefix = []
    if preexec == "unprivileged":
        prefix = unprivileged_prefix()
    return subprocess.run([*prefix, sys.executable, "-m", "talosnb", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, check=False, cwd=cwd)


def unprivileged_prefix() -> list[str]:
    """Run a command without the privileges that let root ignore file permissions (or [] when
    not root: permissions apply anyway)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ["__no_setpriv__"]
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def can_drop_privileges() -> bool:
    prefix = unprivileged_prefix()
    if not prefix:
        return True
    if prefix == ["__no_setpriv__"]:
        return False
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    return probe.returncode == 0


@contextlib.contextmanager
def tmpfs(folder: Path, size_kb: int):
    """A tmpfs of ``size_kb`` mounted on ``folder`` (None when this machine can't mount)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
                             capture_output=True, check=False).returncode == 0 if shutil.which("mount") else False
    try:
        yield folder if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
