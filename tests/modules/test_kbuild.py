"""talosnb.kbuild: each Kbuild construct on tiny hand-written trees, then the real 6.12/7.2 trees."""

from __future__ import annotations

import os
import pickle
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package is not installed in the venv
    sys.path.insert(0, str(ROOT))

from engine_fixtures import SRCARCH, talos_data

from talosnb.kbuild import build_kbuild_map, load_kbuild_map, read_config_values

# The real trees and their Kbuild maps come from the session fixtures (conftest.py: trees,
# tree_612, tree_72, maps_612, maps_72), shared with the other modules.
ARCHES = SRCARCH


# ---------------------------------------------------------------- helpers

def mini_tree(root: Path, files: dict[str, str]) -> Path:
    """A Linux-shaped tree: top Makefile with a version, top Kbuild descending into
    arch/$(SRCARCH)/ and drivers/, plus ``files``."""
    base = {
        "Makefile": "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 1\n",
        "Kbuild": "obj-y += arch/$(SRCARCH)/\nobj-y += $(ARCH_DRIVERS)\nobj-y += drivers/\n",
        "arch/x86/Makefile": "",
        "arch/x86/Kbuild": "",
        "drivers/Makefile": "",
    }
    base.update(files)
    for rel, text in base.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def kmap_of(tmp_path: Path, files: dict[str, str]):
    return build_kbuild_map(mini_tree(tmp_path, files), "x86")


# ---------------------------------------------------------------- constructs

def test_plain_object_is_module_only_when_its_symbol_is_m(tmp_path):
    kmap = kmap_of(tmp_path, {"drivers/Makefile": "obj-$(CONFIG_NBD) += nbd.o\n"})
    rule = kmap.modules["kernel/drivers/nbd.ko"]
    (cond,) = rule.conditions
    assert (cond.symbol, cond.kind, cond.where) == ("NBD", "module", "drivers/Makefile:1")
    assert kmap.evaluate("kernel/drivers/nbd.ko", {"NBD": "m"}).state == "module"
    assert kmap.evaluate("kernel/drivers/nbd.ko", {"NBD": "y"}).state == "builtin"
    state = kmap.evaluate("kernel/drivers/nbd.ko", {})
    assert state.state == "not-built" and state.symbols == ("NBD",)


def test_directory_guard_is_y_or_m_and_listed_top_down(tmp_path):
    kmap = kmap_of(tmp_path, {
        "drivers/Makefile": "obj-$(CONFIG_NETDEVICES) += net/\n",
        "drivers/net/Makefile": "obj-$(CONFIG_VENDOR) += vendor/\n",
        "drivers/net/vendor/Makefile": "obj-$(CONFIG_DRV) += drv.o\n",
    })
    ko = "kernel/drivers/net/vendor/drv.ko"
    conds = kmap.modules[ko].conditions
    assert [(c.symbol, c.kind) for c in conds] == [("NETDEVICES", "guard"), ("VENDOR", "guard"),
                                                   ("DRV", "module")]
    on = {"NETDEVICES": "y", "VENDOR": "y", "DRV": "m"}
    assert kmap.evaluate(ko, on).state == "module"
    # kbuild descends a directory guarded by an =m symbol, for modules only.
    assert kmap.evaluate(ko, {**on, "VENDOR": "m"}).state == "module"
    assert kmap.evaluate(ko, {**on, "VENDOR": "m", "DRV": "y"}).state == "not-built"
    off = kmap.evaluate(ko, {**on, "VENDOR": "n"})
    assert off.state == "not-built" and off.symbols == ("VENDOR",)
    assert off.failing[0].where == "drivers/net/Makefile:1"


def test_composite_object_names_the_ko_not_its_parts(tmp_path):
    kmap = kmap_of(tmp_path, {"drivers/Makefile": """\
        obj-$(CONFIG_COMP) += comp.o
        comp-y := a.o b.o
        comp-$(CONFIG_EXTRA) += c.o
        obj-$(CONFIG_OLD) += old.o
        old-objs := x.o y.o
        """})
    assert set(kmap.modules) == {"kernel/drivers/comp.ko", "kernel/drivers/old.ko"}
    assert kmap.modules["kernel/drivers/comp.ko"].own_symbols == ("COMP",)


def test_object_list_held_in_a_variable_needs_both_symbols(tmp_path):
    kmap = kmap_of(tmp_path, {"drivers/Makefile": """\
        user_access-$(CONFIG_INFINIBAND_ADDR_TRANS)	:= rdma_ucm.o
        obj-$(CONFIG_INFINIBAND_USER_ACCESS) += ib_uverbs.o $(user_access-y)
        """})
    ko = "kernel/drivers/rdma_ucm.ko"
    kinds = {c.symbol: c.kind for c in kmap.modules[ko].conditions}
    assert kinds == {"INFINIBAND_ADDR_TRANS": "builtin", "INFINIBAND_USER_ACCESS": "module"}
    on = {"INFINIBAND_ADDR_TRANS": "y", "INFINIBAND_USER_ACCESS": "m"}
    assert kmap.evaluate(ko, on).state == "module"
    assert kmap.evaluate(ko, {**on, "INFINIBAND_ADDR_TRANS": "n"}).symbols == ("INFINIBAND_ADDR_TRANS",)
    assert kmap.evaluate("kernel/drivers/ib_uverbs.ko", {**on, "INFINIBAND_ADDR_TRANS": "n"}).state == "module"


def test_obj_m_subdir_and_continuations(tmp_path):
    kmap = kmap_of(tmp_path, {
        "drivers/Makefile": "obj-m += always.o \\\n\tsecond.o\nsubdir-$(CONFIG_SUB) += sub\n"
                            "obj-$(CONFIG_A) += \\\n    third.o\n",
        "drivers/sub/Makefile": "obj-$(CONFIG_S) += s.o\n",
    })
    assert kmap.evaluate("kernel/drivers/always.ko", {}).state == "module"
    assert kmap.evaluate("kernel/drivers/second.ko", {}).state == "module"
    assert kmap.modules["kernel/drivers/third.ko"].conditions[0].where == "drivers/Makefile:4"
    assert [c.symbol for c in kmap.modules["kernel/drivers/sub/s.ko"].conditions] == ["SUB", "S"]


def test_conditional_blocks_become_part_of_the_chain(tmp_path):
    kmap = kmap_of(tmp_path, {"drivers/Makefile": """\
        ifdef CONFIG_P
        obj-$(CONFIG_X) += p.o
        else
        obj-$(CONFIG_X) += notp.o
        endif
        ifeq ($(CONFIG_Q),y)
        obj-m += q.o
        else ifeq ($(CONFIG_Q),m)
        obj-m += qm.o
        endif
        ifneq ($(CONFIG_R),)
        obj-m += r.o
        endif
        ifndef CONFIG_S
        obj-m += nots.o
        endif
        ifeq ($(CONFIG_A)$(CONFIG_B),yy)
        obj-m += ab.o
        endif
        """})
    ev = kmap.evaluate
    assert ev("kernel/drivers/p.ko", {"P": "y", "X": "m"}).state == "module"
    assert ev("kernel/drivers/p.ko", {"X": "m"}).symbols == ("P",)
    assert ev("kernel/drivers/notp.ko", {"X": "m"}).state == "module"
    assert ev("kernel/drivers/notp.ko", {"P": "y", "X": "m"}).state == "not-built"
    p_cond = kmap.modules["kernel/drivers/p.ko"].conditions[0]
    assert (p_cond.symbol, p_cond.kind, p_cond.where) == ("P", "ifdef", "drivers/Makefile:1")
    assert ev("kernel/drivers/q.ko", {"Q": "y"}).state == "module"
    assert ev("kernel/drivers/q.ko", {"Q": "m"}).state == "not-built"
    assert ev("kernel/drivers/qm.ko", {"Q": "m"}).state == "module"
    assert ev("kernel/drivers/qm.ko", {"Q": "y"}).state == "not-built"
    assert ev("kernel/drivers/r.ko", {"R": "m"}).state == "module"
    assert ev("kernel/drivers/r.ko", {"R": "n"}).state == "not-built"
    assert ev("kernel/drivers/nots.ko", {}).state == "module"
    assert ev("kernel/drivers/nots.ko", {"S": "y"}).state == "not-built"
    assert ev("kernel/drivers/ab.ko", {"A": "y", "B": "y"}).state == "module"
    assert ev("kernel/drivers/ab.ko", {"A": "y", "B": "m"}).state == "not-built"
    assert not kmap.unevaluated


def test_substituted_guards_descend_for_m_as_well(tmp_path):
    kmap = kmap_of(tmp_path, {
        "drivers/Makefile": "obj-$(CONFIG_NVRAM:m=y) += nv/\nobj-$(subst m,y,$(CONFIG_HV)) += hv/\n",
        "drivers/nv/Makefile": "obj-$(CONFIG_NVX) += nvx.o\n",
        "drivers/hv/Makefile": "obj-$(CONFIG_HVX) += hvx.o\n",
    })
    assert kmap.evaluate("kernel/drivers/nv/nvx.ko", {"NVRAM": "m", "NVX": "m"}).state == "module"
    assert kmap.evaluate("kernel/drivers/nv/nvx.ko", {"NVX": "m"}).symbols == ("NVRAM",)
    assert kmap.evaluate("kernel/drivers/hv/hvx.ko", {"HV": "m", "HVX": "m"}).state == "module"
    # Via obj-y, so built-in objects inside are linked even when HV=m.
    assert kmap.evaluate("kernel/drivers/hv/hvx.ko", {"HV": "y", "HVX": "y"}).state == "builtin"


def test_include_kbuild_over_makefile_and_ignored_lines(tmp_path):
    kmap = kmap_of(tmp_path, {
        "drivers/Makefile": """\
            ccflags-y += -DFOO $(call cc-option,-Wno-x)
            include $(srctree)/drivers/common.mk
            $(obj)/gen.o: $(src)/gen.c
            	obj-m += recipe.o
            obj-$(CONFIG_K) += kb/
            """,
        "drivers/common.mk": "obj-$(CONFIG_INC) += inc.o\n",
        "drivers/kb/Kbuild": "obj-$(CONFIG_FROM_KBUILD) += fromkbuild.o\n",
        "drivers/kb/Makefile": "obj-$(CONFIG_FROM_MAKEFILE) += frommakefile.o\n",
    })
    assert kmap.modules["kernel/drivers/inc.ko"].conditions[0].where == "drivers/common.mk:1"
    assert "kernel/drivers/kb/fromkbuild.ko" in kmap.modules
    assert "kernel/drivers/kb/frommakefile.ko" not in kmap.modules
    assert "kernel/drivers/recipe.ko" not in kmap.modules
    assert not kmap.unevaluated  # flags are not worth reporting


def test_unevaluable_constructs_are_recorded_with_file_line(tmp_path):
    kmap = kmap_of(tmp_path, {"drivers/Makefile": "obj-y += a.o\nobj-$(CONFIG_X) += $(shell ls *.o)\n"})
    assert any(where == "drivers/Makefile:2" and "shell" in text for where, text in kmap.unevaluated)


def test_objects_stamped_out_by_foreach_eval_call_of_a_define(tmp_path):
    # The two shapes Linux 7.x uses (drivers/platform/x86/intel/Makefile,
    # drivers/iommu/generic_pt/fmt/Makefile): module names made from a define per list word.
    kmap = kmap_of(tmp_path, {
        "drivers/Makefile": "obj-y += intel/\nobj-y += fmt/\n",
        "drivers/intel/Makefile": """\
            intel-target-$(CONFIG_INTEL_VSEC)\t+= vsec.o
            intel-target-$(CONFIG_INTEL_HID)\t+= hid.o
            define INTEL_OBJ_TARGET
            intel-$(1)-y := $(1).o
            obj-$(2) += intel-$(1).o
            endef
            $(foreach target, $(basename $(intel-target-y)), $(eval $(call INTEL_OBJ_TARGET,$(target),y)))
            $(foreach target, $(basename $(intel-target-m)), $(eval $(call INTEL_OBJ_TARGET,$(target),m)))
            """,
        "drivers/fmt/Makefile": """\
            fmt-$(CONFIG_PT_A) += amdv1
            define create_format
            obj-$(2) += iommu_$(1).o
            CFLAGS_kunit_iommu_$(1).o += -DKUNIT=1
            endef
            $(eval $(foreach fmt,$(fmt-y),$(call create_format,$(fmt),y)))
            $(eval $(foreach fmt,$(fmt-m),$(call create_format,$(fmt),m)))
            """,
    })
    vsec = "kernel/drivers/intel/intel-vsec.ko"
    assert kmap.modules[vsec].own_symbols == ("INTEL_VSEC",)
    assert kmap.modules[vsec].conditions[0].where == "drivers/intel/Makefile:1"
    assert kmap.evaluate(vsec, {"INTEL_VSEC": "m"}).state == "module"
    assert kmap.evaluate(vsec, {"INTEL_VSEC": "y"}).state == "builtin"
    assert kmap.evaluate(vsec, {"INTEL_HID": "m"}).state == "not-built"
    assert kmap.evaluate("kernel/drivers/intel/intel-hid.ko", {"INTEL_HID": "m"}).state == "module"
    assert kmap.evaluate("kernel/drivers/fmt/iommu_amdv1.ko", {"PT_A": "m"}).state == "module"
    assert not kmap.unevaluated


def test_override_under_condition_keeps_old_value_otherwise(tmp_path):
    kmap = kmap_of(tmp_path, {"drivers/Makefile": """\
        name := plain.o
        ifdef CONFIG_ALT
        name := alt.o
        endif
        obj-m += $(name)
        """})
    assert kmap.evaluate("kernel/drivers/plain.ko", {}).state == "module"
    assert kmap.evaluate("kernel/drivers/plain.ko", {"ALT": "y"}).state == "not-built"
    assert kmap.evaluate("kernel/drivers/alt.ko", {"ALT": "y"}).state == "module"


def test_arch_makefile_directory_lists(tmp_path):
    kmap = kmap_of(tmp_path, {
        "arch/x86/Makefile": "drivers-$(CONFIG_PCI) += arch/x86/pci/\nexport BITS := 64\n",
        "arch/x86/pci/Makefile": "obj-$(CONFIG_PCIX) += pcix_$(BITS).o\n",
    })
    ko = "kernel/arch/x86/pci/pcix_64.ko"
    assert [c.symbol for c in kmap.modules[ko].conditions] == ["PCI", "PCIX"]


def test_find_symbol_modules_and_pickle(tmp_path):
    kmap = kmap_of(tmp_path, {"drivers/Makefile": "obj-$(CONFIG_A) += intel-vsec.o\nobj-$(CONFIG_B) += "
                                                  "crc8.o\nobj-y += core.o\n"})
    assert kmap.find("intel_vsec") == ["kernel/drivers/intel-vsec.ko"]
    assert kmap.find("intel-vsec.ko") == ["kernel/drivers/intel-vsec.ko"]
    assert kmap.find("crc9") == ["kernel/drivers/crc8.ko"]
    assert kmap.symbol_modules("CONFIG_A") == ["kernel/drivers/intel-vsec.ko"]
    assert kmap.evaluate("kernel/drivers/core.ko", {}).state == "builtin"
    assert kmap.evaluate("kernel/drivers/nothing.ko", {}).known is False
    again = pickle.loads(pickle.dumps(kmap))
    assert again.modules == kmap.modules and again.find("crc8") == kmap.find("crc8")


def test_cache_reuses_and_notices_changes(tmp_path, monkeypatch):
    tree = mini_tree(tmp_path / "tree", {"drivers/Makefile": "obj-$(CONFIG_A) += a.o\n"})
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    first = load_kbuild_map(tree, "x86")
    (cached,) = (tmp_path / "cache" / "kbuild").glob("*.pickle")
    assert cached.name.startswith("6.12.1-x86-")
    assert load_kbuild_map(tree, "x86").modules == first.modules
    makefile = tree / "drivers/Makefile"
    makefile.write_text("obj-$(CONFIG_A) += a.o\nobj-$(CONFIG_B) += b.o\n")
    os.utime(makefile, ns=(1, 1))
    assert "kernel/drivers/b.ko" in load_kbuild_map(tree, "x86").modules
    explicit = load_kbuild_map(tree, "x86", cache_dir=tmp_path / "other")
    assert explicit.modules.keys() == {"kernel/drivers/a.ko", "kernel/drivers/b.ko"}
    assert (tmp_path / "other" / "kbuild").is_dir()


# ---------------------------------------------------------------- real trees

@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_talos_v110_lists_resolve_to_m_symbols_in_612(arch, maps_612):
    folder = talos_data("talos-v1.10")
    values = read_config_values(folder / f"pkgs/kernel/build/config-{arch}")
    kmap = maps_612[arch]
    entries = [e for e in (folder / f"talos/hack/modules-{arch}.txt").read_text().split() if e.endswith(".ko")]
    assert len(entries) > 90
    for entry in entries:
        assert kmap.evaluate(entry, values).state == "module", entry
        own = kmap.modules[entry].own_symbols
        assert own and any(values.get(s) == "m" for s in own), entry


def test_real_612_rules(maps_612):
    amd64 = maps_612["amd64"]
    assert amd64.symbol_modules("BLK_DEV_NBD") == ["kernel/drivers/block/nbd.ko"]
    e1000e = [(c.symbol, c.kind) for c in amd64.modules[
        "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko"].conditions]
    assert e1000e[-1] == ("E1000E", "module")
    assert ("NET_VENDOR_INTEL", "guard") in e1000e and ("ETHERNET", "guard") in e1000e
    ucm = {c.symbol: c.kind for c in amd64.modules["kernel/drivers/infiniband/core/rdma_ucm.ko"].conditions}
    assert ucm["INFINIBAND_ADDR_TRANS"] == "builtin" and ucm["INFINIBAND_USER_ACCESS"] == "module"
    # arch-specific directories come from arch/$(SRCARCH)/Makefile and Kbuild.
    assert any(p.startswith("kernel/arch/x86/") for p in amd64.modules)
    assert not any(p.startswith("kernel/arch/x86/") for p in maps_612["arm64"].modules)
    assert "kernel/arch/arm64/lib/xor-neon.ko" in maps_612["arm64"].modules
    assert amd64.kernel_version == "6.12.117"
    assert len(amd64.modules) > 5000 and len(amd64.unevaluated) < 40


def test_real_72_finds_moved_modules(maps_72):
    amd64 = maps_72["amd64"]
    assert amd64.kernel_version == "7.2.12"
    assert amd64.evaluate("kernel/crypto/xor.ko", {}).known is False
    assert "kernel/lib/raid/xor/xor.ko" in amd64.find("xor")
    # made by $(foreach ...$(eval $(call INTEL_OBJ_TARGET,...))) from intel-target-$(CONFIG_INTEL_VSEC)
    assert amd64.modules["kernel/drivers/platform/x86/intel/intel-vsec.ko"].own_symbols == ("INTEL_VSEC",)


def test_read_config_values_as_make_sees_them(tmp_path):
    config = tmp_path / "config-amd64"
    config.write_text("#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_A=y\nCONFIG_B=m\n"
                      "# CONFIG_C is not set\nCONFIG_S=\"x y\"\nCONFIG_N=0x10\n# a comment\n")
    assert read_config_values(config) == {"A": "y", "B": "m", "C": "n", "S": '"x y"', "N": "0x10"}
