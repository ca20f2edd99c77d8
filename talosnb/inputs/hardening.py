"""kernel-hardening-checker, as the pkgs build obtains and runs it: the hardening gate's tool.

The pkgs build downloads kernel-hardening-checker at the Pkgfile's ``kspp_ref``
(``kernel/prepare/pkg.yaml``: GitHub's ``archive/{kspp_ref}.tar.gz``, checked
against ``kspp_sha256`` and ``kspp_sha512``, unpacked with
``--strip-components=1``) and, before compiling, runs (``kernel/build/pkg.yaml``)::

    python3 /toolchain/kernel-hardening-checker/bin/kernel-hardening-checker -c .config -m json \\
        | python3 /pkg/scripts/filter-hardened-check.py ${CARCH}

The tool is GPL-3.0 and not on PyPI, so talosnb never imports or ships it: it is
obtained here (a verified download into the cache, or a folder or tarball the
user names) and run as a program, with the step read from the checkout's own
``kernel/build/pkg.yaml`` so that the filter, its arguments and the exit status
are the build's.
"""

from __future__ import annotations

import ast
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from talosnb.core import cacheentry, layout
from talosnb.core.errors import InputError, opt
from talosnb.core.fileio import read_text
from talosnb.core.limits import Budget
from talosnb.core.paths import ENV_CACHE_DIR, ENV_HARDENING_CHECKER, ENV_HARDENING_MIRROR, cache_dir
from talosnb.core.versions import VersionCheck

from .download import file_digest, verified_download
from .pkgfile import ToolPin

DEFAULT_MIRROR = "https://github.com/a13xp0p0v/kernel-hardening-checker/archive"
TOOL = "kernel-hardening-checker"
# The program inside the archive, and where kernel/prepare/pkg.yaml unpacks the archive.
PROGRAM = Path("bin") / TOOL
BUILD_TOOL_DIR = "/toolchain/kernel-hardening-checker/"
# kernel/build/pkg.yaml copies kernel/build/ of the checkout to /pkg/.
BUILD_PKG_DIR = "/pkg/"
# GitHub's archive (and `git archive --prefix`) names its one top folder after the ref.
_TOP = re.compile(rf"^{TOOL}-(?P<ref>[A-Za-z0-9._-]+)$")

def checker_hint() -> str:
    """What to do when the checker can't be had, in the words of the face in use (opt())."""
    return (f"give {opt('hardening_checker')}: a {TOOL} folder or tarball (GitHub's archive of the Pkgfile's "
            f"kspp_ref), or set ${ENV_HARDENING_CHECKER}; or leave the gate out "
            f"({opt('gate')} olddefconfig,modules)")

# Bump when the layout of extracted checkers in the cache changes.
CACHE_FORMAT = 1

# The step of every pkgs release so far, for a checkout without kernel/build/pkg.yaml.
DEFAULT_STEP = (f"python3 {BUILD_TOOL_DIR}bin/{TOOL} -c .config -m json | "
                f"python3 {BUILD_PKG_DIR}scripts/filter-hardened-check.py ${{CARCH}}")


@dataclass(frozen=True)
class HardeningChecker:
    """An unpacked kernel-hardening-checker: the folder holding ``bin/kernel-hardening-checker``.

    ``ref`` is the commit (or tag) the archive's top folder names, None when it
    can't be told; ``origin`` is what it came from (a URL, a tarball, a folder);
    ``sha256`` the tarball's digest (None for a folder).
    """

    path: Path
    ref: str | None
    origin: str
    sha256: str | None = None

    @property
    def program(self) -> Path:
        return self.path / PROGRAM

    def describe(self) -> str:
        ref = self.ref[:12] if self.ref else "an unknown commit"
        return f"{TOOL} {ref} ({self.origin})"


def checker_url(ref: str, base_url: str | None = None) -> str:
    """Where GitHub (or a mirror laid out like it: $TALOSNB_HARDENING_CHECKER_MIRROR) serves the archive."""
    base = (base_url or os.environ.get(ENV_HARDENING_MIRROR) or DEFAULT_MIRROR).rstrip("/")
    return f"{base}/{ref}.tar.gz"


def fetch_checker(pin: ToolPin, *, base_url: str | None = None, progress: bool = False) -> Path:
    """The archive of ``pin.ref`` in the cache, downloaded once and verified against both hashes."""
    return verified_download(
        checker_url(pin.ref, base_url), _download_name(pin.ref), pin.sha256, sha512=pin.sha512, progress=progress,
        mismatch_hint=f"check kspp_sha256/kspp_sha512 in the Pkgfile ({pin.where}) and "
                      f"${ENV_HARDENING_MIRROR}; or " + checker_hint(),
        http_hint=f"check kspp_ref in the Pkgfile ({pin.where}) and ${ENV_HARDENING_MIRROR}; or " + checker_hint(),
        offline_hint=checker_hint())


def _download_name(ref: str) -> str:
    return f"{TOOL}-{re.sub(r'[^A-Za-z0-9._-]', '_', ref)}.tar.gz"


def open_checker(spec: str | os.PathLike) -> HardeningChecker:
    """A kernel-hardening-checker folder, or a tarball of one (unpacked once into the cache)."""
    p = Path(spec).expanduser()
    if p.is_dir():
        if not (p / PROGRAM).is_file():
            inner = [d for d in p.iterdir() if d.is_dir() and (d / PROGRAM).is_file()]
            if len(inner) != 1:
                raise InputError(f"not a {TOOL} folder: no {PROGRAM}", where=str(p), hint=checker_hint())
            p = inner[0]
        p = p.resolve()
        found = _TOP.match(p.name)
        return HardeningChecker(p, found.group("ref") if found else None, str(p))
    if not p.exists():
        raise InputError(f"{TOOL} not found", where=str(p), hint=checker_hint())
    if not p.name.lower().endswith((".tar.gz", ".tgz", ".tar")):
        raise InputError(f"{TOOL} is neither a folder nor a .tar.gz", where=str(p), hint=checker_hint())
    return _unpacked(p.resolve())


def _unpacked(tarball: Path, origin: str | None = None) -> HardeningChecker:
    sha256 = file_digest(tarball, "sha256")
    tools = cache_dir() / "tools" / f"v{CACHE_FORMAT}"
    final = tools / f"{TOOL}-{sha256[:16]}"
    if not (final.is_dir() and _top_folder(final)):
        try:
            # one run unpacks, the others wait and use its folder (cacheentry's rules)
            with cacheentry.building(final, f"unpacking {tarball.name}"):
                if not (final.is_dir() and _top_folder(final)):
                    _unpack_to(tarball, final)
        except OSError as e:
            raise InputError(f"cannot write the cache folder: {e.strerror}", where=str(e.filename or tools),
                             hint=f"set {ENV_CACHE_DIR} to a writable folder") from None
    top = _top_folder(final)
    assert top is not None
    found = _TOP.match(top.name)
    return HardeningChecker(top, found.group("ref") if found else None, origin or str(tarball), sha256)


def _unpack_to(tarball: Path, final: Path) -> None:
    """Unpack into a partial folder, then publish it (in place of a damaged one). Under the lock."""
    tmp = cacheentry.new_partial(final)
    try:
        try:
            with tarfile.open(tarball) as tar:
                budget = Budget(tarball, writes_into=final.parent)
                members = []
                for m in tar:
                    budget.see(m.name, m.size)
                    if m.isfile():
                        budget.take(m.name, m.size)
                    members.append(m)
                # the "data" filter refuses absolute paths, links out of the folder, devices, FIFOs
                tar.extractall(tmp, members=members, filter="data")
        except (tarfile.TarError, EOFError, OSError, ValueError) as e:
            raise InputError(f"cannot unpack the {TOOL} tarball ({type(e).__name__}: {e})", where=str(tarball),
                             hint="download it again; " + checker_hint()) from None
        if _top_folder(tmp) is None:
            raise InputError(f"not a {TOOL} tarball: no top folder holding {PROGRAM}", where=str(tarball),
                             hint=checker_hint())
        os.chmod(tmp, 0o755)   # mkdtemp makes it private; the cache is readable like the others
        if os.path.lexists(final):
            cacheentry.replace(tmp, final)   # an incomplete folder there: damaged from outside
        else:
            cacheentry.publish(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _top_folder(folder: Path) -> Path | None:
    subdirs = [d for d in folder.iterdir() if d.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / PROGRAM).is_file():
        return subdirs[0]
    return None


def cached_checker(pin: ToolPin) -> HardeningChecker | None:
    """The checker of `pin` when an earlier run downloaded it (verified again), else None: no network."""
    path = cache_dir() / "downloads" / _download_name(pin.ref)
    if not path.is_file():
        return None
    if file_digest(path, "sha256") != pin.sha256 or file_digest(path, "sha512") != pin.sha512:
        return None
    return _unpacked(path, checker_url(pin.ref))


def obtain_checker(pin: ToolPin | None, spec: str | os.PathLike | None = None, *,
                   base_url: str | None = None, progress: bool = False) -> HardeningChecker:
    """The checker the hardening gate runs: ``spec`` (else $TALOSNB_HARDENING_CHECKER) when given,
    else the Pkgfile's pin, downloaded and verified."""
    spec = spec or os.environ.get(ENV_HARDENING_CHECKER) or None
    if spec is not None:
        return open_checker(spec)
    if pin is None:
        raise InputError(f"the Pkgfile pins no {TOOL} (no kspp_ref) and none was given", hint=checker_hint())
    return _unpacked(fetch_checker(pin, base_url=base_url, progress=progress), checker_url(pin.ref, base_url))


def checker_for(checkers: dict[tuple, HardeningChecker], pin: ToolPin | None,
                spec: str | os.PathLike | None = None, *, progress: bool = False) -> HardeningChecker:
    """:func:`obtain_checker` once per (spec, pin): kept in ``checkers`` (a workspace's), so the
    gates and the set/merge guard share the one they obtained."""
    key = (spec, pin)
    if key not in checkers:
        checkers[key] = obtain_checker(pin, spec, progress=progress)
    return checkers[key]


def same_ref(a: str, b: str) -> bool:
    """Whether two git refs name the same commit as far as their text tells (a short hash matches
    the full one)."""
    a, b = a.lower(), b.lower()
    if a == b:
        return True
    hexa = re.fullmatch(r"[0-9a-f]{7,40}", a) and re.fullmatch(r"[0-9a-f]{7,40}", b)
    return bool(hexa) and (a.startswith(b) or b.startswith(a))


def pin_check(checker: HardeningChecker, pin: ToolPin | None) -> VersionCheck | None:
    """A "mismatch" when the checker is not at the Pkgfile's kspp_ref (its verdict may then differ
    from the build's); a "note" when its commit can't be told or the bytes are not the pinned ones."""
    if pin is None:
        return None
    what = f"the Pkgfile's kspp_ref ({pin.where})"
    if checker.ref is None:
        return VersionCheck("note", "info", "unknown", pin.ref, what,
                            f"cannot tell which commit {checker.origin} is (its folder is not named "
                            f"{TOOL}-<commit> as GitHub's archive names it); {what} is {pin.ref}")
    if not same_ref(checker.ref, pin.ref):
        return VersionCheck("mismatch", "warning", checker.ref, pin.ref, what,
                            f"version mismatch: {TOOL} {checker.ref} ({checker.origin}) is not {what} "
                            f"{pin.ref}: its verdict may differ from the build's; use {TOOL} at {pin.ref}")
    if checker.sha256 is not None and checker.sha256 != pin.sha256:
        return VersionCheck("note", "info", checker.ref, pin.ref, what,
                            f"{checker.origin} is {TOOL} at {what} {pin.ref[:12]}, but not the archive the "
                            f"Pkgfile's kspp_sha256 names (another packing of the same commit)")
    return None


# --------------------------------------------------------------------------- the build step

@dataclass(frozen=True)
class Stage:
    """One command of the step's pipeline: a Python program and its arguments, as pkg.yaml writes them."""

    program: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class HardeningStep:
    """The hardening step of kernel/build/pkg.yaml: a pipeline of Python programs run in the tree
    (where ``.config`` is), whose exit status is the last program's, as in bash."""

    stages: tuple[Stage, ...]
    where: str        # pkg.yaml:line, or a note that the default step is assumed
    pkg_dir: Path     # the checkout's kernel/build, the build's /pkg

    @property
    def filter_script(self) -> Path | None:
        """The checkout's filter (the first program under /pkg/)."""
        for stage in self.stages:
            if stage.program.startswith(BUILD_PKG_DIR):
                return self.pkg_dir / stage.program[len(BUILD_PKG_DIR):]
        return None

    def command(self, checker: HardeningChecker, arch: str) -> list[list[str]]:
        """Each stage as an argv for this machine: the checker and /pkg/ paths mapped, ${CARCH} set.

        Programs run with this Python in isolated mode (-I), so talosnb's own
        environment (PYTHONPATH, user site) can't change what they import.
        """
        out = []
        for stage in self.stages:
            argv = [sys.executable, "-I", self._path(stage.program, checker)]
            argv += [self._path(a, checker).replace("${CARCH}", arch).replace("$CARCH", arch) for a in stage.args]
            out.append(argv)
        return out

    def _path(self, word: str, checker: HardeningChecker) -> str:
        if word.startswith(BUILD_TOOL_DIR):
            return str(checker.path / word[len(BUILD_TOOL_DIR):])
        if word.startswith(BUILD_PKG_DIR):
            return str(self.pkg_dir / word[len(BUILD_PKG_DIR):])
        return word


def read_step(pkg_dir: Path) -> HardeningStep | None:
    """The hardening step of ``pkg_dir/pkg.yaml`` (the checkout's kernel/build); None when the build
    runs no kernel-hardening-checker. Without a pkg.yaml, the step every pkgs release has run
    when the filter script is there (None when it isn't either)."""
    pkg_yaml = pkg_dir / layout.STEP_FILE
    if not pkg_yaml.is_file():
        if not (pkg_dir / layout.SCRIPTS / "filter-hardened-check.py").is_file():
            return None       # neither the build's steps nor its filter: nothing to run
        return _parse_step(DEFAULT_STEP, f"{pkg_yaml} not found: the step of pkgs releases assumed", pkg_dir)
    text, _ = read_text(pkg_yaml, what=layout.BUILD_PKG_YAML)
    for number, line in enumerate(text.splitlines(), 1):
        if f"bin/{TOOL}" in line and not line.lstrip().startswith("#"):
            return _parse_step(line.strip().lstrip("- ").strip(), f"{pkg_yaml}:{number}", pkg_dir)
    return None


def _parse_step(line: str, where: str, pkg_dir: Path) -> HardeningStep:
    hint = (f"talosnb runs `{DEFAULT_STEP}`-shaped steps: Python programs from {BUILD_TOOL_DIR} "
            f"and {BUILD_PKG_DIR}, joined by |")
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise InputError(f"cannot read the hardening step: {e}", where=where, hint=hint) from None
    stages: list[Stage] = []
    current: list[str] = []
    for word in [*words, "|"]:
        if word != "|":
            current.append(word)
            continue
        if len(current) < 2 or not re.fullmatch(r"python3?(\.\d+)?", Path(current[0]).name):
            raise InputError(f"cannot reproduce the hardening step {line!r}: {' '.join(current) or 'an empty command'} "
                             "is not a Python program", where=where, hint=hint)
        program, args = current[1], tuple(current[2:])
        for word_ in (program, *args):
            if word_.startswith("/") and not word_.startswith((BUILD_TOOL_DIR, BUILD_PKG_DIR)):
                raise InputError(f"cannot reproduce the hardening step: it reads {word_}, outside the checkout "
                                 f"and {TOOL}", where=where, hint=hint)
        stages.append(Stage(program, args))
        current = []
    if not stages[0].program.startswith(BUILD_TOOL_DIR):
        raise InputError(f"cannot reproduce the hardening step: it does not start with {TOOL}", where=where,
                         hint=hint)
    step = HardeningStep(tuple(stages), where, pkg_dir)
    script = step.filter_script
    if script is not None and not script.is_file():
        raise InputError(f"the hardening step runs {script.relative_to(pkg_dir.parent.parent)}, which is missing",
                         where=str(script), hint="check the pkgs checkout (git status)")
    return step


@dataclass
class StageRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class StepRun:
    """One run of the step on one config: what each program printed, and the step's exit status."""

    arch: str
    stages: list[StageRun] = field(default_factory=list)

    @property
    def status(self) -> int:
        """The exit status of the pipeline: its last program's (bash without pipefail)."""
        return self.stages[-1].returncode

    @property
    def checker_output(self) -> str:
        return self.stages[0].stdout

    @property
    def printed(self) -> str:
        """What the build log shows: the last program's output."""
        return self.stages[-1].stdout


def run_step(step: HardeningStep, checker: HardeningChecker, config_text: str, arch: str, *,
             timeout: float = 120) -> StepRun:
    """Run the step on `config_text` as ``.config`` in a scratch folder (the build's /src)."""
    if not checker.program.is_file():
        raise InputError(f"{checker.program} is missing", where=str(checker.path), hint=checker_hint())
    run = StepRun(arch)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory(prefix="talosnb-hardening-") as work:
        Path(work, ".config").write_text(config_text, encoding="utf-8")
        feed = ""
        for argv in step.command(checker, arch):
            # each program reads all of its input before it prints: one after the other is a pipe
            try:
                done = subprocess.run(argv, input=feed, capture_output=True, text=True, cwd=work, env=env,
                                      timeout=timeout, check=False)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise InputError(f"cannot run {Path(argv[2]).name}: {e}", where=step.where,
                                 hint=checker_hint()) from None
            run.stages.append(StageRun(argv, done.returncode, done.stdout, done.stderr))
            feed = done.stdout
    return run


# --------------------------------------------------------------------------- the filter's rules

@dataclass(frozen=True)
class FilterRules:
    """What the checkout's filter script says it keeps and drops, read from its text (never run
    or imported for this): its groups and its ignore lists, each entry with its line and comment.

    Only for explaining the table (why a FAIL row doesn't fail the gate); the gate's
    verdict always comes from running the filter.
    """

    script: Path
    groups: frozenset[str]
    ignored: dict[str, tuple[int, str]]                     # option -> (line, comment)
    ignored_by_arch: dict[str, dict[str, tuple[int, str]]]  # arch -> option -> (line, comment)

    def ignore_entry(self, option: str, arch: str) -> tuple[int, str] | None:
        return self.ignored_by_arch.get(arch, {}).get(option) or self.ignored.get(option)


def read_filter_rules(script: Path) -> FilterRules | None:
    """The groups and ignore lists of filter-hardened-check.py as literal sets at its top level
    (GROUPS, IGNORE_VIOLATIONS, IGNORE_VIOLATIONS_BY_ARCH); None when it isn't written that way."""
    try:
        text = script.read_text(encoding="utf-8")
        tree = ast.parse(text, str(script))
        comments = {tok.start[0]: tok.string.lstrip("#").strip()
                    for tok in tokenize.generate_tokens(io.StringIO(text).readline) if tok.type == tokenize.COMMENT}
    except (OSError, SyntaxError, ValueError, tokenize.TokenError):
        return None
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value

    def entries(node: ast.expr | None) -> dict[str, tuple[int, str]] | None:
        if isinstance(node, ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict) and not node.keys:
            items = []                                   # `{}`: an empty set written as a dict
        else:
            return None
        out = {}
        for item in items:
            if not (isinstance(item, ast.Constant) and isinstance(item.value, str)):
                return None
            out[item.value] = (item.lineno, comments.get(item.lineno, ""))
        return out

    groups = entries(values.get("GROUPS"))
    ignored = entries(values.get("IGNORE_VIOLATIONS"))
    by_arch_node = values.get("IGNORE_VIOLATIONS_BY_ARCH")
    if groups is None or ignored is None or not isinstance(by_arch_node, ast.Dict):
        return None
    by_arch = {}
    for key, value in zip(by_arch_node.keys, by_arch_node.values, strict=True):
        one = entries(value)
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)) or one is None:
            return None
        by_arch[key.value] = one
    return FilterRules(script, frozenset(groups), ignored, by_arch)
