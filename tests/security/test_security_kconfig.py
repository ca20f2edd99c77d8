"""A kernel tree's Kconfig is read only inside the tree: a `source` that leads outside it (an
absolute path, `../..`, a symlink) is refused before the file is opened, naming the Kconfig line,
and nothing of the outside file reaches the message. On a copy of the embedded sample tree (its
shape is Linux 6.12's)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from engine_fixtures import SAMPLE

from talosnb.core.errors import TalosnbError
from talosnb.kconfig.tree import KconfigTree

SECRET = "talosnb-secret-first-line"


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "linux"
    shutil.copytree(SAMPLE / "linux", root)
    (tmp_path / "secret").write_text(f"{SECRET}\nmore\n")
    return root


@pytest.mark.parametrize("how", ["absolute", "dot-dot", "symlink", "osource"])
def test_a_source_outside_the_tree_is_refused_before_reading(tree, tmp_path, how):
    line = {"absolute": f'source "{tmp_path / "secret"}"',
            "dot-dot": 'source "../secret"',
            "symlink": 'source "drivers/leak"',
            "osource": 'osource "../secr*"'}[how]
    if how == "symlink":
        (tree / "drivers" / "leak").symlink_to(tmp_path / "secret")
    kconfig = tree / "Kconfig"
    kconfig.write_text(kconfig.read_text() + f"\n{line}\n")
    lines = kconfig.read_text().count("\n")
    with pytest.raises(TalosnbError) as caught:
        KconfigTree.load(tree, "amd64", use_cache=False)
    message = str(caught.value)
    assert SECRET not in message and "outside the kernel tree" in message, message
    assert f"Kconfig:{lines}" in message, message
