"""talosnb why: where a symbol's value comes from, or why a value can't be had and a verified fix."""

from __future__ import annotations

import argparse

from talosnb.analyses.edit import editors_for, parse_assignment
from talosnb.analyses.symbol import arch_panel
from talosnb.present.text import cascade_line, expression, refusal_text, reverse_groups

from .common import ExitStatus, Result, common_options, context, open_session, positive


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Without a value: the symbol's value per arch and where it comes from (defaults, select, "
                     "visibility). With SYMBOL=VALUE: whether it can take effect, what else would change, and if "
                     "it can't, the unmet conditions and a verified fix.")
    common_options(p)
    p.add_argument("query", metavar="SYMBOL[=VALUE]")
    p.add_argument("--budget", type=positive, default=200, help="fix search: most candidates to try (default 200)")


def run(args: argparse.Namespace) -> Result:

    name, value = args.query, None
    if "=" in args.query:
        a = parse_assignment(args.query, where="argument")
        name, value = a.symbol, a.value
    name = name.removeprefix("CONFIG_")
    session = open_session(args)
    payload, text = context(session)
    payload["symbols"] = []
    status = ExitStatus.OK
    editors = editors_for(session)
    if not any(config.has_symbol(name) for config in session.configs.values()):
        next(iter(session.configs.values())).symbol(name)   # raises with "did you mean"
    for arch, editor in editors.items():
        if not editor.config.has_symbol(name):
            payload["symbols"].append({"symbol": name, "arch": arch, "defined": False})
            text += f"\n{name} [{arch}]: not defined on {arch}\n"
            continue
        info = editor.why(name, value, fix_budget=args.budget)
        panel = arch_panel(editor.config, name)
        if panel is None:   # transitional on this arch
            raise editor.config.transitional_error(name)
        entry = {k: info[k] for k in ("symbol", "arch", "type", "value", "visible", "prompt", "defined_at",
                                      "depends_on", "selected_by", "implied_by", "reason", "assignable")}
        entry["defined"] = True
        text += f"\n{name} [{arch}] = {info['value']} ({info['type']}): {info['reason']}\n"
        text += f"  defined at {', '.join(info['defined_at'])}\n"
        if panel.depends_on:
            text += f"  depends on {expression(panel.depends_on)}\n"
        for level, terms in reverse_groups(panel.selected_by):
            text += f"  selected by [{level}]:\n" + "".join(f"    - {t}\n" for t in terms)
        if value is not None:
            change = info["change"]
            entry["request"] = f"{name}={value}"
            entry["possible"] = change.ok
            entry["cascade"] = [c.__dict__ for c in change.cascade]
            entry["refusal"] = change.refusals[0].as_dict() if change.refusals else None
            if change.ok:
                text += (f"  {name}={value} can take effect; " + (
                    f"it would change {len(change.cascade)} line(s):\n" if change.cascade
                    else "nothing else changes\n"))
                text += "".join(f"    {cascade_line(c)}\n" for c in change.cascade)
            else:
                status = ExitStatus.FINDINGS
                text += "  " + refusal_text(change.refusals[0]).replace("\n", "\n  ") + "\n"
        payload["symbols"].append(entry)
    return Result(payload, text, status)
