"""Search from the command line without loading the trees: the search index kept on disk.

A search reads only names, prompts, help texts, module names and each symbol's
value; working them out needs both parsed trees, both configs and the Kbuild maps
(a second or more), while reading them back from one cache file takes a few
milliseconds. The file is keyed by the kernel tree, the arches and the config files'
contents, and it is used only while the Kconfig and Kbuild files it was made from
are unchanged (their sizes and mtimes, as the tree and Kbuild caches check them);
otherwise everything is loaded as any command loads it, and the file is written
again. Only the recorded toolchain mode is kept (host mode runs the compiler).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from talosnb.analyses.search import Hit, SearchIndex
from talosnb.app.answers import tree_stamp
from talosnb.core import cachefile, layout
from talosnb.core.arches import parse_arches
from talosnb.core.paths import cache_dir
from talosnb.inputs.resolve import Inputs, resolve_inputs

if TYPE_CHECKING:
    from .session import Session


@dataclass
class SearchSource:
    """What a search runs on: the inputs (for the output's context), the index and each arch's values.
    ``session`` is the loaded session when the index had to be made (None when it was read back:
    then no tree was loaded, and kconfiglib not even imported)."""

    inputs: Inputs
    session: Session | None
    index: SearchIndex
    values: dict[str, dict[str, str]] = field(default_factory=dict)   # arch -> symbol -> value
    from_cache: bool = False

    def find(self, text: str, *, limit: int | None = 50) -> list[Hit]:
        return self.index.find(text, limit=limit, values=self.values)


def open_search(pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None,
                kernel_src: str | os.PathLike | None = None, *, arch: str | None = "all",
                patches: bool = True, modules: bool = True, progress: bool = False) -> SearchSource:
    """The search index and values for these inputs (recorded toolchain), from the cache when it is current."""
    arches = parse_arches(arch)
    inputs = resolve_inputs(pkgs or None, talos or None, kernel_src or None, progress=progress, patches=patches)
    key = _key(inputs, arches, modules)
    if key is not None:
        cached = _read(key)
        if cached is not None:
            index, values = cached
            return SearchSource(inputs, None, index, values, from_cache=True)
    from .session import Session

    session = Session.open(pkgs, talos, kernel_src, arch=arch, progress=progress, patches=patches,
                           kbuild=modules)
    maps = session.loaded_kbuild_maps() if modules else None
    index = SearchIndex.build(session.configs, maps)
    values = {arch: {name: config.kconf.syms[name].str_value for name, where in zip(index.names, index.arches,
                                                                                    strict=True) if arch in where}
              for arch, config in session.configs.items()}
    if key is not None:
        _write(key, session, index, values)
    return SearchSource(session.inputs, session, index, values)


# --- the cache file ---------------------------------------------------------------

_SOURCES = ("talosnb/analyses/search.py", "talosnb/app/search.py", "talosnb/core/names.py")
_FOLDERS = ("talosnb/kconfig", "talosnb/kbuild")


def _engine() -> str:
    """Everything whose change makes a stored index wrong: the code that parses, loads and indexes."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256(f"search-1|{sys.version_info[:2]}".encode())
    files = [root / rel for rel in _SOURCES]
    files += sorted(p for folder in _FOLDERS for p in (root / folder).glob("*.py"))
    spec = importlib.util.find_spec("kconfiglib")
    if spec is not None and spec.origin:
        files.append(Path(spec.origin))
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return f"search-{digest.hexdigest()[:32]}"


@dataclass(frozen=True)
class _Key:
    file: Path
    configs: tuple[tuple[str, str, str], ...]    # (arch, path, sha256 of the text)
    tree: str
    engine: str


def _key(inputs: Inputs, arches: Sequence[str], modules: bool) -> _Key | None:
    """Where this search's index is kept, and what it must have been made from (None: no cache, the
    inputs are incomplete: loading says what is missing)."""
    if inputs.kernel is None or inputs.pkgs is None:
        return None
    try:
        configs = []
        for arch in arches:
            path = layout.config_path(inputs.pkgs.path, arch)
            configs.append((arch, str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest()))
    except OSError:
        return None
    tree = str(Path(inputs.kernel.path).resolve())
    where = hashlib.sha256(f"{tree}\0{','.join(arches)}\0{modules}".encode()).hexdigest()[:20]
    file = cache_dir() / "search" / f"{inputs.kernel.version}-{where}.pickle"
    return _Key(file, tuple(configs), tree, _engine())


def _stamp(tree: str, files: Sequence[str], folders: Sequence[str]) -> list[tuple[int, int]]:
    """(size, mtime) of each Kconfig and Kbuild file the index was made from, and of each folder
    kbuild descended (a Kbuild file added beside a Makefile changes its mtime)."""
    return tree_stamp(tree, [*files, *folders])


def _read(key: _Key) -> tuple[SearchIndex, dict[str, dict[str, str]]] | None:
    data = cachefile.read(key.file, engine=key.engine, what="search index")
    if data is None:
        return None
    try:
        configs, files, folders, stamp = pickle.load(data)
        if configs != key.configs or _stamp(key.tree, files, folders) != stamp:
            return None    # another config text, or the tree's files changed: made again (and replaced)
        index, values = pickle.load(data)
    except Exception as e:  # noqa: BLE001 -- whatever unpickling a bad file raises: make it again
        cachefile.discard(key.file, "search index", f"unpickling failed: {type(e).__name__}")
        return None
    if not isinstance(index, SearchIndex):
        return None
    return index, values


def _write(key: _Key, session: Session, index: SearchIndex, values: dict[str, dict[str, str]]) -> None:
    files: dict[str, None] = {}
    folders: dict[str, None] = {}
    for arch, config in session.configs.items():
        files.update(dict.fromkeys(config.kconf.kconfig_filenames))
        kmap = session.loaded_kbuild_maps().get(arch)
        if kmap is not None:
            files.update(dict.fromkeys(kmap.files))
            folders.update(dict.fromkeys(kmap.directories))
    buffer = io.BytesIO()
    pickle.dump((key.configs, list(files), list(folders), _stamp(key.tree, list(files), list(folders))), buffer,
                protocol=pickle.HIGHEST_PROTOCOL)
    pickle.dump((index, values), buffer, protocol=pickle.HIGHEST_PROTOCOL)
    cachefile.write(key.file, buffer.getbuffer(), engine=key.engine)
