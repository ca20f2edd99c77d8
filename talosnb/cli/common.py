"""What every command shares: the input options, opening the session, the output and exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talosnb.core import layout
from talosnb.core.errors import ExitStatus
from talosnb.present.terminal import terminal_safe

if TYPE_CHECKING:
    from collections.abc import Mapping

    from talosnb.app.plan import Options, Plan
    from talosnb.app.session import Session, TakenToolchain
    from talosnb.app.workspace import Workspace
    from talosnb.core.versions import VersionCheck
    from talosnb.inputs.resolve import Inputs


@dataclass
class Result:
    """What a command found or did: the same facts as text for people and a dict for --format json."""

    payload: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    status: ExitStatus = ExitStatus.OK

    def text(self) -> str:
        return self.body

    def as_dict(self) -> dict[str, Any]:
        return self.payload


def common_options(parser: argparse.ArgumentParser, *, formats: tuple[str, ...] = ("text", "json")) -> None:
    """The options every subcommand takes: inputs, --no-patches, --arch, --toolchain, --format, --progress."""
    inputs = parser.add_argument_group("inputs (default: $TALOSNB_PKGS/$TALOSNB_TALOS/$TALOSNB_KERNEL_SRC, "
                                       "else the embedded sample)")
    inputs.add_argument("--pkgs", metavar="DIR", help="siderolabs/pkgs checkout (kernel/build/config-ARCH, Pkgfile)")
    inputs.add_argument("--talos", metavar="DIR", help="siderolabs/talos checkout (hack/modules-ARCH.txt)")
    inputs.add_argument("--extensions", metavar="DIR",
                        help="siderolabs/extensions checkout (each extension's files/modules*.txt ships with the "
                             "base lists; default: $TALOSNB_EXTENSIONS, else none (the sample's own with the sample))")
    inputs.add_argument("--kernel-src", metavar="PATH",
                        help="kernel source folder or tarball (.tar.xz/.tar.gz); default: download the "
                             "Pkgfile's linux_version from kernel.org, verified")
    inputs.add_argument("--no-patches", action="store_true",
                        help="read the kernel tree as it is; default: with the pkgs checkout's "
                             "kernel/build/patches/*.patch applied (sorted, patch -p1), as the build does")
    parser.add_argument("--arch", default="all", choices=["amd64", "arm64", "all"], help="default: all")
    parser.add_argument("--toolchain", default="recorded", choices=["recorded", "host"],
                        help="recorded: answer compiler probes from what the config records (default); "
                             "host: run them with this machine's compiler, like make olddefconfig "
                             "(LLVM=, CC=, LD=, HOSTCC=, ... read from the environment)")
    parser.add_argument("--llvm", nargs="?", const="1", metavar="SUFFIX|PREFIX",
                        help="with --toolchain host: the toolchain `make LLVM=...` uses, over $LLVM: --llvm "
                             "(LLVM=1: clang, ld.lld, ...), --llvm=-22 (clang-22, ...), "
                             "--llvm=/usr/lib/llvm-22/bin/ (a folder, with the trailing /)")
    parser.add_argument("--toolchain-from", action="append", default=[], metavar="FILE",
                        help="recorded mode: take every toolchain answer another config records (CC_VERSION_TEXT, "
                             "CLANG_VERSION, PAHOLE_VERSION, CC_HAS_*, ...), as if the configs had been made with "
                             "that toolchain; what depends on them recomputes. A config file (for the arch its "
                             "header names; repeat for each arch) or a folder holding config-ARCH")
    parser.add_argument("--format", default="text", choices=list(formats), help="output format")
    parser.add_argument("--progress", action="store_true", help="show progress bars for long work")


def write_options(parser: argparse.ArgumentParser) -> None:
    """--dry-run, --force, --allow-drop, --allow-series-change, --follow-symlinks: for commands that
    write configs."""
    parser.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    parser.add_argument("--force", action="store_true", help="overwrite even if the file changed on disk")
    parser.add_argument("--allow-drop", action="store_true",
                        help="write even though lines for symbols this tree doesn't define are dropped")
    parser.add_argument("--allow-series-change", action="store_true",
                        help="rewrite a config made for another kernel series (or one that would lose most of "
                             "its lines) for this tree")
    follow_symlinks_option(parser)


def follow_symlinks_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--follow-symlinks", action="store_true",
                        help="write through a symlink even when it leads out of its checkout (or, for an output file, at all)")


def gate_options(parser: argparse.ArgumentParser) -> None:
    """--strict and --hardening-checker: for commands that change configs (the build gates' guard)."""
    parser.add_argument("--strict", action="store_true",
                        help="refuse a change that makes a build gate fail which passed before (default: "
                             "apply it with a warning); the hardening gate is then checked even if "
                             "kernel-hardening-checker has to be downloaded")
    parser.add_argument("--hardening-checker", metavar="DIR|TARBALL",
                        help="kernel-hardening-checker folder or .tar.gz for the hardening gate (default: "
                             "$TALOSNB_HARDENING_CHECKER, else the Pkgfile's kspp_ref when already downloaded)")
    parser.add_argument("--workload", action="append", default=[], metavar="NAME",
                        help="the workloads whose kernel requirements a change must not break (repeat or "
                             "comma-separate; default: those .talosnb.toml in the pkgs checkout names, else every profile "
                             "of talosnb requirements --list); a broken one is a warning, or with --strict a refusal")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def emit(args: argparse.Namespace, result: Result) -> None:
    if args.format == "json":
        json.dump(result.as_dict(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(terminal_safe(result.text()))


def open_session(args: argparse.Namespace) -> Session:
    from talosnb.app.session import Session

    return Session.open(args.pkgs, args.talos, args.kernel_src, extensions=getattr(args, "extensions", None),
                        arch=args.arch, toolchain=args.toolchain,
                        progress=args.progress, patches=not args.no_patches, llvm=getattr(args, "llvm", None),
                        toolchain_from=getattr(args, "toolchain_from", None) or ())


def open_workspace(args: argparse.Namespace) -> Workspace:
    """The Workspace over the inputs the options name: the rules every write obeys live there."""
    from talosnb.app.workspace import Workspace

    ws = Workspace(open_session(args), hardening_checker=getattr(args, "hardening_checker", None))
    # set/merge (the commands with --strict): the workloads their guard watches
    workloads = workload_names(getattr(args, "workload", None) or []) if hasattr(args, "strict") else []
    if workloads:
        from talosnb.analyses import requirements

        requirements.select(requirements.load_profiles(), workloads)     # an unknown name: exit 2
        ws.workloads = workloads
    return ws


def workload_names(values: list[str]) -> list[str]:
    """--workload NAME (repeated, or comma-separated) as a list."""
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def refuse_toolchain_options(args: argparse.Namespace, what: str) -> None:
    """--llvm and --toolchain-from where `what` doesn't take them: bad usage, not silently ignored."""
    from talosnb.core.errors import InputError

    given = [name for name, value in (("--llvm", getattr(args, "llvm", None)),
                                      ("--toolchain-from", getattr(args, "toolchain_from", None))) if value]
    if given:
        raise InputError(f"{' and '.join(given)} can't be used with {what}",
                         hint="leave them out; LLVM=, CC=, ... in the environment still choose the host toolchain")


def need_both_arches(args: argparse.Namespace) -> None:
    """A command that sets amd64 beside arm64 refuses an --arch that leaves one out (bad usage)."""
    from talosnb.core.errors import InputError

    if args.arch != "all":
        raise InputError(f"{args.command} compares amd64 with arm64; --arch {args.arch} leaves one out",
                         hint="drop --arch (or pass --arch all)")


def cli_name(name: str) -> str:
    """How an option reads on the command line: kernel_src -> --kernel-src."""
    return "--" + name.replace("_", "-")


def context(session: Session) -> tuple[dict, str]:
    """The facts every command starts its output with: tree, toolchain, patches, version warnings."""
    return inputs_context(session.inputs, session.toolchain, session.version_checks(), session.toolchain_taken)


def version_lines(checks: list[VersionCheck]) -> list[tuple[str, str]]:
    """(kind, message) of the version checks, the notes that say the same about several files
    (the Pkgfile and both configs' headers one stable release behind the tree) said once."""
    from talosnb.core.versions import grouped

    return [(c.kind, c.message) for c in grouped(checks)]


def inputs_context(inputs: Inputs, toolchain: str = "recorded", checks: list[VersionCheck] | None = None,
                   toolchain_taken: Mapping[str, TakenToolchain] | None = None) -> tuple[dict, str]:
    """:func:`context` from the inputs alone (a command that answered without loading the configs:
    the inputs' own version checks include the configs' headers)."""
    checks = list(inputs.checks) if checks is None else checks
    patches = inputs.patches
    assert inputs.kernel is not None   # a Session has one (Session.open checks)
    payload: dict[str, Any] = {"tree_version": inputs.kernel.version, "toolchain": toolchain,
               "version_checks": [{"kind": c.kind, "level": c.level, "message": c.message} for c in checks],
               "patches": patches.as_list() if patches is not None else None}
    lines = [(f"kernel tree {inputs.kernel.version} ({inputs.kernel.origin}), "
              f"toolchain {toolchain}")]
    if patches is not None and patches.patches:
        lines.append(f"patches: {patches.summary()}")
        lines += [f"note: {warning}" for warning in patches.warnings()]
    lines += [f"{'WARNING' if kind == 'mismatch' else 'note'}: {message}" for kind, message in version_lines(checks)]
    if toolchain_taken:
        from talosnb.present.edit import toolchain_lines

        payload["toolchain_from"] = {arch: t.as_dict() for arch, t in toolchain_taken.items()}
        for arch, taken in toolchain_taken.items():
            lines.append(f"{arch}: toolchain taken from {taken.source}")
            lines += [f"  {line}" for line in toolchain_lines(taken.changes)] or \
                ["  (it records the same toolchain answers)"]
    return payload, "\n".join(lines) + "\n"


def plan_options(args: argparse.Namespace) -> Options:
    """The options of a change (what each lifts: app.plan.Options) as the command line gives them."""
    from talosnb.app.plan import Options

    return Options(strict=getattr(args, "strict", False), allow_drop=getattr(args, "allow_drop", False),
                   force=getattr(args, "force", False), follow_symlinks=getattr(args, "follow_symlinks", False),
                   ignore_module_list=getattr(args, "ignore_module_list", False),
                   allow_series_change=getattr(args, "allow_series_change", False))


def render_edit(ws: Workspace, plan: Plan, *, dry_run: bool) -> Result:
    """Commit a set or merge plan (unless blocked or a dry run) and say what it did: exit 1 when it
    is blocked, or (merge) when a line did not take effect or names no symbol."""
    from talosnb.present.edit import outcome_text

    outcome = plan.outcome
    assert outcome is not None   # set, fix and merge plans have one
    blocked = plan.blocked
    written = {arch: False for arch in outcome}
    if blocked is None and not dry_run:
        saved = ws.commit(plan)
        names = {p.name for p in saved.written} if saved is not None else set()
        written = {arch: layout.config_name(arch) in names for arch in outcome}
    payload, text = context(ws.session)
    payload.update(outcome.as_dict())
    payload.update({"written": written, "blocked": blocked})
    sources = {arch: c.source for arch, c in ws.configs.items()} if outcome.mode == "set" else None
    text += outcome_text(outcome, written=written, dry_run=dry_run, sources=sources)
    if blocked:
        text += f"\nnothing written: {blocked}\n"
    elif dry_run and outcome.mode == "set":
        text += "\ndry run: nothing written\n"
    failed = bool(blocked) or (outcome.mode == "merge" and (bool(outcome.unknown) or any(outcome.unmet.values())))
    return Result(payload, text, ExitStatus.FINDINGS if failed else ExitStatus.OK)
