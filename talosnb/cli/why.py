"""talosnb why: where a symbol's value comes from, or why a value can't be had and a verified fix."""

from __future__ import annotations

import argparse

from talosnb.analyses.edit import editors_of, parse_assignment, why_symbol
from talosnb.analyses.symbol import arch_panel
from talosnb.present.edit import why_record, why_text

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
    # a question, not an edit: editors of the configs as loaded, dropped with the answer
    answers = why_symbol(editors_of(session.configs), name, value, fix_budget=args.budget)
    payload["symbols"] = []
    status = ExitStatus.OK
    for arch, answer in answers.items():
        panel = None
        if answer is not None:
            config = session.configs[arch]
            panel = arch_panel(config, name)
            if panel is None:   # transitional on this arch
                raise config.transitional_error(name)
            if answer.possible is False:
                status = ExitStatus.FINDINGS
        payload["symbols"].append(why_record(name, arch, answer))
        text += why_text(name, arch, answer, panel)
    return Result(payload, text, status)
