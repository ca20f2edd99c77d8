"""talosnb.analyses.modules: Talos module lists vs real configs and Kbuild maps; list editing."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package is not installed in the venv
    sys.path.insert(0, str(ROOT))

from engine_fixtures import SRCARCH, talos_data

from talosnb import cli
from talosnb.analyses.modules import (
    ModuleList,
    check_module_lists,
    edit_module_list,
    findings_frame,
    modules_built_by,
    modules_for_symbols,
)
from talosnb.app import workspace as app_workspace
from talosnb.core.errors import FileChangedError, InputError
from talosnb.core.paths import sample_dir
from talosnb.kbuild import build_kbuild_map, read_config_values

# tree_612, maps_612, ...: the session fixtures of conftest.py (one tree extraction, one map build per run)
ARCHES = SRCARCH


def load_release(release: str):
    folder = talos_data(release)
    lists = {a: ModuleList.load(folder / f"talos/hack/modules-{a}.txt", a) for a in ARCHES}
    values = {a: read_config_values(folder / f"pkgs/kernel/build/config-{a}") for a in ARCHES}
    return lists, values


@pytest.fixture(scope="module")
def v110():
    return load_release("talos-v1.10")


@pytest.fixture(scope="module")
def main_release():
    return load_release("talos-main")


def errors(findings):
    return [f for f in findings if f.level == "error"]


# ---------------------------------------------------------------- real data

def test_v110_lists_have_no_errors_against_612(v110, maps_612):
    lists, values = v110
    findings = check_module_lists(lists, values, maps_612, tree_version="6.12.117", list_version="6.12.63")
    assert errors(findings) == []
    kinds = {f.kind for f in findings}
    assert kinds <= {"unsorted", "unlisted-module", "other-arch-only"}
    # Upstream release-1.10 arm64 list is itself not in C order (hns_mdio before hns/).
    unsorted = [f.where.rsplit(":", 1)[1] for f in findings if f.kind == "unsorted"]
    assert unsorted and all(f.arch == "arm64" for f in findings if f.kind == "unsorted")
    unlisted = [f for f in findings if f.kind == "unlisted-module"]
    assert unlisted and all(f.values[f.symbols[0]] == "m" for f in unlisted if f.symbols)
    frame = findings_frame(findings)
    assert list(frame.columns[:5]) == ["level", "kind", "arch", "entry", "subsystem"]
    assert frame.equals(findings_frame(list(reversed(findings))))
    assert frame.iloc[0]["level"] == "warning"


@pytest.mark.parametrize("tree", ["6.12", "7.2"])
def test_main_lists_on_other_trees_warn_not_in_this_tree(tree, main_release, request):
    lists, values = main_release
    kbuild = request.getfixturevalue("maps_612" if tree == "6.12" else "maps_72")
    version = kbuild["amd64"].kernel_version
    findings = check_module_lists(lists, values, kbuild, tree_version=version, list_version="6.18.45",
                                  tree_mismatch=True, unlisted=False)
    absent = {(a, e) for a in ARCHES for e in lists[a].entries
              if e.endswith(".ko") and kbuild[a].rule(e) is None}
    assert absent  # e.g. crypto/hkdf.ko, new in 6.18
    warned = {(f.arch, f.entry) for f in findings if f.kind == "not-in-this-tree"}
    assert warned == absent
    assert all(f.level == "warning" for f in findings if f.kind == "not-in-this-tree")
    assert not {(f.arch, f.entry) for f in errors(findings)} & absent
    assert not any(f.kind == "not-in-tree" for f in findings)
    if tree == "7.2":
        (xor,) = [f for f in findings if f.entry == "kernel/crypto/xor.ko" and f.arch == "amd64"]
        assert "kernel/lib/raid/xor/xor.ko" in xor.message
    # Without the mismatch, a missing module is a config error.
    strict = check_module_lists(lists, values, kbuild, tree_version=version, unlisted=False)
    assert {(f.arch, f.entry) for f in strict if f.kind == "not-in-tree" and f.level == "error"} == absent


def _sample(lists, kbuild, values, arch, n=10, seed=20240611):
    """Listed modules with a single way to be built (so one flip decides), fixed seed."""
    kmap = kbuild[arch]
    candidates = [e for e in lists[arch].entries if e.endswith(".ko") and kmap.rule(e)
                  and len(kmap.modules[e].module_alternatives) == 1 and kmap.modules[e].own_symbols]
    return random.Random(seed).sample(sorted(candidates), n)


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_mutations_name_the_responsible_symbol(arch, v110, maps_612):
    lists, values = v110
    kmap = maps_612[arch]
    seen_guards = 0
    for entry in _sample(lists, maps_612, values, arch):
        rule = kmap.modules[entry]
        own = rule.own_symbols[0]

        def check(mutated, entry=entry):
            found = check_module_lists({arch: lists[arch]}, {arch: mutated}, {arch: kmap},
                                       tree_version="6.12.117", unlisted=False)
            return [f for f in found if f.entry == entry and f.level == "error"]

        # Kconfig forces the directories of a =y driver to y as well (select/depends).
        guards_y = {c.symbol: "y" for c in rule.conditions if c.kind == "guard"}
        (as_y,) = check({**values[arch], **guards_y, own: "y"})
        assert (as_y.kind, as_y.level, as_y.symbols) == ("builtin", "error", (own,)), entry
        assert f"CONFIG_{own}=m" in as_y.fix

        (as_n,) = check({**values[arch], own: "n"})
        assert (as_n.kind, as_n.symbols) == ("not-built", (own,)), entry
        assert as_n.fix == f"CONFIG_{own}=m"
        assert as_n.values == {own: "n"}

        guards = [c for c in rule.conditions if c.kind == "guard" and values[arch].get(c.symbol) in ("y", "m")
                  and c.symbol not in rule.own_symbols]
        if guards:
            guard = guards[-1]
            seen_guards += 1
            (off,) = check({**values[arch], guard.symbol: "n"})
            assert off.kind == "not-built" and guard.symbol in off.symbols, entry
            assert guard.where in off.message
            assert f"CONFIG_{guard.symbol}=y" in off.fix
    assert seen_guards >= 3


def test_verify_fix_filters_suggestions(v110, maps_612):
    lists, values = v110
    kmap = maps_612["amd64"]
    entry, guard = next((e, c) for e in lists["amd64"].entries if e.endswith(".ko")
                        for c in kmap.modules[e].conditions
                        if c.kind == "guard" and c.symbol not in kmap.modules[e].own_symbols)
    own = kmap.modules[entry].own_symbols[0]
    broken = {**values["amd64"], own: "n", guard.symbol: "n"}
    calls = []

    def verify(arch, assignments):
        calls.append((arch, dict(assignments)))
        return kmap.evaluate(entry, {**broken, **assignments}).state == "module"

    kw = {"tree_version": "6.12.117", "unlisted": False}
    (ok,) = [f for f in check_module_lists({"amd64": lists["amd64"]}, {"amd64": broken}, {"amd64": kmap},
                                           verify_fix=verify, **kw) if f.entry == entry]
    assert calls and calls[0][0] == "amd64"
    assert f"CONFIG_{guard.symbol}=y" in ok.fix and f"CONFIG_{own}=m" in ok.fix
    assert set(ok.symbols) == {guard.symbol, own}
    (rejected,) = [f for f in check_module_lists({"amd64": lists["amd64"]}, {"amd64": broken},
                                                 {"amd64": kmap}, verify_fix=lambda a, s: False, **kw)
                   if f.entry == entry]
    assert rejected.fix is None and rejected.level == "error"


def test_removed_makefile_line_is_not_in_this_tree(tree_612, v110, maps_612, tmp_path):
    lists, values = v110
    copy = tmp_path / "linux"
    shutil.copytree(tree_612, copy, ignore=shutil.ignore_patterns("Kconfig*", "scripts", "Documentation",
                                                                  "tools"))
    removed = []
    for entry in _sample(lists, maps_612, values, "amd64", n=6, seed=7):
        cond = [c for c in maps_612["amd64"].modules[entry].conditions if c.kind == "module"][-1]
        file, line = cond.where.rsplit(":", 1)
        text = (copy / file).read_text().split("\n")
        if text[int(line) - 1].endswith("\\") or (int(line) > 1 and text[int(line) - 2].endswith("\\")):
            continue
        if any(file == f for f, _ in removed):
            continue
        text[int(line) - 1] = ""
        (copy / file).write_text("\n".join(text))
        removed.append((file, entry))
    assert len(removed) >= 3
    mutated = build_kbuild_map(copy, "x86")
    findings = check_module_lists({"amd64": lists["amd64"]}, {"amd64": values["amd64"]}, {"amd64": mutated},
                                  tree_version="6.12.117", unlisted=False)
    missing = {f.entry for f in findings if f.kind == "not-in-tree"}
    assert {entry for _, entry in removed} <= missing


def test_modules_built_by(v110, maps_612):
    _, values = v110
    kmap = maps_612["amd64"]
    assert modules_built_by(kmap, "BLK_DEV_NBD", values["amd64"]) == ["kernel/drivers/block/nbd.ko"]
    assert modules_built_by(kmap, "BLK_DEV_NBD", {**values["amd64"], "BLK_DEV_NBD": "y"}) == []


def test_modules_for_symbols_after_a_config_edit(v110, maps_612):
    _, values = v110
    kmap = maps_612["amd64"]
    symbols = ["BLK_DEV_NBD", "CONFIG_E1000E", "BLK_DEV_LOOP", "INPUT_UINPUT", "NO_SUCH_SYMBOL"]
    found = modules_for_symbols(kmap, values["amd64"], symbols)
    assert list(found) == symbols  # keyed as given, in order
    assert found["BLK_DEV_NBD"] == ["kernel/drivers/block/nbd.ko"]
    assert found["CONFIG_E1000E"] == ["kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko"]
    assert found["BLK_DEV_LOOP"] == []  # =y: built in, no .ko
    assert found["INPUT_UINPUT"] == ["kernel/drivers/input/misc/uinput.ko"]
    assert found["NO_SUCH_SYMBOL"] == []
    # After the edit: loop becomes a module, nbd built in, and e1000e's directory guard is off.
    edited = {**values["amd64"], "BLK_DEV_LOOP": "m", "BLK_DEV_NBD": "y", "NET_VENDOR_INTEL": "n"}
    after = modules_for_symbols(kmap, edited, symbols)
    assert after["BLK_DEV_LOOP"] == ["kernel/drivers/block/loop.ko"]
    assert after["BLK_DEV_NBD"] == [] and after["CONFIG_E1000E"] == []
    assert after == {s: modules_built_by(kmap, s, edited) for s in symbols}


def test_modules_for_symbols_on_the_sample():
    from talosnb.kbuild import build_kbuild_map as build

    tree = sample_dir() / "linux"
    amd64 = build(tree, "x86")
    values = {"NETDEVICES": "y", "DUMMY": "m", "FUSE_FS": "m", "CUSE": "m", "CRYPTO": "y",
              "CRYPTO_AES_NI_INTEL": "m"}
    found = modules_for_symbols(amd64, values, ["DUMMY", "FUSE_FS", "CUSE", "CRYPTO_AES_NI_INTEL"])
    assert found == {"DUMMY": ["kernel/drivers/net/dummy.ko"], "FUSE_FS": ["kernel/fs/fuse/fuse.ko"],
                     "CUSE": ["kernel/fs/fuse/cuse.ko"],
                     "CRYPTO_AES_NI_INTEL": ["kernel/arch/x86/crypto/aesni-intel.ko"]}
    # arm64 has no x86 crypto folder at all.
    arm64 = build(tree, "arm64")
    assert modules_for_symbols(arm64, values, ["CRYPTO_AES_NI_INTEL"]) == {"CRYPTO_AES_NI_INTEL": []}


# ---------------------------------------------------------------- list editing

@pytest.fixture
def amd64_copy(tmp_path):
    folder = talos_data("talos-v1.10")
    path = tmp_path / "modules-amd64.txt"
    shutil.copy(folder / "talos/hack/modules-amd64.txt", path)
    return path


def test_load_round_trips_and_edits_keep_c_order(amd64_copy, maps_612):
    module_list = ModuleList.load(amd64_copy, "amd64")
    assert module_list.text() == amd64_copy.read_text() and module_list.diff() == ""
    assert module_list.add("kernel/drivers/block/loop.ko") == ["kernel/drivers/block/loop.ko"]
    assert module_list.add("kernel/drivers/block/loop.ko") == []
    entries = module_list.entries
    assert entries.index("kernel/drivers/block/loop.ko") + 1 == entries.index("kernel/drivers/block/nbd.ko")
    assert module_list.add("zram", kbuild=maps_612["amd64"]) == ["kernel/drivers/block/zram/zram.ko"]
    assert module_list.remove("nbd") == ["kernel/drivers/block/nbd.ko"]
    assert module_list.remove("kernel/drivers/ata/ahci.ko") == ["kernel/drivers/ata/ahci.ko"]
    assert module_list.remove("CONFIG_BLK_DEV_LOOP", kbuild=maps_612["amd64"]) == ["kernel/drivers/block/loop.ko"]
    sorted_entries = sorted(module_list.entries, key=lambda e: e.encode())
    assert module_list.entries == sorted_entries and module_list.entries[-1] == "modules.order"
    diff = module_list.diff()
    assert "-kernel/drivers/block/nbd.ko\n" in diff and "+kernel/drivers/block/zram/zram.ko\n" in diff
    with pytest.raises(InputError, match="did you mean"):
        module_list.remove("i7core_edc")
    assert module_list.save() is True
    assert ModuleList.load(amd64_copy, "amd64").entries == module_list.entries


def test_save_refuses_to_clobber_a_changed_file(amd64_copy):
    module_list = ModuleList.load(amd64_copy, "amd64")
    module_list.remove("kernel/drivers/block/nbd.ko")
    amd64_copy.write_text(amd64_copy.read_text() + "kernel/extra.ko\n")
    with pytest.raises(FileChangedError):
        module_list.save()
    assert "kernel/extra.ko" in amd64_copy.read_text()
    assert module_list.save(force=True) is True
    assert "kernel/extra.ko" not in amd64_copy.read_text()


@pytest.mark.parametrize(("text", "line", "message"), [
    ("kernel/a.ko\nkernel/b.ko kernel/c.ko\n", 2, "more than one word"),
    ("kernel/a.ko\n# comment\n", 2, "comments are not allowed"),
    ("kernel/a.ko\r\nkernel/b.ko\r\n", 1, "carriage return"),
])
def test_malformed_input_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "modules-arm64.txt"
    path.write_text(text, newline="")
    with pytest.raises(InputError, match=message) as info:
        ModuleList.load(path, "arm64")
    assert info.value.where == f"{path}:{line}"


def test_form_findings_on_hand_written_list(tmp_path, maps_612):
    path = tmp_path / "modules-amd64.txt"
    path.write_text("kernel/drivers/block/nbd.ko\n/lib/modules/6.12.1/kernel/drivers/ata/ahci.ko\n"
                    "kernel/drivers/ata/libahci.ko\nkernel/drivers/block/nbd.ko\nmodules.bogus\n"
                    "modules.order\n")
    module_list = ModuleList.load(path, "amd64")
    values = {"BLK_DEV_NBD": "m", "BLK_DEV": "y", "ATA": "m", "SATA_AHCI": "m"}
    findings = check_module_lists({"amd64": module_list}, {"amd64": values}, {"amd64": maps_612["amd64"]},
                                  tree_version="6.12.117", unlisted=False)
    by_kind = {(f.kind, f.where.rsplit(":", 1)[1]): f for f in findings}
    malformed = by_kind[("malformed", "2")]
    assert malformed.level == "error" and malformed.fix == "use kernel/drivers/ata/ahci.ko"
    assert by_kind[("duplicate", "4")].message.endswith("(first at line 1)")
    assert by_kind[("unknown-metadata", "5")].level == "warning"
    assert ("unsorted", "2") in by_kind
    assert {f.kind for f in findings} == {"malformed", "duplicate", "unknown-metadata", "unsorted"}


def test_add_keeps_upstream_order_and_metadata_place():
    text = ("modules.order\nkernel/b/hns_mdio.ko\nkernel/b/hns/hnae.ko\nkernel/d/d.ko\n"
            "modules.builtin\n")
    module_list = ModuleList.parse(text, "arm64")
    assert module_list.add(["kernel/c/c.ko", "kernel/a/a.ko", "modules.alias", "kernel/z/z.ko"]) == [
        "kernel/c/c.ko", "kernel/a/a.ko", "modules.alias", "kernel/z/z.ko"]
    # Existing lines keep their order (upstream's, even where not C-sorted); modules go among
    # modules and metadata among metadata, each at its first larger neighbour.
    assert module_list.entries == ["modules.alias", "modules.order", "kernel/a/a.ko", "kernel/b/hns_mdio.ko",
                                   "kernel/b/hns/hnae.ko", "kernel/c/c.ko", "kernel/d/d.ko",
                                   "kernel/z/z.ko", "modules.builtin"]
    only_metadata = ModuleList.parse("modules.builtin\nmodules.order\n", "amd64")
    only_metadata.add("kernel/x.ko")
    assert only_metadata.entries == ["kernel/x.ko", "modules.builtin", "modules.order"]


def test_resolve_says_why_an_entry_names_nothing(maps_612):
    kmap = maps_612["amd64"]
    module_list = ModuleList.parse("kernel/drivers/block/nbd.ko\nmodules.order\n", "amd64")
    assert module_list.resolve("CONFIG_BLK_DEV_NBD", kmap) == ["kernel/drivers/block/nbd.ko"]
    assert module_list.resolve("e1000e", kmap) == ["kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko"]
    cases = [
        ("nbdd", {}, "no module named nbdd", "did you mean nbd"),
        ("kernel/drivers/block/nbdd.ko", {}, "no such module", "did you mean kernel/drivers/block/nbd.ko"),
        ("kernel/drivers/nbd.ko", {}, "no such module", "nbd is at kernel/drivers/block/nbd.ko"),
        ("/lib/modules/6.12.0/kernel/drivers/block/nbd.ko", {}, "absolute path", "use kernel/drivers/"),
        ("modules.ordr", {}, "not a file `make modules_install` writes", "did you mean modules.order"),
        ("CONFIG_TALOSNB_NO_SUCH_SYMBOL", {}, "builds no module", None),
        ("dummy", {}, "more than one module is named dummy", "give the path"),
        ("loop", {"listed": True}, "not in modules-amd64.txt", None),
        ("CONFIG_BLK_DEV_LOOP", {"listed": True}, "none of the modules", None),
    ]
    for item, kw, message, hint in cases:
        with pytest.raises(InputError, match=re.escape(message)) as info:
            module_list.resolve(item, kmap, **kw)
        assert hint is None or hint in (info.value.hint or ""), item


# ---------------------------------------------------------------- talosnb modules (command line)

def run_cli(monkeypatch, capsys, *args: str, cache: Path) -> tuple[int, str, str]:
    """``talosnb ARGS`` in this process, with no TALOSNB_* inputs from the environment."""
    for name in [k for k in os.environ if k.startswith("TALOSNB_") and k != "TALOSNB_CONFIG_DIR"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(cache))
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def sample(tmp_path) -> Path:
    """A copy of the embedded sample (the tests edit it)."""
    copy = tmp_path / "sample"
    shutil.copytree(sample_dir(), copy)
    return copy


@pytest.fixture
def on_sample(sample, monkeypatch, capsys, tmp_path):
    def run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, "modules", *args, "--pkgs", str(sample / "pkgs"), "--talos",
                       str(sample / "talos"), "--kernel-src", str(sample / "linux"), cache=tmp_path / "cache")
    return run


def sample_list(sample: Path, arch: str) -> str:
    return (sample / "talos" / "hack" / f"modules-{arch}.txt").read_text()


def test_cli_remove_fixes_the_sample_error(on_sample, sample):
    before = sample_list(sample, "amd64")
    code, out, _ = on_sample("remove", "dummy", "--arch", "amd64")
    assert code == 0
    assert "-kernel/drivers/net/dummy.ko\n" in out and "0 error(s) in modules-amd64.txt" in out
    assert sample_list(sample, "amd64") == before.replace("kernel/drivers/net/dummy.ko\n", "")
    assert sample_list(sample, "arm64") == sample_list(sample_dir(), "arm64")


def test_cli_add_by_name_and_symbol_in_sorted_place_json(on_sample, sample):
    code, out, _ = on_sample("add", "crypto_user", "CONFIG_VSOCKETS", "--arch", "arm64", "--format", "json")
    report = json.loads(out)
    arm64 = report["lists"]["arm64"]
    assert arm64["added"] == ["kernel/crypto/crypto_user.ko", "kernel/net/vmw_vsock/vsock.ko"]
    assert arm64["written"] is True and arm64["warnings"] == []
    assert "+kernel/crypto/crypto_user.ko\n" in arm64["diff"]
    # The sample's own arm64 error (nbd.ko built in) is still there: exit 1.
    assert [(e["entry"], e["kind"]) for e in arm64["errors"]] == [("kernel/drivers/block/nbd.ko", "builtin")]
    assert code == 1 and report["errors"] == 1
    lines = sample_list(sample, "arm64").splitlines()
    assert lines == sorted(lines) and lines[-3:] == ["modules.builtin", "modules.builtin.modinfo",
                                                     "modules.order"]
    assert lines.index("kernel/crypto/crypto_user.ko") == lines.index("kernel/crypto/chacha20poly1305.ko") + 1


def test_cli_add_what_the_config_builds_in_warns_and_exits_1(on_sample, sample):
    code, out, _ = on_sample("add", "BLK_DEV_LOOP", "--arch", "amd64", "--dry-run")
    assert code == 1
    assert "warning amd64 builtin" in out and "added anyway" in out and "CONFIG_BLK_DEV_LOOP=y" in out
    assert "dry run, nothing written" in out and "+kernel/drivers/block/loop.ko\n" in out
    assert sample_list(sample, "amd64") == sample_list(sample_dir(), "amd64")


def test_cli_entry_for_one_arch_only(on_sample, sample):
    code, out, _ = on_sample("remove", "mvpp2")
    assert code == 1  # arm64 still lists the built-in nbd.ko, amd64 dummy.ko
    assert "not for amd64: mvpp2 is not in" in out
    assert "kernel/drivers/net/ethernet/marvell/mvpp2/mvpp2.ko" not in sample_list(sample, "arm64")
    assert sample_list(sample, "amd64") == sample_list(sample_dir(), "amd64")


@pytest.mark.parametrize(("args", "message"), [
    (["add", "nbdx"], "no module named nbdx"),
    (["add", "kernel/drivers/block/nbd.ko", "CONFIG_BLK_DEV_NBDX"], "CONFIG_BLK_DEV_NBDX is not defined"),
    (["add", "PCI"], "CONFIG_PCI is a bool: it is never built as a module"),
    (["add", "msr", "--arch", "arm64"], "no module named msr"),
    (["remove", "loop"], "loop is not in"),
    (["add", "modules.foo", "crypto_user"], "modules.foo is not a file"),
])
def test_cli_entry_naming_nothing_exits_2_and_writes_nothing(on_sample, sample, args, message):
    code, out, err = on_sample(*args)
    assert code == 2 and message in err and out == ""
    for arch in ("amd64", "arm64"):
        assert sample_list(sample, arch) == sample_list(sample_dir(), arch)


def test_cli_refuses_a_list_changed_on_disk(on_sample, sample, monkeypatch):
    real = app_workspace.edit_module_list
    runs = []

    def edit_then_someone_else_writes(module_list, *args, **kwargs):
        # Another editor adds a line to the arm64 list after this run has loaded it.
        result = real(module_list, *args, **kwargs)
        if module_list.arch == "arm64":
            runs.append(f"kernel/outside-{len(runs)}.ko")
            with module_list.path.open("a") as f:
                f.write(runs[-1] + "\n")
        return result

    monkeypatch.setattr(app_workspace, "edit_module_list", edit_then_someone_else_writes)
    code, _, err = on_sample("add", "crypto_user")
    assert code == 1 and "changed on disk" in err and "--force" in err   # a refusal
    # Nothing written, not even the arch whose file nobody else touched.
    assert sample_list(sample, "amd64") == sample_list(sample_dir(), "amd64")
    assert sample_list(sample, "arm64") == sample_list(sample_dir(), "arm64") + "kernel/outside-0.ko\n"
    code, _, _ = on_sample("add", "crypto_user", "--force")
    assert code == 1
    assert "kernel/crypto/crypto_user.ko" in sample_list(sample, "amd64")
    arm64 = sample_list(sample, "arm64")  # what this run loaded and edited, over the newer change
    assert "kernel/crypto/crypto_user.ko" in arm64 and "outside-0" in arm64 and "outside-1" not in arm64


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-cache")


@pytest.fixture
def on_v110(tree_612, real_cache, tmp_path, monkeypatch, capsys):
    folder = talos_data("talos-v1.10")
    for part in ("pkgs", "talos"):
        shutil.copytree(folder / part, tmp_path / part)

    def run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, "modules", *args, "--pkgs", str(tmp_path / "pkgs"), "--talos",
                       str(tmp_path / "talos"), "--kernel-src", str(tree_612), cache=real_cache)
    run.folder = folder
    run.lists = tmp_path / "talos" / "hack"
    return run


def test_cli_on_v110_add_keeps_upstream_order(on_v110):
    before = (on_v110.folder / "talos/hack/modules-arm64.txt").read_text().splitlines()
    code, out, _ = on_v110("add", "uinput", "cxgb4", "kernel/crypto/zstd.ko", "--arch", "arm64")
    assert code == 0, out
    after = (on_v110.lists / "modules-arm64.txt").read_text().splitlines()
    added = ["kernel/crypto/zstd.ko", "kernel/drivers/input/misc/uinput.ko",
             "kernel/drivers/net/ethernet/chelsio/cxgb4/cxgb4.ko"]
    assert [line for line in after if line not in before] == added
    assert [line for line in after if line in before] == before  # upstream's order, unsorted part too
    for entry in added:
        i = after.index(entry)
        assert after[i - 1].encode() < entry.encode() < after[i + 1].encode()
    assert "0 error(s) in modules-arm64.txt" in out


def test_cli_on_v110_remove_by_symbol_on_both_arches(on_v110):
    code, out, _ = on_v110("remove", "CONFIG_BLK_DEV_NBD", "--format", "json")
    assert code == 0
    report = json.loads(out)
    for arch in ("amd64", "arm64"):
        assert report["lists"][arch]["removed"] == ["kernel/drivers/block/nbd.ko"]
        before = (on_v110.folder / f"talos/hack/modules-{arch}.txt").read_text()
        assert (on_v110.lists / f"modules-{arch}.txt").read_text() == before.replace(
            "kernel/drivers/block/nbd.ko\n", "")
    assert report["errors"] == 0 and report["tree_version"] == "6.12.117"


def test_cli_on_v110_builtin_module_warns_unknown_exits_2(on_v110):
    code, _, err = on_v110("add", "dummy", "--arch", "amd64")
    assert code == 2 and "kernel/drivers/regulator/dummy.ko" in err  # three modules are named dummy
    code, _, err = on_v110("add", "CONFIG_PCI", "--arch", "amd64")
    assert code == 2 and "never built as a module" in err  # bool, though obj-$(CONFIG_PCI) names objects
    code, out, _ = on_v110("add", "kernel/drivers/net/dummy.ko", "--arch", "amd64")  # CONFIG_DUMMY=y
    assert code == 1 and "warning amd64 builtin" in out and "kernel/drivers/net/dummy.ko" in out
    assert "kernel/drivers/net/dummy.ko" in (on_v110.lists / "modules-amd64.txt").read_text()
    code, _, err = on_v110("remove", "CONFIG_NO_SUCH_THING_AT_ALL")
    assert code == 2 and "not defined" in err
    assert (on_v110.lists / "modules-arm64.txt").read_text() == (
        on_v110.folder / "talos/hack/modules-arm64.txt").read_text()


def test_edit_module_list_reports_what_it_skipped(v110, maps_612):
    lists, values = v110
    module_list = ModuleList.parse(lists["amd64"].text(), "amd64")
    edit = edit_module_list(module_list, "add", ["nbd", "uinput", "nbdx"], maps_612["amd64"],
                            values["amd64"], tree_version="6.12.117", list_version="6.12.63")
    assert edit.changed == ["kernel/drivers/input/misc/uinput.ko"]
    assert edit.unchanged == ["kernel/drivers/block/nbd.ko"]
    assert list(edit.skipped) == ["nbdx"] and edit.warnings == [] and edit.errors == []
    with pytest.raises(ValueError):
        edit_module_list(module_list, "sort", [], maps_612["amd64"], values["amd64"], tree_version="6.12.117")
