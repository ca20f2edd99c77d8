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
ENV_CONFIG_DIR = "TALOSNB_CONFIG_DIR"
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


def config_dir() -> Path:
    """talosnb's own settings folder (the cache's key lives there): $TALOSNB_CONFIG_DIR, else the
    platform's user config folder (~/.config/talosnb)."""
    env = os.environ.get(ENV_CONFIG_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("talosnb"))


def _shipped(name: str) -> Path:
    """A folder that ships with talosnb: inside the package when installed from a wheel
    (talosnb/data, talosnb/notebooks: setup.py maps them there), else the source checkout's
    top-level folder beside the package (a git clone, `pip install -e .`)."""
    package = Path(__file__).resolve().parents[1]
    installed = package / name
    return installed if installed.is_dir() else package.parent / name


def data_dir() -> Path:
    """The data/ folder that holds the embedded sample."""
    return _shipped("data")


def notebooks_dir() -> Path:
    """The notebooks that ship with talosnb (read-only: `talosnb lab` copies them to work on)."""
    return _shipped("notebooks")


def sample_dir() -> Path:
    """data/sample: the embedded sample's linux/, pkgs/ and talos/ folders."""
    path = data_dir() / "sample"
    if not (path / "linux" / "Makefile").is_file():
        raise InputError(
            "the embedded sample is missing", where=str(path),
            hint="it ships with talosnb (the wheel, or a source checkout); reinstall talosnb, "
                 f"or give {opt('pkgs')}, {opt('talos')} and {opt('kernel_src')}")
    return path


def is_in_sample(path: Path) -> bool:
    """Whether `path` lies in the embedded sample (which commands never write)."""
    try:
        return path.resolve().is_relative_to((data_dir() / "sample").resolve())
    except OSError:
        return False
