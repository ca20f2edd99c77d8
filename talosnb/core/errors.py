"""Errors talosnb reports to a person, with where and what to do.

Every error the command line turns into a message and a non-zero exit derives
from TalosnbError; anything else escaping is a bug.
"""

from __future__ import annotations


class TalosnbError(Exception):
    """A problem with the user's input or environment, explained.

    `where` is "file" or "file:line" when the problem is in a file; `hint`
    says what to do about it.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
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


class FileChangedError(TalosnbError):
    """A file changed on disk since it was loaded; writing would lose those changes."""


class VersionMismatchError(TalosnbError):
    """The kernel tree and the config or Pkgfile are of different kernel releases."""


class RefusedError(TalosnbError):
    """A write refused to protect the user's data (exit 1, like other refusals)."""

    exit_code = 1
