"""Obtaining kernel-hardening-checker at the Pkgfile's kspp_ref: the verified download (from a
GitHub-shaped HTTP server on 127.0.0.1 serving the real archives of ../shared/tools, with a
Pkgfile copy carrying their hashes), the cache, a given folder or tarball, and the refusals.

Every test has its own cache (TALOSNB_CACHE_DIR in tmp) and no TALOSNB_* inputs.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from talosnb.core.errors import InputError
from talosnb.inputs import hardening
from talosnb.inputs.pkgfile import ToolPin, parse_pkgfile, parse_pkgfile_text

ROOT = Path(__file__).resolve().parents[2]
SHARED = (ROOT.parent / "shared").resolve()   # a symlinked ../shared compares as the files it names
V110 = SHARED / "data" / "talos-v1.10"
MAIN = SHARED / "data" / "talos-main"
REF_V110 = "aa94036c6a86f1d0f76624cf6047264af5b2f525"
REF_V112 = "e354f6ab5279f9cfa8bfdd7e13e454ccf69209f9"
TARBALL = SHARED / "tools" / f"kernel-hardening-checker-{REF_V110}.tar.gz"
OTHER = SHARED / "tools" / f"kernel-hardening-checker-{REF_V112}.tar.gz"

needs_shared = pytest.mark.skipif(not TARBALL.is_file(), reason="../shared/tools is not present")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(cache))
    for var in [v for v in os.environ if v.startswith("TALOSNB_") and v not in ("TALOSNB_CACHE_DIR", "TALOSNB_CONFIG_DIR")]:
        monkeypatch.delenv(var)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return cache


class GitHubArchive:
    """https://github.com/OWNER/REPO/archive/{ref}.tar.gz, served on 127.0.0.1; counts requests."""

    def __init__(self, archives: dict[str, Path]):
        self.requests: list[str] = []
        self.root = Path(os.environ["TALOSNB_CACHE_DIR"]).parent / "served"
        (self.root / "archive").mkdir(parents=True)
        for ref, path in archives.items():
            shutil.copyfile(path, self.root / "archive" / f"{ref}.tar.gz")
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(Handler, directory=str(self.root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/archive"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def github():
    server = GitHubArchive({REF_V110: TARBALL})
    yield server
    server.close()


def _digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def _pin(ref: str = REF_V110, tarball: Path = TARBALL) -> ToolPin:
    return ToolPin(ref, _digest(tarball, "sha256"), _digest(tarball, "sha512"), "Pkgfile:83")


def _pkgs_with_hashes(root: Path, sha256: str, sha512: str) -> Path:
    """A copy of the v1.10 pkgs checkout whose Pkgfile pins the served archive's bytes."""
    pkgs = root / "pkgs"
    shutil.copytree(V110 / "pkgs", pkgs)
    for path in pkgs.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    text = (pkgs / "Pkgfile").read_text()
    info = parse_pkgfile(V110 / "pkgs" / "Pkgfile")
    text = text.replace(info.kspp_sha256, sha256).replace(info.kspp_sha512, sha512)
    (pkgs / "Pkgfile").write_text(text)
    return pkgs


# --------------------------------------------------------------------------- the Pkgfile


@needs_shared
def test_the_real_pkgfiles_pin_the_checker():
    pin = parse_pkgfile(V110 / "pkgs" / "Pkgfile").kspp()
    assert pin.ref == REF_V110 and len(pin.sha256) == 64 and len(pin.sha512) == 128
    assert pin.where.endswith("Pkgfile:83")
    assert parse_pkgfile(MAIN / "pkgs" / "Pkgfile").kspp().ref == "1315e5b97c07fed42ea00f6f9602553c0609a615"


def test_kspp_keys_are_optional_but_checked():
    base = "vars:\n  linux_version: 6.12.0\n  linux_sha256: " + "a" * 64 + "\n  linux_sha512: " + "b" * 128 + "\n"
    assert parse_pkgfile_text(base).kspp() is None
    with pytest.raises(InputError) as e:
        parse_pkgfile_text(base + "  kspp_ref: abc123\n  kspp_sha256: " + "c" * 64 + "\n").kspp()
    assert "kspp_sha512" in e.value.message and e.value.where == "Pkgfile:5"
    with pytest.raises(InputError) as e:
        parse_pkgfile_text(base + "  kspp_sha256: xyz\n")
    assert "malformed kspp_sha256" in e.value.message and e.value.where == "Pkgfile:5"
    with pytest.raises(InputError):
        parse_pkgfile_text(base + "  kspp_ref: ../../etc\n")


# --------------------------------------------------------------------------- the download


@needs_shared
def test_download_is_verified_unpacked_and_cached(github, isolated):
    checker = hardening.obtain_checker(_pin(), base_url=github.url)
    assert github.requests == [f"/archive/{REF_V110}.tar.gz"]
    assert checker.ref == REF_V110 and checker.path.is_relative_to(isolated)
    assert checker.program.is_file() and checker.sha256 == _digest(TARBALL, "sha256")
    assert checker.origin == f"{github.url}/{REF_V110}.tar.gz"
    assert hardening.pin_check(checker, _pin()) is None        # the pinned commit, the pinned bytes
    again = hardening.obtain_checker(_pin(), base_url=github.url)
    assert again == checker and len(github.requests) == 1     # from the cache, no second request


@needs_shared
@pytest.mark.parametrize("which", ["sha256", "sha512"])
def test_download_with_a_bad_hash_is_refused_and_removed(github, isolated, which):
    pin = _pin()
    bad = ToolPin(pin.ref, "ab" * 32 if which == "sha256" else pin.sha256,
                  "cd" * 64 if which == "sha512" else pin.sha512, pin.where)
    with pytest.raises(InputError) as e:
        hardening.obtain_checker(bad, base_url=github.url)
    assert f"does not match the expected {which}" in e.value.message and "removed" in e.value.message
    assert e.value.where == f"{github.url}/{REF_V110}.tar.gz"
    assert "kspp_sha256/kspp_sha512" in e.value.hint and "Pkgfile:83" in e.value.hint
    downloads = isolated / "downloads"
    assert not downloads.exists() or all(p.name.endswith(".lock") for p in downloads.iterdir())
    assert not (isolated / "tools").exists()                  # nothing unpacked


@needs_shared
def test_a_ref_the_server_does_not_have(github):
    with pytest.raises(InputError) as e:
        hardening.obtain_checker(ToolPin("1315e5b97c07fed42ea00f6f9602553c0609a615", "ab" * 32, "cd" * 64,
                                         "Pkgfile:102"), base_url=github.url)
    assert "HTTP 404" in e.value.message and "kspp_ref" in e.value.hint


def test_offline_the_error_says_how_to_go_on():
    with pytest.raises(InputError) as e:
        hardening.obtain_checker(ToolPin(REF_V110, "ab" * 32, "cd" * 64, "Pkgfile:83"),
                                 base_url="http://127.0.0.1:1/archive")
    assert "offline" in e.value.message
    # in Python's words here (the command line says --hardening-checker, --gate)
    assert "give hardening_checker:" in e.value.hint and "(gate olddefconfig,modules)" in e.value.hint


def test_the_default_is_githubs_archive(monkeypatch):
    assert hardening.checker_url(REF_V110) == \
        f"https://github.com/a13xp0p0v/kernel-hardening-checker/archive/{REF_V110}.tar.gz"
    monkeypatch.setenv("TALOSNB_HARDENING_CHECKER_MIRROR", "http://mirror.example/khc/")
    assert hardening.checker_url("abc") == "http://mirror.example/khc/abc.tar.gz"


@needs_shared
def test_check_command_downloads_from_the_mirror_and_runs_the_gate(github, isolated, tmp_path):
    pkgs = _pkgs_with_hashes(tmp_path, _digest(TARBALL, "sha256"), _digest(TARBALL, "sha512"))
    tree = tmp_path / "linux"
    with tarfile.open(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz") as tar:
        tar.extractall(tree, filter="data")
    env = {**os.environ, "TALOSNB_HARDENING_CHECKER_MIRROR": github.url, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "talosnb", "check", "--gate", "hardening", "--format", "json",
                             "--pkgs", str(pkgs), "--kernel-src", str(tree / "linux-source-6.12")],
                            capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["gates"] == {"hardening": {"amd64": "pass", "arm64": "pass"}}
    assert report["hardening_checker"]["ref"] == REF_V110
    assert github.requests == [f"/archive/{REF_V110}.tar.gz"]
    # a Pkgfile with GitHub's own hashes (not these bytes): refused, exit 2, nothing kept
    real = tmp_path / "real"
    real.mkdir()
    info = parse_pkgfile(V110 / "pkgs" / "Pkgfile")
    pkgs = _pkgs_with_hashes(real, info.kspp_sha256, info.kspp_sha512)
    result = subprocess.run([sys.executable, "-m", "talosnb", "check", "--gate", "hardening",
                             "--pkgs", str(pkgs), "--kernel-src", str(tree / "linux-source-6.12")],
                            capture_output=True, text=True, env={**env, "TALOSNB_CACHE_DIR": str(real / "cache")},
                            cwd=ROOT, check=False)
    assert result.returncode == 2 and "does not match the expected sha256" in result.stderr, result.stderr


# --------------------------------------------------------------------------- given copies


@needs_shared
def test_a_given_tarball_or_folder_is_used_and_its_commit_told(tmp_path):
    from_tarball = hardening.open_checker(TARBALL)
    assert from_tarball.ref == REF_V110 and from_tarball.origin == str(TARBALL)
    # another packing of the pinned commit (`git archive`, not GitHub's bytes): a note, not a mismatch
    note = hardening.pin_check(from_tarball, parse_pkgfile(V110 / "pkgs" / "Pkgfile").kspp())
    assert note.kind == "note" and "another packing of the same commit" in note.message
    folder = from_tarball.path
    assert hardening.open_checker(folder).ref == REF_V110
    assert hardening.open_checker(folder.parent).path == folder       # the folder holding it, too
    other = hardening.open_checker(OTHER)
    check = hardening.pin_check(other, parse_pkgfile(V110 / "pkgs" / "Pkgfile").kspp())
    assert check.kind == "mismatch" and check.message.startswith("version mismatch:")
    assert REF_V112 in check.message and REF_V110 in check.message
    renamed = tmp_path / "my-checker"
    shutil.copytree(folder, renamed)
    unknown = hardening.pin_check(hardening.open_checker(renamed), _pin())
    assert unknown.kind == "note" and "cannot tell which commit" in unknown.message


def _tarball(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def test_unsafe_or_wrong_tarballs_are_refused(tmp_path, isolated):
    program = b"#!/usr/bin/env python3\n"
    escaping = _tarball(tmp_path / "escape.tar.gz", {"../outside/bin/kernel-hardening-checker": program})
    with pytest.raises(InputError) as e:
        hardening.open_checker(escaping)
    assert "cannot unpack" in e.value.message and e.value.where == str(escaping)
    assert not (tmp_path / "outside").exists()
    linked = _tarball(tmp_path / "link.tar.gz", {"kernel-hardening-checker-abc/bin/kernel-hardening-checker": program},
                      links={"kernel-hardening-checker-abc/etc": "/etc"})
    with pytest.raises(InputError):
        hardening.open_checker(linked)
    other = _tarball(tmp_path / "other.tar.gz", {"something/README": b"hello"})
    with pytest.raises(InputError) as e:
        hardening.open_checker(other)
    assert "not a kernel-hardening-checker tarball" in e.value.message
    with pytest.raises(InputError) as e:
        hardening.open_checker(tmp_path / "missing.tar.gz")
    assert "not found" in e.value.message and "hardening_checker" in e.value.hint
    tools = isolated / "tools" / "v1"
    assert not tools.exists() or not [p for p in tools.iterdir() if p.name.startswith(".partial")]
