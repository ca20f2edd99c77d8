"""The device index: every ID table a kernel source tree declares with ``MODULE_DEVICE_TABLE``.

Which driver claims a device is written in C, not in Kconfig or Kbuild: a table of IDs
(``struct pci_device_id``, ``usb_device_id``, ``of_device_id``, ``acpi_device_id``) exported by
``MODULE_DEVICE_TABLE(type, name)``, which modpost turns into the module's aliases
(scripts/mod/file2alias.c) and depmod into ``modules.alias``. This module reads those tables from
the source (a full tree or its tarball, read as a stream, never extracted) with the preprocessing
they need (:mod:`talosnb.kbuild.cpp`): the vendor constants of include/linux/pci_ids.h, the
``PCI_DEVICE``/``USB_DEVICE`` macros of include/linux/pci.h and usb.h, the driver's own
``#define``\\ s and local headers, and the ``#if`` blocks around tables and entries kept as
conditions decided per config. The index is config-independent and cached per source; a config
and the Kbuild map (which objects go into which ``.ko``) decide what a build holds.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import os
import pickle
import posixpath
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from talosnb.core import cacheentry, cachefile
from talosnb.core.errors import InputError
from talosnb.core.limits import Budget
from talosnb.core.paths import cache_dir as default_cache_dir

from . import cpp

KINDS = ("pci", "usb", "of", "acpi", "pnp")

# The fields of each ID struct in include/linux/mod_devicetable.h, in declaration order, with
# their width in bits (0: a string of that many bytes is "s<bytes>", pointers and data "-").
FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "pci": (("vendor", "32"), ("device", "32"), ("subvendor", "32"), ("subdevice", "32"), ("class", "32"),
            ("class_mask", "32"), ("driver_data", "-"), ("override_only", "32")),
    "usb": (("match_flags", "16"), ("idVendor", "16"), ("idProduct", "16"), ("bcdDevice_lo", "16"),
            ("bcdDevice_hi", "16"), ("bDeviceClass", "8"), ("bDeviceSubClass", "8"), ("bDeviceProtocol", "8"),
            ("bInterfaceClass", "8"), ("bInterfaceSubClass", "8"), ("bInterfaceProtocol", "8"),
            ("bInterfaceNumber", "8"), ("driver_info", "-")),
    "of": (("name", "s32"), ("type", "s32"), ("compatible", "s128"), ("data", "-")),
    "acpi": (("id", "s16"), ("driver_data", "-"), ("cls", "32"), ("cls_msk", "32")),
    # PNP tables also give acpi*: aliases (file2alias.c, do_pnp_device_entry)
    "pnp": (("id", "s8"), ("driver_data", "-")),
}
# The headers whose macros every driver's tables use (included through linux/pci.h, usb.h, ...).
BASE_HEADERS = ("include/linux/mod_devicetable.h", "include/linux/pci_ids.h", "include/linux/pci.h",
                "include/linux/usb.h", "include/linux/acpi.h", "include/linux/usb/ch9.h",
                "include/uapi/linux/usb/ch9.h", "include/linux/usb/cdc.h", "include/uapi/linux/usb/cdc.h",
                "include/linux/kernel.h", "include/linux/stddef.h", "include/uapi/linux/pci_regs.h",
                "include/linux/bits.h", "include/vdso/bits.h", "include/linux/const.h",
                "include/uapi/linux/const.h", "include/linux/usb/usbnet.h", "include/linux/hid.h")
INCLUDE_DIRS = ("include", "include/uapi", "arch/x86/include", "arch/arm64/include", "arch/x86/include/uapi",
                "arch/arm64/include/uapi")

# Bump when what is indexed or how changes meaning.
FORMAT_VERSION = 2
MAX_HEADER = 1 << 20        # larger headers are register maps (amdgpu's asic_reg), never ID constants

_TABLE_START = re.compile(
    r"struct\s+(pci|usb|of|acpi|pnp)_device_id\s+(?:const\s+)?(?:__\w+(?:\([^()]*\))?\s+)*(\w+)\s*"
    r"\[\s*([^\]]*)\]\s*(?:__\w+(?:\([^()]*\))?\s*)*=\s*\{")
_USE = re.compile(r"\bMODULE_DEVICE_TABLE\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)")
_ALIAS = re.compile(r"\bMODULE_ALIAS\s*\(\s*((?:\"(?:\\.|[^\"\\\n])*\"\s*)+)\)")
# on the text with a newline in front (a literal first character makes the search fast)
_DIRECTIVE = re.compile(r"\n[ \t]*#[^\n]*(?:(?<=\\)\n[^\n]*)*")
_DEFINE_OR_INCLUDE = re.compile(r"\n[ \t]*#[ \t]*(?:define|include)[^\n]*(?:(?<=\\)\n[^\n]*)*")
_INCLUDE = re.compile(r"#\s*include\s*([<\"])([^>\"]+)[>\"]")
_DEFINE_NAME = re.compile(r"#\s*define\s+([A-Za-z_]\w*)")
_BRACE = re.compile(r"[{}]|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'")


@dataclass(frozen=True)
class IdEntry:
    """One entry of an ID table: its fields (ints, strings; None where the value is not a
    constant this reader can work out), where it is written, and the ``#if`` conditions it is
    under (each must hold)."""

    kind: str
    values: tuple[int | str | None, ...]
    file: str
    line: int
    conditions: tuple[str, ...] = ()

    def get(self, name: str) -> int | str | None:
        for (fname, _), value in zip(FIELDS[self.kind], self.values, strict=False):
            if fname == name:
                return value
        return None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class IdTable:
    kind: str
    name: str
    file: str
    line: int
    conditions: tuple[str, ...]
    entries: list[IdEntry]
    size: int | None = None       # an explicit array size ([N]): zero entries fill the rest


@dataclass(frozen=True)
class TableUse:
    """A ``MODULE_DEVICE_TABLE(kind, name)`` line (or a ``MODULE_ALIAS("...")``: kind "alias")."""

    kind: str
    name: str
    file: str
    line: int
    conditions: tuple[str, ...] = ()


@dataclass
class DeviceIndex:
    """Every device ID table of a kernel source, config-independent."""

    source: str
    kernel_version: str
    tables: dict[tuple[str, str], IdTable] = field(default_factory=dict)     # (file, name) -> table
    uses: dict[str, list[TableUse]] = field(default_factory=dict)           # file -> its uses
    includes: dict[str, tuple[str, ...]] = field(default_factory=dict)      # file -> files it includes
    problems: list[tuple[str, str]] = field(default_factory=list)           # (file:line, what)
    c_files: int = 0
    seconds: float = 0.0

    def closure(self, source: str) -> list[str]:
        """``source`` and the files it includes, transitively (what the compiler reads of the tree)."""
        seen = [source]
        todo = [source]
        while todo:
            for inc in self.includes.get(todo.pop(), ()):
                if inc not in seen:
                    seen.append(inc)
                    todo.append(inc)
        return seen

    def table_for(self, use: TableUse) -> IdTable | None:
        for f in self.closure(use.file):
            table = self.tables.get((f, use.name))
            if table is not None:
                return table
        return None

    def object_uses(self, obj: str) -> list[TableUse]:
        """The MODULE_DEVICE_TABLE/MODULE_ALIAS lines compiled into one object (``foo.o`` from
        ``foo.c`` and what it includes)."""
        source = obj[:-2] + ".c"
        return [u for f in self.closure(source) for u in self.uses.get(f, [])]

    def entry_count(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for table in self.tables.values():
            counts[table.kind] += len(table.entries)
        return counts


# --- reading the source ---------------------------------------------------------------------

class _Sparse:
    """What the index keeps of one file: its preprocessor lines and its ID tables' text. A header
    without tables is kept as its bytes, its ``#define``/``#include`` lines read when first asked
    for (most headers never are: only those the table files include, and the shared ones)."""

    __slots__ = ("_directives", "aliases", "flags", "full", "path", "raw", "tables", "uses")

    def __init__(self, path: str, directives: list[tuple[int, str]] | None, *, full: bool = False,
                 raw: bytes | None = None) -> None:
        self.path = path
        self._directives = directives
        self.tables: list[tuple[str, str, str, int, str]] = []   # kind, name, size, line, text
        self.uses: list[tuple[str, str, int]] = []
        self.aliases: list[tuple[str, int]] = []
        # a driver's own header, kept whole: a table may #include it between its braces
        self.raw = raw
        self.full = full
        self.flags: list[tuple[str, bool]] = []     # a Makefile's -I folders (and whether for subfolders)

    @property
    def directives(self) -> list[tuple[int, str]]:
        if self._directives is None:
            # a header read for its macros and includes: the line numbers are not needed
            text = "\n" + (self.raw or b"").decode("utf-8", "replace")
            self._directives = [(0, m.group(0).replace("\\\n", " ").strip())
                                for m in _DEFINE_OR_INCLUDE.finditer(text)]
        return self._directives


def _sparse(path: str, raw: str, *, full: bool) -> _Sparse:
    # a newline in front: a character's line is then the number of newlines before it
    text = "\n" + (cpp.strip_comments(raw) if full else raw)
    counted, line = 0, 0

    def line_of(pos: int) -> int:
        # positions are asked for in increasing order within each pass
        nonlocal counted, line
        if pos < counted:
            counted, line = 0, 0
        line += text.count("\n", counted, pos)
        counted = pos
        return line
    pattern = _DIRECTIVE if full else _DEFINE_OR_INCLUDE
    directives = [(line_of(m.start() + 1), m.group(0).replace("\\\n", " ").strip())
                  for m in pattern.finditer(text)]
    sparse = _Sparse(path, directives, full=full)
    if not full:
        return sparse
    sparse.tables = _tables(text, line_of)
    # the patterns start with \b, which keeps re from searching for their first word: look first
    uses = _USE.finditer(text) if "MODULE_DEVICE_TABLE" in text else ()
    for m in uses:
        sparse.uses.append((m.group(1), m.group(2), line_of(m.start())))
    for m in _ALIAS.finditer(text) if "MODULE_ALIAS" in text else ():
        try:
            alias = cpp.string_value(cpp.tokenize(m.group(1)))
        except cpp.NotConstant:
            continue
        sparse.aliases.append((alias, line_of(m.start())))
    return sparse


def _tables(text: str, line_of: Callable[[int], int]) -> list[tuple[str, str, str, int, str]]:
    """Each ID table's (kind, name, array size, line, text from its ``{`` to the matching ``}``)."""
    out = []
    for m in _TABLE_START.finditer(text):
        if _in_directive(text, m.start()):
            continue     # a macro that opens a table (see _Builder.table_from_macros)
        open_at = m.end() - 1
        depth = 0
        for b in _BRACE.finditer(text, open_at):
            if b.group(0) == "{":
                depth += 1
            elif b.group(0) == "}":
                depth -= 1
                if depth == 0:
                    out.append((m.group(1), m.group(2), m.group(3).strip(), line_of(open_at), text[open_at:b.end()]))
                    break
    return out


def _in_directive(text: str, pos: int) -> bool:
    """Whether ``pos`` is in a preprocessor line (continuations included)."""
    start = text.rfind("\n", 0, pos)
    while start > 0 and text[start - 1] == "\\":
        start = text.rfind("\n", 0, start - 1)
    return text[start + 1:pos].lstrip().startswith("#")


def _without_directives(text: str) -> list[str]:
    """The lines of ``text`` with preprocessor lines (and their continuations) blanked."""
    lines = text.split("\n")
    out = []
    continued = False
    for ln in lines:
        directive = continued or ln.lstrip().startswith("#")
        out.append("" if directive else ln)
        continued = directive and ln.endswith("\\")
    return out


# What no amd64/arm64 module is built from: other arches' code and headers, host tools,
# documentation. Not read at all (their members are skipped in the stream).
SKIPPED_TOP = frozenset({"Documentation", "tools", "scripts", "usr", "LICENSES"})
ARCH_DIRS = frozenset({"x86", "arm64"})


def _wanted(name: str) -> str | None:
    """"full" for C files and headers that may hold tables, "defines" for other headers."""
    if name.endswith(".c"):
        kind = "full"
    elif name.endswith(".h"):
        kind = "header"
    elif name.endswith(("/Makefile", "/Kbuild")):
        kind = "makefile"      # for the -I flags a driver's quoted #include may need
    else:
        return None
    top, _, rest = name.partition("/")
    if top in SKIPPED_TOP or top == "arch" and rest.partition("/")[0] not in ARCH_DIRS:
        return None
    return kind


class _TarError(Exception):
    pass


def _tar_header(header: bytes) -> tuple[str, int, bytes]:
    """A tar member header's (name, size, type flag), its checksum checked."""
    try:
        stored = int(header[148:156].split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        raise _TarError("a member header is damaged (its checksum is not a number)") from None
    if stored != sum(header) - sum(header[148:156]) + 256:
        raise _TarError("a member header is damaged (checksum mismatch)")
    raw_size = header[124:136]
    if raw_size[0] & 0x80:          # GNU base-256
        size = int.from_bytes(raw_size[1:], "big")
    else:
        try:
            size = int(raw_size.split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:
            raise _TarError("a member header is damaged (its size is not a number)") from None
    name = header[0:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    if header[257:262] == b"ustar":
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix.decode("utf-8", "surrogateescape") + "/" + name
    return name, size, header[156:157]


def _tar_members(stream: io.BufferedIOBase, want: Callable[[str, int], bool],
                 budget: Budget) -> Iterator[tuple[str, bytes]]:
    """The regular files of a tar stream (ustar, pax and GNU long names) ``want`` asks for, with
    their bytes; the others are read past. A plain reader: tarfile's stream mode reads in small
    pieces and costs more than the decompression feeding it. ``budget`` sees every member and
    takes each one read into memory (refusing members or a stream too large) before it is read."""
    long_name: str | None = None
    scratch = memoryview(bytearray(1 << 20))

    def read(n: int) -> bytes:
        data = stream.read(n)
        if len(data) != n:
            raise _TarError("the archive is cut off")
        return data

    def skip(n: int) -> None:
        while n > 0:
            got = stream.readinto(scratch[:min(n, len(scratch))])
            if not got:
                raise _TarError("the archive is cut off")
            n -= got

    while True:
        header = stream.read(512)
        if not header or header == bytes(512):
            return
        if len(header) != 512:
            raise _TarError("the archive is cut off")
        name, size, kind = _tar_header(header)
        padded = (size + 511) & ~511
        budget.see(long_name or name, size)
        if kind in (b"x", b"g", b"L"):
            budget.take(name, size)   # read into memory
            # a long name for the next member (pax "path=", GNU ././@LongLink); a global header's is not one
            data = read(padded)[:size]
            if kind != b"g":
                long_name = data.rstrip(b"\0").decode("utf-8", "surrogateescape") if kind == b"L" \
                    else _pax_path(data) or long_name
            continue
        name, long_name = long_name or name, None
        rel = name.split("/", 1)[1] if "/" in name else name
        if kind in (b"0", b"\0", b"7") and want(rel, size):
            budget.take(name, size)
            yield rel, read(padded)[:size]
        else:
            skip(padded)


def _pax_path(data: bytes) -> str | None:
    path = None
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            break
        record = data[space + 1:pos + length - 1]
        key, _, value = record.partition(b"=")
        if key == b"path":
            path = value.decode("utf-8", "surrogateescape")
        pos += length
    return path


def _wanted_member(name: str, size: int) -> bool:
    kind = _wanted(name)
    return kind is not None and not (kind == "header" and size > MAX_HEADER)


_DECOMPRESSORS = {".xz": "xz", ".txz": "xz", ".gz": "gzip", ".tgz": "gzip", ".bz2": "bzip2", ".tbz2": "bzip2"}


def _files_of_tarball(path: Path) -> Iterator[tuple[str, bytes]]:
    """The wanted members of a tarball, read as a stream. The decompression runs in its own process
    (``xz -dc``, ``gzip -dc``) when the tool is on PATH, beside the reading; else in this one."""
    suffix = next((s for s in _DECOMPRESSORS if path.name.endswith(s)), "")
    tool = shutil.which(_DECOMPRESSORS[suffix]) if suffix else None
    hint = ("check the file (a complete linux-X.Y.Z.tar.xz or Debian's /usr/src/linux-source-X.Y.tar.xz), "
            "or give the unpacked source folder")
    proc = None
    try:
        if tool is not None:
            args = [tool, "-dc", *(["-T0"] if suffix in (".xz", ".txz") else []), "--", str(path)]
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    bufsize=1 << 20)
            assert proc.stdout is not None
            stream: io.BufferedIOBase = proc.stdout   # type: ignore[assignment]
        elif suffix:
            import bz2
            import gzip
            import lzma

            opener = {"xz": lzma.LZMAFile, "gzip": gzip.GzipFile, "bzip2": bz2.BZ2File}[_DECOMPRESSORS[suffix]]
            stream = opener(path)
        else:
            stream = open(path, "rb")    # noqa: SIM115 -- closed below
        with stream:
            yield from _tar_members(stream, _wanted_member, Budget(path))
            if proc is not None:
                # what follows the end-of-archive blocks: drained, for the tool's exit status to say
                while stream.read(1 << 20):
                    pass
        if proc is not None:
            err = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
            if proc.wait() != 0:
                raise _TarError(err or f"{tool} exited with status {proc.returncode}")
    except (_TarError, EOFError, OSError, ValueError) as e:
        raise InputError(f"cannot read the kernel tarball: {e}", where=str(path), hint=hint) from e
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()


def _files_of_folder(path: Path) -> Iterator[tuple[str, bytes]]:
    for root, dirs, files in os.walk(path):
        here = os.path.relpath(root, path).replace(os.sep, "/")
        prefix = "" if here == "." else here + "/"
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and _wanted(f"{prefix}{d}/x.c") is not None)
        for fname in sorted(files):
            full = os.path.join(root, fname)
            rel = prefix + fname
            kind = _wanted(rel)
            if kind is None:
                continue
            try:
                if kind == "header" and os.path.getsize(full) > MAX_HEADER:
                    continue
                with open(full, "rb") as f:
                    yield rel, f.read()
            except OSError:
                continue


def _has_table(data: bytes) -> bool:
    return b"MODULE_DEVICE_TABLE" in data or b"_device_id" in data or b"MODULE_ALIAS" in data


_FLAGS_LINE = re.compile(r"^[ \t]*(subdir-ccflags|ccflags|CFLAGS_[\w.-]+|EXTRA_CFLAGS)[-\w$()]*[ \t]*[:+?]?=(.*)$",
                         re.MULTILINE)
_INCLUDE_FLAG = re.compile(r"-I[ \t]*(\S+)")


def include_flags(folder: str, makefile: str) -> list[tuple[str, bool]]:
    """The folders a Makefile's ``ccflags-y += -I...`` (or ``subdir-ccflags``, ``CFLAGS_foo.o``) add
    to the include path of what it compiles, relative to the tree, each with whether it holds for
    the subfolders too (as scripts/Makefile.lib passes them to the compiler)."""
    out = []
    for m in _FLAGS_LINE.finditer(makefile.replace("\\\n", " ")):
        for flag in _INCLUDE_FLAG.finditer(m.group(2)):
            where = flag.group(1)
            for prefix, base in (("$(srctree)/", ""), ("$(src)/", folder + "/"), ("$(obj)/", folder + "/")):
                if where.startswith(prefix):
                    where = base + where[len(prefix):]
                    break
            if "$" in where or where.startswith("/"):
                continue
            out.append((posixpath.normpath(where), m.group(1) == "subdir-ccflags"))
    return out


def read_sources(files: Iterable[tuple[str, bytes]]) -> tuple[dict[str, _Sparse], int]:
    sparse: dict[str, _Sparse] = {}
    c_files = 0
    for name, data in files:
        if name.endswith(("/Makefile", "/Kbuild")):
            if b"-I" in data:
                folder = posixpath.dirname(name)
                flags = include_flags(folder, data.decode("utf-8", "replace"))
                if flags:
                    sparse[name] = _Sparse(name, [], raw=None)
                    sparse[name].flags = flags
            continue
        if name.endswith(".c"):
            c_files += 1
            if not _has_table(data):
                continue
            sparse[name] = _sparse(name, data.decode("utf-8", "replace"), full=True)
        elif _has_table(data):
            sparse[name] = _sparse(name, data.decode("utf-8", "replace"), full=True)
            sparse[name].raw = data
        else:
            sparse[name] = _Sparse(name, None, raw=data)
    return sparse, c_files


# --- from the kept text to tables ------------------------------------------------------------

class _Scope(Mapping[str, cpp.Macro]):
    """The macros a file sees: its own (up to a line), its includes', the shared headers'
    (a definition's text parsed when first looked up)."""

    def __init__(self, layers: list[dict[str, str | cpp.Macro]]) -> None:
        self.layers = layers

    def get(self, name: str, default: cpp.Macro | None = None) -> cpp.Macro | None:  # type: ignore[override]
        for layer in self.layers:
            found = layer.get(name)
            if found is None:
                continue
            if isinstance(found, str):
                parsed = cpp.parse_define(found)
                if parsed is None:
                    continue
                layer[name] = found = parsed
            return found
        return default

    def __getitem__(self, name: str) -> cpp.Macro:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return any(name in layer for layer in self.layers)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for layer in self.layers:
            for name in layer:
                if name not in seen:
                    seen.add(name)
                    yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Builder:
    def __init__(self, sparse: dict[str, _Sparse], source: str, version: str) -> None:
        self.sparse = sparse
        self.index = DeviceIndex(source, version)
        self._defines: dict[str, dict[str, str | cpp.Macro]] = {}
        self._closure: dict[str, list[str]] = {}
        self._include_path: dict[str, list[str]] = {}
        # The kernel's shared headers as one scope: what <linux/...> includes bring in, the first
        # definition of a name winning (the base headers first, then include/ before arch/).
        base: dict[str, str | cpp.Macro] = {}
        shared = [h for h in BASE_HEADERS if h in sparse]
        shared += sorted((p for p in sparse if p.endswith(".h") and p.startswith(INCLUDE_DIRS)
                          and p not in BASE_HEADERS), key=lambda p: (not p.startswith("include/"), p))
        for header in shared:
            for name, macro in self.defines(header).items():
                base.setdefault(name, macro)
        self.base = base
        self._defines.clear()

    def defines(self, path: str) -> dict[str, str | cpp.Macro]:
        r"""A header's ``#define``\ s by name (the text, parsed when first looked up)."""
        found = self._defines.get(path)
        if found is None:
            found = {}
            sp = self.sparse.get(path)
            if sp is not None:
                for _, d in sp.directives:
                    m = _DEFINE_NAME.match(d)
                    if m:
                        found[m.group(1)] = d
            self._defines[path] = found
        return found

    def full_sparse(self, path: str) -> _Sparse | None:
        """A file with every preprocessor line (its #if blocks too), from its whole text."""
        sp = self.sparse.get(path)
        if sp is None or sp.full or sp.raw is None:
            return sp if sp is None or sp.full else None
        full = _sparse(path, sp.raw.decode("utf-8", "replace"), full=True)
        full.raw = sp.raw
        self.sparse[path] = full
        return full

    def resolve_include(self, where: str, quote: str, name: str) -> str | None:
        """The file an ``#include`` names, searched as the compiler does: a quoted name beside the
        file first, then the -I folders its Makefile (and its parents' subdir-ccflags) add, then
        the kernel's include folders."""
        folder = posixpath.dirname(where)
        if quote == '"':
            rel = posixpath.normpath(posixpath.join(folder, name))
            if rel in self.sparse:
                return rel
        for d in (*self.include_path(folder), *INCLUDE_DIRS):
            rel = posixpath.normpath(posixpath.join(d, name))
            if rel in self.sparse:
                return rel
        return None

    def include_path(self, folder: str) -> list[str]:
        found = self._include_path.get(folder)
        if found is None:
            found = []
            for makefile in ("Makefile", "Kbuild"):
                sp = self.sparse.get(f"{folder}/{makefile}")
                found += [d for d, _ in sp.flags] if sp is not None else []
            parent = folder
            while "/" in parent:
                parent = posixpath.dirname(parent)
                for makefile in ("Makefile", "Kbuild"):
                    sp = self.sparse.get(f"{parent}/{makefile}")
                    found += [d for d, sub in sp.flags if sub] if sp is not None else []
            self._include_path[folder] = found
        return found

    def includes(self, path: str) -> list[str]:
        sp = self.sparse.get(path)
        if sp is None:
            return []
        out = []
        for _, d in sp.directives:
            m = _INCLUDE.match(d)
            if m:
                inc = self.resolve_include(path, m.group(1), m.group(2))
                if inc is not None and inc not in out:
                    out.append(inc)
        return out

    def header_closure(self, path: str, limit: int = 64) -> list[str]:
        """The driver's own headers ``path`` includes (``#include "..."``, transitively) and the
        shared headers it names itself (``#include <...>``), nearest first: their macros win over
        the shared scope's."""
        cached = self._closure.get(path)
        if cached is not None:
            return cached
        seen = [path]
        queue = [path]
        while queue and len(seen) < limit:
            nxt = []
            for p in queue:
                for inc in self.includes(p):
                    if inc not in seen:
                        seen.append(inc)
                        if not inc.startswith(INCLUDE_DIRS):
                            nxt.append(inc)
            queue = nxt
        self._closure[path] = seen[1:]
        return seen[1:]

    def build(self) -> DeviceIndex:
        for path in sorted(self.sparse):
            sp = self.sparse[path]
            if path.endswith(".c") or sp.tables or sp.uses:
                inc = self.includes(path)
                if inc:
                    self.index.includes[path] = tuple(inc)
            if sp.tables or sp.uses or sp.aliases:
                self.file(sp)
        return self.index

    def file(self, sp: _Sparse) -> None:
        local: dict[str, str | cpp.Macro] = {}
        by_line: list[tuple[int, cpp.Macro]] = []
        for line, d in sp.directives:
            if d[1:].lstrip().startswith("define"):
                macro = cpp.parse_define(d)
                if macro is not None:
                    by_line.append((line, macro))
        layers: list[dict[str, str | cpp.Macro]] = [local]
        layers += [self.defines(h) for h in self.header_closure(sp.path)]
        layers.append(self.base)
        scope = _Scope(layers)
        expander = cpp.Expander(scope)
        conditions = _Conditions(sp.directives, expander, local, by_line)
        for kind, name, line in sp.uses:
            if kind not in KINDS:
                continue
            self.index.uses.setdefault(sp.path, []).append(TableUse(kind, name, sp.path, line, conditions.at(line)))
        for alias, line in sp.aliases:
            self.index.uses.setdefault(sp.path, []).append(TableUse("alias", alias, sp.path, line,
                                                                     conditions.at(line)))
        for kind, name, size, line, text in sp.tables:
            # a table may #define its entry macros between its braces (pegasus)
            conditions.defines_until(line + text.count("\n"))
            table = self.table(sp.path, kind, name, size, line, text, expander, conditions)
            self.index.tables[(sp.path, name)] = table
        defined = {name for _, name, _, _, _ in sp.tables}
        for use in sp.uses:
            if use[0] in KINDS and use[1] not in defined:
                found = self.table_from_macros(sp.path, use, expander, conditions)
                if found is not None:
                    self.index.tables[(sp.path, use[1])] = found

    def table(self, path: str, kind: str, name: str, size: str, line: int, text: str, expander: cpp.Expander,
              conditions: _Conditions) -> IdTable:
        files = [path]
        file_conditions: list[tuple[_Conditions, tuple[str, ...]]] = [(conditions, ())]
        tokens = self._table_tokens(path, text, line, expander, files, file_conditions)
        return self._entries(path, kind, name, size, line, tokens[1:-1], expander, files, file_conditions)

    def _entries(self, path: str, kind: str, name: str, size: str, line: int, tokens: list[cpp.Token],
                 expander: cpp.Expander, files: list[str],
                 file_conditions: list[tuple[_Conditions, tuple[str, ...]]]) -> IdTable:
        try:
            expanded = expander.expand(tokens)
        except ValueError as e:
            self.index.problems.append((f"{path}:{line}", f"{name}: {e}"))
            expanded = []
        entries = []
        for item in _split_items(expanded):
            if len(item) > 3 and item[0].text == "[":
                # [INDEX] = {...}: a designated element (dvb-usb's tables); gaps are zero entries
                close = next((k for k, t in enumerate(item) if t.text == "]"), 0)
                item = item[close + 2:] if close and len(item) > close + 2 and item[close + 1].text == "=" else item
            first = item[0]
            block = first.block if 0 < first.block < len(files) else 0
            where = files[block]
            if first.text != "{" or item[-1].text != "}":
                self.index.problems.append((f"{where}:{first.line}", f"{name}: an entry that is not a {{...}}"))
                continue
            values = _entry_values(kind, item[1:-1])
            # an entry of a header included inside the table: its own #if blocks, and the ones
            # around the #include line in the file that includes it
            file_conds, prefix = file_conditions[block]
            entries.append(IdEntry(kind, values, where, first.line, prefix + file_conds.at(first.line)))
        n: int | None = None
        if size:
            try:
                n = cpp.int_value(expander.expand(cpp.tokenize(size)))
            except (cpp.NotConstant, ValueError):
                n = None
        return IdTable(kind, name, path, line, file_conditions[0][0].at(line), entries, n)

    def _table_tokens(self, path: str, text: str, line: int, expander: cpp.Expander, files: list[str],
                      file_conditions: list[tuple[_Conditions, tuple[str, ...]]], block: int = -1
                      ) -> list[cpp.Token]:
        """The table's tokens, a header ``#include``\\ d between its braces read in its place
        (usb-storage's unusual_devs.h, and what that includes); other preprocessor lines are the
        conditions' job."""
        tokens: list[cpp.Token] = []
        continued = False
        for offset, text_line in enumerate(text.split("\n")):
            stripped = text_line.lstrip()
            if continued or not stripped.startswith("#"):
                if not continued:
                    tokens += cpp.tokenize(text_line, line + offset, block)
                continued = continued and text_line.endswith("\\")
                continue
            continued = text_line.endswith("\\")
            m = _INCLUDE.match(stripped)
            inc = self.resolve_include(path, m.group(1), m.group(2)) if m else None
            sp = self.full_sparse(inc) if inc else None
            if inc is None or sp is None or sp.raw is None or inc in files or len(files) > 32:
                continue
            conds, prefix = file_conditions[max(block, 0)]
            files.append(inc)
            local: dict[str, str | cpp.Macro] = {}
            file_conditions.append((_Conditions(sp.directives, expander, local, []),
                                    prefix + conds.at(line + offset)))
            body = cpp.strip_comments(sp.raw.decode("utf-8", "replace"))
            tokens += self._table_tokens(inc, body, 1, expander, files, file_conditions, len(files) - 1)
        return tokens

    @staticmethod
    def _active_defines(header: _Sparse, outer: Mapping[str, cpp.Macro]) -> dict[str, str | cpp.Macro]:
        """A header's #defines in the branches its ``#ifdef NAME``/``#ifndef NAME`` take given the
        macros defined before it is included (t4_pci_id_tbl.h defines its entry macro one way or
        the other); a condition on CONFIG_ symbols keeps both branches."""
        out: dict[str, str | cpp.Macro] = {}
        stack: list[bool] = []
        for _, d in header.directives:
            m = re.match(r"#\s*(ifdef|ifndef|if|elif|else|endif|define|undef)\b\s*(\w*)", d)
            if not m:
                continue
            word, name = m.group(1), m.group(2)
            if word in ("ifdef", "ifndef"):
                known = name in out or name in outer
                stack.append(known if word == "ifdef" else not known)
            elif word == "if":
                stack.append(True)
            elif word in ("else", "elif") and stack:
                stack[-1] = not stack[-1] if word == "else" else True
            elif word == "endif" and stack:
                stack.pop()
            elif all(stack) and word == "define":
                out[name] = d
            elif all(stack) and word == "undef":
                out.pop(name, None)
        return out

    def table_from_macros(self, path: str, use: tuple[str, str, int], expander: cpp.Expander,
                          conditions: _Conditions) -> IdTable | None:
        """A table whose start is itself a macro, in a header the file includes (cxgb4's
        t4_pci_id_tbl.h: ``CH_PCI_DEVICE_ID_TABLE_DEFINE_BEGIN`` is ``static const struct
        pci_device_id cxgb4_pci_tbl[] = {``, defined by each driver that includes it)."""
        kind, name, _ = use
        sp = self.sparse.get(path)
        if sp is None:
            return None
        for line, d in sp.directives:
            m = _INCLUDE.match(d)
            inc = self.resolve_include(path, m.group(1), m.group(2)) if m and m.group(1) == '"' else None
            header = self.full_sparse(inc) if inc else None
            if inc is None or header is None or header.raw is None:
                continue
            conditions.defines_until(line)
            body = "\n".join(_without_directives(cpp.strip_comments(header.raw.decode("utf-8", "replace"))))
            own_defines = self._active_defines(header, expander.lookup)
            outer = expander.lookup.layers if isinstance(expander.lookup, _Scope) else []
            try:
                expanded = cpp.Expander(_Scope([own_defines, *outer])).expand(
                    cpp.tokenize(body, 1, 1))
            except ValueError:
                continue
            texts = [t.text for t in expanded]
            for k in range(len(texts) - 6):
                if texts[k] == "struct" and texts[k + 1] == f"{kind}_device_id" and name in texts[k + 2:k + 6]:
                    start = texts.index("{", k) if "{" in texts[k:] else len(texts)
                    depth, end = 0, -1
                    for j in range(start, len(texts)):
                        depth += {"{": 1, "}": -1}.get(texts[j], 0)
                        if depth == 0:
                            end = j
                            break
                    if end < 0:
                        return None
                    own = _Conditions(header.directives, expander, {}, [])
                    return self._entries(path, kind, name, "", line, expanded[start + 1:end], cpp.Expander({}),
                                         [path, inc], [(conditions, ()), (own, conditions.at(line))])
        return None


class _DefinedAt:
    """The names defined at one line of a file: the scope's, less those the file defines later."""

    def __init__(self, scope: Container[str], first_define: Mapping[str, int], line: int) -> None:
        self.scope, self.first_define, self.line = scope, first_define, line

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or name not in self.scope:
            return False
        first = self.first_define.get(name)
        return first is None or first < self.line


class _Conditions:
    """The ``#if`` blocks of a file: which normalized conditions hold at a line."""

    def __init__(self, directives: list[tuple[int, str]], expander: cpp.Expander,
                 local: dict[str, str | cpp.Macro],
                 by_line: list[tuple[int, cpp.Macro]]) -> None:
        self.lines: list[int] = []
        self.states: list[tuple[str, ...]] = []
        self.local = local
        self.by_line = by_line
        self.next_define = 0
        self.stack: list[tuple[list[str], str | None]] = []   # per open #if: earlier branches, current one
        self.expander = expander
        # a name this file #defines is not defined above that line (an include guard's #ifndef)
        self.first_define: dict[str, int] = {}
        for line, d in directives:
            m = _DEFINE_NAME.match(d)
            if m:
                self.first_define.setdefault(m.group(1), line)
        self.line = 0
        for line, d in directives:
            m = re.match(r"#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)", d)
            if not m:
                continue
            self.defines_until(line)
            self.line = line
            self._directive(m.group(1), m.group(2).strip())
            self.lines.append(line)
            self.states.append(self._current())
        self.next_define = 0
        local.clear()

    def _current(self) -> tuple[str, ...]:
        out: list[str] = []
        for earlier, branch in self.stack:
            out.extend(f"!({e})" for e in earlier)
            if branch is not None:
                out.append(branch)
        # conditions on no CONFIG_ symbol are decided here (an include guard, #ifdef of a macro)
        return tuple(x for x in out if "CONFIG_" in x or not cpp.condition_holds(x, {}))

    def _directive(self, word: str, arg: str) -> None:
        expander, stack = self.expander, self.stack
        names = _DefinedAt(expander.lookup, self.first_define, self.line)
        name = arg.split()[0] if arg else "0"
        if word == "ifdef":
            stack.append(([], self._norm(f"defined({name})", expander, names)))
        elif word == "ifndef":
            stack.append(([], f"!({self._norm(f'defined({name})', expander, names)})"))
        elif word == "if":
            stack.append(([], self._norm(arg, expander, names)))
        elif word == "elif" and stack:
            earlier, branch = stack[-1]
            stack[-1] = ([*earlier, branch or "0"], self._norm(arg, expander, names))
        elif word == "else" and stack:
            earlier, branch = stack[-1]
            stack[-1] = ([*earlier, branch or "0"], None)
        elif word == "endif" and stack:
            stack.pop()

    def defines_until(self, line: int) -> None:
        """The file's own #defines up to ``line`` in the scope (later ones override earlier)."""
        k = self.next_define
        while k < len(self.by_line) and self.by_line[k][0] <= line:
            self.local[self.by_line[k][1].name] = self.by_line[k][1]
            k += 1
        self.next_define = k

    @staticmethod
    def _norm(arg: str, expander: cpp.Expander, names: Container[str]) -> str:
        try:
            return cpp.normalize_condition(arg, expander, names)
        except ValueError:
            return "0"

    def at(self, line: int) -> tuple[str, ...]:
        k = bisect.bisect_left(self.lines, line) - 1
        return self.states[k] if k >= 0 else ()


def _split_items(tokens: list[cpp.Token]) -> list[list[cpp.Token]]:
    items: list[list[cpp.Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == "punct" and t.text in "([{":
            depth += 1
        elif t.kind == "punct" and t.text in ")]}":
            depth -= 1
        if t.text == "," and depth == 0:
            items.append([])
            continue
        items[-1].append(t)
    return [i for i in items if i]


def _entry_values(kind: str, tokens: list[cpp.Token]) -> tuple[int | str | None, ...]:
    fields = FIELDS[kind]
    names = [f for f, _ in fields]
    values: list[int | str | None] = [("" if w.startswith("s") else 0) for _, w in fields]
    pos = 0
    for item in _split_items(tokens):
        if len(item) >= 3 and item[0].text == "." and item[1].kind == "id" and item[2].text == "=":
            name = item[1].text
            if name not in names:
                continue
            pos = names.index(name)
            item = item[3:]
        if pos >= len(fields):
            break
        width = fields[pos][1]
        if width != "-":
            values[pos] = _field_value(item, width)
        pos += 1
    return tuple(values)


def _field_value(item: list[cpp.Token], width: str) -> int | str | None:
    if item and item[0].text == "{" and item[-1].text == "}":
        item = item[1:-1]
    try:
        if width.startswith("s"):
            if all(t.text in ("0", "(", ")") for t in item) or not item:
                return ""
            return cpp.string_value(item)[:int(width[1:]) - 1]
        return cpp.int_value(item) & ((1 << int(width)) - 1)
    except cpp.NotConstant:
        return None


# --- the index, built and cached ------------------------------------------------------------

def source_stamp(source: Path) -> str:
    """What the cached index of ``source`` depends on: a tarball's path, size and mtime; a
    folder's C files and headers (paths, sizes, mtimes)."""
    h = hashlib.sha256(f"{FORMAT_VERSION}\0{source}".encode())
    if source.is_file():
        st = source.stat()
        h.update(f"{st.st_size}\0{st.st_mtime_ns}".encode())
        return h.hexdigest()
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for fname in sorted(files):
            if fname.endswith((".c", ".h")):
                try:
                    st = os.stat(os.path.join(root, fname))
                except OSError:
                    continue
                h.update(f"{root}/{fname}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def engine() -> str:
    digest = hashlib.sha256(f"{FORMAT_VERSION}|{sys.version_info[:2]}".encode())
    for module in ("devices.py", "cpp.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return f"devices-{digest.hexdigest()[:32]}"


def cache_path(source: Path, cache_dir: Path | None = None) -> Path:
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    where = hashlib.sha256(f"{FORMAT_VERSION}\0{source}".encode()).hexdigest()[:20]
    return folder / "devices" / f"{source.name}-{where}.pickle"


class NoCSource(InputError):
    pass


def no_c_source(source: Path, version: str) -> NoCSource:
    series = ".".join(version.split(".")[:2])
    return NoCSource(
        "this kernel source has no C files (a Kconfig/Kbuild skeleton): device ID tables are written in "
        "the drivers' C code", where=str(source),
        hint=f"give the full source with --kernel-src: kernel.org's linux-{version}.tar.xz, or on Debian "
             f"`apt-get install linux-source-{series}` for /usr/src/linux-source-{series}.tar.xz")


def build_device_index(source: Path, version: str, *,
                       progress: Callable[[str], None] | None = None) -> DeviceIndex:
    """Read every ID table of ``source`` (a tarball, as a stream, or a folder)."""
    started = time.monotonic()
    files = _files_of_tarball(source) if source.is_file() else _files_of_folder(source)
    sparse, c_files = read_sources(files)
    if c_files == 0:
        raise no_c_source(source, version)
    if progress is not None:
        progress(f"read {c_files} C files; reading the ID tables")
    index = _Builder(sparse, str(source), version).build()
    index.c_files = c_files
    index.seconds = time.monotonic() - started
    return index


def load_device_index(source: str | os.PathLike, version: str, cache_dir: Path | None = None, *,
                      progress: Callable[[str], None] | None = None) -> DeviceIndex:
    """:func:`build_device_index`, cached on disk per source (like the Kbuild maps: a header names
    the engine and the payload's digest; a damaged file is rebuilt)."""
    source = Path(source).resolve()
    path = cache_path(source, cache_dir)
    stamp = source_stamp(source)
    index = _cached_index(path, stamp)
    if index is not None:
        return index
    # one run builds the index, the others wait and use it (cacheentry's rules)
    with cacheentry.building(path, f"indexing the device ID tables of {source.name}", optional=True):
        index = _cached_index(path, stamp)
        if index is not None:
            return index
        index = build_device_index(source, version, progress=progress)
        buffer = io.BytesIO()
        pickle.dump(stamp, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(index, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        cachefile.write(path, buffer.getbuffer(), engine=engine())
    return index


def _cached_index(path: Path, stamp: str) -> DeviceIndex | None:
    data = cachefile.read(path, engine=engine(), what="device index")
    if data is not None:
        try:
            if pickle.load(data) == stamp:
                index = pickle.load(data)
                if isinstance(index, DeviceIndex):
                    return index
        except Exception as e:  # noqa: BLE001 -- whatever unpickling a bad file raises: rebuild it
            cachefile.discard(path, "device index", f"unpickling failed: {type(e).__name__}")
    return None
