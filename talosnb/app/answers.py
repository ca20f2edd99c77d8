"""The answer of a read-only command kept on disk, keyed by everything the answer is made from.

``talosnb requirements`` spends nearly all of its time opening its inputs (both parsed trees from
their caches, both configs loaded and checked) and a few hundredths of a second on the question
itself. When nothing it reads has changed since the last run, the answer is the same, so it is
kept in one signed cache file (:mod:`talosnb.core.cachefile`) and read back without importing the
Kconfig engine at all. The answer is used only when all of these are as they were:

- talosnb itself: the content of every file of the package (its code and its profiles), the
  kconfiglib it runs on and the Python version;
- the command's options (which workloads, features, arches, the toolchain mode);
- the inputs' paths (they appear in the answer) and the content of every file of the checkouts the
  answer reads: ``Pkgfile``, ``config-ARCH``, the kernel patches, ``hack/modules-ARCH.txt``, the
  extensions' module lists and their ``pkg.yaml``, the profiles of ``--profiles``;
- the kernel tree: the size and mtime of every Kconfig file both parses read and every Kbuild
  file and folder the Kbuild maps were made from (as the tree and Kbuild caches check them).

Otherwise the command runs as it always does and the file is written again. Only what a run
decides from those inputs alone is kept: host-toolchain runs (they ask this machine's compiler)
and runs that warned (the warning would not be said again) are not.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talosnb.core import cachefile, layout
from talosnb.core.errors import ExitStatus
from talosnb.core.paths import cache_dir

if TYPE_CHECKING:
    from talosnb.inputs.resolve import Inputs

    from .session import Session

_FORMAT = "answers 1"


@dataclass(frozen=True)
class AnswerKey:
    """Where a command's answer is kept, and the digest of everything it must have been made from
    (the tree's files are checked apart, by their stamps kept in the file)."""

    file: Path
    digest: str
    tree: str


@dataclass
class Answer:
    """A command's outcome as it is printed: the JSON payload, the text, the exit status."""

    payload: dict[str, Any]
    text: str
    status: ExitStatus


def answer_key(command: str, inputs: Inputs, arches: Sequence[str], options: Mapping[str, Any], *,
               extra_files: Iterable[Path] = ()) -> AnswerKey | None:
    """The key of `command`'s answer on these inputs with these options (JSON-able values); None when
    it can't be kept (incomplete inputs, or a file that can't be read: running says why)."""
    if inputs.kernel is None or inputs.pkgs is None:
        return None
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(json.dumps(parts, default=str).encode() + b"\0")

    try:
        add(_FORMAT, command, _engine(), dict(sorted(options.items())), list(arches),
            str(inputs.pkgs.path), str(inputs.talos.path) if inputs.talos else None,
            str(inputs.kernel.path), str(inputs.kernel.origin), inputs.kernel.version, inputs.sample)
        files: list[Path] = [layout.config_path(inputs.pkgs.path, arch) for arch in arches]
        files.append(inputs.pkgs.path / layout.PKGFILE)
        patches = layout.patches_dir(inputs.pkgs.path)
        if patches.is_dir():
            files += sorted(patches.iterdir())
        if inputs.talos is not None:
            files += [layout.module_list_path(inputs.talos.path, arch) for arch in arches]
        if inputs.extensions is not None:
            add(str(inputs.extensions.path))
            for arch in arches:
                for lst in inputs.extensions.list_files(arch):
                    add(arch, lst.extension, lst.arches, lst.installed_at)
                    files += [lst.path, layout.extension_step_file(lst.path)]
        files += list(extra_files)
        for file in files:
            add(str(file), _content(file))
    except OSError:
        return None
    tree = str(inputs.kernel.path)
    name = hashlib.sha256(json.dumps([command, tree, list(arches), dict(sorted(options.items()))],
                                     default=str).encode()).hexdigest()[:24]
    return AnswerKey(cache_dir() / "answers" / f"{command}-{name}.json", digest.hexdigest(), tree)


def _content(file: Path) -> str | None:
    """A file's digest; None for one that isn't there (its absence is part of the key too)."""
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _engine() -> str:
    """Every file of the package (code and profiles), kconfiglib and the Python version: a new
    talosnb or an edited profile gives a new key."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(repr(sys.version_info[:2]).encode())
    files = sorted(p for pattern in ("*.py", "*.toml") for p in root.rglob(pattern))
    spec = importlib.util.find_spec("kconfiglib")
    if spec is not None and spec.origin:
        files.append(Path(spec.origin))
    for file in files:
        digest.update(str(file.relative_to(root) if file.is_relative_to(root) else file.name).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def tree_stamp(tree: str, names: Sequence[str]) -> list[tuple[int, int]]:
    """(size, mtime) of each of the tree's files or folders named (tree-relative; \"\" is the tree)."""
    root = os.path.join(tree, "")
    out = []
    for name in names:
        try:
            st = os.stat(root + name if name else tree)
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((-1, -1))
    return out


def read_answer(key: AnswerKey) -> Answer | None:
    """The kept answer, when everything it was made from is as it was."""
    data = cachefile.read(key.file, engine=_FORMAT, what="command answer")
    if data is None:
        return None
    try:
        stored = json.loads(data.read())
        if stored["digest"] != key.digest:
            return None
        names = stored["tree_files"]
        if [list(s) for s in tree_stamp(key.tree, names)] != stored["tree_stamp"]:
            return None     # a Kconfig or Kbuild file of the tree changed
        return Answer(dict(stored["payload"]), str(stored["text"]), ExitStatus(int(stored["status"])))
    except (ValueError, KeyError, TypeError):
        return None


def write_answer(key: AnswerKey, session: Session, answer: Answer) -> None:
    """Keep `answer` with the stamps of the tree's files it was made from (the Kconfig files of each
    parse, the Kbuild files and folders of each arch's map)."""
    names: dict[str, None] = {}
    for arch, config in session.configs.items():
        names.update(dict.fromkeys(config.kconf.kconfig_filenames))
        kmap = session.kbuild_map(arch)
        names.update(dict.fromkeys(kmap.files))
        names.update(dict.fromkeys(kmap.directories))
    listed = list(names)
    stored = {"digest": key.digest, "tree_files": listed, "tree_stamp": tree_stamp(key.tree, listed),
              "payload": answer.payload, "text": answer.text, "status": int(answer.status)}
    cachefile.write(key.file, json.dumps(stored).encode(), engine=_FORMAT)


def remembered(key: AnswerKey | None, compute: Callable[[], tuple[Answer, Session]]) -> Answer:
    """The kept answer for `key`, else `compute`'s, kept for the next run (unless it warned: the
    warnings are said again, and nothing is kept)."""
    if key is not None:
        hit = read_answer(key)
        if hit is not None:
            return hit
    with warnings.catch_warnings(record=True) as said:
        answer, session = compute()
    for w in said:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if key is not None and not said:
        # the payload as JSON would print it (tuples as lists): the kept answer prints the same
        answer.payload = json.loads(json.dumps(answer.payload))
        write_answer(key, session, answer)
    return answer
