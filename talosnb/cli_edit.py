"""talosnb set, merge, why, search, diff: editing configs with the kernel's semantics."""

from __future__ import annotations

import argparse

from .errors import InputError, TalosnbError
from .fileio import read_text


def register(sub) -> dict:
    from .cli import common_options

    p = sub.add_parser(
        "set", help="set symbols (SYMBOL=VALUE...) on one or both arches, write config-ARCH, print the cascade",
        description="Apply the assignments as one batch, exactly as merging them into the .config and "
                    "running `make olddefconfig` would, and write config-ARCH. If any assignment can't take "
                    "effect on an arch, nothing is written; the reason is shown as a tree of unmet "
                    "conditions with file:line, with a fix verified on a copy. Exit 1 on refusal.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  talosnb set BLK_DEV_NBD=m\n  talosnb set --arch arm64 CONFIG_NR_CPUS=512 "
               "'LOCALVERSION=\"-talos\"'\n  talosnb set --dry-run DEBUG_INFO_BTF=n")
    common_options(p)
    p.add_argument("assignments", nargs="+", metavar="SYMBOL=VALUE")
    _write_options(p)
    p.add_argument("--no-fix", action="store_true", help="on refusal, don't search for a verified fix")
    p.add_argument("--add-to-module-list", action="store_true",
                   help="add the .ko files the new =m symbols build to hack/modules-ARCH.txt (needs --talos)")
    p.add_argument("--ignore-module-list", action="store_true",
                   help="write even if the change breaks the module list (a listed .ko no longer built as =m)")

    p = sub.add_parser(
        "merge", help="apply config fragments as merge_config.sh + olddefconfig do, write, list unmet values",
        description="Apply fragment files (CONFIG_X=... and '# CONFIG_X is not set' lines) in order, as the "
                    "kernel's scripts/kconfig/merge_config.sh followed by olddefconfig does, and write "
                    "config-ARCH. Every requested value that did not end up in the result is listed "
                    "(exit 1), like merge_config.sh's warnings.")
    common_options(p)
    p.add_argument("fragments", nargs="+", metavar="FRAGMENT")
    _write_options(p)

    p = sub.add_parser(
        "why", help="a symbol's value and why; or why SYMBOL=VALUE can't be had, with a verified fix",
        description="Without a value: the symbol's value per arch and where it comes from (defaults, "
                    "select, visibility). With SYMBOL=VALUE: whether it can take effect, what else would "
                    "change, and if it can't, the unmet conditions and a verified fix.")
    common_options(p)
    p.add_argument("query", metavar="SYMBOL[=VALUE]")
    p.add_argument("--budget", type=_positive, default=200,
                   help="fix search: most candidates to try (default 200)")

    p = sub.add_parser("search", help="find symbols by name, prompt, help text or module",
                       description="Ranked: exact name, name prefix, name substring, prompt, help, module "
                                   "(.ko name or source path, via the Kbuild files), similar names.")
    common_options(p)
    p.add_argument("text", nargs="+")
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--no-modules", action="store_true", help="don't read the Kbuild files (faster)")

    p = sub.add_parser("diff", help="what normalize would change, or config-ARCH against another file",
                       description="Without --against: the lines config-ARCH would change when written by "
                                   "talosnb (make olddefconfig). With --against FILE: FILE compared with "
                                   "config-ARCH, in scripts/diffconfig notation (-removed, +added, old -> new).")
    common_options(p)
    p.add_argument("--against", metavar="FILE", help="a .config to compare with (needs one --arch)")
    return {"set": cmd_set, "merge": cmd_merge, "why": cmd_why, "search": cmd_search, "diff": cmd_diff}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _write_options(p) -> None:
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    p.add_argument("--force", action="store_true", help="overwrite even if the file changed on disk")
    p.add_argument("--allow-drop", action="store_true",
                   help="write even though lines for symbols this tree doesn't define are dropped")


def _payload_changes(changes) -> dict:
    return {arch: change.as_dict() for arch, change in changes.items()}


def _write_all(session, changes, args) -> dict[str, bool]:
    """Write every changed config, or none: all files are checked for changes on disk first."""
    from .fileio import check_unchanged
    if args.dry_run:
        return {arch: False for arch in changes}
    todo = [arch for arch, change in changes.items() if change.applied and change.cascade]
    if not args.force:
        check_unchanged([session.configs[arch].snapshot for arch in todo])
    return {arch: arch in todo and session.configs[arch].write(force=args.force) for arch in changes}


def _undo_dry_run(session, changes) -> None:
    from .edit import editors_for
    editors = editors_for(session)
    for arch, change in changes.items():
        if change.applied and change.cascade:
            editors[arch].undo()


def cmd_set(args) -> int:
    from .cli import context, emit, open_session
    from .edit import parse_assignment, set_symbols

    assignments = [parse_assignment(a, where=f"argument {i}") for i, a in enumerate(args.assignments, 1)]
    session = open_session(args)
    if args.add_to_module_list and session.inputs.talos is None:
        raise TalosnbError("--add-to-module-list needs a talos checkout; nothing was written",
                           hint="pass --talos (a siderolabs/talos checkout) or set TALOSNB_TALOS")
    drops = _drops(session)
    checker = _ModuleListGuard(session)
    drift = _drift(session)
    # applied in memory (dry run or not), so the module-list check sees the result; undone for --dry-run
    changes = set_symbols(session, assignments, mode="set", fix=not args.no_fix, atomic=True)
    refused = any(c.refusals for c in changes.values())
    broken = [] if refused else checker.new_errors()
    if args.dry_run and not refused:
        _undo_dry_run(session, changes)
    blocked = None
    if refused:
        blocked = "an assignment can't take effect (see above)"
    elif broken and not args.ignore_module_list:
        blocked = ("hack/modules-ARCH.txt lists modules this change stops building as =m; remove them first "
                   "(talosnb modules remove ...) or pass --ignore-module-list")
    elif drops and not args.allow_drop:
        blocked = drops
    payload, text = context(session)
    modules, written = {}, {arch: False for arch in changes}
    if not blocked and not args.dry_run:
        modules = _new_modules(session, changes, args)   # checks the lists before anything is written
        written = _write_all(session, changes, args)
        _save_modules(modules, args)
    elif not refused:
        modules = _new_modules(session, changes, args, preview=True)
    payload.update({"changes": _payload_changes(changes), "written": written, "refused": refused,
                    "modules": {a: {k: v for k, v in m.items() if k != "list"} for a, m in modules.items()},
                    "module_list_errors": broken, "blocked": blocked,
                    "normalized": {arch: [str(c) for c in d] for arch, d in drift.items()}})
    for arch, change in changes.items():
        text += "\n" + change.text() + "\n"
        if written.get(arch):
            text += f"  written to {session.configs[arch].source}\n"
        if drift.get(arch) and not refused:
            text += (f"  writing also normalizes {len(drift[arch])} line(s) as make olddefconfig would "
                     "(the tree differs from the one the config was made with):\n")
            text += "".join(f"    {c}\n" for c in drift[arch])
        for entry in modules.get(arch, {}).get("built", []):
            text += f"  now builds {entry}\n"
        for entry in modules.get(arch, {}).get("added", []):
            text += f"  {'would add' if args.dry_run else 'added'} to the module list: {entry}\n"
    for finding in broken:
        text += f"\nmodule list: {finding['arch']}: {finding['message']}"
        if finding.get("fix"):
            text += f"\n  fix: {finding['fix']}"
        text += "\n"
    if refused:
        text += _fix_notes(session, checker, changes)
    if blocked:
        text += f"\nnothing written: {blocked}\n"
    elif args.dry_run:
        text += "\ndry run: nothing written\n"
    emit(args, payload, text)
    return 1 if blocked else 0


def _fix_breaks_lists(session, checker, arch: str, refusal) -> list[str]:
    """Module-list errors that applying a refusal's verified fix (with its assignment) would cause."""
    from .edit import editors_for
    fix = refusal.fix
    if not checker.enabled or fix is None or not fix.found:
        return []
    editor = editors_for(session)[arch]
    change = editor.set([*fix.assignments, refusal.assignment], fix=False)
    try:
        return [f["message"] for f in checker.new_errors() if f["arch"] == arch]
    finally:
        if change.applied and change.cascade:
            editor.undo()


def _fix_notes(session, checker, changes) -> str:
    text = ""
    for arch, change in changes.items():
        for refusal in change.refusals:
            broken = _fix_breaks_lists(session, checker, arch, refusal)
            if broken:
                text += (f"\nnote: on {arch}, the fix for {refusal.assignment} would also break "
                         f"hack/modules-{arch}.txt:\n" + "".join(f"  {m}\n" for m in broken))
    return text


def _drops(session) -> str | None:
    """Why writing would lose lines (symbols the tree doesn't define), for every arch; None if it wouldn't."""
    parts = []
    for arch, config in session.configs.items():
        dropped = [n for n in config.notes if n.kind == "unknown-symbol"]
        if dropped:
            names = ", ".join(n.symbol for n in dropped[:6]) + (" ..." if len(dropped) > 6 else "")
            parts.append(f"config-{arch} has {len(dropped)} line(s) for symbols the {session.tree_version} "
                         f"tree doesn't define ({names}; first at {dropped[0].where})")
    if not parts:
        return None
    return ("; ".join(parts) + ". Writing would drop them: use the kernel tree the configs were made for "
            "(--kernel-src), or pass --allow-drop")


class _ModuleListGuard:
    """Module-list errors a config change introduces (nothing to do without a talos checkout)."""

    def __init__(self, session) -> None:
        self.session = session
        self.enabled = session.inputs.talos is not None
        # the lists don't change while a config is edited: read them once
        self.lists = session.load_module_lists(missing_ok=True) if self.enabled else {}
        self.before = self._errors()

    def _findings(self) -> list[dict]:
        from .edit import fix_verifier
        from .modules import findings_frame
        if not self.lists:
            return []
        frame = findings_frame(self.session.check_modules(self.lists, verify_fix=fix_verifier(self.session),
                                                          unlisted=False))
        return frame[frame["level"] == "error"].to_dict(orient="records") if len(frame) else []

    def _errors(self) -> set:
        return {(f["arch"], f["kind"], f["entry"]) for f in self._findings()}

    def new_errors(self) -> list[dict]:
        return [f for f in self._findings() if (f["arch"], f["kind"], f["entry"]) not in self.before]


def _drift(session) -> dict:
    """Lines each config changes just by being written (as make olddefconfig would), before any edit."""
    from .kconfig.diff import config_diff
    return {arch: config_diff(config.original_text, config.text()) for arch, config in session.configs.items()}


def _new_modules(session, changes, args, preview: bool = False) -> dict:
    """The .ko files each symbol that became =m now builds; with --add-to-module-list, the list edit."""
    newly_m = {arch: [c.symbol for c in change.cascade if c.new == "m" and change.applied]
               for arch, change in changes.items()}
    if not any(newly_m.values()):
        return {}
    from .modules import ModuleList, modules_for_symbols
    out = {}
    for arch, symbols in newly_m.items():
        if not symbols:
            continue
        config = session.configs[arch]
        kmap = session.kbuild_map(arch)
        values = config.written()
        if preview:
            # the change was undone (dry run): the values as they would be written
            values = {**values, **{c.symbol: c.new for c in changes[arch].cascade if c.new is not None}}
        built = modules_for_symbols(kmap, values, symbols)
        entries = sorted({ko for kos in built.values() for ko in kos})
        out[arch] = {"built": entries, "added": []}
        if args.add_to_module_list and entries and session.inputs.talos is not None:
            module_list = ModuleList.load(session.inputs.talos.module_list_path(arch), arch)
            out[arch]["added"] = [e for e in entries if module_list.add(e)]
            out[arch]["list"] = module_list
    if not preview and not args.force:
        from .fileio import check_unchanged
        check_unchanged([m["list"].snapshot for m in out.values() if m.get("added") and "list" in m
                         and getattr(m["list"], "snapshot", None) is not None])
    return out


def _save_modules(modules: dict, args) -> None:
    for entry in modules.values():
        if entry.get("added"):
            entry["list"].save(force=args.force)


def cmd_merge(args) -> int:
    from .cli import context, emit, open_session
    from .edit import parse_fragment, set_symbols

    assignments, problems = [], []
    for path in args.fragments:
        text, _snapshot = read_text(path, what="config fragment")
        got, bad = parse_fragment(text, path, collect=True)
        assignments += got
        problems += bad
    if problems:
        raise InputError(f"{len(problems)} line(s) in the fragments are not assignments:\n  "
                         + "\n  ".join(problems[:20]),
                         hint="a fragment has CONFIG_X=value and '# CONFIG_X is not set' lines; nothing was written")
    if not assignments:
        raise InputError("the fragments hold no assignments", where=", ".join(args.fragments),
                         hint="a fragment has CONFIG_X=value and '# CONFIG_X is not set' lines")
    session = open_session(args)
    drops = _drops(session)
    redefined = _redefinitions(assignments)
    # like merge_config.sh: a symbol the tree doesn't define is reported, not fatal
    unknown = [a for a in assignments
               if not any(c.has_symbol(a.symbol) for c in session.configs.values())]
    known = [a for a in assignments if a not in unknown]
    changes = set_symbols(session, known, mode="merge", fix=False) if known else {}
    if args.dry_run:
        _undo_dry_run(session, changes)
    blocked = drops if drops and not args.allow_drop else None
    written = ({arch: False for arch in changes} if blocked or args.dry_run
               else _write_all(session, changes, args))
    payload, text = context(session)
    unmet = {arch: [r.as_dict() for r in change.refusals] for arch, change in changes.items()}
    payload.update({"changes": _payload_changes(changes), "written": written, "unmet": unmet,
                    "unknown": [{"symbol": a.symbol, "where": a.where} for a in unknown],
                    "redefined": redefined, "blocked": blocked})
    for line in redefined:
        text += f"\nnote: {line}"
    for a in unknown:
        text += (f"\nWARNING: {a.where}: CONFIG_{a.symbol} is not defined in the {session.tree_version} tree "
                 "on any arch; ignored")
    if redefined or unknown:
        text += "\n"
    for arch, change in changes.items():
        text += f"\n{arch} ({change.tree_version}): {len(change.cascade)} change(s)"
        text += " (dry run)\n" if args.dry_run else (" written\n" if written.get(arch) else "\n")
        text += "".join(f"  {name}: not defined on {arch}\n" for name in change.undefined)
        text += "".join(f"  {c}\n" for c in change.cascade)
        for refusal in change.refusals:
            where = f"{refusal.assignment.where}: " if refusal.assignment.where else ""
            got = refusal.got if refusal.got is not None else "n (no line in the file)"
            text += f"  WARNING: {where}{refusal.assignment} requested, but the result has {got}\n"
            for reason in refusal.reasons:
                text += "\n".join(reason.lines(2)) + "\n"
    if blocked:
        text += f"\nnothing written: {blocked}\n"
    emit(args, payload, text)
    return 1 if blocked or unknown or any(unmet.values()) else 0


def _redefinitions(assignments) -> list[str]:
    """merge_config.sh's 'Value of X is redefined by fragment' notes."""
    seen, out = {}, []
    for a in assignments:
        first = seen.get(a.symbol)
        if first is not None and first.value != a.value:
            out.append(f"{a.where}: CONFIG_{a.symbol}={a.value} redefines {first.value} from {first.where}")
        seen[a.symbol] = a
    return out


def cmd_why(args) -> int:
    from .cli import context, emit, open_session
    from .edit import editors_for, parse_assignment

    name, value = args.query, None
    if "=" in args.query:
        a = parse_assignment(args.query, where="argument")
        name, value = a.symbol, a.value
    name = name.removeprefix("CONFIG_")
    session = open_session(args)
    payload, text = context(session)
    payload["symbols"] = []
    status = 0
    editors = editors_for(session)
    if not any(config.has_symbol(name) for config in session.configs.values()):
        next(iter(session.configs.values())).symbol(name)   # raises with "did you mean"
    for arch, editor in editors.items():
        if not editor.config.has_symbol(name):
            payload["symbols"].append({"symbol": name, "arch": arch, "defined": False})
            text += f"\n{name} [{arch}]: not defined on {arch}\n"
            continue
        info = editor.why(name, value, fix_budget=args.budget)
        entry = {k: info[k] for k in ("symbol", "arch", "type", "value", "visible", "prompt", "defined_at",
                                      "depends_on", "selected_by", "implied_by", "reason", "assignable")}
        entry["defined"] = True
        text += f"\n{name} [{arch}] = {info['value']} ({info['type']}): {info['reason']}\n"
        text += f"  defined at {', '.join(info['defined_at'])}\n"
        if info["depends_on"]:
            text += f"  depends on {info['depends_on']}\n"
        if info["selected_by"]:
            text += f"  selected by {', '.join(info['selected_by'])}\n"
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
                text += "".join(f"    {c}\n" for c in change.cascade)
            else:
                status = 1
                text += "  " + change.refusals[0].text().replace("\n", "\n  ") + "\n"
        payload["symbols"].append(entry)
    emit(args, payload, text)
    return status


def cmd_search(args) -> int:
    from .cli import context, emit, open_session
    from .search import search

    if not " ".join(args.text).strip():
        raise InputError("nothing to search for", hint="give a symbol name, words of a prompt, or a module name")
    session = open_session(args)
    maps = None
    if not args.no_modules:
        maps = {arch: session.kbuild_map(arch, progress=args.progress) for arch in session.configs}
    query = " ".join(args.text)
    frame = search(session.configs, query, limit=args.limit, kbuild_maps=maps)
    payload, text = context(session)
    payload["query"] = query
    payload["results"] = frame.to_dict(orient="records")
    if not len(frame):
        text += f"\nnothing matches {query!r}\n"
    for row in frame.itertuples():
        values = ", ".join(f"{a}={v}" for a, v in sorted(row.values.items()))
        text += f"\n{row.symbol:32} {row.type:8} [{values}]  ({row.match})\n"
        if isinstance(row.prompt, str) and row.prompt:
            text += f"  {row.prompt}\n"
        text += f"  {row.defined_at}\n"
    emit(args, payload, text)
    return 0


def cmd_diff(args) -> int:
    from .cli import context, emit, open_session
    from .kconfig.config import Config
    from .kconfig.diff import config_diff

    if args.against and args.arch == "all":
        raise TalosnbError("--against compares with one config: give --arch amd64 or --arch arm64")
    session = open_session(args)
    payload, text = context(session)
    payload["diffs"] = {}
    for arch, config in session.configs.items():
        if args.against:
            against_text, _snapshot = read_text(args.against, what="the --against config")
            other = Config.from_text(config.tree, against_text, source=args.against)
            old, new = other.original_text, config.original_text
            label = f"{args.against} -> {config.source}"
            config_text = config.text()
            Config.from_text(config.tree, config_text, source=config.source)   # reload this one's values
        else:
            old, new = config.original_text, config.text()
            label = f"{config.source} -> as talosnb writes it"
        changes = config_diff(old, new)
        payload["diffs"][arch] = {"label": label,
                                  "changes": [{"symbol": c.symbol, "old": c.old, "new": c.new, "kind": c.kind}
                                              for c in changes]}
        text += f"\n{arch}: {label}: {len(changes)} difference(s)\n" + "".join(f"  {c}\n" for c in changes)
    emit(args, payload, text)
    return 0
