"""What modpost would find in the sources, without a build: the names each object file exports
(``EXPORT_SYMBOL``, ``EXPORT_SYMBOL_GPL``, ``EXPORT_SYMBOL_NS*``) and, of those, the names each
object's own source uses.

A module that uses a name another module exports needs that module loaded first: depmod reads
the same facts from the built ``.ko`` files (undefined symbols against ``__ksymtab`` entries) to
write ``modules.dep``. Here they come from the C sources of the objects the Kbuild map links into
modules, read once from a full source tree (a folder, or a tarball read as a stream) and cached.
What is only reached through a header's static inline function is not seen.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
import re
import tarfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from talosnb.core import cachefile
from talosnb.core.paths import cache_dir as default_cache_dir

FORMAT = 4
_EXPORT_RE = re.compile(rb"\bEXPORT_SYMBOL(?:_GPL)?(?:_NS(?:_GPL)?)?\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)")
_WORD_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{2,}")
_COMMENT_RE = re.compile(rb"/\*.*?\*/|//[^\n]*", re.DOTALL)
# What names no link-time use: string and character literals (crypto's .cra_name = "crc32c"), struct,
# union and enum tags (the gadget API's struct usb_string), members (->tuners), and the names
# symbol_get() and dvb_attach() look up at run time (no modules.dep edge: the caller loads them).
_NOT_A_USE_RE = re.compile(
    rb'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\''
    rb"|\b(?:struct|union|enum)\s+[A-Za-z_][A-Za-z0-9_]*"
    rb"|(?:->|\.)\s*[A-Za-z_][A-Za-z0-9_]*"
    rb"|\b(?:dvb_attach|dvb_detach|symbol_get|symbol_request|symbol_put|__symbol_get|symbol_put_addr)"
    rb"\s*\(\s*[A-Za-z_][A-Za-z0-9_]*")
SOURCE_SUFFIXES = (".c", ".S")


# One preprocessor condition on a CONFIG symbol: (symbol, test, holds when true). test: "defined"
# (#ifdef CONFIG_X: X=y; for X=m only CONFIG_X_MODULE is defined), "enabled" (IS_ENABLED: y or m),
# "builtin" (IS_BUILTIN: y), "module" (IS_MODULE: m).
Cond = tuple[str, str, bool]
# The ways one name is used in an object: () when anywhere outside a CONFIG condition, else the
# alternatives, each the conditions around one use.
Alternatives = tuple[tuple[Cond, ...], ...]
_TESTS = {"defined": ("y",), "enabled": ("y", "m"), "builtin": ("y",), "module": ("m",)}
MAX_ALTERNATIVES = 8


def cond_holds(cond: Cond, values: Mapping[str, str]) -> bool:
    """Whether the preprocessor takes the branch `cond` stands for, with `values` as a .config."""
    symbol, test, positive = cond
    value = values.get(symbol) or "n"
    return (value in _TESTS[test]) == positive


def used(alternatives: Alternatives, values: Mapping[str, str]) -> bool:
    """Whether a name used under `alternatives` is compiled in with `values`."""
    return not alternatives or any(all(cond_holds(c, values) for c in alt) for alt in alternatives)


@dataclass
class SourceSymbols:
    """Per object (tree relative, without ``.o``): the names it exports, and the exported names
    (of any object scanned) its source mentions, each with the CONFIG conditions around its uses."""

    exports: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # object -> its uses packed as text (name, or name TAB conditions; NUL between): read per object
    # when asked, so loading the cache costs little whatever the number of objects
    uses: dict[str, bytes] = field(default_factory=dict)
    origin: str = ""
    _exporters: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def exporters(self) -> dict[str, list[str]]:
        """name -> the objects exporting it."""
        if not self._exporters:
            for obj, names in self.exports.items():
                for name in names:
                    self._exporters.setdefault(name, []).append(obj)
        return self._exporters

    def uses_of(self, obj: str) -> list[tuple[str, Alternatives]]:
        """The exported names `obj` uses (not its own), each with the conditions around its uses."""
        packed = self.uses.get(obj)
        if not packed:
            return []
        out = []
        for line in packed.decode().split("\0"):
            name, _tab, ways = line.partition("\t")
            out.append((name, _unpack(ways) if ways else ()))
        return out


def has_sources(path: Path) -> bool:
    """Whether a kernel folder holds C sources (a Kconfig/Kbuild skeleton has none)."""
    return (path / "init" / "main.c").is_file()


_DIRECTIVE_RE = re.compile(rb"^[ \t]*#[ \t]*(ifdef|ifndef|if|elif|else|endif)\b([^\n]*)$", re.MULTILINE)
_IF_RE = re.compile(rb"\s*(!?)\s*(?:(IS_ENABLED|IS_BUILTIN|IS_MODULE|defined)\s*\(\s*CONFIG_(\w+)\s*\)"
                    rb"|defined\s+CONFIG_(\w+)|CONFIG_(\w+))\s*$")
_IF_TESTS = {b"IS_ENABLED": "enabled", b"IS_BUILTIN": "builtin", b"IS_MODULE": "module", b"defined": "defined"}


def _condition(kind: bytes, expression: bytes) -> Cond | None:
    """The condition of ``#ifdef``/``#ifndef``/``#if`` on one CONFIG symbol; None for anything else."""
    expression = expression.strip()
    if kind in (b"ifdef", b"ifndef"):
        m = re.fullmatch(rb"CONFIG_(\w+)", expression)
        return (m.group(1).decode(), "defined", kind == b"ifdef") if m else None
    m = _IF_RE.fullmatch(expression)
    if m is None:
        return None
    test = _IF_TESTS[m.group(2)] if m.group(2) else "defined"
    symbol = m.group(3) or m.group(4) or m.group(5)
    return symbol.decode(), test, not m.group(1)


def _segments(text: bytes) -> Iterator[tuple[tuple[Cond, ...], bytes]]:
    """The text between preprocessor conditionals, each piece with the CONFIG conditions around it
    (conditions talosnb can't read constrain nothing)."""
    stack: list[Cond | None] = []
    start = 0
    for m in _DIRECTIVE_RE.finditer(text):
        yield tuple(c for c in stack if c is not None), text[start:m.start()]
        start = m.end()
        kind = m.group(1)
        if kind in (b"ifdef", b"ifndef", b"if"):
            stack.append(_condition(kind, m.group(2)))
        elif kind == b"else" and stack:
            top = stack[-1]
            stack[-1] = (top[0], top[1], not top[2]) if top is not None else None
        elif kind == b"elif" and stack:
            stack[-1] = None
        elif kind == b"endif" and stack:
            stack.pop()
    yield tuple(c for c in stack if c is not None), text[start:]


def _words(text: bytes) -> dict[bytes, set[tuple[Cond, ...]]]:
    """Each identifier of a source (not in strings, members, tags) with the conditions of its uses."""
    out: dict[bytes, set[tuple[Cond, ...]]] = {}
    for conds, chunk in _segments(text):
        for word in set(_WORD_RE.findall(_NOT_A_USE_RE.sub(b" ", chunk))):
            out.setdefault(word, set()).add(conds)
    return out


def _pack(words: dict[bytes, set[tuple[Cond, ...]]]) -> bytes:
    lines = []
    for word, ways in sorted(words.items()):
        if () in ways or len(ways) > MAX_ALTERNATIVES:
            lines.append(word)
        else:
            lines.append(word + b"\t" + "|".join(",".join(f"{sym}:{test}:{int(positive)}" for sym, test, positive in way)
                                                 for way in sorted(ways)).encode())
    return zlib.compress(b"\0".join(lines), 1)


def _unpack(ways: str) -> Alternatives:
    out = []
    for way in ways.split("|"):
        conds = []
        for cond in filter(None, way.split(",")):
            symbol, test, positive = cond.split(":")
            conds.append((symbol, test, positive == "1"))
        out.append(tuple(conds))
    return tuple(out)


def _exports(text: bytes) -> set[str]:
    """The names a source exports; not those inside a macro's body (``EXPORT_SYMBOL(name)`` on a
    line continued with a backslash names a macro parameter, not a symbol)."""
    names = set()
    for m in _EXPORT_RE.finditer(text):
        end = text.find(b"\n", m.end())
        rest = text[m.end():end if end >= 0 else len(text)].rstrip()
        start = text.rfind(b"\n", 0, m.start())
        before = text[text.rfind(b"\n", 0, max(start, 0)) + 1:max(start, 0)].rstrip()
        if not rest.endswith(b"\\") and not (start >= 0 and before.endswith(b"\\")):
            names.add(m.group(1).decode())
    return names


# Where no module's sources live (or only other arches' do).
_SKIPPED = ("Documentation/", "tools/", "samples/", "scripts/", "usr/")
_ARCHES = ("x86", "arm64")


def source_file(rel: str) -> bool:
    """Whether a tree-relative path is a source a module of amd64 or arm64 may be built from."""
    if not rel.endswith(SOURCE_SUFFIXES) or rel.startswith(_SKIPPED):
        return False
    return not rel.startswith("arch/") or rel.split("/")[1] in _ARCHES


def _members(source: Path) -> Iterator[tuple[str, bytes]]:
    """(tree-relative path, bytes) of the sources in a folder or a tarball (read as a stream)."""
    if source.is_dir():
        for folder, dirs, files in os.walk(source):
            dirs.sort()
            for name in sorted(files):
                rel = Path(folder, name).relative_to(source).as_posix()
                if source_file(rel):
                    try:
                        yield rel, Path(folder, name).read_bytes()
                    except OSError:
                        continue
        return
    with tarfile.open(source, "r|*") as tar:
        for member in tar:
            rel = member.name.split("/", 1)[-1]
            if member.isfile() and source_file(rel):
                f = tar.extractfile(member)
                if f is not None:
                    yield rel, f.read()


def scan(source: Path) -> SourceSymbols:
    """Read every C and assembler source of a kernel folder or tarball: per object (the source's
    path without its suffix, as the Kbuild map names objects) what it exports and which exported
    names it uses."""
    exports: dict[str, tuple[str, ...]] = {}
    words: dict[str, bytes] = {}    # object -> its identifiers, compressed until the exports are known
    for rel, data in _members(source):
        obj = rel.rsplit(".", 1)[0]
        text = _COMMENT_RE.sub(b" ", data)
        names = _exports(text)
        if names:
            exports[obj] = tuple(sorted(set(exports.get(obj, ())) | names))
        words[obj] = _pack(_words(text))
    exported = {name.encode() for names in exports.values() for name in names}
    uses: dict[str, bytes] = {}
    for obj, packed in words.items():
        own = {n.encode() for n in exports.get(obj, ())}
        found = [line for line in zlib.decompress(packed).split(b"\0")
                 if line.partition(b"\t")[0] in exported and line.partition(b"\t")[0] not in own]
        if found:
            uses[obj] = b"\0".join(found)
    return SourceSymbols(exports, uses, str(source))


def load_symbols(source: Path, cache_dir: Path | None = None) -> SourceSymbols:
    """:func:`scan`, cached on disk by the source (path, size, mtime). The first read of a full
    tarball takes minutes (it is decompressed and every source read); later ones a fraction of a
    second."""
    st = os.stat(source)
    key = hashlib.sha256(f"{FORMAT}\0{Path(source).resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()
                         ).hexdigest()[:24]
    path = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "symbols" / f"{key}.pickle"
    engine = f"symbols-{FORMAT}-{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]}"
    data = cachefile.read(path, engine=engine, what="exported symbols")
    if data is not None:
        try:
            was_enabled = gc.isenabled()
            gc.disable()    # many small objects and no cycles: the collector only costs time here
            try:
                found = pickle.load(data)
            finally:
                if was_enabled:
                    gc.enable()
            if isinstance(found, SourceSymbols):
                return found
        except Exception as e:  # noqa: BLE001 -- whatever unpickling a bad file raises: rebuild it
            cachefile.discard(path, "exported symbols", f"unpickling failed: {type(e).__name__}")
    found = scan(Path(source))
    buffer = io.BytesIO()
    pickle.dump(found, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    cachefile.write(path, buffer.getbuffer(), engine=engine)
    return found
