"""talosnb requirements: what the cluster's workloads need from the kernel config, checked per arch."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .common import ExitStatus, Result, common_options, context, open_workspace, workload_names

if TYPE_CHECKING:
    from talosnb.app.answers import Answer, AnswerKey
    from talosnb.app.session import Session


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Check the configs against the kernel requirements the workloads publish (Kubernetes' "
        "system-validators, Cilium's system requirements, Istio's platform requirements, Longhorn, "
        "Rook/Ceph, KubeVirt, Kata, CRIU, Mayastor, containerd/Docker): per arch, each requirement met, "
        "met as a module (and whether hack/modules-ARCH.txt ships its .ko), not met (why, file:line, and "
        "a verified fix), or stale (the tree no longer has the symbol or module). Exits 1 when a required "
        "one is not met.")
    p.epilog = ("The profiles are data in talosnb/profiles/*.toml, one file per workload, each requirement "
                "with its source URL and section; --list shows them.")
    common_options(p)
    p.add_argument("--workload", action="append", default=[], metavar="NAME",
                   help="a workload to check (repeat, or comma-separate; default: all)")
    p.add_argument("--feature", action="append", default=[], metavar="NAME",
                   help="check only these optional features besides what every install needs (repeat or "
                        "comma-separate; 'base': none; default: every feature)")
    p.add_argument("--list", action="store_true", help="list the workloads, their features and sources")
    p.add_argument("--all", action="store_true", help="also list the requirements that are met")
    p.add_argument("--profiles", metavar="DIR", help="a folder of profiles to use instead of talosnb's own")


def run(args: argparse.Namespace) -> Result:
    workloads, features = workload_names(args.workload), workload_names(args.feature)
    if args.list:
        from talosnb.analyses import requirements as rq

        profiles = rq.load_profiles(args.profiles)
        rq.select(profiles, workloads or None, features or None)    # unknown names: exit 2
        return _listing(profiles, workloads or sorted(profiles))
    from talosnb.app import answers

    answer = answers.remembered(_answer_key(args, workloads, features),
                                lambda: _answer(args, workloads, features))
    return Result(answer.payload, answer.text, answer.status)


def _answer_key(args: argparse.Namespace, workloads: list[str], features: list[str]) -> AnswerKey | None:
    """Where the answer for these inputs and options is kept (None: not kept, a host toolchain
    answers probes, or a toolchain is taken from another config)."""
    from pathlib import Path

    from talosnb.app.answers import answer_key
    from talosnb.core.arches import parse_arches
    from talosnb.inputs.resolve import resolve_inputs

    if args.toolchain != "recorded" or args.toolchain_from or args.llvm:
        return None
    inputs = resolve_inputs(args.pkgs, args.talos, args.kernel_src, progress=args.progress,
                            patches=not args.no_patches, extensions=args.extensions)
    profiles = sorted(Path(args.profiles).glob("*.toml")) if args.profiles else []
    options = {"workloads": workloads, "features": features, "all": args.all, "profiles": args.profiles}
    return answer_key("requirements", inputs, parse_arches(args.arch), options, extra_files=profiles)


def _answer(args: argparse.Namespace, workloads: list[str], features: list[str]) -> tuple[Answer, Session]:
    from talosnb.analyses import requirements as rq
    from talosnb.app.answers import Answer

    # a name no profile has: said before any tree is opened (exit 2)
    rq.select(rq.load_profiles(args.profiles), workloads or None, features or None)
    ws = open_workspace(args)
    report = ws.requirements(workloads or None, features or None, profiles_dir=args.profiles)
    payload, text = context(ws.session)
    payload.update(report.as_dict())
    rows = report.rows()
    counts = report.counts()
    text += "requirements of " + ", ".join(report.workloads) + (f" (features: {', '.join(features)})" if features else "") + "\n"
    for arch, per in counts.items():
        text += (f"  {arch}: " + ", ".join(f"{n} {status}" for status, n in per.items() if n) + "\n")
    for workload in report.workloads:
        mine = [r for r in rows if r["workload"] == workload]
        text += _workload_text(workload, mine, show_met=args.all)
    failing = sum(1 for s in report.statuses if s.failing and s.requirement.required)
    text += (f"\n{failing} required requirement(s) not met\n" if failing
             else "\nevery required requirement is met\n")
    return Answer(payload, text, ExitStatus.FINDINGS if report.failed else ExitStatus.OK), ws.session


def _workload_text(workload: str, rows: list[dict], *, show_met: bool) -> str:
    """One workload's requirements: what fails first (per arch, with why, where and the fix), then
    the stale ones once for both arches, then (with --all) what is met."""
    failing = [r for r in rows if r["status"] in ("not-met", "not-shipped")]
    stale: dict[tuple, list[str]] = {}
    for r in rows:
        if r["status"] == "stale":
            stale.setdefault((r["requirement"], r["feature"], r["required"], r["reason"], r["profile"]), []).append(
                r["arch"])
    met = [r for r in rows if r["status"] in ("met", "met-module")] if show_met else []
    if not (failing or stale or met):
        return ""
    out = f"\n{workload}:\n"
    for r in failing:
        out += (f"  {r['status']:12} {r['arch']:5} {r['requirement']}{_feature(r)}: {r['reason']}\n"
                + (f"      at {r['where']}\n" if r["where"] else "")
                + (f"      fix: {r['fix']}\n" if r["fix"] else "")
                + f"      source: {r['source']}, {r['section']} ({r['url']})\n")
    for (label, feature, required, reason, profile), arches in stale.items():
        mark = "" if required else f" [{feature}]"
        out += f"  stale        {','.join(arches):5} {label}{mark}: {reason} (listed at {profile})\n"
    for r in met:
        mods = f"; {', '.join(r['modules'])}" if r["modules"] else ""
        out += f"  {r['status']:12} {r['arch']:5} {r['requirement']}{_feature(r)} ({r['symbol']}={r['value']}{mods})\n"
    return out


def _feature(row: dict) -> str:
    return "" if row["required"] else f" [{row['feature']}]"


def _listing(profiles: dict, names: list[str]) -> Result:
    text = ""
    listed: list[dict[str, Any]] = []
    for name in names:
        profile = profiles[name]
        counts: dict[str, int] = {}
        for r in profile.requirements:
            counts[r.feature] = counts.get(r.feature, 0) + 1
        text += f"{name}: {profile.title} ({profile.versions}); {len(profile.requirements)} requirement(s)\n"
        text += f"  base: {counts.get('base', 0)} required\n"
        for feature, title in profile.features.items():
            text += f"  feature {feature}: {title} ({counts.get(feature, 0)})\n"
        for source in profile.sources.values():
            text += f"  source: {source.title} {source.url}\n"
        listed.append({
            "workload": name, "title": profile.title, "versions": profile.versions, "profile": str(profile.path),
            "requirements": len(profile.requirements), "features": profile.features,
            "sources": [{"key": s.key, "title": s.title, "url": s.url} for s in profile.sources.values()]})
    return Result({"workloads": listed}, text, ExitStatus.OK)
