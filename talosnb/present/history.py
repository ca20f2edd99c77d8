"""A config line's history (:class:`~talosnb.analyses.history.LineRecord` rows, newest first) as
``talosnb history`` prints it. The widget's table is ``present/html.py``'s ``history_html``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from talosnb.core import layout

from .text import line_value

if TYPE_CHECKING:
    from talosnb.analyses.history import LineRecord


def history_text(symbol: str, rows: Sequence[LineRecord], total: int, arches: Sequence[str]) -> str:
    """The commits that touched CONFIG_`symbol`'s line (`rows`, the newest of `total`), one a line:
    date, commit, arch, value before -> after, subject, and what else the commit was."""
    if not rows:
        return f"CONFIG_{symbol}: no commit touched its line in {layout.config_name('/'.join(arches))}\n"
    head = f"CONFIG_{symbol}: {total} commit(s)" + (f", newest {len(rows)} shown" if len(rows) < total else "")
    out = [head]
    for r in rows:
        marks = []
        if r.kernel_bump:
            marks.append(f"kernel bump {r.kernel_bump}")
        if r.reorder_only:
            marks.append("reorder only")
        if r.change == "moved":
            marks.append("line moved, value unchanged")
        mark = f"  [{'; '.join(marks)}]" if marks else ""
        out.append(f"  {r.date} {r.commit} {r.arch:5} {line_value(r.before):>9} -> {line_value(r.after):<9} "
                   f"{r.subject}{mark}")
    return "\n".join(out) + "\n"
