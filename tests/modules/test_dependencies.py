"""Module dependencies without a build, each kind re-created from real data (Debian's 6.12.117 build
and the sources it was built from), checked against depmod's modules.dep where it is at hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine_fixtures import ORACLE, SHARED, SOURCE

from talosnb.analyses.dependencies import check_dependencies, closure, kconfig_selects, module_dependencies
from talosnb.analyses.modules import ModuleList
from talosnb.app.guards import unshipped_dependencies
from talosnb.kbuild import read_config_values
from talosnb.kbuild.symbols import scan

RELEASE = "6.12.117+deb12-amd64"
# The few source folders the cases below need, read from the full tarball once per session.
FOLDERS = ("drivers/media/mc", "drivers/media/usb/uvc", "drivers/edac")

UVC = "kernel/drivers/media/usb/uvc/uvcvideo.ko"
MC = "kernel/drivers/media/mc/mc.ko"
SKX = "kernel/drivers/edac/skx_edac.ko"
SKX_COMMON = "kernel/drivers/edac/skx_edac_common.ko"
VB2_VMALLOC = "kernel/drivers/media/common/videobuf2/videobuf2-vmalloc.ko"


@pytest.fixture(scope="module")
def debian_values() -> dict[str, str]:
    config = ORACLE / RELEASE / "config"
    if not config.is_file():
        pytest.skip(f"{config} (Debian's real build) is not here")
    return read_config_values(config)


def oracle_dep() -> dict[str, set[str]]:
    out = {}
    for line in (ORACLE / RELEASE / "modules.dep").read_text().splitlines():
        module, _, rest = line.partition(":")
        out[module.removesuffix(".xz")] = {d.removesuffix(".xz") for d in rest.split()}
    return out


@pytest.fixture(scope="module")
def partial_source(tmp_path_factory):
    if not SOURCE.is_file():
        pytest.skip(f"{SOURCE} (apt-get install linux-source-6.12) is not here")
    root = tmp_path_factory.mktemp("source")
    subprocess.run(["tar", "-xJf", str(SOURCE), "-C", str(root), "--strip-components=1",
                    *[f"linux-source-6.12/{folder}" for folder in FOLDERS]], check=True)
    return scan(root)


@pytest.fixture(scope="module")
def selects_x86(trees):
    from talosnb.kconfig.tree import KconfigTree
    return kconfig_selects(KconfigTree.load(trees["6.12"], "amd64").kconf)


def test_a_module_using_an_exported_symbol_needs_its_exporter(maps_612, debian_values, partial_source):
    deps = module_dependencies(maps_612["amd64"], debian_values, symbols=partial_source, modules=[UVC])
    (edge,) = [d for d in deps[UVC] if d.needs == MC]
    assert edge.kind == "symbol"
    assert edge.why.startswith("uses media_") and edge.why.endswith(", exported by mc.ko")
    assert edge.where is not None and edge.where.startswith("drivers/media/usb/uvc/")
    assert MC in oracle_dep()[UVC]


def test_a_module_built_by_the_same_symbol_as_its_shared_part(maps_612, debian_values, partial_source):
    # from Kbuild alone (no source): obj-$(CONFIG_EDAC_SKX) += skx_edac.o skx_edac_common.o, and
    # skx_edac_common.o is also built by EDAC_I10NM
    deps = module_dependencies(maps_612["amd64"], debian_values, modules=[SKX])
    assert [(d.needs, d.kind, d.why) for d in deps[SKX]] == [
        (SKX_COMMON, "kbuild", "built by the same symbol EDAC_SKX")]
    # with the source, the exports decide, and the shared symbol still says why
    deps = module_dependencies(maps_612["amd64"], debian_values, symbols=partial_source, modules=[SKX])
    (edge,) = [d for d in deps[SKX] if d.needs == SKX_COMMON]
    assert edge.why.startswith("built by the same symbol EDAC_SKX: uses skx_")
    assert SKX_COMMON in oracle_dep()[SKX]


def test_a_module_whose_symbol_selects_a_library_module(maps_612, debian_values, selects_x86):
    deps = module_dependencies(maps_612["amd64"], debian_values, selects=selects_x86, modules=[UVC])
    (edge,) = [d for d in deps[UVC] if d.needs == VB2_VMALLOC]
    assert edge.kind == "select"
    assert edge.why == "CONFIG_USB_VIDEO_CLASS selects VIDEOBUF2_VMALLOC (drivers/media/usb/uvc/Kconfig:2)"
    assert VB2_VMALLOC in oracle_dep()[UVC]


def test_closure_follows_dependencies_of_dependencies(maps_612, debian_values, partial_source):
    deps = module_dependencies(maps_612["amd64"], debian_values, symbols=partial_source)
    needs = closure(deps)
    assert MC in needs[UVC]
    assert all(ko not in needs[ko] for ko in needs)


def test_the_real_v110_list_missing_skx_edac_common_is_an_error(maps_612, debian_values, partial_source):
    # Talos v1.10 listed skx_edac.ko without skx_edac_common.ko: skx_edac failed with "Unknown symbol"
    # at boot (fixed upstream later, talos c64df2b61)
    folder = SHARED / "data" / "talos-v1.10"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    listed = ModuleList.load(folder / "talos" / "hack" / "modules-amd64.txt", "amd64")
    values = read_config_values(folder / "pkgs" / "kernel" / "build" / "config-amd64")
    deps = {"amd64": module_dependencies(maps_612["amd64"], values, symbols=partial_source,
                                         modules=listed.entries)}
    found = [f for f in check_dependencies({"amd64": listed}, [], deps) if f.entry == SKX]
    assert [(f.level, f.kind, f.details["needs"]) for f in found] == [("error", "missing-dependency", SKX_COMMON)]
    line = listed.entries.index(SKX) + 1
    assert found[0].where == f"{listed.path}:{line}"
    assert found[0].fix == f"add {SKX_COMMON} to modules-amd64.txt"
    assert "skx_edac.ko fails" in found[0].message
    # once listed, nothing is missing for it
    listed.add(SKX_COMMON)
    deps = {"amd64": module_dependencies(maps_612["amd64"], values, symbols=partial_source,
                                         modules=listed.entries)}
    assert [f for f in check_dependencies({"amd64": listed}, [], deps) if f.entry == SKX] == []


def test_the_guard_is_a_verdict_on_findings_before_and_after():
    error = {"arch": "amd64", "kind": "missing-dependency", "entry": SKX, "list": "talos", "needs": SKX_COMMON}
    other = {**error, "needs": "kernel/drivers/acpi/nfit/nfit.ko"}
    unrelated = {"arch": "amd64", "kind": "not-built", "entry": SKX, "list": "talos", "needs": None}
    assert unshipped_dependencies([], [error, unrelated]) == [error]
    assert unshipped_dependencies([error], [error, other]) == [other]
    assert unshipped_dependencies([error, other], [error]) == []
