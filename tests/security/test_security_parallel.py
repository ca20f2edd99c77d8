"""Runs sharing one cache: eight `talosnb get` started together on an empty cache extract the
kernel tarball once, all succeed and print the same answer; a partial extraction left by a run
killed with SIGKILL is removed by the next run; three runs indexing one source's device tables
build the index once. On a tarball of the embedded sample's tree (9 kB, so eight runs take
seconds) and a one-driver source."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_fixtures import SAMPLE
from faults import ROOT

from talosnb.core import cacheentry
from talosnb.inputs.kernel_tree import _tree_cache_key, open_kernel_tree, write_tarball

RUNS = 8

# One talosnb run as the command line makes it, with the extraction counted (a line per
# extraction in a shared file) and its start held until every run is ready.
CHILD = r"""
import os, sys, time
count, go, *argv = sys.argv[1:]
from talosnb.inputs import kernel_tree
real = kernel_tree._extract_kernel_files
def counted(*args, **kwargs):
    with open(count, "a") as f:
        f.write(f"{os.getpid()}\n")
    return real(*args, **kwargs)
kernel_tree._extract_kernel_files = counted
from talosnb.cli.main import main
while not os.path.exists(go):
    time.sleep(0.002)
sys.exit(main(argv))
"""


@pytest.fixture
def tarball(tmp_path) -> Path:
    return write_tarball(SAMPLE / "linux", tmp_path / "linux-6.12.0.tar.gz", top="linux-6.12.0")


def env(tmp_path: Path) -> dict[str, str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "TALOSNB_CACHE_DIR": str(tmp_path / "cache"),
               "TALOSNB_CONFIG_DIR": str(tmp_path / "config")}
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
        environ.pop(name, None)
    return environ


def test_eight_runs_on_one_empty_cache_extract_once_and_agree(tmp_path, tarball):
    count, go = tmp_path / "extractions", tmp_path / "go"
    argv = ["get", "DEFAULT_HOSTNAME", "LOCALVERSION", "--arch", "amd64", "--pkgs", str(SAMPLE / "pkgs"),
            "--talos", str(SAMPLE / "talos"), "--kernel-src", str(tarball)]
    runs = [subprocess.Popen([sys.executable, "-c", CHILD, str(count), str(go), *argv], env=env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(RUNS)]
    time.sleep(0.5)   # let them import
    go.touch()
    results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    for code, _out, err in results:
        assert code == 0, err
        assert "damaged" not in err and "warning" not in err, err
    outputs = {out for _code, out, _err in results}
    assert len(outputs) == 1 and "DEFAULT_HOSTNAME [amd64] = (none)" in outputs.pop()
    assert len(count.read_text().splitlines()) == 1, "the tree is extracted by one run, the others use it"
    trees = tmp_path / "cache" / "trees" / "v1"
    assert [p.name for p in trees.iterdir() if p.name.startswith(".partial-")] == []
    assert len([p for p in trees.iterdir() if not p.name.startswith(".")]) == 1


# A run that stops (SIGSTOP, then SIGKILL) right after the first file of its extraction is written.
KILLED = r"""
import os, signal, sys
from talosnb.inputs import kernel_tree
kernel_tree.extraction_hook = lambda folder: os.kill(os.getpid(), signal.SIGSTOP)
kernel_tree.open_kernel_tree(sys.argv[1])
"""


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(") ", 1)[1][0]


def test_a_partial_extraction_left_by_kill_9_is_removed_by_the_next_run(tmp_path, tarball, monkeypatch):
    run = subprocess.Popen([sys.executable, "-c", KILLED, str(tarball)], env=env(tmp_path))
    trees = tmp_path / "cache" / "trees" / "v1"
    deadline = time.monotonic() + 60
    while state(run.pid) != "T":   # stopped in the hook, once a file of its extraction is written
        assert state(run.pid) not in ("Z", "X") and time.monotonic() < deadline, \
            "the run did not stop in the middle of its extraction"
        time.sleep(0.01)
    run.kill()
    assert run.wait(timeout=30) == -signal.SIGKILL
    left = [p for p in trees.iterdir() if p.name.startswith(".partial-")]
    assert len(left) == 1 and any(left[0].rglob("*")), "kill -9 left a partial extraction"

    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    tree = open_kernel_tree(tarball)
    assert tree.version == "6.12.0" and tree.damaged_files() == []
    assert not left[0].exists(), "the next run removed the partial extraction"
    assert [p.name for p in trees.iterdir() if p.name.startswith(".partial-")] == []


def test_a_partial_extraction_as_kill_9_leaves_it_is_removed_at_once(tmp_path, tarball, monkeypatch):
    """Just left (no hour to wait), with files in it, and its entry's lock free: stale."""
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    trees = tmp_path / "cache" / "trees" / "v1"
    key = _tree_cache_key(tarball)
    left = trees / f".partial-{key}-k9x_3abc"
    (left / "linux-6.12.0" / "init").mkdir(parents=True)
    (left / "linux-6.12.0" / "init" / "Kconfig").write_text("config HALF")
    (trees / f".{key}.lock").touch()
    other = trees / ".partial-linux-6.1.5-0123456789abcdef-zz8_1abc"   # another entry's, no lock file
    other.mkdir()
    assert open_kernel_tree(tarball).damaged_files() == []
    assert not left.exists()
    assert other.exists(), "a partial folder with no lock file is left alone for half an hour"


def test_a_partial_folder_whose_build_holds_the_lock_is_kept(tmp_path):
    entry = tmp_path / "trees" / "linux-6.12.0-0123456789abcdef"
    with cacheentry.building(entry, "extracting"):
        work = cacheentry.new_partial(entry)
        (work / "Kconfig").write_text("config A\n")
        assert cacheentry.remove_leftovers(entry.parent) == []   # a scan by another entry's build
        assert work.exists()
    assert cacheentry.remove_leftovers(entry.parent) == [work]


# Three runs building the device index of one source at once, the builds counted.
INDEXING = r"""
import os, sys, time
count, go, source = sys.argv[1:]
from talosnb.kbuild import devices
real = devices.build_device_index
def counted(*args, **kwargs):
    with open(count, "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(0.3)   # a real index takes minutes: the others arrive while it is built
    return real(*args, **kwargs)
devices.build_device_index = counted
while not os.path.exists(go):
    time.sleep(0.002)
index = devices.load_device_index(source, "6.12.0")
print(sorted((file, name, len(table.entries)) for (file, name), table in index.tables.items()))
"""

DRIVER = b"""#include <linux/pci.h>
static const struct pci_device_id igx_ids[] = {
\t{ PCI_DEVICE(0x8086, 0x15f2) },
\t{ }
};
MODULE_DEVICE_TABLE(pci, igx_ids);
"""


def test_runs_building_one_device_index_build_it_once(tmp_path):
    import io
    import tarfile
    source = tmp_path / "linux-6.12.0.tar.gz"
    with tarfile.open(source, "w:gz") as tf:
        for path, data in {"drivers/net/igx.c": DRIVER, "Makefile": b"VERSION = 6\n"}.items():
            info = tarfile.TarInfo(f"linux-6.12.0/{path}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    count, go = tmp_path / "builds", tmp_path / "go"
    runs = [subprocess.Popen([sys.executable, "-c", INDEXING, str(count), str(go), str(source)], env=env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    time.sleep(0.3)
    go.touch()
    results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    assert all(code == 0 for code, _out, _err in results), results
    assert len({out for _code, out, _err in results}) == 1 and "igx_ids" in results[0][1]
    assert len(count.read_text().splitlines()) == 1, "one run builds the index, the others read it"
