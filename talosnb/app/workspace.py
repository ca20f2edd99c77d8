"""The Workspace: one user's loaded work and every rule about what is refused and what is written.

A :class:`Workspace` holds one loaded :class:`~talosnb.app.session.Session`, the
module lists, the Kbuild maps and one undo history. Every action the CLI and
the widgets offer is a plain method here (``set``, ``apply_fix``, ``undo``,
``edit_modules``, ``pending``, ``save``, ...), usable and tested without any
widget. Listeners registered with :meth:`Workspace.on_change` hear about each
change, which is how an edit in one view shows up in the others.

The embedded sample is never written: :meth:`Workspace.open` copies its
config and module-list files to a scratch folder first (``scratch=True`` does
the same for real checkouts), and :meth:`Workspace.save` refuses to write
inside the sample.
"""

from __future__ import annotations

import shutil
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from talosnb.analyses import edit
from talosnb.analyses.modules import ModuleList
from talosnb.core.arches import PLATFORMS
from talosnb.core.errors import FileChangedError, InputError
from talosnb.core.paths import sample_dir
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff

from .session import Session, Steps

SCRATCH_PREFIX = "talosnb-scratch-"


@dataclass
class PendingFile:
    """One file a save would write: its diff against what was loaded."""

    name: str            # config-amd64, modules-arm64.txt
    label: str           # where it lives, relative to its checkout: "pkgs: kernel/build/config-amd64"
    path: Path
    kind: str            # "config" or "modules"
    arch: str
    changed: bool
    lines: list[str]     # diffconfig lines (configs) or a unified diff (module lists)
    dropped: list[str] = field(default_factory=list)   # config lines for symbols the tree doesn't define

    def text(self) -> str:
        if not self.changed:
            return f"{self.name} ({self.label}): no change\n"
        count = (f"{len(self.lines)} change(s)" if self.kind == "config"
                 else f"{sum(1 for ln in self.lines if ln[:1] in '+-' and ln[:3] not in ('+++', '---'))} "
                      "line(s) added/removed")
        out = f"{self.name} ({self.label}): {count}\n"
        if self.dropped:
            out += f"  WARNING: {self.drop_warning()}\n"
        return out + "".join(f"  {ln}\n" for ln in self.lines)

    def drop_warning(self) -> str:
        return (f"{len(self.dropped)} line(s) name symbols this kernel tree doesn't define "
                f"(first: {self.dropped[0]}); writing drops them (allow_drop), so better use the tree "
                "the config was made for")


@dataclass
class SaveResult:
    written: list[PendingFile]
    command: str

    def text(self) -> str:
        if not self.written:
            return "nothing to write: no pending change\n"
        out = "wrote " + ", ".join(f"{p.name} ({p.label})" for p in self.written) + "\n"
        return out + "\n" + self.command


@dataclass
class HistoryEntry:
    """One undoable action: a config change on some arches, or a module-list edit on one arch."""

    kind: str                     # "config" or "modules"
    arches: list[str]
    what: str                     # for messages: "DUMMY=m", "add kernel/drivers/net/dummy.ko"
    action: str | None = None     # modules: "add" or "remove"
    entries: list[str] = field(default_factory=list)


class Workspace:
    """A Session plus module lists, Kbuild maps and one undo history, shared by the views."""

    def __init__(self, session: Session, *, remove_scratch: bool = False) -> None:
        self.session = session
        self.scratch = session.scratch
        if self.scratch is not None and remove_scratch:   # when the workspace goes away, or Python exits
            weakref.finalize(self, shutil.rmtree, str(self.scratch), True)
        self.version = 0                      # bumped on every change; caches key on it
        self.history: list[HistoryEntry] = []
        self.module_lists = {}
        self._listeners: list[Callable[[str], None]] = []
        self._cache: dict[str, tuple[int, object]] = {}
        talos = session.inputs.talos
        if talos is not None:
            for arch in session.configs:
                self.module_lists[arch] = ModuleList.load(talos.module_list_path(arch), arch)

    # --- opening ---------------------------------------------------------------

    @classmethod
    def open(cls, pkgs=None, talos=None, kernel_src=None, arch: str | None = "all", *,
             toolchain: str = "recorded", kbuild: bool = True, scratch: bool = False,
             steps: Steps | None = None, progress: bool = False) -> Workspace:
        """Load everything (:meth:`Session.open`), the Kbuild maps too unless ``kbuild=False``.

        Empty arguments mean the embedded sample, which is always worked on
        through a scratch copy of its config and module-list files;
        ``scratch=True`` copies real checkouts the same way, so saving never
        touches them. The scratch folder is removed when the workspace goes away
        (or Python exits).
        """
        session = Session.open(pkgs, talos, kernel_src, arch=arch, toolchain=toolchain, kbuild=kbuild,
                               scratch=True if scratch else None, steps=steps, progress=progress)
        ws = cls(session, remove_scratch=session.scratch is not None)
        if steps is not None:
            steps.done(ws.describe())
        return ws

    @classmethod
    def of(cls, session_or_workspace) -> Workspace:
        if isinstance(session_or_workspace, Workspace):
            return session_or_workspace
        return cls(session_or_workspace)

    @property
    def arches(self) -> list[str]:
        return list(self.session.configs)

    @property
    def configs(self) -> dict[str, Config]:
        return self.session.configs

    def describe(self) -> str:
        """One line saying what is loaded (no absolute paths, so it is the same on any machine)."""
        inputs = self.session.inputs
        if inputs.sample:
            origin = "the embedded sample"
        else:
            origin = inputs.kernel.origin.name
        text = f"Linux {self.session.tree_version} ({origin}); configs: {', '.join(self.arches)}"
        text += "; module lists: " + (", ".join(self.module_lists) if self.module_lists else "none")
        if self.scratch is not None:
            text += "; saving writes to a scratch copy of the config and module-list files"
        for check in self.session.version_checks():
            text += f"\n{'WARNING' if check.kind == 'mismatch' else 'note'}: {check.message}"
        return text

    # --- change notification and caches -------------------------------------

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(kind)`` after every change ("config", "modules", "undo", "saved")."""
        self._listeners.append(callback)

    def _changed(self, kind: str) -> None:
        self.version += 1
        for callback in list(self._listeners):
            callback(kind)

    def _cached(self, key: str, make: Callable[[], object]):
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        value = make()
        self._cache[key] = (self.version, value)
        return value

    # --- Kbuild maps -------------------------------------------------------------

    def kbuild_map(self, arch: str):
        return self.session.kbuild_map(arch)

    @property
    def kbuild_maps(self) -> dict:
        return {arch: self.kbuild_map(arch) for arch in self.arches}

    # --- explore & toggle ----------------------------------------------------

    def search(self, text: str, limit: int | None = 50) -> pd.DataFrame:
        """talosnb.search over the loaded arches (module names too, once the Kbuild maps are loaded)."""
        from talosnb.analyses.search import search

        maps = self.session.loaded_kbuild_maps() or None
        return search(self.configs, text, limit=limit, kbuild_maps=maps)

    def symbol_view(self, name: str) -> dict:
        """What the symbol panel shows: symbol_info of the first arch defining it, plus per arch
        the value, where it comes from, the assignable values (None where the arch lacks it)."""
        name = name.strip().removeprefix("CONFIG_")
        editors = edit.editors_for(self.session)
        per_arch: dict[str, dict | None] = {}
        base = None
        for arch, config in self.configs.items():
            if not config.has_symbol(name) or config.kconf.syms[name] in config.transitional:
                per_arch[arch] = None
                continue
            info = editors[arch].why(name)
            per_arch[arch] = info
            base = base or info
        if base is None:
            next(iter(self.configs.values())).symbol(name)   # raises, with "did you mean"
        return {**base, "arches": per_arch}

    def set(self, assignments: Iterable[edit.Assignment | str], arches: Sequence[str] | None = None,
            ) -> dict[str, edit.ChangeSet]:
        """edit.set_symbols (each arch applies or refuses on its own); an applied change is undoable."""
        assignments = list(assignments)
        changes = edit.set_symbols(self.session, assignments, arches=arches)
        done = [arch for arch, change in changes.items() if change.applied and change.cascade]
        if done:
            what = " ".join(str(a) for a in (edit.parse_assignment(a) if isinstance(a, str) else a
                                             for a in assignments))
            self.history.append(HistoryEntry("config", done, what))
            self._changed("config")
        return changes

    def apply_fix(self, arch: str, refusal: edit.Refusal) -> dict[str, edit.ChangeSet]:
        """Apply a refusal's verified fix together with the assignment it was found for."""
        if refusal.fix is None or not refusal.fix.found:
            raise InputError(f"no verified fix for {refusal.assignment} on {arch}")
        return self.set([*refusal.fix.assignments, refusal.assignment], arches=[arch])

    def undo(self) -> HistoryEntry | None:
        """Undo the last config change or module-list edit (whichever tab made it)."""
        if not self.history:
            return None
        entry = self.history.pop()
        if entry.kind == "config":
            edit.undo(self.session, arches=entry.arches)
        else:
            module_list = self.module_lists[entry.arches[0]]
            if entry.action == "add":
                module_list.remove(entry.entries)
            else:
                module_list.add(entry.entries)
        self._changed("undo")
        return entry

    # --- module lists ---------------------------------------------------------

    def list_version(self) -> str | None:
        return self.session.list_version()

    def findings(self) -> pd.DataFrame:
        """check_module_lists over the loaded lists and the current config values, as a frame
        (``where`` relative to the talos checkout)."""
        return self._cached("findings", self._findings)

    def _findings(self) -> pd.DataFrame:
        from talosnb.analyses.modules import findings_frame

        if not self.module_lists:
            return findings_frame([])
        for arch in self.module_lists:
            self.kbuild_map(arch)   # search finds modules once the maps are loaded
        frame = findings_frame(self.session.check_modules(self.module_lists))
        root = str(self.session.inputs.talos.path) + "/"
        frame["where"] = [w.replace(root, "") if isinstance(w, str) else w for w in frame["where"]]
        return frame

    def check_counts(self) -> dict[str, dict[str, int]]:
        """arch -> level -> number of findings."""
        from talosnb.analyses.findings import LEVELS

        frame = self.findings()
        return {arch: {level: int(((frame["arch"] == arch) & (frame["level"] == level)).sum())
                       for level in LEVELS} for arch in self.module_lists}

    def edit_modules(self, action: str, items: Iterable[str], arches: Sequence[str] | None = None) -> dict:
        """Add or remove list entries (paths, module names or symbols) on each arch (default: all
        loaded lists); returns arch -> modules.ListEdit. An entry that names nothing on every
        arch is an InputError, and then nothing is changed."""
        from talosnb.analyses.modules import edit_module_list

        if not self.module_lists:
            raise InputError("no module lists loaded", hint="pass talos (a siderolabs/talos checkout)")
        items = [i.strip() for i in items if i.strip()]
        chosen = list(arches or self.module_lists)
        edits = {}
        for arch in chosen:
            edits[arch] = edit_module_list(self.module_lists[arch], action, items, self.kbuild_map(arch),
                                           self.configs[arch].written(),
                                           tree_version=self.session.tree_version,
                                           list_version=self.list_version())
        nowhere = [item for item in items if all(item in e.skipped for e in edits.values())]
        if nowhere:
            for arch, one in edits.items():   # put the lists back as they were
                if one.changed:
                    (self.module_lists[arch].remove if action == "add" else self.module_lists[arch].add)(
                        one.changed)
            item = nowhere[0]
            reasons = "; ".join(f"{arch}: {e.skipped[item].message}" for arch, e in edits.items())
            raise InputError(f"{item} names nothing ({reasons}); nothing changed")
        for arch, one in edits.items():
            if one.changed:
                self.history.append(HistoryEntry("modules", [arch], f"{action} {', '.join(one.changed)}",
                                                 action, list(one.changed)))
        if any(one.changed for one in edits.values()):
            self._changed("modules")
        return edits

    # --- saving --------------------------------------------------------------

    def _label(self, path: Path, kind: str) -> str:
        inputs = self.session.inputs
        root = inputs.pkgs.path if kind == "config" else inputs.talos.path
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            return path.name
        return f"{'pkgs' if kind == 'config' else 'talos'}: {rel}"

    def pending(self) -> list[PendingFile]:
        """Every file a save may write (configs, then module lists), with its diff."""
        out = []
        for arch, config in self.configs.items():
            new = config.text()
            changed = new != config.original_text
            lines = [str(c).strip() for c in config_diff(config.original_text, new)]
            if changed and not lines:
                lines = ["(no value changes: the file is rewritten in the kernel's own layout)"]
            path = config.snapshot.path if config.snapshot else Path(config.source)
            dropped = [f"CONFIG_{n.symbol}" for n in config.notes if n.kind == "unknown-symbol"]
            out.append(PendingFile(f"config-{arch}", self._label(path, "config"), path, "config", arch,
                                   changed, lines, dropped if changed else []))
        for arch, module_list in self.module_lists.items():
            diff = module_list.diff()
            out.append(PendingFile(f"modules-{arch}.txt", self._label(module_list.path, "modules"),
                                   module_list.path, "modules", arch, module_list.changed(),
                                   diff.splitlines()))
        return out

    def pending_text(self) -> str:
        return "".join(p.text() for p in self.pending())

    def save(self, *, force: bool = False, allow_drop: bool = False) -> SaveResult:
        """Write every changed file atomically; nothing at all is written when one is refused.

        Refuses with FileChangedError when a file to write changed on disk since it
        was loaded, unless ``force`` (the error's ``files`` lists them); and with
        InputError when a config has lines for symbols this kernel tree doesn't
        define (writing drops them, as `make olddefconfig` would), unless ``allow_drop``.
        """
        todo = [p for p in self.pending() if p.changed]
        drops = [p for p in todo if p.dropped]
        if drops and not allow_drop:
            raise InputError(
                "; ".join(f"{p.name}: {p.drop_warning()}" for p in drops) + "; nothing was written",
                hint="load the kernel tree the configs were made for (kernel_src), or allow dropping the lines")
        try:
            sample = sample_dir().resolve()
        except InputError:   # an installed copy without the sample: nothing to protect
            sample = None
        inside = [p for p in todo if sample is not None and p.path.resolve().is_relative_to(sample)]
        if inside:
            raise InputError("the embedded sample is read-only; nothing written",
                             where=str(inside[0].path),
                             hint="open it with Workspace.open() (or workbench()), which works on a copy")
        if not force:
            moved = [p for p in todo if self._snapshot(p) is not None and self._snapshot(p).changed_on_disk()]
            if moved:
                error = FileChangedError(
                    ", ".join(f"{p.name} ({p.label})" for p in moved)
                    + " changed on disk since it was loaded; nothing was written",
                    hint="load the files again (rerun the notebook) to see the other changes, "
                         "or overwrite them (force)")
                error.files = [p.name for p in moved]
                raise error
        for p in todo:
            if p.kind == "config":
                self.configs[p.arch].write(force=force)
            else:
                self.module_lists[p.arch].save(force=force)
        self._changed("saved")
        return SaveResult(todo, self.make_kernel_command())

    def _snapshot(self, pending: PendingFile):
        if pending.kind == "config":
            return self.configs[pending.arch].snapshot
        return self.module_lists[pending.arch].snapshot

    def make_kernel_command(self) -> str:
        """What to run next: build the kernel in the pkgs checkout (and Talos with it)."""
        platforms = ",".join(PLATFORMS[a] for a in self.arches)
        pkgs, talos = self.session.inputs.pkgs.path, getattr(self.session.inputs.talos, "path", None)
        text = ""
        if self.scratch is not None:
            pkgs, talos = "<your pkgs checkout>", "<your talos checkout>"
            text += ("These files went to a scratch copy (the embedded sample itself is never written). "
                     "To build your own edits, open your checkouts without scratch=True "
                     "(write_in_place = True in 04-write-back-for-make-kernel) so saving writes them.\n")
        text += ("Next, build the kernel (and its modules) from the pkgs checkout:\n"
                 f"  cd {pkgs}\n"
                 f"  make kernel PLATFORM={platforms}\n"
                 "  (add USERNAME=<registry user> PUSH=true to push the result)\n")
        if self.module_lists:
            text += ("Then build Talos with that kernel from the talos checkout, so the initramfs gets "
                     "the listed modules:\n"
                     f"  cd {talos}\n"
                     f"  make kernel initramfs PKG_KERNEL=<registry>/<user>/kernel:<tag> PLATFORM={platforms}\n")
        return text

    # --- comparison and overview ---------------------------------------------

    def compare(self) -> pd.DataFrame:
        from talosnb.analyses.compare import compare

        return self._cached("compare", lambda: compare(self.session))

    def overview(self) -> pd.DataFrame:
        """Per arch: config lines with y / m, module-list entries and errors, pending changes."""
        counts = self.check_counts() if self.module_lists else {}
        pending = {(p.kind, p.arch): p for p in self.pending()}
        rows = []
        for arch, config in self.configs.items():
            values = list(config.written().values())
            config_pending = pending[("config", arch)]
            row = {"arch": arch, "=y": values.count("y"), "=m": values.count("m"),
                   "config changes": len(config_pending.lines) if config_pending.changed else 0}
            if arch in self.module_lists:
                row["list entries"] = len(self.module_lists[arch].entries)
                row["list errors"] = counts[arch]["error"]
                row["list warnings"] = counts[arch]["warning"]
                row["list changed"] = pending[("modules", arch)].changed
            rows.append(row)
        return pd.DataFrame(rows).set_index("arch")
