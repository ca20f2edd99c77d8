"""Errors talosnb reports to a person, with where and what to do.

Every error the command line turns into a message and a non-zero exit derives
from TalosnbError; anything else escaping is a bug.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
from collections.abc import Callable, Iterable, Iterator

# How an option or input is named to the person reading a message: the command line
# says --force, Python code says force=True. Library messages call opt(); the face in
# use (the CLI sets its own while a command runs) decides the words.
_FACE: contextvars.ContextVar[Callable[[str], str]] = contextvars.ContextVar("talosnb_face")


def python_name(name: str) -> str:
    """An option as Python code names it: force=True for a switch, kernel_src for an input,
    patches=False for a switch that turns something off (--no-patches)."""
    if name in FLAGS and name.startswith("no_"):
        return f"{name[3:]}=False"
    return f"{name}=True" if name in FLAGS else name


# Options that are switches (the others take a value).
FLAGS = frozenset({"force", "allow_drop", "ignore_module_list", "dry_run", "add_to_module_list",
                   "allow_series_change", "no_patches", "follow_symlinks", "strict", "write"})


def opt(name: str) -> str:
    """The words for option or input `name` (python spelling: kernel_src) in the current face."""
    return _FACE.get(python_name)(name)


@contextlib.contextmanager
def face(namer: Callable[[str], str]) -> Iterator[None]:
    """Messages raised inside name options with `namer` (the CLI: --kernel-src)."""
    token = _FACE.set(namer)
    try:
        yield
    finally:
        _FACE.reset(token)


class ExitStatus(enum.IntEnum):
    """talosnb's exit codes (also in ``talosnb --help`` and the README): what a command's outcome,
    or an error's kind, makes the process exit with."""

    OK = 0
    FINDINGS = 1        # findings or refusals: something to look at, nothing broken
    BAD_INPUT = 2       # bad usage or bad input: a message says what and where
    BUG = 3             # an unexpected error inside talosnb: please report it
    INTERRUPTED = 130   # Ctrl-C / SIGTERM


class TalosnbError(Exception):
    """A problem with the user's input or environment, explained.

    `where` is "file" or "file:line" when the problem is in a file; `hint`
    says what to do about it.
    """

    exit_code = ExitStatus.BAD_INPUT

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InputError(TalosnbError):
    """Bad or missing input: a malformed line, an unknown symbol, a missing file."""


class VersionMismatchError(TalosnbError):
    """The kernel tree and the config or Pkgfile are of different kernel releases."""


class RefusedError(TalosnbError):
    """A write refused to protect the user's data (exit 1, like other refusals)."""

    exit_code = ExitStatus.FINDINGS
    # set by a check that refuses with findings to show (the build gates' guard): what it found
    guard_result: object


class FileChangedError(RefusedError):
    """A file changed on disk since it was loaded; writing would lose those changes (a refusal: exit 1).

    ``files`` names the files that changed (when several were checked together)."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None,
                 files: Iterable[str] = ()) -> None:
        super().__init__(message, where=where, hint=hint)
        self.files: tuple[str, ...] = tuple(files)


class TalosnbWarning(UserWarning):
    """Something talosnb repaired or worked around on its own (a damaged cache rebuilt, an
    interrupted write finished); the command line prints it as "talosnb: warning: ..."."""
