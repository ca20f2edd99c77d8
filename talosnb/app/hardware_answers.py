"""Answers to repeated hardware lookups, kept so the same question costs no Kconfig parse.

A lookup's answer (which modules claim each device, their symbols, values and list entries, the
change that supports the rest) is a pure function of what it reads: the captures, the options, the
pkgs checkout's kernel folder and Pkgfile, the talos module lists, the extensions checkout, the
kernel source, the machine's pci.ids/usb.ids and talosnb's own code. The key of an answer is a
digest of all of them (the files by path, size and modification time, the captures by content);
the answer is stored as a signed cache file (:mod:`talosnb.core.cachefile`: damaged or foreign
files are never used), so asking again reads one small file instead of opening the configs,
the Kbuild maps and the device index. This module imports nothing heavy: the repeated question
is answered before the rest of talosnb is loaded.

What is never kept: a lookup that writes (``--write``), one with the host toolchain (its answers
depend on the compilers in the environment), one whose kernel source is a folder (stamping it
would read its whole tree), and one that raised a warning (a rebuilt cache, a note that should be
seen again in context).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from talosnb import __version__
from talosnb.core import cachefile, layout
from talosnb.core.paths import (
    ENV_EXTENSIONS,
    ENV_HARDENING_CHECKER,
    ENV_KERNEL_SRC,
    ENV_PKGS,
    ENV_TALOS,
    cache_dir,
)
from talosnb.inputs.captures import IDS_PATHS

ENGINE = "hardware-answer-1"
KEEP = 64          # answers kept; the oldest go first
_PACKAGE = Path(__file__).resolve().parents[1]


def _stamp(path: Path) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return f"{path}\0-"
    return f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}"


def _tree_stamps(root: Path, suffixes: tuple[str, ...] | None = None) -> list[str]:
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if suffixes is None or name.endswith(suffixes):
                out.append(_stamp(Path(folder, name)))
    return out


def _code_stamps() -> list[str]:
    return [f"talosnb {__version__} python {sys.version_info[:3]}", *_tree_stamps(_PACKAGE, (".py", ".toml"))]


def answer_key(request: dict[str, Any], captures: Sequence[tuple[str, str]], *, pkgs: str | None, talos: str | None,
               kernel_src: str | None, extensions: str | None, hardening_checker: str | None) -> str | None:
    """The digest naming an answer, or None when this lookup's answer is not kept (see the module)."""
    pkgs = pkgs or os.environ.get(ENV_PKGS) or None
    talos = talos or os.environ.get(ENV_TALOS) or None
    kernel_src = kernel_src or os.environ.get(ENV_KERNEL_SRC) or None
    extensions = extensions or os.environ.get(ENV_EXTENSIONS) or None
    hardening_checker = hardening_checker or os.environ.get(ENV_HARDENING_CHECKER) or None
    if pkgs is None:
        return None          # the embedded sample (no C source) or an error: worked out each time
    parts: list[str] = [json.dumps(request, sort_keys=True, default=str)]
    parts += [f"{where}\0{hashlib.sha256(text.encode()).hexdigest()}" for where, text in captures]
    pkgs_path = Path(pkgs).resolve()
    parts.append(_stamp(pkgs_path / layout.PKGFILE))
    parts += _tree_stamps(pkgs_path / layout.KERNEL_DIR)
    if talos is not None:
        talos_path = Path(talos).resolve()
        parts += [_stamp(talos_path / layout.module_list_file(arch)) for arch in ("amd64", "arm64")]
    if extensions is not None:
        parts += _tree_stamps(Path(extensions).resolve())
    if kernel_src is not None:
        source = Path(kernel_src).resolve()
        if not source.is_file():
            return None
        parts.append(_stamp(source))
    if hardening_checker is not None:
        parts.append(_stamp(Path(hardening_checker).resolve()))
    # the Pkgfile's kspp_ref may be downloaded between two runs: the downloads folder's listing
    parts.append(_stamp(cache_dir() / "downloads"))
    parts += [_stamp(Path(p)) for paths in IDS_PATHS.values() for p in paths]
    parts += _code_stamps()
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()



def _path(key: str) -> Path:
    return cache_dir() / "hardware-answers" / f"{key[:40]}.json"


def recall(key: str | None) -> dict[str, Any] | None:
    """The answer kept under ``key`` (None: none, or not usable)."""
    if key is None:
        return None
    data = cachefile.read(_path(key), engine=ENGINE, what="hardware answer")
    if data is None:
        return None
    try:
        answer = json.loads(data.read())
    except ValueError:
        cachefile.discard(_path(key), "hardware answer", "not JSON")
        return None
    return answer if isinstance(answer, dict) and answer.get("key") == key else None


def keep(key: str | None, answer: dict[str, Any]) -> None:
    """Keep ``answer`` (JSON-able) under ``key``; the oldest answers beyond :data:`KEEP` go."""
    if key is None:
        return
    path = _path(key)
    cachefile.write(path, json.dumps({**answer, "key": key}, sort_keys=True).encode(), engine=ENGINE)
    with contextlib.suppress(OSError):
        kept = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in kept[:-KEEP]:
            with contextlib.suppress(OSError):
                old.unlink()
