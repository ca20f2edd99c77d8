"""Notebook widgets over one shared piece of work: compare, explore & toggle, module lists, save.

Two layers:

- :class:`Workspace` holds one loaded :class:`~talosnb.session.Session`, the
  module lists, the Kbuild maps and one undo history. Every action the widgets
  offer is a plain method here (``set``, ``apply_fix``, ``undo``,
  ``edit_modules``, ``pending``, ``save``, ...), usable and tested without any
  widget. Listeners registered with :meth:`Workspace.on_change` hear about each
  change, which is how an edit in one tab shows up in the others.
- The views (:class:`CompareView`, :class:`ExploreView`, :class:`ModulesView`,
  :class:`SaveView`) are ipywidgets boxes whose callbacks only call those
  methods and render the result; :func:`workbench` puts all four in tabs over
  one Workspace.

The embedded sample is never written: :meth:`Workspace.open` copies its
config and module-list files to a scratch folder first (``scratch=True`` does
the same for real checkouts), and :meth:`Workspace.save` refuses to write
inside the sample.
"""

from __future__ import annotations

import html
import io
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from . import edit
from .errors import FileChangedError, InputError, TalosnbError
from .kconfig.config import Config
from .kconfig.diff import config_diff
from .kconfig.tree import KconfigTree
from .session import Session, parse_arches
from .sources import Inputs, PkgsCheckout, TalosCheckout, resolve_inputs, sample_dir

SCRATCH_PREFIX = "talosnb-scratch-"
PLATFORMS = {"amd64": "linux/amd64", "arm64": "linux/arm64"}


# --------------------------------------------------------------------------
# Progress while loading (a bar in a notebook, nothing elsewhere)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets and display() reach a frontend)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _ProgressBox(widgets.VBox):
    def __repr__(self) -> str:   # the text a saved notebook keeps for this output: the same every run
        return "talosnb: loading progress"


class _Steps:
    """A step-by-step progress bar for the long parts of loading.

    In a notebook it shows an ipywidgets bar with what is being done, and when
    done leaves it full with a summary under it, and prints the summary (plain
    text, the same on every run, for saved notebooks). Elsewhere it does nothing.
    """

    def __init__(self, total: int, show: bool) -> None:
        self.show = show
        if not show:
            return
        from IPython.display import display

        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), description="loading",
                                       bar_style="info")
        self.label = widgets.HTML()
        display(_ProgressBox([self.bar, self.label]))

    def step(self, text: str) -> None:
        if not self.show:
            return
        self.label.value = html.escape(text)
        self.bar.value = min(self.bar.value + 1, self.bar.max)

    def done(self, text: str) -> None:
        if not self.show:
            return
        self.bar.value = self.bar.max
        self.bar.bar_style, self.bar.description = "success", "loaded"
        self.label.value = html.escape(text).replace("\n", "<br>")
        print(text)


# --------------------------------------------------------------------------
# The shared work


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

    def __init__(self, session: Session, *, scratch: Path | None = None, remove_scratch: bool = False) -> None:
        self.session = session
        self.scratch = scratch
        if scratch is not None and remove_scratch:   # when the workspace goes away, or Python exits
            weakref.finalize(self, shutil.rmtree, str(scratch), True)
        self.version = 0                      # bumped on every change; caches key on it
        self.history: list[HistoryEntry] = []
        self.module_lists = {}
        self._kbuild: dict[str, object] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._cache: dict[str, tuple[int, object]] = {}
        talos = session.inputs.talos
        if talos is not None:
            from .modules import ModuleList

            for arch in session.configs:
                self.module_lists[arch] = ModuleList.load(talos.module_list_path(arch), arch)

    # --- opening ---------------------------------------------------------------

    @classmethod
    def open(cls, pkgs=None, talos=None, kernel_src=None, arch: str | None = "all", *,
             toolchain: str = "recorded", progress: bool = True, kbuild: bool = True,
             scratch: bool = False) -> Workspace:
        """Load everything, with a progress bar in a notebook.

        Empty arguments mean the embedded sample (as for Session.open). The
        sample is always worked on through a scratch copy of its config and
        module-list files; ``scratch=True`` copies real checkouts the same way,
        so saving never touches them. The scratch folder is removed when the
        workspace goes away (or Python exits). ``kbuild=False`` skips the Kbuild maps
        (module checks and module search then load them when first needed).
        """
        show = progress and in_notebook()
        arches = parse_arches(arch or "all")
        steps = _Steps(1 + len(arches) * (2 if kbuild else 1), show)
        steps.step("finding the inputs")
        inputs = resolve_inputs(pkgs or None, talos or None, kernel_src or None, progress=show)
        if inputs.kernel is None:
            raise InputError("no kernel tree", hint="pass kernel_src (a folder or a tarball) or pkgs")
        if inputs.pkgs is None:
            raise InputError("no pkgs checkout to read config-ARCH from",
                             hint="pass pkgs (a siderolabs/pkgs checkout) or set TALOSNB_PKGS")
        copy = None
        if scratch or inputs.sample:
            inputs, copy = scratch_copy(inputs, arches)
        session = Session(inputs, toolchain)
        for one in arches:
            steps.step(f"reading the Kconfig tree for {one} (the first time takes a few seconds, "
                       "then it is cached)")
            tree = KconfigTree.load(inputs.kernel.path, one, toolchain_mode=toolchain)
            session.configs[one] = Config.load(tree, inputs.pkgs.config_path(one))
        ws = cls(session, scratch=copy, remove_scratch=copy is not None)
        if kbuild:
            for one in arches:
                steps.step(f"scanning the Kbuild files for {one} (the first time takes a few seconds, "
                           "then it is cached)")
                ws.kbuild_map(one)
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
        if arch not in self._kbuild:
            self._kbuild[arch] = self.session.kbuild_map(arch)
        return self._kbuild[arch]

    @property
    def kbuild_maps(self) -> dict:
        return {arch: self.kbuild_map(arch) for arch in self.arches}

    # --- explore & toggle ----------------------------------------------------

    def search(self, text: str, limit: int | None = 50) -> pd.DataFrame:
        """talosnb.search over the loaded arches (module names too, once the Kbuild maps are loaded)."""
        from .search import search

        maps = {a: m for a, m in self._kbuild.items() if a in self.configs} or None
        return search(self.configs, text, limit=limit, kbuild_maps=maps)

    def symbol_view(self, name: str) -> dict:
        """What the symbol panel shows: symbol_info of the first arch defining it, plus per arch
        the value, where it comes from, the assignable values (None where the arch lacks it)."""
        name = name.strip().removeprefix("CONFIG_")
        editors = edit.editors_for(self.session)
        per_arch: dict[str, dict | None] = {}
        base = None
        for arch, config in self.configs.items():
            if not config.has_symbol(name) or config.kconf.syms[name] in config._hidden():
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
        from .modules import findings_frame

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
        from .modules import LEVELS

        frame = self.findings()
        return {arch: {level: int(((frame["arch"] == arch) & (frame["level"] == level)).sum())
                       for level in LEVELS} for arch in self.module_lists}

    def edit_modules(self, action: str, items: Iterable[str], arches: Sequence[str] | None = None) -> dict:
        """Add or remove list entries (paths, module names or symbols) on each arch (default: all
        loaded lists); returns arch -> modules.ListEdit. An entry that names nothing on every
        arch is an InputError, and then nothing is changed."""
        from .modules import edit_module_list

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
        from .compare import compare

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


def scratch_copy(inputs: Inputs, arches: Iterable[str] | None = None,
                 dest: str | Path | None = None) -> tuple[Inputs, Path]:
    """Copy the files a save writes (pkgs: Pkgfile, kernel/build/config-ARCH; talos:
    hack/modules-ARCH.txt) to a new scratch folder; returns Inputs pointing there
    (same kernel tree and version checks) and the folder."""
    root = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    arches = list(arches or inputs.pkgs.arches())
    pkgs = root / "pkgs"
    (pkgs / "kernel" / "build").mkdir(parents=True, exist_ok=True)
    shutil.copy2(inputs.pkgs.pkgfile, pkgs / "Pkgfile")
    for arch in arches:
        shutil.copy2(inputs.pkgs.config_path(arch), pkgs / "kernel" / "build" / f"config-{arch}")
    talos = None
    if inputs.talos is not None:
        (root / "talos" / "hack").mkdir(parents=True, exist_ok=True)
        for arch in arches:
            shutil.copy2(inputs.talos.module_list_path(arch), root / "talos" / "hack" / f"modules-{arch}.txt")
        talos = TalosCheckout(root / "talos")
    copied = Inputs(PkgsCheckout(pkgs), talos, inputs.kernel, list(inputs.checks), inputs.sample)
    return copied, root


# --------------------------------------------------------------------------
# Rendering helpers (HTML built from library results; every input text escaped)


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: str | None) -> str:
    return "(not written)" if value is None else value


_TABLE_STYLE = ("<style>.talosnb-t{border-collapse:collapse;font-size:12px}"
                ".talosnb-t th,.talosnb-t td{border:1px solid #ddd;padding:2px 6px;text-align:left;"
                "vertical-align:top}.talosnb-t th{background:#f3f3f3}"
                ".talosnb-err{border:2px solid #c00;background:#fee;padding:6px;color:#600}"
                ".talosnb-ok{border:2px solid #2a2;background:#efe;padding:6px}"
                ".talosnb-fixed{color:#a00}</style>")


def frame_html(df: pd.DataFrame) -> str:
    if df is None or not len(df):
        return "<i>nothing to show</i>"
    return df.to_html(index=False, escape=True, na_rep="", border=0, classes="talosnb-t")


def cascade_html(cascade: Sequence[edit.CascadeChange], limit: int = 200) -> str:
    if not cascade:
        return "<i>no line changes</i>"
    rows = "".join(f"<tr><td><code>{_e(c.symbol)}</code></td><td>{_e(_fmt(c.old))}</td>"
                   f"<td>{_e(_fmt(c.new))}</td><td>{_e(c.reason)}</td></tr>" for c in cascade[:limit])
    more = (f"<tr><td colspan=4><i>... and {len(cascade) - limit} more</i></td></tr>"
            if len(cascade) > limit else "")
    return (f"<table class='talosnb-t'><tr><th>symbol</th><th>was</th><th>now</th><th>why</th></tr>"
            f"{rows}{more}</table>")


def reason_html(reason: edit.Reason) -> str:
    where = f" <code>{_e(reason.where)}</code>" if reason.where else ""
    fixed = " <span class='talosnb-fixed'>[fixed: no assignment changes it]</span>" if reason.fixed else ""
    children = "".join(reason_html(c) for c in reason.children)
    return f"<li>{_e(reason.text)}{where}{fixed}" + (f"<ul>{children}</ul>" if children else "") + "</li>"


def refusal_html(refusal: edit.Refusal) -> str:
    out = (f"<b>{_e(refusal.assignment)}</b> can't take effect: it ends as {_e(_fmt(refusal.got))}"
           f"<ul>{''.join(reason_html(r) for r in refusal.reasons)}</ul>")
    fix = refusal.fix
    if fix is not None:
        if fix.found:
            out += (f"<b>verified fix:</b> set <code>{_e(' '.join(str(a) for a in fix.assignments))}</code> "
                    f"({fix.tried} candidate(s) tried); with it, {len(fix.cascade)} line(s) change:"
                    f"<details><summary>side effects</summary>{cascade_html(fix.cascade, 100)}</details>")
        else:
            out += f"<i>{_e(fix.text())}</i>"
    return out


def change_html(change: edit.ChangeSet) -> str:
    head = change.text().splitlines()[0]
    out = f"<h4>{_e(head)}</h4>"
    for name in change.undefined:
        out += f"<div><i>{_e(name)} is not defined on {_e(change.arch)}</i></div>"
    if change.refusals:
        out += "".join(f"<div>{refusal_html(r)}</div>" for r in change.refusals)
    else:
        out += cascade_html(change.cascade)
    return out


def symbol_html(view: dict) -> str:
    """The symbol panel: prompt, type, help, where, relations, value per arch."""
    def items(values):
        return ", ".join(f"<code>{_e(v)}</code>" for v in values) or "-"

    selects = [s["symbol"] + (f" if {s['if']}" if s["if"] else "") for s in view["selects"]]
    rows = ""
    for arch, info in view["arches"].items():
        if info is None:
            rows += f"<tr><td>{_e(arch)}</td><td colspan=4><i>not defined on {_e(arch)}</i></td></tr>"
            continue
        value = info["value"] if info["value"] != "" else '""'
        rows += (f"<tr><td>{_e(arch)}</td><td><b>{_e(value)}</b></td>"
                 f"<td>{_e(info['reason'])}</td><td>{_e(', '.join(info['assignable']) or '-')}</td>"
                 f"<td>{_e(info['written_as'] or '(no line)')}</td></tr>")
    menu = " &gt; ".join(_e(m) for m in view["menu_path"])
    help_text = f"<pre style='white-space:pre-wrap'>{_e(view['help'].strip())}</pre>" if view["help"] else ""
    return (
        _TABLE_STYLE
        + f"<h3 style='margin:4px 0'>CONFIG_{_e(view['symbol'])}</h3>"
        + f"<div><i>{_e(view['prompt'] or '(no prompt: set only by defaults, select or imply)')}</i></div>"
        + f"<div>type <b>{_e(view['type'])}</b>; defined at {items(view['defined_at'])}</div>"
        + (f"<div>menu: {menu}</div>" if menu else "")
        + f"<div>depends on: <code>{_e(view['depends_on'] or '-')}</code></div>"
        + f"<div>selects: {items(selects)}</div>"
        + f"<div>selected by: {items(view['selected_by'])}; implied by: {items(view['implied_by'])}</div>"
        + "<table class='talosnb-t'><tr><th>arch</th><th>value</th><th>why</th><th>assignable</th>"
        + f"<th>config line</th></tr>{rows}</table>"
        + help_text)


# --------------------------------------------------------------------------
# Views


class Pager(widgets.VBox):
    """A DataFrame shown a page at a time, with previous/next buttons."""

    def __init__(self, page_size: int = 25, **kwargs) -> None:
        self.page_size = page_size
        self.page = 0
        self.frame = pd.DataFrame()
        self.table = widgets.HTML()
        self.position = widgets.Label()
        self.previous_button = widgets.Button(description="previous", icon="arrow-left",
                                              layout=widgets.Layout(width="110px"))
        self.next_button = widgets.Button(description="next", icon="arrow-right",
                                          layout=widgets.Layout(width="110px"))
        self.previous_button.on_click(lambda _: self.turn(-1))
        self.next_button.on_click(lambda _: self.turn(1))
        super().__init__([widgets.HBox([self.previous_button, self.next_button, self.position]), self.table],
                         **kwargs)

    def __repr__(self) -> str:
        return f"Pager(page {self.page + 1} of {self.pages})"

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.frame) // self.page_size))

    def show(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.page = 0
        self.render()

    def turn(self, by: int) -> None:
        self.page = min(max(self.page + by, 0), self.pages - 1)
        self.render()

    def rows(self) -> pd.DataFrame:
        start = self.page * self.page_size
        return self.frame.iloc[start:start + self.page_size]

    def render(self) -> None:
        n = len(self.frame)
        start = self.page * self.page_size
        self.position.value = (f"rows {start + 1}-{min(start + self.page_size, n)} of {n}" if n
                               else "no rows")
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1
        self.table.value = _TABLE_STYLE + frame_html(self.rows())


class _View(widgets.VBox):
    """A tab's content over a Workspace: refreshes itself when the workspace changes.

    With ``auto=False`` (inside a Workbench) a change only marks the view stale;
    the workbench refreshes it when it is shown.
    """

    TAB_TITLE = ""

    def __init__(self, workspace: Workspace, children=(), *, auto: bool = True, **kwargs) -> None:
        super().__init__(list(children), **kwargs)
        self.workspace = workspace
        self.auto = auto
        self.stale = True
        workspace.on_change(self._workspace_changed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.workspace.describe().splitlines()[0]})"

    def _workspace_changed(self, kind: str) -> None:
        self.stale = True
        if self.auto:
            self.refresh()

    def refresh(self) -> None:
        self.stale = False


def _replace_children(box: widgets.Box, children: list, keep: Iterable = ()) -> None:
    """Put new children in a box and close the old ones (their models would linger otherwise)."""
    old = list(box.children)
    box.children = tuple(children)
    kept = {id(w) for w in keep} | {id(w) for w in children}

    def close(widget) -> None:
        if id(widget) in kept:
            return
        for child in getattr(widget, "children", ()):
            close(child)
        widget.close()

    for widget in old:
        close(widget)


def _error_html(error: Exception) -> str:
    return f"<div class='talosnb-err'><b>{_e(type(error).__name__)}</b>: <pre>{_e(error)}</pre></div>"


class CompareView(_View):
    """amd64 against arm64: filters (status, menu, text), a paged table, the summary plot."""

    TAB_TITLE = "Compare"
    ANY_MENU = "(any menu)"
    SHOWN = ("symbol", "amd64", "arm64", "status", "menu", "prompt")

    def __init__(self, workspace: Workspace, *, page_size: int = 25, auto: bool = True,
                 plot_top: int = 15) -> None:
        from .compare import STATUSES

        self.plot_top = plot_top
        self.status = widgets.SelectMultiple(options=STATUSES, value=("differs", "amd64-only", "arm64-only"),
                                             description="status", rows=len(STATUSES))
        self.menu = widgets.Dropdown(options=[self.ANY_MENU], value=self.ANY_MENU, description="menu")
        self.text = widgets.Text(description="text", placeholder="name, prompt or help text",
                                 continuous_update=True)
        self.counts = widgets.HTML()
        self.matched = widgets.HTML()
        self.table = Pager(page_size)
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        self.message = widgets.HTML()
        for control in (self.status, self.menu, self.text):
            control.observe(lambda _: self.apply_filters(), names="value")
        super().__init__(workspace, [
            self.message, self.counts,
            widgets.HBox([self.status, widgets.VBox([self.menu, self.text])]),
            self.matched, self.table, self.plot], auto=auto)
        if auto:
            self.refresh()

    def refresh(self) -> None:
        from .compare import status_counts
        from .plots import differences_by_menu

        super().refresh()
        try:
            df = self.workspace.compare()
        except TalosnbError as e:
            self.message.value = _error_html(e)
            return
        self.message.value = ""
        menus = [self.ANY_MENU, *sorted(df["menu"].dropna().unique())]
        keep = self.menu.value if self.menu.value in menus else self.ANY_MENU
        self.menu.options = menus
        self.menu.value = keep
        counts = status_counts(df)
        self.counts.value = ("<b>symbols per status:</b> "
                             + ", ".join(f"{_e(k)} {v}" for k, v in counts.items()))
        figure = differences_by_menu(df, top=self.plot_top)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        self.plot.value = buffer.getvalue()
        self.apply_filters()

    def filtered(self) -> pd.DataFrame:
        from .compare import by_status, by_text

        df = by_status(self.workspace.compare(), *self.status.value)
        if self.menu.value != self.ANY_MENU:
            df = df[df["menu"] == self.menu.value]
        if self.text.value.strip():
            df = by_text(df, self.text.value.strip())
        return df

    def apply_filters(self) -> None:
        if self.stale and not self.auto:
            return
        df = self.filtered()
        total = len(self.workspace.compare())
        self.matched.value = f"<b>{len(df)}</b> of {total} symbols match"
        self.table.show(df[list(self.SHOWN)])


class ExploreView(_View):
    """Search, the symbol panel, value buttons per arch and for both, cascade / refusal / fix, undo."""

    TAB_TITLE = "Explore & toggle"

    def __init__(self, workspace: Workspace, *, auto: bool = True, symbol: str | None = None) -> None:
        self.symbol: str | None = None
        self._controls_key: tuple | None = None
        self.last_changes: dict[str, edit.ChangeSet] = {}
        self.value_buttons: dict[tuple[str, str], widgets.Button] = {}
        self.fix_buttons: dict[str, widgets.Button] = {}
        self.search_box = widgets.Text(description="search", placeholder="symbol, prompt, help text or module",
                                       continuous_update=True, layout=widgets.Layout(width="420px"))
        self.results = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="640px"))
        self.panel = widgets.HTML()
        self.value_text = widgets.Text(description="value", layout=widgets.Layout(width="320px"))
        self.controls = widgets.VBox()
        self.outcome = widgets.VBox()
        self.undo_button = widgets.Button(description="undo", icon="undo",
                                          tooltip="undo the last change (config or module list)")
        self.status = widgets.HTML()
        self.search_box.observe(lambda change: self.run_search(change["new"]), names="value")
        self.results.observe(self._picked, names="value")
        self.undo_button.on_click(lambda _: self.undo())
        super().__init__(workspace, [self.search_box, self.results, self.panel, self.controls,
                                     widgets.HBox([self.undo_button, self.status]), self.outcome], auto=auto)
        if symbol:
            self.select(symbol)

    # --- search and selection -----------------------------------------------

    def run_search(self, text: str) -> None:
        df = self.workspace.search(text) if text.strip() else pd.DataFrame()
        options = []
        for row in df.itertuples():
            values = ", ".join(f"{a}={v or '-'}" for a, v in sorted(row.values.items()))
            prompt = row.prompt if isinstance(row.prompt, str) else ""
            options.append((f"{row.symbol}  [{values}]  {prompt}", row.symbol))
        self.results.options = options

    def _picked(self, change) -> None:
        if change["new"]:
            self.show(change["new"])

    def select(self, name: str) -> None:
        """Search for a symbol by name and show it (what a jump from another tab does)."""
        name = name.strip().removeprefix("CONFIG_")
        self.search_box.value = name
        if self.results.value != name and name in [v for _, v in self.results.options]:
            self.results.value = name
        if self.symbol != name:
            self.show(name)

    def show(self, name: str, *, keep_outcome: bool = False) -> None:
        try:
            view = self.workspace.symbol_view(name)
        except TalosnbError as e:
            self.panel.value = _error_html(e)
            _replace_children(self.controls, [], keep=(self.value_text,))
            self._controls_key = None
            return
        if name != self.symbol and not keep_outcome:
            _replace_children(self.outcome, [])
            self.fix_buttons = {}
        self.symbol = view["symbol"]
        self.panel.value = symbol_html(view)
        self._build_controls(view)

    def refresh(self) -> None:
        super().refresh()
        if self.symbol:
            self.show(self.symbol, keep_outcome=True)

    def _build_controls(self, view: dict) -> None:
        arches = [a for a, info in view["arches"].items() if info is not None]
        targets = arches + (["both"] if len(arches) > 1 else [])
        key = (view["symbol"], view["type"], tuple(targets))
        if key != self._controls_key:
            self._controls_key = key
            self.value_buttons = {}
            rows = []
            if view["type"] in ("bool", "tristate"):
                values = ["y", "m", "n"] if view["type"] == "tristate" else ["y", "n"]
                for target in targets:
                    buttons = []
                    for value in values:
                        button = widgets.Button(description=value, layout=widgets.Layout(width="48px"))
                        button.on_click(lambda _, t=target, v=value: self.set_value(t, v))
                        self.value_buttons[(target, value)] = button
                        buttons.append(button)
                    rows.append(widgets.HBox([widgets.Label(target, layout=widgets.Layout(width="60px")),
                                              *buttons]))
            else:
                self.value_text.value = view["arches"][arches[0]]["value"] or ""
                buttons = []
                for target in targets:
                    button = widgets.Button(description=f"set on {target}")
                    button.on_click(lambda _, t=target: self.set_value(t, self.value_text.value))
                    self.value_buttons[(target, "set")] = button
                    buttons.append(button)
                rows.append(widgets.HBox([self.value_text, *buttons]))
            _replace_children(self.controls, rows, keep=(self.value_text,))
        for (target, value), button in self.value_buttons.items():
            if value == "set":
                continue
            infos = [view["arches"][a] for a in (arches if target == "both" else [target])]
            if all(i["value"] == value for i in infos):
                button.button_style, button.tooltip = "success", "the current value"
            elif not all(value in i["assignable"] for i in infos):
                button.button_style = "warning"
                button.tooltip = "not assignable now: click to see why, and a verified fix"
            else:
                button.button_style, button.tooltip = "", f"set {view['symbol']}={value} on {target}"

    # --- actions -----------------------------------------------------------

    def set_value(self, target: str, value: str) -> dict[str, edit.ChangeSet]:
        """Set the shown symbol on one arch ("amd64") or on every arch defining it ("both")."""
        arches = None if target == "both" else [target]
        try:
            changes = self.workspace.set([edit.Assignment(self.symbol, value)], arches=arches)
        except TalosnbError as e:
            self.status.value = _error_html(e)
            return {}
        self._show_changes(changes)
        self.status.value = _e("; ".join(
            f"{a}: " + c.text().splitlines()[0].split(": ", 1)[1] for a, c in changes.items()))
        if self.stale:
            self.refresh()
        return changes

    def apply_fix(self, arch: str) -> dict[str, edit.ChangeSet]:
        refusal = self.last_changes[arch].refusals[0]
        try:
            changes = self.workspace.apply_fix(arch, refusal)
        except TalosnbError as e:
            self.status.value = _error_html(e)
            return {}
        self._show_changes(changes)
        self.status.value = _e(f"applied the verified fix on {arch}: "
                               + " ".join(str(a) for a in changes[arch].requested))
        if self.stale:
            self.refresh()
        return changes

    def undo(self) -> HistoryEntry | None:
        entry = self.workspace.undo()
        _replace_children(self.outcome, [])
        self.fix_buttons = {}
        self.last_changes = {}
        self.status.value = _e(f"undid {entry.what} on {', '.join(entry.arches)}" if entry
                               else "nothing to undo")
        if self.stale:
            self.refresh()
        return entry

    def _show_changes(self, changes: dict[str, edit.ChangeSet]) -> None:
        self.last_changes = changes
        self.fix_buttons = {}
        children = []
        for arch, change in changes.items():
            children.append(widgets.HTML(_TABLE_STYLE + change_html(change)))
            refusal = change.refusals[0] if change.refusals else None
            if refusal is not None and refusal.fix is not None and refusal.fix.found:
                fix = " ".join(str(a) for a in [*refusal.fix.assignments, refusal.assignment])
                button = widgets.Button(description=f"apply verified fix on {arch}: {fix}",
                                        button_style="primary", layout=widgets.Layout(width="auto"))
                button.on_click(lambda _, a=arch: self.apply_fix(a))
                self.fix_buttons[arch] = button
                children.append(button)
        _replace_children(self.outcome, children)

    @property
    def cascade_text(self) -> str:
        """The outcome area as text (for tests and logs)."""
        return "\n".join(c.text() for c in self.last_changes.values())


class ModulesView(_View):
    """Module-list check results with filters, add/remove entries, and a jump to the symbol."""

    TAB_TITLE = "Modules"
    ANY = "(any)"

    def __init__(self, workspace: Workspace, *, auto: bool = True,
                 on_open_symbol: Callable[[str], None] | None = None) -> None:
        from .modules import LEVELS

        self.on_open_symbol = on_open_symbol
        self.arch = widgets.Dropdown(options=[self.ANY, *workspace.module_lists], value=self.ANY,
                                     description="arch")
        self.level = widgets.SelectMultiple(options=LEVELS, value=("error", "warning"), description="level",
                                            rows=3)
        self.kind = widgets.Dropdown(options=[self.ANY], value=self.ANY, description="kind")
        self.text = widgets.Text(description="text", placeholder="entry, symbol or message",
                                 continuous_update=True)
        self.counts = widgets.HTML()
        self.findings_list = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="900px"))
        self.detail = widgets.HTML()
        self.open_symbol_button = widgets.Button(description="show symbol", icon="search", disabled=True)
        self.add_entry_button = widgets.Button(description="add to list", icon="plus", disabled=True)
        self.remove_entry_button = widgets.Button(description="remove from list", icon="minus", disabled=True)
        self.entry_text = widgets.Text(description="entry", placeholder="kernel/...ko, module name or SYMBOL")
        self.entry_arch = widgets.Dropdown(options=[*(["both"] if len(workspace.module_lists) > 1 else []),
                                                    *workspace.module_lists], description="on")
        self.add_button = widgets.Button(description="add", icon="plus")
        self.remove_button = widgets.Button(description="remove", icon="minus")
        self.undo_button = widgets.Button(description="undo", icon="undo")
        self.edit_result = widgets.HTML()
        for control in (self.arch, self.level, self.kind, self.text):
            control.observe(lambda _: self.apply_filters(), names="value")
        self.findings_list.observe(lambda _: self._show_finding(), names="value")
        self.open_symbol_button.on_click(lambda _: self.open_symbol())
        self.add_entry_button.on_click(lambda _: self.edit_finding("add"))
        self.remove_entry_button.on_click(lambda _: self.edit_finding("remove"))
        self.add_button.on_click(lambda _: self.edit_entries("add"))
        self.remove_button.on_click(lambda _: self.edit_entries("remove"))
        self.undo_button.on_click(lambda _: self.undo())
        children = [self.counts,
                    widgets.HBox([self.level, widgets.VBox([self.arch, self.kind, self.text])]),
                    self.findings_list, self.detail,
                    widgets.HBox([self.open_symbol_button, self.add_entry_button, self.remove_entry_button]),
                    widgets.HTML("<b>Edit the lists</b>"),
                    widgets.HBox([self.entry_text, self.entry_arch, self.add_button, self.remove_button,
                                  self.undo_button]),
                    self.edit_result]
        if not workspace.module_lists:
            children = [widgets.HTML("<i>No module lists loaded: open the workspace with a talos "
                                     "checkout (talos=...).</i>")]
        super().__init__(workspace, children, auto=auto)
        if auto:
            self.refresh()

    def refresh(self) -> None:
        super().refresh()
        if not self.workspace.module_lists:
            return
        frame = self.workspace.findings()
        kinds = [self.ANY, *sorted(frame["kind"].unique())] if len(frame) else [self.ANY]
        keep = self.kind.value if self.kind.value in kinds else self.ANY
        self.kind.options = kinds
        self.kind.value = keep
        parts = []
        for arch, counts in self.workspace.check_counts().items():
            parts.append(f"<b>{_e(arch)}</b>: " + ", ".join(f"{n} {lv}" for lv, n in counts.items()))
        self.counts.value = "; ".join(parts)
        self.apply_filters()

    def filtered(self) -> pd.DataFrame:
        frame = self.workspace.findings()
        if not len(frame):
            return frame
        keep = frame["level"].isin(self.level.value)
        if self.arch.value != self.ANY:
            keep &= frame["arch"] == self.arch.value
        if self.kind.value != self.ANY:
            keep &= frame["kind"] == self.kind.value
        text = self.text.value.strip().lower()
        if text:
            blob = (frame["entry"].fillna("") + " " + frame["symbols"].fillna("") + " "
                    + frame["message"].fillna("")).str.lower()
            keep &= blob.str.contains(text, regex=False)
        return frame[keep]

    def apply_filters(self) -> None:
        if not self.workspace.module_lists or (self.stale and not self.auto):
            return
        shown = self.filtered().head(500)
        previous = self.findings_list.value
        options = [(f"{r.level:7} {r.arch:5} {r.kind:16} {r.entry or ''}", i)
                   for i, r in zip(shown.index, shown.itertuples(), strict=True)]
        self.findings_list.options = options
        if previous in shown.index:
            self.findings_list.value = previous
        self._show_finding()

    def finding(self) -> pd.Series | None:
        index = self.findings_list.value
        frame = self.workspace.findings()
        if index is None or index not in frame.index:
            return None
        return frame.loc[index]

    def _show_finding(self) -> None:
        row = self.finding()
        self.open_symbol_button.disabled = self.add_entry_button.disabled = True
        self.remove_entry_button.disabled = True
        if row is None:
            self.detail.value = ""
            return
        symbols = [s for s in (row["symbols"] or "").split(",") if s]
        text = (f"<div><b>{_e(row['level'])}</b> on {_e(row['arch'])}: {_e(row['message'])}</div>"
                + (f"<div>fix: <code>{_e(row['fix'])}</code></div>" if row["fix"] else "")
                + (f"<div>where: <code>{_e(row['where'])}</code></div>" if row["where"] else "")
                + (f"<div>values: <code>{_e(row['values'])}</code></div>" if row["values"] else ""))
        self.detail.value = text
        if symbols:
            self.open_symbol_button.disabled = False
            self.open_symbol_button.description = f"show {symbols[0]}"
        entry = row["entry"]
        module_list = self.workspace.module_lists.get(row["arch"])
        if entry and module_list is not None:
            listed = entry in module_list.entries
            self.remove_entry_button.disabled = not listed
            self.add_entry_button.disabled = listed
            self.add_entry_button.description = f"add to modules-{row['arch']}.txt"
            self.remove_entry_button.description = f"remove from modules-{row['arch']}.txt"

    # --- actions -----------------------------------------------------------

    def open_symbol(self, name: str | None = None) -> None:
        """Show the finding's symbol: in the Explore tab (workbench) or here."""
        if name is None:
            row = self.finding()
            if row is None or not row["symbols"]:
                return
            name = row["symbols"].split(",")[0]
        if self.on_open_symbol is not None:
            self.on_open_symbol(name)
        else:
            try:
                self.detail.value += symbol_html(self.workspace.symbol_view(name))
            except TalosnbError as e:
                self.detail.value += _error_html(e)

    def edit_finding(self, action: str) -> dict:
        row = self.finding()
        if row is None or not row["entry"]:
            return {}
        return self._edit(action, [row["entry"]], [row["arch"]])

    def edit_entries(self, action: str) -> dict:
        items = self.entry_text.value.split()
        arches = None if self.entry_arch.value == "both" else [self.entry_arch.value]
        return self._edit(action, items, arches)

    def _edit(self, action: str, items: list[str], arches: list[str] | None) -> dict:
        try:
            edits = self.workspace.edit_modules(action, items, arches)
        except TalosnbError as e:
            self.edit_result.value = _error_html(e)
            return {}
        parts = []
        for arch, one in edits.items():
            verb = "added" if action == "add" else "removed"
            line = f"<b>modules-{_e(arch)}.txt</b>: {verb} {_e(', '.join(one.changed) or 'nothing')}"
            if one.unchanged:
                line += f"; already listed: {_e(', '.join(one.unchanged))}"
            for item, error in one.skipped.items():
                line += f"<br><i>{_e(item)}: {_e(error.message)}</i>"
            for finding in one.warnings:
                line += f"<br>warning: {_e(finding.message)}"
            line += f"<br>{len(one.errors)} error(s) in the list after the edit"
            diff = one.module_list.diff()
            if diff:
                line += f"<pre>{_e(diff)}</pre>"
            parts.append(f"<div>{line}</div>")
        self.edit_result.value = "".join(parts)
        if self.stale:
            self.refresh()
        return edits

    def undo(self) -> HistoryEntry | None:
        entry = self.workspace.undo()
        self.edit_result.value = _e(f"undid {entry.what} on {', '.join(entry.arches)}" if entry
                                    else "nothing to undo")
        if self.stale:
            self.refresh()
        return entry


class SaveView(_View):
    """Pending diff per file, then an atomic write that refuses over files changed on disk."""

    TAB_TITLE = "Save"

    def __init__(self, workspace: Workspace, *, auto: bool = True) -> None:
        self.pending = widgets.HTML()
        self.force = widgets.Checkbox(value=False, description="overwrite files changed on disk",
                                      indent=False)
        self.allow_drop = widgets.Checkbox(value=False, indent=False,
                                           description="drop config lines for symbols this tree doesn't define")
        self.write_button = widgets.Button(description="write files", icon="save", button_style="primary")
        self.result = widgets.HTML()
        self.last_result: SaveResult | None = None
        self.last_error: TalosnbError | None = None
        self.write_button.on_click(lambda _: self.write())
        super().__init__(workspace, [self.pending, widgets.HBox([self.write_button, self.force,
                                                                 self.allow_drop]),
                                     self.result], auto=auto)
        if auto:
            self.refresh()

    def refresh(self) -> None:
        super().refresh()
        pending = self.workspace.pending()
        parts = []
        for p in pending:
            state = "no change" if not p.changed else "will be written"
            body = f"<pre>{_e(chr(10).join(p.lines))}</pre>" if p.changed else ""
            if p.dropped:
                body = f"<div class='talosnb-err'>{_e(p.drop_warning())}</div>" + body
            parts.append(f"<div><b>{_e(p.name)}</b> <code>{_e(p.label)}</code>: {state}{body}</div>")
        count = sum(p.changed for p in pending)
        self.write_button.description = f"write {count} file(s)" if count else "nothing to write"
        self.write_button.disabled = count == 0
        self.allow_drop.disabled = not any(p.dropped for p in pending)
        self.pending.value = _TABLE_STYLE + "<h4>Pending changes</h4>" + "".join(parts)

    def write(self) -> SaveResult | None:
        self.last_result = self.last_error = None
        try:
            result = self.workspace.save(force=self.force.value, allow_drop=self.allow_drop.value)
        except FileChangedError as e:
            self.last_error = e
            files = ", ".join(getattr(e, "files", []) or [e.where or ""])
            self.result.value = (_TABLE_STYLE + "<div class='talosnb-err'><b>Not written.</b> "
                                 f"Changed on disk since it was loaded: <b>{_e(files)}</b>. Nothing was "
                                 f"written.<br>{_e(e.hint or '')}</div>")
            return None
        except TalosnbError as e:
            self.last_error = e
            self.result.value = _TABLE_STYLE + _error_html(e)
            return None
        self.last_result = result
        self.result.value = (_TABLE_STYLE + "<div class='talosnb-ok'>"
                             + _e(result.text()).replace("\n", "<br>").replace("  ", "&nbsp;&nbsp;")
                             + "</div>")
        if self.stale:
            self.refresh()
        return result


class Workbench(widgets.Tab):
    """The four views as tabs over one Workspace; the selected tab refreshes on every change,
    the others when they are selected."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.compare = CompareView(workspace, auto=False)
        self.explore = ExploreView(workspace, auto=False)
        self.modules = ModulesView(workspace, auto=False, on_open_symbol=self.open_symbol)
        self.save = SaveView(workspace, auto=False)
        views = [self.compare, self.explore, self.modules, self.save]
        super().__init__(children=views, titles=[v.TAB_TITLE for v in views])
        self.observe(lambda _: self._refresh_selected(), names="selected_index")
        workspace.on_change(lambda _: self._refresh_selected())
        self.selected_index = 0
        self._refresh_selected()

    def __repr__(self) -> str:
        return f"Workbench({self.workspace.describe().splitlines()[0]})"

    @property
    def views(self) -> list[_View]:
        return list(self.children)

    def _refresh_selected(self) -> None:
        if self.selected_index is None:
            return
        view = self.children[self.selected_index]
        if view.stale:
            view.refresh()

    def show(self, view: _View) -> None:
        self.selected_index = self.views.index(view)

    def open_symbol(self, name: str) -> None:
        """Jump to the Explore tab with `name` in the symbol panel."""
        self.show(self.explore)
        self.explore.select(name)


def workbench(session: Session | Workspace | None = None, **inputs) -> Workbench:
    """Compare, Explore & toggle, Modules and Save as tabs over one shared session.

    Without a session, ``inputs`` go to :meth:`Workspace.open` (pkgs, talos,
    kernel_src, arch, progress, scratch...; none given: the embedded sample).
    """
    if session is None:
        workspace = Workspace.open(**inputs)
    else:
        if inputs:
            raise TypeError("pass either a session or inputs, not both")
        workspace = Workspace.of(session)
    return Workbench(workspace)


__all__ = ["CompareView", "ExploreView", "HistoryEntry", "ModulesView", "Pager", "PendingFile", "SaveResult",
           "SaveView", "Workbench", "Workspace", "cascade_html", "change_html", "frame_html", "in_notebook",
           "reason_html", "refusal_html", "scratch_copy", "symbol_html", "workbench"]
