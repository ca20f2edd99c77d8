"""The fixtures every test file can name as an argument (pytest finds them here; nothing imports them).

trees, kernel_conf, make_envs, clang_envs, conf_main, conf_v110: the real trees, the kernel's conf
built in them, the environment make gives it and its output for the real Talos configs, made once
per run for both xdist workers; retarget_conf, fake_tools: a toolchain bump; tree_612, tree_72,
maps_612, maps_72: the trees' Kbuild maps; engine_cache, engine_config, engine_cache_env (autouse):
every test's parsed trees in one cache per worker, never the user's; browser, sample, hook. What
each costs: docs/development.md, "The tests' layout".

Constants and functions (DATA, SAMPLE, SHARED, real_config, open_session, ...) are in
engine_fixtures.py and imported from there.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
from browser import CHROMIUM, Browser
from engine_fixtures import (
    CLANG,
    FAKE_CLANG,
    FAKE_PAHOLE,
    NO_ASM_INLINE,
    NO_RUSTC,
    SAMPLE,
    SHARED,
    SRCARCH,
    TARBALLS,
    TOPS,
    computed_once,
    conf_map,
    have_clang,
    host_toolchain,
    made_once,
    real_config,
)
from oracle import KernelConf, missing_tools

from talosnb.core import fileio
from talosnb.kbuild import build_kbuild_map


@pytest.fixture(scope="session")
def trees(tmp_path_factory) -> dict[str, Path]:
    if not SHARED.is_dir():
        pytest.skip("../shared (real kernel trees and Talos data) is not beside the project")
    with made_once(tmp_path_factory, "trees") as (root, done):
        if not done:
            for name in TARBALLS.values():
                with tarfile.open(SHARED / "kernel" / name) as tar:
                    tar.extractall(root, filter="data")
    return {series: root / TOPS[series] for series in TARBALLS}


@pytest.fixture(scope="session")
def kernel_conf(trees, tmp_path_factory) -> dict[str, KernelConf]:
    missing = missing_tools()
    if missing:
        pytest.skip("the kernel's conf needs " + ", ".join(missing))
    with made_once(tmp_path_factory, "conf") as (root, _done):
        # built in the first worker; the others find conf there
        return {series: KernelConf(tree, root / f"conf-{series}") for series, tree in trees.items()}



@pytest.fixture(scope="session")
def make_envs(kernel_conf, tmp_path_factory) -> dict[tuple[str, str, str], dict[str, str]]:
    """(series, compiler, arch) -> the environment `make ARCH=... [LLVM=-22] olddefconfig` gives conf
    in that tree, read from a real make run; compiler is "clang-22" (when installed) or "gcc"
    (the host's)."""
    def made() -> list:
        envs = []
        for series in ("6.12", "7.2"):
            for arch in ("amd64", "arm64"):
                envs.append([[series, "gcc", arch], kernel_conf[series].make_env(arch, NO_RUSTC)])
                if have_clang():
                    envs.append([[series, "clang-22", arch],
                                 kernel_conf[series].make_env(arch, {**CLANG, **NO_RUSTC})])
        return envs
    return {tuple(key): env for key, env in computed_once(tmp_path_factory, "make-envs", made)}


@pytest.fixture(scope="session")
def clang_envs(make_envs) -> dict[str, dict[str, str]]:
    """arch -> conf's environment in the 7.2.12 tree under `make LLVM=-22`."""
    if not have_clang():
        pytest.skip("clang-22, ld.lld-22, llvm-nm-22, llvm-ar-22 are not installed "
                    "(apt-get install clang-22 lld-22 llvm-22)")
    return {arch: make_envs[("7.2", "clang-22", arch)] for arch in ("amd64", "arm64")}


@pytest.fixture(scope="session")
def conf_main(kernel_conf, make_envs, tmp_path_factory) -> dict[tuple[str, str], str]:
    """(compiler, arch) -> what the kernel's conf writes in the 7.2.12 tree from the Talos main
    configs, made with clang-22 (as Talos does, LLVM=-22) and with the host's gcc."""
    keys = [(compiler, arch) for (series, compiler, arch) in make_envs if series == "7.2"]

    def made() -> list[str]:
        return conf_map(lambda key: kernel_conf["7.2"].olddefconfig(
            real_config("main", key[1]), key[1], make_envs[("7.2", *key)]), keys)
    return dict(zip(keys, computed_once(tmp_path_factory, "conf-main", made), strict=True))



@pytest.fixture(scope="session")
def fake_tools(tmp_path_factory) -> Path:
    """Test scaffolding around the real clang-22: wrappers that answer some questions otherwise."""
    folder = tmp_path_factory.mktemp("fake-toolchain")
    for name, text in (("clang-21", FAKE_CLANG), ("pahole", FAKE_PAHOLE), ("clang-no-asm-inline", NO_ASM_INLINE)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder



@pytest.fixture(scope="session")
def retarget_conf(kernel_conf, clang_envs, conf_main, fake_tools, tmp_path_factory) -> dict[str, dict[str, str]]:
    """arch -> conf's texts for a toolchain bump in the 7.2.12 tree: "base" (Talos main's config as conf
    writes it with clang-22), "want" (conf's output of base with clang 21.1.8 and pahole 1.29:
    RETARGET), "child" (conf's output of the Talos config as given, made with that toolchain)."""
    variables = {**CLANG, **NO_RUSTC, "CC": str(fake_tools / "clang-21"), "PAHOLE": str(fake_tools / "pahole")}

    def made(arch: str) -> dict[str, str]:
        env = kernel_conf["7.2"].make_env(arch, variables)
        base = conf_main[("clang-22", arch)]
        return {"base": base, "want": kernel_conf["7.2"].olddefconfig(base, arch, env),
                "child": kernel_conf["7.2"].olddefconfig(real_config("main", arch), arch, env)}
    arches = ("amd64", "arm64")
    return dict(zip(arches, computed_once(tmp_path_factory, "retarget-conf", lambda: conf_map(made, arches)),
                    strict=True))


@pytest.fixture(scope="session")
def tree_612(trees) -> Path:
    return trees["6.12"]


@pytest.fixture(scope="session")
def tree_72(trees) -> Path:
    return trees["7.2"]


def kbuild_maps(tree: Path) -> dict:
    return {arch: build_kbuild_map(tree, srcarch) for arch, srcarch in SRCARCH.items()}


@pytest.fixture(scope="session")
def maps_612(tree_612) -> dict:
    """arch -> the Kbuild map (which .ko each symbol builds) of the 6.12.117 tree."""
    return kbuild_maps(tree_612)


@pytest.fixture(scope="session")
def maps_72(tree_72) -> dict:
    """arch -> the Kbuild map of the 7.2.12 tree."""
    return kbuild_maps(tree_72)


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture(scope="session")
def conf_v110(kernel_conf, tmp_path_factory) -> dict[str, str]:
    """N: what the kernel's conf writes from the Talos v1.10 configs with this host's compiler."""
    return computed_once(tmp_path_factory, "conf-v110", lambda: {
        arch: kernel_conf["6.12"].olddefconfig(real_config("v1.10", arch), arch, host_toolchain())
        for arch in ("amd64", "arm64")})


@pytest.fixture(scope="session")
def engine_config(engine_cache) -> Path:
    """The config folder engine_cache_env points TALOSNB_CONFIG_DIR at (for tests that set it themselves)."""
    folder = Path(f"{engine_cache}-config")
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session", autouse=True)
def engine_cache_env(engine_cache):
    """Parsed trees go to one cache folder per test session, signed with one key of its own in a
    config folder beside it, never the user's. Session-scoped and autouse, so it is set before any
    other fixture runs: a module or session fixture that opens a session (open_session sets only
    the cache folder) signs with this key too. With the key the user's own (set per test only),
    such a fixture's entries read as damaged in the next test, which parsed the tree again and
    re-signed it, back and forth."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
        mp.setenv("TALOSNB_CONFIG_DIR", f"{engine_cache}-config")
        yield



@pytest.fixture
def sample(tmp_path) -> Path:
    """A writable copy of the embedded sample (data/sample is never written by tests)."""
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    return root


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (bash .ci/test installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        b = Browser(playwright)
        yield b
        b.close()


@pytest.fixture
def hook(monkeypatch):
    """hook(stage, action): run ``action`` once when the write path (fileio.race_hook) reaches
    ``stage`` ("checked", "written"): a race widened by the write path itself, not by timing luck."""
    def install(stage: str, action) -> None:
        def race(at: str, paths: list[Path]) -> None:
            if at == stage:
                monkeypatch.setattr(fileio, "race_hook", None)
                action()
        monkeypatch.setattr(fileio, "race_hook", race)
    return install
