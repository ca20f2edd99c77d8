"""Writes go where they were checked to go: the target's folder is opened once (no symlink on its
path) and the temporary file, the rename and the fsync go through that descriptor, so a folder
swapped for a symlink after the check can't send the write outside the checkout; an edit made by
another program between the check and the rename is kept and named; an output file the user
named that is a symlink is not written through unless asked. The windows are widened by the
write path's own hook (fileio.race_hook), not by timing luck; on copies of the real checkouts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from engine_fixtures import DATA, SAMPLE
from faults import copy_checkouts, talosnb

from talosnb.core import fileio
from talosnb.core.errors import FileChangedError, RefusedError
from talosnb.core.fileio import Snapshot, Transaction

needs_shared = pytest.mark.skipif(not DATA["v1.10"].is_dir(), reason="../shared is not beside the project")


@pytest.fixture
def work(tmp_path) -> Path:
    return copy_checkouts(DATA["v1.10"], tmp_path / "work")


def swap_for_symlink(folder: Path, to: Path) -> None:
    folder.rename(folder.with_name(folder.name + ".moved"))
    folder.symlink_to(to, target_is_directory=True)


@needs_shared
@pytest.mark.parametrize("stage", ["checked", "written"])
def test_a_folder_swapped_for_a_symlink_after_the_check_writes_nothing_outside(work, tmp_path, hook, stage):
    build = work / "pkgs" / "kernel" / "build"
    config = build / "config-amd64"
    old = config.read_bytes()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config-amd64").write_bytes(b"# outside the checkout\n")
    hook(stage, lambda: swap_for_symlink(build, outside))
    new = old.replace(b"CONFIG_NR_CPUS=", b"# edited\nCONFIG_NR_CPUS=", 1)
    tx = Transaction()
    tx.add(config, new, expect=Snapshot.of(config), root=work / "pkgs")
    if stage == "checked":
        with pytest.raises(RefusedError, match="replaced by a symlink"):
            tx.commit()
        assert (build.with_name("build.moved") / "config-amd64").read_bytes() == old
    else:   # the folder was opened before the swap: the write lands in it, where it was checked
        tx.commit()
        assert (build.with_name("build.moved") / "config-amd64").read_bytes() == new
    assert (outside / "config-amd64").read_bytes() == b"# outside the checkout\n"
    assert sorted(os.listdir(outside)) == ["config-amd64"]


@needs_shared
def test_a_target_swapped_for_a_symlink_after_the_check_is_refused(work, tmp_path, hook):
    config = work / "pkgs" / "kernel" / "build" / "config-amd64"
    victim = tmp_path / "victim"
    victim.write_text("mine\n")

    def swap() -> None:
        config.unlink()
        config.symlink_to(victim)
    hook("checked", swap)
    with pytest.raises(RefusedError, match="replaced by a symlink"):
        fileio.atomic_write(config, "new\n", root=work / "pkgs")
    assert victim.read_text() == "mine\n"


@needs_shared
@pytest.mark.parametrize("files", [1, 2])
def test_an_outside_edit_between_the_check_and_the_rename_is_kept_and_named(work, hook, files):
    build = work / "pkgs" / "kernel" / "build"
    paths = [build / "config-amd64", build / "config-arm64"][:files]
    old = {p: p.read_bytes() for p in paths}
    edited = paths[-1]

    def edit() -> None:
        with open(edited, "ab") as f:
            f.write(b"# an editor saved this meanwhile\n")
    hook("written", edit)
    tx = Transaction()
    for p in paths:
        tx.add(p, old[p] + b"# talosnb's change\n", expect=Snapshot.of(p), root=work / "pkgs")
    with pytest.raises(FileChangedError, match="changed on disk while") as caught:
        tx.commit()
    assert str(edited) in str(caught.value)
    assert edited.read_bytes() == old[edited] + b"# an editor saved this meanwhile\n"
    assert all(p.read_bytes() == old[p] for p in paths if p != edited)   # nothing written
    assert not [n for n in os.listdir(build) if ".talosnb-" in n]


@needs_shared
def test_an_outside_edit_between_two_renames_is_kept_and_named(work, hook):
    """Past the commit point each target is checked again right before its own rename: the edit made
    to the second file while the first is renamed is kept, and the error says which file was written."""
    build = work / "pkgs" / "kernel" / "build"
    first, second = build / "config-amd64", build / "config-arm64"
    old = {p: p.read_bytes() for p in (first, second)}

    def edit() -> None:
        with open(second, "ab") as f:
            f.write(b"# an editor saved this meanwhile\n")
    hook("renaming", edit)
    tx = Transaction()
    for p in (first, second):
        tx.add(p, old[p] + b"# talosnb's change\n", expect=Snapshot.of(p), root=work / "pkgs")
    with pytest.raises(FileChangedError, match="changed on disk while it was being replaced") as caught:
        tx.commit()
    assert caught.value.files == (str(second),) and f"written: {first}" in str(caught.value)
    assert first.read_bytes() == old[first] + b"# talosnb's change\n"
    assert second.read_bytes() == old[second] + b"# an editor saved this meanwhile\n"
    assert not [n for n in os.listdir(build) if ".talosnb-" in n]   # no journal, no temporary file left


def sample_args(root: Path) -> list[str]:
    return ["--pkgs", str(root / "pkgs"), "--talos", str(root / "talos"), "--kernel-src", str(root / "linux")]


def test_normalize_output_through_a_symlink_is_refused_unless_asked(sample, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("mine\n")
    link = tmp_path / "out-config"
    link.symlink_to(victim)
    env = {"TALOSNB_CACHE_DIR": str(tmp_path / "cache")}
    run = talosnb("normalize", *sample_args(sample), "--arch", "amd64", "--output", str(link), env=env)
    assert run.returncode == 1 and "is a symlink" in run.stderr and "--follow-symlinks" in run.stderr, run.stderr
    assert victim.read_text() == "mine\n" and link.is_symlink()
    run = talosnb("normalize", *sample_args(sample), "--arch", "amd64", "--output", str(link), "--follow-symlinks",
                  env=env)
    assert run.returncode == 0, run.stderr
    assert victim.read_text().startswith("#\n# Automatically generated file")


def test_export_output_through_a_symlink_is_refused_before_anything_runs(tmp_path):
    victim = tmp_path / "victim.html"
    victim.write_text("mine\n")
    link = tmp_path / "out.html"
    link.symlink_to(victim)
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "07-menu-tree.ipynb"
    run = talosnb("export", str(notebook), "-o", str(link), env={"TALOSNB_CACHE_DIR": str(tmp_path / "cache")})
    assert run.returncode == 1 and "is a symlink" in run.stderr, run.stderr
    assert victim.read_text() == "mine\n"


@pytest.fixture
def sample(tmp_path) -> Path:
    import shutil
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    return root
