"""talosnb check: the module lists against the configs and the Kbuild files."""

from __future__ import annotations

import argparse

from talosnb.analyses.edit import fix_verifier
from talosnb.analyses.modules import findings_frame

from .common import Result, common_options, context, open_session


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Every .ko in the talos module lists must be built as a module (=m, with every directory "
                     "guard on) by the config of its arch. Exits 1 when an error-level finding exists.")
    common_options(p)
    p.add_argument("--info", action="store_true", help="also list informational findings")


def run(args: argparse.Namespace) -> Result:

    session = open_session(args)
    session.require_talos()
    payload, text = context(session)
    for arch in session.configs:
        session.kbuild_map(arch, progress=args.progress)
    findings = session.check_modules(verify_fix=fix_verifier(session))
    frame = findings_frame(findings)
    errors = int((frame["level"] == "error").sum()) if len(frame) else 0
    shown = frame if args.info or not len(frame) else frame[frame["level"] != "info"]
    payload["findings"] = shown.to_dict(orient="records")
    payload["errors"] = errors
    hidden = len(frame) - len(shown)
    text += (f"\n{errors} error(s), {len(frame)} finding(s) in all"
             + (f" ({hidden} informational ones not shown: --info lists them)" if hidden else "") + "\n")
    for row in shown.itertuples():
        text += f"{row.level:7} {row.arch:5} {row.kind:16} {row.entry or ''}: {row.message}\n"
        if isinstance(row.where, str) and row.where:
            text += f"        at {row.where}\n"
        if row.fix:
            text += f"        fix: {row.fix}\n"
    return Result(payload, text, 1 if errors else 0)
