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

from .makefile import Word, _Evaluator, _merge, _merge_alternatives, _relabel, evaluate_makefile
from .model import Condition, Conds, KbuildMap, ModuleRule


def _dir_result(ev: _Evaluator, directory: str):
    """(subdirectories, module objects, built-in objects) of an evaluated directory, each
    name -> list of condition alternatives."""
    subdirs: dict[str, list[Conds]] = {}
    modules: dict[str, list[Conds]] = {}
    builtins: dict[str, list[Conds]] = {}
    for var, kind in (("obj-y", "builtin"), ("obj-m", "module"), ("subdir-y", "builtin"),
                      ("subdir-m", "module")):
        for w in ev.vars.get(var, []):
            conds = _relabel(w.conds, kind)
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
    ev = _Evaluator(tree, "", base, [], files_read)
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
    return [Word(w.text, _relabel(w.conds, kind)) for w in words]


def build_kbuild_map(tree: Path, srcarch: str, *, progress: bool = False) -> KbuildMap:
    """Read the Kbuild files of ``tree`` from the top as kbuild does for ``srcarch``
    (``x86`` or ``arm64``) and map every ``.ko`` to the conditions that build it."""
    tree = Path(tree)
    version = kernel_version(tree)
    unevaluated: list[tuple[str, str]] = []
    files_read: set[str] = {"Makefile"}
    base = _arch_vars(tree, srcarch, unevaluated, files_read)
    kmap = KbuildMap(srcarch=srcarch, kernel_version=version)
    # Directory -> guard alternatives from the top down; breadth-first so parents come first.
    pending: dict[str, list[Conds]] = {"": [()]}
    queue = deque([""])
    queued = {""}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(desc=f"Kbuild {srcarch}", unit="dir")
    module_alts: dict[str, list[Conds]] = {}
    builtin_alts: dict[str, list[Conds]] = {}
    done: set[str] = set()
    while queue:
        directory = queue.popleft()
        if directory in done:
            continue
        done.add(directory)
        guards = _merge_alternatives(pending[directory])
        if len(guards) > 256:
            unevaluated.append((f"{directory}/", f"{len(guards)} ways to reach this directory; kept 256"))
            guards = guards[:256]
        kmap.directories[directory] = tuple(guards)
        file = kbuild_file(tree, directory)
        if bar is not None:
            bar.update(1)
        if file is None:
            unevaluated.append((f"{directory}/", "descended into, but it has no Kbuild or Makefile"))
            continue
        ev = _Evaluator(tree, directory, base, unevaluated, files_read)
        evaluate_makefile(tree, directory, file, ev)
        subdirs, modules, builtins = _dir_result(ev, directory)
        for target, local in ((module_alts, modules), (builtin_alts, builtins)):
            for obj, alts in local.items():
                ko = f"kernel/{obj[:-2]}.ko"
                full = target.setdefault(ko, [])
                for g in guards:
                    for a in alts:
                        merged = _merge(g, a)
                        if merged is not None:
                            full.append(merged)
        for sub, alts in subdirs.items():
            if sub in done:
                continue
            reach = pending.setdefault(sub, [])
            for g in guards:
                for a in _merge_alternatives(alts):
                    merged = _merge(g, a)
                    if merged is not None:
                        reach.append(merged)
            if reach and sub not in queued:
                queued.add(sub)
                queue.append(sub)
    if bar is not None:
        bar.close()
    # Equal conditions and chains are shared, so the pickled cache stays small and loads fast.
    conds_seen: dict[Condition, Condition] = {}
    chains_seen: dict[Conds, Conds] = {}

    def intern(alts: list[Conds]) -> tuple[Conds, ...]:
        out = []
        for alt in dict.fromkeys(alts):
            chain = tuple(conds_seen.setdefault(c, c) for c in alt)
            out.append(chains_seen.setdefault(chain, chain))
        return tuple(out)

    for ko in sorted(module_alts):
        kmap.modules[ko] = ModuleRule(ko, intern(module_alts[ko]), intern(builtin_alts.get(ko, [])))
    for ko in sorted(set(builtin_alts) - set(module_alts)):
        kmap.builtin_only[ko] = ModuleRule(ko, (), intern(builtin_alts[ko]))
    kmap.directories = {d: intern(list(g)) for d, g in kmap.directories.items()}
    kmap.files = sorted(files_read)
    kmap.unevaluated = sorted(set(unevaluated))
    kmap._index()
    return kmap
