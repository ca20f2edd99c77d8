"""What a config or a module list says is shown, never obeyed: terminal escapes and other control
characters in config strings and list entries are printed as visible escapes (\\x1b), never raw,
by every text output (get, why, diff, compare, search, set, reports, errors); in the Markdown
report HTML is text (&lt;img&gt;), never live. On a writable copy of the embedded sample."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from engine_fixtures import SAMPLE

from talosnb.cli import main
from talosnb.present.markdown import cell, code
from talosnb.present.terminal import terminal_safe

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"
HTML = "<img src=x onerror=alert(1)>"


def args(root: Path) -> list[str]:
    return ["--pkgs", str(root / "pkgs"), "--talos", str(root / "talos"), "--kernel-src", str(root / "linux")]


@pytest.fixture
def hostile(sample) -> Path:
    config = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    text = config.read_text().replace('CONFIG_DEFAULT_HOSTNAME="(none)"',
                                      f'CONFIG_DEFAULT_HOSTNAME="{HTML}{ESCAPES}"')
    assert HTML in text
    config.write_text(text)
    return sample


def raw_controls(text: str) -> list[str]:
    return sorted({c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
                   or c == "\u202e"})


@pytest.mark.parametrize("command", [["get", "DEFAULT_HOSTNAME"], ["why", "DEFAULT_HOSTNAME=foo"],
                                     ["compare"], ["search", "hostname"], ["check"], ["diff"],
                                     ["set", "DEFAULT_HOSTNAME=foo\x1b[2J", "--dry-run"]])
@pytest.mark.parametrize("in_list", [False, True])
def test_control_characters_never_reach_the_terminal_raw(hostile, capsys, command, in_list):
    if in_list:   # a module-list entry too (refused with a message naming it: that message is escaped)
        modules = hostile / "talos" / "hack" / "modules-amd64.txt"
        modules.write_text(modules.read_text() + f"kernel/drivers/net/{ESCAPES}x.ko\n")
    main([command[0], *args(hostile), *command[1:]])
    out = capsys.readouterr()
    assert raw_controls(out.out) == [] and raw_controls(out.err) == [], (out.out[-800:], out.err[-800:])


def test_the_value_is_shown_escaped_not_dropped(hostile, capsys):
    main(["get", *args(hostile), "DEFAULT_HOSTNAME", "--arch", "amd64"])
    out = capsys.readouterr().out
    assert "\\x1b]0;owned\\x07" in out and "\\u202e" in out


def test_json_output_keeps_the_exact_value(hostile, capsys):
    main(["get", *args(hostile), "DEFAULT_HOSTNAME", "--arch", "amd64", "--format", "json"])
    out = capsys.readouterr().out
    assert raw_controls(out) == []
    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict | list):
            for item in value.values() if isinstance(value, dict) else value:
                yield from strings(item)
    assert any(HTML + ESCAPES in s for s in strings(json.loads(out)))   # exact, once decoded


def test_markdown_report_shows_html_as_text(hostile, capsys):
    main(["report", *args(hostile), "--base-pkgs", str(SAMPLE / "pkgs"), "--base-talos", str(SAMPLE / "talos"),
          "--format", "markdown", "--no-history"])
    captured = capsys.readouterr()
    out = captured.out
    assert "DEFAULT_HOSTNAME" in out, captured.err
    # a code span shows its text literally; everywhere else HTML must be escaped
    outside_code = re.sub(r"(`+).+?\1", "", out)
    assert "<img" not in outside_code and "&lt;img" in outside_code
    assert raw_controls(out) == []


def test_markdown_code_spans_and_cells():
    assert "<" not in cell(HTML) and cell(HTML) == "&lt;img src=x onerror=alert(1)&gt;"
    assert code("a``b") .startswith("```") and code("`x`") == "`` `x` ``"
    assert terminal_safe("ok\n\tline\x1b[0m") == "ok\n\tline\\x1b[0m"
