"""Real trees and the kernel's own conf, shared by the engine tests (session scoped)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from oracle import KernelConf, missing_tools

from talosnb.kconfig import toolchain

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TARBALLS = {"6.12": "linux-6.12.117-kbuild.tar.xz", "7.2": "linux-7.2.12-kbuild.tar.xz"}
TOPS = {"6.12": "linux-source-6.12", "7.2": "linux-source-7.2"}
DATA = {"v1.10": SHARED / "data" / "talos-v1.10", "main": SHARED / "data" / "talos-main"}


def real_config(release: str, arch: str) -> str:
    return (DATA[release] / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text()


def host_toolchain() -> dict[str, str]:
    # The oracle's environment decides RUSTC_VERSION & co.: pin rustc to
    # "absent" for both sides so a rustc on PATH can't make them differ.
    # Only PATH from the caller: an LLVM= or CC= in the environment would change the compiler.
    return toolchain.host_env(environ={"PATH": os.environ.get("PATH", os.defpath)}, rustc="talosnb-no-rustc")


# --- made once per test run, whatever the number of xdist workers ---------------------------
# The workers' temporary folders share a parent: what is made there under a lock (the trees, the
# kernel's conf, conf's outputs for the real configs) is made by the first worker that needs it
# and read by the others.

def shared_folder(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def made_once(tmp_path_factory, name: str):
    """(folder, done): hold the lock of `name` in the run's shared folder; done says whether
    an earlier holder finished making it (then touch nothing, read it)."""
    root = shared_folder(tmp_path_factory)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder = root / name
        marker = root / f"{name}.done"
        done = marker.exists()
        folder.mkdir(exist_ok=True)
        yield folder, done
        marker.touch()


def computed_once(tmp_path_factory, name: str, compute):
    """compute() (a JSON value) once per test run: the first worker computes, the others read."""
    with made_once(tmp_path_factory, name) as (folder, done):
        path = folder / "value.json"
        if done:
            return json.loads(path.read_text())
        value = compute()
        path.write_text(json.dumps(value))
        return value


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


# Talos main's compiler: Debian's clang-22 is 22.1.8, what config-{amd64,arm64} record.
CLANG = {"LLVM": "-22"}
# The oracle's environment decides RUSTC_VERSION & co.: rustc pinned to "absent"
# (on make's command line, so it wins over the Makefile's RUSTC = rustc).
NO_RUSTC = {"RUSTC": "talosnb-no-rustc"}


def have_clang() -> bool:
    return all(shutil.which(tool) for tool in ("clang-22", "ld.lld-22", "llvm-nm-22", "llvm-ar-22"))


def conf_map(fn, items, workers: int = 2) -> list:
    """fn over items in a small thread pool: conf runs are processes, so they overlap."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


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


# --- retargeting: wrappers of clang-22 that conf's probes take for another toolchain ---------

FAKE_CLANG = """#!/bin/sh
# clang 21.1.8 as far as the kernel's probes can tell: its --version and its
# version macros (scripts/cc-version.sh); every other question goes to clang-22
case " $* " in
*" --version "*) echo "clang version 21.1.8"; echo "Target: x86_64-pc-linux-gnu"; exit 0 ;;
esac
if [ "$*" = "-E -P -x c -" ]; then
    clang-22 "$@" | sed 's/^Clang[[:space:]]*22[[:space:]]*1[[:space:]]*8/Clang 21 1 8/'
    exit
fi
exec clang-22 "$@"
"""
FAKE_PAHOLE = "#!/bin/sh\necho v1.29\n"
# clang-22 that does not take `asm inline` (init/Kconfig CC_HAS_ASM_INLINE)
NO_ASM_INLINE = """#!/bin/sh
if [ "$*" = "-x c - -c -o /dev/null" ]; then
    input=$(cat)
    case "$input" in *"asm inline"*) exit 1 ;; esac
    printf '%s\\n' "$input" | clang-22 "$@"
    exit
fi
exec clang-22 "$@"
"""


@pytest.fixture(scope="session")
def fake_tools(tmp_path_factory) -> Path:
    """Test scaffolding around the real clang-22: wrappers that answer some questions otherwise."""
    folder = tmp_path_factory.mktemp("fake-toolchain")
    for name, text in (("clang-21", FAKE_CLANG), ("pahole", FAKE_PAHOLE), ("clang-no-asm-inline", NO_ASM_INLINE)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder


# The toolchain the retarget tests move Talos main's config to (what the clang-21 and pahole
# wrappers answer), as assignments to its toolchain lines.
RETARGET = {"CLANG_VERSION": "210108", "CC_VERSION_TEXT": "clang version 21.1.8", "PAHOLE_VERSION": "129"}


@pytest.fixture(scope="session")
def retarget_conf(kernel_conf, clang_envs, conf_main, fake_tools) -> dict[str, dict[str, str]]:
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
    return dict(zip(arches, conf_map(made, arches), strict=True))


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


@pytest.fixture(autouse=True)
def engine_cache_env(engine_cache, monkeypatch):
    """Parsed trees go to one cache folder per test session, signed with one key of its own in a
    config folder beside it, never the user's (imported, this is autouse)."""
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
    monkeypatch.setenv("TALOSNB_CONFIG_DIR", f"{engine_cache}-config")


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
INPUT_VARIABLES = ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC", "TALOSNB_EXTENSIONS")


def open_session(cache: Path, **inputs):
    """A Session with its own cache folder and no input variables from the caller's environment."""
    from talosnb.app.session import Session
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALOSNB_CACHE_DIR", str(cache))
        for name in INPUT_VARIABLES:
            mp.delenv(name, raising=False)
        return Session.open(**inputs)


@pytest.fixture
def sample(tmp_path) -> Path:
    """A writable copy of the embedded sample (data/sample is never written by tests)."""
    import shutil
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    return root
