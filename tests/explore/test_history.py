"""Each config line's history, on a git repository made in the test from the real Talos v1.10 configs,
with the renames, kernel bumps and reorders the real pkgs history has.

The oracle is git itself, read the slow way: every version of each config file
(`git show COMMIT:PATH` at whichever path the file had), parsed and compared
with the previous one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import DATA

from talosnb.analyses.history import build_index, history_of
from talosnb.core.dotconfig import read_values

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = "kernel/kernel", "kernel/build"


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def _commit(repo: Path, message: str, date: str) -> str:
    _git(repo, "add", "-A")
    env_date = f"{date}T12:00:00+00:00"
    subprocess.run(["git", "commit", "-q", "-m", message, "--date", env_date], cwd=repo, check=True,
                   env={**os.environ, "GIT_COMMITTER_DATE": env_date, "GIT_AUTHOR_NAME": "T",
                        "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T",
                        "GIT_COMMITTER_EMAIL": "t@example.com"})
    return _git(repo, "rev-parse", "HEAD").strip()


def _edit(path: Path, old: str, new: str | None) -> None:
    lines = path.read_text().split("\n")
    index = lines.index(old)
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    path.write_text("\n".join(lines))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> dict:
    """pkgs history: import at kernel/kernel/, a rename with an edit, CAN enabled, a kernel bump,
    a reorder-only commit, a line dropped. Returns the repo and the commits by name."""
    data = DATA["v1.10"] / "pkgs"
    if not data.is_dir():
        pytest.skip("the Talos v1.10 data is not in ../shared")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("history") / "pkgs"
    (repo / OLD).mkdir(parents=True)
    _git(repo, "init", "-q")
    shutil.copy(data / "Pkgfile", repo / "Pkgfile")
    for arch in ("amd64", "arm64"):
        shutil.copy(data / "kernel/build" / f"config-{arch}", repo / OLD / f"config-{arch}")
    commits = {"import": _commit(repo, "kernel: import the configs", "2025-01-01")}
    _git(repo, "mv", OLD, NEW)
    _edit(repo / NEW / "config-amd64", "# CONFIG_ATL1C is not set", "CONFIG_ATL1C=m")
    commits["rename"] = _commit(repo, "kernel: move the configs to kernel/build", "2025-02-01")
    _edit(repo / NEW / "config-amd64", "# CONFIG_CAN is not set", "CONFIG_CAN=m")
    commits["can"] = _commit(repo, "feat: enable CAN as a module", "2025-03-01")
    pkgfile = (repo / "Pkgfile").read_text()
    (repo / "Pkgfile").write_text(pkgfile.replace("linux_version: 6.12.63", "linux_version: 6.12.64"))
    _edit(repo / NEW / "config-amd64", "CONFIG_CAN=m", "CONFIG_CAN=y")
    _edit(repo / NEW / "config-arm64", "# CONFIG_CAN is not set", "CONFIG_CAN=m")
    commits["bump"] = _commit(repo, "feat: update Linux to 6.12.64", "2025-04-01")
    arm = repo / NEW / "config-arm64"
    lines = arm.read_text().split("\n")
    i = lines.index("CONFIG_CAN=m")
    lines[i - 1], lines[i] = lines[i], lines[i - 1]           # CAN and the line before it swap places
    arm.write_text("\n".join(lines))
    commits["reorder"] = _commit(repo, "chore: reorder", "2025-05-01")
    _edit(repo / NEW / "config-amd64", "CONFIG_CAN=y", None)
    commits["drop"] = _commit(repo, "fix: drop the CAN line", "2025-06-01")
    return {"path": repo, "commits": commits, "moved_with_can": lines[i]}


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _oracle(repo: Path, arch: str) -> dict[str, list[tuple[str, str | None, str | None]]]:
    """symbol -> [(commit, before, after)] newest first, from every version of the file."""
    out: dict[str, list] = {}
    previous: dict[str, str] = {}
    for commit in _git(repo, "rev-list", "--reverse", "HEAD").split():
        names = _git(repo, "ls-tree", "-r", "--name-only", commit).split("\n")
        path = next(p for p in (f"{NEW}/config-{arch}", f"{OLD}/config-{arch}") if p in names)
        values = read_values(_git(repo, "show", f"{commit}:{path}"))
        for name in sorted(values.keys() | previous.keys()):
            if values.get(name) != previous.get(name):
                out.setdefault(name, []).insert(0, (commit, previous.get(name), values.get(name)))
        previous = values
    return out


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_the_index_says_what_every_version_of_the_file_says(repo, cache, arch):
    index = build_index(repo["path"], arches=[arch])
    expected = _oracle(repo["path"], arch)
    assert len(expected) > 5000                       # the import adds every line of the real config
    got = {}
    for name in index.symbols(arch):
        rows = [(sha, before, after) for sha, before, after, _path in index.entries(name, arch) if before != after]
        if rows:
            got[name] = rows
    assert got == expected


def test_history_of_a_line_newest_first_with_bumps_and_renames(repo, cache):
    c = repo["commits"]
    index = build_index(repo["path"])
    df = history_of(index, "CONFIG_CAN", "amd64")
    assert list(df["commit"]) == [c[k][:12] for k in ("drop", "bump", "can", "import")]
    assert list(df["before"]) == ["y", "m", "n", None]
    assert list(df["after"]) == [None, "y", "m", "n"]
    assert list(df["change"]) == ["removed", "changed", "changed", "added"]
    assert list(df["kernel_bump"]) == ["", "6.12.63 -> 6.12.64", "", ""]
    assert list(df["date"]) == ["2025-06-01", "2025-04-01", "2025-03-01", "2025-01-01"]
    assert df["subject"][1] == "feat: update Linux to 6.12.64"
    # --follow: the import is found under the file's first name
    assert list(df["path"]) == [f"{NEW}/config-amd64"] * 3 + [f"{OLD}/config-amd64"]
    # the rename commit changed a line too
    atl1c = history_of(index, "ATL1C", "amd64")
    assert atl1c["commit"][0] == c["rename"][:12] and atl1c["after"][0] == "m"


def test_reorder_only_commits_are_marked_not_hidden(repo, cache):
    c = repo["commits"]
    index = build_index(repo["path"])
    assert c["reorder"] in index.reorder_only["arm64"] and c["bump"] not in index.reorder_only["arm64"]
    # two lines swapped: git's diff moves one of them; that line's history shows the move
    neighbour = read_values(repo["moved_with_can"])
    assert len(neighbour) == 1
    moved = []
    for name in ("CAN", *neighbour):
        df = history_of(index, name, "arm64")
        rows = df[df["commit"] == c["reorder"][:12]]
        if len(rows):
            assert list(rows["change"]) == ["moved"] and list(rows["reorder_only"]) == [True]
            assert rows["before"].iloc[0] == rows["after"].iloc[0] == read_values(
                (repo["path"] / NEW / "config-arm64").read_text())[name]
            moved.append(name)
    assert len(moved) == 1
    df = history_of(index, "CAN", "arm64")
    assert list(df[df["change"] != "moved"]["commit"]) == [c["bump"][:12], c["import"][:12]]
    assert index.last_change("CAN", "arm64").commit == c["bump"][:12]    # moves are not value changes
    # both arches, newest first
    both = history_of(index, "CAN")
    both = both[both["change"] != "moved"]
    assert list(both["arch"]) == ["amd64", "amd64", "arm64", "amd64", "amd64", "arm64"]


def test_the_index_is_cached_by_commit(repo, cache, tmp_path):
    first = build_index(repo["path"])
    assert not first.from_cache
    again = build_index(repo["path"])
    assert again.from_cache and again.records("CAN") == first.records("CAN")
    older = build_index(repo["path"], rev="HEAD~1")
    assert not older.from_cache and older.commit == repo["commits"]["reorder"]
    assert older.records("CAN", "amd64")[0].commit == repo["commits"]["bump"][:12]
    assert len(list(cache.rglob("*.pickle"))) == 2


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TALOSNB_CACHE_DIR": str(cache)}
    env.pop("TALOSNB_PKGS", None)
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True, env=env,
                          check=False)


def test_cli_history(repo, tmp_path):
    result = _cli("history", "--pkgs", str(repo["path"]), "CAN", "ATL1C", "--arch", "amd64", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "CONFIG_CAN: 4 commit(s)" in result.stdout
    assert "[kernel bump 6.12.63 -> 6.12.64]" in result.stdout
    assert "2025-06-01" in result.stdout.split("CONFIG_CAN")[1].splitlines()[1]       # newest first
    result = _cli("history", "--pkgs", str(repo["path"]), "CONFIG_CAN", "--arch", "arm64", "--values-only",
                  "--limit", "1", "--format", "json", cache=tmp_path)
    payload = json.loads(result.stdout)
    can = payload["symbols"]["CAN"]
    assert can["total"] == 2 and [r["change"] for r in can["commits"]] == ["changed"]


def test_cli_history_needs_a_git_checkout(sample, tmp_path):
    result = _cli("history", "--pkgs", str(sample / "pkgs"), "DUMMY", cache=tmp_path)
    assert result.returncode == 2
    assert "not in a git repository" in result.stderr and "Traceback" not in result.stderr
    result = _cli("history", "DUMMY", cache=tmp_path)
    assert result.returncode == 2 and "give --pkgs DIR" in result.stderr
    result = _cli("history", "--pkgs", str(sample / "pkgs"), "NOT-A-NAME", cache=tmp_path)
    assert result.returncode == 2 and "not a symbol name" in result.stderr


@pytest.fixture
def sample(tmp_path) -> Path:
    """A copy of the embedded sample outside any git work tree."""
    root = tmp_path / "sample"
    shutil.copytree(ROOT / "data" / "sample", root)
    return root



def test_the_history_as_html_for_the_symbol_panel(repo, cache):
    from talosnb.present.html import history_html

    index = build_index(repo["path"])
    html = history_html(history_of(index, "CAN"))
    assert html.count("<tr>") == 1 + len(index.records("CAN"))
    assert "(no line) &rarr; n" in html and "kernel bump 6.12.63 -&gt; 6.12.64" in html
    assert "None" not in html and "NaN" not in html
    assert "no commit changed" in history_html(history_of(index, "NOT_A_SYMBOL"))


def test_the_symbol_panel_shows_the_line_history_of_a_git_checkout(tmp_path, cache):
    """Explore's history button on a pkgs git clone (the embedded sample with two commits); the sample
    itself has no history, and the view offers none."""
    from talosnb.widgets import ExploreView, open_workspace

    sample = ROOT / "data" / "sample"
    pkgs = tmp_path / "pkgs"
    shutil.copytree(sample / "pkgs", pkgs)
    _git(pkgs, "init", "-q")
    _commit(pkgs, "kernel: import the configs", "2025-01-01")
    _edit(pkgs / NEW / "config-amd64", "# CONFIG_DUMMY is not set", "CONFIG_DUMMY=m")
    made = _commit(pkgs, "feat: dummy as a module", "2025-02-01")
    ws = open_workspace(pkgs=pkgs, talos=sample / "talos", kernel_src=sample / "linux", scratch=False)
    assert ws.has_history()
    view = ExploreView(ws, symbol="DUMMY")
    assert view.history_button in view.children and view.history.value == ""
    view.history_button.click()
    html = view.history.value
    assert "History of CONFIG_DUMMY" in html and made[:12] in html and "feat: dummy as a module" in html
    assert "n &rarr; m" in html and "(no line) &rarr; n" in html     # amd64's change; both arches' import
    frame = ws.line_history("DUMMY", "amd64")
    assert list(frame["commit"]) == [made[:12], frame["commit"].iloc[-1]] and len(frame) == 2
    view.select("NETDEVICES")                                        # another symbol: the old history goes
    assert view.history.value == ""

    plain = open_workspace()                                         # the embedded sample
    assert not plain.has_history()
    assert ExploreView(plain).history_button not in ExploreView(plain).children
