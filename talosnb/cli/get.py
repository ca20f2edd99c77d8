"""talosnb get: symbols on each arch, with or without CONFIG_."""

from __future__ import annotations

import argparse

from talosnb.kconfig.info import symbol_info

from .common import Result, common_options, context, open_session


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Show symbols (with or without CONFIG_) on each arch."
    common_options(p)
    p.add_argument("symbols", nargs="+", metavar="SYMBOL")


def run(args: argparse.Namespace) -> Result:
    session = open_session(args)
    payload, text = context(session)
    payload["symbols"] = []
    missing = []
    for name in args.symbols:
        for arch, config in session.configs.items():
            if not config.has_symbol(name):
                missing.append((name, arch))
                entry = {"symbol": name.removeprefix("CONFIG_"), "arch": arch, "defined": False}
                payload["symbols"].append(entry)
                text += f"\n{name.removeprefix('CONFIG_')} [{arch}]: not defined in this tree for {arch}\n"
                continue
            info = symbol_info(config, name)
            info["defined"] = True
            payload["symbols"].append(info)
            text += (f"\n{info['symbol']} [{arch}] = {info['value']}  ({info['type']}"
                     f"{', visible' if info['visible'] != 'n' else ', not visible'})\n")
            if info["prompt"]:
                text += f"  prompt: {info['prompt']}\n"
            text += f"  defined at: {', '.join(info['defined_at'])}\n"
            if info["menu_path"]:
                text += f"  menu: {' > '.join(info['menu_path'])}\n"
            if info["depends_on"]:
                text += f"  depends on: {info['depends_on']}\n"
            if info["selected_by"]:
                text += f"  selected by: {', '.join(info['selected_by'])}\n"
            if info["implied_by"]:
                text += f"  implied by: {', '.join(info['implied_by'])}\n"
            for d in info["defaults"]:
                text += f"  default {d['value']}" + (f" if {d['if']}" if d["if"] else "") + "\n"
            if info["assignable"]:
                text += f"  assignable: {', '.join(info['assignable'])}\n"
    unknown_everywhere = {n for n, _ in missing
                          if sum(1 for m, _ in missing if m == n) == len(session.configs)}
    if unknown_everywhere:
        config = next(iter(session.configs.values()))
        config.symbol(min(unknown_everywhere))  # raises with "did you mean"
    return Result(payload, text, 0)
