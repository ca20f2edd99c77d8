"""The HTML report, rendered by a real headless browser (Debian's chromium)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest
from engine_fixtures import DATA, INPUT_VARIABLES, open_session

from talosnb.analyses import compare as cmp
from talosnb.app.session import Session
from talosnb.core.paths import sample_dir
from talosnb.present import plots
from talosnb.present.report import Html, report_html, write_report

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = ["Inputs", "Version warnings and load notes", "Comparison summary", "Charts", "Differing symbols",
            "Symbols only one arch defines"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (bash .ci/test installs it: apt-get install chromium)")

# Runs after the report's own script: counts the images the browser decoded and,
# when FILTER is set, types it into the differing symbols' filter box.
PROBE = """<script>
var FILTER = __FILTER__;
addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.dataset.images = images.length;
  document.body.dataset.decoded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var box = document.querySelector('input.filter[data-table="differing-table"]');
  if (box && FILTER) { box.value = FILTER; box.dispatchEvent(new Event("input")); }
});
</script>
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Session:
    return open_session(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def real(trees, engine_cache) -> Session:
    return open_session(engine_cache, pkgs=DATA["v1.10"] / "pkgs", kernel_src=trees["6.12"])


class Dom(HTMLParser):
    """What the tests look at in a DOM: headings, body attributes, tables by id, images."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.h1: list[str] = []
        self.h2: list[str] = []
        self.body: dict[str, str] = {}
        self.tables: dict[str, list[tuple[list[str], bool]]] = {}  # id -> [(cells, hidden)]
        self.images: list[dict[str, str]] = []
        self.ids: set[str] = set()
        self._heading: str | None = None
        self._table: str | None = None
        self._in_body_rows = False
        self._row: list[str] | None = None
        self._hidden = False
        self._cell: list[str] | None = None
        self._text: list[str] = []
        self.title = ""
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag in ("h1", "h2"):
            self._heading, self._text = tag, []
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            self.body = {k: v or "" for k, v in attrs}
        elif tag == "img":
            self.images.append({k: v or "" for k, v in attrs})
        elif tag == "table":
            self._table = a.get("id") or f"table-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body_rows = True
        elif tag == "tr" and self._in_body_rows:
            self._row, self._hidden = [], "hidden" in a
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == self._heading:
            getattr(self, tag).append("".join(self._text).strip())
            self._heading = None
        elif tag == "title":
            self._in_title = False
        elif tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append((self._row, self._hidden))
            self._row = None
        elif tag == "tbody":
            self._in_body_rows = False

    def handle_data(self, data):
        if self._heading:
            self._text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.title += data

    def column(self, table: str, index: int = 0) -> list[str]:
        return [cells[index] for cells, _ in self.tables[table]]


def render(path: Path, tmp_path: Path, *, filter_text: str = "") -> Dom:
    """Load the report in headless chromium (plus the probe script) and parse the DOM it ends with."""
    probed = tmp_path / f"probed-{path.name}"
    text = path.read_text(encoding="utf-8")
    probe = PROBE.replace("__FILTER__", json.dumps(filter_text))
    probed.write_text(text.replace("</body>", probe + "</body>"), encoding="utf-8")
    # The budget makes chromium run the page (load event, images, scripts) before dumping it.
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                             "--virtual-time-budget=30000", f"--user-data-dir={tmp_path / 'chromium'}",
                             "--dump-dom", probed.as_uri()],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return Dom(result.stdout)


def _assert_self_contained(text: str) -> None:
    lowered = text.lower()
    for external in ('src="http', "src='http", 'href="http', "<link", "@import", "url("):
        assert external not in lowered, external
    dom = Dom(text)
    assert dom.images and all(img["src"].startswith("data:image/svg+xml;base64,") for img in dom.images)


# --- the embedded sample -----------------------------------------------------------


@needs_chromium
def test_sample_report_renders_with_tables_charts_and_extra_sections(sample, tmp_path):
    df = cmp.compare(sample)
    findings = pd.DataFrame({"entry": ["kernel/drivers/net/x.ko", "<script>alert(1)</script>"],
                             "level": ["error", "info"]})
    sections = [("Module list findings", findings),
                ("Pending changes", "CONFIG_A=y\n<b>not markup</b>"),
                ("Raw fragment", Html('<p id="raw-fragment">kept as markup</p>')),
                ("Chart again", plots.differences_by_menu(df)),
                ("Per menu", cmp.summary(df))]
    path = write_report(sample, tmp_path / "out" / "report.html", sections=sections, title="Sample <check>")
    assert path == tmp_path / "out" / "report.html"
    text = path.read_text(encoding="utf-8")
    _assert_self_contained(text)
    dom = render(path, tmp_path)

    assert dom.title == "Sample <check>" and dom.h1 == ["Sample <check>"]
    assert dom.h2 == BUILT_IN + [title for title, _ in sections]
    assert dom.body["data-images"] == dom.body["data-decoded"] == "3"
    assert dom.column("differing-table") == list(cmp.differing(df)["symbol"])
    amd = dict(zip(dom.column("differing-table"), dom.column("differing-table", 1), strict=True))
    for row in cmp.differing(df).itertuples():
        assert amd[row.symbol] == ("" if pd.isna(row.amd64) else row.amd64)
    assert sorted(dom.column("one-arch-table")) == sorted(cmp.one_arch_only(df)["symbol"])
    assert dom.column("summary-table") == list(cmp.summary(df).index)
    # The extra sections: a frame as a table (its named index kept), text escaped, markup kept.
    assert dom.column("module-list-findings-table") == list(findings["entry"])
    assert dom.column("per-menu-table") == list(cmp.summary(df).index)
    assert "&lt;b&gt;not markup&lt;/b&gt;" in text and "<b>not markup</b>" not in text
    assert "<script>alert(1)</script>" not in text
    assert "raw-fragment" in dom.ids


@needs_chromium
def test_filter_box_hides_the_rows_without_the_text(sample, tmp_path):
    df = cmp.compare(sample)
    path = write_report(sample, tmp_path / "report.html", frame=df)
    needle = cmp.differing(df)["symbol"].iloc[0][:4].lower()
    dom = render(path, tmp_path, filter_text=needle)
    rows = dom.tables["differing-table"]
    assert len(rows) == len(cmp.differing(df))
    shown = [cells for cells, hidden in rows if not hidden]
    assert shown == [cells for cells, _ in rows if needle in "".join(cells).lower()]
    assert 0 < len(shown) <= len(rows)


@needs_chromium
def test_text_from_the_inputs_is_escaped(tmp_path):
    hostile = tmp_path / 'pkgs <img src=x onerror="document.title=1"> & co'
    shutil.copytree(sample_dir() / "pkgs", hostile)
    session = open_session(tmp_path / "cache", pkgs=hostile, kernel_src=sample_dir() / "linux")
    path = write_report(session, tmp_path / "report.html")
    dom = render(path, tmp_path)
    assert dom.body["data-images"] == dom.body["data-decoded"] == "2"  # the two charts, nothing injected
    assert len(dom.images) == 2
    assert dom.title.startswith("talosnb:")
    inputs = [cells for cells, _ in dom.tables["table-0"]]
    assert ["pkgs checkout", "", str(hostile)] in inputs


def test_writing_the_same_report_again_changes_nothing(sample, tmp_path):
    target = tmp_path / "report.html"
    write_report(sample, target)
    first = target.read_bytes()
    stamp = target.stat().st_mtime_ns
    write_report(sample, target)
    assert target.read_bytes() == first and target.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary file left
    assert report_html(sample) == first.decode("utf-8")


def test_a_section_body_of_another_kind_is_refused(sample):
    with pytest.raises(TypeError, match="DataFrame, Figure, Html or str"):
        report_html(sample, sections=[("Numbers", [1, 2, 3])])


# --- the real Talos v1.10 configs on Linux 6.12.117 ---------------------------------


@needs_chromium
def test_real_report_in_the_browser(real, tmp_path):
    df = cmp.compare(real)
    path = write_report(real, tmp_path / "talos-v1.10.html", frame=df)
    _assert_self_contained(path.read_text(encoding="utf-8"))
    dom = render(path, tmp_path)
    assert dom.h2 == BUILT_IN
    assert dom.body["data-images"] == dom.body["data-decoded"] == "2"
    differing = cmp.differing(df)
    assert len(differing) > 0
    assert dom.column("differing-table") == list(differing["symbol"])
    assert len(dom.tables["one-arch-table"]) == len(cmp.one_arch_only(df))
    from talosnb.core.versions import grouped

    html = path.read_text(encoding="utf-8")
    (note,) = [c.message for c in grouped(real.version_checks())]     # the Pkgfile and both headers: one note
    assert note in html and not any(c.message in html for c in real.version_checks())

    shot = tmp_path / "shot.png"
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1200,3000",
                             f"--screenshot={shot}", path.as_uri()],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (3000, 1200)
    colours = {tuple(p) for p in (pixels[::7, ::7].reshape(-1, 3) * 255).round().astype(int)}
    assert len(colours) > 20  # text, tables and the coloured bars, not a blank page


# --- talosnb report ------------------------------------------------------------------


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in INPUT_VARIABLES}
    env["TALOSNB_CACHE_DIR"] = str(cache)
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=False)


def test_cli_report(sample, tmp_path):
    out = tmp_path / "shared.html"
    result = _cli("report", "--output", str(out), "--format", "json", "--title", "Our kernel", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["output"] == str(out)
    assert payload["status_counts"] == cmp.status_counts(cmp.compare(sample))
    dom = Dom(out.read_text(encoding="utf-8"))
    assert dom.h1 == ["Our kernel"] and dom.h2 == BUILT_IN

    result = _cli("report", "--output", str(tmp_path / "shared.txt"), cache=tmp_path)
    assert result.returncode == 2 and "*.html" in result.stderr
    assert not (tmp_path / "shared.txt").exists()
