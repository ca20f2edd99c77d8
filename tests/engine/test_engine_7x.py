"""The engine on Linux 7.2.12 with Talos main's compiler (clang 22.1.8), and on 6.12.117, against conf.

The judges: the kernel's own scripts/kconfig/conf built in each tree, run in
exactly the environment `make ARCH=... [LLVM=-22] olddefconfig` gives it (read
from a real make run), and that make itself for host mode.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import CLANG, DATA, NO_RUSTC, conf_map, have_clang, real_config
from kconfig_fuzz import make_case

from talosnb.analyses.edit import Editor, parse_assignment
from talosnb.core.errors import InputError
from talosnb.kconfig import toolchain
from talosnb.kconfig.config import Config, toolchain_from
from talosnb.kconfig.diff import config_diff
from talosnb.kconfig.tree import KconfigTree

pytestmark = pytest.mark.slow

ARCHES = ("amd64", "arm64")
SERIES = ("6.12", "7.2")
RELEASES = ("v1.10", "main")
COMPILERS = ("gcc", "clang-22")
ROOT = Path(__file__).resolve().parents[2]
SRCARCH = {"amd64": "x86", "arm64": "arm64"}

needs_clang = pytest.mark.skipif(not have_clang(), reason="clang-22, lld-22, llvm-22 are not installed "
                                 "(apt-get install clang-22 lld-22 llvm-22)")


def make_variables(compiler: str) -> dict[str, str]:
    return {**CLANG, **NO_RUSTC} if compiler == "clang-22" else dict(NO_RUSTC)


@pytest.fixture(scope="session")
def conf_made(kernel_conf, make_envs, conf_main) -> dict[tuple[str, str, str, str], str]:
    """(series, release, compiler, arch) -> conf's output for that Talos config in that tree, with that
    compiler: both trees, both releases' configs, both compilers, both arches (16 configs). Talos main
    in 7.2.12 is conf_main's (the same conf run: made once per run)."""
    keys = [(series, release, compiler, arch) for series in SERIES for release in RELEASES
            for compiler in COMPILERS for arch in ARCHES if (series, compiler, arch) in make_envs]
    made = {("7.2", "main", compiler, arch): text for (compiler, arch), text in conf_main.items()}
    rest = [key for key in keys if key not in made]
    texts = conf_map(lambda key: kernel_conf[key[0]].olddefconfig(
        real_config(key[1], key[3]), key[3], make_envs[(key[0], key[2], key[3])]), rest)
    return {key: made[key] if key in made else texts[rest.index(key)] for key in keys}


def normalize(tree_path, arch: str, text: str, **load) -> str:
    return Config.from_text(KconfigTree.load(tree_path, arch, **load), text).text()


# --- acceptance: no line of a conf-made config changes --------------------------

@needs_clang
def test_no_line_of_a_conf_made_config_changes(trees, conf_made):
    """Both trees, both arches, gcc and clang-22, the v1.10 and main configs: normalize in recorded
    mode writes conf's output back byte for byte."""
    assert len(conf_made) == 16
    problems = []
    for (series, release, compiler, arch), text in sorted(conf_made.items()):
        got = normalize(trees[series], arch, text)
        if got != text:
            diff = [str(c) for c in config_diff(text, got)[:6]]
            problems.append(f"{series} {release} {compiler} {arch}: {diff}")
    assert not problems, "\n".join(problems)
    # the compilers really differ: clang-22's output records clang, gcc's gcc
    assert 'CONFIG_CC_VERSION_TEXT="Debian clang version 22.1.8' in conf_made[("7.2", "main", "clang-22", "amd64")]
    assert "CONFIG_CC_IS_GCC=y" in conf_made[("7.2", "main", "gcc", "amd64")]


@needs_clang
@pytest.mark.parametrize("arch", ARCHES)
def test_recorded_round_trip_on_7x_needs_no_compiler(trees, conf_main, arch, tmp_path):
    """The CLI on conf's clang-22 output for Talos main, PATH empty: nothing changes, nothing is run."""
    text = conf_main[("clang-22", arch)]
    pkgs = tmp_path / "pkgs"
    (pkgs / "kernel" / "build").mkdir(parents=True)
    (pkgs / "kernel" / "build" / f"config-{arch}").write_text(text)
    shutil.copy(DATA["main"] / "pkgs" / "Pkgfile", pkgs / "Pkgfile")
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {"PATH": str(empty_bin), "TALOSNB_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "talosnb", "normalize", "--pkgs", str(pkgs),
                             "--kernel-src", str(trees["7.2"]), "--arch", arch, "--format", "json"],
                            capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["configs"][arch]["changes"] == []
    assert (pkgs / "kernel" / "build" / f"config-{arch}").read_text() == text


# --- int/hex values and PAHOLE_VERSION=0, as conf keeps them --------------------

def test_page_block_max_order_and_pahole_version_kept(trees, conf_main):
    """config-amd64 of Talos main: PAGE_BLOCK_MAX_ORDER=10 stays 10 (`range 1 10 if
    ARCH_FORCE_MAX_ORDER = 0`: an int without a value is 0 in comparisons), PAHOLE_VERSION=0 stays 0."""
    text = conf_main[("gcc", "amd64")]
    assert "CONFIG_PAGE_BLOCK_MAX_ORDER=10\n" in text and "CONFIG_PAHOLE_VERSION=0\n" in text
    config = Config.from_text(KconfigTree.load(trees["7.2"], "amd64"), text)
    assert config.value("ARCH_FORCE_MAX_ORDER") == "0"
    out = config.text()
    assert "CONFIG_PAGE_BLOCK_MAX_ORDER=10\n" in out and "CONFIG_PAHOLE_VERSION=0\n" in out


# --- random Kconfig trees: the value rules, construct by construct ---------------

FUZZ_CASES = 600


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("chunk", range(3))
def test_random_kconfigs_match_conf(kernel_conf, series, chunk, tmp_path):
    """Seeded random Kconfigs (every type, prompts with conditions, depends, defaults, select/imply,
    ranges, comparisons, choices, menus with visible if, symbols defined twice, and on 7.2 transitional
    symbols and `depends on X if Y`), each with a random .config: talosnb writes what conf writes."""
    conf = kernel_conf[series]
    modern = series == "7.2"
    cases = [make_case(f"fuzz-{series}-{i}", modern=modern) for i in range(chunk, FUZZ_CASES, 3)]
    folders = []
    for i, case in enumerate(cases):
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        (folder / "Kconfig").write_text(case.kconfig)
        folders.append(folder)
    outputs = conf_map(lambda item: conf.olddefconfig_in(item[0], item[1].config), list(zip(folders, cases, strict=True)))
    judged, problems = 0, []
    for folder, case, want in zip(folders, cases, outputs, strict=True):
        if want is None:
            continue  # conf refused this Kconfig (a dependency loop the generator let through)
        judged += 1
        tree = KconfigTree.load(folder, "amd64", version=conf.version, use_cache=False)
        got = Config.from_text(tree, case.config).text()
        if got != want:
            problems.append(f"{case.seed}: {[str(c) for c in config_diff(want, got)[:6]]}")
    assert judged >= 0.9 * len(cases)
    assert not problems, "\n".join(problems)


EDIT_CASES = 300


def _merged(text: str, lines: list[str]) -> str:
    """merge_config.sh's result: the base without the fragment's symbols, then the fragment."""
    names = {line.split("=")[0].removeprefix("# ").split(" ")[0] for line in lines}
    kept = [line for line in text.splitlines()
            if line.split("=")[0] not in names and line.removeprefix("# ").split(" ")[0] not in names]
    return "\n".join(kept + lines) + "\n"


def _random_line(rng: random.Random, sym) -> str:
    import kconfiglib
    kind = sym.orig_type
    if kind in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        value = rng.choice(["y", "m", "n"] if kind is kconfiglib.TRISTATE else ["y", "n"])
        return f"# CONFIG_{sym.name} is not set" if value == "n" else f"CONFIG_{sym.name}={value}"
    if kind is kconfiglib.STRING:
        return f'CONFIG_{sym.name}="{rng.choice(["", "q", "0"])}"'
    number = rng.randint(0, 40)
    return f"CONFIG_{sym.name}={hex(number) if kind is kconfiglib.HEX else number}"


@pytest.mark.parametrize("series", SERIES)
def test_random_kconfig_edits_match_conf(kernel_conf, series, tmp_path):
    """Values set on a loaded, fully evaluated config (what an edit does) recompute as conf computes
    the merged config: three rounds of 1-3 assignments per random Kconfig."""
    conf = kernel_conf[series]
    problems, judged = [], 0
    for i in range(EDIT_CASES):
        case = make_case(f"edit-{series}-{i}", modern=series == "7.2")
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        (folder / "Kconfig").write_text(case.kconfig)
        text = conf.olddefconfig_in(folder, case.config)
        if text is None:
            continue
        judged += 1
        rng = random.Random(case.seed)
        tree = KconfigTree.load(folder, "amd64", version=conf.version, use_cache=False)
        syms = [s for s in tree.kconf.unique_defined_syms if s.orig_type]
        for _ in range(3):
            config = Config.from_text(tree, text)
            config.text()  # every value computed, as after a load and a first look
            lines = [_random_line(rng, sym) for sym in rng.sample(syms, min(len(syms), rng.randint(1, 3)))]
            for line in lines:
                assignment = parse_assignment(line)
                config.kconf.syms[assignment.symbol].set_value(assignment.value.strip('"'))
            want = conf.olddefconfig_in(folder, _merged(text, lines))
            if config.text() != want:
                problems.append(f"{case.seed} {lines}: {[str(c) for c in config_diff(want, config.text())[:6]]}")
                break
            text = want
    assert judged >= 0.9 * EDIT_CASES
    assert not problems, "\n".join(problems)


# --- host mode: the toolchain the way make takes it ----------------------------

def test_llvm_values_as_the_top_makefile_reads_them():
    assert toolchain.llvm_tools("1")["CC"] == "clang"
    suffix = toolchain.llvm_tools("-22")
    assert (suffix["CC"], suffix["LD"], suffix["NM"], suffix["AR"], suffix["HOSTCC"]) == \
        ("clang-22", "ld.lld-22", "llvm-nm-22", "llvm-ar-22", "clang-22")
    prefix = toolchain.llvm_tools("/usr/lib/llvm-22/bin/")
    assert prefix["CC"] == "/usr/lib/llvm-22/bin/clang" and prefix["OBJCOPY"] == "/usr/lib/llvm-22/bin/llvm-objcopy"
    with pytest.raises(InputError) as bad:
        toolchain.llvm_tools("22")
    assert "LLVM=-22" in bad.value.hint
    with pytest.raises(InputError) as missing:
        toolchain.host_env(llvm="-999", environ={"PATH": os.environ["PATH"]})
    assert "clang-999" in missing.value.message and "LLVM=" in missing.value.hint


@needs_clang
@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("compiler", COMPILERS)
@pytest.mark.parametrize("arch", ARCHES)
def test_host_env_is_what_make_exports(make_envs, series, compiler, arch):
    """Every variable Kconfig reads, derived as the top Makefile derives it (LLVM=-22 or plain)."""
    environ = {name: value for name, value in os.environ.items() if name not in ("LLVM", "CC", "LD")}
    ours = toolchain.host_env(environ={**environ, **make_variables(compiler)}, arch=SRCARCH[arch])
    make = make_envs[(series, compiler, arch)]
    read_by_kconfig = ("CC", "LD", "AR", "NM", "OBJCOPY", "CLANG_FLAGS", "CC_VERSION_TEXT", "RUSTC",
                       "RUSTC_VERSION_TEXT", "BINDGEN", "PAHOLE", "PYTHON3", "HOSTCC", "LLVM", "CROSS_COMPILE")
    assert {k: ours.get(k) for k in read_by_kconfig} == {k: make.get(k) for k in read_by_kconfig}
    if series == "7.2":
        assert ours["PAHOLE_VERSION"] == make["PAHOLE_VERSION"]


@needs_clang
@pytest.mark.parametrize("arch", ARCHES)
def test_host_mode_with_llvm_equals_make_llvm_olddefconfig(trees, kernel_conf, arch):
    """`make LLVM=-22 olddefconfig` on Talos main's config as given (hundreds of lines change: 7.2.12
    is not 6.18.45, Debian's clang text, no pahole here) and talosnb's host mode write the same bytes."""
    raw = real_config("main", arch)
    made = kernel_conf["7.2"].make_olddefconfig(raw, arch, make_variables("clang-22"))
    host = toolchain.host_env(llvm="-22", environ={**os.environ, **NO_RUSTC})
    ours = normalize(trees["7.2"], arch, raw, toolchain_mode="host", host=host)
    assert len(config_diff(raw, made)) > 100
    assert ours == made


@needs_clang
def test_cli_host_mode_takes_llvm_from_the_environment(trees, kernel_conf, tmp_path):
    """LLVM=-22 talosnb normalize --toolchain host, as a user runs it (Talos main's 6.18 config on the
    7.2 tree: another series, which a write needs to be told it may rewrite)."""
    pkgs = tmp_path / "pkgs"
    shutil.copytree(DATA["main"] / "pkgs", pkgs)
    raw = real_config("main", "amd64")
    env = {**os.environ, "LLVM": "-22", **NO_RUSTC, "TALOSNB_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "talosnb", "normalize", "--toolchain", "host", "--allow-drop",
                             "--allow-series-change", "--pkgs", str(pkgs), "--kernel-src", str(trees["7.2"]), "--arch", "amd64"],
                            capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    made = kernel_conf["7.2"].make_olddefconfig(raw, "amd64", make_variables("clang-22"))
    assert (pkgs / "kernel" / "build" / "config-amd64").read_text() == made


@pytest.mark.parametrize("arch", ARCHES)
def test_host_mode_refuses_a_clang_config_without_clang(trees, arch, tmp_path):
    """No LLVM= and no CC=: the default gcc would silently rewrite every clang-only line."""
    host = toolchain.host_env(environ={"PATH": os.environ["PATH"], **NO_RUSTC})
    tree = KconfigTree.load(trees["7.2"], arch, toolchain_mode="host", host=host)
    with pytest.raises(InputError) as refused:
        Config.from_text(tree, real_config("main", arch), source=f"config-{arch}")
    assert "clang version 22.1.8" in refused.value.message and refused.value.where == f"config-{arch}"
    assert "LLVM=-22" in refused.value.hint
    # a gcc asked for by name is a choice, not a fallback
    chosen = toolchain.host_env(environ={"PATH": os.environ["PATH"], "CC": "gcc", **NO_RUSTC})
    tree = KconfigTree.load(trees["7.2"], arch, toolchain_mode="host", host=chosen)
    assert "CONFIG_CC_IS_GCC=y" in Config.from_text(tree, real_config("main", arch)).text()


def test_cli_refusal_names_llvm(trees, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TALOSNB_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "talosnb", "normalize", "--toolchain", "host", "--dry-run",
                             "--pkgs", str(DATA["main"] / "pkgs"), "--kernel-src", str(trees["7.2"]),
                             "--arch", "amd64"], capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    assert result.returncode == 2
    assert "made with clang" in result.stderr and "LLVM=" in result.stderr
    assert "Traceback" not in result.stderr


# --- retargeting: the same config with another toolchain recorded -----------------

@needs_clang
@pytest.mark.parametrize("arch", ARCHES)
def test_retarget_to_another_clang_and_pahole_gives_what_conf_gives(trees, kernel_conf, conf_main, fake_tools,
                                                                     retarget_conf, arch):
    base = conf_main[("clang-22", arch)]
    variables = {**make_variables("clang-22"), "CC": str(fake_tools / "clang-21"),
                 "PAHOLE": str(fake_tools / "pahole")}
    env = kernel_conf["7.2"].make_env(arch, variables)
    assert env["CC_VERSION_TEXT"] == "clang version 21.1.8" and env["PAHOLE_VERSION"] == "129"
    want = retarget_conf[arch]["want"]     # conf's output of base in that environment
    changed = {c.symbol for c in config_diff(base, want)}
    # more than the three lines: what depends on the versions recomputes
    assert {"CLANG_VERSION", "AS_VERSION", "PAHOLE_VERSION", "PAHOLE_HAS_BTF_TAG"} <= changed

    config = Config.from_text(KconfigTree.load(trees["7.2"], arch), base)
    changes = toolchain.retarget(config, {"CLANG_VERSION": "210108", "CC_VERSION_TEXT": "clang version 21.1.8",
                                          "PAHOLE_VERSION": "129"})
    assert config.text() == want
    assert {c.command for c in changes} >= {"$CC_VERSION_TEXT", "$PAHOLE_VERSION", "CC_VERSION"}
    assert all(c.old != c.new for c in changes)
    # undone by the answers it replaced
    toolchain.set_probe_answers(config, {c.probe: c.old for c in changes})
    assert config.text() == base

    # the same from a config made with that toolchain (a toolchain bump's child)
    child = retarget_conf[arch]["child"]     # conf's output of the Talos config in that environment
    other = Config.from_text(KconfigTree.load(trees["7.2"], arch), base)
    assert toolchain_from(other, child)
    assert other.text() == want


@needs_clang
def test_retarget_a_probe_result_gives_what_conf_gives(trees, kernel_conf, conf_main, fake_tools):
    base = conf_main[("clang-22", "amd64")]
    env = kernel_conf["7.2"].make_env("amd64", {**make_variables("clang-22"),
                                                "CC": str(fake_tools / "clang-no-asm-inline")})
    env["CC_VERSION_TEXT"] = "Debian clang version 22.1.8 (1~deb12u1)"  # the wrapper's own text is clang-22's
    want = kernel_conf["7.2"].olddefconfig(base, "amd64", env)
    assert "CONFIG_CC_HAS_ASM_INLINE=y" in base and "CONFIG_CC_HAS_ASM_INLINE" not in want
    config = Config.from_text(KconfigTree.load(trees["7.2"], "amd64"), base)
    changes = toolchain.retarget(config, {"CC_HAS_ASM_INLINE": "n"})
    assert [(c.kind, c.old, c.new) for c in changes] == [("yes/no", "y", "n")]
    assert config.text() == want


def test_retarget_says_what_it_cannot_do(trees, conf_main):
    config = Config.from_text(KconfigTree.load(trees["7.2"], "amd64"), conf_main[("gcc", "amd64")])
    before = config.text()
    assert {"CC_VERSION_TEXT", "GCC_VERSION", "CLANG_VERSION", "PAHOLE_VERSION", "LD_VERSION",
            "CC_HAS_ASM_INLINE"} <= set(toolchain.toolchain_symbols(config))
    with pytest.raises(InputError) as not_toolchain:
        toolchain.retarget(config, {"USB": "m"})
    assert "not a toolchain line" in not_toolchain.value.message
    with pytest.raises(InputError) as follows:
        toolchain.retarget(config, {"GCC_VERSION": "140200", "CLANG_VERSION": "190000"})
    assert "CLANG_VERSION follows 0" in follows.value.message and "CC_IS_CLANG" in follows.value.message
    assert follows.value.where.startswith("init/Kconfig:")
    with pytest.raises(InputError):
        toolchain.retarget(config, {"GCC_VERSION": "fourteen"})
    assert config.text() == before  # nothing half-done
    # a gcc config moved to another gcc: GCC_VERSION and what reads it
    changes = toolchain.retarget(config, {"GCC_VERSION": "140200", "CC_VERSION_TEXT": "gcc (GCC) 14.2.0"})
    text = config.text()
    assert "CONFIG_GCC_VERSION=140200\n" in text and 'CONFIG_CC_VERSION_TEXT="gcc (GCC) 14.2.0"\n' in text
    assert len(changes) >= 2


# --- real edits replay: changed lines merged onto the normalized parent -----------

EDITS = [
    ["CONFIG_USB_SERIAL=m", "CONFIG_USB_SERIAL_FTDI_SIO=m"],
    ["# CONFIG_BTRFS_FS is not set"],
    ["CONFIG_NR_CPUS=64", "CONFIG_LOG_BUF_SHIFT=17"],
    ["CONFIG_WIREGUARD=y", "# CONFIG_IPV6 is not set"],
]


@needs_clang
@pytest.mark.parametrize("arch", ARCHES)
def test_config_edits_replay(trees, kernel_conf, conf_main, fake_tools, arch):
    """Parent/child pairs made with conf (the pkgs history is not available here): the child is the
    parent with a fragment merged (merge_config.sh + conf), or with the toolchain bumped. Merging the
    changed lines onto the normalized parent gives the normalized child, byte for byte; toolchain
    lines go through retarget()."""
    env = kernel_conf["7.2"].make_env(arch, make_variables("clang-22"))
    parent = conf_main[("clang-22", arch)]
    children = conf_map(lambda lines: kernel_conf["7.2"].merge(parent, ["\n".join(lines) + "\n"], arch, env), EDITS)
    bumped = kernel_conf["7.2"].olddefconfig(parent, arch, kernel_conf["7.2"].make_env(
        arch, {**make_variables("clang-22"), "CC": str(fake_tools / "clang-21")}))
    for child in [*children, bumped]:
        changes = config_diff(parent, child)
        assert changes, "the child differs from its parent"
        config = Config.from_text(KconfigTree.load(trees["7.2"], arch), parent)
        toolchain_lines = set(toolchain.toolchain_symbols(config))
        child_lines = {parse_assignment(line).symbol: line for line in child.splitlines()
                       if line.startswith(("CONFIG_", "# CONFIG_"))}
        retargeted = {c.symbol: parse_assignment(child_lines[c.symbol]).value.strip('"')
                      for c in changes if c.symbol in toolchain_lines and c.symbol in child_lines}
        if retargeted:
            toolchain.retarget(config, retargeted)
        editor = Editor(config)
        # the child's changed and new lines; the lines it lost follow from them
        fragment = [child_lines[c.symbol] for c in changes
                    if c.symbol in child_lines and c.symbol not in toolchain_lines]
        if fragment:
            editor.set([parse_assignment(line) for line in fragment], mode="merge", fix=False)
        assert editor.config.text() == normalize(trees["7.2"], arch, child) == child


def test_random_seeds_are_stable():
    """A case is named by its seed (failures can be replayed)."""
    assert make_case("fuzz-7.2-1").kconfig == make_case("fuzz-7.2-1").kconfig
    assert random.Random("x").random() == random.Random("x").random()


@pytest.mark.parametrize("command", ["get", "why"])
def test_a_transitional_symbol_is_explained_not_a_crash(trees, tmp_path, command):
    """7.x's `transitional` symbols (CFI_CLANG became CFI) are read from old configs, never written:
    looking one up says so, with its definition, exit 2."""
    env = {**os.environ, "TALOSNB_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "talosnb", command, "CFI_CLANG", "--pkgs",
                             str(DATA["main"] / "pkgs"), "--kernel-src", str(trees["7.2"])],
                            capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert "CONFIG_CFI_CLANG is transitional in the 7.2.12 tree" in result.stderr
    assert "arch/Kconfig:" in result.stderr and "Traceback" not in result.stderr
