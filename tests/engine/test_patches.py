"""The pkgs kernel patches, applied before parsing as the Talos build applies them.

On the real 6.12.117 and 7.2.12 skeletons: patches written here (one adds a
`select`, one a new symbol with its `obj-$(CONFIG_...)` line, one does not
apply) and the real Talos ones (0014 is already in 7.2.12). The oracle is the
build's own procedure: the same patches applied with GNU patch (`patch -p1`, in
`sort` order) to a copy of the tree, then the kernel's conf run on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sample_patches
from engine_fixtures import DATA, host_toolchain, real_config
from oracle import KernelConf
from sample_patches import (
    NEW_MODULE,
    NEW_SYMBOL,
    broken_patch,
    file_diff,
    mail,
    new_symbol_patch,
    select_patch,
)

from talosnb.analyses.edit import Assignment, Editor
from talosnb.core.errors import InputError
from talosnb.inputs import patches as patches_mod
from talosnb.inputs.kernel_tree import KernelTree
from talosnb.inputs.patches import find_patches, patch_kernel_tree, split_patch
from talosnb.inputs.resolve import resolve_inputs, scratch_copy
from talosnb.kbuild import load_kbuild_map
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff
from talosnb.kconfig.tree import KconfigTree
from talosnb.present.workspace import workspace_text

ROOT = Path(__file__).resolve().parents[2]
RELEASE = {"6.12": "v1.10", "7.2": "main"}
MAIN_PATCHES = DATA["main"] / "pkgs" / "kernel" / "build" / "patches"
V110_PATCHES = DATA["v1.10"] / "pkgs" / "kernel" / "build" / "patches"
KRB5 = "0014-libceph-add-support-for-CEPH_CRYPTO_AES256KRB5.patch"

needs_patch = pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch (Debian: patch) is not installed")
pytestmark = needs_patch


def write_pkgs(root: Path, series: str, patches: dict[str, str]) -> Path:
    """A pkgs checkout: the real Pkgfile and configs of the series' Talos release, and `patches`."""
    return sample_patches.write_pkgs(root, DATA[RELEASE[series]] / "pkgs", patches)


def build_style_patch(tree: Path, patches_dir: Path) -> None:
    """What pkgs' kernel/build/pkg.yaml does: every *.patch, sorted, `patch -p1 < $patch`."""
    for patch in sorted(str(p) for p in patches_dir.rglob("*.patch")):
        with open(patch, "rb") as stdin:
            subprocess.run(["patch", "-p1"], cwd=tree, stdin=stdin, check=True, capture_output=True)


def digests(tree: Path, rels) -> dict[str, str]:
    return {rel: hashlib.sha256((tree / rel).read_bytes()).hexdigest() for rel in rels}


TOUCHED = ("net/ceph/Kconfig", "drivers/net/Kconfig", "drivers/net/Makefile")


class Patched:
    """One series: a pkgs checkout with the select and new-symbol patches, talosnb's patched
    tree, and the kernel's conf on a copy of the tree patched the build's way."""

    def __init__(self, series: str, tree: Path, conf: KernelConf, root: Path, cache: Path):
        self.series, self.tree = series, tree
        self.pkgs = write_pkgs(root, series, {"0001-libceph-select-whirlpool.patch": select_patch(tree),
                                              "0002-net-add-a-demo-nic.patch": new_symbol_patch(tree)})
        self.before = digests(tree, TOUCHED)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("TALOSNB_CACHE_DIR", str(cache))
            self.kernel, self.report = patch_kernel_tree(KernelTree.open(tree),
                                                         self.pkgs / "kernel" / "build" / "patches")
        oracle_tree = root / "oracle" / tree.name
        shutil.copytree(tree, oracle_tree, symlinks=True)
        build_style_patch(oracle_tree, self.pkgs / "kernel" / "build" / "patches")
        # conf is built from scripts/kconfig, which no patch here touches: reuse the build.
        self.conf = KernelConf(oracle_tree, conf.build_dir)
        self._olddefconfig: dict[str, str] = {}

    def olddefconfig(self, base: str, arch: str) -> str:
        """conf --olddefconfig of base on the tree patched the build's way (once per arch)."""
        if arch not in self._olddefconfig:
            self._olddefconfig[arch] = self.conf.olddefconfig(base, arch, host_toolchain())
        return self._olddefconfig[arch]


_PATCHED: dict[str, Patched] = {}


@pytest.fixture
def patched(request, trees, kernel_conf, engine_cache, tmp_path_factory):
    series = request.param
    if series not in _PATCHED:
        _PATCHED[series] = Patched(series, trees[series], kernel_conf[series],
                                   tmp_path_factory.mktemp(f"patched-{series}"), engine_cache)
    return _PATCHED[series]


_BASE: dict[tuple[str, str], str] = {}


def base_config(series: str, arch: str, conf_v110, kernel_conf) -> str:
    """N: what the kernel's conf writes (unpatched tree, host compiler) from the Talos config."""
    if series == "6.12":
        return conf_v110[arch]
    if (series, arch) not in _BASE:
        _BASE[series, arch] = kernel_conf[series].olddefconfig(real_config(RELEASE[series], arch), arch,
                                                               host_toolchain())
    return _BASE[series, arch]


CASES = [pytest.param("6.12", "amd64", id="6.12-amd64"), pytest.param("6.12", "arm64", id="6.12-arm64"),
         pytest.param("7.2", "amd64", id="7.2-amd64")]


# --------------------------------------------------------------------------- results equal conf's

def fixed_point(series: str, tree: Path, arch: str, text: str) -> bool:
    """Whether talosnb, unpatched, keeps conf's output as it is. It does on 6.12; on 7.2 a
    Talos main config still differs in a few int symbols (7.x's value of an int without
    one), a gap of the engine, not of the patches: there the patches' effect is compared."""
    same = Config.from_text(KconfigTree.load(tree, arch), text).text() == text
    if series == "6.12":
        assert same
    return same


@pytest.mark.parametrize("patched,arch", CASES, indirect=["patched"])
def test_normalize_on_the_patched_tree_equals_conf(patched, arch, conf_v110, kernel_conf):
    base = base_config(patched.series, arch, conf_v110, kernel_conf)
    expected = patched.olddefconfig(base, arch)
    assert "CONFIG_CRYPTO_WP512=y\n" in expected and "CONFIG_CRYPTO_WP512=y\n" not in base  # the select took
    ours = Config.from_text(KconfigTree.load(patched.kernel.path, arch), base).text()
    unpatched = Config.from_text(KconfigTree.load(patched.tree, arch), base).text()
    assert config_diff(unpatched, ours) == config_diff(base, expected) != []
    if fixed_point(patched.series, patched.tree, arch, base):
        assert ours == expected


@pytest.mark.parametrize("patched,arch", CASES, indirect=["patched"])
def test_set_of_the_new_symbol_equals_conf(patched, arch, conf_v110, kernel_conf):
    base = base_config(patched.series, arch, conf_v110, kernel_conf)
    start = patched.olddefconfig(base, arch)
    expected = patched.conf.merge(start, [f"CONFIG_{NEW_SYMBOL}=m\n"], arch, host_toolchain())
    assert f"CONFIG_{NEW_SYMBOL}=m\n" in expected
    editor = Editor(Config.from_text(KconfigTree.load(patched.kernel.path, arch), start, source=f"config-{arch}"))
    before = editor.config.text()
    result = editor.set([Assignment(NEW_SYMBOL, "m")], mode="set", fix=False)
    assert not result.refusals
    assert config_diff(before, editor.config.text()) == config_diff(start, expected) != []
    if fixed_point(patched.series, patched.tree, arch, base):
        assert editor.config.text() == expected
    assert not KconfigTree.load(patched.tree, arch).kconf.syms.get(NEW_SYMBOL)


@pytest.mark.parametrize("patched,srcarch", [("6.12", "x86"), ("6.12", "arm64"), ("7.2", "x86")],
                         indirect=["patched"])
def test_the_new_module_shows_in_the_kbuild_map(patched, srcarch, engine_cache):
    kmap = load_kbuild_map(patched.kernel.path, srcarch, cache_dir=engine_cache)
    assert kmap.symbol_modules(NEW_SYMBOL) == [NEW_MODULE]
    assert kmap.rule(NEW_MODULE).own_symbols == (NEW_SYMBOL,)
    assert NEW_SYMBOL in kmap.evaluate(NEW_MODULE, {NEW_SYMBOL: "n"}).symbols
    assert kmap.rule("kernel/drivers/net/dummy.ko") is not None   # the rest of the tree is read through
    assert "pkgs-demo-nic" not in (patched.tree / "drivers/net/Makefile").read_text()


# --------------------------------------------------------------------------- the report and the cache

@pytest.mark.parametrize("patched", ["6.12", "7.2"], indirect=True)
def test_report_names_what_was_applied_and_skipped(patched):
    report = patched.report
    assert [(p.name, p.status) for p in report.patches] == [
        ("0001-libceph-select-whirlpool.patch", "applied"), ("0002-net-add-a-demo-nic.patch", "applied")]
    demo = report.patches[1]
    assert demo.applied == ("drivers/net/Kconfig", "drivers/net/Makefile")
    assert demo.skipped_files == ("drivers/net/pkgs-demo-nic.c",) and demo.skipped_hunks == 1
    assert report.summary() == "2 applied, 0 already upstream"
    assert report.tree == patched.kernel.path != patched.tree and report.source == patched.tree
    assert patched.kernel.version == KernelTree.open(patched.tree).version
    sha = hashlib.sha256((patched.pkgs / "kernel/build/patches/0001-libceph-select-whirlpool.patch").read_bytes())
    assert report.patches[0].sha256 == sha.hexdigest()
    # The user's tree is never written; the patched copy is a separate folder.
    assert digests(patched.tree, TOUCHED) == patched.before
    assert digests(patched.kernel.path, TOUCHED) != patched.before
    assert not (patched.tree / "drivers/net/pkgs-demo-nic.c").exists()
    assert not (patched.kernel.path / "drivers/net/Kconfig").is_symlink()
    assert (patched.kernel.path / "drivers/net/dummy.c").is_symlink() or \
        not (patched.tree / "drivers/net/dummy.c").exists()


@pytest.mark.parametrize("patched", ["7.2"], indirect=True)
def test_a_warm_load_comes_from_the_cache(patched, engine_cache):
    kernel, report = patch_kernel_tree(KernelTree.open(patched.tree), patched.pkgs / "kernel/build/patches")
    assert report.from_cache and kernel.path == patched.kernel.path
    assert report.patches == patched.report.patches and report.patches_dir == patched.report.patches_dir
    # Another patch set is another tree.
    other = write_pkgs(engine_cache.parent / "other-72", "7.2",
                       {"0001-libceph-select-whirlpool.patch": select_patch(patched.tree)})
    kernel2, report2 = patch_kernel_tree(KernelTree.open(patched.tree), other / "kernel/build/patches")
    assert not report2.from_cache and kernel2.path != kernel.path
    assert KconfigTree.load(kernel2.path, "amd64").kconf.syms.get(NEW_SYMBOL) is None


def test_a_change_to_the_original_rebuilds_the_patched_tree(trees, tmp_path):
    tree = tmp_path / "linux"
    shutil.copytree(trees["6.12"] / "net", tree / "net", symlinks=True)
    for name in ("Makefile", "Kconfig"):
        shutil.copy2(trees["6.12"] / name, tree / name)
    pkgs = write_pkgs(tmp_path, "6.12", {"0001-libceph-select-whirlpool.patch": select_patch(tree)})
    kernel, report = patch_kernel_tree(KernelTree.open(tree), pkgs / "kernel/build/patches")
    assert not report.from_cache and report.summary() == "1 applied, 0 already upstream"
    assert patch_kernel_tree(KernelTree.open(tree), pkgs / "kernel/build/patches")[1].from_cache
    # The user edits the patched file in their tree: the copy is made again from it.
    kconfig = tree / "net/ceph/Kconfig"
    kconfig.write_text(kconfig.read_text() + "\n# edited by the user\n")
    kernel, report = patch_kernel_tree(KernelTree.open(tree), pkgs / "kernel/build/patches")
    assert not report.from_cache
    text = (kernel.path / "net/ceph/Kconfig").read_text()
    assert text.endswith("# edited by the user\n") and "select CRYPTO_WP512" in text
    # A file the patches do not touch is read through to the original at once.
    (tree / "net/Kconfig").write_text((tree / "net/Kconfig").read_text() + "# also edited\n")
    assert (kernel.path / "net/Kconfig").read_text().endswith("# also edited\n")
    assert patch_kernel_tree(KernelTree.open(tree), pkgs / "kernel/build/patches")[1].from_cache
    # Made again for a change elsewhere (a .config written at the top), the copies keep their
    # mtimes, so the Kconfig and Kbuild caches of the patched tree stay good.
    def stamps(path):
        return [(os.stat(path / rel).st_size, os.stat(path / rel).st_mtime_ns) for rel in ("net/ceph/Kconfig", "net")]
    before = stamps(kernel.path)
    (tree / ".config").write_text("")
    kernel, report = patch_kernel_tree(KernelTree.open(tree), pkgs / "kernel/build/patches")
    assert not report.from_cache and stamps(kernel.path) == before
    # A file added beside a copied one shows up too (its folder was copied, so it is rebuilt).
    (tree / "net/ceph/Kconfig.extra").write_text("# new\n")
    kernel, report = patch_kernel_tree(KernelTree.open(tree), pkgs / "kernel/build/patches")
    assert not report.from_cache and (kernel.path / "net/ceph/Kconfig.extra").is_file()


def test_fuzz_and_offsets_are_reported(trees, tmp_path):
    """GNU patch places a hunk whose context moved or changed a little, as the build would;
    the report says so (with fuzz, it may not be where the patch meant)."""
    tree = trees["6.12"]
    diff = file_diff(tree, "net/ceph/Kconfig",
                     lambda t: t.replace("\tselect CRYPTO_AES\n", "\tselect CRYPTO_AES\n\tselect CRYPTO_WP512\n", 1))
    lines = diff.splitlines(True)
    at = next(i for i, line in enumerate(lines) if line.startswith("@@"))
    start = int(lines[at].split()[1].split(",")[0][1:])
    # 10 lines further down than the tree has them, and the first context line reworded.
    lines[at] = lines[at].replace(f"-{start},", f"-{start + 10},").replace(f"+{start},", f"+{start + 10},")
    lines[at + 1] = " config CEPH_LIB_RENAMED\n"
    pkgs = write_pkgs(tmp_path, "6.12", {"0001-fuzzy.patch": mail("fuzzy", "".join(lines))})
    kernel, report = patch_kernel_tree(KernelTree.open(tree), pkgs / "kernel/build/patches")
    assert report.summary() == "1 applied, 0 already upstream"
    (note,) = report.patches[0].notes
    assert note.startswith("net/ceph/Kconfig: hunk #1 (@@ ") and "with fuzz 1" in note and "offset -10 lines" in note
    assert report.warnings() == [f"patch 0001-fuzzy.patch: {note}"]
    assert "\tselect CRYPTO_WP512\n" in (kernel.path / "net/ceph/Kconfig").read_text()


# --------------------------------------------------------------------------- failures, upstream

def test_a_hunk_that_does_not_apply_is_named(trees, tmp_path):
    tree = trees["6.12"]
    bad, header = broken_patch(tree)
    pkgs = write_pkgs(tmp_path, "6.12", {"0001-libceph-select-whirlpool.patch": select_patch(tree),
                                         "0002-broken.patch": bad})
    patch_file = pkgs / "kernel/build/patches/0002-broken.patch"
    kernel, report = patch_kernel_tree(KernelTree.open(tree), patch_file.parent)
    assert [p.status for p in report.patches] == ["applied", "failed"]
    assert kernel.path == tree and report.tree == tree  # nothing half-applied is handed on
    failed = report.failed[0]
    line = bad.splitlines().index(header) + 1
    assert failed.where == f"{patch_file}:{line}"
    assert f"hunk #2 ({header}) of net/ceph/Kconfig" in failed.problem
    assert report.summary() == "1 applied, 0 already upstream, 1 FAILED"
    with pytest.raises(InputError) as e:
        report.raise_on_failure()
    # In Python the way out reads patches=False; the CLI below says --no-patches.
    assert e.value.where == failed.where and "patches=False" in e.value.hint
    # Failures are not cached: the next load tries again.
    assert not patch_kernel_tree(KernelTree.open(tree), patch_file.parent)[1].from_cache

    result = subprocess.run([sys.executable, "-m", "talosnb", "get", "CEPH_LIB", "--pkgs", str(pkgs),
                             "--kernel-src", str(tree), "--arch", "amd64"], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "TALOSNB_CACHE_DIR": str(tmp_path / "cache")}, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{patch_file}:{line}" in result.stderr and header in result.stderr
    assert "net/ceph/Kconfig" in result.stderr and "--no-patches" in result.stderr
    # --no-patches reads the tree as it is.
    result = subprocess.run([sys.executable, "-m", "talosnb", "get", "CEPH_LIB", "--pkgs", str(pkgs),
                             "--kernel-src", str(tree), "--arch", "amd64", "--no-patches", "--format", "json"],
                            capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "TALOSNB_CACHE_DIR": str(tmp_path / "cache")}, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["patches"] is None


def test_real_talos_main_patches_on_7_2_12(trees):
    kernel, report = patch_kernel_tree(KernelTree.open(trees["7.2"]), MAIN_PATCHES)
    names = sorted(p.name for p in MAIN_PATCHES.glob("*.patch"))
    assert [p.name for p in report.patches] == names and len(names) == 15
    assert {p.name: p.status for p in report.patches if p.status != "skipped"} == {KRB5: "upstream"}
    krb5 = next(p for p in report.patches if p.name == KRB5)
    assert krb5.upstream == ("net/ceph/Kconfig",) and krb5.applied == ()
    assert set(krb5.skipped_files) == {"include/linux/ceph/ceph_fs.h", "net/ceph/auth_x.c",
                                       "net/ceph/auth_x_protocol.h", "net/ceph/crypto.c", "net/ceph/crypto.h"}
    assert report.summary() == "0 applied, 1 already upstream, 14 change no Kconfig/Kbuild file"
    # Nothing to change: the tree itself is read (and its caches are the unpatched ones).
    assert kernel.path == trees["7.2"] and report.tree == trees["7.2"]
    macb = next(p for p in report.patches if p.name.startswith("0001-net-macb"))
    assert macb.skipped_files == ("drivers/net/ethernet/cadence/macb.h", "drivers/net/ethernet/cadence/macb_main.c")
    report.raise_on_failure()


def test_real_talos_main_patches_do_not_fit_6_12(trees):
    """0014's Kconfig hunk was made for 6.18: on 6.12.117 it applies neither way."""
    _, report = patch_kernel_tree(KernelTree.open(trees["6.12"]), MAIN_PATCHES)
    assert [(p.name, p.status) for p in report.failed] == [(KRB5, "failed")]
    with pytest.raises(InputError) as e:
        report.raise_on_failure(made_for="6.18.45", tree_version="6.12.117")
    assert e.value.where == f"{MAIN_PATCHES / KRB5}:45"
    assert "hunk #1 (@@ -6,6 +6,7 @@ config CEPH_LIB) of net/ceph/Kconfig" in e.value.message
    assert "linux-6.18.45" in e.value.hint and "6.12.117" in e.value.hint


def test_real_talos_v1_10_patches_on_6_12_117(trees):
    kernel, report = patch_kernel_tree(KernelTree.open(trees["6.12"]), V110_PATCHES)
    assert [(p.name, p.status, p.skipped_files) for p in report.patches] == [
        ("mglru.patch", "skipped", ("mm/vmscan.c",))]
    assert report.patches[0].skipped_hunks == len(split_patch(V110_PATCHES / "mglru.patch")[0].hunks) > 0
    assert report.summary() == "0 applied, 0 already upstream, 1 change no Kconfig/Kbuild file"
    assert kernel.path == trees["6.12"]


# --------------------------------------------------------------------------- reading patches

def test_patches_are_found_as_find_and_sort_list_them(tmp_path):
    folder = tmp_path / "patches"
    (folder / "sub").mkdir(parents=True)
    for name in ("0002-b.patch", "0001-a.patch", "sub/0000-c.patch", "README.md", "0003.patch.orig", "B.patch"):
        (folder / name).write_text("")
    (folder / "0004-link.patch").symlink_to(folder / "0001-a.patch")  # find -type f: not a link
    # C-locale sort of the whole paths: digits < upper case < lower case, "." < "/"
    assert [p.relative_to(folder).as_posix() for p in find_patches(folder)] == [
        "0001-a.patch", "0002-b.patch", "B.patch", "sub/0000-c.patch"]
    assert find_patches(tmp_path / "missing") == []


def test_split_patch_cuts_each_file_diff_unchanged():
    diffs = split_patch(MAIN_PATCHES / KRB5)
    assert [d.path for d in diffs] == ["include/linux/ceph/ceph_fs.h", "net/ceph/Kconfig", "net/ceph/auth_x.c",
                                       "net/ceph/auth_x_protocol.h", "net/ceph/crypto.c", "net/ceph/crypto.h"]
    assert [d.read_by_engine for d in diffs] == [False, True, False, False, False, False]
    raw = (MAIN_PATCHES / KRB5).read_bytes()
    for d in diffs:
        assert d.text in raw and d.text.startswith(b"diff --git a/" + d.path.encode())
    assert diffs[1].hunks[0].header == "@@ -6,6 +6,7 @@ config CEPH_LIB" and diffs[1].hunks[0].line == 45
    # The mail header and the signature belong to no file.
    assert all(b"Subject:" not in d.text and not d.text.endswith(b"-- \n2.45.0\n") for d in diffs)


def test_an_empty_patch_fails_like_the_build(trees, tmp_path):
    pkgs = write_pkgs(tmp_path, "6.12", {"0001-empty.patch": "just some text\n"})
    _, report = patch_kernel_tree(KernelTree.open(trees["6.12"]), pkgs / "kernel/build/patches")
    assert report.failed and "holds no diff" in report.failed[0].problem


def test_changes_without_lines_to_kconfig_files_are_reported(trees, tmp_path):
    """A rename or a mode change has no hunk for GNU patch to apply here: said, not lost."""
    text = mail("move and chmod",
                "diff --git a/net/ceph/Kconfig b/net/ceph/Kconfig.moved\nsimilarity index 100%\n"
                "rename from net/ceph/Kconfig\nrename to net/ceph/Kconfig.moved\n",
                "diff --git a/scripts/checkpatch.pl b/scripts/checkpatch.pl\nold mode 100755\nnew mode 100644\n",
                "diff --git a/net/ceph/a.c b/net/ceph/b.c\nsimilarity index 100%\nrename from net/ceph/a.c\n"
                "rename to net/ceph/b.c\n")
    pkgs = write_pkgs(tmp_path, "6.12", {"0001-move.patch": text})
    kernel, report = patch_kernel_tree(KernelTree.open(trees["6.12"]), pkgs / "kernel/build/patches")
    (result,) = report.patches
    assert result.status == "skipped" and result.skipped_files == ("net/ceph/b.c",)
    assert result.not_applied == ("net/ceph/Kconfig.moved: a rename (no lines to apply), not applied",
                                  "scripts/checkpatch.pl: a mode change or empty file (no lines to apply), not applied")
    assert report.warnings() == [f"patch 0001-move.patch: {n}" for n in result.not_applied]
    assert kernel.path == trees["6.12"]


def test_a_patch_outside_the_tree_is_refused(trees, tmp_path):
    text = mail("escape", "--- a/../outside/Kconfig\n+++ b/../outside/Kconfig\n@@ -0,0 +1 @@\n+config X\n")
    pkgs = write_pkgs(tmp_path, "6.12", {"0001-escape.patch": text})
    _, report = patch_kernel_tree(KernelTree.open(trees["6.12"]), pkgs / "kernel/build/patches")
    assert report.failed and "outside the kernel tree" in report.failed[0].problem
    assert not (trees["6.12"].parent / "outside").exists()


# --------------------------------------------------------------------------- integration

@pytest.mark.parametrize("patched", ["6.12"], indirect=True)
def test_resolve_and_the_cli_apply_the_patches(patched, tmp_path, engine_cache):
    inputs = resolve_inputs(patched.pkgs, None, patched.tree)
    assert inputs.kernel.path == patched.kernel.path and inputs.kernel.origin == patched.tree
    assert inputs.patches.summary() == "2 applied, 0 already upstream"
    assert resolve_inputs(patched.pkgs, None, patched.tree, patches=False).kernel.path == patched.tree
    copy, _ = scratch_copy(inputs, ["amd64"], tmp_path / "scratch")
    assert sorted(p.name for p in find_patches(copy.pkgs.patches_dir)) == [p.name for p in inputs.patches.patches]
    assert copy.patches is inputs.patches

    env = {**os.environ, "TALOSNB_CACHE_DIR": str(engine_cache)}
    result = subprocess.run([sys.executable, "-m", "talosnb", "get", NEW_SYMBOL, "--pkgs", str(patched.pkgs),
                             "--kernel-src", str(patched.tree), "--arch", "amd64"], capture_output=True,
                            text=True, cwd=ROOT, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "\npatches: 2 applied, 0 already upstream\n" in result.stdout
    assert "Demo NIC added by a pkgs patch" in result.stdout
    result = subprocess.run([sys.executable, "-m", "talosnb", "get", "CEPH_LIB", "--pkgs", str(patched.pkgs),
                             "--kernel-src", str(patched.tree), "--arch", "amd64", "--format", "json"],
                            capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)["patches"]
    assert [(p["name"], p["status"], p["applied_files"]) for p in listed] == [
        ("0001-libceph-select-whirlpool.patch", "applied", ["net/ceph/Kconfig"]),
        ("0002-net-add-a-demo-nic.patch", "applied", ["drivers/net/Kconfig", "drivers/net/Makefile"])]


@pytest.mark.parametrize("patched", ["6.12"], indirect=True)
def test_the_workspace_opens_the_patched_tree(patched):
    from talosnb.app.workspace import Workspace

    ws = Workspace.open(patched.pkgs, None, patched.tree, "amd64", kbuild=True)
    assert ws.session.inputs.kernel.path == patched.kernel.path
    assert "; pkgs patches: 2 applied, 0 already upstream" in workspace_text(ws)
    assert ws.configs["amd64"].has_symbol(NEW_SYMBOL)
    assert ws.session.kbuild_map("amd64").symbol_modules(NEW_SYMBOL) == [NEW_MODULE]
    from talosnb.present.report import _inputs_table
    rows = _inputs_table(ws.session).values.tolist()
    assert ["pkgs patches", "2 applied, 0 already upstream", str(patched.pkgs / "kernel/build/patches")] in rows
    plain = Workspace.open(patched.pkgs, None, patched.tree, "amd64", kbuild=False, patches=False)
    assert plain.session.inputs.patches is None and not plain.configs["amd64"].has_symbol(NEW_SYMBOL)
    assert "pkgs patches" not in workspace_text(plain)


def test_without_gnu_patch_the_message_says_what_to_install(trees, tmp_path, monkeypatch):
    pkgs = write_pkgs(tmp_path, "6.12", {"0001-libceph-select-whirlpool.patch": select_patch(trees["6.12"])})
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    result = subprocess.run([sys.executable, "-m", "talosnb", "get", "CEPH_LIB", "--pkgs", str(pkgs),
                             "--kernel-src", str(trees["6.12"]), "--arch", "amd64"], capture_output=True, text=True,
                            cwd=ROOT, check=False,
                            env={"PATH": str(empty_bin), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
                                 "TALOSNB_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "needs GNU patch" in result.stderr and "apt-get install patch" in result.stderr
    assert patches_mod.gnu_patch()  # here it is installed
