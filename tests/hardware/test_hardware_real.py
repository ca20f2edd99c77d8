"""The device index against real builds: Debian's 6.12.117 amd64/arm64 kernel images (depmod's
modules.alias) and the patched source they were built from (/usr/src/linux-source-6.12.tar.xz,
read as a stream once per test session); and a real-format talosctl capture of four NICs on the
Talos v1.10 configs and module lists."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine_fixtures import ORACLE, SHARED, SOURCE

from talosnb.analyses.aliases import module_aliases
from talosnb.analyses.hardware import read_inputs
from talosnb.app.hardware import Hardware
from talosnb.core.arches import srcarch
from talosnb.inputs.checkouts import PkgsCheckout, TalosCheckout
from talosnb.inputs.kernel_tree import KernelTree
from talosnb.inputs.resolve import Inputs
from talosnb.kbuild import load_kbuild_map, read_config_values
from talosnb.kbuild.devices import load_device_index
from talosnb.present.hardware import compare_aliases

# What the lines of each kind must reach, as measured (README, "Hardware"): reproduced/real, and
# the share of printed lines not in the real build.
FLOOR = {"amd64": {"pci": 0.995, "usb": 0.999, "of": 0.999, "acpi": 0.999},
         "arm64": {"pci": 0.99, "usb": 0.999, "of": 0.995, "acpi": 0.999}}
MAX_EXTRA = 0.02
# slow: every case needs the device index of the whole 6.12.117 source (read cold once a run)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def index_env() -> dict[str, str]:
    """The cache (and its signing key's folder) the session's device index is in, for the
    command-line runs to find it there."""
    from talosnb.core.paths import cache_dir

    return {"TALOSNB_CACHE_DIR": str(cache_dir()),
            **({"TALOSNB_CONFIG_DIR": os.environ["TALOSNB_CONFIG_DIR"]} if "TALOSNB_CONFIG_DIR" in os.environ else {})}


@pytest.fixture(scope="session")
def device_index(index_env):
    """The whole 6.12.117 source read once (the expensive case; then from talosnb's cache)."""
    if not SOURCE.is_file():
        pytest.skip(f"{SOURCE} (apt-get install linux-source-6.12) is not here")
    return load_device_index(SOURCE, "6.12.117")


@pytest.fixture(scope="session")
def kbuild_612(trees):
    return {arch: load_kbuild_map(trees["6.12"], srcarch(arch)) for arch in ("amd64", "arm64")}


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_modules_alias_reproduces_debians_build(arch, device_index, kbuild_612):
    release = ORACLE / f"6.12.117+deb12-{arch}"
    if not (release / "modules.alias").is_file():
        pytest.skip(f"{release} (Debian's real build, .ci/oracle-builds) is not here")
    values = read_config_values(release / "config")
    lines = [a.line() for a in module_aliases(device_index, kbuild_612[arch], values)]
    figures = compare_aliases(lines, (release / "modules.alias").read_text())
    for kind, f in figures.items():
        assert f["real"] > 0, kind
        assert f["reproduced"] / f["real"] >= FLOOR[arch][kind], (kind, f)
        assert f["extra"] <= MAX_EXTRA * max(f["predicted"], 1), (kind, f)


def test_the_nic_capture_names_ice_e1000e_mlx5_bnxt(device_index, trees):
    data = SHARED / "data" / "talos-v1.10"
    inputs = Inputs(PkgsCheckout(data / "pkgs"), TalosCheckout(data / "talos"),
                    KernelTree.open(trees["6.12"], origin=SOURCE))
    hardware = Hardware.of(inputs, ["amd64", "arm64"])
    hardware._index = device_index
    devices = read_inputs([str(ROOT / "data" / "hardware" / "talosctl-pcidevices-nics.yaml")])
    reports = {r.device.driver: r for r in hardware.describe(devices)}
    expected = {"ice": ("ICE", "drivers/net/ethernet/intel/ice/ice_main.c"),
                "e1000e": ("E1000E", "drivers/net/ethernet/intel/e1000e/netdev.c"),
                "mlx5_core": ("MLX5_CORE", "drivers/net/ethernet/mellanox/mlx5/core/main.c"),
                "bnxt_en": ("BNXT", "drivers/net/ethernet/broadcom/bnxt/bnxt.c")}
    for driver, (symbol, source) in expected.items():
        report = reports[driver]
        assert report.driver_matches, driver
        (module,) = [m for m in report.modules if m.module == driver]
        assert symbol in module.symbols and module.entry.startswith(source + ":")
        for arch in ("amd64", "arm64"):
            config = read_config_values(data / "pkgs" / "kernel" / "build" / f"config-{arch}")
            assert module.values[arch][symbol] == config[symbol]
            assert module.state[arch] == ("module" if config[symbol] == "m" else "builtin")
            listed = module.listed[arch]
            if listed is not None:
                path, line = listed.rsplit(":", 1)
                assert Path(path).read_text().splitlines()[int(line) - 1] == module.ko
            else:
                assert module.ko not in (data / "talos" / "hack" / f"modules-{arch}.txt").read_text().split()
        assert not report.unsupported


def test_write_supports_a_device_the_way_set_add_to_module_list_does(device_index, trees, tmp_path):
    """An ASPEED BMC's VGA (1a03:2000) on Talos v1.10 amd64: ast claims it, DRM_AST is n; --write sets
    it to m and lists ast.ko, through the Workspace (the tree-drift guard asks for --allow-drop, as
    `set` does on a 6.12.63 config read with the 6.12.117 tree). The command's own code, over the
    session's 6.12.117 tree and device index (the full tarball is read once per test session)."""
    import shutil

    from talosnb.cli import hardware as command
    from talosnb.cli.main import build_parser

    data = SHARED / "data" / "talos-v1.10"
    for part in ("pkgs", "talos"):
        shutil.copytree(data / part, tmp_path / part)

    def lookup(*extra: str):
        argv = ["hardware", "--id", "1a03:2000", "--arch", "amd64", "--pkgs", str(tmp_path / "pkgs"),
                "--talos", str(tmp_path / "talos"), "--kernel-src", str(trees["6.12"]), "--format", "json", *extra]
        args = build_parser(argv).parse_args(argv)
        hardware = Hardware.open(args.pkgs, args.talos, args.kernel_src, arch=args.arch)
        hardware._index = device_index
        return command._lookup(args, hardware, hardware.describe(command._devices(args, [])))

    dry = lookup()
    assert dry.status == 1
    report = json.loads(json.dumps(dry.as_dict(), default=str))
    (device,) = report["devices"]
    assert device["unsupported"] == ["amd64"] and device["modules"][0]["module"] == "ast"
    assert report["support"]["assignments"] == {"amd64": ["DRM_AST=m"]}
    config = tmp_path / "pkgs" / "kernel" / "build" / "config-amd64"
    before = config.read_text()
    wrote = lookup("--write", "--allow-drop")
    assert wrote.status == 0, wrote.text()
    assert "# CONFIG_DRM_AST is not set" in before and "CONFIG_DRM_AST=m" in config.read_text()
    listed = (tmp_path / "talos" / "hack" / "modules-amd64.txt").read_text().splitlines()
    assert "kernel/drivers/gpu/drm/ast/ast.ko" in listed and listed == sorted(listed, key=lambda e: e.encode())
    # the change report of that write against the checkouts it was made from names the device it
    # supports now, and none of the NICs (their drivers are untouched)
    from talosnb.analyses.hardware import Device
    from talosnb.app.change import change_report_for
    from talosnb.app.session import Session
    from talosnb.present.change import change_text
    from talosnb.present.hardware import device_change_text
    from talosnb.present.markdown import change_markdown
    from talosnb.present.report import change_report_html

    head = Session.open(tmp_path / "pkgs", tmp_path / "talos", trees["6.12"], arch="amd64")
    devices = [*read_inputs([str(ROOT / "data" / "hardware" / "talosctl-pcidevices-nics.yaml")]),
               Device("pci", "node.txt:3", "0000:03:00.0", 0x1A03, 0x2000, description="ASPEED Graphics Family")]
    change = change_report_for(head, base_pkgs=data / "pkgs", base_talos=data / "talos", history=False,
                               devices=devices, device_index=device_index)
    (change_of_ast,) = change.arches["amd64"].devices
    assert change_of_ast.gained and not change_of_ast.lost
    moved = device_change_text(change_of_ast)
    assert moved.startswith("pci 1a03:2000 (ASPEED Graphics Family) at node.txt:3: supported after the change")
    assert "kernel/drivers/gpu/drm/ast/ast.ko not built -> kernel/drivers/gpu/drm/ast/ast.ko built as a module, " \
           "listed" in moved
    assert change.devices_given == len(devices) == 5 and f"devices: {moved}" in change_text(change)
    assert "#### Devices" in change_markdown(change) and "<h2" in change_report_html(change)
    assert ">Devices<" in change_report_html(change)


def test_hardware_tab_applies_the_change_in_the_workspace(device_index, trees, tmp_path):
    """The Hardware tab over Talos v1.10 (the session's 6.12.117 tree and device index): a pasted
    `lspci -nn` line of an ASPEED BMC's VGA shows ast unsupported on amd64; the button sets DRM_AST=m
    with ast.ko listed, in the Workspace (undoable, nothing written: the Save tab writes), and the
    table then shows it supported."""
    import shutil

    from talosnb.app.workspace import Workspace
    from talosnb.widgets import HardwareView

    data = SHARED / "data" / "talos-v1.10"
    for part in ("pkgs", "talos"):
        shutil.copytree(data / part, tmp_path / part)
    config = tmp_path / "pkgs" / "kernel" / "build" / "config-amd64"
    before = config.read_bytes()
    ws = Workspace.open(tmp_path / "pkgs", tmp_path / "talos", trees["6.12"], "amd64")
    view = HardwareView(ws, index=device_index, capture="0000:03:00.0 VGA compatible controller [0300]: ASPEED "
                        "Technology, Inc. ASPEED Graphics Family [1a03:2000] (rev 41)\n")
    (report,) = view.reports
    assert report.unsupported == ["amd64"] and report.modules[0].module == "ast"
    frame = view.table.frame
    assert not frame.empty and "ast" in set(frame.astype(str).stack())
    assert not view.fix_button.disabled and "DRM_AST=m" in view.fix_button.description
    view.fix_button.click()
    assert view.support is not None and not view.support.refused
    assert ws.written("amd64")["DRM_AST"] == "m"
    assert "kernel/drivers/gpu/drm/ast/ast.ko" in ws.module_list("amd64").entries
    assert "Save tab writes" in view.outcome.value and config.read_bytes() == before
    (report,) = view.reports
    assert report.unsupported == [] and view.fix_button.disabled
    ws.undo()
    assert ws.written("amd64")["DRM_AST"] == "n"
