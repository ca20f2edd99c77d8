"""Walking a kernel tree as kbuild does (top Kbuild, arch Makefile, every directory guard) to
build its Kbuild map."""

from __future__ import annotations

import posixpath
import re
from collections import deque
from pathlib import Path

from talosnb.core.arches import MAKE_ARCH_FOR_SRCARCH
from talosnb.core.errors import InputError
from talosnb.core.versions import read_makefile_version

from .makefile import Evaluator, Word, evaluate_makefile, merge_alternatives, merge_conds, relabel
from .model import Condition, Conds, KbuildMap, ModuleRule


def _dir_result(ev: Evaluator, directory: str) -> tuple[dict[str, list[Conds]], dict[str, list[Conds]], dict[str, list[Conds]]]:
    """(subdirectories, module objects, built-in objects) of an evaluated directory, each
    name -> list of condition alternatives."""
    subdirs: dict[str, list[Conds]] = {}
    modules: dict[str, list[Conds]] = {}
    builtins: dict[str, list[Conds]] = {}
    for var, kind in (("obj-y", "builtin"), ("obj-m", "module"), ("subdir-y", "builtin"),
                      ("subdir-m", "module")):
        for w in ev.vars.get(var, []):
            conds = relabel(w.conds, kind)
            text = w.text
            if var.startswith("subdir-") and not text.endswith("/"):
                text += "/"
            if text.endswith("/"):
                d = posixpath.normpath(posixpath.join(directory, text))
                if d.startswith("..") or "$" in d:
                    continue
                subdirs.setdefault(d, []).append(conds)
            elif text.endswith(".o"):
                obj = posixpath.normpath(posixpath.join(directory, text))
                (modules if var == "obj-m" else builtins).setdefault(obj, []).append(conds)
            elif not text.endswith(".a"):
                problem = f"{var} word {text!r} is neither an object nor a directory"
                ev.unevaluated.append((f"{directory}/", problem))
    return subdirs, modules, builtins


def kbuild_file(tree: Path, directory: str) -> str | None:
    """kbuild's rule: a directory's ``Kbuild`` if present, else its ``Makefile``."""
    for name in ("Kbuild", "Makefile"):
        rel = posixpath.join(directory, name) if directory else name
        if (tree / rel).is_file():
            return rel
    return None


def kernel_version(tree: Path) -> str:
    """The tree's release from its top Makefile (EXTRAVERSION included)."""
    version = read_makefile_version(tree / "Makefile")
    if version is None:
        raise InputError("not a kernel tree: no top Makefile with VERSION/PATCHLEVEL", where=str(tree),
                         hint="point at the folder holding the kernel's Makefile and Kconfig")
    return version


def _arch_vars(tree: Path, srcarch: str, unevaluated: list, files_read: set[str]) -> dict[str, list[Word]]:
    """ARCH_CORE/ARCH_LIB/ARCH_DRIVERS (top Makefile: core-y, libs-y dirs, drivers-y and
    drivers-m after reading arch/$(SRCARCH)/Makefile) plus what that Makefile exports."""
    base = {"SRCARCH": [Word(srcarch)], "ARCH": [Word(MAKE_ARCH_FOR_SRCARCH.get(srcarch, srcarch))],
            "srctree": [Word(".")], "objtree": [Word(".")]}
    ev = Evaluator(tree, "", base, [], files_read)
    ev.vars.update({"core-y": [], "drivers-y": [], "libs-y": [Word("lib/")]})
    arch_makefile = f"arch/{srcarch}/Makefile"
    if not (tree / arch_makefile).is_file():
        raise InputError(f"no arch/{srcarch}/Makefile in this tree", where=str(tree),
                         hint="SRCARCH is x86 for amd64 and arm64 for arm64")
    evaluate_makefile(tree, "", arch_makefile, ev)
    # Only problems with the directory lists matter here; the rest of the arch Makefile is flags.
    unevaluated.extend((w, t) for w, t in ev.unevaluated if re.search(r"\b(core|drivers|libs)-", t))
    out = dict(base)
    for name in ev.exported:
        if name in ev.vars and name not in ("SRCARCH", "ARCH"):
            out[name] = ev.vars[name]
    out["ARCH_CORE"] = _relabel_words(ev.vars.get("core-y", []), "builtin")
    out["ARCH_LIB"] = [w for w in _relabel_words(ev.vars.get("libs-y", []), "builtin") if w.text.endswith("/")]
    out["ARCH_DRIVERS"] = (_relabel_words(ev.vars.get("drivers-y", []), "builtin")
                           + _relabel_words(ev.vars.get("drivers-m", []), "module"))
    return out


def _relabel_words(words: list[Word], kind: str) -> list[Word]:
    return [Word(w.text, relabel(w.conds, kind)) for w in words]


def build_kbuild_map(tree: Path, srcarch: str, *, progress: bool = False) -> KbuildMap:
    """Read the Kbuild files of ``tree`` from the top as kbuild does for ``srcarch``
    (``x86`` or ``arm64``) and map every ``.ko`` to the conditions that build it."""
    walk = _Walk(Path(tree), srcarch)
    bar = None
    if progress:
        from talosnb.core.progress import progress_bar
        bar = progress_bar(desc=f"Kbuild {srcarch}", unit="dir")
    try:
        while walk.queue:
            walk.visit(walk.queue.popleft())
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return walk.finish()


def _extend(target: list[Conds], guards: list[Conds], alts: list[Conds]) -> None:
    """Every guard alternative combined with every alternative of what it guards (unsatisfiable
    combinations left out)."""
    for g in guards:
        for a in alts:
            merged = merge_conds(g, a)
            if merged is not None:
                target.append(merged)


class _Walk:
    """The directories kbuild descends into, breadth first from the top (so a directory's guards
    are complete before it is read), and the objects each one builds under which conditions."""

    MAX_GUARDS = 256

    def __init__(self, tree: Path, srcarch: str) -> None:
        self.tree = tree
        self.unevaluated: list[tuple[str, str]] = []
        self.files_read: set[str] = {"Makefile"}
        self.base = _arch_vars(tree, srcarch, self.unevaluated, self.files_read)
        self.kmap = KbuildMap(srcarch=srcarch, kernel_version=kernel_version(tree))
        self.pending: dict[str, list[Conds]] = {"": [()]}   # directory -> guard alternatives so far
        self.queue = deque([""])
        self.queued = {""}
        self.done: set[str] = set()
        self.module_alts: dict[str, list[Conds]] = {}
        self.builtin_alts: dict[str, list[Conds]] = {}
        self.parts: dict[str, list[tuple[str, Conds]]] = {}

    def visit(self, directory: str) -> None:
        if directory in self.done:
            return
        self.done.add(directory)
        guards = merge_alternatives(self.pending[directory])
        if len(guards) > self.MAX_GUARDS:
            why = f"{len(guards)} ways to reach this directory; kept {self.MAX_GUARDS}"
            self.unevaluated.append((f"{directory}/", why))
            guards = guards[:self.MAX_GUARDS]
        self.kmap.directories[directory] = tuple(guards)
        file = kbuild_file(self.tree, directory)
        if file is None:
            self.unevaluated.append((f"{directory}/", "descended into, but it has no Kbuild or Makefile"))
            return
        ev = Evaluator(self.tree, directory, self.base, self.unevaluated, self.files_read)
        evaluate_makefile(self.tree, directory, file, ev)
        subdirs, modules, builtins = _dir_result(ev, directory)
        for target, local in ((self.module_alts, modules), (self.builtin_alts, builtins)):
            for obj, alts in local.items():
                _extend(target.setdefault(f"kernel/{obj[:-2]}.ko", []), guards, alts)
        for obj in modules:
            self._record_parts(ev, directory, obj)
        for sub, alts in subdirs.items():
            if sub in self.done:
                continue
            reach = self.pending.setdefault(sub, [])
            _extend(reach, guards, merge_alternatives(alts))
            if reach and sub not in self.queued:
                self.queued.add(sub)
                self.queue.append(sub)

    def _record_parts(self, ev: Evaluator, directory: str, obj: str) -> None:
        """What kbuild links into the module ``obj``: ``$(foo-objs) $(foo-y) $(foo-m)``
        (scripts/Makefile.lib, ``multi-search``), each part under the conditions it is listed
        with; a module with none of these lists is built from its own source."""
        stem = posixpath.relpath(obj[:-2], directory or ".")
        found: list[tuple[str, Conds]] = []
        for suffix in ("-objs", "-y", "-m"):
            for w in ev.vars.get(stem + suffix, []):
                if w.text.endswith(".o"):
                    found.append((posixpath.normpath(posixpath.join(directory, w.text)), w.conds))
        parts = self.parts.setdefault(f"kernel/{obj[:-2]}.ko", [])
        parts.extend(found or [(obj, ())])

    def finish(self) -> KbuildMap:
        kmap = self.kmap
        intern = _Interner()
        for ko in sorted(self.module_alts):
            kmap.modules[ko] = ModuleRule(ko, intern(self.module_alts[ko]), intern(self.builtin_alts.get(ko, [])))
        for ko in sorted(set(self.builtin_alts) - set(self.module_alts)):
            kmap.builtin_only[ko] = ModuleRule(ko, (), intern(self.builtin_alts[ko]))
        kmap.directories = {d: intern(list(g)) for d, g in kmap.directories.items()}
        kmap.parts = {ko: tuple(dict.fromkeys((obj, intern([conds])[0]) for obj, conds in parts))
                      for ko, parts in sorted(self.parts.items())}
        kmap.files = sorted(self.files_read)
        kmap.unevaluated = sorted(set(self.unevaluated))
        kmap._index()
        return kmap


class _Interner:
    """Equal conditions and chains shared, so the pickled cache stays small and loads fast."""

    def __init__(self) -> None:
        self.conds: dict[Condition, Condition] = {}
        self.chains: dict[Conds, Conds] = {}

    def __call__(self, alts: list[Conds]) -> tuple[Conds, ...]:
        out = []
        for alt in dict.fromkeys(alts):
            chain = tuple(self.conds.setdefault(c, c) for c in alt)
            out.append(self.chains.setdefault(chain, chain))
        return tuple(out)
