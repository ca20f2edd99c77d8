"""Nothing lost, ever: writes of several files under kill -9, concurrent writers, a full disk,
read-only targets and symlinks, on copies of the real Talos checkouts."""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pytest
from engine_fixtures import DATA
from faults import KILLED, LineKiller, copy_checkouts, fork, leftovers, tmpfs

from talosnb.core import fileio
from talosnb.core.errors import FileChangedError, InputError, RefusedError, TalosnbWarning
from talosnb.core.fileio import Snapshot, Transaction, recover
from talosnb.inputs.checkouts import PkgsCheckout, TalosCheckout

needs_shared = pytest.mark.skipif(not DATA["v1.10"].is_dir(), reason="../shared is not beside the project")
ARCHES = ("amd64", "arm64")


@pytest.fixture
def checkouts(tmp_path) -> Path:
    return copy_checkouts(DATA["v1.10"], tmp_path / "work")


def files(root: Path) -> dict[str, Path]:
    """The four files a save writes: both configs, both module lists."""
    out = {f"config-{a}": root / "pkgs" / "kernel" / "build" / f"config-{a}" for a in ARCHES}
    out.update({f"modules-{a}.txt": root / "talos" / "hack" / f"modules-{a}.txt" for a in ARCHES})
    return out


def edited(name: str, data: bytes, tag: str) -> bytes:
    """A new version of a real file: one line changed (configs) or one entry added (lists)."""
    if name.startswith("config-"):
        return data.replace(b"CONFIG_NR_CPUS=", f"# {tag}\nCONFIG_NR_CPUS=".encode(), 1)
    return data + f"kernel/drivers/net/{tag}.ko\n".encode()


def folders(root: Path) -> list[Path]:
    return [root / "pkgs" / "kernel" / "build", root / "talos" / "hack"]


def write_all(paths: dict[str, Path], new: dict[str, bytes], root: Path, snapshots=None) -> list[Path]:
    tx = Transaction()
    for name, path in paths.items():
        tx.add(path, new[name], expect=(snapshots or {}).get(name), root=root)
    return tx.commit()


# --------------------------------------------------------------------------- kill -9

@needs_shared
def test_kill_at_random_points_of_a_four_file_write_leaves_all_old_or_all_new(checkouts):
    """kill -9 at a random line of the write (temp files, journals, renames, cleanup): after the next
    run opens the checkouts, the two configs and the two module lists are all old or all new, and no
    temporary file or journal is left."""
    paths = files(checkouts)
    old = {name: p.read_bytes() for name, p in paths.items()}
    new = {name: edited(name, data, "talosnb-kill") for name, data in old.items()}
    snapshots = {name: Snapshot.of(p) for name, p in paths.items()}
    with LineKiller(fileio.__file__) as counter:   # how many lines a whole write runs
        write_all(paths, new, checkouts, snapshots)
    total = counter.count
    assert {name: p.read_bytes() for name, p in paths.items()} == new
    rng = random.Random(15)
    outcomes = {"old": 0, "new": 0}
    points = sorted(rng.sample(range(1, total + 1), min(total, 60)))
    for at in points:
        for name, p in paths.items():
            p.write_bytes(old[name])

        def child(at=at):
            with LineKiller(fileio.__file__, at):
                write_all(paths, new, checkouts, snapshots)
        assert fork(child) == KILLED, f"the write finished before line {at} of {total}"
        # the next run: opening the checkouts finishes (or undoes) the interrupted write
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TalosnbWarning)
            opened = [lambda: PkgsCheckout(checkouts / "pkgs"), lambda: TalosCheckout(checkouts / "talos")]
            for open_one in (opened if at % 2 else opened[::-1]):
                open_one()
        now = {name: p.read_bytes() for name, p in paths.items()}
        state = "new" if now == new else "old" if now == old else None
        assert state, f"killed at line {at} of {total}: mixed " + str(
            {n: ("new" if now[n] == new[n] else "old" if now[n] == old[n] else "other") for n in now})
        assert not leftovers(*folders(checkouts)), f"killed at line {at}: {leftovers(*folders(checkouts))}"
        outcomes[state] += 1
    # the kills fell on both sides of the commit point
    assert outcomes["old"] >= 5 and outcomes["new"] >= 5, (outcomes, total)


@needs_shared
def test_interrupted_write_is_finished_with_a_warning_naming_the_files(checkouts):
    paths = files(checkouts)
    old = {name: p.read_bytes() for name, p in paths.items()}
    new = {name: edited(name, data, "talosnb-warn") for name, data in old.items()}
    # kill right after the first rename: the commit point is passed
    real_replace = os.replace
    renamed = []

    def child():
        def replace(src, dst, **kwargs):
            if not str(src).endswith(".json") and ".talosnb-journal-" not in str(src):
                renamed.append(dst)
                if len(renamed) == 2:
                    os.kill(os.getpid(), 9)
            return real_replace(src, dst, **kwargs)
        os.replace = replace
        write_all(paths, new, checkouts)
    assert fork(child) == KILLED
    assert sum(p.read_bytes() == new[n] for n, p in paths.items()) == 1   # one file written, three pending
    with pytest.warns(TalosnbWarning, match="interrupted while writing; finished writing") as caught:
        PkgsCheckout(checkouts / "pkgs")
    message = " ".join(str(w.message) for w in caught)
    assert all(str(p) in message for n, p in paths.items() if n.startswith("config") and
               old[n] != p.read_bytes()) or "config-arm64" in message
    assert {n: p.read_bytes() for n, p in paths.items()} == new
    assert not leftovers(*folders(checkouts))


def test_a_killed_run_before_its_commit_point_changes_nothing(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "one").write_text("old 1\n")
    (b / "two").write_text("old 2\n")
    real_open = os.open

    def child():
        def open_(path, *args, dir_fd=None, **kwargs):
            folder = os.readlink(f"/proc/self/fd/{dir_fd}") if dir_fd is not None else os.path.dirname(path)
            if folder == str(a) and str(path).endswith(".json"):   # the primary journal
                os.kill(os.getpid(), 9)
            return real_open(path, *args, dir_fd=dir_fd, **kwargs)
        os.open = open_
        tx = Transaction()
        tx.add(a / "one", "new 1\n")
        tx.add(b / "two", "new 2\n")
        tx.commit()
    assert fork(child) == KILLED
    assert leftovers(a, b)   # temp files and the other folder's journal
    with pytest.warns(TalosnbWarning, match="before it replaced any file"):
        recover(b)
    with pytest.warns(TalosnbWarning, match="nothing had changed"):
        recover(a)
    assert (a / "one").read_text() == "old 1\n" and (b / "two").read_text() == "old 2\n"
    assert not leftovers(a, b)


# --------------------------------------------------------------------------- concurrent writers

@needs_shared
def test_concurrent_writers_serialize_or_refuse_never_lose_an_update(checkouts):
    """Pairs of writers started together on the same checkout: each loads, edits, writes. Both may
    succeed only one after the other (the second saw the first's result); otherwise one is refused
    as changed on disk. No change reported as written is ever missing."""
    paths = {n: p for n, p in files(checkouts).items() if n.startswith("config")}
    original = {name: p.read_bytes() for name, p in paths.items()}
    results = {"both": 0, "one refused": 0}
    for pair in range(60):
        for name, p in paths.items():
            p.write_bytes(original[name])
        go_r, go_w = os.pipe()

        def writer(tag: str, pair: int = pair, go_r: int = go_r) -> int:
            os.read(go_r, 1)   # wait for the start signal, given to both at once
            if tag == "b" and pair % 3:
                time.sleep(random.random() * 0.004)
            # loaded as talosnb loads a file: one read gives the bytes and their digest
            loaded = {n: (data, Snapshot(p, fileio.digest(data)))
                      for n, p in paths.items() for data in [p.read_bytes()]}
            new = {n: edited(n, data, f"talosnb-{pair}-{tag}") for n, (data, _) in loaded.items()}
            try:
                write_all(paths, new, checkouts, {n: snap for n, (_, snap) in loaded.items()})
            except FileChangedError:
                return 1
            return 0
        pids = []
        for tag in ("a", "b"):
            pid = os.fork()
            if pid == 0:  # pragma: no cover
                code = 99
                try:
                    code = writer(tag)
                finally:
                    os._exit(code)
            pids.append(pid)
        os.write(go_w, b"xx")
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        os.close(go_r)
        os.close(go_w)
        assert set(codes) <= {0, 1}, codes
        final = {n: p.read_bytes() for n, p in paths.items()}
        for tag, code in zip("ab", codes, strict=True):
            if code == 0:   # reported written: its change is there, in both files
                assert all(f"# talosnb-{pair}-{tag}\n".encode() in data for data in final.values()), (pair, tag)
        assert 0 in codes, f"pair {pair}: both refused"
        results["both" if codes == [0, 0] else "one refused"] += 1
        assert not leftovers(*folders(checkouts))
    assert results["one refused"] > 0, results


def test_a_held_lock_makes_a_writer_wait_then_refuse(tmp_path):
    target = tmp_path / "config-amd64"
    target.write_text("old\n")
    with fileio.FolderLock([tmp_path]):
        start = time.monotonic()
        tx = Transaction(lock_timeout=0.3)
        tx.add(target, "new\n")
        with pytest.raises(RefusedError, match="another talosnb run") as e:
            tx.commit()
        assert time.monotonic() - start >= 0.3 and e.value.exit_code == 1
    assert target.read_text() == "old\n" and not leftovers(tmp_path)


# --------------------------------------------------------------------------- disk full, read-only

@needs_shared
def test_disk_full_between_two_writes_leaves_both_configs_unchanged(tmp_path):
    config = {a: (DATA["v1.10"] / "pkgs" / "kernel" / "build" / f"config-{a}").read_bytes() for a in ARCHES}
    # room for both configs and one more: the second new config does not fit
    size_kb = (sum(len(v) for v in config.values()) + max(len(v) for v in config.values())) // 1024 + 40
    with tmpfs(tmp_path / "disk", size_kb) as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here (test_disk_full_injected covers the same path)")
        build = disk / "pkgs" / "kernel" / "build"
        build.mkdir(parents=True)
        for arch, data in config.items():
            (build / f"config-{arch}").write_bytes(data)
        filler = disk / "filler"
        free = shutil.disk_usage(disk).free
        filler.write_bytes(b"\0" * max(0, free - len(config["amd64"]) - 64 * 1024))
        tx = Transaction()
        for arch, data in config.items():
            tx.add(build / f"config-{arch}", edited(f"config-{arch}", data, "talosnb-full"), root=disk / "pkgs")
        with pytest.raises(InputError) as e:
            tx.commit()
        assert "No space left on device" in e.value.message and "nothing was written" in e.value.message
        assert e.value.hint == "free some space on that disk"
        assert {a: (build / f"config-{a}").read_bytes() for a in ARCHES} == config
        assert not leftovers(build)


def test_disk_full_injected_at_each_temp_file(tmp_path, monkeypatch):
    """The same as on a tmpfs, where none can be mounted: ENOSPC at the first or the second fsync."""
    a, b = tmp_path / "config-amd64", tmp_path / "config-arm64"
    a.write_text("old a\n")
    b.write_text("old b\n")
    real_fsync = os.fsync
    for failing in (1, 2):
        calls = []

        def fsync(fd, failing=failing, calls=calls):
            calls.append(fd)
            if len(calls) == failing:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_fsync(fd)
        monkeypatch.setattr(os, "fsync", fsync)
        tx = Transaction()
        tx.add(a, "new a\n")
        tx.add(b, "new b\n")
        with pytest.raises(InputError, match="No space left on device.*nothing was written"):
            tx.commit()
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert (a.read_text(), b.read_text()) == ("old a\n", "old b\n") and not leftovers(tmp_path)


def test_a_read_only_folder_for_one_arch_leaves_the_other_unchanged(tmp_path):
    one, two = tmp_path / "pkgs", tmp_path / "talos"
    one.mkdir()
    two.mkdir()
    (one / "config-amd64").write_text("old\n")
    (two / "modules-amd64.txt").write_text("old\n")
    if subprocess.run(["chattr", "+i", str(two)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not possible here")
    try:
        tx = Transaction()
        tx.add(one / "config-amd64", "new\n")
        tx.add(two / "modules-amd64.txt", "new\n")
        with pytest.raises(InputError) as e:
            tx.commit()
        assert e.value.where == str(two / "modules-amd64.txt") and "nothing was written" in e.value.message
        assert str(one / "config-amd64") in e.value.message   # it says the other file wasn't written either
    finally:
        subprocess.run(["chattr", "-i", str(two)], check=False)
    assert (one / "config-amd64").read_text() == "old\n" and not leftovers(one, two)


# --------------------------------------------------------------------------- symlinks, folders

def test_symlink_leading_outside_the_checkout_is_refused(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    hack = tmp_path / "talos" / "hack"
    hack.mkdir(parents=True)
    (hack / "modules-arm64.txt").symlink_to(outside)
    tx = Transaction()
    tx.add(hack / "modules-arm64.txt", "kernel/x.ko\n", root=tmp_path / "talos")
    with pytest.raises(RefusedError) as e:
        tx.commit()
    assert e.value.where == str(hack / "modules-arm64.txt") and str(outside) in e.value.message
    assert "follow_symlinks=True" in e.value.hint   # the option, as Python code names it
    assert outside.read_text() == "precious\n"
    # allowed explicitly, the link is written through
    tx = Transaction(follow_symlinks=True)
    tx.add(hack / "modules-arm64.txt", "kernel/x.ko\n", root=tmp_path / "talos")
    tx.commit()
    assert outside.read_text() == "kernel/x.ko\n" and (hack / "modules-arm64.txt").is_symlink()


def test_symlink_inside_the_checkout_is_written_through(tmp_path):
    talos = tmp_path / "talos"
    (talos / "hack").mkdir(parents=True)
    (talos / "lists").mkdir()
    (talos / "lists" / "arm64.txt").write_text("old\n")
    (talos / "hack" / "modules-arm64.txt").symlink_to("../lists/arm64.txt")
    tx = Transaction()
    tx.add(talos / "hack" / "modules-arm64.txt", "new\n", root=talos)
    assert tx.commit() == [talos / "hack" / "modules-arm64.txt"]
    assert (talos / "lists" / "arm64.txt").read_text() == "new\n"
    assert (talos / "hack" / "modules-arm64.txt").is_symlink()


def test_a_folder_where_the_file_should_be_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "config-amd64").write_text("old\n")
    (tmp_path / "config-arm64").mkdir()
    tx = Transaction()
    tx.add(tmp_path / "config-amd64", "new\n")
    tx.add(tmp_path / "config-arm64", "new\n")
    with pytest.raises(InputError, match="is a folder, expected a file") as e:
        tx.commit()
    assert e.value.where == str(tmp_path / "config-arm64")
    assert (tmp_path / "config-amd64").read_text() == "old\n"


def test_changed_on_disk_names_every_changed_file_and_writes_none(tmp_path):
    paths = [tmp_path / f"config-{a}" for a in ARCHES]
    for p in paths:
        p.write_text("old\n")
    snapshots = [Snapshot.of(p) for p in paths]
    for p in paths:
        p.write_text("edited elsewhere\n")
    tx = Transaction()
    for p, s in zip(paths, snapshots, strict=True):
        tx.add(p, "new\n", expect=s)
    with pytest.raises(FileChangedError) as e:
        tx.commit()
    assert e.value.exit_code == 1 and e.value.files == tuple(str(p) for p in paths)
    assert all(p.read_text() == "edited elsewhere\n" for p in paths)
