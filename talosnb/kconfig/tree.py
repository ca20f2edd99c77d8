"""A kernel tree's Kconfig, parsed once per arch and toolchain mode, cached on disk."""

from __future__ import annotations

import contextlib
import copyreg
import errno
import functools
import gc
import hashlib
import io
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import kconfiglib

from talosnb.core import cacheentry, cachefile
from talosnb.core.arches import check_arch, srcarch
from talosnb.core.errors import InputError, opt
from talosnb.core.paths import cache_dir
from talosnb.core.versions import read_makefile_version

from . import syntax
from .toolchain import shells

# Bump when the parsed form changes, so stale caches are not reused.
ENGINE_VERSION = "2"

TOOLCHAIN_MODES = ("recorded", "host")


def read_tree_version(path: str | os.PathLike) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL(EXTRAVERSION) from the tree's top Makefile."""
    version = read_makefile_version(Path(path) / "Makefile")
    if version is None:
        raise InputError("not a kernel tree: no top-level Makefile with VERSION/PATCHLEVEL", where=str(path),
                         hint=f"{opt('kernel_src')} must be a Linux source folder or tarball")
    return version


@dataclass
class KconfigTree:
    """The Kconfig of one kernel tree for one arch, parsed in one toolchain mode.

    `kconf` is the parsed kconfiglib object (a TalosKconfig); it holds one
    configuration's values at a time, so each loaded Config owns its own tree.
    """

    path: Path
    version: str
    arch: str
    mode: str
    kconf: syntax.TalosKconfig
    probes: dict[str, shells.Probe] = field(default_factory=dict)
    host_env: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False

    @property
    def srcarch(self) -> str:
        return srcarch(self.arch)

    def last_menu(self) -> str | None:
        """The title of the last top-level menu that is always visible: conf's output of any config
        of this tree ends with its '# end of TITLE' line (or a few top-level symbols after it)."""
        kconf = self.kconf
        last = None
        node = kconf.top_node.list
        while node is not None:
            if node.item is kconfiglib.MENU and node.prompt and node.dep is kconf.y and node.visibility is kconf.y:
                last = node.prompt[0]
            node = node.next
        return last

    def menu_titles(self) -> frozenset[str]:
        """Titles of the tree's menus (conf closes each in a .config with '# end of TITLE'),
        minus any that is also a comment's (conf writes no end line for those)."""
        titles = getattr(self, "_menu_titles", None)
        if titles is None:
            kconf = self.kconf
            comments = {node.prompt[0] for node in kconf.comments if node.prompt}
            titles = frozenset(node.prompt[0] for node in kconf.menus if node.prompt) - comments
            self._menu_titles = titles
        return titles

    @property
    def header_arch(self) -> str:
        # Talos builds with ARCH set to the SRCARCH name: config headers read "Linux/x86"
        return srcarch(self.arch)

    @classmethod
    def load(cls, path: str | os.PathLike, arch: str, *, toolchain_mode: str = "recorded",
             host: dict[str, str] | None = None, use_cache: bool = True,
             version: str | None = None, check_sources: Callable[[], None] | None = None) -> KconfigTree:
        """Parse `path/Kconfig` for `arch`. Recorded mode runs no probe and is cached on disk.

        `version` stands in for the top Makefile's in Kconfig-only folders
        (such as the kernel's own scripts/kconfig/tests cases). `check_sources` is
        called before the tree's files are read (not on a cache hit): e.g. to
        re-extract a damaged tree.
        """
        path = Path(path).resolve()
        check_arch(arch)
        if toolchain_mode not in TOOLCHAIN_MODES:
            raise InputError(f"unknown toolchain mode '{toolchain_mode}'",
                             hint="use 'recorded' (answer compiler probes from the config) or 'host'")
        version = version or read_tree_version(path)
        if not (path / "Kconfig").is_file():
            raise InputError("not a kernel tree: no top-level Kconfig", where=str(path))
        if toolchain_mode == "recorded" and use_cache:
            cached = _read_cache(path, version, arch)
            if cached is not None:
                return cached
            # one run parses, the others wait and read its cache file (cacheentry's rules)
            with cacheentry.building(_cache_file(path, version, arch), f"parsing the Kconfig tree for {arch}",
                                     optional=True):
                cached = _read_cache(path, version, arch)
                if cached is not None:
                    return cached
                if check_sources is not None:
                    check_sources()
                tree = _parse(path, version, arch, toolchain_mode, host)
                _write_cache(tree)
                return tree
        if check_sources is not None:
            check_sources()
        return _parse(path, version, arch, toolchain_mode, host)


def _parse(path: Path, version: str, arch: str, mode: str, host: dict[str, str] | None) -> KconfigTree:
    env = syntax.kernel_env(str(path), srcarch(arch), srcarch(arch), version)
    shell: shells.RecordedShell | shells.HostShell
    if mode == "recorded":
        shell = shells.RecordedShell()
        for variable in shells.TEXT_VARIABLES:
            env[variable] = shell.text_variable(variable)
        env.update(shells.recorded_env())
    else:
        host = dict(host if host is not None else shells.host_env())
        host.update(shells.arch_env(host, srcarch(arch)))
        env.update(host)
        shell = shells.HostShell(env)
    try:
        kconf = _with_deep_stack(lambda: syntax.parse(str(path), env, shell))
    except kconfiglib.KconfigError as e:
        outside = "leads outside the kernel tree" in str(e)
        raise InputError(f"cannot parse the kernel's Kconfig: {str(e).strip()}", where=str(path),
                         hint="a kernel tree's Kconfig sources only files inside it: this tree is not a kernel "
                              "tree as kernel.org ships it; check where it came from" if outside else
                              "if the tree is intact (a fresh checkout or tarball), this Kconfig construct is "
                              "not supported: please report it; otherwise restore the damaged file") from None
    except OSError as e:
        # kconfiglib's own message names the `source` line: "file:line: Could not open 'x' (...)"
        message = str(e).strip()
        where, _, rest = message.partition(": Could not open ")
        if not rest or ":" not in where:
            where, rest = str(getattr(e, "filename", "") or path), message
        else:
            where, rest = str(path / where), "could not open " + rest   # kconfiglib's names are tree-relative
        hint = ("`source` names a folder, not a Kconfig file (in recorded mode an unknown $(shell,...) "
                "expands to nothing): check that line" if e.errno == errno.EISDIR else
                "check the permissions of the tree's files" if e.errno in (errno.EACCES, errno.EPERM) else
                "the tree is incomplete or damaged: use a complete kernel tree")
        raise InputError(f"cannot read the kernel's Kconfig: {rest}", where=where, hint=hint) from None
    tree = KconfigTree(path, version, arch, mode, kconf, host_env=host or {})
    if mode == "recorded":
        assert isinstance(shell, shells.RecordedShell)  # made above for this mode
        shells.bind_placeholders(kconf, shell)
        tree.probes = shell.probes
        kconf.talosnb_unknown_shell = shell.unknown
    return tree


_T = TypeVar("_T")


def _with_deep_stack(fn: Callable[[], _T]) -> _T:
    """Run fn in a thread with a deep stack: kconfiglib and pickle recurse per menu level/node."""
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001 -- re-raised in the caller's thread
            result["error"] = e

    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size()
    sys.setrecursionlimit(max(old_limit, 200_000))
    threading.stack_size(512 * 1024 * 1024)
    try:
        with _long_lived_objects():
            # a daemon: an interrupted parse never holds up (or makes noise at) interpreter exit
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            thread.join()
    finally:
        threading.stack_size(old_size)
    if "error" in result:
        raise result["error"]
    return result["value"]


# Objects moved to the oldest generation unseen by the GC since its last full
# collection, the one that frees trees no longer used (kconfiglib's objects
# form cycles). Those objects never count towards the next full collection, so
# past the limit (~4 parsed trees) one is run: a process loading tree after
# tree does not keep the discarded ones.
_promoted = {"full_collections": 0, "objects": 0}
_PROMOTE_LIMIT = 1_500_000


@contextlib.contextmanager
def _long_lived_objects() -> Iterator[None]:
    """Create a parsed tree (~10^6 objects that live as long as the tree) without GC work.

    The cyclic GC running while they are created doubles the time, and once it
    is back on, its next young-generation pass would still walk all of them
    (60-100 ms) to find nothing. So it is paused, and the new objects are moved
    straight to the oldest generation, which full collections still scan.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_stats()[-1]["collections"] != _promoted["full_collections"]:
            _promoted["objects"] = 0
        young = gc.get_count()[0]
        if gc.get_freeze_count() == 0:  # else someone froze objects on purpose: leave them
            if _promoted["objects"] + young > _PROMOTE_LIMIT:
                gc.collect()
                _promoted["objects"] = 0
            else:
                _promoted["objects"] += young
                # freeze moves every tracked object to the permanent generation,
                # unfreeze moves them all to the oldest one: no walk over them.
                gc.freeze()
                gc.unfreeze()
        _promoted["full_collections"] = gc.get_stats()[-1]["collections"]
        if was_enabled:
            gc.enable()


@functools.cache
def _engine_fingerprint() -> str:
    # The pickled tree embeds how this engine parsed it: any change to the
    # parsing code must miss the cache.
    digest = hashlib.sha256(f"{ENGINE_VERSION}|{kconfiglib.VERSION}|{sys.version_info[:2]}".encode())
    for module in ("syntax.py", "toolchain/shells.py", "tree.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()


def _cache_file(path: Path, version: str, arch: str) -> Path:
    key = hashlib.sha256(f"{_engine_fingerprint()}|{kconfiglib.VERSION}|{path}|{version}|{arch}".encode()
                         ).hexdigest()
    return cache_dir() / "kconfig" / f"{version}-{arch}-{key[:16]}.pickle"


def _stamp(path: Path, filenames: tuple[str, ...]) -> list[tuple[int, int]]:
    """(size, mtime) of each Kconfig file the tree was parsed from."""
    root = os.path.join(path, "")
    stamp = []
    for name in filenames:
        try:
            st = os.stat(root + name)
            stamp.append((st.st_size, st.st_mtime_ns))
        except OSError:
            stamp.append((-1, -1))
    return stamp


# Symbols and menu nodes (~4 * 10^4 objects) are most of a parsed tree. Pickled
# the default way, each carries a dict of its ~20 slots, keys included, and
# unpickling builds and applies those dicts one by one. The cache stores them
# bare instead, their slots following as columns (one list per slot, for all
# objects of a class with the same slots set), applied by one loop per group:
# half the unpickling time, with exactly the same objects.
_COLUMN_CLASSES: dict[type, tuple[str, ...]] = {
    cls: tuple(name for klass in reversed(cls.__mro__) for name in getattr(klass, "__slots__", ())
               if name not in ("__dict__", "__weakref__"))
    for cls in (kconfiglib.Symbol, kconfiglib.MenuNode)
}


class _TreePickler(pickle.Pickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.bare: list = []

    def reducer_override(self, obj: object) -> Any:
        # Only called for objects not pickled yet: each one is written bare once.
        if obj.__class__ in _COLUMN_CLASSES:
            self.bare.append(obj)
            return copyreg.__newobj__, (obj.__class__,)  # type: ignore[attr-defined]  # not in typeshed
        return NotImplemented

    def dump_tree(self, tree: KconfigTree) -> None:
        self.dump(tree)
        # Slot values reach objects not written yet: repeat until none is left.
        while self.bare:
            batch, self.bare = self.bare, []
            groups: dict[tuple[type, tuple[str, ...]], list] = {}
            for obj in batch:
                cls = obj.__class__
                slots = tuple(name for name in _COLUMN_CLASSES[cls] if hasattr(obj, name))
                groups.setdefault((cls, slots), []).append(obj)
            for (_, slots), objs in groups.items():
                self.dump((slots, objs, [[getattr(obj, name) for obj in objs] for name in slots]))
        self.dump(None)


@functools.cache
def _slot_setter(slots: tuple[str, ...]) -> Callable[[list, list], None]:
    """A loop assigning `slots` from columns: for o, v0, v1 in zip(objs, *columns): o.a = v0; o.b = v1."""
    values = [f"v{i}" for i in range(len(slots))]
    body = "\n        ".join(f"obj.{name} = {value}" for name, value in zip(slots, values, strict=True))
    source = (f"def set_slots(objs, columns):\n"
              f"    for obj, {', '.join(values)} in zip(objs, *columns, strict=True):\n"
              f"        {body}\n")
    namespace: dict = {}
    exec(compile(source, "<talosnb slot setter>", "exec"), namespace)  # noqa: S102 -- names from __slots__
    return namespace["set_slots"]


def _load_tree(file: IO[bytes]) -> KconfigTree:
    unpickler = pickle.Unpickler(file)
    tree = unpickler.load()
    while (group := unpickler.load()) is not None:
        slots, objs, columns = group
        if not set(slots) <= set(_COLUMN_CLASSES[objs[0].__class__]):
            raise ValueError("slots of another kconfiglib version")
        _slot_setter(slots)(objs, columns)
    if not isinstance(tree, KconfigTree):
        raise TypeError("not a parsed tree")
    return tree


def _read_cache(path: Path, version: str, arch: str) -> KconfigTree | None:
    file = _cache_file(path, version, arch)
    data = cachefile.read(file, engine=_engine_fingerprint(), what=f"Kconfig tree for {arch}")
    if data is None:
        return None
    try:
        filenames, stamp = pickle.load(data)
        if _stamp(path, filenames) != stamp:
            return None   # the tree's Kconfig files changed since: parse again (and replace it)
        with _long_lived_objects():
            tree = _load_tree(data)
    except Exception as e:  # noqa: BLE001 -- whatever unpickling a bad file raises: rebuild it
        cachefile.discard(file, f"Kconfig tree for {arch}", f"unpickling failed: {type(e).__name__}")
        return None
    tree.from_cache = True
    return tree


def _write_cache(tree: KconfigTree) -> None:
    tree.kconf.prepare_pickle()
    filenames = tuple(dict.fromkeys(tree.kconf.kconfig_filenames))
    buffer = io.BytesIO()
    pickle.dump((filenames, _stamp(tree.path, filenames)), buffer, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        _with_deep_stack(lambda: _TreePickler(buffer).dump_tree(tree))
    except Exception:  # noqa: BLE001
        return  # caching is an optimisation; a failure only costs the next parse
    cachefile.write(_cache_file(tree.path, tree.version, tree.arch), buffer.getbuffer(),
                    engine=_engine_fingerprint())


def is_cached(path: str | os.PathLike, arch: str, *, version: str | None = None) -> bool:
    """Whether a recorded-mode parse of this tree for ``arch`` is in the on-disk cache (so loading it
    takes a fraction of a second rather than seconds)."""
    path = Path(path).resolve()
    return _cache_file(path, version or read_tree_version(path), check_arch(arch)).is_file()
