"""talosnb set/merge against the kernel's own conf, assignment by assignment, on real configs.

For each assignment (chosen with a fixed seed across bool, tristate, int, hex,
string and choice symbols on both arches) the oracle is the kernel's workflow:
the assignment merged into the .config (scripts/kconfig/merge_config.sh -m),
then `conf --olddefconfig`. talosnb must write the same bytes, and must refuse
exactly the assignments whose value conf does not keep.
"""

from __future__ import annotations

import random

import pytest
from engine_fixtures import engine_cache, host_toolchain, kernel_conf, real_config, trees  # noqa: F401

from talosnb.edit import Assignment, Editor
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff, written_values
from talosnb.kconfig.tree import KconfigTree

import kconfiglib

ARCHES = ("amd64", "arm64")
SEED = 20261125
PER_ARCH = 100          # 200 single assignments in all
FRAGMENTS_PER_ARCH = 25  # 50 fragments of 2..20 assignments
CHUNKS = 10             # spread over xdist workers


@pytest.fixture(autouse=True)
def _cache(engine_cache, monkeypatch):
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))


@pytest.fixture(scope="module")
def base(kernel_conf) -> dict[str, str]:
    """The Talos v1.10 configs as the kernel's conf writes them with this host's compiler."""
    return {arch: kernel_conf["6.12"].olddefconfig(real_config("v1.10", arch), arch, host_toolchain())
            for arch in ARCHES}


def _editor(trees, base, arch) -> Editor:
    tree = KconfigTree.load(trees["6.12"], arch)
    return Editor(Config.from_text(tree, base[arch], source=f"config-{arch}"))


def _pick_value(rng: random.Random, sym) -> str | None:
    """A value differing from the current one, of the symbol's type (sometimes out of range)."""
    kind = sym.orig_type
    current = sym.str_value
    if kind is kconfiglib.BOOL:
        return "n" if current == "y" else "y"
    if kind is kconfiglib.TRISTATE:
        return rng.choice([v for v in ("y", "m", "n") if v != current])
    if kind in (kconfiglib.INT, kconfiglib.HEX):
        base = 16 if kind is kconfiglib.HEX else 10
        low = high = None
        for lo, hi, cond in sym.ranges:
            if kconfiglib.expr_value(cond):
                try:
                    low, high = int(lo.str_value, base), int(hi.str_value, base)
                except ValueError:
                    pass
                break
        if low is not None and rng.random() < 0.8:
            number = rng.randint(low, high)
        elif low is not None:
            number = high + rng.randint(1, 100)
        else:
            number = rng.randint(0, 4096)
        return hex(number) if kind is kconfiglib.HEX else str(number)
    if kind is kconfiglib.STRING:
        return rng.choice(["talosnb", "", "a b", 'quote"d', "x/y.z"])
    return None


def _sample(editor: Editor, rng: random.Random, count: int) -> list[Assignment]:
    """`count` assignments: roughly 40% bool, 35% tristate, 10% int/hex/string, 15% choice members."""
    kconf = editor.config.kconf
    by_kind = {"bool": [], "tristate": [], "other": [], "choice": []}
    for sym in sorted(kconf.unique_defined_syms, key=lambda s: s.name):
        if sym.name.startswith("TALOSNB_") or not any(n.prompt for n in sym.nodes) and rng.random() > 0.02:
            continue
        if sym.choice is not None:
            by_kind["choice"].append(sym)
        elif sym.orig_type is kconfiglib.BOOL:
            by_kind["bool"].append(sym)
        elif sym.orig_type is kconfiglib.TRISTATE:
            by_kind["tristate"].append(sym)
        elif sym.orig_type in (kconfiglib.INT, kconfiglib.HEX, kconfiglib.STRING):
            by_kind["other"].append(sym)
    quota = {"bool": 0.40, "tristate": 0.35, "other": 0.10, "choice": 0.15}
    out: list[Assignment] = []
    for kind, share in quota.items():
        n = round(count * share)
        for sym in rng.sample(by_kind[kind], min(n, len(by_kind[kind]))):
            value = "y" if kind == "choice" else _pick_value(rng, sym)
            if value is not None:
                out.append(Assignment(sym.name, value))
    return out[:count]


def _chunk(items: list, index: int) -> list:
    return items[index::CHUNKS]


def _assignments(trees, base, arch) -> list[Assignment]:
    return _sample(_editor(trees, base, arch), random.Random(f"{SEED}-{arch}"), PER_ARCH)


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
