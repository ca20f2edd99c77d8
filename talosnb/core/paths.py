"""Where talosnb keeps things: the cache, the embedded data, and the environment variables
that point elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError, opt

ENV_PKGS = "TALOSNB_PKGS"
ENV_TALOS = "TALOSNB_TALOS"
ENV_EXTENSIONS = "TALOSNB_EXTENSIONS"
ENV_KERNEL_SRC = "TALOSNB_KERNEL_SRC"
ENV_CACHE_DIR = "TALOSNB_CACHE_DIR"
ENV_KERNEL_MIRROR = "TALOSNB_KERNEL_MIRROR"
# kernel-hardening-checker: a folder or tarball to use, or where to download it from
ENV_HARDENING_CHECKER = "TALOSNB_HARDENING_CHECKER"
ENV_HARDENING_MIRROR = "TALOSNB_HARDENING_CHECKER_MIRROR"


def cache_dir() -> Path:
    """talosnb's cache folder: $TALOSNB_CACHE_DIR, else the platform's user cache folder."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("talosnb"))


def data_dir() -> Path:
    """The repository's top-level data/ folder (the embedded sample lives in it).

    data/ sits beside the talosnb package in the source tree rather than inside
    it, so it is found relative to the package: that holds for a source checkout
    and for `pip install -e .`, which imports talosnb from the checkout.
    """
    return Path(__file__).resolve().parents[2] / "data"


def sample_dir() -> Path:
    """data/sample: the embedded sample's linux/, pkgs/ and talos/ folders."""
    path = data_dir() / "sample"
    if not (path / "linux" / "Makefile").is_file():
        raise InputError(
            "the embedded sample is missing", where=str(path),
            hint="it ships with a source checkout of talosnb (pip install -e .); "
                 f"or give {opt('pkgs')}, {opt('talos')} and {opt('kernel_src')}")
    return path


def is_in_sample(path: Path) -> bool:
    """Whether `path` lies in the embedded sample (which commands never write)."""
    try:
        return path.resolve().is_relative_to((data_dir() / "sample").resolve())
    except OSError:
        return False
