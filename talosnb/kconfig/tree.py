"""A kernel tree's Kconfig, parsed once per arch and toolchain mode, cached on disk."""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import kconfiglib
import platformdirs

from ..errors import InputError
from . import syntax, toolchain

# Bump when the parsed form changes, so stale caches are not reused.
ENGINE_VERSION = "1"

# Talos arch names -> the kernel's ARCH and SRCARCH (amd64 is 64-bit x86).
ARCHES: dict[str, tuple[str, str]] = {"amd64": ("x86", "x86"), "arm64": ("arm64", "arm64")}
TOOLCHAIN_MODES = ("recorded", "host")


def check_arch(arch: str) -> str:
    if arch not in ARCHES:
        raise InputError(f"unknown arch '{arch}'", hint="use one of: " + ", ".join(ARCHES))
    return arch


def read_tree_version(path: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL(EXTRAVERSION) from the tree's top Makefile."""
    makefile = Path(path) / "Makefile"
    try:
        text = makefile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        raise InputError("not a kernel tree: no top-level Makefile", where=str(path),
                         hint="--kernel-src must be a Linux source folder or tarball") from None
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=[ \t]*(\S*)", text, re.MULTILINE))
    if not fields.get("VERSION") or not fields.get("PATCHLEVEL"):
        raise InputError("not a kernel tree: the top Makefile has no VERSION/PATCHLEVEL", where=str(makefile))
    version = f"{fields['VERSION']}.{fields['PATCHLEVEL']}.{fields.get('SUBLEVEL') or 0}"
    return version + fields.get("EXTRAVERSION", "")


def cache_dir() -> Path:
    return Path(os.environ.get("TALOSNB_CACHE_DIR") or platformdirs.user_cache_dir("talosnb"))


@dataclass
class KconfigTree:
    """The Kconfig of one kernel tree for one arch, parsed in one toolchain mode.

    `kconf` is the parsed kconfiglib object (a TalosKconfig); it holds one
    configuration's values at a time, so each loaded Config owns its own tree.
    """

    path: Path
    version: str
    arch: str
    mode: str
    kconf: syntax.TalosKconfig
    probes: dict[str, toolchain.Probe] = field(default_factory=dict)
    host_env: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False

    @property
    def srcarch(self) -> str:
        return ARCHES[self.arch][1]

    @property
    def header_arch(self) -> str:
        return ARCHES[self.arch][0]

    @classmethod
    def load(cls, path: str | os.PathLike, arch: str, *, toolchain_mode: str = "recorded",
             host: dict[str, str] | None = None, use_cache: bool = True,
             version: str | None = None) -> KconfigTree:
        """Parse `path/Kconfig` for `arch`. Recorded mode runs no probe and is cached on disk.

        `version` stands in for the top Makefile's in Kconfig-only folders
        (such as the kernel's own scripts/kconfig/tests cases).
        """
        path = Path(path).resolve()
        check_arch(arch)
        if toolchain_mode not in TOOLCHAIN_MODES:
            raise InputError(f"unknown toolchain mode '{toolchain_mode}'",
                             hint="use 'recorded' (answer compiler probes from the config) or 'host'")
        version = version or read_tree_version(path)
        if not (path / "Kconfig").is_file():
            raise InputError("not a kernel tree: no top-level Kconfig", where=str(path))
        if toolchain_mode == "recorded" and use_cache:
            cached = _read_cache(path, version, arch)
            if cached is not None:
                return cached
        tree = _parse(path, version, arch, toolchain_mode, host)
        if toolchain_mode == "recorded" and use_cache:
            _write_cache(tree)
        return tree


def _parse(path: Path, version: str, arch: str, mode: str, host: dict[str, str] | None) -> KconfigTree:
    karch, srcarch = ARCHES[arch]
    env = syntax.kernel_env(str(path), karch, srcarch, version)
    if mode == "recorded":
        shell = toolchain.RecordedShell()
        for variable in toolchain.TEXT_VARIABLES:
            env[variable] = shell.text_variable(variable)
        env.update(toolchain.recorded_env())
    else:
        host = dict(host if host is not None else toolchain.host_env())
        env.update(host)
        shell = toolchain.HostShell(env)
    try:
        kconf = _with_deep_stack(lambda: syntax.parse(str(path), env, shell))
    except kconfiglib.KconfigError as e:
        raise InputError(f"cannot parse the kernel's Kconfig: {str(e).strip()}",
                         hint="this Kconfig construct is not supported; please report it") from None
    tree = KconfigTree(path, version, arch, mode, kconf, host_env=host or {})
    if mode == "recorded":
        toolchain.bind_placeholders(kconf, shell)
        tree.probes = shell.probes
        kconf.talosnb_unknown_shell = shell.unknown
    return tree


def _with_deep_stack(fn):
    """Run fn in a thread with a deep stack: kconfiglib and pickle recurse per menu level/node."""
    result: dict = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001 -- re-raised in the caller's thread
            result["error"] = e

    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size()
    # The parsed tree is ~10^6 long-lived objects without cycles worth
    # collecting; the cyclic GC running during their creation doubles the time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    sys.setrecursionlimit(max(old_limit, 200_000))
    threading.stack_size(512 * 1024 * 1024)
    try:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_size)
        if gc_was_enabled:
            gc.enable()
    if "error" in result:
        raise result["error"]
    return result["value"]


def _engine_fingerprint() -> str:
    # The pickled tree embeds how this engine parsed it: any change to the
    # parsing code must miss the cache.
    digest = hashlib.sha256(ENGINE_VERSION.encode())
    for module in ("syntax.py", "toolchain.py", "tree.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()


def _cache_file(path: Path, version: str, arch: str) -> Path:
    key = hashlib.sha256(f"{_engine_fingerprint()}|{kconfiglib.VERSION}|{path}|{version}|{arch}".encode()
                         ).hexdigest()
    return cache_dir() / "kconfig" / f"{version}-{arch}-{key[:16]}.pickle"


def _stamp(path: Path, filenames: list[str]) -> list[tuple[str, int, int]]:
    stamp = []
    for name in filenames:
        try:
            st = os.stat(path / name)
            stamp.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            stamp.append((name, -1, -1))
    return stamp


def _read_cache(path: Path, version: str, arch: str) -> KconfigTree | None:
    file = _cache_file(path, version, arch)
    try:
        data = file.read_bytes()
        stamp, payload = pickle.loads(data)
    except Exception:  # noqa: BLE001 -- a missing or unreadable cache means: parse again
        return None
    if _stamp(path, [name for name, _, _ in stamp]) != stamp:
        return None
    try:
        tree = _with_deep_stack(lambda: pickle.loads(payload))
    except Exception:  # noqa: BLE001 -- a cache from another engine version: parse again
        return None
    tree.from_cache = True
    return tree


def _write_cache(tree: KconfigTree) -> None:
    tree.kconf.prepare_pickle()
    try:
        payload = _with_deep_stack(lambda: pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001
        return  # caching is an optimisation; a failure only costs the next parse
    stamp = _stamp(tree.path, list(dict.fromkeys(tree.kconf.kconfig_filenames)))
    file = _cache_file(tree.path, tree.version, tree.arch)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps((stamp, payload), protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, file)
    except OSError:
        pass
