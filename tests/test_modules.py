"""talosnb.modules: Talos module lists vs real configs and Kbuild maps; list editing."""

from __future__ import annotations

import importlib
import random
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the package is not installed in the venv
    sys.path.insert(0, str(ROOT))

from talosnb.errors import FileChangedError, InputError
from talosnb.kbuild import build_kbuild_map
from talosnb.modules import (
    ModuleList,
    check_module_lists,
    findings_frame,
    modules_built_by,
)

# Share the session fixtures (one tree extraction and one map build per session).
_kb = importlib.import_module(f"{__name__.rpartition('.')[0]}.test_kbuild" if "." in __name__ else "test_kbuild")
tree_612, tree_72, maps_612, maps_72 = _kb.tree_612, _kb.tree_72, _kb.maps_612, _kb.maps_72
read_config, talos_data, ARCHES = _kb.read_config, _kb.talos_data, _kb.ARCHES


def load_release(release: str):
    folder = talos_data(release)
    lists = {a: ModuleList.load(folder / f"talos/hack/modules-{a}.txt", a) for a in ARCHES}
    values = {a: read_config(folder / f"pkgs/kernel/build/config-{a}") for a in ARCHES}
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
