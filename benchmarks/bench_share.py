"""Benchmark sharing a change: the change report on real data, the history index, history lookups.

    .venv/bin/python benchmarks/bench_share.py [--tree TARBALL_OR_DIR] [--data TALOS_DATA_DIR]
                                               [--commits 500] [--repeat 3] [--only report|history]

- Change report: the Talos data made into a git repository, a commit that sets
  CONFIG_CAN=m on both arches and lists can.ko; `talosnb report --base HEAD~1`'s
  work (open the head, read the base from git, the report, HTML and Markdown),
  warm caches, both arches. Timed against the kernel's own tools doing the part
  they can: `merge_config.sh` + `conf --olddefconfig` for the base and the head
  of each arch (what a reviewer runs to see which lines a change makes).
- History: a synthetic history of --commits commits made from the real configs
  with git fast-import (renames of config-ARCH, kernel bumps, reorders, a few
  line changes per commit; packed as a clone is); the index built cold (no
  cache), loaded warm, and
  lookups; timed against `git log -G` for one symbol (the per-symbol way).

Targets (2 cores): change report <= 3 s; index <= 1 s on 500 commits; lookup <= 10 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from talosnb.core.dotconfig import parse_line, split_lines  # after the sys.path lines: runs from a checkout

SHARED = ROOT.parent / "shared"
TARGETS = {"report": 3.0, "index": 1.0, "lookup": 0.010}
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}


def line(label: str, seconds: float, target: float | None = None, extra: str = "", ms: bool = False) -> None:
    shown = f"{seconds * 1000:8.3f} ms" if ms else f"{seconds:8.3f} s"
    limit = f"{target * 1000:g} ms" if ms and target is not None else f"{target} s"
    verdict = "" if target is None else f"   (target <= {limit}: {'ok' if seconds <= target else 'SLOWER THAN TARGET'})"
    print(f"{label:<58} {shown}{verdict}{extra}")


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, input=stdin, check=True,
                          capture_output=True).stdout.decode()


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# --- the change report -----------------------------------------------------------

def make_change_repo(data: Path, tree: Path, root: Path) -> Path:
    """The Talos data as a git repo: the base commit, then CONFIG_CAN=m on both arches with can.ko listed."""
    from talosnb.analyses.edit import editors_of, set_symbols
    from talosnb.analyses.modules import ModuleList
    from talosnb.app.session import Session

    repo = root / "checkouts"
    shutil.copytree(data, repo)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Talos kernel inputs")
    session = Session.open(repo / "pkgs", repo / "talos", tree)
    set_symbols(editors_of(session.configs), ["CAN=m"])
    for arch, config in session.configs.items():
        config.write(force=True)
        listed = ModuleList.load(repo / "talos/hack" / f"modules-{arch}.txt", arch)
        listed.add(["kernel/net/can/can.ko"])
        listed.save()
    git(repo, "commit", "-qam", "feat: enable CAN as a module")
    return repo


def bench_report(data: Path, tree: Path, scratch: Path, repeat: int) -> None:
    from talosnb.app.change import change_report_for
    from talosnb.app.session import Session
    from talosnb.present.markdown import change_markdown
    from talosnb.present.report import change_report_html

    repo = make_change_repo(data, tree, scratch)

    def one_run():
        t0 = time.perf_counter()
        head = Session.open(repo / "pkgs", repo / "talos", tree)
        t1 = time.perf_counter()
        report = change_report_for(head, base="HEAD~1")
        t2 = time.perf_counter()
        html, md = change_report_html(report), change_markdown(report)
        t3 = time.perf_counter()
        return report, (t1 - t0, t2 - t1, t3 - t2), len(html), len(md)

    one_run()   # warm: parsed trees, Kbuild maps and the history index cached
    runs = []
    for _ in range(repeat):
        gc.collect()      # each run starts as a fresh process would, without the last run's trees
        runs.append(one_run())
    totals = [sum(r[1]) for r in runs]
    report = runs[0][0]
    parts = [statistics.median(r[1][i] for r in runs) for i in range(3)]
    total = statistics.median(totals)
    line("change report, both arches, warm (open + report + render)", total, TARGETS["report"])
    print(f"    open the head {parts[0]:.3f} s, base + report {parts[1]:.3f} s, HTML + Markdown {parts[2]:.3f} s; "
          f"HTML {runs[0][2] // 1024} KB, Markdown {runs[0][3] // 1024} KB")
    for arch, one in report.arches.items():
        print(f"    {arch}: {len(one.by_kind('change'))} lines changed, set by the change {one.requested}, "
              f"{len(one.built)} .ko newly built, list +{len(one.list_added)}")
    command = [sys.executable, "-m", "talosnb", "report", "--pkgs", str(repo / "pkgs"), "--talos",
               str(repo / "talos"), "--kernel-src", str(tree), "--base", "HEAD~1", "-o", str(scratch / "change.html")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process, _ = median_time(lambda: subprocess.run(command, env=env, check=True, capture_output=True), repeat)
    line("the same as a command (talosnb report --base HEAD~1 -o ...)", process, TARGETS["report"])
    try:
        from oracle import KernelConf, missing_tools
    except ImportError:
        return
    if missing_tools():
        print("    (the kernel's conf needs " + ", ".join(missing_tools()) + "; no ratio)")
        return
    from engine_fixtures import host_toolchain

    kconf = KernelConf(tree, scratch / "conf")
    base = {arch: git(repo, "show", f"HEAD~1:pkgs/kernel/build/config-{arch}") for arch in report.arches}

    def by_hand():
        for arch, text in base.items():
            kconf.olddefconfig(text, arch, host_toolchain())
            kconf.merge(text, ["CONFIG_CAN=m\n"], arch, host_toolchain())

    seconds, _ = median_time(by_hand, repeat)
    line("kernel's merge_config.sh + conf, base and head, both arches", seconds,
         extra=f"   (talosnb {seconds / total:.1f}x faster, and says why and which .ko)")


# --- the history index --------------------------------------------------------------

def _config_lines(text: str) -> list[str]:
    return split_lines(text)


def synthetic_history(data: Path, repo: Path, commits: int, seed: int = 20261201) -> None:
    """A pkgs-like history of `commits` commits made with git fast-import from the real configs."""
    rng = random.Random(seed)
    files = {arch: _config_lines((data / "pkgs/kernel/build" / f"config-{arch}").read_text())
             for arch in ("amd64", "arm64")}
    pkgfile = (data / "pkgs/Pkgfile").read_text()
    version = [6, 12, 1]
    folder = "kernel/kernel"
    stream: list[bytes] = []

    def blob(text: str) -> bytes:
        data_bytes = text.encode()
        return b"data %d\n" % len(data_bytes) + data_bytes + b"\n"

    def change_lines(lines: list[str], count: int) -> None:
        for _ in range(count):
            i = rng.randrange(len(lines))
            parsed = parse_line(lines[i])
            if parsed is None or parsed.value not in ("y", "m", "n"):
                continue
            new = rng.choice([v for v in ("y", "m", "n") if v != parsed.value])
            lines[i] = f"# CONFIG_{parsed.symbol} is not set" if new == "n" else f"CONFIG_{parsed.symbol}={new}"

    for n in range(commits):
        mark = n + 1
        changed: dict[str, str] = {}
        message = "feat: update the kernel config"
        ops: list[bytes] = []
        if n == 0:
            message = "kernel: import the configs"
            changed = {f"{folder}/config-{a}": "\n".join(lines) + "\n" for a, lines in files.items()}
            changed["Pkgfile"] = pkgfile
        elif n == commits // 3:
            message = "chore: move the kernel configs to kernel/build"
            for arch in files:
                ops.append(f"R {folder}/config-{arch} kernel/build/config-{arch}\n".encode())
            folder = "kernel/build"
        elif n % 40 == 0:
            version[2] += 1
            message = f"feat: update Linux to {'.'.join(map(str, version))}"
            old = pkgfile
            pkgfile = "\n".join(
                f"  linux_version: {'.'.join(map(str, version))}" if ln.strip().startswith("linux_version:") else ln
                for ln in old.split("\n"))
            changed["Pkgfile"] = pkgfile
            for arch, lines in files.items():
                change_lines(lines, 30)
                changed[f"{folder}/config-{arch}"] = "\n".join(lines) + "\n"
        elif n % 60 == 30:
            message = "chore: reorder"
            arch = rng.choice(list(files))
            lines = files[arch]
            i = rng.randrange(100, len(lines) - 200)
            lines[i:i + 100] = lines[i + 50:i + 100] + lines[i:i + 50]
            changed[f"{folder}/config-{arch}"] = "\n".join(lines) + "\n"
        else:
            for arch in rng.sample(list(files), rng.choice([1, 1, 2])):
                change_lines(files[arch], rng.randint(1, 4))
                changed[f"{folder}/config-{arch}"] = "\n".join(files[arch]) + "\n"
        when = 1_700_000_000 + n * 3600
        head = (f"commit refs/heads/main\nmark :{mark}\ncommitter bench <bench@example.com> {when} +0000\n"
                .encode() + blob(message))
        if n:
            head += f"from :{mark - 1}\n".encode()
        stream.append(head + b"".join(ops))
        for path, text in changed.items():
            stream.append(f"M 100644 inline {path}\n".encode() + blob(text))
        stream.append(b"\n")
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "fast-import", "--quiet", stdin=b"".join(stream))
    # packed as a clone is (fast-import's own pack keeps long delta chains)
    git(repo, "repack", "-adfq")
    git(repo, "checkout", "-q", "main")


def bench_history(data: Path, scratch: Path, commits: int, repeat: int) -> None:
    from talosnb.analyses.history import build_index

    repo = scratch / "history" / "pkgs"
    start = time.perf_counter()
    synthetic_history(data, repo, commits)
    count = int(git(repo, "rev-list", "--count", "HEAD"))
    line(f"make the synthetic history ({count} commits; not timed)", time.perf_counter() - start)

    def raw():
        for arch in ("amd64", "arm64"):
            git(repo, "log", "--follow", "-p", "-U0", "--format=%H", "--", f"kernel/build/config-{arch}")

    seconds_raw, _ = median_time(raw, repeat)
    line("git log --follow -p -U0, both configs one after the other", seconds_raw)
    cold, index = median_time(lambda: build_index(repo, use_cache=False), repeat)
    line(f"history index, cold ({count} commits, both arches)", cold, TARGETS["index"])
    build_index(repo)   # fills the cache
    warm, index = median_time(lambda: build_index(repo), repeat)
    line("history index, warm (cached by HEAD)", warm)
    symbols = [s for s in index.symbols("amd64") if len(index.entries(s, "amd64")) > 1]
    rng = random.Random(1)
    picks = rng.sample(symbols, min(200, len(symbols)))
    times = []
    for name in picks:
        start = time.perf_counter()
        index.records(name)
        times.append(time.perf_counter() - start)
    line(f"lookup, median of {len(picks)} symbols (both arches)", statistics.median(times), TARGETS["lookup"], ms=True)
    line("lookup, slowest", max(times), TARGETS["lookup"], ms=True)
    start = time.perf_counter()
    for name in picks[:3]:
        git(repo, "log", "--follow", f"-GCONFIG_{name}[= ]", "--format=%H", "--", "kernel/build/config-amd64")
    per_symbol = (time.perf_counter() - start) / 3
    line("git log -G per symbol, one arch (the per-symbol way)", per_symbol,
         extra=f"   (one lookup: {per_symbol / statistics.median(times):.0f}x faster; the whole index: "
               f"{per_symbol * 2 * len(symbols) / cold:.0f}x less than asking git per symbol)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=SHARED / "kernel/linux-6.12.117-kbuild.tar.xz",
                        help="kernel tree folder or Kbuild skeleton tarball")
    parser.add_argument("--data", type=Path, default=SHARED / "data/talos-v1.10",
                        help="folder with pkgs/ (Pkgfile, kernel/build/config-ARCH) and talos/ (hack/modules-ARCH.txt)")
    parser.add_argument("--commits", type=int, default=500, help="commits in the synthetic history")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is shown)")
    parser.add_argument("--only", choices=["report", "history"], help="run one of the two parts")
    args = parser.parse_args()
    if not args.tree.exists() or not (args.data / "pkgs").is_dir():
        parser.error("pass --tree and --data (the defaults are in ../shared)")
    if shutil.which("git") is None:
        parser.error("git is needed")
    with tempfile.TemporaryDirectory(prefix="talosnb-bench-share-") as scratch:
        scratch = Path(scratch)
        os.environ["TALOSNB_CACHE_DIR"] = str(scratch / "cache")
        from talosnb.inputs.kernel_tree import open_kernel_tree

        start = time.perf_counter()
        tree = open_kernel_tree(args.tree).path
        line("open the tree (extracted once; not timed)", time.perf_counter() - start)
        if args.only != "history":
            bench_report(args.data, tree, scratch, args.repeat)
        if args.only != "report":
            bench_history(args.data, scratch, args.commits, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
