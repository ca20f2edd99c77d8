"""How the answers of the edit engine read: `talosnb why` (a symbol's value, where it comes from,
and what setting it would do), as text and as its JSON record.

The wording of the pieces (a cascade line, a refusal with its why-not tree and verified fix, an
expression with its values) is :mod:`talosnb.present.text`'s, the same the widgets show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .text import cascade_line, expression, refusal_text, reverse_groups

if TYPE_CHECKING:
    from talosnb.analyses.edit import WhyAnswer
    from talosnb.analyses.symbol import ArchPanel


def why_record(name: str, arch: str, answer: WhyAnswer | None) -> dict[str, Any]:
    """One arch's answer as `talosnb why --format json` lists it (``defined`` False: the arch
    doesn't define the symbol)."""
    if answer is None:
        return {"symbol": name, "arch": arch, "defined": False}
    return answer.as_dict()


def why_text(name: str, arch: str, answer: WhyAnswer | None, panel: ArchPanel | None = None) -> str:
    """One arch's answer as `talosnb why` prints it: the value and where it comes from, where the
    symbol is defined, what it depends on and what selects it (read from its ``panel``); with a
    value asked for, what else it would change, or why it can't take effect and a verified fix."""
    if answer is None:
        return f"\n{name} [{arch}]: not defined on {arch}\n"
    text = f"\n{name} [{arch}] = {answer.value} ({answer.type}): {answer.reason}\n"
    text += f"  defined at {', '.join(answer.defined_at)}\n"
    if panel is not None:
        if panel.depends_on:
            text += f"  depends on {expression(panel.depends_on)}\n"
        for level, terms in reverse_groups(panel.selected_by):
            text += f"  selected by [{level}]:\n" + "".join(f"    - {t}\n" for t in terms)
    change, refusal = answer.change, answer.refusal
    if change is None:
        return text
    if refusal is None:
        text += (f"  {answer.requested} can take effect; " + (
            f"it would change {len(change.cascade)} line(s):\n" if change.cascade else "nothing else changes\n"))
        text += "".join(f"    {cascade_line(c)}\n" for c in change.cascade)
    else:
        text += "  " + refusal_text(refusal).replace("\n", "\n  ") + "\n"
    return text
