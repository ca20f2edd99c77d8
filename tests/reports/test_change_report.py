"""The change report on real data: the Talos v1.10 checkouts made into a git repository, and a commit
that enables a driver as =m (CONFIG_CAN) and lists its .ko.

The head config of that commit is what the kernel's own tools write
(`merge_config.sh` + `conf --olddefconfig` on the Linux 6.12.117 tree, with this
host's compiler), and the judge of which lines the change makes is the same
tool: the difference between its output for the base and for the base plus
the fragment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import DATA, INPUT_VARIABLES, host_toolchain, open_session, real_config

from talosnb.analyses.change import KINDS
from talosnb.app.change import change_report_for
from talosnb.cli.main import main
from talosnb.core.dotconfig import parse_line, read_values, split_lines
from talosnb.present.change import new_modules_text
from talosnb.present.markdown import cell, change_markdown
from talosnb.present.report import change_report_html

ROOT = Path(__file__).resolve().parents[2]
ARCHES = ("amd64", "arm64")
FRAGMENT = "CONFIG_CAN=m\n"
KO = "kernel/net/can/can.ko"


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def _with_entry(text: str, entry: str) -> str:
    """A module list with `entry` at its LC_ALL=C sort place, every other line where it was."""
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if line.encode() > entry.encode()), len(lines))
    return "\n".join([*lines[:at], entry, *lines[at:]]) + "\n"


def _values(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in read_values(text).items()}


def _diff(before: str, after: str) -> dict[str, tuple]:
    a, b = _values(before), _values(after)
    return {s: (a.get(s), b.get(s)) for s in a.keys() | b.keys() if a.get(s) != b.get(s)}


@pytest.fixture(scope="module")
def merged(kernel_conf) -> dict[str, str]:
    """What the kernel's merge_config.sh + conf write for the v1.10 configs plus CONFIG_CAN=m."""
    return {arch: kernel_conf["6.12"].merge(real_config("v1.10", arch), [FRAGMENT], arch, host_toolchain())
            for arch in ARCHES}


@pytest.fixture(scope="module")
def expected(conf_v110, merged) -> dict[str, dict[str, tuple]]:
    """Per arch, the lines the change makes, as the kernel's conf says: conf(base + fragment) - conf(base)."""
    return {arch: _diff(conf_v110[arch], merged[arch]) for arch in ARCHES}


@pytest.fixture(scope="module")
def repo(merged, tmp_path_factory) -> Path:
    """talos-v1.10 (pkgs/ and talos/) as a git repository: the base commit, then the change."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("change") / "checkouts"
    shutil.copytree(DATA["v1.10"], root)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "Talos v1.10 kernel inputs")
    for arch in ARCHES:
        (root / "pkgs/kernel/build" / f"config-{arch}").write_text(merged[arch])
        listed = root / "talos/hack" / f"modules-{arch}.txt"
        listed.write_text(_with_entry(listed.read_text(), KO))
    _git(root, "commit", "-qam", "feat: enable CAN as a module")
    return root


@pytest.fixture(scope="module")
def report(repo, trees, engine_cache):
    head = open_session(engine_cache, pkgs=repo / "pkgs", talos=repo / "talos", kernel_src=trees["6.12"])
    return change_report_for(head, base="HEAD~1")


@pytest.mark.slow
def test_the_report_lists_exactly_the_lines_the_kernels_conf_changes(report, expected):
    for arch in ARCHES:
        one = report.arches[arch]
        got = {c.symbol: (c.old, c.new) for c in one.by_kind("change")}
        assert got == expected[arch], arch
        assert len(got) > 30                                  # CAN's protocols, drivers and options
        assert one.requested == ["CAN=m"]
        reasons = {c.symbol: c.reason for c in one.by_kind("change")}
        assert reasons["CAN"] == "set by the change"
        assert reasons["CAN_RAW"].startswith("default y if CAN")
        assert reasons["CAN_8DEV_USB"].startswith("now visible: USB && CAN_NETLINK")
        assert not one.by_kind("missing")


@pytest.mark.slow
def test_what_else_differs_is_what_conf_writes_for_the_base_alone(report, conf_v110, repo):
    # The head config was written with this host's gcc 12 on the 6.12.117 tree; the base records
    # Talos's gcc 14 and 6.12.63. Those lines differ too, and are not the change's doing.
    for arch in ARCHES:
        one = report.arches[arch]
        head = file_values_of(repo / "pkgs/kernel/build" / f"config-{arch}")
        conf_base = _values(conf_v110[arch])
        others = [c for c in one.lines if c.kind in ("not-reproduced", "normalized")]
        assert others
        for c in others:
            assert conf_base.get(c.symbol) == head.get(c.symbol), (arch, c)
        # compiler lines: olddefconfig with the base's recorded toolchain keeps gcc 14
        toolchain = {c.symbol: c for c in one.by_kind("not-reproduced")}
        assert toolchain["GCC_VERSION"].expected == "140200" and toolchain["GCC_VERSION"].new == "120200"
        for c in one.by_kind("undefined"):
            assert c.symbol not in conf_base and c.new is None
        assert one.drift == 0      # the head was normalized by conf, so no line is left to rewrite


def file_values_of(path: Path) -> dict[str, str]:
    return _values(path.read_text())


@pytest.mark.slow
def test_modules_lists_gates_and_history(report, repo):
    base = _git(repo, "rev-parse", "HEAD~1").strip()
    for arch in ARCHES:
        one = report.arches[arch]
        assert KO in one.built and "kernel/net/can/can-raw.ko" in one.built
        assert one.unbuilt == []
        assert one.list_added == [KO] and one.list_removed == []
        assert KO not in one.unlisted_built and "kernel/net/can/can-raw.ko" in one.unlisted_built
        assert [g.gate for g in one.gates] == ["modules"]
        assert one.gates[0].passed_after and not one.gates[0].new_errors
        assert one.history["CAN"].commit == base[:12] and one.history["CAN"].after == "n"
    assert report.ok
    assert f"New modules (amd64):\n{report.arches['amd64'].built[0]}\n" in new_modules_text(report)
    assert report.base_label.startswith("HEAD~1 (") and base[:12] in report.base_label
    # each drift said once: both sides' Pkgfile in one note, the base's two headers in another (the
    # head's configs were written on the 6.12.117 tree); six files, two notes
    both, headers = [n for n in report.notes if "6.12.63" in n]
    assert both.startswith("base and head: kernel tree is 6.12.117 but Pkgfile linux_version (")
    assert both.endswith("Pkgfile:88) is 6.12.63 (same 6.12 series; a few symbols may differ between stable releases)")
    # the base was read from git into a scratch folder, gone now: messages name REF:path
    assert headers.startswith("base: kernel tree is 6.12.117 but the header of config-amd64 "
                              "(HEAD~1:pkgs/kernel/build/config-amd64:3), the header of config-arm64 "
                              "(HEAD~1:pkgs/kernel/build/config-arm64:3) are 6.12.63")
    assert not any("talosnb-base-" in n for n in report.notes)
    assert report.arches["amd64"].base_source == "HEAD~1:pkgs/kernel/build/config-amd64"


def _patched(base: str, changes: dict[str, tuple], merged: str) -> str:
    """`base` with the changed lines taken from `merged` (at their place, new ones at the end):
    a head config made with Talos's own toolchain, which only differs by the change."""
    lines_of = {p.symbol: line for line in split_lines(merged) if (p := parse_line(line))}
    out, seen = [], set()
    for line in split_lines(base):
        parsed = parse_line(line)
        if parsed and parsed.symbol in changes:
            seen.add(parsed.symbol)
            if changes[parsed.symbol][1] is not None:
                out.append(lines_of[parsed.symbol])
        else:
            out.append(line)
    out += [lines_of[s] for s in sorted(changes) if s not in seen and changes[s][1] is not None]
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def clean_head(expected, merged, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "head"
    shutil.copytree(DATA["v1.10"], root)
    for arch in ARCHES:
        (root / "pkgs/kernel/build" / f"config-{arch}").write_text(
            _patched(real_config("v1.10", arch), expected[arch], merged[arch]))
        listed = root / "talos/hack" / f"modules-{arch}.txt"
        listed.write_text(_with_entry(listed.read_text(), KO))
    return root


@pytest.mark.slow
def test_a_head_made_with_the_base_toolchain_differs_by_the_change_only(clean_head, expected, trees, engine_cache):
    head = open_session(engine_cache, pkgs=clean_head / "pkgs", talos=clean_head / "talos", kernel_src=trees["6.12"])
    report = change_report_for(head, base_pkgs=DATA["v1.10"] / "pkgs", base_talos=DATA["v1.10"] / "talos")
    for arch in ARCHES:
        one = report.arches[arch]
        assert {c.kind for c in one.lines} == {"change"}
        assert {c.symbol: (c.old, c.new) for c in one.lines} == expected[arch]
        assert one.drift > 0       # the 6.12.117 tree rewrites lines of the 6.12.63 configs, base and head alike
        assert one.history == {}   # the base folder is no git clone
    assert report.ok


@pytest.mark.slow
def test_a_listed_module_the_head_builds_in_fails_the_gate(clean_head, trees, engine_cache, tmp_path):
    head_root = tmp_path / "head"
    shutil.copytree(clean_head, head_root)
    listed = head_root / "talos/hack/modules-amd64.txt"
    listed.write_text(_with_entry(listed.read_text(), "kernel/drivers/net/dummy.ko"))    # CONFIG_DUMMY=y
    args = ["report", "--pkgs", str(head_root / "pkgs"), "--talos", str(head_root / "talos"),
            "--kernel-src", str(trees["6.12"]), "--base-pkgs", str(DATA["v1.10"] / "pkgs"),
            "--base-talos", str(DATA["v1.10"] / "talos"), "--format", "json"]
    result = _cli(*args, cache=engine_cache)
    assert result.returncode == 1, result.stderr
    payload = json.loads(result.stdout)
    assert not payload["ok"]
    gate = payload["arches"]["amd64"]["gates"][0]
    assert gate["passed_before"] and not gate["passed_after"]
    assert [(e["kind"], e["entry"]) for e in gate["new_errors"]] == [("builtin", "kernel/drivers/net/dummy.ko")]
    assert payload["arches"]["arm64"]["gates"][0]["passed_after"]


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in INPUT_VARIABLES}
    env.update({"TALOSNB_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)})
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, check=False)


@pytest.mark.slow
def test_cli_markdown_to_paste_into_a_pull_request(repo, trees, engine_cache, expected):
    result = _cli("report", "--pkgs", str(repo / "pkgs"), "--talos", str(repo / "talos"),
                  "--kernel-src", str(trees["6.12"]), "--base", "HEAD~1", "--format", "markdown", cache=engine_cache)
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert md.startswith("### What this change does to the kernel configs\n")
    assert f"| amd64 | {len(expected['amd64'])} | `CAN=m` | " in md
    block = md.split("#### Modules\n\n```\n", 1)[1].split("```", 1)[0]
    assert block.startswith("New modules (amd64):\n") and f"\n{KO}\n" in block
    assert "`modules-amd64.txt`: \n```diff\n+ kernel/net/can/can.ko\n```" in md
    assert "| `CONFIG_CAN` | n → **m** (**set by the change**) | n → **m** (**set by the change**) |" in md
    assert "NaN" not in md and "None" not in md


@pytest.mark.slow
def test_cli_html_is_one_offline_file(repo, trees, engine_cache, tmp_path, browser):
    out = tmp_path / "change.html"
    result = _cli("report", "--pkgs", str(repo / "pkgs"), "--talos", str(repo / "talos"),
                  "--kernel-src", str(trees["6.12"]), "--base", "HEAD~1", "-o", str(out), "--format", "json",
                  cache=engine_cache)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["output"] == str(out) and payload["arches"]["arm64"]["requested"] == ["CAN=m"]
    page = browser.load(out, {"h2": "Array.from(document.querySelectorAll('h2')).map(h => h.textContent)",
                              "highlighted": "document.querySelectorAll('td.requested').length"})
    assert page.blocked == []
    assert page.values["h2"][:3] == ["Summary", "Config lines changed", "Other line differences"]
    assert {"Modules", "Module lists", "Gates", "History"} <= set(page.values["h2"])
    assert page.values["highlighted"] == 2                        # CONFIG_CAN on both arches
    assert "CONFIG_CAN_RAW" in page.text and "default y if CAN && NET" in page.text
    assert KO in page.text and "NaN" not in page.text


@pytest.mark.parametrize("argv, message", [
    (["report", "--base", "HEAD"], "the embedded sample has no git history"),
    (["report", "--base-talos", "/tmp"], "--base-talos needs --base-pkgs"),
    (["report", "--base", "HEAD", "--base-pkgs", "/tmp"], "name the base twice"),
    (["report", "--format", "markdown", "-o", "x.html"], "--format markdown is for change reports"),
    (["report", "--base", "HEAD", "-o", "x.txt"], "name the file *.html (HTML) or *.md"),
    (["report", "--capture", "node.yaml", "-o", "x.html"], "--capture names the devices a change affects"),
    (["report", "--base-pkgs", "/tmp", "--capture", "no-such-capture.yaml"], "no-such-capture.yaml: no such file"),
])
def test_cli_refuses_unclear_requests(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path))
    for name in INPUT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_an_unknown_ref_is_named(repo, trees, engine_cache, capsys, monkeypatch):
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    code = main(["report", "--pkgs", str(repo / "pkgs"), "--talos", str(repo / "talos"), "--kernel-src",
                 str(trees["6.12"]), "--base", "origin/no-such-branch"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'origin/no-such-branch' is not a commit" in err and "git fetch" in err


@pytest.mark.slow
def test_renderings_escape_the_inputs(report):
    assert cell("a|b\nc") == "a\\|b c"
    md = change_markdown(report, title="x | y")
    assert md.startswith("### x | y\n")       # a title is a heading, not a table cell
    html = change_report_html(report, title="<b>mine</b>")
    assert "<title>&lt;b&gt;mine&lt;/b&gt;</title>" in html
    assert set(KINDS) >= {c.kind for c in report.lines(KINDS)}


def test_version_notes_say_once_what_base_and_head_both_say():
    from talosnb.analyses.change import version_notes
    from talosnb.core.versions import compare_versions

    def drift(other: str, what: str, where: str):
        check = compare_versions("6.12.117", other, what, where)
        assert check is not None
        return check

    base = [drift("6.12.63", "Pkgfile linux_version", "HEAD~1:pkgs/Pkgfile:88"),
            drift("6.12.63", "the header of config-amd64", "HEAD~1:pkgs/kernel/build/config-amd64:3")]
    head = [drift("6.12.63", "the header of config-amd64", "pkgs/kernel/build/config-amd64:3"),
            drift("6.12.110", "Pkgfile linux_version", "pkgs/Pkgfile:88")]     # the head bumped its Pkgfile
    tail = " (same 6.12 series; a few symbols may differ between stable releases)"
    assert version_notes(base, head) == [
        ("base and head: kernel tree is 6.12.117 but the header of config-amd64 (pkgs/kernel/build/config-amd64:3) "
         f"is 6.12.63{tail}"),
        f"base: kernel tree is 6.12.117 but Pkgfile linux_version (HEAD~1:pkgs/Pkgfile:88) is 6.12.63{tail}",
        f"head: kernel tree is 6.12.117 but Pkgfile linux_version (pkgs/Pkgfile:88) is 6.12.110{tail}"]
    both = version_notes(base, [drift("6.12.63", "Pkgfile linux_version", "pkgs/Pkgfile:88"), head[0]])
    assert both == [("base and head: kernel tree is 6.12.117 but Pkgfile linux_version (pkgs/Pkgfile:88), the header "
                     f"of config-amd64 (pkgs/kernel/build/config-amd64:3) are 6.12.63{tail}")]
