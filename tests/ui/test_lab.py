"""talosnb lab's working folder: the shipped notebooks copied, never over the user's changes.

(Starting JupyterLab there is run by .ci/test on an installed wheel: `talosnb lab --no-browser`.)
"""

from __future__ import annotations

import json

import pytest

from talosnb.app.lab import MANIFEST, prepare_lab, shipped_files
from talosnb.cli import main
from talosnb.core.errors import InputError
from talosnb.core.paths import data_dir, notebooks_dir


def test_copies_every_notebook_and_the_sanitize_file(tmp_path):
    folder = tmp_path / "lab"
    done = prepare_lab(folder)
    shipped = shipped_files()
    assert {name for name in shipped if name.endswith(".ipynb")} == {p.name for p in notebooks_dir().glob("*.ipynb")}
    assert "sanitize.cfg" in shipped
    assert sorted(done.copied) == sorted(shipped) and not done.kept and not done.updated
    for name, data in shipped.items():
        assert (folder / name).read_bytes() == data
    again = prepare_lab(folder)
    assert sorted(again.current) == sorted(shipped) and not again.copied and not again.kept


def test_a_changed_notebook_is_kept(tmp_path):
    folder = tmp_path / "lab"
    prepare_lab(folder)
    mine = folder / "00-workbench.ipynb"
    notebook = json.loads(mine.read_text())
    notebook["cells"][0]["source"] = ["pkgs = '/home/me/src/pkgs'\n"]
    mine.write_text(json.dumps(notebook))
    changed = mine.read_bytes()
    done = prepare_lab(folder)
    assert done.kept == ["00-workbench.ipynb"]
    assert mine.read_bytes() == changed
    # and it stays kept on every later run
    assert prepare_lab(folder).kept == ["00-workbench.ipynb"]


def test_an_unchanged_earlier_copy_is_updated(tmp_path):
    """A copy written by an earlier talosnb (the manifest has its hash) that the user left alone
    is replaced by the shipped version; one the user changed after is not."""
    folder = tmp_path / "lab"
    prepare_lab(folder)
    import hashlib
    old = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
    manifest = json.loads((folder / MANIFEST).read_text())
    for name in ("01-compare-architectures.ipynb", "02-explore-and-toggle.ipynb"):
        (folder / name).write_bytes(old)
        manifest["files"][name] = hashlib.sha256(old).hexdigest()
    (folder / MANIFEST).write_text(json.dumps(manifest))
    (folder / "02-explore-and-toggle.ipynb").write_bytes(old + b"\n")    # then edited by the user
    done = prepare_lab(folder)
    assert done.updated == ["01-compare-architectures.ipynb"]
    assert done.kept == ["02-explore-and-toggle.ipynb"]
    assert (folder / "01-compare-architectures.ipynb").read_bytes() == shipped_files()["01-compare-architectures.ipynb"]
    assert (folder / "02-explore-and-toggle.ipynb").read_bytes() == old + b"\n"


def test_a_damaged_manifest_replaces_nothing(tmp_path):
    folder = tmp_path / "lab"
    prepare_lab(folder)
    (folder / "03-module-lists.ipynb").write_text("{}")
    (folder / MANIFEST).write_text("{not json")
    done = prepare_lab(folder)
    assert done.kept == ["03-module-lists.ipynb"]
    assert (folder / "03-module-lists.ipynb").read_text() == "{}"


def test_never_among_talosnbs_own_files(tmp_path, capsys):
    for place in (notebooks_dir(), data_dir() / "sample", notebooks_dir().parent / "lab"):
        with pytest.raises(InputError, match="autosave"):
            prepare_lab(place)
    assert main(["lab", "--no-browser", str(notebooks_dir())]) == 2
    assert "talosnb lab: error:" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["lab", "--no-browser", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err
