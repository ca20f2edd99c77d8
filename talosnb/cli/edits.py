"""What set and merge share: writing every config or none, the guards before a write."""

from __future__ import annotations

from talosnb.analyses.edit import editors_for, fix_verifier
from talosnb.analyses.modules import ModuleList, findings_frame, modules_for_symbols
from talosnb.core.fileio import check_unchanged
from talosnb.kconfig.diff import config_diff


def payload_changes(changes) -> dict:
    return {arch: change.as_dict() for arch, change in changes.items()}


def write_all(session, changes, args) -> dict[str, bool]:
    """Write every changed config, or none: all files are checked for changes on disk first."""
    if args.dry_run:
        return {arch: False for arch in changes}
    todo = [arch for arch, change in changes.items() if change.applied and change.cascade]
    if not args.force:
        check_unchanged([session.configs[arch].snapshot for arch in todo])
    return {arch: arch in todo and session.configs[arch].write(force=args.force) for arch in changes}


def undo_dry_run(session, changes) -> None:
    editors = editors_for(session)
    for arch, change in changes.items():
        if change.applied and change.cascade:
            editors[arch].undo()


def refusing_drops(session) -> str | None:
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


class ModuleListGuard:
    """Module-list errors a config change introduces (nothing to do without a talos checkout)."""

    def __init__(self, session) -> None:
        self.session = session
        self.enabled = session.inputs.talos is not None
        # the lists don't change while a config is edited: read them once
        self.lists = session.load_module_lists(missing_ok=True) if self.enabled else {}
        self.before = self._errors()

    def _findings(self) -> list[dict]:
        if not self.lists:
            return []
        frame = findings_frame(self.session.check_modules(self.lists, verify_fix=fix_verifier(self.session),
                                                          unlisted=False))
        return frame[frame["level"] == "error"].to_dict(orient="records") if len(frame) else []

    def _errors(self) -> set:
        return {(f["arch"], f["kind"], f["entry"]) for f in self._findings()}

    def new_errors(self) -> list[dict]:
        return [f for f in self._findings() if (f["arch"], f["kind"], f["entry"]) not in self.before]


def normalize_drift(session) -> dict:
    """Lines each config changes just by being written (as make olddefconfig would), before any edit."""
    return {arch: config_diff(config.original_text, config.text()) for arch, config in session.configs.items()}


def new_modules(session, changes, args, preview: bool = False) -> dict:
    """The .ko files each symbol that became =m now builds; with --add-to-module-list, the list edit."""
    newly_m = {arch: [c.symbol for c in change.cascade if c.new == "m" and change.applied]
               for arch, change in changes.items()}
    if not any(newly_m.values()):
        return {}
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
        check_unchanged([m["list"].snapshot for m in out.values() if m.get("added") and "list" in m
                         and getattr(m["list"], "snapshot", None) is not None])
    return out


def save_modules(modules: dict, args) -> None:
    for entry in modules.values():
        if entry.get("added"):
            entry["list"].save(force=args.force)


def fix_breaks_lists(session, checker, arch: str, refusal) -> list[str]:
    """Module-list errors that applying a refusal's verified fix (with its assignment) would cause."""
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


def fix_notes(session, checker, changes) -> str:
    text = ""
    for arch, change in changes.items():
        for refusal in change.refusals:
            broken = fix_breaks_lists(session, checker, arch, refusal)
            if broken:
                text += (f"\nnote: on {arch}, the fix for {refusal.assignment} would also break "
                         f"hack/modules-{arch}.txt:\n" + "".join(f"  {m}\n" for m in broken))
    return text


