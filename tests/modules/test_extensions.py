"""System extension module lists (siderolabs/extensions files/modules*.txt) as a third checkout:
found through pkg.yaml, checked like talos's lists on the arches they ship on, bad input named."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from talosnb.analyses.modules import ExtensionList, check_extension_lists
from talosnb.core.errors import InputError
from talosnb.inputs.checkouts import ExtensionsCheckout
from talosnb.kbuild import read_config_values

SHARED = ROOT.parent / "shared"
ARCHES = ("amd64", "arm64")


def data(release: str) -> Path:
    folder = SHARED / "data" / release
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder


def values(release: str) -> dict[str, dict[str, str]]:
    return {a: read_config_values(data(release) / "pkgs" / "kernel" / "build" / f"config-{a}") for a in ARCHES}


@pytest.mark.parametrize("release", ["talos-v1.10", "talos-main"])
def test_lists_found_per_arch_as_pkg_yaml_installs_them(release):
    checkout = ExtensionsCheckout(data(release) / "extensions")
    on_disk = sorted((data(release) / "extensions").glob("*/*/files/modules*.txt"))
    # every list file is read, none twice
    assert sorted(f.path for f in checkout.lists) == sorted(p.resolve() for p in on_disk)
    by_name = {(f.extension, f.path.name): f.arches for f in checkout.lists}
    # mei's pkg.yaml installs its modules.txt inside {{ if eq .ARCH "x86_64" }}: amd64 only
    assert by_name[("drivers/mei", "modules.txt")] == ("amd64",)
    assert by_name[("drivers/usb-modem", "modules-x86_64.txt")] == ("amd64",)
    assert by_name[("drivers/usb-modem", "modules-aarch64.txt")] == ("arm64",)
    # vc4 and panfrost are arm64 boards' GPUs
    assert by_name[("drm/vc4", "modules.txt")] == ("arm64",)
    for f in checkout.lists:
        assert f.installed_at is not None and f.installed_at.startswith(str(f.path.parent.parent / "pkg.yaml:"))


def test_v110_extension_lists_have_no_errors_against_612(maps_612):
    checkout = ExtensionsCheckout(data("talos-v1.10") / "extensions")
    lists = [ExtensionList.load(f) for f in checkout.lists]
    found = check_extension_lists(lists, values("talos-v1.10"), maps_612, tree_version="6.12.117",
                                  list_version="6.12.63")
    assert [f for f in found if f.level == "error"] == []
    # and they were checked: every .ko of every list on each arch it ships on
    assert sum(len([e for e in ext.module_list.entries if e.endswith(".ko")]) * len(ext.arches)
               for ext in lists) > 300


def test_an_extension_module_the_arch_does_not_build_is_an_error_naming_its_list(maps_612, tmp_path):
    source = data("talos-v1.10") / "extensions"
    shutil.copytree(source, tmp_path / "extensions")
    # intel's MEI is built on amd64 only: shipping mei.ko from an arm64 list fails the build
    target = tmp_path / "extensions" / "drivers" / "usb-modem" / "files" / "modules-aarch64.txt"
    target.write_text(target.read_text() + "kernel/drivers/misc/mei/mei.ko\n")
    checkout = ExtensionsCheckout(tmp_path / "extensions")
    lists = [ExtensionList.load(f) for f in checkout.lists]
    found = [f for f in check_extension_lists(lists, values("talos-v1.10"), maps_612, tree_version="6.12.117",
                                              list_version="6.12.63") if f.level == "error"]
    assert [(f.arch, f.kind, f.entry, f.details["list"]) for f in found] == [
        ("arm64", "not-built", "kernel/drivers/misc/mei/mei.ko", "extensions/drivers/usb-modem")]
    lines = target.read_text().splitlines()
    assert found[0].where == f"{target.resolve()}:{len(lines)}"
    assert "CONFIG_INTEL_MEI" in found[0].message


def _one_extension(tmp_path: Path) -> Path:
    root = tmp_path / "extensions"
    shutil.copytree(data("talos-v1.10") / "extensions" / "drivers" / "chelsio", root / "drivers" / "chelsio")
    return root


def test_bad_input_path_outside_usr_lib_modules(tmp_path):
    root = _one_extension(tmp_path)
    modules = root / "drivers" / "chelsio" / "files" / "modules.txt"
    lines = modules.read_text().splitlines()
    modules.write_text("\n".join([*lines[:4], "../../../etc/shadow", *lines[4:]]) + "\n")
    (source,) = ExtensionsCheckout(root).lists
    with pytest.raises(InputError) as e:
        ExtensionList.load(source)
    assert e.value.where == f"{modules.resolve()}:5"
    assert "outside /usr/lib/modules" in e.value.message


def test_bad_input_list_for_an_arch_talos_does_not_build(tmp_path):
    root = _one_extension(tmp_path)
    odd = root / "drivers" / "chelsio" / "files" / "modules-riscv64.txt"
    odd.write_text("modules.order\n")
    with pytest.raises(InputError) as e:
        ExtensionsCheckout(root)
    assert e.value.where == str(odd.resolve())
    assert "riscv64" in e.value.message and "x86_64" in (e.value.hint or "")


def test_bad_input_missing_files_folder(tmp_path):
    root = _one_extension(tmp_path)
    shutil.rmtree(root / "drivers" / "chelsio" / "files")
    pkg = root / "drivers" / "chelsio" / "pkg.yaml"
    line = next(n for n, text in enumerate(pkg.read_text().splitlines(), 1) if "xargs" in text)
    with pytest.raises(InputError) as e:
        ExtensionsCheckout(root)
    assert e.value.where == f"{pkg.resolve()}:{line}"
    assert "no files/ folder" in e.value.message


def test_cli_bad_extension_input_exits_2_naming_file_and_line(tmp_path, capsys, monkeypatch):
    from talosnb.cli.main import main

    root = _one_extension(tmp_path)
    modules = root / "drivers" / "chelsio" / "files" / "modules.txt"
    modules.write_text(modules.read_text() + "/lib/modules/6.12.63-talos/kernel/net/core/pktgen.ko\n")
    monkeypatch.setenv("TALOSNB_EXTENSIONS", str(root))
    status = main(["check", "--gate", "modules"])
    err = capsys.readouterr().err
    assert status == 2
    assert f"{modules.resolve()}:{len(modules.read_text().splitlines())}" in err
    assert "use kernel/net/core/pktgen.ko" in err


def test_modules_add_to_an_extension_list_appends_and_writes_only_that_list(tmp_path, capsys, monkeypatch):
    from talosnb.cli.main import main

    for name in ("pkgs", "talos", "extensions"):
        shutil.copytree(data("talos-v1.10") / name, tmp_path / name)
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC", "TALOSNB_EXTENSIONS"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "extensions" / "drivers" / "thunderbolt" / "files" / "modules.txt"
    before = target.read_text()
    args = ["modules", "add", "--pkgs", str(tmp_path / "pkgs"), "--talos", str(tmp_path / "talos"),
            "--extensions", str(tmp_path / "extensions"),
            "--kernel-src", str(SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz")]
    assert main([*args, "--list", "drivers/thunderbold", "nbd"]) == 2
    assert "did you mean extensions/drivers/thunderbolt" in capsys.readouterr().err
    assert main([*args, "--list", "extensions/drivers/thunderbolt", "nbd"]) == 0
    # upstream's extension lists are in the order modules were added: the new one goes last
    assert target.read_text() == before + "kernel/drivers/block/nbd.ko\n"
    for name in ("pkgs", "talos"):
        assert not [p for p in (tmp_path / name).rglob("*") if p.is_file()
                    and p.read_bytes() != (data("talos-v1.10") / name / p.relative_to(tmp_path / name)).read_bytes()]


def test_set_add_to_module_list_asks_which_list_when_an_extension_could_take_it(tmp_path, engine_cache):
    from engine_fixtures import open_session

    from talosnb.app.workspace import Workspace

    for name in ("pkgs", "talos", "extensions"):
        shutil.copytree(data("talos-v1.10") / name, tmp_path / name)
    session = open_session(engine_cache, pkgs=tmp_path / "pkgs", talos=tmp_path / "talos",
                           kernel_src=SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz",
                           extensions=tmp_path / "extensions", arch="amd64")
    ws = Workspace(session)
    af9013 = "kernel/drivers/media/dvb-frontends/af9013.ko"
    # cx23885 ships DVB frontends from the same folder: talos's list or the extension's is the user's call
    with pytest.raises(InputError) as e:
        ws.set(["DVB_AF9013=m"], add_to_module_list=True)
    assert "extensions/dvb/cx23885" in e.value.message and af9013 in e.value.message
    assert ws.configs["amd64"].written().get("DVB_AF9013", "n") == "n"     # nothing changed
    outcome = ws.set(["DVB_AF9013=m"], add_to_module_list="extensions/dvb/cx23885")
    assert outcome.modules["amd64"]["added"] == [af9013]
    (cx23885,) = ws.extension_list("extensions/dvb/cx23885")
    assert cx23885.module_list.entries[-1] == af9013
    assert af9013 not in ws.module_lists["amd64"]
    assert [p.name for p in ws.pending() if p.changed and p.kind != "config"] == ["dvb/cx23885/files/modules.txt"]
    ws.undo()
    assert af9013 not in cx23885.module_list.entries


def test_report_names_the_extensions_a_change_breaks(tmp_path, engine_cache):
    from engine_fixtures import open_session

    from talosnb.analyses.change import session_change_report
    from talosnb.present.change import change_json, change_text, extension_break_text

    for name in ("pkgs", "talos", "extensions"):
        shutil.copytree(data("talos-v1.10") / name, tmp_path / name)
    config = tmp_path / "pkgs" / "kernel" / "build" / "config-amd64"
    config.write_text(config.read_text().replace("CONFIG_PHONET=y\n", "# CONFIG_PHONET is not set\n"))
    tree = SHARED / "kernel" / "linux-6.12.117-kbuild.tar.xz"
    base = open_session(engine_cache, pkgs=data("talos-v1.10") / "pkgs", talos=data("talos-v1.10") / "talos",
                        kernel_src=tree, arch="amd64")
    head = open_session(engine_cache, pkgs=tmp_path / "pkgs", talos=tmp_path / "talos", kernel_src=tree,
                        extensions=tmp_path / "extensions", arch="amd64")
    report = session_change_report(base, head)
    broken = [extension_break_text(b) for b in report.arches["amd64"].extensions_broken]
    assert any("drivers/usb-modem's cdc-phonet.ko" in m and "CONFIG_USB_CDC_PHONET n" in m for m in broken)
    assert "extensions: " in change_text(report) and change_json(report)["arches"]["amd64"]["extensions_broken"] == broken


def test_the_embedded_sample_ships_three_extensions_and_the_gate_reads_them(engine_cache):
    from engine_fixtures import open_session

    from talosnb.app.workspace import Workspace

    ws = Workspace.of(open_session(engine_cache))     # no inputs: the sample, with its extensions
    overview = ws.lists_overview().set_index(["list", "arch"])
    assert overview["modules"].to_dict() == {
        ("talos", "amd64"): 12, ("talos", "arm64"): 9,
        ("extensions/drivers/usb-modem", "amd64"): 4, ("extensions/drivers/usb-modem", "arm64"): 3,
        ("extensions/misc/binfmt-misc", "amd64"): 1, ("extensions/misc/binfmt-misc", "arm64"): 1,
        ("extensions/storage/btrfs", "amd64"): 4, ("extensions/storage/btrfs", "arm64"): 4}
    extensions = overview.drop(index="talos", level="list")
    assert (extensions["error"] == 0).all() and (extensions["warning"] == 0).all()
    # a module an extension ships is not "left out" of talos's list
    findings = ws.findings()
    unlisted = set(findings[findings["kind"] == "unlisted-module"]["entry"])
    shipped = {e for ext in ws.extension_lists for e in ext.module_list.entries}
    assert unlisted and not unlisted & shipped

    # one shared modules.txt edited once; btrfs.ko then lacks what CONFIG_BTRFS_FS selects, on both arches
    ws.edit_modules("remove", ["xxhash_generic.ko"], list_id="extensions/storage/btrfs")
    findings = ws.findings()
    missing = findings[findings["kind"] == "possible-missing-dependency"]
    assert sorted(missing["arch"]) == ["amd64", "arm64"]
    assert set(missing["entry"]) == {"kernel/fs/btrfs/btrfs.ko"}
    assert set(missing["needs"]) == {"kernel/crypto/xxhash_generic.ko"}
    assert all("CONFIG_BTRFS_FS selects CRYPTO_XXHASH (fs/Kconfig:" in m for m in missing["message"])
    assert all(w.startswith("storage/btrfs/files/modules.txt:") for w in missing["where"])
    ws.undo()
    assert not (ws.findings()["kind"] == "possible-missing-dependency").any()
