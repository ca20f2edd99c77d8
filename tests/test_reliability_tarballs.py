"""Hostile tarballs: no member lands outside the extraction folder, no file from outside is copied
in, and no link in the cached tree resolves outside it, whatever order the links come in."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from test_sources import KERNEL_MEMBERS, link, make_tarball, reg

from talosnb.core.errors import InputError
from talosnb.inputs.kernel_tree import open_kernel_tree

TOP = "linux-6.1.5"
SECRET = b"talosnb-secret-outside-the-tarball\n"
HARD = tarfile.LNKTYPE


@pytest.fixture
def outside(tmp_path, monkeypatch) -> Path:
    """A cache inside tmp_path/cache, and a secret file beside it that must never be read."""
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "secret").write_bytes(SECRET)
    return tmp_path


HOSTILE = {
    "hardlink through an in-tree 's -> .' symlink": [
        link(f"{TOP}/scripts/s", "."),
        link(f"{TOP}/scripts/Kconfig.stolen", f"{TOP}/scripts/s/../../../secret", HARD)],
    "hardlink through a chain made in the wrong order": [
        link(f"{TOP}/scripts/a", "b"), link(f"{TOP}/scripts/b", "."),   # a is made before what it names
        link(f"{TOP}/scripts/Kconfig.stolen", f"{TOP}/scripts/a/b/../../../../secret", HARD)],
    "chain L -> d/d/d/../../.. created before d -> .": [
        link(f"{TOP}/scripts/L", "d/d/d/../../../.."), link(f"{TOP}/scripts/d", ".")],
    "chain a -> .., a/b -> ..": [link(f"{TOP}/scripts/a", ".."), link(f"{TOP}/scripts/a/b", "..")],
    "member written through a symlink": [
        link(f"{TOP}/scripts/up", ".."), reg(f"{TOP}/scripts/up/Kconfig.planted", b"config X\n")],
    "symlink to an absolute path": [link(f"{TOP}/scripts/evil", "/etc/passwd")],
    "symlink out through ..": [link(f"{TOP}/scripts/evil", "../../../secret")],
    "hardlink out through ..": [link(f"{TOP}/scripts/Kconfig.stolen", "../secret", HARD)],
    "hardlink to an absolute path": [link(f"{TOP}/scripts/Kconfig.stolen", "/etc/passwd", HARD)],
    "hardlink to a symlink of the archive": [
        link(f"{TOP}/scripts/l", "../Makefile"), link(f"{TOP}/scripts/Kconfig.h", f"{TOP}/scripts/l", HARD)],
    "symlink replacing a folder": [
        reg(f"{TOP}/scripts/dir/Kconfig.inside", b""), link(f"{TOP}/scripts/dir", "..")],
    "long chain, each step in-tree, the last one out": [
        link(f"{TOP}/scripts/c1", "c2"), link(f"{TOP}/scripts/c2", "c3"), link(f"{TOP}/scripts/c3", "sub/../c4"),
        link(f"{TOP}/scripts/sub", "."), link(f"{TOP}/scripts/c4", "../../..")],
    "absolute member name": [reg("/tmp/talosnb-planted-absolute")],
    "member name with ..": [reg(f"{TOP}/../../talosnb-planted")],
}


def assert_nothing_escaped(root: Path) -> None:
    cache = root / "cache"
    for dirpath, dirnames, filenames in os.walk(cache):
        for name in (*dirnames, *filenames):
            path = Path(dirpath, name)
            if path.is_symlink():
                assert os.path.realpath(path).startswith(str(cache.resolve()) + os.sep), path
            elif path.is_file():
                assert path.read_bytes() != SECRET, f"{path} holds the secret from outside"
    assert sorted(p.name for p in root.iterdir()) in (["cache", "secret"], ["cache", "secret", "t.tar"])
    assert not Path("/tmp/talosnb-planted-absolute").exists()
    assert (root / "secret").read_bytes() == SECRET


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tarball(outside, case):
    tarball = make_tarball(outside / "t.tar", [*KERNEL_MEMBERS, *HOSTILE[case]])
    with pytest.raises(InputError) as e:
        open_kernel_tree(tarball)
    assert e.value.where == str(tarball) and "unsafe tarball member" in e.value.message
    assert "check where it came from" in e.value.hint
    trees = outside / "cache" / "trees" / "v1"
    assert not trees.exists() or all(p.name.endswith(".lock") for p in trees.iterdir()), \
        "a refused tarball leaves no tree behind (its lock file stays: lock files are never deleted)"
    assert_nothing_escaped(outside)


@pytest.mark.parametrize("members", [
    [link(f"{TOP}/scripts/dtc/include-prefixes/arm64", "../../../arch/arm64/boot/dts")],   # as in the kernel
    [link(f"{TOP}/scripts/dummy-tools/nm", "ld"), reg(f"{TOP}/scripts/dummy-tools/ld", b"#!/bin/sh\n", 0o755)],
    [link(f"{TOP}/scripts/x", "y"), link(f"{TOP}/scripts/y", "x")],      # a loop, inside
    [link(f"{TOP}/Kconfig.same", f"{TOP}/Kconfig", HARD)],
    # an unneeded symlink is not extracted, so a hard link through it finds nothing to copy
    [link(f"{TOP}/s", "."), link(f"{TOP}/Kconfig.y", f"{TOP}/s/s/s/../../../secret", HARD)],
    # links are made last: a hard link through links that come after it finds nothing to copy
    [link(f"{TOP}/scripts/Kconfig.z", f"{TOP}/scripts/a/b/../../../../secret", HARD),
     link(f"{TOP}/scripts/a", "b"), link(f"{TOP}/scripts/b", ".")],
])
def test_harmless_links_are_kept_inside(outside, members):
    tree = open_kernel_tree(make_tarball(outside / "t.tar", [*KERNEL_MEMBERS, *members]))
    assert tree.version == "6.1.5"
    assert_nothing_escaped(outside)
    assert tree.damaged_files() == []


def test_hard_link_inside_is_a_copy(outside):
    tree = open_kernel_tree(make_tarball(outside / "t.tar",
                                         [*KERNEL_MEMBERS, link(f"{TOP}/Kconfig.same", f"{TOP}/Kconfig", HARD)]))
    same = tree.path / "Kconfig.same"
    assert same.read_bytes() == (tree.path / "Kconfig").read_bytes() and not same.is_symlink()
    assert same.stat().st_nlink == 1
