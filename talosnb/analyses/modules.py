"""Talos module lists (``hack/modules-ARCH.txt``) against kernel configs, and write-back.

Talos copies every listed path from ``/lib/modules/<ver>/`` into the initramfs with
``install -D``; a listed ``.ko`` that the config does not build as a module fails
the image build late. The checks here say so early, with the Kconfig symbol, its
value and the Makefile line responsible.

Checks are rules as data (:data:`RULES`: kind -> level, message and fix
templates) rendered by the findings engine (:mod:`talosnb.analyses.findings`);
findings are rows (:class:`~talosnb.analyses.findings.Finding`,
:func:`findings_frame`) for any presentation layer.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talosnb.core import dotconfig, layout
from talosnb.core.errors import InputError
from talosnb.core.fileio import Snapshot, atomic_write, read_text
from talosnb.core.versions import series
from talosnb.inputs.checkouts import ExtensionListFile
from talosnb.kbuild import Condition, KbuildMap, module_name, normalize_value

from .findings import Finding, Rule, render, rule_table
from .findings import findings_frame as generic_frame

if TYPE_CHECKING:
    import pandas as pd

# Files `make modules_install` (and the depmod it runs) write next to kernel/; Talos lists
# some of them so the initramfs's modprobe finds its way.
METADATA_ENTRIES = frozenset({
    "modules.order", "modules.builtin", "modules.builtin.modinfo", "modules.builtin.bin",
    "modules.builtin.alias.bin", "modules.alias", "modules.alias.bin", "modules.dep", "modules.dep.bin",
    "modules.symbols", "modules.symbols.bin", "modules.softdep", "modules.weakdep", "modules.devname",
})

VerifyFix = Callable[[str, Mapping[str, str]], bool]


RULES: dict[str, Rule] = rule_table(
    Rule("builtin", "error",
         "{entry} is built into the kernel (CONFIG_{symbol}=y), so there is no .ko to copy",
         "set CONFIG_{symbol}=m, or drop {entry} from {list_file}"),
    Rule("not-built", "error",
         "{entry} is not built: {reasons}",
         "{assignments}"),
    Rule("not-in-tree", "error",
         "{entry}: no such module in this kernel tree ({tree_version}){suggestion}",
         "{replacement}"),
    Rule("not-in-this-tree", "warning",
         "{entry}: no such module in the {tree_version} tree (the list is for {list_version}); "
         "cannot check it here{suggestion}",
         None),
    Rule("duplicate", "warning", "{entry} is listed again (first at line {first_line})",
         "drop the second {entry}"),
    Rule("unsorted", "warning", "{entry} is out of order: upstream keeps the list in LC_ALL=C sort order",
         "sort the list with LC_ALL=C sort"),
    Rule("malformed", "error", "{entry!r} is not a path under /lib/modules/<version>/: {problem}",
         "{suggestion}"),
    Rule("unknown-metadata", "warning",
         "{entry} is not a file `make modules_install` writes; install -D will fail on it",
         "drop {entry}"),
    Rule("other-arch-only", "info",
         "{entry} is built as a module on {arch} too (CONFIG_{symbol}=m) but listed for {other_arch} only",
         "add {entry} to {module_list_name} if {arch} needs it in the initramfs"),
    Rule("unlisted-module", "info",
         "{entry} is built as a module (CONFIG_{symbol}=m) but not in {module_list_name}",
         None),
)


def subsystem(entry: str | None) -> str | None:
    """The first two folders under ``kernel/`` (``drivers/net``), to filter long lists."""
    if not entry or not entry.startswith("kernel/"):
        return None
    parts = entry.split("/")[1:-1]
    return "/".join(parts[:2]) or None


TALOS_LIST = "talos"   # the list id of hack/modules-ARCH.txt; an extension's is extensions/<its folder>


def make_finding(kind: str, arch: str, entry: str | None, *, list_id: str = TALOS_LIST, **kwargs: Any) -> Finding:
    """A module-list finding rendered from :data:`RULES` (with its subsystem and its list as details)."""
    kwargs.setdefault("list_file", layout.module_list_name(arch))
    return render(RULES, kind, arch, entry, details={"subsystem": subsystem(entry), "list": list_id}, **kwargs)


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Module-list findings as a DataFrame (see :func:`talosnb.analyses.findings.findings_frame`)."""
    return generic_frame(findings, details=("subsystem", "list", "needs"))


# --------------------------------------------------------------------------
# The list file

def c_sort_key(entry: str) -> bytes:
    """``LC_ALL=C sort`` order: plain byte order."""
    return entry.encode("utf-8")


def looks_like_symbol(text: str) -> bool:
    return bool(re.fullmatch(r"(CONFIG_)?[A-Z0-9_]+", text)) and any(ch.isalpha() for ch in text)


@dataclass
class ModuleList:
    """One ``hack/modules-ARCH.txt``: its lines as loaded and as edited."""

    arch: str
    lines: list[str]
    path: Path | None = None
    snapshot: Snapshot | None = None
    original: str = ""
    trailing_newline: bool = True
    # talos keeps its list in LC_ALL=C order; an extension's list is in the order modules were added
    c_sorted: bool = True
    _line_numbers: list[int | None] = field(default_factory=list, repr=False)

    @classmethod
    def load(cls, path: str | Path, arch: str) -> ModuleList:
        path = Path(path)
        text, snapshot = read_text(path, what=f"module list for {arch}")
        return cls.parse(text, arch, path=path, snapshot=snapshot)

    @classmethod
    def parse(cls, text: str, arch: str, *, path: Path | None = None,
              snapshot: Snapshot | None = None) -> ModuleList:
        name = str(path) if path else layout.module_list_name(arch)
        lines = text.split("\n")
        trailing = text.endswith("\n")
        if trailing:
            lines.pop()
        for number, line in enumerate(lines, 1):
            where = f"{name}:{number}"
            if line.endswith("\r"):
                raise InputError("line ends with a carriage return (Windows line ending)", where=where,
                                 hint="convert the file to Unix line endings")
            if line.lstrip().startswith("#"):
                raise InputError("comments are not allowed: every line is a path install -D copies",
                                 where=where, hint="remove the line")
            if line.strip() and re.search(r"\s", line.strip()):
                raise InputError(f"more than one word on a line: {line!r}", where=where,
                                 hint="one path per line, relative to /lib/modules/<version>/")
            if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line):
                raise InputError(f"control character in {line!r}", where=where)
        self = cls(arch, lines, path, snapshot, text, trailing)
        self._line_numbers = list(range(1, len(lines) + 1))
        return self

    @property
    def name(self) -> str:
        return str(self.path) if self.path else layout.module_list_name(self.arch)

    @property
    def entries(self) -> list[str]:
        return [line.strip() for line in self.lines if line.strip()]

    def where(self, index: int) -> str:
        number = self._line_numbers[index] if index < len(self._line_numbers) else None
        return f"{self.name}:{number}" if number else self.name

    def numbered(self) -> list[tuple[int, str, str]]:
        """(index, entry, file:line) of every non-blank line."""
        return [(i, line.strip(), self.where(i)) for i, line in enumerate(self.lines) if line.strip()]

    def __contains__(self, entry: str) -> bool:
        return entry in self.entries

    def resolve(self, item: str, kbuild: KbuildMap | None = None, *, listed: bool = False,
                values: Mapping[str, str] | None = None) -> list[str]:
        """The list entries ``item`` names: a path (``kernel/drivers/block/nbd.ko``,
        ``modules.order``), a module name (``nbd``, ``-`` and ``_`` alike) or a symbol
        (``BLK_DEV_NBD`` or ``CONFIG_BLK_DEV_NBD``: the modules it builds).

        ``listed`` (for removing): only entries in the list. Otherwise (for adding) the
        entries to add; with ``kbuild`` a path must exist in that tree, and with ``values`` a
        symbol names the modules those values build as ``=m`` (all it can build if none).
        Anything that names nothing is an InputError saying why, with "did you mean".
        """
        item = item.strip()
        if not item:
            raise InputError("empty entry", hint="give a .ko path, a module name or a CONFIG_ symbol")
        if looks_like_symbol(item):
            return self._resolve_symbol(item, kbuild, listed=listed, values=values)
        if "/" in item or item.startswith("modules."):
            return self._resolve_path(item, kbuild, listed=listed)
        return self._resolve_name(item, kbuild, listed=listed)

    def _not_listed(self, item: str, candidates: Iterable[str]) -> InputError:
        near = difflib.get_close_matches(item, list(candidates), n=3, cutoff=0.7)
        return InputError(f"{item} is not in {self.name}",
                          hint=f"did you mean {', '.join(near)}?" if near else None)

    def _resolve_symbol(self, item: str, kbuild: KbuildMap | None, *, listed: bool,
                        values: Mapping[str, str] | None) -> list[str]:
        symbol = item.removeprefix("CONFIG_")
        if kbuild is None:
            raise InputError(f"{item} looks like a Kconfig symbol; resolving it needs the kernel tree",
                             hint="pass kbuild=<KbuildMap for this arch>")
        found = kbuild.symbol_modules(symbol)
        if not found:
            raise InputError(f"CONFIG_{symbol} builds no module in the {kbuild.kernel_version} tree for "
                             f"{self.arch} (no obj-$(CONFIG_{symbol}) line names a module)")
        if listed:
            hit = [e for e in found if e in self.entries]
            if not hit:
                raise InputError(f"none of the modules CONFIG_{symbol} builds ({', '.join(found)}) is in "
                                 f"{self.name}")
            return hit
        if values is not None:
            return modules_built_by(kbuild, symbol, values) or found
        return found

    def _resolve_path(self, item: str, kbuild: KbuildMap | None, *, listed: bool) -> list[str]:
        if listed:
            if item not in self.entries:
                raise self._not_listed(item, self.entries)
            return [item]
        problem = _malformed(item)
        if problem:
            raise InputError(f"{item!r} is not a path under /lib/modules/<version>/: {problem[0]}",
                             hint=problem[1])
        if not item.startswith("kernel/"):
            if item not in METADATA_ENTRIES:
                near = difflib.get_close_matches(item, sorted(METADATA_ENTRIES), n=3, cutoff=0.7)
                raise InputError(f"{item} is not a file `make modules_install` writes",
                                 hint=f"did you mean {', '.join(near)}?" if near else None)
            return [item]
        if kbuild is not None and kbuild.rule(item) is None:
            found = kbuild.find(item)
            same = [p for p in found if module_name(p) == module_name(item)]
            hint = (f"{module_name(item)} is at {', '.join(same)}" if same
                    else f"did you mean {', '.join(found)}?" if found else None)
            raise InputError(f"{item}: no such module in the {kbuild.kernel_version} tree for {self.arch}",
                             hint=hint)
        return [item]

    def _resolve_name(self, item: str, kbuild: KbuildMap | None, *, listed: bool) -> list[str]:
        name = module_name(item)
        modules = [e for e in self.entries if e.endswith(".ko")]
        if listed:
            hit = [e for e in modules if module_name(e) == name]
            if not hit:
                raise self._not_listed(item, [module_name(e) for e in modules])
            return hit
        if kbuild is None:
            hit = [e for e in modules if module_name(e) == name]
            if hit:
                return hit
            raise InputError(f"{item}: a module name needs the kernel tree to find its path",
                             hint="give the path (kernel/...ko) or pass kbuild=")
        found = kbuild.find(item)
        exact = [p for p in found if module_name(p) == name]
        if not exact:
            raise InputError(f"no module named {item} in the {kbuild.kernel_version} tree for {self.arch}",
                             hint=f"did you mean {', '.join(module_name(p) for p in found)}?" if found else None)
        if len(exact) > 1:
            raise InputError(f"more than one module is named {item}: {', '.join(exact)}",
                             hint="give the path of the one you mean")
        if kbuild.rule(exact[0]) is not None and exact[0] not in kbuild.modules:
            raise InputError(f"{item} ({exact[0]}) can only be built into the kernel, never as a module")
        return exact

    def _insert_at(self, entry: str) -> int:
        """Where ``entry`` goes: before the first entry of its kind (module path or metadata)
        that sorts after it, else after the last of its kind; the rest is left as it is."""
        kind = entry.startswith("kernel/")
        same = [i for i, line in enumerate(self.lines)
                if line.strip() and line.strip().startswith("kernel/") == kind]
        key = c_sort_key(entry)
        for i in same if self.c_sorted else ():
            if c_sort_key(self.lines[i].strip()) > key:
                return i
        if same:
            return same[-1] + 1
        if kind:  # the first module: before the metadata entries, as upstream has them
            return next((i for i, line in enumerate(self.lines) if line.strip()), len(self.lines))
        return len(self.lines)

    def add(self, entries: Iterable[str] | str, *, kbuild: KbuildMap | None = None,
            values: Mapping[str, str] | None = None) -> list[str]:
        """Add ``.ko`` paths, module names or symbols (see :meth:`resolve`), each at its
        ``LC_ALL=C sort`` place among the entries of its kind, without re-sorting the others;
        returns what was added (already listed ones are skipped)."""
        if isinstance(entries, str):
            entries = [entries]
        added = []
        for item in entries:
            for entry in self.resolve(item, kbuild, values=values):
                if entry in self.entries:
                    continue
                index = self._insert_at(entry)
                self.lines.insert(index, entry)
                self._line_numbers.insert(index, None)
                added.append(entry)
        return added

    def remove(self, entries: Iterable[str] | str, *, kbuild: KbuildMap | None = None) -> list[str]:
        """Remove by ``.ko`` path, module name, or symbol (the listed modules it builds);
        returns what was removed. Naming something that is not listed is an InputError."""
        if isinstance(entries, str):
            entries = [entries]
        removed = []
        for item in entries:
            for entry in self.resolve(item, kbuild, listed=True):
                if entry not in self.entries:
                    continue  # named twice in one call
                index = next(i for i, line in enumerate(self.lines) if line.strip() == entry)
                del self.lines[index]
                del self._line_numbers[index]
                removed.append(entry)
        return removed

    def text(self) -> str:
        body = "\n".join(self.lines)
        return body + "\n" if self.trailing_newline or not body else body

    def changed(self) -> bool:
        return self.text() != self.original

    def diff(self) -> str:
        """Unified diff of the edits against the text as loaded ("" when unchanged)."""
        rel = self.path.name if self.path else layout.module_list_name(self.arch)
        return "".join(difflib.unified_diff(self.original.splitlines(keepends=True),
                                            self.text().splitlines(keepends=True),
                                            fromfile=f"a/{rel}", tofile=f"b/{rel}"))

    def save(self, path: str | Path | None = None, *, force: bool = False) -> bool:
        """Write the list atomically; refuses (FileChangedError) when the file changed on disk
        since it was loaded, unless ``force``. Returns False when nothing changed on disk."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise InputError("no path to save the module list to", hint="pass save(path)")
        expect = self.snapshot if self.snapshot is not None and target == self.path else None
        text = self.text()
        wrote = atomic_write(target, text, expect=expect, force=force)
        self.mark_saved(target, Snapshot.of(target), text)
        return wrote

    def mark_saved(self, path: Path, snapshot: Snapshot, text: str) -> None:
        """The list now holds ``text`` on disk at ``path`` (written by a save)."""
        self.path, self.snapshot, self.original = path, snapshot, text
        self._line_numbers = list(range(1, len(self.lines) + 1))


# --------------------------------------------------------------------------
# Checks

_RELATIVE_HINT = "use a path relative to /lib/modules/<version>/, such as kernel/drivers/block/nbd.ko"


def _use(candidate: str) -> str:
    """'use X' when X is a path a module list can hold; never a path outside /lib/modules/<ver>/."""
    plain = all(c.isprintable() and not c.isspace() for c in candidate)
    parts = candidate.split("/")
    inside = not candidate.startswith("/") and ".." not in parts and "" not in parts and "." not in parts
    if plain and inside and ((candidate.startswith("kernel/") and candidate.endswith(".ko"))
                             or candidate in METADATA_ENTRIES):
        return f"use {candidate}"
    return _RELATIVE_HINT


def _invisible(entry: str) -> str | None:
    if entry.isascii() and entry.isprintable() and " " not in entry:   # the usual entry: no lookup per character
        return None
    for c in entry:
        if not c.isprintable() or unicodedata.category(c) in ("Cf", "Zs", "Zl", "Zp"):
            return c
    return None


def _malformed(entry: str) -> tuple[str, str] | None:
    """(problem, suggested fix) for an entry that cannot be a path under /lib/modules/<ver>/.
    A suggested path is always one inside /lib/modules/<ver>/ (else the fix says so in words)."""
    odd = _invisible(entry)
    if odd is not None:
        return (f"invisible character U+{ord(odd):04X} in the path",
                _use("".join(c for c in entry if _invisible(c) is None)))
    if entry.startswith("/"):
        stripped = re.sub(r"^/lib/modules/[^/]+/", "", entry)
        return "absolute path", _use(posixpath.normpath(stripped)) if stripped != entry else _RELATIVE_HINT
    if posixpath.normpath(entry) != entry or entry.startswith("../") or "//" in entry:
        return "not a normalized path", _use(posixpath.normpath(entry))
    if entry.startswith("kernel/"):
        if entry.endswith((".ko.xz", ".ko.zst", ".ko.gz")):
            return "compressed module name", _use(entry.rsplit('.', 1)[0])
        if not entry.endswith(".ko"):
            return "a module path ends in .ko", _use(f"{entry}.ko") if "." not in posixpath.basename(entry) \
                else "drop it"
        return None
    if entry.endswith(".ko"):
        return "module paths start with kernel/", _use(f"kernel/{entry}")
    if entry.startswith("modules."):
        return None
    return "neither kernel/...ko nor a modules.* file", "drop it"


def _assignment_for(cond: Condition) -> tuple[str, str] | None:
    """The value to give a symbol so ``cond`` holds."""
    if not cond.symbol:
        return None
    if cond.kind == "module":
        return cond.symbol, "m"
    if cond.kind in ("guard", "builtin"):
        # y satisfies a directory guard whether the symbol is bool or tristate.
        return cond.symbol, "y"
    for v in ("y", "m", "n"):
        if cond.holds(v):
            return cond.symbol, v
    ok = sorted(cond.allowed)
    return (cond.symbol, ok[0]) if ok and not cond.negated else None


def _format_assignments(assignments: Mapping[str, str]) -> str:
    return ", ".join(dotconfig.format_line(s, v) for s, v in assignments.items())


def _why(cond: Condition, values: Mapping[str, str]) -> str:
    value = normalize_value(values.get(cond.symbol))
    what = {"guard": f"its directory is only visited when CONFIG_{cond.symbol} is y or m",
            "module": f"it is a module only when CONFIG_{cond.symbol}=m"}.get(
        cond.kind, f"it needs CONFIG_{cond.symbol} {cond.requirement()}")
    return f"{what} ({cond.where}), and it is {value}"


def _candidate_fixes(kmap: KbuildMap, entry: str, values: Mapping[str, str]) -> list[dict[str, str]]:
    rule = kmap.rule(entry)
    fixes: list[dict[str, str]] = []
    if rule is None:
        return fixes
    for alt in rule.module_alternatives:
        assignments: dict[str, str] = {}
        for cond in alt:
            value = values.get(cond.symbol)
            if cond.kind in ("guard",) and normalize_value(value) in ("y", "m"):
                continue
            if cond.kind not in ("guard",) and cond.holds(value):
                continue
            a = _assignment_for(cond)
            if a:
                assignments[a[0]] = a[1]
        if assignments and assignments not in fixes:
            fixes.append(assignments)
    fixes.sort(key=len)
    return fixes


# A "did you mean" for an entry no tree builds compares its name with every module name of the
# tree (difflib: ≈20 ms against the ≈4,000 of a real tree), so a list of thousands of misspelt
# lines would take minutes. One check looks for close names for its first MAX_SUGGESTED unknown
# entries only (a module moved to another folder is still found for every entry: that is one
# lookup); the others say they were not compared.
MAX_SUGGESTED = 20


class Suggestions:
    """The close-name lookups one check may still make (see MAX_SUGGESTED), each name looked up once."""

    def __init__(self, limit: int | None = None) -> None:
        self.left = MAX_SUGGESTED if limit is None else limit
        self.found: dict[str, list[str]] = {}

    def near(self, kmap: KbuildMap, entry: str) -> list[str] | None:
        """The tree's paths of this module name, else of close names; None: the budget is spent."""
        same = kmap.named(entry)
        if same:
            return same
        name = module_name(entry)
        if name not in self.found:
            if self.left <= 0:
                return None
            self.left -= 1
            self.found[name] = kmap.find(entry)
        return self.found[name]


def _check_entry(kmap: KbuildMap, module_list: ModuleList, entry: str, where: str,
                 values: Mapping[str, str], *, tree_version: str, list_version: str | None,
                 mismatch: bool, verify_fix: VerifyFix | None, arch: str | None = None,
                 list_id: str = TALOS_LIST, list_file: str | None = None,
                 suggestions: Suggestions | None = None) -> Finding | None:
    arch = arch or module_list.arch
    named = {"list_id": list_id, "list_file": list_file or layout.module_list_name(arch)}
    state = kmap.evaluate(entry, values)
    if state.state == "module":
        return None
    if not state.known:
        found = (suggestions or Suggestions()).near(kmap, entry)
        same = [p for p in found or () if module_name(p) == module_name(entry)]
        suggestion = ""
        replacement = f"drop {entry}"
        if found is None:
            suggestion = (f"; not compared with the tree's module names (only the first {MAX_SUGGESTED} unknown "
                          "entries are: correct those, then check again)")
        elif same:
            suggestion = f"; {module_name(entry)} is at {', '.join(same)}"
            replacement = f"replace {entry} with {same[0]}"
        elif found:
            suggestion = f"; did you mean {', '.join(found)}?"
        kind = "not-in-this-tree" if mismatch else "not-in-tree"
        return make_finding(kind, arch, entry, where=where, suggestion=suggestion, replacement=replacement,
                            tree_version=tree_version, list_version=list_version or "another kernel", **named)
    rule = kmap.rule(entry)
    assert rule is not None
    if state.state == "builtin":
        symbols = state.symbols or rule.own_symbols
        cond_where = state.failing[0].where if state.failing else where
        return make_finding("builtin", arch, entry, symbols=symbols,
                            values={s: normalize_value(values.get(s)) for s in symbols},
                            where=where, makefile=cond_where, **named)
    reasons = "; ".join(_why(c, values) for c in state.failing) or "no way to build it as a module"
    fixes = _candidate_fixes(kmap, entry, values)
    if verify_fix is not None:
        fixes = [f for f in fixes if verify_fix(arch, f)]
    assignments = _format_assignments(fixes[0]) if fixes else ""
    symbols = tuple(dict.fromkeys(c.symbol for c in state.failing)) or rule.own_symbols
    return make_finding("not-built", arch, entry, symbols=symbols,
                        values={s: normalize_value(values.get(s)) for s in symbols},
                        where=where, reasons=reasons, assignments=assignments, **named)


def _check_form(module_list: ModuleList, *, arch: str | None = None, sort: bool = True,
                list_id: str = TALOS_LIST) -> list[Finding]:
    findings = []
    arch = arch or module_list.arch
    named = {"list_id": list_id}
    first: dict[str, int] = {}
    previous: str | None = None
    for index, entry, where in module_list.numbered():
        problem = _malformed(entry)
        if problem:
            findings.append(make_finding("malformed", arch, entry, where=where, problem=problem[0],
                                         suggestion=problem[1], **named))
        elif not entry.startswith("kernel/") and entry not in METADATA_ENTRIES:
            findings.append(make_finding("unknown-metadata", arch, entry, where=where, **named))
        if entry in first:
            findings.append(make_finding("duplicate", arch, entry, where=where,
                                         first_line=module_list.where(first[entry]).rsplit(":", 1)[-1], **named))
        else:
            first[entry] = index
        if sort and previous is not None and c_sort_key(entry) < c_sort_key(previous):
            findings.append(make_finding("unsorted", arch, entry, where=where, **named))
        previous = entry
    return findings


def check_module_lists(lists: Mapping[str, ModuleList], values: Mapping[str, Mapping[str, str]],
                       kbuild: Mapping[str, KbuildMap], *, tree_version: str,
                       list_version: str | None = None, verify_fix: VerifyFix | None = None,
                       tree_mismatch: bool | None = None, unlisted: bool = True,
                       extension_lists: Iterable[ExtensionList] = ()) -> list[Finding]:
    """Check every arch's module list against that arch's config values and Kbuild map.

    ``tree_mismatch`` (default: the lists' kernel series differs from the tree's) turns
    "no such module" into a "not-in-this-tree" warning: the tree cannot judge a list
    written for another kernel. ``verify_fix(arch, assignments)`` keeps only suggested
    assignments that really build the module (e.g. checked through Kconfig). A module one of
    ``extension_lists`` ships on the arch is not reported as left out of talos's list.
    """
    mismatch = tree_mismatch if tree_mismatch is not None else (
        list_version is not None and series(list_version) != series(tree_version))
    findings: list[Finding] = []
    for arch in sorted(lists):
        findings.extend(_check_form(lists[arch]))
        suggestions = Suggestions()
        for _, entry, where in lists[arch].numbered():
            if not entry.endswith(".ko") or _malformed(entry):
                continue
            found = _check_entry(kbuild[arch], lists[arch], entry, where, values[arch], tree_version=tree_version,
                                 list_version=list_version, mismatch=mismatch, verify_fix=verify_fix,
                                 suggestions=suggestions)
            if found:
                findings.append(found)
    for arch in sorted(lists):
        if arch in kbuild and arch in values:
            findings.extend(_other_arch_only(lists, arch, kbuild[arch], values[arch]))
    if unlisted:
        extension_lists = list(extension_lists)
        for arch in sorted(lists):
            shipped = {e for ext in extension_lists if arch in ext.arches for e in ext.module_list.entries}
            findings.extend(_unlisted(lists[arch], arch, kbuild[arch], values[arch], shipped))
    return findings


def new_list_errors(lists: Mapping[str, ModuleList], before: Mapping[str, Mapping[str, str]],
                    after: Mapping[str, Mapping[str, str]], kbuild: Mapping[str, KbuildMap], *,
                    tree_version: str, list_version: str | None = None,
                    verify_fix: VerifyFix | None = None,
                    extension_lists: Iterable[ExtensionList] = ()) -> list[Finding]:
    """The errors a config change brings into the module lists (talos's, then the extensions' on the
    arches they ship on): a function of the values ``before`` and ``after`` it (arch -> symbol ->
    value) on the arches it changed.

    An entry's error (built in, not built, not in the tree) follows from its Kbuild state, so
    only an entry whose state the change moves can gain one; the rest of the list, and the
    checks that don't read values (the list's form), are as they were. The findings are those
    :func:`check_module_lists` and :func:`check_extension_lists` make for these entries with ``after``.
    """
    mismatch = list_version is not None and series(list_version) != series(tree_version)
    shipping: list[tuple[str, ModuleList, dict[str, str]]] = [
        (arch, lists[arch], {}) for arch in sorted(set(lists) & set(after))]
    for ext in extension_lists:
        shipping += [(arch, ext.module_list, {"list_id": ext.list_id, "list_file": ext.file_name})
                     for arch in ext.arches if arch in after]
    findings: list[Finding] = []
    for arch, module_list, named in shipping:
        kmap, old, new = kbuild[arch], before[arch], after[arch]
        suggestions = Suggestions()
        for _, entry, where in module_list.numbered():
            if not entry.endswith(".ko") or _malformed(entry):
                continue
            state = kmap.evaluate(entry, new).state
            if state == "module" or state == kmap.evaluate(entry, old).state:
                continue
            found = _check_entry(kmap, module_list, entry, where, new, tree_version=tree_version,
                                 list_version=list_version, mismatch=mismatch, verify_fix=verify_fix,
                                 arch=arch, suggestions=suggestions, **named)
            if found is not None and found.level == "error":
                findings.append(found)
    return findings


# --------------------------------------------------------------------------
# System extensions' lists

@dataclass
class ExtensionList:
    """One system extension's ``files/modules*.txt``, loaded: the modules that extension ships (on
    top of the base lists) on each of ``arches``. Its entries are read like talos's, relative to
    ``/usr/lib/modules/<version>/`` (``install -D /usr/lib/modules/${KERNELRELEASE}/{}``)."""

    extension: str                # drivers/usb-modem
    module_list: ModuleList
    arches: tuple[str, ...]
    installed_at: str | None = None

    @classmethod
    def load(cls, source: ExtensionListFile) -> ExtensionList:
        """Read one list; an entry that would reach outside ``/usr/lib/modules/<version>/`` (absolute,
        or with ``..``) is an InputError naming its file and line: install -D would copy anything."""
        module_list = ModuleList.load(source.path, source.arches[0])
        module_list.c_sorted = False
        for _index, entry, where in module_list.numbered():
            parts = entry.split("/")
            if entry.startswith("/") or ".." in parts:
                problem = _malformed(entry)
                raise InputError(f"{entry!r} reaches outside /usr/lib/modules/<version>/: the extension's "
                                 f"pkg.yaml installs /usr/lib/modules/${{KERNELRELEASE}}/{entry}",
                                 where=where, hint=problem[1] if problem else _RELATIVE_HINT)
        return cls(source.extension, module_list, source.arches, source.installed_at)

    @property
    def list_id(self) -> str:
        return layout.extension_list_id(self.extension)

    @property
    def file_name(self) -> str:
        """files/modules.txt, files/modules-x86_64.txt, ..."""
        assert self.module_list.path is not None   # loaded from the checkout
        return layout.extension_list_file(self.extension, self.module_list.path.name)


def check_extension_lists(extension_lists: Iterable[ExtensionList], values: Mapping[str, Mapping[str, str]],
                          kbuild: Mapping[str, KbuildMap], *, tree_version: str, list_version: str | None = None,
                          verify_fix: VerifyFix | None = None, tree_mismatch: bool | None = None) -> list[Finding]:
    """Check each extension's list like talos's on every arch it ships on (and is loaded here): each
    ``.ko`` built as =m by that arch's config (so also in a folder the arch builds), not listed twice,
    well-formed. Not their order: upstream keeps extension lists in the order modules were added."""
    mismatch = tree_mismatch if tree_mismatch is not None else (
        list_version is not None and series(list_version) != series(tree_version))
    findings: list[Finding] = []
    for ext in extension_lists:
        arches = [a for a in ext.arches if a in values and a in kbuild]
        if not arches:
            continue
        findings.extend(_check_form(ext.module_list, arch=arches[0], sort=False, list_id=ext.list_id))
        for arch in arches:
            suggestions = Suggestions()
            for _, entry, where in ext.module_list.numbered():
                if not entry.endswith(".ko") or _malformed(entry):
                    continue
                found = _check_entry(kbuild[arch], ext.module_list, entry, where, values[arch],
                                     tree_version=tree_version, list_version=list_version, mismatch=mismatch,
                                     verify_fix=verify_fix, arch=arch, list_id=ext.list_id,
                                     list_file=ext.file_name, suggestions=suggestions)
                if found:
                    findings.append(found)
    return findings


def _other_arch_only(lists: Mapping[str, ModuleList], arch: str, kmap: KbuildMap,
                     values: Mapping[str, str]) -> list[Finding]:
    """Modules another arch lists that this arch builds as m but does not list."""
    findings = []
    listed_here = set(lists[arch].entries)
    for other in sorted(set(lists) - {arch}):
        for _, entry, _where in lists[other].numbered():
            if not entry.endswith(".ko") or entry in listed_here:
                continue
            if kmap.evaluate(entry, values).state == "module":
                rule = kmap.rule(entry)
                symbols = rule.own_symbols if rule else ()
                findings.append(make_finding(
                    "other-arch-only", arch, entry, symbols=symbols,
                    values={s: normalize_value(values.get(s)) for s in symbols},
                    where=lists[arch].name, other_arch=other))
    return findings


def _unlisted(module_list: ModuleList, arch: str, kmap: KbuildMap, values: Mapping[str, str],
              shipped_elsewhere: Iterable[str] = ()) -> list[Finding]:
    """Modules the config builds that the list leaves out (informational), but for those an
    extension ships."""
    findings = []
    listed = set(module_list.entries) | set(shipped_elsewhere)
    for entry in modules_built(kmap, values):
        if entry in listed:
            continue
        own = [c for c in kmap.modules[entry].conditions if c.kind == "module"]
        symbols = tuple(dict.fromkeys(c.symbol for c in own))
        findings.append(make_finding(
            "unlisted-module", arch, entry, symbols=symbols,
            values={s: normalize_value(values.get(s)) for s in symbols},
            where=own[0].where if own else None))
    return findings


def modules_built(kbuild_map: KbuildMap, values: Mapping[str, str]) -> list[str]:
    """Every ``.ko`` the config builds as a module, sorted."""
    return [path for path in kbuild_map.modules if kbuild_map.evaluate(path, values).state == "module"]


def modules_built_by(kbuild_map: KbuildMap, symbol: str, values: Mapping[str, str]) -> list[str]:
    """The ``.ko`` files ``symbol`` makes (its own ``obj-$(CONFIG_symbol)``) that ``values``
    build as modules — what to list when enabling it as ``=m``."""
    return [path for path in kbuild_map.symbol_modules(symbol)
            if kbuild_map.evaluate(path, values).state == "module"]


def symbol_modules(kbuild_map: KbuildMap, values: Mapping[str, str], symbol: str,
                   module_list: ModuleList | None = None) -> list[dict[str, str | None]]:
    """The ``.ko`` files a symbol's own ``obj-$(CONFIG_symbol)`` lines make, each with what ``values``
    do with it ("module", "builtin", "not-built") and where ``module_list`` lists it
    (``hack/modules-amd64.txt:183``; None: not listed, or no list given)."""
    listed: dict[str, str] = {}
    if module_list is not None:
        path = module_list.path
        label = f"{path.parent.name}/{path.name}" if path is not None else layout.module_list_name(module_list.arch)
        for _, entry, where in module_list.numbered():
            line = where.rsplit(":", 1)[1] if ":" in where else None
            # an entry added since the list was read has no line in the file yet
            listed.setdefault(entry, f"{label}:{line}" if line and line.isdigit() else f"{label} (added, not saved)")
    return [{"ko": path, "state": kbuild_map.evaluate(path, values).state, "listed": listed.get(path)}
            for path in kbuild_map.symbol_modules(symbol)]


def modules_for_symbols(kbuild_map: KbuildMap, values: Mapping[str, str],
                        symbols: Iterable[str]) -> dict[str, list[str]]:
    """For each of ``symbols`` (with or without ``CONFIG_``, keyed as given), the ``.ko`` files
    it builds as modules under ``values`` (see :func:`modules_built_by`): after a config
    edit, what the module lists may need to gain or lose."""
    return {symbol: modules_built_by(kbuild_map, symbol, values) for symbol in symbols}


# --------------------------------------------------------------------------
# Editing a list, checked

@dataclass
class ListEdit:
    """What adding or removing entries did to one arch's list, and the list's errors after."""

    module_list: ModuleList
    action: str
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, InputError] = field(default_factory=dict)
    warnings: list[Finding] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)

    @property
    def arch(self) -> str:
        return self.module_list.arch


def edit_module_list(module_list: ModuleList, action: str, items: Iterable[str], kbuild: KbuildMap,
                     values: Mapping[str, str], *, tree_version: str,
                     list_version: str | None = None) -> ListEdit:
    """Add or remove (``action``) ``items`` (see :meth:`ModuleList.resolve`) in ``module_list``
    in memory, then check the list against ``values`` and ``kbuild``.

    An item that names nothing on this arch is kept in ``skipped`` with the reason (the
    caller decides whether that is an error). Added entries that ``values`` do not build as
    modules are still added, and reported as warnings; ``errors`` are the error-level
    findings of the whole list after the edit.
    """
    if action not in ("add", "remove"):
        raise ValueError(f"action must be 'add' or 'remove', not {action!r}")
    edit = ListEdit(module_list, action)
    for item in items:
        try:
            targets = module_list.resolve(item, kbuild, listed=action == "remove", values=values)
        except InputError as e:
            edit.skipped[item] = e
            continue
        if action == "add":
            done = module_list.add(targets)
            edit.unchanged.extend(t for t in targets if t not in done and t not in edit.changed)
        else:
            done = module_list.remove([t for t in targets if t in module_list.entries])
        edit.changed.extend(done)
    mismatch = list_version is not None and series(list_version) != series(tree_version)
    if action == "add":
        suggestions = Suggestions()
        for entry in edit.changed:
            if not entry.endswith(".ko"):
                continue
            index = module_list.entries.index(entry)
            found = _check_entry(kbuild, module_list, entry, module_list.numbered()[index][2], values,
                                 tree_version=tree_version, list_version=list_version, mismatch=mismatch,
                                 verify_fix=None, suggestions=suggestions)
            if found is not None:
                edit.warnings.append(replace(found, level="warning"))
    findings = check_module_lists({module_list.arch: module_list}, {module_list.arch: values},
                                  {module_list.arch: kbuild}, tree_version=tree_version,
                                  list_version=list_version, unlisted=False)
    edit.errors = [f for f in findings if f.level == "error"]
    return edit
