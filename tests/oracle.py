"""The kernel's own Kconfig tools, built from a tree, to check talosnb against.

`scripts/kconfig/conf` is built once per tree (with flex, bison and a C
compiler) into a separate folder, the tree itself is never written to. Used by
the test suite and the benchmarks; needs `make`, `gcc`, `flex` and `bison`.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import kconfiglib

from talosnb.core.arches import srcarch
from talosnb.core.errors import InputError
from talosnb.kconfig.syntax import kernel_env
from talosnb.kconfig.tree import read_tree_version

REQUIRED_TOOLS = ("make", "gcc", "flex", "bison")


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


class KernelConf:
    """scripts/kconfig/conf of one kernel tree."""

    def __init__(self, tree: str | os.PathLike, build_dir: str | os.PathLike):
        self.tree = Path(tree).resolve()
        self.build_dir = Path(build_dir).resolve()
        self.version = read_tree_version(self.tree)
        self.conf = self.build_dir / "scripts" / "kconfig" / "conf"
        self._make_envs: dict[tuple, dict[str, str]] = {}
        self._make_lock = threading.Lock()
        if not self.conf.exists():
            self._build()

    def _build(self) -> None:
        missing = missing_tools()
        if missing:
            raise InputError("building the kernel's conf needs " + ", ".join(missing),
                             hint="apt-get install make gcc flex bison")
        self.build_dir.mkdir(parents=True, exist_ok=True)
        # `make olddefconfig` is the documented way to get conf built; with an
        # empty .config in the separate output folder the tree stays untouched.
        (self.build_dir / ".config").write_text("")
        result = subprocess.run(["make", "-s", "-C", str(self.tree), f"O={self.build_dir}", "ARCH=x86",
                                 "olddefconfig"], capture_output=True, text=True, check=False)
        if not self.conf.exists():
            raise InputError("building the kernel's scripts/kconfig/conf failed:\n" + result.stderr[-2000:],
                             where=str(self.tree))

    # --- the environment `make` gives conf --------------------------------

    def _make(self, out: Path, arch: str, variables: dict[str, str], extra: list[str],
              environ: dict[str, str] | None, target: str = "olddefconfig") -> subprocess.CompletedProcess:
        import fcntl
        karch = srcarch(arch)
        command = ["make", "-s", "-C", str(self.tree), f"O={out}", f"ARCH={karch}",
                   *(f"{k}={v}" for k, v in sorted(variables.items())), *extra, target]
        # one make at a time in an output folder, also across the test run's processes (make may
        # build conf there)
        with open(out / ".oracle-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return subprocess.run(command, capture_output=True, text=True, check=False,
                                  env=dict(os.environ if environ is None else environ))

    def make_olddefconfig(self, config_text: str, arch: str, variables: dict[str, str] | None = None,
                          environ: dict[str, str] | None = None) -> str:
        """What the kernel's own `make ARCH=... VAR=... olddefconfig` writes (a separate O= folder
        per variable set, so conf is built once for each; the tree is not written)."""
        return self.make_target("olddefconfig", config_text, arch, variables, environ)[1]

    def make_target(self, target: str, config_text: str, arch: str, variables: dict[str, str] | None = None,
                    environ: dict[str, str] | None = None) -> tuple[str, str]:
        """(what `make ARCH=... VAR=... TARGET` prints, the config after it) for `config_text`,
        e.g. listnewconfig or olddefconfig, in the O= folder of that variable set."""
        variables = dict(variables or {})
        out = self._out_dir(variables)
        with self._make_lock, tempfile.TemporaryDirectory(prefix="talosnb-make-") as work:
            config = Path(work) / ".config"
            config.write_text(config_text)
            result = self._make(out, arch, variables, [f"KCONFIG_CONFIG={config}"], environ, target)
            if result.returncode != 0:
                raise RuntimeError(f"make {target} failed: {result.stderr[-2000:]}")
            return result.stdout, config.read_text()

    def make_env(self, arch: str, variables: dict[str, str] | None = None,
                 environ: dict[str, str] | None = None) -> dict[str, str]:
        """Exactly the environment `make ARCH=... VAR=... olddefconfig` runs conf (and so every
        Kconfig `$(shell,...)`) in, read from a real make run: KBUILD_KCONFIG points conf at a
        one-line Kconfig whose `$(shell,...)` writes the environment down."""
        variables = dict(variables or {})
        key = (arch, tuple(sorted(variables.items())), tuple(sorted((environ or {}).items())))
        with self._make_lock:
            if key in self._make_envs:
                return dict(self._make_envs[key])
            out = self._out_dir(variables)
            with tempfile.TemporaryDirectory(prefix="talosnb-env-") as work:
                dump = Path(work) / "env"
                kconfig = Path(work) / "Kconfig"
                kconfig.write_text(f'config DUMP\n\tstring\n\tdefault "$(shell,env -0 > {dump})"\n')
                result = self._make(out, arch, variables,
                                    [f"KBUILD_KCONFIG={kconfig}", f"KCONFIG_CONFIG={Path(work) / 'config'}"],
                                    environ)
                if not dump.exists():
                    raise RuntimeError(f"make olddefconfig failed: {result.stderr[-2000:]}")
                env = dict(item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item)
            for name in ("KBUILD_KCONFIG", "KCONFIG_CONFIG", "PWD", "OLDPWD", "SHLVL", "_"):
                env.pop(name, None)
            self._make_envs[key] = env
            return dict(env)

    def _out_dir(self, variables: dict[str, str]) -> Path:
        # conf is built once per set of make variables (LLVM= changes HOSTCC, so its build)
        import hashlib
        digest = hashlib.sha256(repr(sorted(variables.items())).encode()).hexdigest()[:12]
        out = self.build_dir.parent / f"{self.build_dir.name}-make-{digest}"
        out.mkdir(exist_ok=True)
        return out

    def env(self, arch: str, toolchain: dict[str, str], config_path: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(kernel_env(str(self.tree), srcarch(arch), srcarch(arch), self.version))
        env.update(toolchain)
        env["KCONFIG_CONFIG"] = str(config_path)
        return env

    def olddefconfig(self, config_text: str, arch: str, toolchain: dict[str, str]) -> str:
        """What `make ARCH=... olddefconfig` writes for `config_text` with this toolchain."""
        with tempfile.TemporaryDirectory(prefix="talosnb-conf-") as work:
            path = Path(work) / ".config"
            path.write_text(config_text)
            self._run_conf(path, arch, toolchain, work)
            return path.read_text()

    # --- many configs, one parse ---------------------------------------------------------

    def _batch_conf(self) -> Path:
        """conf linked with tests/conf_batch.c: one Kconfig parse (and one round of compiler
        probes) for many configs, each then read and written as a fresh conf run would."""
        batch = self.build_dir / "conf-batch"
        with self._make_lock:
            if not batch.exists():
                kconfig = self.conf.parent
                objects = sorted(str(o) for o in kconfig.glob("*.o"))
                source = Path(__file__).with_name("conf_batch.c")
                made = f"{batch}.{os.getpid()}.tmp"    # another process may link it at the same time
                result = subprocess.run(["gcc", "-O1", "-o", made, str(source), *objects, "-Wl,--wrap=conf_read"],
                                        capture_output=True, text=True, check=False)
                if result.returncode != 0:
                    raise RuntimeError(f"linking conf-batch failed: {result.stderr[-2000:]}")
                os.replace(made, batch)
        return batch

    def _run_batch(self, paths: list[Path], arch: str, toolchain: dict[str, str], cwd: str) -> None:
        env = self.env(arch, toolchain, paths[0])
        env["TALOSNB_CONF_BATCH"] = "\n".join(str(p) for p in paths)
        result = subprocess.run([str(self._batch_conf()), "-s", "--olddefconfig", "Kconfig"], cwd=cwd, env=env,
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"conf --olddefconfig failed: {result.stderr[-2000:]}")

    def olddefconfig_many(self, config_texts: list[str], arch: str, toolchain: dict[str, str]) -> list[str]:
        """:meth:`olddefconfig` of each text, with the Kconfig parsed once for all of them."""
        if not config_texts:
            return []
        with tempfile.TemporaryDirectory(prefix="talosnb-conf-") as work:
            paths = []
            for i, text in enumerate(config_texts):
                path = Path(work) / str(i) / ".config"
                path.parent.mkdir()
                path.write_text(text)
                paths.append(path)
            self._run_batch(paths, arch, toolchain, work)
            return [path.read_text() for path in paths]

    def merge_many(self, config_text: str | list[str], fragment_sets: list[list[str]], arch: str,
                   toolchain: dict[str, str]) -> list[str]:
        """:meth:`merge` of each set of fragments into ``config_text`` (one text for all, or one per
        set): merge_config.sh -m for each (two at a time), then olddefconfig for all of them with
        the Kconfig parsed once."""
        from concurrent.futures import ThreadPoolExecutor

        if not fragment_sets:
            return []
        bases = [config_text] * len(fragment_sets) if isinstance(config_text, str) else list(config_text)
        assert len(bases) == len(fragment_sets)
        with tempfile.TemporaryDirectory(prefix="talosnb-merge-") as work:
            def merged(item: tuple[int, list[str]]) -> Path:
                i, fragments = item
                return self._merge_config(Path(work) / str(i), bases[i], fragments, arch, toolchain)
            with ThreadPoolExecutor(max_workers=2) as pool:
                paths = list(pool.map(merged, enumerate(fragment_sets)))
            self._run_batch(paths, arch, toolchain, work)
            return [path.read_text() for path in paths]

    def _merge_config(self, work: Path, config_text: str, fragments: list[str], arch: str,
                      toolchain: dict[str, str]) -> Path:
        """scripts/kconfig/merge_config.sh -m of ``fragments`` into ``config_text``, in ``work``:
        the merged (not yet olddefconfig'ed) config's path."""
        script = self.tree / "scripts" / "kconfig" / "merge_config.sh"
        work.mkdir(parents=True, exist_ok=True)
        base = work / "base.config"
        base.write_text(config_text)
        names = []
        for i, fragment in enumerate(fragments):
            frag = work / f"fragment{i}.config"
            frag.write_text(fragment)
            names.append(str(frag))
        out = work / "out"
        out.mkdir()
        result = subprocess.run(["sh", str(script), "-m", "-O", str(out), str(base), *names], cwd=work,
                                env=self.env(arch, toolchain, out / ".config"), capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"merge_config.sh failed: {result.stderr[-2000:]}")
        return out / ".config"

    def olddefconfig_in(self, folder: str | os.PathLike, config_text: str) -> str | None:
        """This conf on another Kconfig (folder/Kconfig, no toolchain), e.g. a generated one;
        None if conf refuses the Kconfig (exit status, message) or crashes."""
        with tempfile.TemporaryDirectory(prefix="talosnb-conf-") as work:
            path = Path(work) / ".config"
            path.write_text(config_text)
            result = subprocess.run([str(self.conf), "-s", "--olddefconfig", "Kconfig"], cwd=folder,
                                    env={"PATH": os.defpath, "srctree": str(folder), "KCONFIG_CONFIG": str(path)},
                                    capture_output=True, text=True, check=False)
            return path.read_text() if result.returncode == 0 else None

    def _run_conf(self, path: Path, arch: str, toolchain: dict[str, str], cwd: str) -> None:
        result = subprocess.run([str(self.conf), "-s", "--olddefconfig", "Kconfig"], cwd=cwd,
                                env=self.env(arch, toolchain, path), capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise RuntimeError(f"conf --olddefconfig failed: {result.stderr[-2000:]}")

    def merge(self, config_text: str, fragments: list[str], arch: str, toolchain: dict[str, str]) -> str:
        """scripts/kconfig/merge_config.sh -m, then olddefconfig: how fragments are applied."""
        with tempfile.TemporaryDirectory(prefix="talosnb-merge-") as work:
            path = self._merge_config(Path(work), config_text, fragments, arch, toolchain)
            self._run_conf(path, arch, toolchain, work)
            return path.read_text()


def _pick_value(rng: random.Random, sym) -> str | None:
    """A value differing from the current one, of the symbol's type (sometimes out of range)."""
    kind = sym.orig_type
    current = sym.str_value
    if kind is kconfiglib.BOOL:
        return "n" if current == "y" else "y"
    if kind is kconfiglib.TRISTATE:
        return rng.choice([v for v in ("y", "m", "n") if v != current])
    if kind in (kconfiglib.INT, kconfiglib.HEX):
        base = 16 if kind is kconfiglib.HEX else 10
        low = high = None
        for lo, hi, cond in sym.ranges:
            if kconfiglib.expr_value(cond):
                with contextlib.suppress(ValueError):
                    low, high = int(lo.str_value, base), int(hi.str_value, base)
                break
        if low is not None and rng.random() < 0.8:
            number = rng.randint(low, high)
        elif low is not None:
            number = high + rng.randint(1, 100)
        else:
            number = rng.randint(0, 4096)
        return hex(number) if kind is kconfiglib.HEX else str(number)
    if kind is kconfiglib.STRING:
        return rng.choice(["talosnb", "", "a b", 'quote"d', "x/y.z"])
    return None


def sample_assignments(editor, rng: random.Random, count: int) -> list:
    """`count` assignments for a differential check against conf, drawn with `rng` from the
    editor's config: roughly 40% bool, 35% tristate, 10% int/hex/string, 15% choice members,
    each value differing from the current one (int/hex sometimes out of range), plus a few
    promptless symbols (which conf ignores)."""
    from talosnb.analyses.edit import Assignment
    kconf = editor.config.kconf
    by_kind = {"bool": [], "tristate": [], "other": [], "choice": []}
    for sym in sorted(kconf.unique_defined_syms, key=lambda s: s.name):
        if sym.name.startswith("TALOSNB_") or not any(n.prompt for n in sym.nodes) and rng.random() > 0.02:
            continue
        if sym.choice is not None:
            by_kind["choice"].append(sym)
        elif sym.orig_type is kconfiglib.BOOL:
            by_kind["bool"].append(sym)
        elif sym.orig_type is kconfiglib.TRISTATE:
            by_kind["tristate"].append(sym)
        elif sym.orig_type in (kconfiglib.INT, kconfiglib.HEX, kconfiglib.STRING):
            by_kind["other"].append(sym)
    quota = {"bool": 0.40, "tristate": 0.35, "other": 0.10, "choice": 0.15}
    out = []
    for kind, share in quota.items():
        n = round(count * share)
        for sym in rng.sample(by_kind[kind], min(n, len(by_kind[kind]))):
            value = "y" if kind == "choice" else _pick_value(rng, sym)
            if value is not None:
                out.append(Assignment(sym.name, value))
    return out[:count]
