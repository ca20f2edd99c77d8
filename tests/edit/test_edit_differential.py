"""talosnb set/merge against the kernel's own conf, assignment by assignment, on real configs.

For each assignment (chosen with a fixed seed across bool, tristate, int, hex,
string and choice symbols on both arches) the oracle is the kernel's workflow:
the assignment merged into the .config (scripts/kconfig/merge_config.sh -m),
then `conf --olddefconfig`. talosnb must write the same bytes, and must refuse
exactly the assignments whose value conf does not keep.

Two trees: 6.12.117 with the Talos v1.10 configs and the host's gcc, and
7.2.12 with the Talos main configs and clang-22 (Talos main's compiler), conf
run in the environment `make LLVM=-22 olddefconfig` gives it.
"""

from __future__ import annotations

import random

import kconfiglib
import pytest
from engine_fixtures import host_toolchain
from oracle import sample_assignments

from talosnb.analyses.edit import Assignment, Editor, assumed_probe_users
from talosnb.core.dotconfig import read_values as written_values
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff
from talosnb.kconfig.tree import KconfigTree

pytestmark = pytest.mark.slow

ARCHES = ("amd64", "arm64")
SERIES = ("6.12", "7.2")
SEED = 20261125
PER_ARCH = 100          # 200 single assignments in all
FRAGMENTS_PER_ARCH = 25  # 50 fragments of 2..20 assignments
CHUNKS = 10             # spread over xdist workers


class Case:
    """One tree with its Talos configs as conf wrote them, and conf's environment."""

    def __init__(self, request, series: str) -> None:
        self.series = series
        self.trees = request.getfixturevalue("trees")
        self.conf = request.getfixturevalue("kernel_conf")[series]
        if series == "6.12":
            self.base = request.getfixturevalue("conf_v110")
            self._envs = {arch: host_toolchain() for arch in ARCHES}
        else:
            self._envs = request.getfixturevalue("clang_envs")
            conf_main = request.getfixturevalue("conf_main")
            self.base = {arch: conf_main[("clang-22", arch)] for arch in ARCHES}

    def env(self, arch: str) -> dict[str, str]:
        return self._envs[arch]

    def editor(self, arch: str) -> Editor:
        tree = KconfigTree.load(self.trees[self.series], arch)
        return Editor(Config.from_text(tree, self.base[arch], source=f"config-{arch}"))

    def seed(self, what: str, arch: str) -> str:
        # the 6.12 sample keeps the seed it always had
        return f"{SEED}-{what}{arch}" if self.series == "6.12" else f"{SEED}-{self.series}-{what}{arch}"

    def merge(self, arch: str, text: str, fragments: list[str]) -> str:
        return self.conf.merge(text, fragments, arch, self.env(arch))

    def merge_many(self, arch: str, texts: str | list[str], fragment_sets: list[list[str]]) -> list[str]:
        """merge() of each set, with conf parsing the Kconfig (and probing the compiler) once."""
        return self.conf.merge_many(texts, fragment_sets, arch, self.env(arch))


@pytest.fixture(params=SERIES)
def case(request) -> Case:
    return Case(request, request.param)


def _chunk(items: list, index: int) -> list:
    return items[index::CHUNKS]


def _assignments(case: Case, arch: str) -> list[Assignment]:
    return sample_assignments(case.editor(arch), random.Random(case.seed("", arch)), PER_ARCH)


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


# (series, arch, what) -> conf's outputs for every case of the sample: one conf run (one Kconfig
# parse) for all of them, made by the first chunk that needs them, compared chunk by chunk
_CONF_RUNS: dict[tuple[str, str, str], list[str]] = {}


def _conf_runs(case: Case, arch: str, what: str, fragment_sets: list[list[str]]) -> list[str]:
    key = (case.series, arch, what)
    if key not in _CONF_RUNS:
        _CONF_RUNS[key] = case.merge_many(arch, case.base[arch], fragment_sets)
    assert len(_CONF_RUNS[key]) == len(fragment_sets)
    return _CONF_RUNS[key]


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_set_matches_conf(case, arch, chunk):
    editor = case.editor(arch)
    everything = _assignments(case, arch)
    every_text = _conf_runs(case, arch, "single",
                            [[Assignment(a.symbol, a.value).line(editor.config) + "\n"] for a in everything])
    sample, conf_texts = _chunk(everything, chunk), _chunk(every_text, chunk)
    assert sample
    problems = []
    for a, conf_text in zip(sample, conf_texts, strict=True):
        problems += _check(editor, conf_text, [a])
    assert not problems, "\n".join(problems)


def _fragments(case: Case, arch: str) -> list[list[Assignment]]:
    """FRAGMENTS_PER_ARCH fragments of 2..20 distinct assignments, drawn with the fixed seed."""
    rng = random.Random(case.seed("fragments-", arch))
    pool = sample_assignments(case.editor(arch), rng, 400)
    out = []
    for _ in range(FRAGMENTS_PER_ARCH):
        picked = rng.sample(pool, rng.randint(2, 20))
        unique = list({a.symbol: a for a in picked}.values())
        out.append(unique)
    return out


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("chunk", range(5))
def test_merge_matches_merge_config_and_conf(case, arch, chunk):
    editor = case.editor(arch)
    every_fragment = _fragments(case, arch)
    files_per_fragment = []
    for fragment in every_fragment:
        lines = [a.line(editor.config) + "\n" for a in fragment]
        # as users keep them: sometimes split over two fragment files
        split = len(lines) // 2 if len(lines) > 3 else len(lines)
        files_per_fragment.append(["".join(lines[:split])] + (["".join(lines[split:])] if split < len(lines) else []))
    fragments = every_fragment[chunk::5]
    assert fragments and all(2 <= len(f) <= 20 for f in fragments)
    conf_texts = _conf_runs(case, arch, "fragments", files_per_fragment)[chunk::5]
    problems = []
    for fragment, conf_text in zip(fragments, conf_texts, strict=True):
        problems += _check(editor, conf_text, fragment)
    assert not problems, "\n".join(problems)


def test_verified_fixes_make_refused_assignments_take_effect(case):
    """At least 20 refused assignments of the sample: the fix, applied with set, lets them through,
    in talosnb and in the kernel's own conf."""
    checked = []
    base = case.base
    for arch in ARCHES:
        editor = case.editor(arch)
        fixed = []     # (assignment, its fix, talosnb's config after both)
        for a in _assignments(case, arch):
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
            fixed.append((a, fix, editor.config.text()))
            for _ in range(2):
                editor.undo()
            if len(fixed) >= 12:
                break
        # the kernel's conf agrees: the fix merged and written, then the assignment (each step
        # for all of them in one conf run)
        conf_fixed = case.merge_many(arch, base[arch], [["".join(x.line(editor.config) + "\n" for x in fix.assignments)]
                                                        for _a, fix, _ours in fixed])
        conf_texts = case.merge_many(arch, conf_fixed, [[a.line(editor.config) + "\n"] for a, _fix, _ours in fixed])
        for (a, fix, ours), conf_text in zip(fixed, conf_texts, strict=True):
            sym = editor.config.kconf.syms[a.symbol]
            assert _conf_value(written_values(conf_text), sym) == a.value, f"{arch}: conf disagrees on {a}"
            # Lines that differ may only be those fed by a compiler probe the base config has no
            # answer for (recorded mode assumes it succeeds; conf ran it with the host compiler).
            differing = {c.symbol for c in config_diff(conf_text, ours)}
            assumed = set(assumed_probe_users(editor.config))
            assert differing <= assumed, f"{arch}: {a} after {fix.assignments}: {sorted(differing - assumed)}"
            checked.append((arch, str(a), ours == conf_text))
    assert len(checked) >= 20
    # and nearly always byte for byte
    assert sum(same for _arch, _a, same in checked) >= len(checked) - 3, checked


def test_the_sample_is_large_and_covers_every_kind(case):
    kinds = {}
    total = 0
    for arch in ARCHES:
        editor = case.editor(arch)
        sample = _assignments(case, arch)
        total += len(sample)
        for a in sample:
            sym = editor.config.kconf.syms[a.symbol]
            kind = "choice" if sym.choice is not None else kconfiglib.TYPE_TO_STR[sym.orig_type]
            kinds.setdefault(kind, set()).add(a.value if kind in ("bool", "tristate") else kind)
    assert total >= 200
    assert kinds["tristate"] == {"y", "m", "n"} and kinds["bool"] == {"y", "n"}
    assert {"int", "hex", "string", "choice"} <= kinds.keys()
    fragments = [f for arch in ARCHES for f in _fragments(case, arch)]
    assert len(fragments) >= 50 and all(2 <= len(f) <= 20 for f in fragments)


def test_one_parse_for_many_configs_writes_what_a_conf_run_each_writes(case):
    """The batched oracle (conf parsing the Kconfig once, then forking per config) against one
    plain conf run per config, on fragments that change the compiler-probed and the plain lines."""
    arch = "amd64"
    fragment_sets = [["CONFIG_NR_CPUS=17\n"], ["CONFIG_DUMMY=m\n", "CONFIG_PCI=n\n"], []]
    one_by_one = [case.merge(arch, case.base[arch], files) for files in fragment_sets]
    assert case.merge_many(arch, case.base[arch], fragment_sets) == one_by_one
    assert len(set(one_by_one)) >= 2      # (a fragment may change nothing in one of the trees)


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
