"""The workbench as a person uses it: JupyterLab in Debian's chromium, driven by Playwright.

The test starts JupyterLab on 127.0.0.1 (a free port, a random token) over a copy of
00-workbench.ipynb (the embedded sample), runs it, and clicks through the tabs: search and
set in Explore, a refusal and its verified fix, a toggle in the Menu tree, a fix button in
Modules, and Save. Each step leaves a screenshot in the test's tmp folder, checked to show
something. JupyterLab is stopped afterwards. Playwright downloads no browser here: it drives
/usr/bin/chromium (Debian's package, installed by .ci/test).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WAIT = 90_000   # ms: a busy 2-core machine runs other tests meanwhile

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a folder with a copy of 00-workbench.ipynb; stopped after the module."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "notebooks" / "00-workbench.ipynb", root)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TALOSNB_CACHE_DIR=str(root / ".cache"),
               JUPYTER_CONFIG_DIR=str(root / ".jupyter"), JUPYTER_RUNTIME_DIR=str(root / ".runtime"),
               JUPYTER_DATA_DIR=str(root / ".data"))
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
        env.pop(name, None)
    # no "get notified about Jupyter news?" popup over the page
    (root / ".jupyter" / "labconfig").mkdir(parents=True)
    (root / ".jupyter" / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    log = open(root / "jupyterlab.log", "w")   # noqa: SIM115  (open while the server runs)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError as e:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (root / "jupyterlab.log").read_text()) from e
                time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "root": root}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()


def _not_blank(path: Path) -> None:
    """A screenshot that shows something: many colours, not one flat fill."""
    import matplotlib.image
    import numpy as np

    pixels = matplotlib.image.imread(str(path))[..., :3]
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert path.stat().st_size > 10_000 and pixels.std() > 0.05 and len(colours) > 50, path


def _tab(page, title: str) -> None:
    page.locator(".widget-tab-bar .lm-TabBar-tab", has_text=title).click()


def _pick(page, select: str, contains: str) -> str:
    """Choose the option of an ipywidgets Select whose label contains `contains`; returns the label."""
    locator = page.locator(f"{select} select")
    page.wait_for_function(
        "([sel, text]) => [...document.querySelectorAll(sel + ' select option')].some(o => o.textContent.includes(text))",
        arg=[select, contains], timeout=WAIT)
    label = next(t for t in locator.locator("option").all_text_contents() if contains in t)
    locator.select_option(label=label)
    return label


def _shot(page, tmp_path: Path, name: str) -> Path:
    """The workbench (all of its shown tab) as a picture."""
    path = tmp_path / f"{name}.png"
    page.locator(".widget-tab").screenshot(path=str(path))
    _not_blank(path)
    return path


def test_workbench_in_a_real_browser(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=WAIT)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(WAIT)
            _run(page, lab, tmp_path)
        finally:
            browser.close()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "1-workbench.png", "2-explore.png", "3-menu-tree.png", "4-modules.png", "4b-gates.png", "5-save.png"]


def _run(page, lab, tmp_path: Path) -> None:
    # 1. open 00-workbench.ipynb, run all, wait for the tabs
    page.goto(f"{lab['url']}/lab/tree/00-workbench.ipynb?token={lab['token']}")
    page.wait_for_function("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                           " return w && w.sessionContext && w.sessionContext.session"
                           " && w.sessionContext.session.kernel; }")
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    for title in ("Compare", "Explore & toggle", "Menu tree", "Modules", "Save"):
        expect(page.locator(".widget-tab-bar .lm-TabBar-tab", has_text=title)).to_be_visible()
    page.locator(".widget-tab-bar").scroll_into_view_if_needed()
    _shot(page, tmp_path, "1-workbench")

    # 2. Explore: search, pick, set a value, read the cascade; a refusal, its verified fix
    _tab(page, "Explore & toggle")
    page.locator(".talosnb-search input").fill("dumm")
    _pick(page, ".talosnb-results", "DUMMY")
    expect(page.locator(".talosnb-panel-html")).to_contain_text("CONFIG_DUMMY")
    expect(page.locator(".talosnb-panel-html")).to_contain_text("drivers/net/Kconfig")
    expect(page.locator(".talosnb-value-amd64-m")).to_have_attribute("title", re.compile("DUMMY=m"))
    page.locator(".talosnb-value-amd64-m").click()
    outcome = page.locator(".talosnb-outcome")
    expect(outcome).to_contain_text("amd64 (6.12.0): 1 change(s)")
    expect(outcome.locator("tr", has_text="DUMMY")).to_contain_text("requested")
    assert "(not written)" not in outcome.inner_text() and "NaN" not in outcome.inner_text()
    expect(page.locator(".talosnb-results option", has_text="DUMMY")).to_contain_text("amd64=m")

    page.locator(".talosnb-search input").fill("MVPP2")
    _pick(page, ".talosnb-results", "MVPP2")
    expect(page.locator(".talosnb-panel-html")).to_contain_text("(ARM64 [=n] || COMPILE_TEST [=n])")
    expect(page.locator(".talosnb-value-amd64-m")).to_have_attribute("title", re.compile("MVPP2=m can't"))
    page.locator(".talosnb-value-amd64-m").click()
    expect(outcome).to_contain_text("MVPP2=m can't take effect")
    fix = page.locator(".talosnb-fix")
    expect(fix).to_contain_text("apply verified fix on amd64: COMPILE_TEST=y MVPP2=m")
    fix.click()
    expect(outcome).not_to_contain_text("can't take effect")        # the new outcome replaced the refusal
    expect(outcome).to_contain_text("change(s)")
    expect(outcome.locator("tr", has_text="COMPILE_TEST").first).to_contain_text("requested")
    expect(outcome.locator("tr", has_text="MVPP2").first).to_contain_text("(no line)")
    expect(page.locator(".talosnb-results option", has_text="MVPP2")).to_contain_text("amd64=m")
    # words of a prompt, in any order: the hit says where they were found; its panel, the module
    page.locator(".talosnb-search input").fill("block network")
    expect(page.locator(".talosnb-results option", has_text="BLK_DEV_NBD")).to_contain_text("\u00b7 prompt")
    _pick(page, ".talosnb-results", "BLK_DEV_NBD")
    expect(page.locator(".talosnb-panel-html")).to_contain_text("kernel/drivers/block/nbd.ko: ")
    _shot(page, tmp_path, "2-explore")

    # 3. Menu tree: open the menus down to DUMMY, toggle it on arm64 only
    _tab(page, "Menu tree")
    tree = page.locator(".talosnb-tree")
    for menu in ("Device Drivers", "Network device support"):
        row = tree.locator(".talosnb-row", has=page.locator(".talosnb-prompt", has_text=menu)).first
        start = time.perf_counter()
        row.locator(".talosnb-exp").click()
        expect(row.locator(".talosnb-exp")).to_have_text("\u25be")
        print(f"expand {menu}: {time.perf_counter() - start:.3f} s in the browser")
    dummy = tree.locator(".talosnb-row[data-name='DUMMY']")
    expect(dummy.locator(".talosnb-val[data-arch='amd64']")).to_have_text("<M>")     # set in Explore
    expect(dummy.locator(".talosnb-val[data-arch='arm64']")).to_have_text("< >")
    start = time.perf_counter()
    dummy.locator(".talosnb-val[data-arch='arm64']").click()
    expect(dummy.locator(".talosnb-val[data-arch='arm64']")).to_have_text("<M>")
    print(f"toggle DUMMY on arm64: {time.perf_counter() - start:.3f} s in the browser")
    expect(dummy.locator(".talosnb-val[data-arch='amd64']")).to_have_text("<M>")
    expect(page.locator(".talosnb-tree-outcome")).to_contain_text("DUMMY=m on arm64")
    dummy.locator(".talosnb-prompt").click()
    expect(page.locator(".talosnb-tree-panel")).to_contain_text("CONFIG_DUMMY")
    _shot(page, tmp_path, "3-menu-tree")

    # 4. Modules: apply a finding's fix with its button; Save: write, and the page names the files
    _tab(page, "Modules")
    _pick(page, ".talosnb-findings", "nbd.ko")
    button = page.locator(".talosnb-modules-fix")
    expect(button).to_contain_text("set BLK_DEV_NBD=m on arm64")
    button.click()
    expect(page.locator(".talosnb-modules-fix-result")).to_contain_text("set BLK_DEV_NBD=m on arm64")
    _shot(page, tmp_path, "4-modules")

    # Build gates: no empty value drawn as "None"; the buttons name nothing until a finding is picked
    _tab(page, "Build gates")
    expect(page.locator(".talosnb-gates-fix")).to_contain_text("apply fix")
    assert "None" not in page.locator(".widget-tab").inner_text()
    _shot(page, tmp_path, "4b-gates")

    _tab(page, "Save")
    write = page.locator(".talosnb-write")
    expect(write).to_contain_text("write")
    write.click()
    result = page.locator(".talosnb-save-result")
    expect(result).to_contain_text("Wrote")
    text = result.inner_text()
    assert "config-amd64" in text and "config-arm64" in text and "kernel/build/config-amd64" in text
    assert "scratch copy in" in text and "talosnb-scratch-" in text
    _shot(page, tmp_path, "5-save")
