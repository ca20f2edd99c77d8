"""The pkgs checkout's kernel patches, applied as the Talos kernel build applies them.

The pkgs build (``kernel/build/pkg.yaml``) runs, in the kernel tree, before
``make olddefconfig`` and the build::

    for patch in $(find /pkg/patches -type f -name "*.patch" | sort); do patch -p1 < $patch; done

so a patch that adds a ``select``, a symbol or an ``obj-$(CONFIG_...)`` line
changes what the build writes and builds. talosnb applies the same patches, in
the same order, with GNU patch (run as a program) before parsing, but only each
patch's diffs of the files Kconfig and Kbuild read (``Kconfig*``, ``Makefile*``,
``Kbuild*``, ``scripts/``; see :func:`kernel_tree.engine_file`): hunks for C
sources change neither a config nor a module path, and Kconfig/Kbuild skeleton
trees don't have those files, so they are skipped and counted.

The user's tree and the cached extraction are never written. The patched tree is
a folder in the cache that mirrors the tree with symbolic links, except along
the path to each patched file, where folders and the file are real copies: it
costs a few links to build, and a change to any unpatched file of the original
shows through at once (the Kconfig and Kbuild caches stamp the files they read).
What the copies were made from is stamped, so a change there rebuilds it. The
result (which patch applied, which was already upstream) is cached with it,
keyed by the tree and the sha256 of each patch in order: a warm load runs no
program.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from talosnb.core import cacheentry
from talosnb.core.errors import InputError, opt
from talosnb.core.paths import ENV_CACHE_DIR, cache_dir

from .kernel_tree import KernelTree, engine_file

if TYPE_CHECKING:
    import unidiff

# Bump when what is applied, or how the result is stored, changes.
CACHE_FORMAT = 2

# A patch's status (PatchResult.status).
APPLIED = "applied"                  # its Kconfig/Kbuild diffs were applied
UPSTREAM = "upstream"                # they are already in the tree (they apply reversed)
PARTLY_UPSTREAM = "partly-upstream"  # some applied, the others already in the tree
FAILED = "failed"                    # a hunk applies neither way
SKIPPED = "skipped"                  # it changes no file Kconfig or Kbuild reads



def no_patches_hint() -> str:
    return f"or read the kernel tree without the pkgs patches ({opt('no_patches')})"


# Lines git puts between "diff --git" and "---" (git-diff(1), "extended header lines").
_GIT_HEADER = ("diff --git ", "index ", "old mode ", "new mode ", "deleted file mode ", "new file mode ",
               "similarity index ", "dissimilarity index ", "rename from ", "rename to ", "copy from ",
               "copy to ")


@dataclass(frozen=True)
class Hunk:
    """One hunk of a file's diff: its number within that file (as GNU patch counts them),
    its ``@@`` line and where that line is in the patch file."""

    number: int
    header: str
    line: int


@dataclass(frozen=True)
class FileDiff:
    """One file's diff inside a patch, as bytes cut from the patch file unchanged."""

    path: str              # the file it changes, below the tree's top folder (patch -p1)
    text: bytes
    hunks: tuple[Hunk, ...]
    line: int              # first line of this diff in the patch file
    creates: bool = False  # the file is new ("--- /dev/null")
    contentless: str = ""  # what it is when it has no hunk: "rename", "binary change", ...

    @property
    def read_by_engine(self) -> bool:
        return engine_file(PurePosixPath(self.path))


@dataclass(frozen=True)
class PatchResult:
    """What happened to one patch. File lists name files below the tree's top folder."""

    name: str                       # path below kernel/build/patches
    sha256: str
    status: str
    applied: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    skipped_files: tuple[str, ...] = ()
    skipped_hunks: int = 0
    notes: tuple[str, ...] = ()     # GNU patch's remarks: offsets, fuzz
    not_applied: tuple[str, ...] = ()  # changes to Kconfig/Kbuild files without lines (renames...)
    problem: str | None = None      # why it failed
    where: str | None = None        # patch-file:line of the failing hunk

    def as_dict(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "status": self.status,
                "applied_files": list(self.applied), "upstream_files": list(self.upstream),
                "failed_files": list(self.failed), "skipped_files": list(self.skipped_files),
                "skipped_hunks": self.skipped_hunks, "notes": list(self.notes),
                "not_applied": list(self.not_applied), "problem": self.problem, "where": self.where}

    @classmethod
    def from_dict(cls, d: dict) -> PatchResult:
        return cls(d["name"], d["sha256"], d["status"], tuple(d["applied_files"]), tuple(d["upstream_files"]),
                   tuple(d["failed_files"]), tuple(d["skipped_files"]), d["skipped_hunks"], tuple(d["notes"]),
                   tuple(d["not_applied"]), d["problem"], d["where"])


@dataclass(frozen=True)
class PatchReport:
    """The pkgs patches and what became of each, in the order they are applied.

    ``source`` is the kernel tree as given; ``tree`` the one to read (the patched
    copy, or ``source`` itself when no patch changed a file Kconfig or Kbuild reads).
    """

    patches_dir: Path
    source: Path
    tree: Path
    patches: tuple[PatchResult, ...] = ()
    from_cache: bool = False

    def with_status(self, *statuses: str) -> list[PatchResult]:
        return [p for p in self.patches if p.status in statuses]

    @property
    def applied(self) -> list[PatchResult]:
        """Patches that changed the tree (wholly, or in part when the rest is upstream)."""
        return self.with_status(APPLIED, PARTLY_UPSTREAM)

    @property
    def upstream(self) -> list[PatchResult]:
        return self.with_status(UPSTREAM)

    @property
    def failed(self) -> list[PatchResult]:
        return self.with_status(FAILED)

    @property
    def skipped(self) -> list[PatchResult]:
        return self.with_status(SKIPPED)

    def summary(self) -> str:
        """"2 applied, 1 already upstream" (then what was skipped or failed, when any)."""
        text = f"{len(self.applied)} applied, {len(self.upstream)} already upstream"
        if self.skipped:
            text += f", {len(self.skipped)} change no Kconfig/Kbuild file"
        if self.failed:
            text += f", {len(self.failed)} FAILED"
        return text

    def as_list(self) -> list[dict]:
        return [p.as_dict() for p in self.patches]

    def warnings(self) -> list[str]:
        """Hunks GNU patch applied with fuzz (ignoring context lines): applied, as the build
        would, but possibly not where the patch meant; and changes without lines to files
        Kconfig or Kbuild read (a rename, a mode change), which talosnb does not apply."""
        return [f"patch {p.name}: {note}" for p in self.patches
                for note in [n for n in p.notes if " with fuzz " in n] + list(p.not_applied)]

    def raise_on_failure(self, *, made_for: str | None = None, tree_version: str | None = None) -> None:
        """InputError naming the first patch that does not apply (and how many others don't).

        ``made_for`` (the Pkgfile's linux_version) and ``tree_version``, when
        they differ, go into the hint: that is the likely reason.
        """
        failed = self.failed
        if not failed:
            return
        first = failed[0]
        message = first.problem or f"patch {first.name} does not apply"
        if len(failed) > 1:
            message += f" (and {len(failed) - 1} more: {', '.join(p.name for p in failed[1:])})"
        hint = "fix or remove the patch in the pkgs checkout, " + no_patches_hint()
        if made_for and tree_version and made_for != tree_version:
            hint = (f"the patches are made for linux-{made_for} (the Pkgfile's linux_version) and this tree "
                    f"is {tree_version}: use a {made_for} tree, fix or remove the patch, " + no_patches_hint())
        raise InputError(message, where=first.where or str(self.patches_dir / first.name), hint=hint)


# --------------------------------------------------------------------------- finding and reading

def find_patches(patches_dir: str | os.PathLike) -> list[Path]:
    """The patches the build applies: ``find DIR -type f -name "*.patch" | sort``.

    find descends into sub-folders and lists regular files only (not symlinks);
    sort compares the whole paths byte by byte (the build runs in the C locale).
    """
    root = Path(patches_dir)
    if not root.exists() and not root.is_symlink():
        return []     # no patches folder: the build applies nothing
    if not root.is_dir():
        raise InputError("the patches folder is not a folder: the patches it should hold can't be read",
                         where=str(root), hint=f"make it a folder of .patch files, {no_patches_hint()}")

    def unreadable(e: OSError) -> None:
        # the build's find fails on it too; an unread folder is not one without patches
        raise InputError(f"cannot read the patches folder: {e.strerror}", where=str(e.filename or root),
                         hint=f"make it readable (chmod u+rx), {no_patches_hint()}")
    found = []
    for dirpath, _dirnames, filenames in os.walk(root, onerror=unreadable):
        for name in filenames:
            path = Path(dirpath) / name
            if name.endswith(".patch") and path.is_file() and not path.is_symlink():
                found.append(path)
    return sorted(found, key=lambda p: os.fsencode(p.relative_to(root).as_posix()))


def split_patch(path: str | os.PathLike) -> list[FileDiff]:
    """Each file's diff in a patch, cut unchanged from its bytes (unidiff finds the boundaries)."""
    import unidiff

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the patch: {e.strerror}", where=str(path)) from None
    text = data.decode("utf-8", errors="surrogateescape")
    try:
        patch_set = unidiff.PatchSet(io.StringIO(text, newline="\n"))
    except unidiff.UnidiffParseError as e:
        raise InputError(f"not a unified diff: {e}", where=str(path),
                         hint="GNU patch could not apply it either; fix the patch file") from None
    lines = data.split(b"\n")
    decoded = text.split("\n")
    diffs = []
    for patched in patch_set:
        hunks = tuple(Hunk(i, decoded[_hunk_line(h) - 1].rstrip("\r"), _hunk_line(h))
                      for i, h in enumerate(patched, 1))
        if not hunks:
            # A rename, mode change or binary diff: no lines to apply. Kept (with its kind)
            # so one that touches a file Kconfig or Kbuild reads is reported, not lost.
            kind = ("rename" if patched.is_rename else "binary change" if patched.is_binary_file
                    else "mode change or empty file")
            name = patched.source_file if patched.is_removed_file else patched.target_file
            diffs.append(FileDiff(_strip_one(name or ""), b"", (), 0, patched.is_added_file, kind))
            continue
        start = hunks[0].line - 2          # the "---" line, 1-based
        while start > 1 and decoded[start - 2].startswith(_GIT_HEADER):
            start -= 1
            if decoded[start - 1].startswith("diff --git "):
                break
        end = max(line.diff_line_no for h in patched for line in h if line.diff_line_no is not None)
        if end < len(decoded) and decoded[end].startswith("\\"):
            end += 1                       # "\ No newline at end of file"
        body = b"\n".join(lines[start - 1:end]) + b"\n"
        name = patched.source_file if patched.is_removed_file else patched.target_file
        diffs.append(FileDiff(_strip_one(name), body, hunks, start, patched.is_added_file))
    return diffs


def _hunk_line(hunk: unidiff.Hunk) -> int:
    """The 1-based line of a hunk's @@ header in the patch file."""
    first = next(line.diff_line_no for line in hunk if line.diff_line_no is not None)
    return first - 1


def _strip_one(name: str) -> str:
    # patch -p1: drop the first path component ("a/", "b/").
    parts = name.split("/", 1)
    return parts[1] if len(parts) == 2 else ""


# --------------------------------------------------------------------------- GNU patch

@functools.cache
def gnu_patch() -> str:
    """The GNU patch program, or an InputError saying how to get it."""
    program = shutil.which("patch")
    if program:
        try:
            out = subprocess.run([program, "--version"], capture_output=True, text=True, check=False,
                                 timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out.startswith("GNU patch"):
            return program
    raise InputError("applying the pkgs kernel patches needs GNU patch, the program the pkgs build runs",
                     hint="install it (Debian: apt-get install patch), " + no_patches_hint())


@dataclass
class _Run:
    ok: bool
    output: str


def _run_patch(tree: Path, diff: FileDiff, *, reverse: bool = False, dry_run: bool = False) -> _Run:
    # --force: never ask (no terminal), and never guess a patch is reversed:
    # talosnb decides that itself with an explicit -R dry run.
    cmd = [gnu_patch(), "-p1", "--force", "--no-backup-if-mismatch", "--reject-file=-",
           "--quoting-style=literal", "-d", str(tree)]
    if reverse:
        cmd.append("-R")
    if dry_run:
        cmd.append("--dry-run")
    env = {k: v for k, v in os.environ.items() if k not in ("POSIXLY_CORRECT", "PATCH_GET",
                                                             "VERSION_CONTROL", "SIMPLE_BACKUP_SUFFIX")}
    env["LC_ALL"] = "C"   # its messages are parsed
    result = subprocess.run(cmd, input=diff.text, capture_output=True, check=False, env=env)
    output = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    return _Run(result.returncode == 0, output)


_FAILED_HUNK = re.compile(r"^Hunk #(\d+) FAILED at (\d+)", re.MULTILINE)
_MOVED_HUNK = re.compile(r"^Hunk #(\d+) succeeded at (\d+)(.*)\.$", re.MULTILINE)


# --------------------------------------------------------------------------- the patched tree

def patches_key(source: Path, version: str, patches: Sequence[tuple[str, str]]) -> str:
    """The cache key: the tree (resolved path, release) and each patch's name and sha256, in order."""
    ident = f"{CACHE_FORMAT}\0{source}\0{version}\0" + "".join(f"{name}\0{sha}\0" for name, sha in patches)
    return f"{version}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}"


def patch_kernel_tree(kernel: KernelTree, patches_dir: str | os.PathLike, *,
                      use_cache: bool = True) -> tuple[KernelTree, PatchReport]:
    """The tree with the pkgs patches applied (as the build does), and what became of each patch.

    The returned tree is ``kernel`` itself when no patch changes a file Kconfig
    or Kbuild reads (or all such changes are already upstream); else a patched
    copy in the cache. A patch that does not apply is a FAILED entry of the
    report, not an exception: :meth:`PatchReport.raise_on_failure` turns it into one.
    """
    patches_dir = Path(patches_dir)
    source = kernel.path
    found = find_patches(patches_dir)
    if not found:
        return kernel, PatchReport(patches_dir, source, source)
    named = [(p.relative_to(patches_dir).as_posix(), hashlib.sha256(_read(p)).hexdigest()) for p in found]
    folder = (cache_dir() / "patched" / f"v{CACHE_FORMAT}").resolve()
    final = folder / patches_key(source, kernel.version, named)
    if use_cache:
        cached = _read_cached(final, source, named, patches_dir)
        if cached is not None:
            tree = cached.tree
            return (kernel if tree == source else KernelTree(tree, kernel.version, kernel.origin)), cached
    try:
        # one run applies the patches, the others wait and use its tree (cacheentry's rules)
        with cacheentry.building(final, "applying the kernel patches"):
            cached = _read_cached(final, source, named, patches_dir) if use_cache else None
            if cached is None:
                return _build(kernel, found, named, patches_dir, final)
    except OSError as e:
        raise InputError(f"cannot create the cache folder: {e.strerror}", where=str(folder),
                         hint=f"set {ENV_CACHE_DIR} to a writable folder") from None
    tree = cached.tree
    return (kernel if tree == source else KernelTree(tree, kernel.version, kernel.origin)), cached


def _build(kernel: KernelTree, found: list[Path], named: list[tuple[str, str]], patches_dir: Path,
           final: Path) -> tuple[KernelTree, PatchReport]:
    """Apply the patches to a linked copy of the tree in a partial folder and publish it as
    ``final`` (with the report). Under ``final``'s lock."""
    source = kernel.path
    try:
        work = cacheentry.new_partial(final)
    except OSError as e:
        raise InputError(f"cannot create the cache folder: {e.strerror}", where=str(final.parent),
                         hint=f"set {ENV_CACHE_DIR} to a writable folder") from None
    try:
        builder = _Builder(source, work / "tree")
        results = tuple(builder.apply(path, name, sha) for path, (name, sha) in zip(found, named, strict=True))
        if any(r.status == FAILED for r in results):
            # Not cached: the error names the patch; fixing it changes the key.
            return kernel, PatchReport(patches_dir, source, source, results)
        patched = bool(builder.applied)
        if patched:
            builder.settle_folders(found)
        else:
            shutil.rmtree(work / "tree")
        record = {"format": CACHE_FORMAT, "source": str(source), "patched": patched,
                  "patches": [r.as_dict() for r in results], "files": builder.file_stamps,
                  "dirs": builder.dir_stamps}
        (work / "report.json").write_text(json.dumps(record, indent=1, sort_keys=True))
        if _read_cached(final, source, named, patches_dir) is None:
            # what is there (if anything) is stale or damaged: replace it
            cacheentry.replace(work, final)
    except OSError as e:
        raise InputError(f"cannot write the patched tree: {e.strerror}", where=str(final),
                         hint=f"free some space, or set {ENV_CACHE_DIR} to another folder") from None
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    tree = final / "tree" if patched else source
    report = PatchReport(patches_dir, source, tree, results)
    return (KernelTree(tree, kernel.version, kernel.origin) if patched else kernel), report


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the patch: {e.strerror}", where=str(path)) from None


def _read_cached(final: Path, source: Path, named: list[tuple[str, str]],
                 patches_dir: Path) -> PatchReport | None:
    try:
        record = json.loads((final / "report.json").read_text())
        if record.get("format") != CACHE_FORMAT or record.get("source") != str(source):
            return None
        results = tuple(PatchResult.from_dict(d) for d in record["patches"])
        if [(r.name, r.sha256) for r in results] != named:
            return None
        for rel, stamp in record["files"].items():
            if _file_stamp(source / rel) != stamp:
                return None
        for rel, stamp in record["dirs"].items():
            if _dir_stamp(source / rel if rel else source) != stamp:
                return None
        tree = final / "tree" if record["patched"] else source
        if record["patched"] and not (tree / "Makefile").is_file():
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return PatchReport(patches_dir, source, tree, results, from_cache=True)


def _file_stamp(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _dir_stamp(path: Path) -> int | None:
    # A folder's mtime changes when an entry is added or removed: the mirror would miss it.
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@dataclass
class _Builder:
    """Applies patches to the mirror of ``source`` at ``tree``, one patch after another."""

    source: Path
    tree: Path
    applied: list[str] = field(default_factory=list)
    file_stamps: dict[str, list[int] | None] = field(default_factory=dict)
    dir_stamps: dict[str, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._mirror("")

    def _mirror(self, rel: str) -> None:
        """Make tree/rel a real folder whose entries link to source/rel's."""
        src = self.source / rel if rel else self.source
        dst = self.tree / rel if rel else self.tree
        self.dir_stamps[rel] = _dir_stamp(src)
        dst.mkdir()
        if src.is_dir():
            for entry in sorted(os.listdir(src)):
                os.symlink(src / entry, dst / entry)

    def _materialize(self, rel: str) -> None:
        """Real folders along rel and a real copy of the file, so patch writes only the mirror."""
        parts = PurePosixPath(rel).parts
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            path = self.tree / folder
            if path.is_symlink():
                path.unlink()
                self._mirror(folder)
            elif not path.exists():
                self._mirror(folder)   # a folder the patch creates
            elif not path.is_dir():
                raise _Unsafe(f"{folder} is a file in this tree, not a folder")
        target = self.tree / rel
        if rel not in self.file_stamps:
            self.file_stamps[rel] = _file_stamp(self.source / rel)
        if target.is_symlink():
            target.unlink()
            if (self.source / rel).is_file():
                shutil.copy2(self.source / rel, target)

    def apply(self, path: Path, name: str, sha256: str) -> PatchResult:
        diffs = split_patch(path)
        mine = [d for d in diffs if d.read_by_engine and d.hunks]
        others = [d for d in diffs if not d.read_by_engine]
        not_applied = tuple(f"{d.path}: a {d.contentless} (no lines to apply), not applied"
                            for d in diffs if d.read_by_engine and not d.hunks)
        base: dict[str, Any] = {"name": name, "sha256": sha256, "skipped_files": tuple(d.path for d in others),
                "skipped_hunks": sum(len(d.hunks) for d in others), "not_applied": not_applied}
        if not diffs:
            # The build's `patch -p1 < file` stops with "Only garbage was found in the patch input".
            return PatchResult(status=FAILED, problem=f"patch {name} holds no diff", where=str(path), **base)
        if not mine:
            return PatchResult(status=SKIPPED, **base)
        forward, upstream = [], []
        for diff in mine:
            try:
                _check_path(diff.path)
                self._materialize(diff.path)
            except _Unsafe as e:
                return PatchResult(status=FAILED, failed=(diff.path,), where=f"{path}:{diff.line}",
                                   problem=f"patch {name} changes {diff.path!r}: {e}", **base)
            run = _run_patch(self.tree, diff, dry_run=True)
            if run.ok:
                forward.append((diff, run))
            elif _run_patch(self.tree, diff, reverse=True, dry_run=True).ok:
                upstream.append(diff)
            else:
                return PatchResult(status=FAILED, failed=(diff.path,), **_failure(path, name, diff, run, self.tree),
                                   **base)
        notes = []
        for diff, _ in forward:
            run = _run_patch(self.tree, diff)
            if not run.ok:  # the dry run said it applies: only a broken cache folder gets here
                return PatchResult(status=FAILED, failed=(diff.path,), **_failure(path, name, diff, run, self.tree),
                                   **base)
            notes += _notes(diff, run.output)
            self._settle(diff.path, path)
            self.applied.append(diff.path)
        status = (APPLIED if not upstream else PARTLY_UPSTREAM if forward else UPSTREAM)
        return PatchResult(status=status, applied=tuple(d.path for d, _ in forward),
                           upstream=tuple(d.path for d in upstream), notes=tuple(notes), **base)

    def settle_folders(self, patches: Sequence[Path]) -> None:
        """Give the copied folders their original's mtime (a folder a patch created: the newest
        patch's), so the Kbuild cache, which stamps folders, sees the same tree when the
        mirror is made again from the same inputs."""
        newest = max(os.stat(p).st_mtime_ns for p in patches)
        for rel in sorted(self.dir_stamps, key=lambda r: -len(PurePosixPath(r).parts)):
            mtime = self.dir_stamps[rel] or newest
            os.utime(self.tree / rel if rel else self.tree, ns=(mtime, mtime), follow_symlinks=False)

    def _settle(self, rel: str, patch: Path) -> None:
        # A patched file's mtime follows from its inputs, not from when it was
        # patched, so rebuilding the mirror (its original folder touched) does
        # not make the Kconfig and Kbuild caches parse it again.
        target = self.tree / rel
        if not target.exists():
            return  # the patch deleted it
        original = self.file_stamps.get(rel)
        mtime = max(original[1] if original else 0, os.stat(patch).st_mtime_ns)
        os.utime(target, ns=(mtime, mtime))


class _Unsafe(Exception):
    pass


def _check_path(rel: str) -> None:
    # GNU patch itself refuses such names ("Ignoring potentially dangerous file name").
    parts = PurePosixPath(rel).parts
    if not rel or rel.startswith("/") or ".." in parts:
        raise _Unsafe("a path outside the kernel tree")


def _failure(path: Path, name: str, diff: FileDiff, run: _Run, tree: Path) -> dict[str, Any]:
    """problem and where of a file's diff that applies neither forward nor reversed."""
    failed = [int(n) for n, _ in _FAILED_HUNK.findall(run.output)]
    hunks = {h.number: h for h in diff.hunks}
    if failed and all(n in hunks for n in failed):
        first = hunks[failed[0]]
        listed = "; ".join(f"hunk #{n} ({hunks[n].header})" for n in failed)
        problem = (f"patch {name} does not apply to this kernel tree: {listed} of {diff.path} "
                   f"{'fails' if len(failed) == 1 else 'fail'} (and not as already applied either)")
        return {"problem": problem, "where": f"{path}:{first.line}"}
    if not diff.creates and not (tree / diff.path).exists():
        problem = f"patch {name} changes {diff.path}, which this kernel tree does not have"
    else:
        detail = " ".join(line.strip() for line in run.output.strip().splitlines()[-3:])
        problem = f"patch {name} does not apply to {diff.path}: GNU patch says: {detail}"
    return {"problem": problem, "where": f"{path}:{diff.line}"}


def _notes(diff: FileDiff, output: str) -> list[str]:
    """GNU patch's word on hunks it placed elsewhere or with fuzz (still applied, worth knowing)."""
    hunks = {h.number: h for h in diff.hunks}
    notes = []
    for number, at, rest in _MOVED_HUNK.findall(output):
        header = hunks[int(number)].header if int(number) in hunks else "?"
        notes.append(f"{diff.path}: hunk #{number} ({header}) applied at line {at}{rest}")
    return notes
