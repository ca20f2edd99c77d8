"""talosnb set/merge against the kernel's own conf, assignment by assignment, on real configs.

For each assignment (chosen with a fixed seed across bool, tristate, int, hex,
string and choice symbols on both arches) the oracle is the kernel's workflow:
the assignment merged into the .config (scripts/kconfig/merge_config.sh -m),
then `conf --olddefconfig`. talosnb must write the same bytes, and must refuse
exactly the assignments whose value conf does not keep.
"""

from __future__ import annotations

import random

import kconfiglib
import pytest
from engine_fixtures import (  # noqa: F401  (fixtures)
    conf_v110,
    engine_cache,
    engine_cache_env,
    host_toolchain,
    kernel_conf,
    real_config,
    trees,
)
from oracle import sample_assignments

from talosnb.analyses.edit import Assignment, Editor, assumed_probe_users
from talosnb.core.dotconfig import read_values as written_values
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff
from talosnb.kconfig.tree import KconfigTree

ARCHES = ("amd64", "arm64")
SEED = 20261125
PER_ARCH = 100          # 200 single assignments in all
FRAGMENTS_PER_ARCH = 25  # 50 fragments of 2..20 assignments
CHUNKS = 10             # spread over xdist workers


@pytest.fixture
def base(conf_v110) -> dict[str, str]:
    return conf_v110


def _editor(trees, base, arch) -> Editor:
    tree = KconfigTree.load(trees["6.12"], arch)
    return Editor(Config.from_text(tree, base[arch], source=f"config-{arch}"))


def _chunk(items: list, index: int) -> list:
    return items[index::CHUNKS]


def _assignments(trees, base, arch) -> list[Assignment]:
    return sample_assignments(_editor(trees, base, arch), random.Random(f"{SEED}-{arch}"), PER_ARCH)


def _check(editor: Editor, conf_text: str, requested: list[Assignment]) -> list[str]:
    """Run one batch through talosnb (merge and set) and compare with conf's result."""
    problems = []
    label = " ".join(str(a) for a in requested)
    before = editor.config.text()
    merged = editor.set(requested, mode="merge", fix=False)
    ours = editor.config.text()
    if merged.cascade:
        editor.undo()
    assert editor.config.text() == before, "undo did not restore the config"
    if ours != conf_text:
        diff = "; ".join(str(c) for c in config_diff(conf_text, ours)[:8])
        problems.append(f"{editor.arch} [{label}]: talosnb differs from conf: {diff}")
    conf_values = written_values(conf_text)
    final = {a.symbol: a for a in requested}
    kconf = editor.config.kconf
    conf_missed = {name for name, a in final.items()
                   if _conf_value(conf_values, kconf.syms[name]) != _requested(a, kconf.syms[name])}
    ours_missed = {r.assignment.symbol for r in merged.refusals}
    if conf_missed != ours_missed:
        problems.append(f"{editor.arch} [{label}]: conf did not keep {sorted(conf_missed)}, "
                        f"talosnb refused {sorted(ours_missed)}")
    result = editor.set(requested, mode="set", fix=False)
    if result.refusals:
        assert not result.applied and editor.config.text() == before, "a refused set changed the config"
    else:
        assert editor.config.text() == conf_text
        editor.undo()
    return problems


def _conf_value(values: dict[str, str], sym) -> str | None:
    value = values.get(sym.name)
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return value or "n"
    if value is not None and sym.orig_type is kconfiglib.STRING:
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _requested(a: Assignment, sym) -> str:
    return a.value


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_set_matches_conf(trees, kernel_conf, base, arch, chunk):
    editor = _editor(trees, base, arch)
    sample = _chunk(_assignments(trees, base, arch), chunk)
    assert sample
    problems = []
    for a in sample:
        fragment = Assignment(a.symbol, a.value).line(editor.config) + "\n"
        conf_text = kernel_conf["6.12"].merge(base[arch], [fragment], arch, host_toolchain())
        problems += _check(editor, conf_text, [a])
    assert not problems, "\n".join(problems)


def _fragments(trees, base, arch) -> list[list[Assignment]]:
    """FRAGMENTS_PER_ARCH fragments of 2..20 distinct assignments, drawn with the fixed seed."""
    rng = random.Random(f"{SEED}-fragments-{arch}")
    pool = sample_assignments(_editor(trees, base, arch), rng, 400)
    out = []
    for _ in range(FRAGMENTS_PER_ARCH):
        picked = rng.sample(pool, rng.randint(2, 20))
        unique = list({a.symbol: a for a in picked}.values())
        out.append(unique)
    return out


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("chunk", range(5))
def test_merge_matches_merge_config_and_conf(trees, kernel_conf, base, arch, chunk):
    editor = _editor(trees, base, arch)
    fragments = _fragments(trees, base, arch)[chunk::5]
    assert fragments and all(2 <= len(f) <= 20 for f in fragments)
    problems = []
    for fragment in fragments:
        lines = [a.line(editor.config) + "\n" for a in fragment]
        # as users keep them: sometimes split over two fragment files
        split = len(lines) // 2 if len(lines) > 3 else len(lines)
        files = ["".join(lines[:split])] + (["".join(lines[split:])] if split < len(lines) else [])
        conf_text = kernel_conf["6.12"].merge(base[arch], files, arch, host_toolchain())
        problems += _check(editor, conf_text, fragment)
    assert not problems, "\n".join(problems)


def test_verified_fixes_make_refused_assignments_take_effect(trees, kernel_conf, base):
    """At least 20 refused assignments of the sample: the fix, applied with set, lets them through,
    in talosnb and in the kernel's own conf."""
    checked = []
    for arch in ARCHES:
        editor = _editor(trees, base, arch)
        for a in _assignments(trees, base, arch):
            change = editor.set([a], fix=False)
            if change.ok:
                editor.undo() if change.cascade else None
                continue
            fix = editor.find_fix(a)
            if not fix.found:
                continue
            assert not fix.exhausted
            applied = editor.set(fix.assignments, fix=False)
            assert applied.ok, f"{arch}: fix {fix.assignments} for {a} refused itself"
            again = editor.set([a], fix=False)
            assert again.ok and again.applied, f"{arch}: {a} still refused after its fix {fix.assignments}"
            ours = editor.config.text()
            for _ in range(2):
                editor.undo()
            # the kernel's conf agrees: the fix merged and written, then the assignment
            fix_lines = "".join(x.line(editor.config) + "\n" for x in fix.assignments)
            conf_fixed = kernel_conf["6.12"].merge(base[arch], [fix_lines], arch, host_toolchain())
            conf_text = kernel_conf["6.12"].merge(conf_fixed, [a.line(editor.config) + "\n"], arch,
                                                  host_toolchain())
            sym = editor.config.kconf.syms[a.symbol]
            assert _conf_value(written_values(conf_text), sym) == a.value, f"{arch}: conf disagrees on {a}"
            # Lines that differ may only be those fed by a compiler probe the base config has no
            # answer for (recorded mode assumes it succeeds; conf ran it with the host compiler).
            differing = {c.symbol for c in config_diff(conf_text, ours)}
            assumed = set(assumed_probe_users(editor.config))
            assert differing <= assumed, f"{arch}: {a} after {fix.assignments}: {sorted(differing - assumed)}"
            checked.append((arch, str(a), ours == conf_text))
            if len([c for c in checked if c[0] == arch]) >= 12:
                break
    assert len(checked) >= 20
    # and nearly always byte for byte
    assert sum(same for _arch, _a, same in checked) >= len(checked) - 3, checked


def test_the_sample_is_large_and_covers_every_kind(trees, base):
    kinds = {}
    total = 0
    for arch in ARCHES:
        editor = _editor(trees, base, arch)
        sample = _assignments(trees, base, arch)
        total += len(sample)
        for a in sample:
            sym = editor.config.kconf.syms[a.symbol]
            kind = "choice" if sym.choice is not None else kconfiglib.TYPE_TO_STR[sym.orig_type]
            kinds.setdefault(kind, set()).add(a.value if kind in ("bool", "tristate") else kind)
    assert total >= 200
    assert kinds["tristate"] == {"y", "m", "n"} and kinds["bool"] == {"y", "n"}
    assert {"int", "hex", "string", "choice"} <= kinds.keys()
    fragments = [f for arch in ARCHES for f in _fragments(trees, base, arch)]
    assert len(fragments) >= 50 and all(2 <= len(f) <= 20 for f in fragments)


def test_cli_names_module_list_damage_a_fix_would_do(trees, tmp_path, capsys):
    """On the real v1.10 data, MVPP2=m on amd64 needs COMPILE_TEST=y, which builds WATCHDOG_CORE in;
    modules-amd64.txt lists watchdog.ko, so the fix comes with that warning."""
    import shutil

    from engine_fixtures import DATA

    from talosnb.cli import main
    copy = tmp_path / "v110"
    shutil.copytree(DATA["v1.10"], copy)
    args = ["--pkgs", str(copy / "pkgs"), "--talos", str(copy / "talos"), "--kernel-src", str(trees["6.12"])]
    assert main(["set", *args, "--arch", "amd64", "MVPP2=m"]) == 1
    out = capsys.readouterr().out
    assert "verified fix: set COMPILE_TEST=y" in out
    assert "the fix for MVPP2=m would also break hack/modules-amd64.txt" in out
    assert "kernel/drivers/watchdog/watchdog.ko is built into the kernel" in out
