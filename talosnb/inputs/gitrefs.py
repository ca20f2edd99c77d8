"""Reading a checkout as it was at a git ref, with ``git`` run as a program.

A change report compares the checkouts on disk (the head: a branch, with any
uncommitted edits) against their state at a ref such as ``origin/main`` (the
base). The pkgs and talos checkouts may be separate repositories or folders of
one repository; :class:`GitCheckout` finds the repository that holds a folder
and the folder's path inside it, so ``REF:path`` names the same file the folder
holds now.

Like ``git diff REF...HEAD`` (what a pull request shows), the base of a change
is the merge base of the ref and ``HEAD``: commits that landed on the ref after
the branch was made are not the branch's doing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from talosnb.core import layout
from talosnb.core.arches import ARCHES
from talosnb.core.errors import InputError, opt


def _git_hint() -> str:
    return f"install git (apt-get install git), or give the base as folders ({opt('base_pkgs')}, {opt('base_talos')})"


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    # Plain, stable output whatever the user's settings: no pager, no colour, C messages.
    env.update({"GIT_PAGER": "cat", "PAGER": "cat", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})
    return env


def run_git(args: Sequence[str], cwd: str | os.PathLike, *, what: str = "git",
            stdin: bytes | None = None) -> bytes:
    """`git ARGS` in `cwd`; its stdout, or an InputError quoting git's own message."""
    if shutil.which("git") is None:
        raise InputError("git is not installed", hint=_git_hint())
    try:
        result = subprocess.run(["git", "-c", "core.quotepath=off", *args], cwd=cwd, input=stdin,
                                capture_output=True, env=_git_env(), check=False)
    except OSError as e:
        raise InputError(f"cannot run git: {e.strerror}", where=str(cwd), hint=_git_hint()) from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{what} failed: {message[-1] if message else 'git exited ' + str(result.returncode)}",
                         where=str(cwd))
    return result.stdout


@dataclass(frozen=True)
class GitCheckout:
    """A folder inside a git work tree: the repository's top and the folder's path in it."""

    path: Path       # the folder, as given (resolved)
    root: Path       # the work tree's top folder
    prefix: str      # the folder relative to root, POSIX, "" or ending in "/"

    @classmethod
    def find(cls, path: str | os.PathLike, *, what: str = "checkout", option: str = "",
             hint: str | None = None) -> GitCheckout:
        """The git work tree holding `path`; an InputError when it is not in one."""
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise InputError(f"{what} not found", where=str(folder))
        if shutil.which("git") is None:
            raise InputError("git is not installed", hint=_git_hint())
        result = subprocess.run(["git", "rev-parse", "--show-toplevel", "--show-prefix"], cwd=folder,
                                capture_output=True, env=_git_env(), check=False)
        if result.returncode != 0:
            flag = f" ({option})" if option else ""
            raise InputError(f"the {what}{flag} is not in a git repository, so it has no history or refs",
                             where=str(folder),
                             hint=hint or f"use a git clone of it, or give the base as folders "
                                          f"({opt('base_pkgs')}, {opt('base_talos')})")
        top, prefix = (result.stdout.decode("utf-8", "replace").split("\n") + ["", ""])[:2]
        return cls(folder, Path(top), prefix.strip())

    def git(self, *args: str, what: str = "git") -> bytes:
        return run_git(args, self.root, what=what)

    def commit(self, ref: str) -> str:
        """The full commit id a ref (branch, tag, sha, ``origin/main``, ``HEAD~3``) names."""
        if not ref or ref.startswith("-"):
            raise InputError(f"not a git ref: {ref!r}", hint="give a branch, tag or commit, e.g. origin/main")
        try:
            out = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}",
                           what=f"git rev-parse {ref}")
        except InputError:
            raise InputError(f"{ref!r} is not a commit in this repository", where=str(self.root),
                             hint="check the name (git branch -a lists them); a remote branch may need "
                                  "git fetch first") from None
        return out.decode().strip()

    def head(self) -> str:
        return self.commit("HEAD")

    def merge_base(self, ref: str, other: str = "HEAD") -> str:
        """The commit `ref` and `other` last shared (`ref` itself when they share none)."""
        commit = self.commit(ref)
        result = subprocess.run(["git", "merge-base", commit, self.commit(other)], cwd=self.root,
                                capture_output=True, env=_git_env(), check=False)
        found = result.stdout.decode().strip()
        return found if result.returncode == 0 and found else commit

    def describe(self, commit: str) -> str:
        """The commit's short id and subject, for labels."""
        out = self.git("log", "-1", "--format=%h %s", commit, "--", what="git log").decode("utf-8", "replace")
        return out.strip()

    def repo_path(self, relative: str) -> str:
        """A path inside the folder, as the repository names it."""
        return self.prefix + relative.lstrip("/")

    def read(self, commit: str, relatives: Iterable[str]) -> dict[str, bytes | None]:
        """The bytes of files (relative to the folder) at `commit`, None for those it lacks.

        One ``git cat-file --batch`` reads them all."""
        relatives = list(relatives)
        if not relatives:
            return {}
        request = "".join(f"{commit}:{self.repo_path(r)}\n" for r in relatives).encode("utf-8")
        out = run_git(["cat-file", "--batch"], self.root, what="git cat-file", stdin=request)
        found: dict[str, bytes | None] = {}
        pos = 0
        for relative in relatives:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode("utf-8", "replace").split()
            pos = end + 1
            if len(header) == 2 and header[1] == "missing" or len(header) < 3:
                found[relative] = None
                continue
            kind, size = header[1], int(header[2])
            data = out[pos:pos + size]
            pos += size + 1
            found[relative] = data if kind == "blob" else None
        return found


# What talosnb reads from each checkout (inputs.checkouts): enough to rebuild it at a ref.
PKGS_FILES = (layout.PKGFILE, *(layout.config_file(arch) for arch in ARCHES))
TALOS_FILES = tuple(layout.module_list_file(arch) for arch in ARCHES)


@dataclass(frozen=True)
class CheckoutAtRef:
    """One checkout's files as they were at a commit, written out to a folder."""

    checkout: GitCheckout
    ref: str          # as the user gave it
    commit: str       # the commit the files come from (the merge base with HEAD)
    folder: Path      # where they were written
    ref_commit: str = ""   # the commit the ref names

    @property
    def label(self) -> str:
        if self.ref_commit and self.ref_commit != self.commit:
            return f"{self.ref} (merge base {self.commit[:12]})"
        return self.ref if self.commit.startswith(self.ref) else f"{self.ref} ({self.commit[:12]})"


def checkout_at(path: str | os.PathLike, ref: str, dest: str | os.PathLike, files: Sequence[str], *,
                what: str, option: str, merge_base: bool = True) -> CheckoutAtRef:
    """Write `files` (relative to the checkout folder `path`) as they were at `ref` into `dest`.

    The commit used is the merge base of `ref` and HEAD (`merge_base=False`: `ref` itself).
    A file the commit lacks is left out (the checkout classes then say which is missing).
    """
    checkout = GitCheckout.find(path, what=what, option=option)
    ref_commit = checkout.commit(ref)
    commit = checkout.merge_base(ref) if merge_base else ref_commit
    dest = Path(dest)
    contents = checkout.read(commit, files)
    if all(data is None for data in contents.values()):
        raise InputError(f"the {what} has none of {', '.join(files)} at {ref} ({commit[:12]})",
                         where=str(checkout.path),
                         hint=f"is {option} the right folder, and {ref} a ref of its repository?")
    for relative, data in contents.items():
        if data is None:
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return CheckoutAtRef(checkout, ref, commit, dest, ref_commit)


__all__ = ["PKGS_FILES", "TALOS_FILES", "CheckoutAtRef", "GitCheckout", "checkout_at", "run_git"]
