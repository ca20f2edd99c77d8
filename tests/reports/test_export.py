"""Notebooks exported to one HTML file that opens offline, and the static renderings of widget outputs.

Every exported page is opened in headless chromium with every non-file: request
blocked: it must make none, show each widget output's static rendering, and
show no NaN.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from engine_fixtures import DATA, INPUT_VARIABLES, open_session

from talosnb.core.errors import InputError
from talosnb.present.notebook import (
    INJECTED_TAG,
    WIDGET_VIEW,
    export_notebook,
    external_references,
    inject_parameters,
    parameter_names,
    parse_value,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STATIC = "talosnb-static"
# each rendering, as the page shows it: the element, its text length, the view it renders
PROBE = ("Array.from(document.querySelectorAll('.talosnb-static'))"
         ".map(e => [e.dataset.view, e.innerText.trim().length, e.getBoundingClientRect().height])")


@pytest.fixture(scope="module")
def sample_cache(tmp_path_factory) -> Path:
    """A cache with the sample's parsed trees and Kbuild maps, as after a first run (the notebooks
    run faster; their outputs are the same either way: bars show inside the loading widget)."""
    cache = tmp_path_factory.mktemp("cache")
    open_session(cache, kbuild=True)
    return cache


@pytest.fixture
def clean_env(monkeypatch, sample_cache):
    """Kernels started by nbclient inherit the environment: no input variables, this checkout first."""
    for name in INPUT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(sample_cache))


def _widget_outputs(nb) -> list[dict]:
    return [o for c in nb.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]


def _check_page(page, widget_outputs: int) -> None:
    assert page.blocked == []                                   # not one request left the file
    renderings = page.values["static"]
    assert len(renderings) == widget_outputs
    for view, length, height in renderings:
        assert length > 20 and height > 10, view                # shown, and saying something
    assert "NaN" not in page.text
    assert page.values["scripts"] == 0                          # no script to fetch


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_export_on_the_sample_opens_offline_with_every_widget_rendered(notebook, tmp_path, clean_env, browser):
    out = tmp_path / f"{notebook.stem}.html"
    saved = tmp_path / f"{notebook.stem}.ipynb"
    done = export_notebook(notebook, out, save_notebook=saved)
    nb = nbformat.read(saved, as_version=4)
    # a notebook with views stores the progress bar and the view; one of plain tables stores none
    assert done["widget_outputs"] == len(_widget_outputs(nb)) == len(_widget_outputs(nbformat.read(notebook, 4)))
    assert done["widget_outputs"] >= 2 or "talosnb.widgets" not in notebook.read_text()
    assert all("text/html" in o["data"] for o in _widget_outputs(nb))
    html = out.read_text(encoding="utf-8")
    assert external_references(html) == []
    assert WIDGET_VIEW not in html                               # the live views are left out
    page = browser.load(out, {"static": PROBE, "scripts": "document.querySelectorAll('script[src]').length"})
    _check_page(page, done["widget_outputs"])


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in INPUT_VARIABLES}
    env.update({"TALOSNB_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)})
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, check=False)


def test_export_of_the_workbench_on_real_data(trees, engine_cache, tmp_path, browser):
    data = DATA["v1.10"]
    out = tmp_path / "workbench.html"
    open_session(engine_cache, pkgs=data / "pkgs", talos=data / "talos", kernel_src=trees["6.12"], kbuild=True)
    result = _cli("export", "notebooks/00-workbench.ipynb", "-o", str(out), "-p", "pkgs", str(data / "pkgs"),
                  "-p", "talos", str(data / "talos"), "-p", "kernel_src", str(trees["6.12"]), "--format", "json",
                  cache=engine_cache)
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["parameters"]["kernel_src"] == str(trees["6.12"])
    page = browser.load(out, {"static": PROBE, "scripts": "document.querySelectorAll('script[src]').length"})
    _check_page(page, done["widget_outputs"])
    # the four tabs, rendered with the real configs
    for tab in ("Compare (the tab shown)", "Explore & toggle", "Modules", "Save"):
        assert tab in page.text
    assert "Linux 6.12.117" in page.text and "config-amd64" in page.text


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_notebooks_carry_the_renderings_for_plain_nbconvert(notebook):
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    widget_outputs = _widget_outputs(nb)
    assert widget_outputs or "talosnb.widgets" not in notebook.read_text()
    assert all(STATIC in "".join(o["data"]["text/html"]) for o in widget_outputs)
    # no saved widget state: without it nbconvert (and nbviewer) pick the text/html rendering
    assert "widgets" not in nb.metadata, "regenerate with --ExecutePreprocessor.store_widget_state=False"
    body, _ = HTMLExporter().from_notebook_node(nb)             # what `jupyter nbconvert --to html` writes
    assert len(re.findall(rf"""class=["']{STATIC}["']""", body)) == len(widget_outputs)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            # a picture's base64 payload may spell NaN by chance: only the text counts
            html = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", "".join(output.get("data", {}).get("text/html", "")))
            assert "NaN" not in html


def test_parameters_are_injected_after_the_parameters_cell():
    nb = nbformat.read(ROOT / "notebooks" / "04-write-back-for-make-kernel.ipynb", as_version=4)
    assert parameter_names(nb) == ["pkgs", "talos", "kernel_src", "arch", "write_in_place", "allow_drop",
                                   "changes", "add_modules"]
    inject_parameters(nb, {"arch": "amd64", "changes": ["NF_TABLES=n"]})
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nb.cells[index + 1]
    assert injected.metadata["tags"] == [INJECTED_TAG]
    assert "arch = 'amd64'\nchanges = ['NF_TABLES=n']" in injected.source
    inject_parameters(nb, {"arch": "arm64"})                    # a second run replaces the injected cell
    assert sum(INJECTED_TAG in c.metadata.get("tags", []) for c in nb.cells) == 1
    with pytest.raises(InputError, match="doesn't assign archs") as e:
        inject_parameters(nb, {"archs": "all"})
    assert "pkgs, talos" in e.value.hint


@pytest.mark.parametrize("text, value", [("None", None), ("True", True), ("false", False), ("12", 12),
                                         ("-3", -3), ("0.5", 0.5), ("1e3", 1000.0), ("6.12.117", "6.12.117"),
                                         ("~/src/pkgs", "~/src/pkgs"), ("", "")])
def test_parameter_values_read_as_papermill_reads_them(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_a_failing_cell_is_reported_with_its_number(tmp_path, clean_env):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("fail = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("if fail:\n    raise ValueError('as asked')")]
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "out.html"
    result = _cli("export", str(path), "-o", str(out), "-p", "fail", "True", cache=tmp_path)
    assert result.returncode == 2
    assert "cell 3 failed: ValueError: as asked" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    result = _cli("export", str(path), "-o", str(out), "-p", "fails", "True", cache=tmp_path)
    assert result.returncode == 2 and "doesn't assign fails" in result.stderr
    result = _cli("export", str(path), "-o", str(tmp_path / "out.pdf"), cache=tmp_path)
    assert result.returncode == 2 and "*.html" in result.stderr
    result = _cli("export", str(path), "-o", str(out), "--no-execute", "-p", "fail", "True", cache=tmp_path)
    assert result.returncode == 2 and "nothing runs" in result.stderr
