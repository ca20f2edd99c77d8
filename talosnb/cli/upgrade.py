"""talosnb upgrade: move the configs and module lists to a new kernel, with everything that changes explained."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from talosnb.analyses.upgrade import SECTIONS

from .common import ExitStatus, Result, common_options, positive, refuse_toolchain_options

if TYPE_CHECKING:
    from talosnb.app.workspace import PendingFile


def add_arguments(p: argparse.ArgumentParser) -> None:
    import textwrap

    p.description = textwrap.fill(
        "Load each config-ARCH against the tree the checkout uses now and against a new tree, and report what "
        "the bump changes: choices not honoured (lines the config sets that the new tree writes differently, "
        "with the reason in the new tree and a verified fix), new symbols (as make listnewconfig, per arch side "
        "by side), removed symbols, the module lists (moved, renamed, split, gone, not built; a proposed edit "
        "in LC_ALL=C order), the pkgs patches on the new tree and the Pkgfile bump. --write applies it all: "
        "the configs normalized on the new tree, the module-list edits, the Pkgfile's linux_* lines. "
        "Exit 1 when the report has errors or writing is refused.", 100)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples:\n"
                "  talosnb upgrade                                   the embedded sample: 6.12.0 -> 7.2.0\n"
                "  talosnb upgrade --pkgs ~/src/pkgs --talos ~/src/talos --kernel-src linux-6.12.117.tar.xz \\\n"
                "      --to-kernel-src linux-7.2.12.tar.xz\n"
                "  talosnb upgrade --to-version 7.2.12 --sha256 HASH --sha512 HASH --write\n"
                "  talosnb upgrade --no-current-tree --to-kernel-src ~/src/linux --format json\n"
                "  talosnb upgrade --write --reject amd64:not-built:kernel/drivers/net/dummy.ko")
    common_options(p)
    new = p.add_argument_group("the new kernel")
    new.add_argument("--to-kernel-src", metavar="PATH", help="the new kernel's source folder or tarball")
    new.add_argument("--to-version", metavar="X.Y.Z",
                     help="download linux-X.Y.Z.tar.xz from kernel.org (needs --sha256), verified and cached")
    new.add_argument("--sha256", metavar="HASH", help="the new tarball's sha256 (checked; goes to the Pkgfile)")
    new.add_argument("--sha512", metavar="HASH", help="the new tarball's sha512 (checked; goes to the Pkgfile)")
    p.add_argument("--no-current-tree", action="store_true",
                   help="don't load the current tree (--kernel-src or the Pkgfile's download): the report is made "
                        "from the configs alone and says what it could not compute")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="report only, write nothing (the default)")
    mode.add_argument("--write", action="store_true",
                      help="write the configs, the module lists and the Pkgfile (all or nothing)")
    p.add_argument("--reject", action="append", default=[], metavar="KEY",
                   help="leave out this proposed module-list edit (ARCH:KIND:ENTRY, as the report lists them); "
                        "may be repeated")
    p.add_argument("--force", action="store_true", help="overwrite files changed on disk since they were read")
    p.add_argument("--no-fix", action="store_true", help="don't search for verified fixes")
    p.add_argument("--fix-seconds", type=float, default=1.0, metavar="S",
                   help="time the verified-fix search may take over the whole report (default 1)")
    p.add_argument("--section", action="append", choices=SECTIONS, default=[],
                   help="show only these sections (text output); may be repeated")
    p.add_argument("--info", action="store_true", help="also list informational rows")
    p.add_argument("--limit", type=positive, metavar="N", help="show at most N rows per section")


class _TerminalSteps:
    """Loading progress on stderr (tqdm), one tick per tree parsed and Kbuild map built."""

    def __init__(self) -> None:
        self.bar = None

    def start(self, total: int) -> None:
        from tqdm import tqdm
        self.bar = tqdm(total=total, desc="upgrade", unit="step", leave=False)

    def step(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text[:60])
            self.bar.update(1)

    def done(self, text: str) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> Result:
    from talosnb.app.upgrade import Upgrade

    refuse_toolchain_options(args, "upgrade (it loads two trees)")
    steps = _TerminalSteps() if args.progress else None
    upgrade = Upgrade.open(args.pkgs, args.talos, args.kernel_src, to_kernel_src=args.to_kernel_src,
                           to_version=args.to_version, sha256=args.sha256, sha512=args.sha512,
                           current_tree=not args.no_current_tree, arch=args.arch, toolchain=args.toolchain,
                           scratch=False, patches=not args.no_patches, steps=steps, progress=args.progress,
                           extensions=getattr(args, "extensions", None))
    if steps is not None:
        steps.step("working out the report")
    report = upgrade.report(fixes=not args.no_fix, fix_seconds=args.fix_seconds)
    if steps is not None:
        steps.done("")
    keys = {e.key for e in report.edits()}
    unknown = [k for k in args.reject if k not in keys]
    if unknown:
        from talosnb.core.errors import InputError
        raise InputError(f"--reject {unknown[0]}: no proposed module-list edit has that key",
                         hint="the keys are listed as 'edit ARCH:KIND:ENTRY' in the report (or 'key' in its JSON)")
    accepted = [k for k in keys if k not in set(args.reject)]
    from talosnb.present.upgrade import upgrade_json, upgrade_text
    from talosnb.present.workspace import save_text

    payload = upgrade_json(report)
    payload.update({"toolchain": upgrade.workspace.session.toolchain, "written": [], "rejected": sorted(args.reject)})
    text = upgrade_text(report, info=args.info, limit=args.limit, sections=args.section or None)
    status = ExitStatus.FINDINGS if report.errors() else ExitStatus.OK
    if args.write:
        saved = upgrade.write(accepted=accepted, force=args.force, report=report)
        payload["written"] = [{"name": p.name, "label": p.label, "path": str(p.path)} for p in saved.written]
        text += "\n" + save_text(saved)
    else:
        pending = [p for p in upgrade.preview(accepted=accepted, report=report) if p.changed]
        payload["pending"] = [{"name": p.name, "label": p.label, "lines": p.lines} for p in pending]
        text += "\ndry run: nothing written; --write would write " + (
            ", ".join(f"{p.name} ({_changes(p)})" for p in pending) or "nothing") + "\n"
    # The process ends once this is printed: collecting the parsed trees' cycles at exit would take
    # seconds (four trees of ~10^6 objects), and nothing needs the memory back before then.
    import gc
    gc.freeze()
    return Result(payload, text, status)


def _changes(pending: PendingFile) -> str:
    if pending.kind == "config":
        return f"{len(pending.lines)} line(s) change"
    count = sum(1 for line in pending.lines if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    return f"{count} line(s) added/removed"
