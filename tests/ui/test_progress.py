"""Progress bars: on stderr, or inside a notebook's loading widget, never an output of their own."""

from __future__ import annotations

from engine_fixtures import SAMPLE

from talosnb.core.progress import progress_bar, progress_into
from talosnb.kbuild.walk import build_kbuild_map


def test_a_bar_goes_to_the_line_it_is_given(capsys):
    lines: list[str] = []
    with progress_into(lines.append):
        kmap = build_kbuild_map(SAMPLE / "linux", "x86", progress=True)
    assert kmap is not None
    assert lines and all(line.startswith("Kbuild x86: ") for line in lines)
    assert any("dir" in line for line in lines)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""          # nothing that would become a cell output


def test_without_a_line_a_bar_writes_to_stderr_and_disabled_writes_nothing(capsys):
    with progress_bar(desc="work", total=3) as bar:
        bar.update(3)
    assert "work: 100%" in capsys.readouterr().err
    with progress_bar(enabled=False, desc="quiet", total=3) as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""
