"""The workbench as a person uses it: JupyterLab in Debian's chromium, driven by Playwright.

One JupyterLab on 127.0.0.1 (a free port, a random token) serves a copy of
00-workbench.ipynb (the embedded sample); one page opens it and runs it, and the cases below
click through the tabs on that page, in order, each starting from where the one before left
the workbench: the gates' buttons, search and set in Explore, a refusal and its verified fix,
a click right after opening a panel, the Menu tree, a fix button in Modules, the text of every
tab (no "None", nothing cut), and Save. Each step leaves a screenshot, checked to show
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

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WAIT = 90_000   # ms: a busy 2-core machine runs other tests meanwhile

# slow: JupyterLab and chromium started for the module
pytestmark = [pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
              pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a folder with a copy of 00-workbench.ipynb; stopped after the module."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "notebooks" / "00-workbench.ipynb", root)
    _workbench_on_a_config_with_a_line_the_tree_lacks(root)
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


def _workbench_on_a_config_with_a_line_the_tree_lacks(root: Path) -> None:
    """dropped.ipynb: the workbench on a copy of the sample whose config-amd64 has a line for a
    symbol the tree doesn't define (a save drops it, so Save refuses unless told)."""
    import nbformat

    sample = root / "dropped-sample"
    for name in ("pkgs", "talos", "linux"):
        shutil.copytree(ROOT / "data" / "sample" / name, sample / name)
    config = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    config.write_text(config.read_text() + "CONFIG_NOT_IN_THIS_TREE=y\n")
    nb = nbformat.read(ROOT / "notebooks" / "00-workbench.ipynb", as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(
        f"pkgs, talos, kernel_src = {str(sample / 'pkgs')!r}, {str(sample / 'talos')!r}, {str(sample / 'linux')!r}"))
    nbformat.write(nb, root / "dropped.ipynb")


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


def _pick_symbol(page, select: str, name: str) -> None:
    """Choose the search result that is `name` itself, once the list is the one for that search: a
    symbol's own name ranks first for it, while the list of the search before (which can name it
    too, with another "matched in") is still shown until the new one arrives."""
    expr = ("([sel, name]) => { const o = document.querySelector(sel + ' select option');"
            " return o !== null && o.textContent.trim().split(/\\s+/)[0] === name; }")
    page.wait_for_function(expr, arg=[select, name], timeout=WAIT)
    page.locator(f"{select} select").select_option(index=0)


def _shot(page, tmp_path: Path, name: str) -> Path:
    """The workbench (all of its shown tab) as a picture."""
    path = tmp_path / f"{name}.png"
    page.locator(".widget-tab").screenshot(path=str(path))
    _not_blank(path)
    return path


# every visible control of the shown tab whose text is cut: a button, label or checkbox whose text is
# wider than its box, a text field whose placeholder is, a dropdown whose chosen option is
_CUT_TEXT = r"""() => {
  const tab = [...document.querySelectorAll('.widget-tab-contents > .lm-Widget')].find(w => !w.classList.contains('lm-mod-hidden'));
  const canvas = document.createElement('canvas').getContext('2d');
  const width = (el, text) => { const s = getComputedStyle(el); canvas.font = s.font; return canvas.measureText(text).width; };
  const shown = (el) => el.offsetParent !== null && el.getClientRects().length > 0;
  const cut = [];
  for (const el of tab.querySelectorAll('button, .widget-label, .widget-checkbox label, .widget-label-basic')) {
    if (shown(el) && el.textContent.trim() && el.scrollWidth > el.clientWidth + 1) cut.push(el.textContent.trim());
  }
  for (const el of tab.querySelectorAll('input[type=text][placeholder]')) {
    if (shown(el) && !el.value && width(el, el.placeholder) > el.clientWidth - 8) cut.push('placeholder: ' + el.placeholder);
  }
  for (const el of tab.querySelectorAll('.widget-dropdown select')) {
    const option = el.options[el.selectedIndex];
    if (shown(el) && option && width(el, option.textContent) > el.clientWidth - 24) cut.push('dropdown: ' + option.textContent);
  }
  return cut;
}"""


@pytest.fixture(scope="module")
def wb(lab, tmp_path_factory):
    """One page on the lab's 00-workbench.ipynb, run once; the cases below share it, in order."""
    from playwright.sync_api import sync_playwright

    shots = tmp_path_factory.mktemp("shots")
    expect.set_options(timeout=WAIT)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(WAIT)
            page.goto(f"{lab['url']}/lab/tree/00-workbench.ipynb?token={lab['token']}")
            page.wait_for_function("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                                   " return w && w.sessionContext && w.sessionContext.session"
                                   " && w.sessionContext.session.kernel; }")
            page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            yield {"page": page, "shots": shots, "log": lab["root"] / "jupyterlab.log"}
        finally:
            browser.close()


def _cut(page) -> list[str]:
    return page.evaluate(_CUT_TEXT)


def test_the_workbench_opens_with_its_tabs(wb):
    page = wb["page"]
    for title in ("Compare", "Explore & toggle", "Menu tree", "Modules", "Build gates", "Save", "Upgrade"):
        expect(page.locator(".widget-tab-bar .lm-TabBar-tab", has_text=title)).to_be_visible()
    page.locator(".widget-tab-bar").scroll_into_view_if_needed()
    _shot(page, wb["shots"], "1-workbench")


def test_gates_buttons_name_the_selected_finding_after_an_edit(wb):
    page = wb["page"]
    _tab(page, "Build gates")
    fix, symbol = page.locator(".talosnb-gates-fix"), page.locator(".talosnb-gates-symbol")
    _pick(page, ".talosnb-gate-findings", "dummy.ko")
    expect(fix).to_contain_text("set DUMMY=m on amd64")
    fix.click()
    expect(page.locator(".talosnb-gate-findings option", has_text="dummy.ko")).to_have_count(0)
    expect(fix).not_to_contain_text("DUMMY")          # fixed: no row is it, no button names it
    expect(symbol).not_to_contain_text("DUMMY")
    _pick(page, ".talosnb-gate-findings", "nbd.ko")
    expect(symbol).to_contain_text("show BLK_DEV_NBD")
    expect(fix).to_have_text(re.compile(r"^\s*apply fix\s*$"))
    expect(fix).to_be_disabled()
    # the next case starts from the sample as loaded: undo the fix (Explore's undo button)
    _tab(page, "Explore & toggle")
    page.locator(".talosnb-undo").click()
    expect(page.locator(".talosnb-status")).to_contain_text("undid DUMMY=m on amd64")


def test_explore_search_set_refusal_and_verified_fix(wb):
    page = wb["page"]
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
    # help flows in paragraphs (menuconfig's help screen), not one source line each
    expect(page.locator(".talosnb-panel-html .talosnb-help p").first).to_be_visible()
    _shot(page, wb["shots"], "2-explore")


def test_a_click_right_after_opening_a_panel_counts(wb):
    page = wb["page"]
    # a tristate's panel is shown; open a bool's and click its n at once, before the page has
    # caught up: the click reaches the symbol now shown, none is lost ("No such comm")
    _pick(page, ".talosnb-results", "BLK_DEV_NBD")
    page.locator(".talosnb-search input").fill("COMPILE_TEST")
    page.wait_for_function("() => [...document.querySelectorAll('.talosnb-results option')]"
                           ".some(o => o.textContent.startsWith('COMPILE_TEST'))")
    page.locator(".talosnb-results select").select_option(index=0)
    page.locator(".talosnb-value-amd64-n").click()
    status = page.locator(".talosnb-status")
    expect(status).to_contain_text("COMPILE_TEST=n: amd64")
    expect(page.locator(".talosnb-panel-html")).to_contain_text("CONFIG_COMPILE_TEST")
    page.locator(".talosnb-undo").click()
    expect(status).to_contain_text("undid COMPILE_TEST=n on amd64")
    assert "No such comm" not in wb["log"].read_text()


def test_a_fix_that_replaces_a_value_set_earlier_says_so_and_save_shows_it(wb):
    page = wb["page"]
    search, status = page.locator(".talosnb-search input"), page.locator(".talosnb-status")
    search.fill("BLK_DEV_LOOP")
    _pick_symbol(page, ".talosnb-results", "BLK_DEV_LOOP")
    page.locator(".talosnb-value-amd64-m").click()                   # the value the user sets
    expect(status).to_contain_text("BLK_DEV_LOOP=m: amd64")
    search.fill("BLK_DEV")
    _pick_symbol(page, ".talosnb-results", "BLK_DEV")
    page.locator(".talosnb-value-amd64-n").click()                   # the menu off (nbd.ko is listed)
    page.locator(".talosnb-override").click()
    expect(status).to_contain_text("BLK_DEV=n: amd64")
    search.fill("VIRTIO_BLK")
    _pick_symbol(page, ".talosnb-results", "VIRTIO_BLK")
    page.locator(".talosnb-value-amd64-m").click()
    fix = page.locator(".talosnb-fix")
    expect(fix).to_contain_text("BLK_DEV=y VIRTIO_BLK=m")
    fix.click()                                                      # the menu back on: LOOP is n again
    note = page.locator(".talosnb-outcome .talosnb-overridden")
    expect(note).to_contain_text("BLK_DEV_LOOP=m on amd64 was set earlier (BLK_DEV_LOOP=m)")
    expect(note).to_contain_text("undo button above")
    # the cascade: its real changes first, the lines only written because a prompt showed folded after
    folded = page.locator(".talosnb-outcome details.talosnb-now-visible")
    expect(folded.locator("summary")).to_contain_text("now visible, n (2 line(s)")
    expect(folded.locator("tr", has_text="BLK_DEV_NBD")).not_to_be_visible()
    order = page.locator(".talosnb-outcome").inner_text()
    assert order.index("VIRTIO_BLK") < order.index("now visible, n"), order
    _tab(page, "Save")
    expect(page.locator(".talosnb-save-pending .talosnb-overridden")).to_contain_text("BLK_DEV_LOOP=m on amd64")
    # the cases after this one start from before it: three steps undone
    _tab(page, "Explore & toggle")
    for step in ("BLK_DEV=y VIRTIO_BLK=m", "BLK_DEV=n", "BLK_DEV_LOOP=m"):
        page.locator(".talosnb-undo").click()
        expect(status).to_contain_text(f"undid {step} on amd64")


def test_menu_tree_rows_open_toggle_and_show_their_panel_beside(wb):
    page = wb["page"]
    _tab(page, "Menu tree")
    tree = page.locator(".talosnb-tree")
    for menu in ("Device Drivers", "Network device support"):
        row = tree.locator(".talosnb-row", has=page.locator(".talosnb-prompt", has_text=menu)).first
        start = time.perf_counter()
        row.locator(".talosnb-prompt").click()         # the row, not only its arrow, opens a menu
        expect(row.locator(".talosnb-exp")).to_have_text("\u25be")
        print(f"open {menu}: {time.perf_counter() - start:.3f} s in the browser")
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
    panel = page.locator(".talosnb-tree-panel")
    expect(panel).to_contain_text("CONFIG_DUMMY")
    # the panel opens beside the row clicked, in sight, not under the whole tree
    row_box, panel_box, tree_box = dummy.bounding_box(), panel.bounding_box(), tree.bounding_box()
    assert panel_box["x"] >= row_box["x"] + row_box["width"] - 2, (row_box, panel_box)
    assert tree_box["y"] - 2 <= panel_box["y"] <= row_box["y"] + row_box["height"], (row_box, panel_box)
    assert panel_box["y"] < page.viewport_size["height"]
    _shot(page, wb["shots"], "3-menu-tree")
    # a menu switched off on both arches shows ---- as menuconfig does (nothing in it to see), and
    # ---> again when switched back on
    virtio = tree.locator(".talosnb-row[data-name='VIRTIO_MENU']")
    expect(virtio.locator(".talosnb-prompt")).to_have_text(re.compile(r"--->$"))
    for arch, value in (("amd64", "[ ]"), ("arm64", "[ ]")):
        virtio.locator(f".talosnb-val[data-arch='{arch}']").click()
        expect(virtio.locator(f".talosnb-val[data-arch='{arch}']")).to_have_text(value)
    expect(virtio.locator(".talosnb-prompt")).to_have_text(re.compile(r"----$"))
    for arch in ("amd64", "arm64"):
        virtio.locator(f".talosnb-val[data-arch='{arch}']").click()
        expect(virtio.locator(f".talosnb-val[data-arch='{arch}']")).to_have_text("[*]")
    expect(virtio.locator(".talosnb-prompt")).to_have_text(re.compile(r"--->$"))


def test_menu_tree_differs_filter_lists_what_some_arch_shows(wb):
    page = wb["page"]
    tree = page.locator(".talosnb-tree")
    page.locator(".widget-toggle-button", has_text="differs between arches").click()
    expect(page.locator(".talosnb-tree[data-drawn]")).to_have_count(1)
    page.wait_for_function("() => document.querySelectorAll('.talosnb-tree .talosnb-differs').length > 0")
    # every entry listed for differing (not the menus on the way to it) shows on some arch
    hidden = page.evaluate("""() => [...document.querySelectorAll('.talosnb-tree .talosnb-row.talosnb-differs')]
        .filter(r => [...r.querySelectorAll('.talosnb-val')].every(v => ['---', ''].includes(v.textContent.trim())))
        .map(r => r.dataset.name)""")
    assert hidden == []
    expect(tree.locator(".talosnb-row[data-name='DUMMY']")).to_have_count(0)      # =m on both now
    page.locator(".widget-toggle-button", has_text="visible only").click()
    expect(tree.locator(".talosnb-row[data-name='DUMMY']")).to_have_count(1)


def test_modules_fix_button(wb):
    page = wb["page"]
    _tab(page, "Modules")
    # the tab brought up to date first (DUMMY=m on both arches: dummy.ko's finding gone), so the pick
    # lands on the list as it is, not on the one it replaces
    expect(page.locator(".talosnb-findings option", has_text="dummy.ko")).to_have_count(0)
    _pick(page, ".talosnb-findings", "nbd.ko")
    button = page.locator(".talosnb-modules-fix")
    expect(button).to_contain_text("set BLK_DEV_NBD=m on arm64")
    button.click()
    expect(page.locator(".talosnb-modules-fix-result")).to_contain_text("set BLK_DEV_NBD=m on arm64")
    _shot(page, wb["shots"], "4-modules")


def test_no_none_and_no_cut_text_on_any_tab(wb):
    page = wb["page"]
    # Upgrade: compare with the sample's next release, so its tables and controls are there
    _tab(page, "Upgrade")
    page.locator(".widget-button", has_text="compare").click()
    expect(page.locator(".widget-tab").get_by_text("Why a choice is not honoured")).to_be_visible()
    for title in ("Upgrade", "Build gates", "Modules", "Explore & toggle", "Menu tree", "Compare", "Save"):
        _tab(page, title)
        page.wait_for_timeout(300)
        text = page.locator(".widget-tab").inner_text()
        assert not re.search(r"\bNone\b", text), (title, text[max(0, text.find("None") - 200):text.find("None") + 50])
        cut = _cut(page)
        assert cut == [], (title, cut)
    _tab(page, "Build gates")
    expect(page.locator(".talosnb-gates-fix")).to_contain_text("apply fix")
    _shot(page, wb["shots"], "4b-gates")


def test_save_writes_both_configs(wb):
    page = wb["page"]
    _tab(page, "Save")
    write = page.locator(".talosnb-write")
    expect(write).to_contain_text("write")
    write.click()
    result = page.locator(".talosnb-save-result")
    expect(result).to_contain_text("Wrote")
    text = result.inner_text()
    assert "config-amd64" in text and "config-arm64" in text and "kernel/build/config-amd64" in text
    assert "scratch copy in" in text and "talosnb-scratch-" in text
    _shot(page, wb["shots"], "5-save")
    assert sorted(p.name for p in wb["shots"].glob("*.png")) == [
        "1-workbench.png", "2-explore.png", "3-menu-tree.png", "4-modules.png", "4b-gates.png", "5-save.png"]


def test_gates_and_save_agree_when_save_will_refuse_naming_the_checkbox(wb, lab):
    """On a config with a line for a symbol the tree doesn't define: after an edit, Build gates says
    Save will refuse that file, and Save's refusal names the checkbox the user sees, not an argument."""
    page = wb["page"]
    # a workspace of its own: the page shows this notebook only, not the workbench opened before
    page.goto(f"{lab['url']}/lab/workspaces/dropped/tree/dropped.ipynb?token={lab['token']}")
    page.wait_for_function("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                           " return w && w.sessionContext && w.sessionContext.session"
                           " && w.sessionContext.session.kernel; }")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    _tab(page, "Explore & toggle")
    search, status = page.locator(".talosnb-search input"), page.locator(".talosnb-status")
    search.fill("DUMMY")
    _pick_symbol(page, ".talosnb-results", "DUMMY")
    page.locator(".talosnb-value-amd64-m").click()
    expect(status).to_contain_text("DUMMY=m: amd64")
    checkbox = "drop config lines for symbols this tree doesn't define"
    _tab(page, "Build gates")
    summary = page.locator(".talosnb-gates-summary")
    expect(summary).to_contain_text("Save will refuse to write config-amd64")
    expect(summary).to_contain_text(checkbox)
    _tab(page, "Save")
    page.locator(".talosnb-write").click()
    result = page.locator(".talosnb-save-result")
    expect(result).to_contain_text(checkbox)
    assert "allow_drop" not in result.inner_text()
    assert "Wrote" not in result.inner_text()
