"""Progress bars for long work (extracting a tarball, scanning Kbuild files, a download).

A bar is a tqdm bar writing to the terminal's stderr. In a notebook the loading widget shows the
bar's text in its own line instead (:func:`progress_into`): a bar of its own would be one more
output of the cell, there on a cold cache and absent on a warm one, so a stored notebook would
not re-run to the same outputs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_LINE: ContextVar[Callable[[str], None] | None] = ContextVar("talosnb_progress_line", default=None)


@contextmanager
def progress_into(show: Callable[[str], None]) -> Iterator[None]:
    """While inside, every bar's text goes to ``show`` (one line, replaced as it moves)."""
    token = _LINE.set(show)
    try:
        yield
    finally:
        _LINE.reset(token)


class _Line:
    """The file a bar writes to when its text goes to a caller's line: tqdm writes
    ``\\r<text>`` for every refresh; the last text is the one shown."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self.show = show

    def write(self, text: str) -> int:
        line = text.rsplit("\r", 1)[-1].strip()
        if line:
            self.show(line)
        return len(text)

    def flush(self) -> None:
        pass


def progress_bar(*, enabled: bool = True, **options: Any) -> Any:
    """A tqdm bar (``options`` are tqdm's: desc, total, unit...): into the line of
    :func:`progress_into` when one is set, else on stderr; ``enabled=False``: a bar that shows
    nothing."""
    from tqdm import tqdm

    show = _LINE.get()
    out = _Line(show) if show is not None else sys.stderr
    return tqdm(file=out, disable=not enabled, **options)


def note(text: str) -> None:
    """One line about long work that shows no bar (waiting for another run): into the line of
    :func:`progress_into` when one is set, else on stderr (control characters escaped)."""
    show = _LINE.get()
    if show is not None:
        show(text)
        return
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    print(f"talosnb: {shown}", file=sys.stderr, flush=True)
