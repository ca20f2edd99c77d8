"""talosnb get: symbols on each arch, with or without CONFIG_ (the symbol panel as text)."""

from __future__ import annotations

import argparse

from talosnb.analyses.symbol import symbol_panel
from talosnb.kconfig.info import symbol_info
from talosnb.present.text import panel_lines

from .common import ExitStatus, Result, common_options, context, open_session


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Show symbols (with or without CONFIG_) on each arch: value and config line, where the "
                     "value comes from, what can be assigned (or the range in force), the default that "
                     "applies, definitions with their prompts and menus, depends on / selects / selected by "
                     "with each symbol's value.")
    common_options(p)
    p.add_argument("symbols", nargs="+", metavar="SYMBOL")


def run(args: argparse.Namespace) -> Result:
    from talosnb.app.workspace import symbol_modules_of

    session = open_session(args)
    lists = session.load_module_lists(missing_ok=True) if session.inputs.talos is not None else {}
    payload, text = context(session)
    payload["symbols"] = []
    for name in args.symbols:
        name = name.removeprefix("CONFIG_")
        panel = symbol_panel(session.configs, name)   # raises (with "did you mean") if no arch defines it
        modules = symbol_modules_of(session, name, lists)
        for arch, side in panel.arches.items():
            if side is not None:
                side.modules = modules.get(arch)
        for arch, side in panel.arches.items():
            if side is None:
                payload["symbols"].append({"symbol": name, "arch": arch, "defined": False})
                text += f"\n{name} [{arch}]: not defined in this tree for {arch}\n"
                continue
            info = symbol_info(session.configs[arch], name)
            info["defined"] = True
            info["panel"] = side.as_dict()
            payload["symbols"].append(info)
            visible = ", visible" if side.visible != "n" else ", not visible"
            text += f"\n{name} [{arch}] = {side.value}  ({side.type}{visible})\n"
            text += "".join(f"  {line}\n" for line in panel_lines(side))
            if side.help and not panel.help:
                text += "  help:\n" + "".join(f"    {line}\n" for line in side.help.splitlines())
        if panel.help:
            text += "help:\n" + "".join(f"  {line}\n" for line in panel.help.splitlines())
    return Result(payload, text, ExitStatus.OK)
