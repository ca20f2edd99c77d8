"""talosnb normalize: write config-ARCH back exactly as make olddefconfig would."""

from __future__ import annotations

import argparse
from pathlib import Path

from talosnb.core.arches import header_arch
from talosnb.core.errors import TalosnbError
from talosnb.kconfig.config import header_version
from talosnb.kconfig.diff import config_diff

from .common import Result, common_options, context, open_session, write_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Load each config-ARCH against the kernel tree and write it back exactly as the kernel's "
                     "`make olddefconfig` would (toolchain lines kept in recorded mode). Prints the changes in "
                     "scripts/diffconfig notation.")
    common_options(p)
    p.add_argument("--output", metavar="FILE", help="write here instead of in place (one --arch only)")
    write_options(p)


def _refuse_other_arch_output(output: str, arch: str) -> None:
    """--output over an existing config of the other arch would silently replace it."""
    path = Path(output)
    if not path.is_file():
        return
    try:
        header = header_version(path.read_text(errors="replace"))
    except OSError:
        return
    if header and header[0] != header_arch(arch):
        raise TalosnbError(f"{output} holds a Linux/{header[0]} config, and this is the {arch} one; not "
                           "overwriting it", where=output, hint="check --output and --arch, or pass --force")


def run(args: argparse.Namespace) -> Result:
    if args.output and args.arch == "all":
        raise TalosnbError("--output needs one --arch", hint="add --arch amd64 or --arch arm64")
    session = open_session(args)
    if args.output and not args.force:
        _refuse_other_arch_output(args.output, args.arch)
    payload, text = context(session)
    payload["configs"] = {}
    status = 0
    for arch, config in session.configs.items():
        new_text = config.text()
        changes = config_diff(config.original_text, new_text)
        dropped = [n for n in config.notes if n.kind == "unknown-symbol"]
        target = args.output or config.source
        written = False
        refused = None
        if dropped and not args.allow_drop:
            refused = (f"{len(dropped)} line(s) name symbols this {session.tree_version} tree doesn't "
                       "define; not writing (pass --allow-drop to drop them)")
            status = 1
        elif not args.dry_run:
            written = config.write(target, force=args.force)
        payload["configs"][arch] = {
            "file": str(target), "written": written, "refused": refused,
            "changes": [{"symbol": c.symbol, "old": c.old, "new": c.new, "kind": c.kind} for c in changes],
            "notes": [{"where": n.where, "symbol": n.symbol, "kind": n.kind, "message": n.message}
                      for n in config.notes],
        }
        text += f"\nconfig-{arch}: {len(changes)} change(s)"
        text += " (dry run)\n" if args.dry_run else (" written to " + str(target) + "\n" if written
                                                   else ", nothing written\n")
        text += "".join(f"  {c}\n" for c in changes)
        text += "".join(f"  {n.where}: {n.message}\n" for n in config.notes)
        if refused:
            text += f"  REFUSED: {refused}\n"
    return Result(payload, text, status)
