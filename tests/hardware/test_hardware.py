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

ROOT = Path(__file__).resolve().parents[2]
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


SOURCE = Path("/usr/src/linux-source-6.12.tar.xz")
TALOS_110 = ROOT.parent / "shared" / "data" / "talos-v1.10"


@pytest.fixture
def checkouts(tmp_path, monkeypatch):
    """Copies of the Talos v1.10 pkgs and talos checkouts, and a cache and config folder of the test's own."""
    import shutil

    if not TALOS_110.is_dir():
        pytest.skip(f"{TALOS_110} is not here")
    for part in ("pkgs", "talos"):
        shutil.copytree(TALOS_110 / part, tmp_path / part)
    monkeypatch.setenv("TALOSNB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TALOSNB_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC", "TALOSNB_EXTENSIONS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _key(folder: Path, captures: list[tuple[str, str]], *extra: str) -> str | None:
    from talosnb.cli import hardware as command
    from talosnb.cli.main import build_parser

    argv = ["hardware", "--pkgs", str(folder / "pkgs"), "--talos", str(folder / "talos"),
            "--kernel-src", str(SOURCE), *extra]
    return command._answer_key(build_parser(argv).parse_args(argv), captures)


def test_a_kept_answer_is_keyed_by_everything_it_was_read_from(checkouts):
    """Changing a config, a module list, the capture or an option names another answer; a lookup that
    writes, or reads a kernel source folder (too costly to stamp), keeps none."""
    import os

    capture = [("node.yaml", (CAPTURES / "talosctl-pcidevices.yaml").read_text())]
    first = _key(checkouts, capture)
    assert first is not None and first == _key(checkouts, capture)
    assert _key(checkouts, [("node.yaml", capture[0][1].replace("0x1593", "0x1592"))]) != first
    assert _key(checkouts, capture, "--arch", "amd64") != first
    keys = {first}
    for changed in (checkouts / "pkgs/kernel/build/config-arm64", checkouts / "talos/hack/modules-amd64.txt",
                    checkouts / "pkgs/Pkgfile"):
        stat = changed.stat()
        os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        keys.add(_key(checkouts, capture))
    assert len(keys) == 4
    assert _key(checkouts, capture, "--write") is None
    assert _key(checkouts, capture, "--write", "--dry-run") is not None
    assert _key(checkouts, capture, "--toolchain", "host") is None
    from talosnb.cli import hardware as command
    from talosnb.cli.main import build_parser

    argv = ["hardware", "--pkgs", str(checkouts / "pkgs"), "--kernel-src", str(checkouts / "pkgs")]
    assert command._answer_key(build_parser(argv).parse_args(argv), capture) is None


def test_a_kept_answer_is_given_back_without_loading_anything_and_a_forged_one_is_not(checkouts):
    """The repeated question is answered from the kept (signed) answer in a process that never imports
    the Kconfig, Kbuild or device-index code; an answer file signed with another key is deleted with a
    warning and not used."""
    from talosnb.app import hardware_answers

    capture = CAPTURES / "lspci-nn.txt"
    key = _key(checkouts, [(str(capture), capture.read_text())])
    kept = {"payload": {"devices": ["kept"]}, "text": "the kept answer\n", "status": 1}
    hardware_answers.keep(key, kept)
    assert hardware_answers.recall(key) == {**kept, "key": key}
    probe = ("import sys, runpy; sys.argv = ['talosnb', 'hardware', *sys.argv[1:]]\n"
             "from talosnb.cli.main import main\ncode = main(sys.argv[1:])\n"
             "print('loaded:', sorted(m for m in sys.modules if m.startswith(('talosnb.kbuild', "
             "'talosnb.kconfig', 'talosnb.app.workspace'))))\nsys.exit(code)")
    env = {**os.environ}
    result = subprocess.run([sys.executable, "-c", probe, str(capture), "--pkgs", str(checkouts / "pkgs"), "--talos",
                             str(checkouts / "talos"), "--kernel-src", str(SOURCE)],
                            capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stdout == "the kept answer\nloaded: []\n"
    # signed with another user's key: not used, deleted, said
    os.environ["TALOSNB_CONFIG_DIR"] = str(checkouts / "other-config")
    from talosnb.core import cachefile

    cachefile._keys.clear()
    try:
        hardware_answers.keep(key, {**kept, "text": "forged\n"})
    finally:
        os.environ["TALOSNB_CONFIG_DIR"] = str(checkouts / "config")
        cachefile._keys.clear()
    with pytest.warns(Warning, match="damaged"):
        assert hardware_answers.recall(key) is None
    assert not list((checkouts / "cache" / "hardware-answers").glob("*.json"))


@pytest.mark.parametrize("tool", ["xz", "none"])
def test_the_tarball_reader_reads_long_names_and_refuses_a_cut_off_archive(tmp_path, monkeypatch, tool):
    """The stream reader (decompressed by xz beside it, or in-process without xz on PATH) gives the
    members tarfile gives, pax and GNU long names included, other arches' and tools' files left out;
    a cut-off tarball is a clear error."""
    import io
    import tarfile

    from talosnb.kbuild.devices import _files_of_tarball

    deep = "drivers/net/ethernet/" + "/".join(["averyveryverylongfoldername"] * 5) + "/table.c"
    files = {deep: b"static const struct pci_device_id t[] = { { 0 } };\n",
             "include/linux/pci_ids.h": b"#define PCI_VENDOR_ID_INTEL 0x8086\n",
             "arch/mips/pci/x.c": b"mips\n", "tools/x.c": b"tool\n", "README": b"not a source\n",
             "arch/arm64/kernel/y.c": b"arm64\n"}
    for fmt, name in ((tarfile.PAX_FORMAT, "pax.tar.xz"), (tarfile.GNU_FORMAT, "gnu.tar.xz")):
        with tarfile.open(tmp_path / name, "w:xz", format=fmt) as tf:
            for path, data in files.items():
                info = tarfile.TarInfo(f"linux-6.12/{path}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    if tool == "none":
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    for name in ("pax.tar.xz", "gnu.tar.xz"):
        got = dict(_files_of_tarball(tmp_path / name))
        assert got == {p: d for p, d in files.items() if p in (deep, "include/linux/pci_ids.h", "arch/arm64/kernel/y.c")}
    whole = (tmp_path / "pax.tar.xz").read_bytes()
    (tmp_path / "cut.tar.xz").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(InputError) as e:
        dict(_files_of_tarball(tmp_path / "cut.tar.xz"))
    assert e.value.where == str(tmp_path / "cut.tar.xz") and "cannot read the kernel tarball" in e.value.message


def test_a_makefiles_include_flags_are_where_a_quoted_include_is_searched():
    """csiostor's Makefile (Linux 6.12) adds cxgb4's folder, where the t4_pci_id_tbl.h its table
    includes lives; $(src) is the Makefile's folder; subdir-ccflags hold below it; a flag naming an
    absolute or unexpanded folder is left out."""
    from talosnb.kbuild.devices import include_flags

    assert include_flags("drivers/scsi/csiostor", "ccflags-y += -I$(srctree)/drivers/net/ethernet/chelsio/cxgb4\n"
                         "\nobj-$(CONFIG_SCSI_CHELSIO_FCOE) += csiostor.o\n") == \
        [("drivers/net/ethernet/chelsio/cxgb4", False)]
    assert include_flags("drivers/x", "ccflags-y := -I $(src)/../include \\\n\t-I/usr/include -I$(KDIR)/y\n"
                         "subdir-ccflags-y += -I$(srctree)/include/z\n") == \
        [("drivers/include", False), ("include/z", True)]
