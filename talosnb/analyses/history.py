"""Each config line's history: the commits of the pkgs checkout that changed it, per arch.

The index is built in one pass over the history: one ``git log --follow -p -U0``
per ``kernel/build/config-ARCH`` (``--follow`` carries it across the renames the
file went through) and one over the ``Pkgfile``. Every hunk line is read with the
``.config`` grammar of :mod:`talosnb.core.dotconfig`, so a commit's removed and
added lines say, per symbol, the value before and after (``None``: no line).

Nothing is hidden, but two kinds of commits are marked, because they change
many lines without anyone choosing those values:

- a **kernel bump**: the same commit changes ``linux_version`` in the Pkgfile
  (``make olddefconfig`` on the new release rewrote the config);
- a **reorder-only** commit: every line it removes, it adds back (a menu moved
  in Kconfig); a line that moved with its value unchanged is a ``moved`` entry.

The index is cached in :func:`talosnb.core.paths.cache_dir` by the commit it
was built at, so a second lookup at the same ``HEAD`` reads one file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import subprocess
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from talosnb.core import cachefile, dotconfig, layout
from talosnb.core.arches import ARCHES, check_arch
from talosnb.core.errors import TalosnbWarning, opt
from talosnb.core.paths import cache_dir
from talosnb.inputs.gitrefs import GitCheckout, run_git

if TYPE_CHECKING:
    import pandas as pd

# Bump when what the index holds changes, so stale caches are rebuilt.
INDEX_VERSION = 1
_ENGINE = f"history-index {INDEX_VERSION}"

COLUMNS = ["arch", "commit", "date", "subject", "before", "after", "change", "kernel_bump",
           "reorder_only", "path"]

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_LINUX_VERSION = re.compile(r"^\s*linux_version\s*:\s*['\"]?([^'\"\s#]+)")
# A commit record starts with NUL; fields are split by the unit separator.
_FORMAT = "--format=%x00%H%x1f%ct%x1f%aI%x1f%s"


@dataclass(frozen=True)
class Commit:
    sha: str
    timestamp: int            # committer time
    date: str                 # author date, ISO 8601
    subject: str


@dataclass(frozen=True)
class LineRecord:
    """One commit that touched a symbol's line on one arch (the columns of :data:`COLUMNS`)."""

    arch: str
    commit: str               # 12 digits
    date: str                 # author date, YYYY-MM-DD
    subject: str
    before: str | None        # the value as written ('n': is not set; None: no line)
    after: str | None
    change: str               # added, removed, changed, moved
    kernel_bump: str          # "6.12.62 -> 6.12.63", or ""
    reorder_only: bool        # the commit only moved lines of that arch's config
    path: str                 # the file's name at that commit

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class HistoryIndex:
    """Per arch and symbol, the commits that touched the symbol's line, newest first.

    ``lines[arch][symbol]`` is a list of ``(sha, before, after, path)``; ``bumps[sha]``
    is ``(old, new)`` linux_version of a kernel-bump commit; ``reorder_only[arch]``
    holds the commits that only moved lines of that arch's config.
    """

    checkout: str
    commit: str
    commits: dict[str, Commit] = field(default_factory=dict)
    lines: dict[str, dict[str, list[tuple[str, str | None, str | None, str]]]] = field(default_factory=dict)
    bumps: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    reorder_only: dict[str, set[str]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)    # sha -> position in git log order (0: newest)
    from_cache: bool = False

    def entries(self, symbol: str, arch: str) -> list[tuple[str, str | None, str | None, str]]:
        return self.lines.get(arch, {}).get(symbol.removeprefix(dotconfig.PREFIX), [])

    def symbols(self, arch: str) -> list[str]:
        return sorted(self.lines.get(arch, {}))

    def last_change(self, symbol: str, arch: str) -> LineRecord | None:
        """The newest entry that changed the symbol's value (moves skipped), as a record."""
        for sha, before, after, path in self.entries(symbol, arch):
            if before != after:
                return self._record(arch, sha, before, after, path)
        return None

    def _record(self, arch: str, sha: str, before: str | None, after: str | None, path: str) -> LineRecord:
        commit = self.commits[sha]
        bump = self.bumps.get(sha)
        return LineRecord(arch, sha[:12], commit.date[:10], commit.subject, before, after, _change_kind(before, after),
                          f"{bump[0] or '?'} -> {bump[1] or '?'}" if bump else "",
                          sha in self.reorder_only.get(arch, ()), path)

    def records(self, symbol: str, arch: str | None = None) -> list[LineRecord]:
        """The history of one symbol (with or without CONFIG_) as records, newest first."""
        arches = [check_arch(arch)] if arch else [a for a in ARCHES if a in self.lines]
        rows = []
        for one in arches:
            rows += [(self.order.get(sha, len(self.order)), i, one, self._record(one, sha, before, after, path))
                     for i, (sha, before, after, path) in enumerate(self.entries(symbol, one))]
        # newest first, as git log lists the commits; amd64 before arm64 within one commit
        rows.sort(key=lambda r: (r[0], r[2], r[1]))
        return [r[3] for r in rows]

    # --- cache ------------------------------------------------------------

    def _state(self) -> tuple[str, str, dict, dict, dict, dict, dict]:
        return (self.checkout, self.commit, self.commits, self.lines, self.bumps, self.reorder_only, self.order)


def _change_kind(before: str | None, after: str | None) -> str:
    if before == after:
        return "moved"
    if before is None:
        return "added"
    if after is None:
        return "removed"
    return "changed"


# --- reading git log -p -U0 ---------------------------------------------------

def _records(out: bytes) -> Iterable[tuple[Commit, list[str]]]:
    """(commit, its patch lines) of a `git log -p` run with _FORMAT."""
    for chunk in out.split(b"\x00")[1:]:
        text = chunk.decode("utf-8", "replace")
        head, _, patch = text.partition("\n")
        sha, timestamp, date, subject = (head.split("\x1f") + ["", "", "", ""])[:4]
        yield Commit(sha, int(timestamp or 0), date, subject), patch.split("\n")


def _hunks(lines: list[str]) -> Iterable[tuple[str, list[str], list[str]]]:
    """(path after, removed lines, added lines) per hunk of one commit's patch (-U0)."""
    path = ""
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line.startswith("+++ "):
            target = line[4:]
            path = target.removeprefix("b/")
        elif line.startswith("@@ "):
            m = _HUNK.match(line)
            if m:
                removed_count = int(m.group(1)) if m.group(1) is not None else 1
                added_count = int(m.group(2)) if m.group(2) is not None else 1
                removed, added = [], []
                i += 1
                # -U0: the hunk is its removed lines, then its added ones (counts from the header)
                while i < n and (removed_count or added_count):
                    body = lines[i]
                    if body.startswith("-") and removed_count:
                        removed.append(body[1:])
                        removed_count -= 1
                    elif body.startswith("+") and added_count:
                        added.append(body[1:])
                        added_count -= 1
                    elif not body.startswith("\\"):     # "\ No newline at end of file"
                        break
                    i += 1
                yield path, removed, added
                continue
        i += 1


def _assignments(lines: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        parsed = dotconfig.parse_line(line.rstrip("\r"))
        if parsed is not None:
            out[parsed.symbol] = parsed.value
    return out


def _parse_config_log(out: bytes, arch: str, index: HistoryIndex) -> None:
    per_symbol = index.lines.setdefault(arch, {})
    reorder = index.reorder_only.setdefault(arch, set())
    for commit, patch in _records(out):
        index.commits.setdefault(commit.sha, commit)
        removed_all: Counter[str] = Counter()
        added_all: Counter[str] = Counter()
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        path = ""  # the file of the commit's last hunk
        for hunk_path, removed, added in _hunks(patch):
            path = hunk_path
            removed_all.update(removed)
            added_all.update(added)
            # first removed line is the value before, last added one the value after
            for name, value in _assignments(removed).items():
                before.setdefault(name, value)
            after.update(_assignments(added))
        if removed_all and removed_all == added_all:
            reorder.add(commit.sha)
        for name in sorted(before.keys() | after.keys()):
            per_symbol.setdefault(name, []).append((commit.sha, before.get(name), after.get(name), path))


def _parse_pkgfile_log(out: bytes, index: HistoryIndex) -> None:
    for commit, patch in _records(out):
        old = new = None
        for _path, removed, added in _hunks(patch):
            for line in removed:
                m = _LINUX_VERSION.match(line)
                if m:
                    old = m.group(1)
            for line in added:
                m = _LINUX_VERSION.match(line)
                if m:
                    new = m.group(1)
        if old and new and old != new:
            index.bumps[commit.sha] = (old, new)


def _log(checkout: GitCheckout, commit: str, path: str, *, follow: bool) -> bytes:
    args = ["log", "-p", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", _FORMAT]
    if follow:
        args.append("--follow")
    return run_git([*args, commit, "--", checkout.repo_path(path)], checkout.root, what=f"git log {path}")


def _cache_file(checkout: GitCheckout, commit: str, arches: Sequence[str]) -> Path:
    key = hashlib.sha256(f"{INDEX_VERSION}\0{checkout.root}\0{checkout.prefix}\0{commit}\0{','.join(arches)}"
                         .encode()).hexdigest()[:32]
    return cache_dir() / "history" / f"{key}.pickle"


def build_index(pkgs: str | os.PathLike, *, rev: str = "HEAD", arches: Sequence[str] = ARCHES,
                use_cache: bool = True) -> HistoryIndex:
    """The history index of a pkgs checkout (a folder in a git work tree) at `rev`.

    Built in one pass (a ``git log --follow -p -U0`` per config file, one over the
    Pkgfile, run side by side) and cached by the commit `rev` names.
    """
    checkout = GitCheckout.find(pkgs, what="pkgs checkout", option=opt("pkgs"),
                                hint="the history of config lines comes from a git clone of siderolabs/pkgs")
    commit = checkout.commit(rev)
    arches = [check_arch(a) for a in arches]
    cached = _cache_file(checkout, commit, arches)
    if use_cache:
        found = _read_cache(cached, commit)
        if found is not None:
            return found
    index = HistoryIndex(str(checkout.path), commit)
    jobs = {arch: layout.config_file(arch) for arch in arches}
    with ThreadPoolExecutor(max_workers=len(jobs) + 1) as pool:
        config_logs = {arch: pool.submit(_log, checkout, commit, path, follow=True) for arch, path in jobs.items()}
        pkgfile_log = pool.submit(_log, checkout, commit, layout.PKGFILE, follow=False)
        # one order for the commits of every file: git log's (reverse chronological, parents after)
        rev_list = pool.submit(run_git, ["rev-list", commit], checkout.root, what="git rev-list")
        for arch, future in config_logs.items():
            _parse_config_log(future.result(), arch, index)
        _parse_pkgfile_log(pkgfile_log.result(), index)
        touched = index.commits.keys()
        shas = [s for s in rev_list.result().decode().split() if s in touched]
        index.order = {sha: i for i, sha in enumerate(shas)}
    if use_cache:
        _write_cache(cached, index)
    return index


def _read_cache(path: Path, commit: str) -> HistoryIndex | None:
    # through cachefile: signed with this user's cache key, so a flipped byte or a file someone
    # else wrote is rebuilt, never unpickled or shown
    data = cachefile.read(path, engine=_ENGINE, what="history index")
    if data is None:
        return None
    state: tuple[str, str, dict, dict, dict, dict, dict]   # HistoryIndex._state()
    try:
        version, state = pickle.load(data)
    except Exception as e:  # noqa: BLE001 -- signed by this user's key, yet unreadable: rebuilt
        cachefile.discard(path, "history index", f"unpickling failed: {type(e).__name__}")
        return None
    if version != INDEX_VERSION or state[1] != commit:
        return None
    return HistoryIndex(*state, from_cache=True)


def _write_cache(path: Path, index: HistoryIndex) -> None:
    # Pickle, not JSON: the index is read back by this code only (signed: see _read_cache), and
    # pickle shares the commit and path strings every entry repeats. An unwritable cache only
    # costs the next run the rebuild.
    cachefile.key()   # a key that can't be used is said once, outside the silence below
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TalosnbWarning)
        cachefile.write(path, pickle.dumps((INDEX_VERSION, index._state()), protocol=pickle.HIGHEST_PROTOCOL),
                        engine=_ENGINE)


def history_of(index: HistoryIndex, symbol: str, arch: str | None = None) -> pd.DataFrame:
    """One symbol's history (with or without CONFIG_), newest first, on one arch or both (None).

    Columns: arch, commit (12 digits), date (YYYY-MM-DD), subject, before, after
    (values as written, 'n' for 'is not set', None: no line), change (added,
    removed, changed, moved), kernel_bump ("6.12.62 -> 6.12.63" or ""),
    reorder_only (bool), path (the file's name at that commit).
    """
    import pandas as pd

    return pd.DataFrame([r.as_dict() for r in index.records(symbol, arch)], columns=COLUMNS, dtype=object)


def is_git_checkout(path: str | os.PathLike) -> bool:
    """Whether a folder lies in a git work tree (quietly: no error when it doesn't)."""
    try:
        result = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=path, capture_output=True,
                                check=False)
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == b"true"


__all__ = ["COLUMNS", "Commit", "HistoryIndex", "LineRecord", "build_index", "history_of", "is_git_checkout"]
