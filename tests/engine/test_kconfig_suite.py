"""The kernel's own Kconfig test cases (scripts/kconfig/tests) run against the engine.

Cases driven by olddefconfig/oldconfig with a given .config map directly onto
loading + writing; error cases must fail to parse with the kernel's message.
Cases about interactive prompts, randconfig and all*config test parts of conf
talosnb does not offer; they are listed in NOT_APPLICABLE with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from talosnb.core.errors import InputError
from talosnb.kconfig.config import Config
from talosnb.kconfig.tree import KconfigTree

# case -> list of (input .config, expected config file, "matches" (whole file) or "contains")
CONFIG_CASES = {
    "transitional": [("initial_config", "expected_config", "contains")],
    "conditional_dep": [("test_config1", "expected_config1", "matches"),
                        ("test_config2", "expected_config2", "matches"),
                        ("test_config3", "expected_config3", "matches")],
    "warn_changed_input": [("config", "expected_config", "matches")],
}
ERROR_CASES = {
    "err_transitional": "transitional symbols can only have help sections",
    "err_recursive_inc": "recursive 'source'",
}
NOT_APPLICABLE = {
    "auto_submenu": "checks oldaskconfig's interactive menu output",
    "choice": "checks oldaskconfig prompts and allyesconfig/allmodconfig",
    "choice_randomize": "randconfig", "choice_randomize2": "randconfig",
    "new_choice_with_dep": "interactive oldconfig prompt text",
    "no_write_if_dep_unmet": "answers prompts with 'n' through oldaskconfig",
    "preprocess": "checks conf's warning/error text for preprocessor functions",
    "err_recursive_dep": "checks the exact text of conf's dependency-loop report",
    "err_repeated_inc": "conf-specific check for a file sourced twice",
}


def _cases(series: str) -> list[tuple[str, str]]:
    import tarfile

    from engine_fixtures import SHARED, TARBALLS

    names = set()
    with tarfile.open(SHARED / "kernel" / TARBALLS[series]) as tar:
        for member in tar.getnames():
            parts = Path(member).parts
            if len(parts) > 4 and parts[1:4] == ("scripts", "kconfig", "tests"):
                names.add(parts[4])
    return sorted((series, name) for name in names if not name.endswith((".py", ".ini")))


ALL_CASES = _cases("6.12") + _cases("7.2") if Path(__file__).resolve().parents[2].parent.joinpath(
    "shared").is_dir() else []
RUN_CASES = [(series, case) for series, case in ALL_CASES if case not in NOT_APPLICABLE]


def test_every_kernel_case_is_classified():
    known = CONFIG_CASES.keys() | ERROR_CASES.keys() | NOT_APPLICABLE.keys()
    assert {case for _, case in ALL_CASES} <= known
    assert {"transitional", "conditional_dep"} <= {case for _, case in RUN_CASES}


def _load(case_dir: Path, config_name: str) -> Config:
    tree = KconfigTree.load(case_dir, "amd64", use_cache=False, version="0")
    return Config.from_text(tree, (case_dir / config_name).read_text(), source=config_name)


@pytest.mark.parametrize("series,case", RUN_CASES)
def test_kernel_kconfig_case(trees, series, case, tmp_path, monkeypatch):
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path))
    case_dir = trees[series] / "scripts" / "kconfig" / "tests" / case
    if case in ERROR_CASES:
        with pytest.raises(InputError, match=ERROR_CASES[case]):
            KconfigTree.load(case_dir, "amd64", use_cache=False, version="0")
        return
    assert case in CONFIG_CASES, f"new kernel test case {case}: decide how to run it"
    for config_name, expected_name, how in CONFIG_CASES[case]:
        got = _load(case_dir, config_name).text()
        expected = (case_dir / expected_name).read_text()
        if how == "matches":
            assert got == expected, f"{case}/{config_name}"
        else:
            assert set(expected.splitlines()) <= set(got.splitlines()), f"{case}/{config_name}"
