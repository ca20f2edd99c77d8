"""A damaged cache is never trusted: flipped bits in every kind of cache file (the parsed Kconfig
tree, the Kbuild map, an extracted tree's manifest and its files) give a warning, the damaged file
is deleted and rebuilt, and the answer is the one a clean cache gives."""

from __future__ import annotations

import os
import random
import shutil
import warnings
from pathlib import Path

import pytest
from engine_fixtures import DATA, SAMPLE, real_config

from talosnb.core import cachefile
from talosnb.core.errors import TalosnbWarning
from talosnb.inputs.kernel_tree import MANIFEST, open_kernel_tree, write_tarball
from talosnb.kbuild import load_kbuild_map
from talosnb.kbuild.cache import cache_path
from talosnb.kbuild.cache import engine as kbuild_engine
from talosnb.kconfig.config import Config
from talosnb.kconfig.tree import KconfigTree, _cache_file, _engine_fingerprint

FLIPS = 30


def flip(path: Path, rng: random.Random, *, at: int | None = None) -> int:
    """Flip one bit (at byte ``at``, else a random one) keeping the file's mtime; returns the byte."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    where = rng.randrange(len(data)) if at is None else at
    data[where] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return where


def warned(caught, text: str) -> bool:
    return any(issubclass(w.category, TalosnbWarning) and text in str(w.message) for w in caught)


def sample_config(arch: str) -> str:
    return (SAMPLE / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text()


# --------------------------------------------------------------------------- the parsed tree

@pytest.fixture
def sample_tree(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    tree = tmp_path / "linux"
    shutil.copytree(SAMPLE / "linux", tree)
    return tree


@pytest.mark.parametrize("seed", range(FLIPS))
def test_bit_flip_in_the_cached_kconfig_tree(sample_tree, seed):
    clean = Config.from_text(KconfigTree.load(sample_tree, "amd64"), sample_config("amd64")).text()
    file = _cache_file(sample_tree.resolve(), "6.12.0", "amd64")
    assert file.is_file()
    flip(file, random.Random(seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tree = KconfigTree.load(sample_tree, "amd64")
    assert not tree.from_cache
    assert warned(caught, "damaged") or not caught   # a flip in the engine name: stale, replaced silently
    assert Config.from_text(tree, sample_config("amd64")).text() == clean
    # the damaged file was replaced by a good one
    assert KconfigTree.load(sample_tree, "amd64").from_cache


def test_a_cache_file_that_fails_to_unpickle_is_rebuilt(sample_tree):
    clean = Config.from_text(KconfigTree.load(sample_tree, "amd64"), sample_config("amd64")).text()
    file = _cache_file(sample_tree.resolve(), "6.12.0", "amd64")
    cachefile.write(file, b"not a pickle at all", engine=_engine_fingerprint())   # a good digest
    with pytest.warns(TalosnbWarning, match="unpickling failed"):
        tree = KconfigTree.load(sample_tree, "amd64")
    assert Config.from_text(tree, sample_config("amd64")).text() == clean


def test_a_cut_off_cache_file_is_rebuilt(sample_tree):
    KconfigTree.load(sample_tree, "arm64")
    file = _cache_file(sample_tree.resolve(), "6.12.0", "arm64")
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.warns(TalosnbWarning, match="does not match its digest"):
        assert not KconfigTree.load(sample_tree, "arm64").from_cache


def test_real_tree_flip_in_a_symbol_name_is_caught(trees, tmp_path, monkeypatch):
    """The case that once turned INFINIBAND_MTHCA into INFINIBAND^MTHCA and advised --allow-drop."""
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    config_text = real_config("v1.10", "amd64")
    clean = Config.from_text(KconfigTree.load(trees["6.12"], "amd64"), config_text)
    file = _cache_file(trees["6.12"].resolve(), "6.12.117", "amd64")
    data = file.read_bytes()
    at = data.index(b"INFINIBAND_MTHCA") + len("INFINIBAND")
    flip(file, random.Random(1), at=at)
    with pytest.warns(TalosnbWarning, match="damaged"):
        tree = KconfigTree.load(trees["6.12"], "amd64")
    again = Config.from_text(tree, config_text)
    assert again.has_symbol("INFINIBAND_MTHCA")
    assert [n for n in again.notes if n.kind == "unknown-symbol"] == \
        [n for n in clean.notes if n.kind == "unknown-symbol"]
    assert again.text() == clean.text()


# --------------------------------------------------------------------------- the Kbuild map

@pytest.mark.parametrize("seed", range(FLIPS))
def test_bit_flip_in_the_cached_kbuild_map(sample_tree, tmp_path, seed):
    clean = load_kbuild_map(sample_tree, "x86")
    file = cache_path(sample_tree, "x86")
    flip(file, random.Random(100 + seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kmap = load_kbuild_map(sample_tree, "x86")
    assert warned(caught, "damaged") or not caught
    assert kmap.modules == clean.modules and kmap.files == clean.files
    assert cachefile.read(file, engine=kbuild_engine(), what="map") is not None   # rebuilt, good again


def test_real_kbuild_map_flip(trees, tmp_path, monkeypatch):
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    clean = load_kbuild_map(trees["6.12"], "arm64")
    file = cache_path(trees["6.12"], "arm64")
    rng = random.Random(7)
    flip(file, rng, at=len(file.read_bytes()) // 2)
    with pytest.warns(TalosnbWarning, match="Kbuild map for arm64 is damaged"):
        kmap = load_kbuild_map(trees["6.12"], "arm64")
    assert kmap.modules == clean.modules


# --------------------------------------------------------------------------- extracted trees

@pytest.fixture
def sample_tarball(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    return write_tarball(SAMPLE / "linux", tmp_path / "linux-6.12.0.tar.xz", top="linux-6.12.0")


@pytest.mark.parametrize("seed", range(12))
def test_bit_flip_in_an_extracted_tree_file_or_its_manifest(sample_tarball, seed):
    tree = open_kernel_tree(sample_tarball)
    clean = Config.from_text(KconfigTree.load(tree.path, "amd64", use_cache=False), sample_config("amd64")).text()
    rng = random.Random(200 + seed)
    files = sorted(p for p in tree.extraction.rglob("*") if p.is_file() and not p.is_symlink())
    victim = tree.extraction / MANIFEST if seed % 4 == 0 else rng.choice(files)
    flip(victim, rng)
    with warnings.catch_warnings(record=True):   # a damaged manifest is also said on its own
        warnings.simplefilter("always")
        assert tree.damaged_files()
    with pytest.warns(TalosnbWarning, match="extracting it again"):
        tree.ensure_intact()
    assert tree.damaged_files() == []
    loaded = KconfigTree.load(tree.path, "amd64", use_cache=False, check_sources=tree.ensure_intact)
    assert Config.from_text(loaded, sample_config("amd64")).text() == clean


def test_files_added_or_removed_in_an_extracted_tree_are_damage(sample_tarball):
    tree = open_kernel_tree(sample_tarball)
    (tree.path / "drivers" / "Kconfig.extra").write_text("config EXTRA\n\tbool\n")
    kconfig = tree.path / "init" / "Kconfig"
    kconfig.unlink()
    assert tree.damaged_files() == ["linux-6.12.0/drivers/Kconfig.extra", "linux-6.12.0/init/Kconfig"]
    with pytest.warns(TalosnbWarning):
        tree.ensure_intact()
    assert kconfig.is_file() and not (tree.path / "drivers" / "Kconfig.extra").exists()


def test_a_folder_the_user_gave_is_never_touched(sample_tree):
    from talosnb.inputs.kernel_tree import KernelTree
    tree = KernelTree.open(sample_tree)
    (sample_tree / "init" / "Kconfig").write_text((sample_tree / "init" / "Kconfig").read_text() + "\n")
    assert tree.extraction is None and tree.damaged_files() == []
    tree.ensure_intact()   # nothing to compare with: no warning, nothing changed


@pytest.mark.skipif(not DATA["v1.10"].is_dir(), reason="../shared is not beside the project")
def test_damaged_file_in_the_real_extracted_tree_is_found_before_it_is_parsed(tmp_path, monkeypatch):
    """Once reported as 'this Kconfig construct is not supported; please report it'."""
    from engine_fixtures import SHARED
    from faults import copy_checkouts

    from talosnb.app.session import Session
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    work = copy_checkouts(DATA["v1.10"], tmp_path / "work")
    tarball = SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"
    first = Session.open(work / "pkgs", None, tarball, arch="amd64")
    clean = first.configs["amd64"].text()
    kconfig = first.inputs.kernel.path / "drivers" / "infiniband" / "hw" / "mthca" / "Kconfig"
    data = kconfig.read_bytes()
    flip(kconfig, random.Random(3), at=data.index(b"INFINIBAND_MTHCA") + len("INFINIBAND"))
    shutil.rmtree(tmp_path / "cache" / "kconfig")   # so the tree is parsed again
    with pytest.warns(TalosnbWarning, match="is damaged .*mthca/Kconfig.*extracting it again"):
        again = Session.open(work / "pkgs", None, tarball, arch="amd64")
    assert again.configs["amd64"].text() == clean
