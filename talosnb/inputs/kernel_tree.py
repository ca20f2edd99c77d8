"""A kernel tree: a source folder, or a tarball extracted once into the cache, or a download.

Interpreting a config needs the Kconfig tree of the same kernel. It can be a
folder, a tarball (kernel.org, Debian's linux-source, or a Kconfig/Kbuild
skeleton), or a download of the Pkgfile's version from kernel.org. From a
tarball only the files the Kconfig engine reads are extracted, once, into a
cache folder.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from talosnb.core import cacheentry, cachefile
from talosnb.core.errors import InputError, TalosnbWarning, opt
from talosnb.core.fileio import os_error
from talosnb.core.limits import Budget
from talosnb.core.paths import ENV_CACHE_DIR, ENV_KERNEL_MIRROR, cache_dir
from talosnb.core.progress import progress_bar
from talosnb.core.versions import RELEASE, parse_version, read_makefile_version

from .download import verified_download

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

DEFAULT_KERNEL_MIRROR = "https://cdn.kernel.org/pub/linux/kernel"

# Bump when the layout or the selection of extracted trees changes, so caches
# written by an older talosnb are not mistaken for complete ones.
CACHE_FORMAT = 1

# Beside the extracted tree: what was extracted (sha256 and size of each file, each
# symlink's target), so a damaged file is found before it is read.
MANIFEST = ".talosnb-manifest"
MANIFEST_ENGINE = f"tree-manifest-{CACHE_FORMAT}"

TARBALL_SUFFIXES = (".tar.xz", ".tar.gz", ".tgz", ".tar", ".txz", ".tar.bz2", ".tbz2")

def kernel_src_hint() -> str:
    return (f"give {opt('kernel_src')}: a kernel source folder or tarball (kernel.org "
            "linux-X.Y.Z.tar.xz, or Debian's /usr/src/linux-source-X.Y.tar.xz)")


@dataclass(frozen=True)
class KernelTree:
    """A kernel source folder (full tree or Kconfig/Kbuild skeleton).

    `origin` is what the user named: the folder itself, or the tarball it was
    extracted from.
    """

    path: Path
    version: str
    origin: Path
    extraction: Path | None = None   # the cache folder it was extracted into (None: the user's folder)

    def damaged_files(self) -> list[str]:
        """The files of an extracted tree that differ from what was extracted (its manifest):
        changed, missing, or added where the Kconfig/Kbuild engines look. [] for a folder
        the user gave (talosnb has no record of what it should hold)."""
        folder = self.extraction
        return [] if folder is None else _verify_manifest(folder)

    def ensure_intact(self) -> None:
        """Before the tree's files are read (a parse or a Kbuild walk, not a cache hit): an
        extracted tree whose files were damaged is extracted again, with a warning."""
        damaged = self.damaged_files()
        if damaged:
            shown = ", ".join(damaged[:5]) + (f" and {len(damaged) - 5} more" if len(damaged) > 5 else "")
            warnings.warn(TalosnbWarning(f"{self.path}: the tree extracted from {self.origin.name} is damaged "
                                         f"({shown}); extracting it again"), stacklevel=2)
            assert self.extraction is not None, "damaged_files() finds nothing in a user's folder"
            _reextract(self.origin, self.extraction)

    @classmethod
    def open(cls, path: str | os.PathLike, *, origin: str | os.PathLike | None = None,
             extraction: Path | None = None) -> KernelTree:
        p = Path(path).expanduser()
        if not _probe(p, "kernel source folder").is_dir():
            raise InputError("kernel source folder not found", where=str(p), hint=kernel_src_hint())
        for name in ("Makefile", "Kconfig"):
            if _probe(p / name, "kernel tree").exists() and not os.access(p / name, os.R_OK):
                raise InputError("cannot read the kernel tree: permission denied", where=str(p / name),
                                 hint="check the permissions of the tree's files")
        version = read_makefile_version(p / "Makefile")
        if version is None:
            raise InputError(
                "not a kernel source tree: no top-level Makefile with VERSION/PATCHLEVEL",
                where=str(p), hint=f"point {opt('kernel_src')} at the folder holding the kernel's top "
                                   "Makefile and Kconfig, or at a kernel tarball")
        if not (p / "Kconfig").is_file():
            raise InputError("not a kernel source tree: no top-level Kconfig", where=str(p),
                             hint=kernel_src_hint())
        p = p.resolve()
        return cls(p, version, Path(origin).resolve() if origin else p, extraction)


class _Probe:
    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what

    def _mode(self) -> int | None:
        try:
            return self.path.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise os_error(e, f"cannot open the {self.what}", self.path) from None

    def is_dir(self) -> bool:
        mode = self._mode()
        return mode is not None and stat.S_ISDIR(mode)

    def exists(self) -> bool:
        return self._mode() is not None


def _probe(path: Path, what: str) -> _Probe:
    """is_dir()/exists() that turn a permission error on the way into an InputError naming the path."""
    return _Probe(path, what)


def is_tarball(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(TARBALL_SUFFIXES)


def open_kernel_tree(spec: str | os.PathLike, *, pkgfile_version: str | None = None,
                     progress: bool = False) -> KernelTree:
    """Open a kernel source folder, or a kernel tarball (extracted once into the cache).

    `pkgfile_version` (the Pkgfile's linux_version) only sharpens the hints of
    errors; version differences are reported by resolve_inputs.
    """
    p = Path(spec).expanduser()
    want = f" (the Pkgfile wants linux-{pkgfile_version})" if pkgfile_version else ""
    if _probe(p, "kernel source").is_dir():
        return KernelTree.open(p)
    if not p.exists():
        raise InputError(f"kernel source not found{want}", where=str(p), hint=kernel_src_hint())
    if not is_tarball(p):
        raise InputError(f"kernel source is neither a folder nor a tarball{want}", where=str(p),
                         hint=f"expected a folder or a {', '.join(TARBALL_SUFFIXES)} file; "
                              + kernel_src_hint())
    return _extract_cached(p.resolve(), progress=progress, want=want)


# --------------------------------------------------------------------------- extraction

def engine_file(rel: PurePosixPath) -> bool:
    """Whether the Kconfig engine needs this file (rel: path below the top folder).

    The same selection as the Kconfig/Kbuild skeletons: Kconfig*, Makefile*,
    Kbuild* anywhere (Documentation/Kconfig is sourced by the top Kconfig) and
    all of scripts/ (the $(shell,...) helpers Kconfig runs). Nothing else of
    Documentation/ or of the sources is needed.
    """
    if not rel.parts:
        return False
    if rel.parts[0] == "scripts":
        return True
    return rel.name.startswith(("Kconfig", "Makefile", "Kbuild"))


class _ProgressReader(io.RawIOBase):
    """A read-only file that reports bytes read to a tqdm bar (tarfile reads sequentially)."""

    def __init__(self, f: io.BufferedReader, bar: Any) -> None:
        self._f, self._bar = f, bar

    def readable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer) -> int:
        n = self._f.readinto(b)
        if n:
            self._bar.update(n)
        return n


def _tree_cache_key(tarball: Path) -> str:
    # Hashing a 150 MB tarball costs more than extracting its few files, so the
    # key is name+size+mtime (a changed file gets a new key, never a stale tree).
    st = tarball.stat()
    ident = f"{CACHE_FORMAT}\0{tarball}\0{st.st_size}\0{st.st_mtime_ns}"
    stem = tarball.name
    for suffix in TARBALL_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:60]
    return f"{stem}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}"


def _find_tree_root(folder: Path) -> Path | None:
    if read_makefile_version(folder / "Makefile"):
        return folder
    subdirs = [d for d in folder.iterdir() if d.is_dir()]
    if len(subdirs) == 1 and read_makefile_version(subdirs[0] / "Makefile"):
        return subdirs[0]
    return None


def _extract_cached(tarball: Path, *, progress: bool, want: str) -> KernelTree:
    trees = cache_dir() / "trees" / f"v{CACHE_FORMAT}"
    final = trees / _tree_cache_key(tarball)
    try:
        tree = _complete(final, tarball)
        if tree is not None:
            return tree
        # One run extracts, the others wait and use its tree (cacheentry's rules).
        with cacheentry.building(final, f"extracting {tarball.name}"):
            tree = _complete(final, tarball)
            if tree is None:
                # A folder there without its tree or manifest was damaged from outside
                # talosnb (entries appear only whole): replace it.
                _extract_to(tarball, final, progress=progress, want=want, damaged=os.path.lexists(final))
                tree = _complete(final, tarball)
        assert tree is not None, "an extracted tree is published with its top Makefile and manifest"
        return tree
    except OSError as e:
        error = os_error(e, "cannot use the cache folder", e.filename or trees)
        error.hint = f"set {ENV_CACHE_DIR} to a folder talosnb can read and write ({error.hint or ''})"
        raise error from None


def _complete(final: Path, tarball: Path) -> KernelTree | None:
    """The tree published at ``final``, or None when there is none (or only a damaged one)."""
    if not final.is_dir():
        return None
    root = _find_tree_root(final)
    if root is None or not (final / MANIFEST).is_file():
        return None
    return KernelTree.open(root, origin=tarball, extraction=final)


# Called with the partial folder after its first member is written (tests kill a run there).
extraction_hook: Callable[[Path], None] | None = None


def _extract_to(tarball: Path, final: Path, *, progress: bool, want: str = "", damaged: bool = False) -> None:
    """Extract into a partial folder beside ``final``, check it, write its manifest, publish it
    (in place of a damaged one when ``damaged``). The caller holds ``final``'s lock."""
    trees = final.parent
    try:
        tmp = cacheentry.new_partial(final)
    except OSError as e:
        raise InputError(f"cannot create the cache folder: {e.strerror}", where=str(trees),
                         hint=f"set {ENV_CACHE_DIR} to a writable folder") from None
    try:
        _extract_kernel_files(tarball, tmp, progress=progress)
        if _find_tree_root(tmp) is None:
            raise InputError(
                f"not a kernel source tarball: no top-level Makefile with VERSION{want}",
                where=str(tarball),
                hint="pass a kernel.org linux-X.Y.Z.tar.xz, Debian's "
                     "/usr/src/linux-source-X.Y.tar.xz, or an extracted kernel folder")
        _write_manifest(tmp)
        if damaged:
            cacheentry.replace(tmp, final)
        else:
            cacheentry.publish(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _reextract(tarball: Path, final: Path) -> None:
    """Extract a damaged tree again, unless another run already did while this one waited."""
    try:
        with cacheentry.building(final, f"extracting {tarball.name}"):
            if _verify_manifest(final):
                _extract_to(tarball, final, progress=False, damaged=True)
    except OSError as e:
        error = os_error(e, "cannot use the cache folder", e.filename or final.parent)
        error.hint = f"set {ENV_CACHE_DIR} to a folder talosnb can read and write ({error.hint or ''})"
        raise error from None


def _unsafe(tarball: Path, member: str, why: str) -> InputError:
    return InputError(f"unsafe tarball member {member!r}: {why}; refusing to extract it",
                      where=str(tarball),
                      hint="a kernel tarball never contains such members: check where it came from")


def _check_member(tarball: Path, m: tarfile.TarInfo) -> PurePosixPath:
    """The member's path, normalized; InputError if extracting it could escape the folder."""
    name = m.name
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise _unsafe(tarball, name, "absolute path")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        raise _unsafe(tarball, name, "path with '..'")
    if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
        raise _unsafe(tarball, name, "device or fifo")
    rel = PurePosixPath(*parts) if parts else PurePosixPath()
    if m.issym() or m.islnk():
        target = m.linkname
        if target.startswith("/"):
            raise _unsafe(tarball, name, f"link to absolute path {target!r}")
        # Symlink targets are relative to the link's folder, hard link targets
        # to the archive root.
        _walk_link(tarball, name, list(rel.parent.parts) if m.issym() else [], target, {})
    return rel


def _walk_link(tarball: Path, name: str, start: list[str], target: str,
               links: dict[PurePosixPath, tuple[str, str]]) -> PurePosixPath:
    """Follow a link's target component by component from ``start`` (the link's folder, as
    parts below the archive root): it must stay in the tree and never pass through another
    symlink of the archive (whose own target could lead anywhere). Returns where it lands."""
    here = start[:]
    parts = [p for p in PurePosixPath(target).parts if p not in ("", ".")]
    for i, part in enumerate(parts):
        if part == "..":
            if not here:
                raise _unsafe(tarball, name, f"link {target!r} points outside the tree")
            here.pop()
            continue
        here.append(part)
        if i < len(parts) - 1 and PurePosixPath(*here) in links:
            raise _unsafe(tarball, name, f"link {target!r} runs through the symlink "
                                         f"{'/'.join(here)!r} (which could lead outside the tree)")
    return PurePosixPath(*here) if here else PurePosixPath()


def _extract_kernel_files(tarball: Path, dest: Path, *, progress: bool) -> None:
    """Stream through the tarball once, writing only the files engine_file() selects."""
    size = tarball.stat().st_size
    try:
        raw = open(tarball, "rb")  # noqa: SIM115 -- closed by the with below
    except OSError as e:
        raise InputError(f"cannot read the tarball: {e.strerror}", where=str(tarball)) from None
    top: str | None = None
    extraction = _Extraction(tarball, dest, Budget(tarball, writes_into=dest.parent))
    with raw, progress_bar(enabled=progress, total=size, unit="B", unit_scale=True,
                           desc=f"extracting {tarball.name}", leave=False) as bar:
        reader = io.BufferedReader(_ProgressReader(raw, bar), buffer_size=1 << 20)
        try:
            with tarfile.open(fileobj=reader, mode="r|*") as tar:
                for m in tar:
                    extraction.budget.see(m.name, m.size)
                    rel = _check_member(tarball, m)
                    if not rel.parts:
                        continue
                    if top is None:
                        top = rel.parts[0]
                    inner = PurePosixPath(*rel.parts[1:]) if rel.parts[0] == top else None
                    if inner is None:
                        # Not below the first top folder: several top folders or
                        # none; the tree root is then the archive root.
                        inner = rel
                    if not (engine_file(inner) or engine_file(rel)):
                        continue
                    extraction.member(tar, m, rel)
            extraction.finish()
        except InputError:
            raise
        except _CacheWriteError as e:
            raise InputError(f"cannot write the extracted tree: {e.__cause__}", where=str(dest),
                             hint=f"free some space, or set {ENV_CACHE_DIR} to another folder") from None
        except (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError, zlib.error) as e:
            # gzip.BadGzipFile and bz2's errors are OSError/EOFError subclasses.
            raise InputError(
                f"cannot read the tarball, it is corrupt or truncated ({type(e).__name__}: {e})",
                where=str(tarball),
                hint=f"download it again, or give an extracted kernel folder ({opt('kernel_src')})") from None


class _CacheWriteError(Exception):
    """Writing into the cache failed (as opposed to reading the tarball)."""


def _inside(root_real: str, path: str | os.PathLike) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real + os.sep)


class _Extraction:
    """One tarball being extracted into ``dest``, so that nothing can land or point outside it.

    Every path is a plain path: no member is written through a symlink of the archive,
    and no link target runs through one. Symlinks are created last, once every other
    member is in place (so no member can be redirected by one), and then every link in
    the tree is resolved on disk and must land inside it.
    """

    def __init__(self, tarball: Path, dest: Path, budget: Budget) -> None:
        self.tarball, self.dest, self.budget = tarball, dest, budget
        self.written = 0
        self.dest_real = os.path.realpath(dest)
        self.links: dict[PurePosixPath, tuple[str, str]] = {}   # path -> (target, member name)

    def _through_link(self, rel: PurePosixPath) -> PurePosixPath | None:
        for i in range(1, len(rel.parts)):
            prefix = PurePosixPath(*rel.parts[:i])
            if prefix in self.links:
                return prefix
        return None

    def member(self, tar: tarfile.TarFile, m: tarfile.TarInfo, rel: PurePosixPath) -> None:
        try:
            # Python's own rules for untrusted archives, on top of ours
            tarfile.data_filter(m, str(self.dest))
        except tarfile.FilterError as e:
            raise _unsafe(self.tarball, m.name, str(e)) from None
        via = self._through_link(rel)
        if via is not None:
            raise _unsafe(self.tarball, m.name, f"its path runs through the symlink {via.as_posix()!r} "
                                                "(which could lead outside the tree)")
        if m.issym():
            self.links[rel] = (m.linkname, m.name)
            return
        self.links.pop(rel, None)   # a later member of the same name wins, as with tar(1)
        target = self.dest.joinpath(*rel.parts)
        source = None
        if m.islnk():
            landed = _walk_link(self.tarball, m.name, [], m.linkname, self.links)
            if landed in self.links or self._through_link(landed) is not None:
                raise _unsafe(self.tarball, m.name, f"hard link {m.linkname!r} leads through a symlink")
            source = self.dest.joinpath(*landed.parts)
            if not _inside(self.dest_real, source):
                raise _unsafe(self.tarball, m.name, f"link {m.linkname!r} points outside the tree")
            with contextlib.suppress(OSError):   # a hard link is written as a copy of its file
                self.budget.take(m.name, os.lstat(source).st_size)
        data = b""
        if m.isfile():
            self.budget.take(m.name, m.size)
            f = tar.extractfile(m)
            assert f is not None
            # Read first: a truncated tarball fails here, and must not be reported
            # as a problem writing the cache.
            data = f.read()
        try:
            _place_member(m, target, source, data)
        except OSError as e:
            raise _CacheWriteError() from e
        self.written += 1
        if self.written == 1 and extraction_hook is not None:
            extraction_hook(self.dest)

    def finish(self) -> None:
        """Create the symlinks, then check that every link in the tree resolves inside it."""
        for rel, (target, name) in self.links.items():
            _walk_link(self.tarball, name, list(rel.parent.parts), target, self.links)
            path = self.dest.joinpath(*rel.parts)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if path.is_dir() and not path.is_symlink():
                    raise _unsafe(self.tarball, name, "a symlink replacing a folder of the archive")
                if path.is_symlink() or path.exists():
                    path.unlink()
                os.symlink(target, path)
            except OSError as e:
                raise _CacheWriteError() from e
        for dirpath, dirnames, filenames in os.walk(self.dest):
            for entry in (*dirnames, *filenames):
                found = os.path.join(dirpath, entry)
                if os.path.islink(found) and not _inside(self.dest_real, found):
                    found_rel = os.path.relpath(found, self.dest)
                    raise _unsafe(self.tarball, found_rel, f"link {os.readlink(found)!r} resolves outside the "
                                                           f"tree ({os.path.realpath(found)})")


def _place_member(m: tarfile.TarInfo, target: Path, source: Path | None, data: bytes) -> None:
    if m.isdir():
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        # A later member of the same name wins, as with tar(1).
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    if m.islnk():
        assert source is not None
        # copied, not linked: the cache holds no hard links into other trees
        st = os.lstat(source) if os.path.lexists(source) else None
        if st is not None and stat.S_ISREG(st.st_mode):
            shutil.copyfile(source, target, follow_symlinks=False)
            os.chmod(target, stat.S_IMODE(st.st_mode))
        return
    if not m.isfile():
        return
    with open(target, "wb") as out:
        out.write(data)
    # Scripts must stay executable ($(shell,...) runs them); nothing needs more.
    os.chmod(target, 0o755 if m.mode & 0o111 else 0o644)
    os.utime(target, (m.mtime, m.mtime))


# --------------------------------------------------------------------------- manifest

def _write_manifest(folder: Path) -> None:
    """What was extracted into ``folder``: each file's size and sha256, each symlink's target."""
    files, links = {}, {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                links[rel] = os.readlink(path)
            else:
                with open(path, "rb") as f:
                    data = f.read()
                files[rel] = [len(data), hashlib.sha256(data).hexdigest()]
    body = json.dumps({"files": files, "links": links}, sort_keys=True).encode()
    if not cachefile.write(folder / MANIFEST, body, engine=MANIFEST_ENGINE):
        raise _CacheWriteError() from OSError(f"cannot write {folder / MANIFEST}")


def _verify_manifest(folder: Path) -> list[str]:
    """The paths (relative to the tree's folder) that differ from the manifest."""
    data = cachefile.read(folder / MANIFEST, engine=MANIFEST_ENGINE, what="manifest of the extracted tree")
    if data is None:
        return [MANIFEST]
    try:
        manifest = json.load(data)
        files, links = manifest["files"], manifest["links"]
    except (ValueError, KeyError, TypeError):
        return [MANIFEST]
    base = os.path.join(folder, "")
    damaged = [rel for rel, (size, sha256) in files.items() if not _file_matches(base + rel, size, sha256)]
    damaged += [rel for rel, target in links.items() if not _link_matches(base + rel, target)]
    damaged += _added_engine_files(folder, files.keys() | links.keys() | {MANIFEST})
    return sorted(damaged)


def _file_matches(path: str, size: int, sha256: str) -> bool:
    """A regular file (not a link) of that size and SHA-256."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            return not (not stat.S_ISREG(st.st_mode) or st.st_size != size or os.path.islink(path)
                        or hashlib.sha256(f.read()).hexdigest() != sha256)
    except OSError:
        return False


def _link_matches(path: str, target: str) -> bool:
    try:
        return os.readlink(path) == target
    except OSError:
        return False


def _added_engine_files(folder: Path, known: set[str]) -> list[str]:
    """Files not in the manifest where the engines look: an added file changes what they read."""
    base = os.path.join(folder, "")
    added = []
    for dirpath, _dirnames, filenames in os.walk(folder):
        prefix = os.path.join(dirpath, "")[len(base):]
        for name in filenames:
            rel = prefix + name
            if rel in known:
                continue
            parts = PurePosixPath(rel)
            if engine_file(PurePosixPath(*parts.parts[1:])) or engine_file(parts):
                added.append(rel)
    return added


def write_tarball(tree: str | os.PathLike, dest: str | os.PathLike, *, top: str) -> Path:
    """Pack folder `tree` as `top/...` into a reproducible tarball (compression from dest's suffix).

    Members are sorted, times and owners zeroed and modes reduced to 644/755, so
    the same files give the same bytes (the sample Pkgfile's hashes rely on it).
    """
    tree, dest = Path(tree), Path(dest)
    name = dest.name.lower()
    mode = ("w:xz" if name.endswith((".tar.xz", ".txz")) else
            "w:gz" if name.endswith((".tar.gz", ".tgz")) else "w")
    entries: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        entries.extend(Path(dirpath) / d for d in dirnames)
        entries.extend(Path(dirpath) / f for f in filenames)
    entries.sort(key=lambda p: p.relative_to(tree).as_posix())
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)

    def info(arcname: str, kind: bytes, mode_bits: int, size: int = 0) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(arcname)
        ti.type, ti.mode, ti.size = kind, mode_bits, size
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
        return ti

    try:
        raw = open(tmp, "wb")  # noqa: SIM115 -- closed by the with below
        # gzip stores a timestamp in its header; fix it at 0.
        fileobj = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") if mode == "w:gz" else raw
        tar_mode = "w" if mode == "w:gz" else mode
        kwargs = {"preset": 6} if tar_mode == "w:xz" else {}
        # (typeshed's overloads want the mode as a literal and preset's type; both are chosen above)
        with raw, fileobj, tarfile.open(fileobj=fileobj, mode=tar_mode, format=tarfile.PAX_FORMAT,  # type: ignore[call-overload]
                                        **kwargs) as tar:
            tar.addfile(info(top, tarfile.DIRTYPE, 0o755))
            for p in entries:
                arc = f"{top}/{p.relative_to(tree).as_posix()}"
                if p.is_symlink():
                    ti = info(arc, tarfile.SYMTYPE, 0o777)
                    ti.linkname = os.readlink(p)
                    tar.addfile(ti)
                elif p.is_dir():
                    tar.addfile(info(arc, tarfile.DIRTYPE, 0o755))
                elif p.is_file():
                    bits = 0o755 if p.stat().st_mode & 0o111 else 0o644
                    with open(p, "rb") as f:
                        tar.addfile(info(arc, tarfile.REGTYPE, bits, p.stat().st_size), f)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


# --------------------------------------------------------------------------- download

def kernel_tarball_url(version: str, base_url: str | None = None) -> str:
    """Where kernel.org (or a mirror laid out like it) serves linux-<version>.tar.xz."""
    base = (base_url or os.environ.get(ENV_KERNEL_MIRROR) or DEFAULT_KERNEL_MIRROR).rstrip("/")
    major = parse_version(version)[0]
    return f"{base}/v{major}.x/linux-{version}.tar.xz"


def fetch_kernel_tarball(version: str, sha256: str, *, base_url: str | None = None,
                         progress: bool = True) -> Path:
    """Download linux-<version>.tar.xz (verified against sha256) into the cache; reuse it after.

    base_url defaults to $TALOSNB_KERNEL_MIRROR, else kernel.org's CDN, the URL
    pattern the pkgs build downloads from.
    """
    if not RELEASE.match(version):
        raise InputError(f"not a kernel version: {version!r}", hint="expected e.g. 6.12.63")
    sha256 = sha256.lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise InputError(f"not a sha256: {sha256!r}", hint="expected 64 hex digits (Pkgfile linux_sha256)")
    return verified_download(
        kernel_tarball_url(version, base_url), f"linux-{version}.tar.xz", sha256, progress=progress,
        mismatch_hint="check linux_sha256 in the Pkgfile (and the mirror), or give "
                      f"{opt('kernel_src')}: a kernel tarball you trust",
        http_hint=f"check the version and {ENV_KERNEL_MIRROR}; or " + kernel_src_hint(),
        offline_hint=kernel_src_hint())


def tarball_hashes(path: str | os.PathLike) -> tuple[str, str]:
    """(sha256, sha512) of a file, read once: what a Pkgfile records for the kernel tarball."""
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                sha256.update(chunk)
                sha512.update(chunk)
    except OSError as e:
        raise InputError(f"cannot read the tarball: {e.strerror}", where=str(path)) from None
    return sha256.hexdigest(), sha512.hexdigest()
