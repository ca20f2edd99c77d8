"""talosnb normalize: write config-ARCH back exactly as make olddefconfig would."""

from __future__ import annotations

import argparse
from pathlib import Path

from talosnb.app.plan import Request
from talosnb.core import layout
from talosnb.core.errors import TalosnbError
from talosnb.kconfig.diff import config_diff, line_endings_change

from .common import ExitStatus, Result, common_options, context, open_workspace, plan_options, write_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Load each config-ARCH against the kernel tree and write it back exactly as the kernel's "
                     "`make olddefconfig` would (toolchain lines kept in recorded mode). Prints the changes in "
                     "scripts/diffconfig notation.")
    common_options(p)
    p.add_argument("--output", metavar="FILE", help="write here instead of in place (one --arch only)")
    write_options(p)


def run(args: argparse.Namespace) -> Result:
    if args.output and args.arch == "all":
        raise TalosnbError("--output needs one --arch", hint="add --arch amd64 or --arch arm64")
    ws = open_workspace(args)
    session = ws.session
    payload, text = context(session)
    payload["configs"] = {}
    outputs = ((args.arch, Path(args.output)),) if args.output else ()
    request = Request("save", names=tuple(layout.config_name(arch) for arch in session.configs), outputs=outputs,
                      write=True, dry_run=args.dry_run)
    plan = ws.propose(request, plan_options(args))
    dropped = plan.verdict("dropped-lines")
    refused = {f["arch"]: f["message"] for f in dropped.findings} if dropped is not None and dropped.refuses else {}
    texts = {p.arch: p.content for p in plan.files}
    changes = {arch: config_diff(config.original_text, texts.get(arch, config.original_text))
               for arch, config in session.configs.items()}
    endings = {arch: line_endings_change(config.original_text, texts.get(arch, config.original_text))
               for arch, config in session.configs.items()}
    written_files: set[str] = set()
    if not args.dry_run and not refused:
        saved = ws.commit(plan)
        written_files = {p.name for p in saved.written} if saved is not None else set()
    for arch, config in session.configs.items():
        target = args.output or config.source
        written = layout.config_name(arch) in written_files
        why = refused.get(arch)
        ending = endings[arch]
        payload["configs"][arch] = {
            "file": str(target), "written": written, "refused": why,
            "changes": [{"symbol": c.symbol, "old": c.old, "new": c.new, "kind": c.kind} for c in changes[arch]],
            "line_endings": ending.as_dict() if ending is not None else None,
            "notes": [{"where": n.where, "symbol": n.symbol, "kind": n.kind, "message": n.message}
                      for n in config.notes],
        }
        shown = [*changes[arch], *([ending] if ending is not None else [])]
        text += f"\n{layout.config_name(arch)}: {len(shown)} change(s)"
        text += " (dry run)\n" if args.dry_run else (" written to " + str(target) + "\n" if written
                                                   else ", nothing written\n")
        text += "".join(f"  {c}\n" for c in shown)
        text += "".join(f"  {n.where}: {n.message}\n" for n in config.notes)
        if why:
            text += f"  REFUSED: {why}\n"
    return Result(payload, text, ExitStatus.FINDINGS if any(refused.values()) else ExitStatus.OK)
