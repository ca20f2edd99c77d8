"""Where the real data is, and the helpers the shared fixtures (conftest.py) and the tests use:
real_config, open_session, made_once/computed_once (made once per run for both xdist workers),
the toolchain variables and wrappers the conf oracle runs with."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from talosnb.kconfig import toolchain

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TARBALLS = {"6.12": "linux-6.12.117-kbuild.tar.xz", "7.2": "linux-7.2.12-kbuild.tar.xz"}
TOPS = {"6.12": "linux-source-6.12", "7.2": "linux-source-7.2"}
DATA = {"v1.10": SHARED / "data" / "talos-v1.10", "main": SHARED / "data" / "talos-main"}
# The full 6.12 source (apt-get install linux-source-6.12) and Debian's real builds of it
# (.ci/oracle-builds: config, modules.alias, modules.dep, ... per release), the module facts' judges.
SOURCE = Path("/usr/src/linux-source-6.12.tar.xz")
ORACLE = Path(os.environ.get("TALOSNB_ORACLE_DIR", Path.home() / ".cache" / "talosnb-oracle"))


# arch -> the kernel's SRCARCH, for the Kbuild maps
SRCARCH = {"amd64": "x86", "arm64": "arm64"}


def talos_data(release: str) -> Path:
    """../shared/data/RELEASE (talos-v1.10, talos-main), or skip."""
    folder = SHARED / "data" / release
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder


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


# The toolchain the retarget tests move Talos main's config to (what the clang-21 and pahole
# wrappers answer), as assignments to its toolchain lines.
RETARGET = {"CLANG_VERSION": "210108", "CC_VERSION_TEXT": "clang version 21.1.8", "PAHOLE_VERSION": "129"}


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


