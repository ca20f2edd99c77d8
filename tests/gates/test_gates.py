"""The build gates on the real Talos data, judged by the real tools.

- olddefconfig: the kernel's own `conf --olddefconfig` (tests/oracle.py) on the 6.12.117 tree;
- hardening: kernel-hardening-checker at the commits the real Pkgfiles pin (../shared/tools),
  piped into the checkout's filter by the literal command of kernel/build/pkg.yaml, run here
  with bash exactly as the build runs it;
- modules: the module-list checks, as `talosnb check` ran them before the gates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import DATA, SHARED, host_toolchain, real_config

from talosnb.analyses import edit, gates
from talosnb.app.session import Session
from talosnb.core.errors import InputError
from talosnb.inputs import hardening
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff
from talosnb.kconfig.tree import KconfigTree
from talosnb.present.gates import gate_note, hardening_table

ROOT = Path(__file__).resolve().parents[2]
ARCHES = ("amd64", "arm64")
TOOLS = SHARED / "tools"
CHECKER_V110 = TOOLS / "kernel-hardening-checker-aa94036c6a86f1d0f76624cf6047264af5b2f525.tar.gz"
CHECKER_V112 = TOOLS / "kernel-hardening-checker-e354f6ab5279f9cfa8bfdd7e13e454ccf69209f9.tar.gz"


@pytest.fixture(scope="session")
def checker_v110(engine_cache) -> hardening.HardeningChecker:
    if not CHECKER_V110.is_file():
        pytest.skip("../shared/tools has no kernel-hardening-checker")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
        return hardening.open_checker(CHECKER_V110)


def _pkgs_copy(root: Path, release: str = "v1.10") -> Path:
    """A writable copy of a real pkgs checkout (Pkgfile, configs, pkg.yaml, the filter, patches)."""
    pkgs = root / "pkgs"
    shutil.copytree(DATA[release] / "pkgs", pkgs)
    for path in pkgs.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return pkgs


def build_step(pkgs: Path, checker_dir: Path, config_text: str, arch: str) -> subprocess.CompletedProcess:
    """The hardening line of the checkout's kernel/build/pkg.yaml, run with bash as the build runs it:
    in a folder holding .config, with /toolchain/kernel-hardening-checker and /pkg mapped to
    where they are here, python3 this interpreter."""
    pkg_yaml = (pkgs / "kernel" / "build" / "pkg.yaml").read_text()
    line = next(ln.strip() for ln in pkg_yaml.splitlines() if "bin/kernel-hardening-checker" in ln)
    line = (line.replace("/toolchain/kernel-hardening-checker/", f"{checker_dir}/")
                .replace("/pkg/", f"{pkgs / 'kernel' / 'build'}/")
                .replace("python3", sys.executable))
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"talosnb-build-step-{os.getpid()}-{arch}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / ".config").write_text(config_text)
    try:
        return subprocess.run(["bash", "-c", line], cwd=work, env={**os.environ, "CARCH": arch},
                              capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def printed_names(output: str) -> list[str]:
    """The options the filter prints (its table's first column)."""
    return [m.group(1) for m in re.finditer(r"^(CONFIG_\w+)\s*\|", output, re.MULTILINE)]


def _hardening_entries(report: gates.GateReport, arch: str) -> list[str]:
    return sorted(f.entry for f in report.findings
                  if f.arch == arch and f.details.get("gate") == "hardening" and f.level == "error")


# --------------------------------------------------------------------------- olddefconfig


@pytest.mark.parametrize("arch", ARCHES)
def test_olddefconfig_gate_lists_exactly_the_lines_conf_changes(trees, conf_v110, arch):
    raw = real_config("v1.10", arch)
    # host mode: the same compiler as the kernel's conf here, so every line must match
    tree = KconfigTree.load(trees["6.12"], arch, toolchain_mode="host", host=host_toolchain())
    result = gates.olddefconfig_gate(Config.from_text(tree, raw, source=f"config-{arch}"))
    expected = {(c.symbol, c.old, c.new) for c in config_diff(raw, conf_v110[arch])}
    got = {(f.symbols[0], f.details["old"], f.details["new"]) for f in result.findings}
    assert got == expected and len(got) > 20          # 6.12.63 -> 6.12.117 drift, plus the compiler's lines
    assert result.status == "fail"
    for finding in result.findings:
        assert finding.message.startswith("make olddefconfig ")
        assert finding.where.startswith(f"config-{arch}")
        if finding.details["old"] is not None:
            assert re.fullmatch(rf"config-{arch}:\d+", finding.where)     # the line of the file
    reasons = {f.symbols[0]: f.message for f in result.findings}
    assert "selected by" in "".join(reasons.values()) and "default" in "".join(reasons.values())


@pytest.mark.parametrize("arch", ARCHES)
def test_olddefconfig_gate_passes_what_conf_writes_and_keeps_the_recorded_toolchain(trees, conf_v110, arch):
    for mode, host in (("host", host_toolchain()), ("recorded", None)):
        tree = KconfigTree.load(trees["6.12"], arch, toolchain_mode=mode, host=host)
        result = gates.olddefconfig_gate(Config.from_text(tree, conf_v110[arch], source="conf"))
        assert (result.status, result.findings) == ("pass", []), mode
    # recorded mode (the default) keeps the toolchain lines Talos's compiler wrote: it lists the
    # drift only, a part of what conf with this machine's compiler changes
    raw = real_config("v1.10", arch)
    recorded = gates.olddefconfig_gate(Config.from_text(KconfigTree.load(trees["6.12"], arch), raw))
    conf_lines = {(c.symbol, c.old, c.new) for c in config_diff(raw, conf_v110[arch])}
    ours = {(f.symbols[0], f.details["old"], f.details["new"]) for f in recorded.findings}
    assert ours and ours < conf_lines
    assert "CC_VERSION_TEXT" in {s for s, _o, _n in conf_lines - ours}
    assert recorded.status == "fail"


def test_olddefconfig_gate_reports_a_layout_only_difference(trees):
    tree = KconfigTree.load(trees["6.12"], "amd64")
    clean = Config.from_text(tree, real_config("v1.10", "amd64")).text()
    lines = clean.splitlines(keepends=True)
    moved = lines[:40] + lines[41:] + [lines[40]]      # the same values, one line out of place
    result = gates.olddefconfig_gate(Config.from_text(tree, "".join(moved), source="config-amd64"))
    assert [f.kind for f in result.findings] == ["olddefconfig-layout"]
    assert result.findings[0].where == "config-amd64:41"


# --------------------------------------------------------------------------- hardening on real configs


@pytest.fixture
def v110(trees, tmp_path) -> Session:
    return Session.open(_pkgs_copy(tmp_path), DATA["v1.10"] / "talos", trees["6.12"])


def test_talos_v110_passes_the_hardening_and_module_gates(v110, checker_v110):
    report = gates.run_gates(v110, ["hardening", "modules"], hardening_checker=str(checker_v110.path))
    assert report.statuses() == {"hardening": {"amd64": "pass", "arm64": "pass"},
                                 "modules": {"amd64": "pass", "arm64": "pass"}}
    assert report.checker.ref == "aa94036c6a86f1d0f76624cf6047264af5b2f525"
    assert not [c for c in report.version_checks if c.kind == "mismatch"]
    # the whole table, both arches: 200+ checks each, OK and FAIL side by side
    table = hardening_table(report)
    assert len(table) > 200
    assert set(table["amd64 gate"].dropna()) >= {"ok", "outside the filter's groups (defconfig, kspp)"}
    assert (table["amd64"].str.startswith("OK").sum() > 100) and (table["arm64"].str.startswith("FAIL").sum() > 10)
    assert set(table["amd64 verdict"].dropna()) == set()
    # and so does the build's own command on the files
    for arch in ARCHES:
        done = build_step(v110.inputs.pkgs.path, checker_v110.path, real_config("v1.10", arch), arch)
        assert done.returncode == 0 and done.stdout == ""


def test_an_option_on_the_ignore_list_does_not_fail_the_gate(v110, checker_v110):
    report = gates.run_gates(v110, ["hardening"], hardening_checker=str(checker_v110.path))
    modules = next(r for r in report.rows["amd64"] if r.option_name == "CONFIG_MODULES")
    assert modules.check_result.startswith("FAIL") and modules.decision == "kspp"   # in the filter's groups
    assert report.status("hardening", "amd64") == "pass"
    table = hardening_table(report).set_index("option")
    assert table.loc["CONFIG_MODULES", "amd64 gate"].startswith("ignored by the filter (line 17: enabled for")
    # the checker's JSON is read once into typed rows, every field it gives kept; the table's words
    # are made from what the gate made of each check (typed), its ignore-list line among them
    assert modules.fields["check_result_bool"] is False and modules.as_dict()["option_name"] == "CONFIG_MODULES"
    check = next(c for c in gates.hardening_checks(report) if c.option == "CONFIG_MODULES")
    treatment = check.treatments["amd64"]
    assert (treatment.kind, treatment.line) == ("ignored", 17) and treatment.comment.startswith("enabled for")
    assert check.verdicts == {}


def test_the_gate_runs_the_checkouts_own_filter(trees, tmp_path, checker_v110):
    """Drop CONFIG_MODULES from the ignore list of a copy of the checkout: now it fails the gate."""
    pkgs = _pkgs_copy(tmp_path)
    script = pkgs / "kernel" / "build" / "scripts" / "filter-hardened-check.py"
    script.write_text("".join(ln for ln in script.read_text().splitlines(keepends=True)
                              if "'CONFIG_MODULES'" not in ln))
    session = Session.open(pkgs, None, trees["6.12"], arch="amd64")
    report = gates.run_gates(session, ["hardening"], hardening_checker=str(checker_v110.path), fix=False)
    done = build_step(pkgs, checker_v110.path, real_config("v1.10", "amd64"), "amd64")
    assert done.returncode == 1 and printed_names(done.stdout) == ["CONFIG_MODULES"]
    assert report.status("hardening", "amd64") == "fail"
    assert _hardening_entries(report, "amd64") == ["CONFIG_MODULES"]


MUTATIONS = ["RANDOMIZE_BASE", "STACKPROTECTOR_STRONG", "STRICT_KERNEL_RWX"]


@pytest.mark.parametrize("symbol", MUTATIONS)
def test_a_mutation_the_build_rejects_fails_the_gate_and_the_offered_fix_passes_it(trees, tmp_path, checker_v110,
                                                                                 symbol):
    pkgs = _pkgs_copy(tmp_path)
    for arch in ARCHES:
        path = pkgs / "kernel" / "build" / f"config-{arch}"
        text = path.read_text()
        assert f"CONFIG_{symbol}=y\n" in text
        path.write_text(text.replace(f"CONFIG_{symbol}=y\n", f"# CONFIG_{symbol} is not set\n"))
    session = Session.open(pkgs, None, trees["6.12"])
    report = gates.run_gates(session, ["hardening"], hardening_checker=str(checker_v110.path))
    for arch in ARCHES:
        done = build_step(pkgs, checker_v110.path, session.configs[arch].original_text, arch)
        assert done.returncode == 1
        assert f"CONFIG_{symbol}" in printed_names(done.stdout)
        assert _hardening_entries(report, arch) == sorted(printed_names(done.stdout))
        assert report.status("hardening", arch) == "fail"
    # apply what each finding offers: normalizing (write the config as olddefconfig does) or assignments
    editors = edit.editors_of(session.configs)
    for arch in ARCHES:
        offered = [f for f in report.findings if f.arch == arch and f.details.get("gate") == "hardening"]
        assert all(f.details["verdict"] == "fixable" and f.fix for f in offered), [f.message for f in offered]
        assignments = sorted({a for f in offered for a in f.details["assignments"]})
        if assignments:
            change = edit.set_symbols(editors, assignments, arches=[arch])[arch]
            assert change.applied
        if any(f.details["normalize"] for f in offered) or assignments:
            session.configs[arch].write()
    again = gates.run_gates(session, ["hardening"], hardening_checker=str(checker_v110.path), editors=editors)
    assert again.statuses() == {"hardening": {"amd64": "pass", "arm64": "pass"}}
    for arch in ARCHES:
        written = (pkgs / "kernel" / "build" / f"config-{arch}").read_text()
        assert build_step(pkgs, checker_v110.path, written, arch).returncode == 0


def test_stack_protector_strong_off_is_fixed_by_setting_it(trees, tmp_path, checker_v110):
    """STRICT_KERNEL_RWX comes back with olddefconfig (its prompt is hidden on both arches), but a
    visible option stays off: its fix is an assignment, verified by the edit engine and the checker."""
    pkgs = _pkgs_copy(tmp_path)
    path = pkgs / "kernel" / "build" / "config-amd64"
    path.write_text(path.read_text().replace("CONFIG_STACKPROTECTOR_STRONG=y\n",
                                             "# CONFIG_STACKPROTECTOR_STRONG is not set\n"))
    session = Session.open(pkgs, None, trees["6.12"], arch="amd64")
    report = gates.run_gates(session, ["hardening"], hardening_checker=str(checker_v110.path))
    (finding,) = report.findings
    assert finding.kind == "hardening-fixable" and finding.details["assignments"] == ["STACKPROTECTOR_STRONG=y"]
    assert finding.details["desired"] == "y" and finding.details["decision"] == "defconfig"
    assert finding.details["reason"] == "self_protection" and finding.where == "arch/Kconfig:670"
    assert "wants y (defconfig, self_protection); it is not set" in finding.message


def test_an_unsaved_edit_is_what_the_gate_checks(v110, checker_v110):
    editors = edit.editors_of(v110.configs)
    edit.set_symbols(editors, ["RANDOMIZE_BASE=n"])
    report = gates.run_gates(v110, ["hardening"], hardening_checker=str(checker_v110.path), editors=editors)
    for arch in ARCHES:
        done = build_step(v110.inputs.pkgs.path, checker_v110.path, v110.configs[arch].text(), arch)
        assert _hardening_entries(report, arch) == sorted(printed_names(done.stdout))
        assert "CONFIG_RANDOMIZE_BASE" in printed_names(done.stdout)
    # the config on disk is unchanged: the edit is not saved
    assert v110.configs["amd64"].original_text == real_config("v1.10", "amd64")
    edit.undo(editors)
    assert gates.run_gates(v110, ["hardening"], hardening_checker=str(checker_v110.path),
                           editors=editors).statuses() == \
        {"hardening": {"amd64": "pass", "arm64": "pass"}}


def test_an_option_this_kernel_lacks_is_reported_not_in_this_tree(trees, tmp_path, engine_cache):
    """Talos main against the 7.2 tree, where CFI_CLANG is `transitional` (renamed CFI); with the
    filter's CFI_CLANG entry dropped, the v1.12 checker fails it."""
    pkgs = _pkgs_copy(tmp_path, "main")
    script = pkgs / "kernel" / "build" / "scripts" / "filter-hardened-check.py"
    script.write_text("".join(ln for ln in script.read_text().splitlines(keepends=True)
                              if "'CONFIG_CFI_CLANG'" not in ln))
    session = Session.open(pkgs, None, trees["7.2"], arch="amd64")
    report = gates.run_gates(session, ["hardening"], hardening_checker=str(CHECKER_V112))
    mismatch = [f for f in report.findings if f.kind == "hardening-checker-mismatch"]
    assert mismatch and "version mismatch" in mismatch[0].message
    assert "1315e5b97c07fed42ea00f6f9602553c0609a615" in mismatch[0].message
    (cfi,) = [f for f in report.findings if f.entry == "CONFIG_CFI_CLANG"]
    assert cfi.kind == "hardening-not-in-tree" and cfi.details["verdict"] == "not-in-tree"
    assert "doesn't define CONFIG_CFI_CLANG" in cfi.message
    assert "CONFIG_CFI takes its value (default CFI_CLANG, arch/Kconfig:937)" in cfi.message
    assert "ignore list of kernel/build/scripts/filter-hardened-check.py" in cfi.fix


def test_talos_main_with_another_commit_says_version_mismatch(trees, engine_cache):
    session = Session.open(DATA["main"] / "pkgs", None, trees["7.2"])
    report = gates.run_gates(session, ["hardening"], hardening_checker=str(CHECKER_V112))
    assert [c.kind for c in report.version_checks] == ["mismatch"]
    assert "version mismatch" in report.version_checks[0].message
    assert all("version mismatch" in gate_note(r) for r in report.results)


def test_a_blocked_option_names_what_blocks_it(trees, tmp_path, checker_v110):
    """With CFI_CLANG off the filter's ignore list, Talos v1.10 (built with gcc) fails it: the checker
    wants CFI_CLANG=y with CC_IS_CLANG=y, and neither a config line nor a fix can give gcc kCFI."""
    pkgs = _pkgs_copy(tmp_path)
    script = pkgs / "kernel" / "build" / "scripts" / "filter-hardened-check.py"
    script.write_text("".join(ln for ln in script.read_text().splitlines(keepends=True)
                              if "'CONFIG_CFI_CLANG'" not in ln))
    session = Session.open(pkgs, None, trees["6.12"], arch="amd64")
    report = gates.run_gates(session, ["hardening"], hardening_checker=str(checker_v110.path))
    (cfi,) = report.findings
    assert (cfi.entry, cfi.kind, cfi.details["verdict"]) == ("CONFIG_CFI_CLANG", "hardening-blocked", "blocked")
    assert cfi.details["check_result"] == 'FAIL: CONFIG_CC_IS_CLANG is not "y"'
    assert "CC_IS_CLANG = n: fixed for this arch and toolchain" in cfi.message, cfi.message
    assert cfi.where == "init/Kconfig:27"                                # config CC_IS_CLANG
    texts = json.dumps(cfi.details["why_not"])
    assert "-fsanitize=kcfi" in texts and "arch/Kconfig:824" in texts    # the probe behind CFI_CLANG's prompt
    assert cfi.fix.startswith("no verified fix")


# --------------------------------------------------------------------------- the command


def _cli(*args: str, cache: Path, **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALOSNB_") or k == "TALOSNB_CONFIG_DIR"}
    env.update(TALOSNB_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT), **env_vars)
    return subprocess.run([sys.executable, "-m", "talosnb", "check", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False)


def test_check_command_runs_every_gate_on_real_data(trees, engine_cache, checker_v110):
    result = _cli("--format", "json", "--pkgs", str(DATA["v1.10"] / "pkgs"), "--talos", str(DATA["v1.10"] / "talos"),
                  "--kernel-src", str(trees["6.12"]), "--hardening-checker", str(CHECKER_V110), cache=engine_cache)
    assert result.returncode == 1, result.stderr         # the 6.12.63 configs are not olddefconfig-clean on .117
    report = json.loads(result.stdout)
    assert report["gates"] == {"olddefconfig": {"amd64": "fail", "arm64": "fail"},
                               "hardening": {"amd64": "pass", "arm64": "pass"},
                               "modules": {"amd64": "pass", "arm64": "pass"}}
    errors = [f for f in report["findings"] if f["level"] == "error"]
    assert {f["gate"] for f in errors} == {"olddefconfig"} and report["errors"] == len(errors) > 20
    first = report["findings"][0]
    assert {"level", "kind", "arch", "entry", "symbols", "values", "where", "message", "fix", "gate"} <= set(first)
    # the same as text: the drift note once for the Pkgfile and both headers, each arch's part named
    result = _cli("--pkgs", str(DATA["v1.10"] / "pkgs"), "--talos", str(DATA["v1.10"] / "talos"),
                  "--kernel-src", str(trees["6.12"]), "--hardening-checker", str(CHECKER_V110), cache=engine_cache)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "hardening     amd64 pass" in out and f"\n{len(errors)} error(s)" in out
    changed = {arch: sum(f["arch"] == arch for f in errors) for arch in ("amd64", "arm64")}
    assert changed["amd64"] != changed["arm64"]
    assert (f"olddefconfig  amd64 fail     arm64 fail     amd64: {changed['amd64']} line(s) would change; "
            f"arm64: {changed['arm64']} line(s) would change\n") in out
    assert "modules-amd64.txt is right; modules-arm64.txt is right" in out          # names its arch itself
    (drift,) = [line for line in out.splitlines() if "6.12.63" in line]
    assert drift.startswith("note: kernel tree is 6.12.117 but Pkgfile linux_version (")
    assert drift.count("the header of config-") == 2 and " are 6.12.63 (same 6.12 series" in drift


def test_check_command_without_the_checker_offline_says_what_to_do(trees, engine_cache):
    env_cache = engine_cache     # parsed trees, and no download of a checker in it
    # nothing listens on port 1 of this machine: as offline as it gets
    result = _cli("--gate", "hardening", "--pkgs", str(DATA["v1.10"] / "pkgs"), "--kernel-src", str(trees["6.12"]),
                  cache=env_cache, TALOSNB_HARDENING_CHECKER_MIRROR="http://127.0.0.1:1/archive")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot download kernel-hardening-checker" in result.stderr
    assert "--hardening-checker" in result.stderr and "Traceback" not in result.stderr


def test_gate_names_are_checked():
    assert gates.parse_gates("modules,olddefconfig") == ["olddefconfig", "modules"]
    assert gates.parse_gates(None) == list(gates.GATES) == gates.parse_gates("all")
    with pytest.raises(InputError) as e:
        gates.parse_gates("olddefconfig,hardned")
    assert "hardned" in e.value.message and "hardening" in e.value.hint


def test_check_command_offline_still_runs_the_other_gates(trees, engine_cache):
    result = _cli("--format", "json", "--pkgs", str(DATA["v1.10"] / "pkgs"), "--talos", str(DATA["v1.10"] / "talos"),
                  "--kernel-src", str(trees["6.12"]), cache=engine_cache,
                  TALOSNB_HARDENING_CHECKER_MIRROR="http://127.0.0.1:1/archive")
    assert result.returncode == 2, result.stderr       # the verdict is open: one gate could not run
    report = json.loads(result.stdout)
    assert report["gates"]["hardening"] == {"amd64": "not-run", "arm64": "not-run"}
    assert report["gates"]["modules"] == {"amd64": "pass", "arm64": "pass"}
    assert report["gates"]["olddefconfig"] == {"amd64": "fail", "arm64": "fail"}
    (why,) = report["incomplete"]
    assert "offline" in why["message"] and "--hardening-checker" in why["hint"]
    not_run = [f for f in report["findings"] if f["kind"] == "gate-not-run"]
    assert {f["level"] for f in not_run} == {"warning"} and "the hardening gate was not run" in not_run[0]["message"]
