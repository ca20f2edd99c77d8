"""talosnb.inputs: checkouts, Pkgfile, kernel trees from folders/tarballs/downloads, versions.

Real tarballs and a real HTTP server on 127.0.0.1; the user's cache is never
touched (TALOSNB_CACHE_DIR points into tmp).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import random
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest
from tarballs import KERNEL_MEMBERS, link, make_tarball, reg

from talosnb.core import dotconfig
from talosnb.core.arches import srcarch
from talosnb.core.errors import InputError, VersionMismatchError
from talosnb.core.paths import data_dir
from talosnb.core.versions import compare_versions
from talosnb.inputs.checkouts import PkgsCheckout, TalosCheckout
from talosnb.inputs.kernel_tree import (
    KernelTree,
    fetch_kernel_tarball,
    kernel_tarball_url,
    open_kernel_tree,
    write_tarball,
)
from talosnb.inputs.pkgfile import parse_pkgfile, parse_pkgfile_text
from talosnb.inputs.resolve import resolve_inputs

REPO = Path(__file__).resolve().parents[2]
SHARED = (REPO.parent / "shared").resolve()   # a symlinked ../shared compares as the files it names
V110 = SHARED / "data" / "talos-v1.10"
MAIN = SHARED / "data" / "talos-main"
SKELETON_612 = SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"
SAMPLE = REPO / "data" / "sample"

needs_shared = pytest.mark.skipif(not SKELETON_612.is_file(), reason="../shared reference data not present")

ENV_VARS = ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC", "TALOSNB_KERNEL_MIRROR")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """A private cache, no TALOSNB_* inputs, and no proxy for loopback requests."""
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One extraction of the real 6.12.117 skeleton shared by the tests that only read it."""
    return tmp_path_factory.mktemp("shared-cache")


def use_cache(monkeypatch, folder: Path) -> None:
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(folder))


# --------------------------------------------------------------------------- Pkgfile

@needs_shared
def test_pkgfile_real_release_1_10():
    info = parse_pkgfile(V110 / "pkgs" / "Pkgfile")
    assert info.linux_version == "6.12.63"
    assert info.linux_sha256 == "9502c5ffe4b894383c97abfccf74430a84732f04ee476b9c0d87635b29df7db3"
    assert info.linux_sha512.startswith("89a4aaa7f924b2c5") and len(info.linux_sha512) == 128
    # linux_firmware_version and friends must not be mistaken for linux_version.
    lines = (V110 / "pkgs" / "Pkgfile").read_text().splitlines()
    assert lines[info.lines["linux_version"] - 1].strip() == "linux_version: 6.12.63"
    assert info.where().endswith(f"Pkgfile:{info.lines['linux_version']}")


@needs_shared
def test_pkgfile_real_main():
    info = parse_pkgfile(MAIN / "pkgs" / "Pkgfile")
    assert (info.linux_version, info.linux_sha256[:12]) == ("6.18.45", "30fa4a56579c")


def test_pkgfile_quotes_and_comments():
    info = parse_pkgfile_text(
        "vars:\n"
        "  # linux_version: 1.2.3 (a comment, ignored)\n"
        f"  linux_version: \"6.1.2\"\n  linux_sha256: {'a' * 64} # trailing comment\n"
        f"  linux_sha512: '{'B' * 128}'\n")
    assert info.linux_version == "6.1.2"
    assert info.linux_sha256 == "a" * 64
    assert info.linux_sha512 == "b" * 128
    assert info.lines == {"linux_version": 3, "linux_sha256": 4, "linux_sha512": 5}


def test_pkgfile_missing_variable_names_file(tmp_path):
    p = tmp_path / "Pkgfile"
    p.write_text(f"vars:\n  linux_version: 6.12.63\n  linux_sha256: {'0' * 64}\n")
    with pytest.raises(InputError) as e:
        parse_pkgfile(p)
    assert e.value.where == str(p)
    assert "linux_sha512" in e.value.message


@pytest.mark.parametrize("line, what", [
    ("linux_version: six", "linux_version"),
    ("linux_version: 6.12.63\n  linux_sha256: abc", "linux_sha256"),
    ("linux_version: 6.12.63\n  linux_version: 6.12.64", "twice"),
])
def test_pkgfile_malformed_names_line(tmp_path, line, what):
    p = tmp_path / "Pkgfile"
    p.write_text(f"vars:\n  {line}\n")
    with pytest.raises(InputError) as e:
        parse_pkgfile(p)
    assert e.value.where.startswith(f"{p}:")
    assert what in e.value.message


def test_pkgfile_missing_file(tmp_path):
    with pytest.raises(InputError) as e:
        parse_pkgfile(tmp_path / "Pkgfile")
    assert "not found" in str(e.value)


# --------------------------------------------------------------------------- checkouts

@needs_shared
def test_checkouts_locate_real_files():
    pkgs, talos = PkgsCheckout(V110 / "pkgs"), TalosCheckout(V110 / "talos")
    assert pkgs.pkgfile == V110 / "pkgs" / "Pkgfile"
    assert pkgs.config_path("arm64") == V110 / "pkgs" / "kernel" / "build" / "config-arm64"
    assert talos.module_list_path("amd64") == V110 / "talos" / "hack" / "modules-amd64.txt"
    assert pkgs.arches() == talos.arches() == ["amd64", "arm64"]


def test_checkout_missing_files_explained(tmp_path):
    pkgs, talos = PkgsCheckout(tmp_path), TalosCheckout(tmp_path)
    with pytest.raises(InputError) as e:
        pkgs.config_path("amd64")
    assert e.value.where == str(tmp_path / "kernel" / "build" / "config-amd64")
    assert "Pkgfile and kernel/build/config-amd64" in e.value.hint
    with pytest.raises(InputError) as e:
        _ = pkgs.pkgfile
    assert e.value.where.endswith("Pkgfile")
    with pytest.raises(InputError) as e:
        talos.module_list_path("arm64")
    assert e.value.where.endswith("hack/modules-arm64.txt") and "the talos folder should contain" in e.value.hint


def test_checkout_folder_missing(tmp_path):
    with pytest.raises(InputError) as e:
        PkgsCheckout(tmp_path / "nope")
    assert "not found" in e.value.message and e.value.hint.startswith("pkgs takes a folder")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        TalosCheckout(tmp_path / "file")


def test_unknown_arch_lists_valid_ones():
    with pytest.raises(InputError) as e:
        PkgsCheckout(SAMPLE / "pkgs").config_path("x86_64")
    assert "amd64, arm64" in e.value.hint
    assert srcarch("amd64") == "x86" and srcarch("arm64") == "arm64"


# --------------------------------------------------------------------------- versions

def test_compare_versions():
    m = compare_versions("7.2.12", "6.18.45", "Pkgfile linux_version")
    assert (m.kind, m.level) == ("mismatch", "error")
    assert "7.2.12" in m.message and "6.18.45" in m.message and "Pkgfile linux_version" in m.message
    n = compare_versions("6.12.117", "6.12.63", "config-amd64 header")
    assert (n.kind, n.level) == ("note", "info") and "same 6.12 series" in n.message
    assert compare_versions("6.12.63", "6.12.63", "x") is None
    assert compare_versions("6.12", "6.12.0", "x") is None
    assert compare_versions("6.13.0-rc1", "6.13.0", "x").kind == "note"
    with pytest.raises(InputError):
        compare_versions("banana", "6.12.0", "x")


@needs_shared
def test_config_headers_of_real_configs():
    h = dotconfig.header((V110 / "pkgs" / "kernel" / "build" / "config-amd64").read_text())
    assert (h.arch, h.version, h.line) == ("x86", "6.12.63", 3)
    h = dotconfig.header((MAIN / "pkgs" / "kernel" / "build" / "config-arm64").read_text())
    assert (h.arch, h.version) == ("arm64", "6.18.45")
    assert dotconfig.header("CONFIG_FOO=y\n") is None


# --------------------------------------------------------------------------- kernel trees

def test_sample_tree_folder():
    tree = open_kernel_tree(SAMPLE / "linux")
    assert tree.version == "6.12.0" and tree.path == (SAMPLE / "linux").resolve()


def test_makefile_version_forms(tmp_path):
    (tmp_path / "Kconfig").write_text("")
    (tmp_path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 13\nSUBLEVEL = 0\nEXTRAVERSION = -rc2\n")
    assert KernelTree.open(tmp_path).version == "6.13.0-rc2"
    (tmp_path / "Makefile").write_text("# no version here\nall:\n")
    with pytest.raises(InputError, match="no top-level Makefile with VERSION"):
        KernelTree.open(tmp_path)


def test_kernel_src_not_found_or_not_tarball(tmp_path):
    with pytest.raises(InputError) as e:
        open_kernel_tree(tmp_path / "linux-6.12.tar.xz", pkgfile_version="6.12.63")
    assert "not found" in e.value.message and "6.12.63" in e.value.message
    assert "kernel_src" in e.value.hint
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="neither a folder nor a tarball"):
        open_kernel_tree(tmp_path / "notes.txt")


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir() or p.is_symlink()}


@needs_shared
def test_real_skeleton_extracted_once_and_reused(monkeypatch, tmp_path):
    use_cache(monkeypatch, tmp_path / "fresh-cache")
    tree = open_kernel_tree(SKELETON_612)
    assert tree.version == "6.12.117"
    assert tree.path.name == "linux-source-6.12"
    assert tree.origin == SKELETON_612.resolve()
    assert tree.path.is_relative_to(tmp_path / "fresh-cache")
    for rel in ("Kconfig", "Makefile", "Kbuild", "arch/x86/Kconfig", "init/Kconfig",
                "scripts/Kconfig.include", "Documentation/Kconfig"):
        assert (tree.path / rel).is_file(), rel
    assert os.access(tree.path / "scripts" / "cc-version.sh", os.X_OK)
    for rel in files_under(tree.path):
        name = rel.rsplit("/", 1)[-1]
        assert rel.startswith("scripts/") or name.startswith(("Kconfig", "Makefile", "Kbuild")), rel

    # A second open must reuse the extraction: a file dropped into it survives,
    # the folder keeps its inode, and there is still exactly one cached tree.
    marker = tree.path / ".still-here"
    marker.write_text("x")
    inode = tree.path.stat().st_ino
    again = open_kernel_tree(SKELETON_612)
    assert again == tree
    assert marker.exists() and tree.path.stat().st_ino == inode
    assert len([p for p in (tmp_path / "fresh-cache" / "trees" / "v1").iterdir() if not p.name.endswith(".lock")]) == 1


def test_tarball_only_needed_files(tmp_path):
    tarball = make_tarball(tmp_path / "linux-6.1.5.tar.gz", KERNEL_MEMBERS)
    tree = open_kernel_tree(tarball, progress=True)
    assert tree.version == "6.1.5" and tree.path.name == "linux-6.1.5"
    assert files_under(tree.path) == {
        "Makefile", "Kconfig", "drivers/Kconfig", "drivers/Makefile", "Documentation/Kconfig",
        "scripts/helper.sh", "scripts/kconfig/conf.c", "scripts/dtc-link"}
    assert os.access(tree.path / "scripts" / "helper.sh", os.X_OK)
    assert (tree.path / "scripts" / "dtc-link").read_text() == "int main;\n"


def test_tarball_without_top_folder(tmp_path):
    members = [(reg(i.name.split("/", 1)[1], d)[0], d) for i, d in KERNEL_MEMBERS if d is not None]
    tree = open_kernel_tree(make_tarball(tmp_path / "flat.tar", members))
    assert tree.version == "6.1.5" and (tree.path / "drivers" / "Kconfig").is_file()


def no_cached_trees(cache: Path) -> bool:
    """Nothing in the trees folder but lock files (kept: a lock file is never deleted)."""
    trees = cache / "trees" / "v1"
    return not trees.exists() or all(p.name.endswith(".lock") and p.is_file() for p in trees.iterdir())


@pytest.mark.parametrize("bad, why", [
    (reg("/etc/evil-talosnb"), "absolute path"),
    (reg("linux-6.1.5/../../evil-talosnb"), "'..'"),
    (link("linux-6.1.5/scripts/evil", "../../../etc/passwd"), "outside the tree"),
    (link("linux-6.1.5/scripts/evil", "/etc/passwd"), "absolute path"),
    (link("linux-6.1.5/scripts/evil", "../../../../etc/passwd", tarfile.LNKTYPE), "outside the tree"),
])
def test_unsafe_members_refused(tmp_path, isolated_env, bad, why):
    tarball = make_tarball(tmp_path / "evil.tar", [*KERNEL_MEMBERS[:4], bad, *KERNEL_MEMBERS[4:]])
    with pytest.raises(InputError) as e:
        open_kernel_tree(tarball)
    assert e.value.where == str(tarball)
    assert "unsafe tarball member" in e.value.message and why in e.value.message
    assert bad[0].name in e.value.message
    assert no_cached_trees(isolated_env)
    assert not (tmp_path / "evil-talosnb").exists()


def test_symlink_chain_escape_refused(tmp_path, isolated_env):
    # Each link is inside the tree on paper; together they lead out of it.
    chain = [link("linux-6.1.5/scripts/a", ".."), link("linux-6.1.5/scripts/a/b", ".."),
             link("linux-6.1.5/scripts/a/b/c", ".."), reg("linux-6.1.5/scripts/a/b/c/escaped-talosnb")]
    tarball = make_tarball(tmp_path / "chain.tar", [*KERNEL_MEMBERS, *chain])
    with pytest.raises(InputError, match="outside the tree"):
        open_kernel_tree(tarball)
    assert not list(isolated_env.parent.rglob("escaped-talosnb"))
    assert no_cached_trees(isolated_env)


def test_device_member_refused(tmp_path):
    dev = tarfile.TarInfo("linux-6.1.5/scripts/null")
    dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
    tarball = make_tarball(tmp_path / "dev.tar", [*KERNEL_MEMBERS, (dev, None)])
    with pytest.raises(InputError, match="device"):
        open_kernel_tree(tarball)


@needs_shared
def test_truncated_real_tarball(tmp_path, isolated_env):
    cut = tmp_path / "linux-6.12.117-kbuild.tar.xz"
    with open(SKELETON_612, "rb") as f:
        cut.write_bytes(f.read(400_000))
    with pytest.raises(InputError) as e:
        open_kernel_tree(cut)
    assert e.value.where == str(cut)
    assert "corrupt or truncated" in e.value.message and "download it again" in e.value.hint
    assert no_cached_trees(isolated_env)
    # No half-extracted folder is left to be mistaken for a tree either.
    assert not list((isolated_env / "trees" / "v1").glob(".partial-*"))


@pytest.mark.parametrize("name, data", [
    ("garbage.tar.xz", b"this is not xz at all" * 50),
    ("empty.tar.gz", b""),
    ("garbage.tar", random.Random(0).randbytes(3000)),
])
def test_corrupt_tarball(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(InputError) as e:
        open_kernel_tree(tmp_path / name)
    assert e.value.where == str(tmp_path / name) and "corrupt or truncated" in e.value.message


def test_not_a_kernel_tarball(tmp_path, isolated_env):
    tarball = make_tarball(tmp_path / "photos.tar.xz", [reg("photos/Makefile", b"all:\n"),
                                                         reg("photos/Kconfig", b"")])
    with pytest.raises(InputError) as e:
        open_kernel_tree(tarball, pkgfile_version="6.12.63")
    assert e.value.where == str(tarball)
    assert "not a kernel source tarball" in e.value.message and "6.12.63" in e.value.message
    assert no_cached_trees(isolated_env)


def test_damaged_cache_entry_is_replaced(tmp_path, isolated_env):
    tarball = make_tarball(tmp_path / "linux-6.1.5.tar", KERNEL_MEMBERS)
    tree = open_kernel_tree(tarball)
    (tree.path / "Makefile").unlink()
    again = open_kernel_tree(tarball)
    assert again.version == "6.1.5" and (again.path / "Makefile").is_file()


def test_changed_tarball_gets_new_extraction(tmp_path):
    tarball = make_tarball(tmp_path / "linux.tar", KERNEL_MEMBERS)
    first = open_kernel_tree(tarball)
    newer = [reg("linux-6.1.6/Makefile", b"VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 6\n"),
             reg("linux-6.1.6/Kconfig", b"")]
    make_tarball(tarball, newer)
    os.utime(tarball, ns=(1, 10**18))
    second = open_kernel_tree(tarball)
    assert (first.version, second.version) == ("6.1.5", "6.1.6") and first.path != second.path


# --------------------------------------------------------------------------- sample tarball + download

@pytest.fixture(scope="session")
def sample_tarball(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mirror")
    return write_tarball(SAMPLE / "linux", root / "v6.x" / "linux-6.12.0.tar.xz", top="linux-6.12.0")


def test_sample_pkgfile_hashes_are_those_of_the_sample_tarball(sample_tarball):
    info = parse_pkgfile(SAMPLE / "pkgs" / "Pkgfile")
    data = sample_tarball.read_bytes()
    assert info.linux_version == "6.12.0"
    assert hashlib.sha256(data).hexdigest() == info.linux_sha256, "run data/sample/regenerate.sh"
    assert hashlib.sha512(data).hexdigest() == info.linux_sha512


class Mirror:
    """A kernel.org-shaped HTTP server on 127.0.0.1 that counts requests."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                mirror.requests.append(self.path)
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror(sample_tarball):
    m = Mirror(sample_tarball.parents[1])
    yield m
    m.close()


def test_download_verified_and_cached(mirror, isolated_env, sample_tarball):
    sha = hashlib.sha256(sample_tarball.read_bytes()).hexdigest()
    path = fetch_kernel_tarball("6.12.0", sha, base_url=mirror.url, progress=False)
    assert path.read_bytes() == sample_tarball.read_bytes()
    assert path.is_relative_to(isolated_env)
    assert mirror.requests == ["/v6.x/linux-6.12.0.tar.xz"]
    assert fetch_kernel_tarball("6.12.0", sha, base_url=mirror.url, progress=False) == path
    assert len(mirror.requests) == 1


def test_download_bad_hash_refused(mirror, isolated_env):
    with pytest.raises(InputError) as e:
        fetch_kernel_tarball("6.12.0", "ab" * 32, base_url=mirror.url, progress=False)
    assert "does not match" in e.value.message and "removed" in e.value.message
    assert e.value.where == f"{mirror.url}/v6.x/linux-6.12.0.tar.xz"
    downloads = isolated_env / "downloads"
    assert not downloads.exists() or all(p.name.endswith(".lock") for p in downloads.iterdir())


def test_download_missing_version(mirror):
    with pytest.raises(InputError) as e:
        fetch_kernel_tarball("6.99.1", "ab" * 32, base_url=mirror.url, progress=False)
    assert "HTTP 404" in e.value.message and "kernel_src" in e.value.hint


def test_download_offline_names_kernel_src():
    with pytest.raises(InputError) as e:
        fetch_kernel_tarball("6.12.63", "ab" * 32, base_url="http://127.0.0.1:1", progress=False)
    assert "offline" in e.value.message and "kernel_src" in str(e.value)


def test_default_url_is_kernel_org(monkeypatch):
    assert kernel_tarball_url("6.12.63") == \
        "https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.12.63.tar.xz"
    monkeypatch.setenv("TALOSNB_KERNEL_MIRROR", "http://mirror.example/linux/")
    assert kernel_tarball_url("7.2.1") == "http://mirror.example/linux/v7.x/linux-7.2.1.tar.xz"


def test_resolve_downloads_the_pkgfile_version(mirror, monkeypatch):
    monkeypatch.setenv("TALOSNB_KERNEL_MIRROR", mirror.url)
    inputs = resolve_inputs(SAMPLE / "pkgs", SAMPLE / "talos")
    assert inputs.kernel.version == "6.12.0" and inputs.kernel.origin.name == "linux-6.12.0.tar.xz"
    assert (inputs.kernel.path / "scripts" / "Kconfig.include").is_file()
    assert inputs.checks == [] and not inputs.sample
    assert mirror.requests == ["/v6.x/linux-6.12.0.tar.xz"]


# --------------------------------------------------------------------------- resolve_inputs

def test_resolve_defaults_to_embedded_sample():
    inputs = resolve_inputs()
    assert inputs.sample
    assert inputs.pkgs.path == (SAMPLE / "pkgs").resolve()
    assert inputs.talos.path == (SAMPLE / "talos").resolve()
    assert inputs.kernel.path == (SAMPLE / "linux").resolve() and inputs.kernel.version == "6.12.0"
    assert inputs.checks == []
    inputs.raise_on_mismatch()
    assert data_dir() == REPO / "data"


@needs_shared
def test_resolve_honours_env(monkeypatch, shared_cache):
    use_cache(monkeypatch, shared_cache)
    monkeypatch.setenv("TALOSNB_PKGS", str(V110 / "pkgs"))
    monkeypatch.setenv("TALOSNB_TALOS", str(V110 / "talos"))
    monkeypatch.setenv("TALOSNB_KERNEL_SRC", str(SKELETON_612))
    inputs = resolve_inputs()
    assert not inputs.sample
    assert inputs.pkgs.path == V110 / "pkgs" and inputs.talos.path == V110 / "talos"
    assert inputs.kernel.version == "6.12.117"
    assert [(c.kind, c.other_version) for c in inputs.checks] == [("note", "6.12.63")] * 3
    assert "Pkgfile" in inputs.checks[0].what and "config-amd64" in inputs.checks[1].what
    inputs.raise_on_mismatch()  # notes are not mismatches
    # Arguments win over the environment.
    assert resolve_inputs(kernel_src=SAMPLE / "linux").kernel.version == "6.12.0"


@needs_shared
def test_resolve_reports_series_mismatch(shared_cache, monkeypatch):
    use_cache(monkeypatch, shared_cache)
    # Talos main's patches are made for 6.18 (0014's Kconfig hunk does not fit 6.12): read unpatched.
    with pytest.raises(InputError, match="0014-libceph"):
        resolve_inputs(MAIN / "pkgs", MAIN / "talos", SKELETON_612)
    inputs = resolve_inputs(MAIN / "pkgs", MAIN / "talos", SKELETON_612, patches=False)
    assert [c.kind for c in inputs.mismatches()] == ["mismatch"] * 3
    assert all(c.level == "error" for c in inputs.checks)
    with pytest.raises(VersionMismatchError) as e:
        inputs.raise_on_mismatch()
    assert "6.18.45" in str(e.value) and "6.12.117" in str(e.value)


def test_resolve_kernel_only(monkeypatch):
    monkeypatch.setenv("TALOSNB_KERNEL_SRC", str(SAMPLE / "linux"))
    inputs = resolve_inputs()
    assert inputs.pkgs is None and inputs.talos is None and not inputs.sample
    assert inputs.kernel.version == "6.12.0"


# --------------------------------------------------------------------------- the sample itself

def read_config(arch: str) -> dict[str, str]:
    values = {}
    for line in (SAMPLE / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text().splitlines():
        if line.startswith("CONFIG_"):
            name, value = line.split("=", 1)
            values[name[len("CONFIG_"):]] = value
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            values[line[len("# CONFIG_"):-len(" is not set")]] = "n"
    return values


def test_sample_module_lists_shape_and_deliberate_inconsistencies():
    for arch in ("amd64", "arm64"):
        lines = (SAMPLE / "talos" / "hack" / f"modules-{arch}.txt").read_text().splitlines()
        assert lines == sorted(lines)
        assert lines[-3:] == ["modules.builtin", "modules.builtin.modinfo", "modules.order"]
        assert all(x.startswith("kernel/") and x.endswith(".ko") for x in lines[:-3])
    amd64, arm64 = read_config("amd64"), read_config("arm64")
    arm64_list = (SAMPLE / "talos" / "hack" / "modules-arm64.txt").read_text().split()
    amd64_list = (SAMPLE / "talos" / "hack" / "modules-amd64.txt").read_text().split()
    assert "kernel/drivers/block/nbd.ko" in arm64_list and arm64["BLK_DEV_NBD"] == "y"
    assert "kernel/drivers/net/dummy.ko" in amd64_list and amd64["DUMMY"] == "n"
    assert amd64["BLK_DEV_NBD"] == "m" and amd64["E1000E"] == "m" and "E1000E" not in arm64
    assert arm64["MVPP2"] == "m" and "MVPP2" not in amd64
    assert amd64["CC_VERSION_TEXT"] == '"gcc (GCC) 14.2.0"' and amd64["GCC_VERSION"] == "140200"


def test_sample_config_headers_match_tree():
    tree = open_kernel_tree(SAMPLE / "linux")
    for arch, label in (("amd64", "x86"), ("arm64", "arm64")):
        h = dotconfig.header((SAMPLE / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text())
        assert (h.arch, h.version) == (label, tree.version)


BUILD_TOOLS = all(shutil.which(t) for t in ("make", "gcc", "flex", "bison"))


@needs_shared
@pytest.mark.skipif(not BUILD_TOOLS, reason="needs make, gcc, flex, bison to build the kernel's conf")
def test_sample_configs_are_what_kernel_conf_writes(tmp_path, shared_cache, monkeypatch):
    """Build the kernel's own conf and check the sample configs are its fixed point."""
    use_cache(monkeypatch, shared_cache)
    skeleton = tmp_path / "kernel"
    shutil.copytree(open_kernel_tree(SKELETON_612).path, skeleton, symlinks=True)
    subprocess.run(["make", "-s", "-C", str(skeleton), "ARCH=x86", "olddefconfig"], check=True,
                   capture_output=True)
    conf = skeleton / "scripts" / "kconfig" / "conf"
    for arch, karch in (("amd64", "x86"), ("arm64", "arm64")):
        run = tmp_path / arch
        run.mkdir()
        original = (SAMPLE / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text()
        (run / ".config").write_text(original)
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "srctree": str(SAMPLE / "linux"),
               "ARCH": karch, "SRCARCH": karch, "KERNELVERSION": "6.12.0", "CC": "gcc", "LD": "ld",
               "CC_VERSION_TEXT": "gcc (GCC) 14.2.0", "LD_VERSION_TEXT": "GNU ld (GNU Binutils) 2.44",
               "KCONFIG_CONFIG": ".config"}
        subprocess.run([str(conf), "-s", "--olddefconfig", str(SAMPLE / "linux" / "Kconfig")],
                       cwd=run, env=env, check=True, capture_output=True)
        assert (run / ".config").read_text() == original, arch


def test_messages_name_options_as_the_face_in_use(tmp_path):
    """Library messages name inputs neutrally; the command line's face says which flag that is."""
    from talosnb.cli.common import cli_name
    from talosnb.core.errors import face
    with pytest.raises(InputError) as python_face:
        PkgsCheckout(tmp_path / "nope")
    with face(cli_name), pytest.raises(InputError) as cli_face:
        PkgsCheckout(tmp_path / "nope")
    assert python_face.value.hint.startswith("pkgs takes") and cli_face.value.hint.startswith("--pkgs takes")
