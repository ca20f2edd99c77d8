"""The hardware lookup: captures in the real formats read exactly, bad input named by its line (exit 2),
a skeleton tree's missing C source said clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from talosnb.analyses.hardware import parse_capture, parse_modalias, read_inputs
from talosnb.core.errors import InputError
from talosnb.core.paths import data_dir

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = data_dir() / "hardware"


def cli(*args: str, tmp_path: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TALOSNB_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "talosnb", "hardware", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, input=stdin, check=False)


def test_talosctl_yaml_capture_reads_every_device_with_its_driver():
    devices = read_inputs([str(CAPTURES / "talosctl-pcidevices.yaml")])
    assert len(devices) == 40
    nic = next(d for d in devices if d.label == "0000:3b:00.0")
    assert (nic.bus, nic.vendor, nic.device, nic.driver) == ("pci", 0x8086, 0x1593, "ice")
    assert nic.cls == 0x020000 and nic.cls_known == 0xFFFF00
    assert nic.where.endswith("talosctl-pcidevices.yaml:578")   # its document starts there
    host = devices[0]
    assert host.driver is None and host.id == "8086:2020"


def test_json_lspci_and_lsusb_captures_name_the_same_devices():
    json_devices = read_inputs([str(CAPTURES / "talosctl-pcidevices.json")])
    assert [d.id for d in json_devices] == ["8086:15b7", "8086:1593", "15b3:101d", "14e4:16d7"]
    nn = read_inputs([str(CAPTURES / "lspci-nn.txt")])
    n = read_inputs([str(CAPTURES / "lspci-n.txt")])
    yaml_ids = [d.id for d in read_inputs([str(CAPTURES / "talosctl-pcidevices.yaml")])]
    assert [d.id for d in nn] == [d.id for d in n] == yaml_ids
    assert nn[0].description == "Intel Corporation Sky Lake-E DMI3 Registers"
    usb = read_inputs([str(CAPTURES / "lsusb.txt")])
    assert [d.id for d in usb][:2] == ["1d6b:0003", "0bda:8153"] and all(d.bus == "usb" for d in usb)


def test_modalias_lines_give_every_field():
    d = parse_modalias("pci:v00008086d00001593sv00008086sd00000005bc02sc00i00", "x")
    assert (d.vendor, d.device, d.subvendor, d.subdevice, d.cls, d.cls_known) == \
        (0x8086, 0x1593, 0x8086, 0x5, 0x020000, 0xFFFFFF)
    u = parse_modalias("usb:v0BDAp8153d3100dc00dsc00dp00icFFisc00ip00in00", "x")
    assert (u.vendor, u.device, u.usb[0], u.usb[4]) == (0x0BDA, 0x8153, 0x3100, 0xFF)
    kinds = [d.bus for d in read_inputs([str(CAPTURES / "modalias.txt")])]
    assert kinds == ["pci", "pci", "usb", "acpi", "of"]
    assert [d.name for d in read_inputs([str(CAPTURES / "compatible.txt")])] == [
        "rockchip,rk3588-gmac", "brcm,bcm2711-genet-v5", "nvidia,tegra234-mgbe"]


@pytest.mark.parametrize("text,where,words", [
    ("00:1f.6 Ethernet controller: Intel Corporation Ethernet Connection (2) I219-LM (rev 31)\n", ":1",
     "an lspci line without IDs"),
    ("00:00.0 0600: 8086:2020\nnonsense here\n", ":2", "no device in"),
    ("pci:v00008086d0000XXXX\n", ":1", "not a modalias"),
])
def test_bad_lines_name_the_line(text, where, words):
    with pytest.raises(InputError) as e:
        parse_capture(text, "capture.txt")
    assert e.value.where == f"capture.txt{where}" and words in e.value.message


def test_truncated_yaml_and_bad_ids_exit_2_naming_the_input(tmp_path):
    whole = (CAPTURES / "talosctl-pcidevices-nics.yaml").read_text()
    cut = whole[:whole.index('vendor_id: "0x15b3"') + 14]
    result = cli("-", tmp_path=tmp_path, stdin=cut)
    assert result.returncode == 2, result.stderr
    assert "<stdin>:" in result.stderr and "YAML" in result.stderr and "Traceback" not in result.stderr
    result = cli("--id", "80G6:1593", tmp_path=tmp_path)
    assert result.returncode == 2 and "--id 1" in result.stderr and "hex" in result.stderr
    assert "Traceback" not in result.stderr
    bad = tmp_path / "spec.yaml"
    bad.write_text("node: a\nmetadata:\n    id: x\nspec:\n    vendor_id: \"0x8086\"\n    product_id: \"0xZZ\"\n")
    result = cli(str(bad), tmp_path=tmp_path)
    assert result.returncode == 2 and f"{bad}:1" in result.stderr and "product_id" in result.stderr


def test_the_embedded_sample_has_no_c_source_and_says_how_to_get_it(tmp_path):
    result = cli("--id", "8086:1593", "--format", "json", tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout
    assert "no C files" in result.stderr and "linux-source-6.12" in result.stderr
    assert "Traceback" not in result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["exit_code"] == 2 and error["where"].endswith("data/sample/linux")
