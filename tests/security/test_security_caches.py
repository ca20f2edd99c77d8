"""Nothing in a cache folder is unpickled unless this user's own key signed it: a cache entry forged
by whoever can write the cache folder (a shared TALOSNB_CACHE_DIR, a CI cache restored from
elsewhere) with every field that can be computed without the key is refused, deleted and rebuilt,
and its code never runs. The history index is signed too: one flipped byte in a commit subject is
never shown."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import stat
import subprocess
import warnings
from pathlib import Path

import pytest
from engine_fixtures import SAMPLE

from talosnb.core import cachefile
from talosnb.core.errors import TalosnbWarning
from talosnb.kconfig.tree import KconfigTree, _cache_file


class Payload:
    """What an attacker pickles: unpickling it runs os.mkdir(marker)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def forge(path: Path, payload: bytes) -> None:
    """Replace a cache file's content with ``payload``, recomputing every header field that can be
    computed without a secret (the size, a plain digest)."""
    data = path.read_bytes()
    end = data.index(b"\n")
    magic_end = data.index(b"{")
    header = json.loads(data[magic_end:end])
    header["size"] = len(payload)
    if "sha256" in header:
        header["sha256"] = hashlib.sha256(payload).hexdigest()
    path.write_bytes(data[:magic_end] + json.dumps(header, sort_keys=True).encode() + b"\n" + payload)


@pytest.fixture
def sample_tree(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TALOSNB_CONFIG_DIR", str(tmp_path / "config"))
    tree = tmp_path / "linux"
    shutil.copytree(SAMPLE / "linux", tree)
    return tree


def caught_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TalosnbWarning)
        result = fn()
    return result, " ".join(str(w.message) for w in caught if issubclass(w.category, TalosnbWarning))


def test_a_forged_kconfig_tree_cache_entry_is_never_unpickled(sample_tree, tmp_path):
    clean = KconfigTree.load(sample_tree, "amd64")
    names = sorted(clean.kconf.syms)
    file = _cache_file(sample_tree.resolve(), "6.12.0", "amd64")
    assert file.is_file()
    marker = tmp_path / "code-ran"
    forge(file, pickle.dumps(Payload(marker)))
    tree, message = caught_warnings(lambda: KconfigTree.load(sample_tree, "amd64"))
    assert not marker.exists(), "the forged cache entry was unpickled: its code ran"
    assert "damaged" in message and str(file) in message
    assert sorted(tree.kconf.syms) == names                 # rebuilt from the sources


def test_a_cache_entry_signed_with_another_users_key_is_rebuilt(sample_tree, tmp_path, monkeypatch):
    """A shared cache folder: an entry written by another user (another key) is not trusted."""
    KconfigTree.load(sample_tree, "amd64")
    file = _cache_file(sample_tree.resolve(), "6.12.0", "amd64")
    written = file.read_bytes()
    monkeypatch.setenv("TALOSNB_CONFIG_DIR", str(tmp_path / "other-user"))
    _, message = caught_warnings(lambda: KconfigTree.load(sample_tree, "amd64"))
    assert "cache key" in message and "damaged" in message
    assert file.read_bytes() != written                     # rebuilt, signed with this key


def test_a_forged_kbuild_map_cache_entry_is_never_unpickled(sample_tree, tmp_path):
    from talosnb.kbuild import load_kbuild_map
    from talosnb.kbuild.cache import cache_path
    clean = load_kbuild_map(sample_tree, "x86")
    file = cache_path(sample_tree, "x86")
    assert file.is_file()
    marker = tmp_path / "code-ran"
    forge(file, pickle.dumps(Payload(marker)))
    kmap, message = caught_warnings(lambda: load_kbuild_map(sample_tree, "x86"))
    assert not marker.exists(), "the forged cache entry was unpickled: its code ran"
    assert "damaged" in message
    assert kmap.files == clean.files


def test_the_cache_key_is_made_0600_in_the_users_config_folder(sample_tree, tmp_path):
    KconfigTree.load(sample_tree, "amd64")
    key = tmp_path / "config" / cachefile.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == cachefile.KEY_BYTES
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("bad", ["readable by others", "a symlink"])
def test_a_key_others_can_read_or_swap_turns_the_cache_off(sample_tree, tmp_path, monkeypatch, bad):
    config = tmp_path / f"config-{bad.replace(' ', '-')}"
    config.mkdir()
    key = config / cachefile.KEY_FILE
    if bad == "a symlink":
        (tmp_path / "elsewhere").write_bytes(b"k" * cachefile.KEY_BYTES)
        key.symlink_to(tmp_path / "elsewhere")
    else:
        key.write_bytes(b"k" * cachefile.KEY_BYTES)
        key.chmod(0o644)
    monkeypatch.setenv("TALOSNB_CONFIG_DIR", str(config))
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / f"cache-{bad[:1]}"))
    tree, message = caught_warnings(lambda: KconfigTree.load(sample_tree, "amd64"))
    assert "caches are not used" in message and str(key) in message
    assert tree.kconf.syms and not list((tmp_path / f"cache-{bad[:1]}").rglob("*.pickle"))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main",
                           *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_flipped_byte_in_the_history_cache_is_never_shown(tmp_path, monkeypatch):
    from talosnb.analyses.history import _cache_file as history_cache
    from talosnb.analyses.history import build_index
    from talosnb.inputs.gitrefs import GitCheckout
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    repo = tmp_path / "pkgs"
    shutil.copytree(SAMPLE / "pkgs", repo)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "kernel: import the configs")
    config = repo / "kernel" / "build" / "config-amd64"
    config.write_text(config.read_text() + "CONFIG_TALOSNB_TEST=y\n")
    _git(repo, "commit", "-qam", "feat: enable the widget driver")
    first = build_index(repo)
    subjects = sorted(c.subject for c in first.commits.values())
    assert "feat: enable the widget driver" in subjects
    checkout = GitCheckout.find(repo, what="pkgs", option="--pkgs", hint="")
    file = history_cache(checkout, first.commit, ("amd64", "arm64"))
    data = file.read_bytes()
    assert data.count(b"widget") == 1
    file.write_bytes(data.replace(b"widget", b"wodget"))   # one flipped byte
    again, message = caught_warnings(lambda: build_index(repo))
    assert sorted(c.subject for c in again.commits.values()) == subjects
    assert "damaged" in message and not again.from_cache
    marker = tmp_path / "code-ran"
    forge(file, pickle.dumps(Payload(marker)))
    caught_warnings(lambda: build_index(repo))
    assert not marker.exists(), "the forged history cache was unpickled: its code ran"
