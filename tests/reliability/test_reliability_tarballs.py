"""Hostile tarballs: no member lands outside the extraction folder, no file from outside is copied
in, and no link in the cached tree resolves outside it, whatever order the links come in."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest
from engine_fixtures import SAMPLE
from faults import talosnb, tmpfs
from tarballs import KERNEL_MEMBERS, add_members, link, make_tarball, reg, special

from talosnb.core.errors import InputError
from talosnb.core.limits import RESERVE
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
    "a FIFO where Kconfig reads": [special(f"{TOP}/scripts/Kconfig.fifo", tarfile.FIFOTYPE)],
    "a device where Kconfig reads": [special(f"{TOP}/scripts/Kconfig.zero", tarfile.CHRTYPE, 1, 5)],   # /dev/zero
    "a block device": [special(f"{TOP}/scripts/Makefile.disk", tarfile.BLKTYPE, 8, 0)],
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


# --------------------------------------------------------------------------- bombs and full disks

def bomb(path: Path, members: list, claimed: tuple[str, int], sent: int = 1 << 16) -> Path:
    """A gzip tarball of ``members`` then one member whose header claims ``claimed`` (name, size)
    and whose data stops after ``sent`` zero bytes: what a gzip bomb's stream looks like when its
    first member header is read (the rest would inflate to the claimed size)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        add_members(tar, members)
        body = raw.getvalue()[:raw.tell()]
    info = tarfile.TarInfo(claimed[0])
    info.size = claimed[1]
    with gzip.open(path, "wb") as f:
        f.write(body.rstrip(b"\0"))
        f.write(b"\0" * (-len(body.rstrip(b"\0")) % 512))
        f.write(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * sent)
    return path


def assert_no_tree_left(root: Path) -> None:
    trees = root / "cache" / "trees" / "v1"
    assert not trees.exists() or all(p.name.endswith(".lock") for p in trees.iterdir())


def test_a_5_gb_member_is_refused_before_a_byte_of_it_is_read(outside):
    """With the default caps: the header is enough (the 5 GB never reach memory or the cache)."""
    tarball = bomb(outside / "bomb.tar.gz", KERNEL_MEMBERS, (f"{TOP}/scripts/Kconfig.bomb", 5 << 30))
    assert tarball.stat().st_size < 100_000
    run = talosnb("get", "FOO", "--arch", "amd64", "--pkgs", str(SAMPLE / "pkgs"), "--kernel-src", str(tarball),
                  env={"TALOSNB_CACHE_DIR": str(outside / "cache")}, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "scripts/Kconfig.bomb' is 5.0 GB, more than the 256.0 MB" in run.stderr
    assert str(tarball) in run.stderr and "Traceback" not in run.stderr
    assert_no_tree_left(outside)


def test_members_adding_up_past_the_extraction_cap_are_refused(outside, monkeypatch):
    monkeypatch.setenv("TALOSNB_MAX_EXTRACT_SIZE", "2M")
    zeros = [reg(f"{TOP}/scripts/Kconfig.{n}", b"\0" * (900 << 10)) for n in "abc"]
    tarball = make_tarball(outside / "t.tar.gz", [*KERNEL_MEMBERS, *zeros])
    with pytest.raises(InputError) as e:
        open_kernel_tree(tarball)
    assert e.value.where == str(tarball)
    assert "would write more than 2.0 MB at member 'linux-6.1.5/scripts/Kconfig.c'" in e.value.message
    assert "TALOSNB_MAX_EXTRACT_SIZE" in e.value.hint
    assert_no_tree_left(outside)
    monkeypatch.setenv("TALOSNB_MAX_EXTRACT_SIZE", "3M")   # raised: the same tarball is extracted
    assert open_kernel_tree(tarball).damaged_files() == []


def test_a_tarball_unpacking_past_its_cap_is_refused_even_where_nothing_is_kept(outside, monkeypatch):
    """Members talosnb does not extract still cost the time to inflate them: capped too."""
    monkeypatch.setenv("TALOSNB_MAX_UNPACKED_SIZE", "1M")
    tarball = make_tarball(outside / "t.tar.gz", [*KERNEL_MEMBERS, reg(f"{TOP}/Documentation/big.rst",
                                                                        b"\0" * (2 << 20))])
    with pytest.raises(InputError, match="unpacks to more than 1.0 MB at member 'linux-6.1.5/Documentation/big.rst'"):
        open_kernel_tree(tarball)
    assert_no_tree_left(outside)


@pytest.mark.parametrize("value", ["lots", "0", "-5M", "1e9"])
def test_a_cap_that_is_not_a_size_exits_2_naming_the_variable(outside, monkeypatch, value):
    monkeypatch.setenv("TALOSNB_MAX_MEMBER_SIZE", value)
    with pytest.raises(InputError) as e:
        open_kernel_tree(make_tarball(outside / "t.tar", KERNEL_MEMBERS))
    assert e.value.where == "TALOSNB_MAX_MEMBER_SIZE" and "512M" in e.value.hint


def test_the_device_index_reader_and_the_checker_unpacking_refuse_a_bomb(outside):
    from talosnb.inputs.hardening import open_checker
    from talosnb.kbuild.devices import _files_of_tarball
    tarball = bomb(outside / "linux-6.1.5.tar.gz", KERNEL_MEMBERS, (f"{TOP}/drivers/net/bomb.c", 5 << 30))
    with pytest.raises(InputError, match="'linux-6.1.5/drivers/net/bomb.c' is 5.0 GB"):
        dict(_files_of_tarball(tarball))
    checker = bomb(outside / "checker.tar.gz", [reg("khc/bin/kernel-hardening-checker", b"#!/bin/sh\n")],
                   ("khc/kernel_hardening_checker/bomb.py", 5 << 30))
    with pytest.raises(InputError, match="'khc/kernel_hardening_checker/bomb.py' is 5.0 GB") as e:
        open_checker(checker)
    assert e.value.where == str(checker)
    tools = outside / "cache" / "tools" / "v1"
    assert not tools.exists() or all(p.name.endswith(".lock") for p in tools.iterdir())


def test_an_extraction_that_would_fill_the_disk_is_refused(outside, monkeypatch):
    """On a real small file system: the free space is checked before extracting, and what is
    written is counted against it, so talosnb stops before the disk is full."""
    with tmpfs(outside / "disk", (RESERVE >> 10) + 1024) as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here")
        monkeypatch.setenv("TALOSNB_CACHE_DIR", str(disk / "cache"))
        zeros = [reg(f"{TOP}/scripts/Kconfig.{n}", b"\0" * (400 << 10)) for n in "abcd"]
        tarball = make_tarball(outside / "t.tar.gz", [*KERNEL_MEMBERS, *zeros])
        with pytest.raises(InputError) as e:
            open_kernel_tree(tarball)
        assert e.value.message.startswith("not enough free space to extract t.tar.gz at member "
                                          "'linux-6.1.5/scripts/Kconfig.")
        assert "talosnb leaves 64.0 MB free" in e.value.message and "TALOSNB_CACHE_DIR" in e.value.hint
        assert shutil.disk_usage(disk).free > RESERVE - (1 << 20)
        trees = disk / "cache" / "trees" / "v1"
        assert all(p.name.endswith(".lock") for p in trees.iterdir())
    with tmpfs(outside / "small", 32 << 10) as small:
        assert small is not None
        monkeypatch.setenv("TALOSNB_CACHE_DIR", str(small / "cache"))
        with pytest.raises(InputError, match=r"not enough free space to extract t.tar.gz: the cache folder "
                                             r".*small/cache/trees/v1 had 32.0 MB free"):
            open_kernel_tree(tarball)
