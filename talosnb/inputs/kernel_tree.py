"""A kernel tree: a source folder, or a tarball extracted once into the cache, or a download.

Interpreting a config needs the Kconfig tree of the same kernel. It can be a
folder, a tarball (kernel.org, Debian's linux-source, or a Kconfig/Kbuild
skeleton), or a download of the Pkgfile's version from kernel.org. From a
tarball only the files the Kconfig engine reads are extracted, once, into a
cache folder.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from talosnb.core.errors import InputError, opt
from talosnb.core.paths import ENV_CACHE_DIR, ENV_KERNEL_MIRROR, cache_dir
from talosnb.core.versions import RELEASE, parse_version, read_makefile_version

DEFAULT_KERNEL_MIRROR = "https://cdn.kernel.org/pub/linux/kernel"

# Bump when the layout or the selection of extracted trees changes, so caches
# written by an older talosnb are not mistaken for complete ones.
CACHE_FORMAT = 1

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

    @classmethod
    def open(cls, path: str | os.PathLike, *, origin: str | os.PathLike | None = None) -> KernelTree:
        p = Path(path).expanduser()
        if not p.is_dir():
            raise InputError("kernel source folder not found", where=str(p), hint=kernel_src_hint())
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
        return cls(p, version, Path(origin).resolve() if origin else p)


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
    if p.is_dir():
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

    def __init__(self, f, bar):
        self._f, self._bar = f, bar

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
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
    if final.is_dir():
        root = _find_tree_root(final)
        if root is not None:
            return KernelTree.open(root, origin=tarball)
        # Renamed into place only when complete, so this is damage from outside
        # talosnb: start over.
        shutil.rmtree(final, ignore_errors=True)
    try:
        trees.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(trees, final.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".partial-{final.name}-", dir=trees))
    except OSError as e:
        raise InputError(f"cannot create the cache folder: {e.strerror}", where=str(trees),
                         hint=f"set {ENV_CACHE_DIR} to a writable folder") from None
    try:
        _extract_kernel_files(tarball, tmp, progress=progress)
        root = _find_tree_root(tmp)
        if root is None:
            raise InputError(
                f"not a kernel source tarball: no top-level Makefile with VERSION{want}",
                where=str(tarball),
                hint="pass a kernel.org linux-X.Y.Z.tar.xz, Debian's "
                     "/usr/src/linux-source-X.Y.tar.xz, or an extracted kernel folder")
        try:
            os.rename(tmp, final)
        except OSError:
            # Another process finished the same extraction first: use theirs.
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        root = _find_tree_root(final)
        assert root is not None
        return KernelTree.open(root, origin=tarball)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale_partials(trees: Path, key: str) -> None:
    # Leftovers of an interrupted extraction; an hour is far longer than any
    # extraction, so a concurrent one is never pulled from under its feet.
    cutoff = time.time() - 3600
    for p in trees.glob(f".partial-{key}-*"):
        try:
            if p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


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
        base = list(rel.parent.parts) if m.issym() else []
        depth = base[:]
        for part in PurePosixPath(target).parts:
            if part in ("", "."):
                continue
            if part == "..":
                if not depth:
                    raise _unsafe(tarball, name, f"link {target!r} points outside the tree")
                depth.pop()
            else:
                depth.append(part)
    return rel


def _extract_kernel_files(tarball: Path, dest: Path, *, progress: bool) -> None:
    """Stream through the tarball once, writing only the files engine_file() selects."""
    from tqdm.auto import tqdm

    size = tarball.stat().st_size
    try:
        raw = open(tarball, "rb")  # noqa: SIM115 -- closed by the with below
    except OSError as e:
        raise InputError(f"cannot read the tarball: {e.strerror}", where=str(tarball)) from None
    top: str | None = None
    with raw, tqdm(total=size, unit="B", unit_scale=True, desc=f"extracting {tarball.name}",
                   disable=not progress, leave=False) as bar:
        reader = io.BufferedReader(_ProgressReader(raw, bar), buffer_size=1 << 20)
        try:
            with tarfile.open(fileobj=reader, mode="r|*") as tar:
                for m in tar:
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
                    _write_member(tar, m, dest, rel, tarball)
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


def _write_member(tar: tarfile.TarFile, m: tarfile.TarInfo, dest: Path, rel: PurePosixPath,
                  tarball: Path) -> None:
    target = dest.joinpath(*rel.parts)
    # The member names were checked lexically; symlinks extracted earlier can
    # still redirect a path (a -> .., then a/b -> ..), so check the real
    # location on disk before creating anything.
    dest_real = os.path.realpath(dest)
    if not _inside(dest_real, target.parent):
        raise _unsafe(tarball, m.name, "path leads outside the tree through a symlink")
    if m.issym() and not _inside(dest_real, os.path.join(os.path.realpath(target.parent), m.linkname)):
        raise _unsafe(tarball, m.name, f"link {m.linkname!r} points outside the tree")
    if m.isfile():
        f = tar.extractfile(m)
        assert f is not None
        # Read first: a truncated tarball fails here, and must not be reported
        # as a problem writing the cache.
        data = f.read()
    try:
        _place_member(m, target, dest, data if m.isfile() else b"")
    except OSError as e:
        raise _CacheWriteError() from e


def _place_member(m: tarfile.TarInfo, target: Path, dest: Path, data: bytes) -> None:
    if m.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        # A later member of the same name wins, as with tar(1).
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    if m.issym():
        os.symlink(m.linkname, target)
        return
    if m.islnk():
        source = dest.joinpath(*[p for p in PurePosixPath(m.linkname).parts if p not in ("", ".")])
        if source.is_file() and not source.is_symlink():
            shutil.copyfile(source, target)
            os.chmod(target, stat.S_IMODE(source.stat().st_mode))
        return
    if not m.isfile():
        return
    with open(target, "wb") as out:
        out.write(data)
    # Scripts must stay executable ($(shell,...) runs them); nothing needs more.
    os.chmod(target, 0o755 if m.mode & 0o111 else 0o644)
    os.utime(target, (m.mtime, m.mtime))


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
        with raw, fileobj, tarfile.open(fileobj=fileobj, mode=tar_mode, format=tarfile.PAX_FORMAT,
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
    import pooch
    import requests

    if not RELEASE.match(version):
        raise InputError(f"not a kernel version: {version!r}", hint="expected e.g. 6.12.63")
    sha256 = sha256.lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise InputError(f"not a sha256: {sha256!r}", hint="expected 64 hex digits (Pkgfile linux_sha256)")
    url = kernel_tarball_url(version, base_url)
    folder = cache_dir() / "downloads"
    fname = f"linux-{version}.tar.xz"
    logger = pooch.get_logger()
    level = logger.level
    # pooch logs every download at INFO; talosnb shows a progress bar instead.
    logger.setLevel("WARNING")
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=fname, path=folder,
                              downloader=pooch.HTTPDownloader(progressbar=progress, timeout=60))
    except ValueError as e:
        if "hash" not in str(e).lower():
            raise
        raise InputError(
            f"downloaded {fname} does not match the expected sha256 {sha256}; the file was removed",
            where=url, hint="check linux_sha256 in the Pkgfile (and the mirror), or give "
                            f"{opt('kernel_src')}: a kernel tarball you trust") from None
    except requests.exceptions.HTTPError as e:
        code = e.response.status_code if e.response is not None else "?"
        raise InputError(f"cannot download {fname}: HTTP {code}", where=url,
                         hint=f"check the version and {ENV_KERNEL_MIRROR}; or " + kernel_src_hint()) from None
    except (requests.exceptions.RequestException, OSError) as e:
        raise InputError(
            f"cannot download {fname}: offline or the server is unreachable ({type(e).__name__})",
            where=url, hint=kernel_src_hint()) from None
    finally:
        logger.setLevel(level)
    return Path(path)


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
