"""amd64 against arm64: the comparison frame, its filters and summaries, the charts, `talosnb compare`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from engine_fixtures import DATA, INPUT_VARIABLES, open_session
from matplotlib.figure import Figure

from talosnb.analyses import compare as cmp
from talosnb.app.session import Session
from talosnb.core.dotconfig import read_values as written_values
from talosnb.core.errors import InputError
from talosnb.kconfig.info import symbol_info
from talosnb.present import plots

ROOT = Path(__file__).resolve().parents[2]
ARCHES = ("amd64", "arm64")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Session:
    return open_session(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def real(trees, engine_cache) -> Session:
    return open_session(engine_cache, pkgs=DATA["v1.10"] / "pkgs", kernel_src=trees["6.12"])


@pytest.fixture(params=["sample", "real"])
def session(request) -> Session:
    return request.getfixturevalue(request.param)


def _config_files(session: Session) -> dict[str, dict[str, str]]:
    """Symbol -> value as the .config text the kernel's conf would write holds it (strings unquoted)."""
    return {arch: {name: _unquote(value) for name, value in written_values(config.text()).items()}
            for arch, config in session.configs.items()}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _defined(session: Session) -> dict[str, set[str]]:
    return {arch: {s.name for s in config.kconf.unique_defined_syms if config.has_symbol(s.name)}
            for arch, config in session.configs.items()}


def _off_if_missing(value, kind):
    return "n" if value is None and kind in ("bool", "tristate") else value


def _value(row, arch):
    value = row[arch]
    return None if pd.isna(value) else value


# --- the frame -----------------------------------------------------------------


def test_one_row_per_symbol_defined_on_either_arch(session):
    df = cmp.compare(session)
    defined = _defined(session)
    assert df["symbol"].is_unique
    assert set(df["symbol"]) == defined["amd64"] | defined["arm64"]
    assert list(df.columns) == cmp.COLUMNS
    for arch in ARCHES:
        only = df[df["defined"] == arch]
        other = ARCHES[1 - ARCHES.index(arch)]
        assert set(only["symbol"]) == defined[arch] - defined[other]
        assert only[other].isna().all() and only[f"visible_{other}"].isna().all()
    assert set(df.loc[df["defined"] == "both", "symbol"]) == defined["amd64"] & defined["arm64"]


def test_values_are_the_config_lines_and_status_follows_them(session):
    df = cmp.compare(session)
    files = _config_files(session)
    kinds = {arch: {s.name: s for s in config.kconf.unique_defined_syms} for arch, config in
             session.configs.items()}
    checked = 0
    for row in df.to_dict(orient="records"):
        name = row["symbol"]
        for arch in ARCHES:
            assert _value(row, arch) == files[arch].get(name), (name, arch)
        if row["defined"] != "both":
            assert row["status"] == f"{row['defined']}-only"
            continue
        amd, arm = files["amd64"].get(name), files["arm64"].get(name)
        kind = row["type"]
        if amd is None and arm is None:
            expected = "defined-but-unset"
        elif _off_if_missing(amd, kind) == _off_if_missing(arm, kind):
            expected = "same"
        else:
            expected = "differs"
        assert row["status"] == expected, name
        assert bool(row["visible_amd64"]) == (kinds["amd64"][name].visibility > 0)
        checked += 1
    assert checked > 0


def test_menu_prompt_and_location_come_from_the_kconfig(session):
    df = cmp.compare(session).set_index("symbol")
    config = session.configs["amd64"]
    single = [s for s in config.kconf.unique_defined_syms
              if len(s.nodes) == 1 and s.nodes[0].prompt and s.name in df.index]
    assert single
    for sym in single[:: max(1, len(single) // 300)]:
        info = symbol_info(config, sym.name)
        row = df.loc[sym.name]
        assert row["menu_path"] == " > ".join(info["menu_path"])
        assert row["prompt"] == info["prompt"]
        assert row["location"] == info["defined_at"][0]
        assert row["type"] == info["type"]
        if info["menu_path"]:
            assert row["menu"] == info["menu_path"][0]
        assert (row["help"] if not pd.isna(row["help"]) else None) == info["help"]


def test_rows_are_sorted_by_menu_then_symbol_and_stable(session):
    df = cmp.compare(session)
    keys = list(zip(df["menu"], df["symbol"], strict=True))
    assert keys == sorted(keys)
    assert list(df.index) == list(range(len(df)))
    pd.testing.assert_frame_equal(df, cmp.compare(session.configs))


def test_needs_both_arches(tmp_path):
    one = open_session(tmp_path / "cache", arch="amd64")
    with pytest.raises(InputError, match="both arches"):
        cmp.compare(one)


# --- filters -------------------------------------------------------------------


def test_status_filters(session):
    df = cmp.compare(session)
    assert set(cmp.differing(df)["status"]) <= {"differs"}
    assert len(cmp.differing(df)) == (df["status"] == "differs").sum()
    only = cmp.one_arch_only(df)
    assert len(only) == (df["defined"] != "both").sum()
    for arch in ARCHES:
        assert (cmp.one_arch_only(df, arch)["defined"] == arch).all()
    assert len(cmp.by_status(df, *cmp.STATUSES)) == len(df)
    with pytest.raises(InputError, match="unknown status"):
        cmp.by_status(df, "different")
    with pytest.raises(InputError, match="unknown arch"):
        cmp.one_arch_only(df, "riscv")


def test_value_pair_filter(session):
    df = cmp.compare(session)
    files = _config_files(session)
    kinds = dict(zip(df["symbol"], df["type"], strict=True))
    both = df.loc[df["defined"] == "both", "symbol"]
    effective = {arch: {n: _off_if_missing(files[arch].get(n), kinds[n]) for n in both} for arch in ARCHES}
    expected = {n for n in both if {effective["amd64"][n], effective["arm64"][n]} == {"m", "y"}}
    assert set(cmp.by_values(df, "m,y")["symbol"]) == expected
    assert set(cmp.by_values(df, ["y", "m"])["symbol"]) == expected
    ordered = {n for n in both if effective["amd64"][n] == "m" and effective["arm64"][n] == "y"}
    assert set(cmp.by_values(df, "m,y", ordered=True)["symbol"]) == ordered
    assert set(cmp.differing(cmp.by_values(df, "m,y"))["symbol"]) == expected
    with pytest.raises(InputError):
        cmp.by_values(df, "m")


def test_text_and_menu_filters_compose(session):
    df = cmp.compare(session)
    sym = cmp.differing(df).iloc[0]
    needle = sym["symbol"][1:-1].lower()
    hits = cmp.by_text(df, needle)
    assert sym["symbol"] in set(hits["symbol"])
    texts = df[["symbol", "prompt", "help"]].fillna("").agg(" ".join, axis=1).str.lower()
    assert set(hits["symbol"]) == set(df.loc[texts.str.contains(needle, regex=False), "symbol"])
    menu = sym["menu"]
    in_menu = cmp.by_menu(df, menu.upper())
    assert set(df.loc[df["menu"] == menu, "symbol"]) <= set(in_menu["symbol"])
    assert in_menu.apply(lambda r: menu.lower() in (r["menu"] + " " + r["menu_path"]).lower(), axis=1).all()
    a = cmp.by_text(cmp.differing(cmp.by_menu(df, menu)), needle)
    b = cmp.by_menu(cmp.differing(cmp.by_text(df, needle)), menu)
    pd.testing.assert_frame_equal(a, b)
    assert sym["symbol"] in set(a["symbol"])


# --- summaries -----------------------------------------------------------------


def test_summaries_add_up(session):
    df = cmp.compare(session)
    table = cmp.summary(df)
    counts = cmp.status_counts(df)
    assert list(table.columns) == [*cmp.STATUSES, "total"]
    assert list(table.index) == sorted(set(df["menu"]))
    assert {s: int(table[s].sum()) for s in cmp.STATUSES} == counts
    assert int(table["total"].sum()) == len(df) == sum(counts.values())
    files = _config_files(session)
    assert cmp.module_counts(df) == {a: sum(v == "m" for v in files[a].values()) for a in ARCHES}
    values = cmp.value_counts(df)
    for arch in ARCHES:
        for value in ("y", "m", "n"):
            assert int(values[f"{arch} {value}"].sum()) == sum(v == value for v in files[arch].values())


# --- the real Talos v1.10 configs on Linux 6.12.117 ------------------------------


def test_real_configs_differ_in_both_directions(real):
    df = cmp.compare(real)
    counts = cmp.status_counts(df)
    assert counts["differs"] > 0 and counts["amd64-only"] > 0 and counts["arm64-only"] > 0
    rows = df.set_index("symbol")
    assert rows.loc["X86_64", "status"] == "amd64-only" and rows.loc["ARM64", "status"] == "arm64-only"
    assert len(df) > 17000
    mods = cmp.module_counts(df)
    assert mods["amd64"] > 0 and mods["arm64"] > 0


# --- charts --------------------------------------------------------------------


def test_difference_chart_has_one_stacked_bar_per_menu_and_status(session):
    df = cmp.compare(session)
    kinds = ["differs", "amd64-only", "arm64-only"]
    expected = df[df["status"].isin(kinds)].groupby(["menu", "status"]).size()
    menus = sorted(set(expected.index.get_level_values("menu")))
    fig = plots.differences_by_menu(df)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.containers) == len(kinds)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == menus
    for status, bars in zip(kinds, ax.containers, strict=True):
        assert len(bars) == len(menus)
        for label, bar in zip(labels, bars, strict=True):
            assert bar.get_width() == expected.get((label, status), 0)
    top = plots.differences_by_menu(df, top=2)
    assert all(len(bars) == min(2, len(menus)) for bars in top.axes[0].containers)
    fig.canvas.draw()  # renders headless


def test_value_chart_counts_every_line(session):
    df = cmp.compare(session)
    files = _config_files(session)
    fig = plots.values_by_menu(session)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    has_line = df[list(ARCHES)].isin(["y", "m", "n"]).any(axis=1)
    menus = set(df.loc[has_line, "menu"])
    for ax, arch in zip(fig.axes, ARCHES, strict=True):
        assert len(ax.containers) == 3
        assert all(len(bars) == len(menus) for bars in ax.containers)
        for value, bars in zip(("y", "m", "n"), ax.containers, strict=True):
            assert sum(b.get_width() for b in bars) == sum(v == value for v in files[arch].values())
    fig.canvas.draw()


# --- talosnb compare -------------------------------------------------------------


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in INPUT_VARIABLES}
    env["TALOSNB_CACHE_DIR"] = str(cache)
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=False)


def test_cli_compare_json_on_real_configs(real, trees, engine_cache, capsys, monkeypatch):
    df = cmp.compare(real)
    result = _cli("compare", "--format", "json", "--values", "m,y", "--pkgs", str(DATA["v1.10"] / "pkgs"),
                  "--kernel-src", str(trees["6.12"]), cache=engine_cache)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = cmp.by_values(cmp.by_status(df, "differs", "amd64-only", "arm64-only"), "m,y")
    assert [s["symbol"] for s in report["symbols"]] == list(expected["symbol"])
    assert report["matched"] == len(expected) > 0
    assert all({s["amd64"], s["arm64"]} == {"m", "y"} for s in report["symbols"])
    assert report["status_counts"] == cmp.status_counts(df)
    assert report["module_counts"] == cmp.module_counts(df)
    assert report["tree_version"] == "6.12.117"
    for name in INPUT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # as text: the headline counts what differs between the arches, not what the filters let through
    from talosnb.cli.main import main

    counts = cmp.status_counts(df)
    apart = counts["differs"] + counts["amd64-only"] + counts["arm64-only"]
    assert main(["compare", "--values", "m,y", "--limit", "1", "--pkgs", str(DATA["v1.10"] / "pkgs"),
                 "--kernel-src", str(trees["6.12"])]) == 0
    out = capsys.readouterr().out
    assert (f"\n{apart} of {len(df)} symbols differ between amd64 and arm64 ({counts['differs']} with other "
            f"values, {counts['amd64-only'] + counts['arm64-only']} on one arch only); {len(expected)} listed by "
            "the filters (showing 1)\n") in out
    assert apart > len(expected) and out.count("6.12.63") == 1        # the drift note once, for three files


def test_cli_compare_text_and_filters_on_the_sample(sample, tmp_path):
    df = cmp.compare(sample)
    differs = cmp.differing(df)
    result = _cli("compare", "--status", "differs", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = cmp.status_counts(df)
    apart = counts["differs"] + counts["amd64-only"] + counts["arm64-only"]
    # the headline counts what differs between the arches; then what the filters list
    assert f"{apart} of {len(df)} symbols differ between amd64 and arm64" in result.stdout
    assert f"; {len(differs)} listed by the filters" in result.stdout
    lines = result.stdout.splitlines()
    for name in differs["symbol"]:
        assert any(line.split()[:1] == [name] for line in lines), name
    assert "symbols per status: " + ", ".join(f"{k} {v}" for k, v in cmp.status_counts(df).items()) \
        in result.stdout

    menu = differs.iloc[0]["menu"]
    result = _cli("compare", "--format", "json", "--status", "all", "--menu", menu, "--text",
                  differs.iloc[0]["symbol"], cache=tmp_path)
    assert result.returncode == 0, result.stderr
    names = [s["symbol"] for s in json.loads(result.stdout)["symbols"]]
    assert names == list(cmp.by_text(cmp.by_menu(df, menu), differs.iloc[0]["symbol"])["symbol"])

    result = _cli("compare", "--format", "json", "--status", "one-arch", "--limit", "1", cache=tmp_path)
    report = json.loads(result.stdout)
    assert len(report["symbols"]) == 1 and report["matched"] == len(cmp.one_arch_only(df))


@pytest.mark.parametrize("args,message", [
    (["--status", "nope"], "unknown status 'nope'"),
    (["--values", "m"], "expected two values"),
    (["--arch", "amd64"], "compares amd64 with arm64"),
    (["--limit", "-1"], "--limit -1"),
])
def test_cli_compare_bad_usage_exits_2(tmp_path, args, message):
    result = _cli("compare", *args, cache=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
