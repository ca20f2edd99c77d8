"""talosnb.widgets on the embedded sample: the Workspace actions on their own, then the views
driven as a person would (typing into .value, .click()), asserting on what they show."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import SAMPLE

from talosnb.analyses import edit
from talosnb.analyses.compare import by_status, compare
from talosnb.analyses.modules import ModuleList
from talosnb.app.session import Session
from talosnb.core.dotconfig import read_values as written_values
from talosnb.core.errors import FileChangedError, InputError, RefusedError
from talosnb.present.workspace import pending_text, workspace_text
from talosnb.widgets import (
    CompareView,
    ExploreView,
    ModulesView,
    SaveView,
    Workbench,
    Workspace,
    workbench,
)


@pytest.fixture
def ws(sample) -> Workspace:
    return Workspace.open(sample / "pkgs", sample / "talos", sample / "linux")


def _sample_bytes() -> dict[str, bytes]:
    return {str(p.relative_to(SAMPLE)): p.read_bytes() for p in sorted(SAMPLE.rglob("*")) if p.is_file()}


def _config(sample: Path, arch: str) -> Path:
    return sample / "pkgs" / "kernel" / "build" / f"config-{arch}"


def _list(sample: Path, arch: str) -> Path:
    return sample / "talos" / "hack" / f"modules-{arch}.txt"


# --- the Workspace: every action as a plain call --------------------------------


def test_open_loads_configs_lists_and_kbuild_maps(ws, sample):
    assert ws.arches == ["amd64", "arm64"]
    assert set(ws.module_lists) == {"amd64", "arm64"}
    assert ws.scratch is None                      # explicit paths: no copy
    assert ws.configs["amd64"].source == str(_config(sample, "amd64").resolve())
    assert {m.srcarch for m in ws.kbuild_maps.values()} == {"x86", "arm64"}
    assert "Linux 6.12.0" in workspace_text(ws) and str(sample) not in workspace_text(ws)


def test_the_embedded_sample_is_worked_on_through_a_scratch_copy():
    before = _sample_bytes()
    ws = Workspace.open()
    assert ws.scratch is not None and ws.scratch.name.startswith("talosnb-scratch-")
    assert ws.session.inputs.sample and "embedded sample" in workspace_text(ws)
    assert Path(ws.configs["amd64"].source).is_relative_to(ws.scratch)
    assert ws.module_lists["arm64"].path.is_relative_to(ws.scratch)
    ws.set(["DUMMY=m"])
    ws.edit_modules("add", ["kernel/drivers/net/dummy.ko"], ["arm64"])
    result = ws.save()
    assert {p.name for p in result.written} == {"config-amd64", "config-arm64", "modules-arm64.txt"}
    assert written_values(Path(ws.configs["amd64"].source).read_text())["DUMMY"] == "m"
    assert "cd <your pkgs checkout>" in result.command and "scratch copy" in result.command
    assert _sample_bytes() == before                # data/sample untouched
    scratch = ws.scratch
    del ws, result
    import gc

    gc.collect()
    assert not scratch.exists()                     # removed with the workspace


def test_save_refuses_to_write_inside_the_sample():
    session = Session.open()                         # the sample itself, not a copy
    ws = Workspace(session)
    ws.set(["DUMMY=m"])
    with pytest.raises(InputError, match="read-only"):
        ws.save()
    assert "# CONFIG_DUMMY is not set" in _config(SAMPLE, "amd64").read_text()


def test_set_cascade_refusal_fix_and_undo_without_widgets(ws):
    changes = ws.set(["DUMMY=m"])
    assert all(c.applied and c.results["DUMMY"] == "m" for c in changes.values())
    refused = ws.set(["MVPP2=m"], arches=["amd64"])["amd64"]
    assert not refused.applied and [str(a) for a in refused.refusals[0].fix.assignments] == ["COMPILE_TEST=y"]
    assert len(ws.history) == 1                     # a refusal is not an undoable change
    ws.symbol_view("MVPP2")                         # a view reads the values in between
    fixed = ws.apply_fix("amd64", refused.refusals[0])["amd64"]
    assert [(c.symbol, c.old, c.new) for c in fixed.cascade] == [("COMPILE_TEST", "n", "y"), ("MVPP2", None, "m")]
    assert fixed.applied and ws.configs["amd64"].value("MVPP2") == "m"
    assert ws.configs["amd64"].value("COMPILE_TEST") == "y"
    assert ws.undo().what == "COMPILE_TEST=y MVPP2=m"
    assert ws.configs["amd64"].value("MVPP2") == "n" and ws.configs["amd64"].value("DUMMY") == "m"
    ws.findings()                                   # read again after the undo, then change once more
    # PCI=n stops building ena.ko, which the amd64 list names: refused, as the command line refuses it
    blocked = ws.set(["PCI=n"], arches=["amd64"])
    assert "hack/modules-ARCH.txt lists modules" in blocked.blocked and not blocked.applied
    assert ws.configs["amd64"].value("PCI") == "y" and len(ws.history) == 1
    again = ws.set(["PCI=n"], arches=["amd64"], ignore_module_list=True)["amd64"]
    assert {c.symbol for c in again.cascade} >= {"PCI", "VIRTIO_PCI", "E1000E"} and "MVPP2" not in {
        c.symbol for c in again.cascade}
    ws.undo()
    # undo only touches the arches the change touched: arm64's DUMMY=m stays until its own undo
    ws.set(["COMPILE_TEST=y"], arches=["arm64"])
    ws.undo()
    assert ws.configs["arm64"].value("DUMMY") == "m"
    assert ws.undo().arches == ["amd64", "arm64"]
    assert {a: c.value("DUMMY") for a, c in ws.configs.items()} == {"amd64": "n", "arm64": "n"}
    assert ws.undo() is None


def test_listeners_hear_each_change_and_caches_follow(ws):
    heard = []
    ws.on_change(heard.append)
    before = ws.findings()
    assert ws.findings() is before                  # cached while nothing changes
    ws.set(["DUMMY=m"], arches=["amd64"])
    assert heard == ["config"]
    after = ws.findings()
    # the amd64 list's "dummy.ko is not built" error is gone once amd64 builds it as a module
    assert "not-built" in set(before[before["arch"] == "amd64"]["kind"])
    assert "not-built" not in set(after[after["arch"] == "amd64"]["kind"])
    ws.undo()
    assert heard == ["config", "undo"]


def test_module_edits_check_undo_and_refuse_names_that_name_nothing(ws):
    frame = ws.findings()
    assert list(frame[frame["level"] == "error"]["where"]) == ["hack/modules-amd64.txt:6",
                                                               "hack/modules-arm64.txt:4"]
    edits = ws.edit_modules("remove", ["kernel/drivers/block/nbd.ko"], ["arm64"])
    assert edits["arm64"].changed == ["kernel/drivers/block/nbd.ko"] and edits["arm64"].errors == []
    assert ws.check_counts()["arm64"]["error"] == 0
    assert ws.module_lists["arm64"].changed()
    ws.undo()
    assert not ws.module_lists["arm64"].changed()
    with pytest.raises(InputError, match="names nothing"):
        ws.edit_modules("add", ["dummy", "no_such_module_xyz"])
    assert not any(m.changed() for m in ws.module_lists.values())   # dummy was not added either


def test_pending_save_and_refusal_when_a_file_changed_on_disk(ws, sample):
    assert not any(p.changed for p in ws.pending())
    assert ws.save().written == []
    ws.set(["DUMMY=m"])
    ws.edit_modules("add", ["dummy"], ["arm64"])
    pending = {p.name: p for p in ws.pending()}
    assert list(pending) == ["config-amd64", "config-arm64", "modules-amd64.txt", "modules-arm64.txt"]
    assert pending["config-amd64"].lines == ["DUMMY n -> m"] and pending["config-amd64"].label == \
        "pkgs: kernel/build/config-amd64"
    assert "+kernel/drivers/net/dummy.ko" in pending["modules-arm64.txt"].lines
    assert not pending["modules-amd64.txt"].changed
    # someone edits config-arm64 meanwhile: nothing at all is written
    theirs = _config(sample, "arm64").read_text() + "# edited elsewhere\n"
    _config(sample, "arm64").write_text(theirs)
    amd64_before = _config(sample, "amd64").read_bytes()
    with pytest.raises(FileChangedError) as caught:
        ws.save()
    assert caught.value.files == ("config-arm64",)
    assert _config(sample, "amd64").read_bytes() == amd64_before
    assert _config(sample, "arm64").read_text() == theirs
    # force: everything is written, atomically, in the kernel's format
    result = ws.save(force=True)
    assert [p.name for p in result.written] == ["config-amd64", "config-arm64", "modules-arm64.txt"]
    for arch in ("amd64", "arm64"):
        assert written_values(_config(sample, arch).read_text())["DUMMY"] == "m"
        assert _config(sample, arch).read_text() == ws.configs[arch].text()
    assert "kernel/drivers/net/dummy.ko" in ModuleList.load(_list(sample, "arm64"), "arm64").entries
    assert not any(p.changed for p in ws.pending())
    assert "make kernel PLATFORM=linux/amd64,linux/arm64" in result.command
    assert f"cd {ws.session.inputs.pkgs.path}" in result.command


def test_save_refuses_to_drop_lines_for_symbols_the_tree_does_not_define(sample):
    config = _config(sample, "amd64")
    config.write_text(config.read_text() + "CONFIG_NO_SUCH_SYMBOL_XYZ=y\n")
    ws = Workspace.open(sample / "pkgs", sample / "talos", sample / "linux")
    view = SaveView(ws)
    # loading dropped the line already: writing would lose it, and the view says so in red
    assert not view.allow_drop.disabled and not view.write_button.disabled and "talosnb-err" in view.pending.value
    pending = {p.name: p for p in ws.pending()}
    assert pending["config-amd64"].dropped == ["CONFIG_NO_SUCH_SYMBOL_XYZ"]
    assert "-NO_SUCH_SYMBOL_XYZ y" in pending["config-amd64"].lines
    assert "WARNING: 1 line(s) name symbols this kernel tree doesn't define" in pending_text(ws.pending())
    ws.set(["DUMMY=m"])
    before = {arch: _config(sample, arch).read_bytes() for arch in ("amd64", "arm64")}
    view.write_button.click()
    # refused like the command line refuses it (exit 1 there): a refusal to protect the user's data
    assert isinstance(view.last_error, RefusedError) and "NO_SUCH_SYMBOL_XYZ" in view.result.value
    assert {arch: _config(sample, arch).read_bytes() for arch in ("amd64", "arm64")} == before
    view.allow_drop.value = True
    view.write_button.click()
    assert view.last_error is None and "NO_SUCH_SYMBOL_XYZ" not in config.read_text()


def test_overview_and_symbol_view(ws):
    view = ws.symbol_view("CONFIG_MVPP2")
    assert view["symbol"] == "MVPP2" and view["type"] == "tristate"
    assert view["arches"]["amd64"]["assignable"] == [] and "m" in view["arches"]["arm64"]["assignable"]
    assert view["defined_at"] == ["drivers/net/ethernet/Kconfig:40"]
    msr = ws.symbol_view("X86_MSR")
    assert msr["arches"]["arm64"] is None and msr["arches"]["amd64"]["value"] == "m"   # x86 only
    with pytest.raises(InputError, match="did you mean"):
        ws.symbol_view("DUMY")
    table = ws.overview()
    assert list(table.index) == ["amd64", "arm64"]
    assert table.loc["amd64", "list errors"] == 1 and table.loc["arm64", "list errors"] == 1


# --- the views, driven in Python ---------------------------------------------------


def test_workbench_search_select_set_cascade_refusal_fix_undo_save(sample):
    wb = workbench(pkgs=sample / "pkgs", talos=sample / "talos", kernel_src=sample / "linux")
    assert isinstance(wb, Workbench) and wb.titles == ("Compare", "Explore & toggle", "Menu tree", "Modules", "Build gates",
                                                  "Workloads", "Hardware", "Save", "Upgrade")
    ex = wb.explore
    wb.selected_index = 1

    # search -> live results -> select
    ex.search_box.value = "dumm"
    assert [v for _, v in ex.results.options] == ["DUMMY"]
    ex.results.value = "DUMMY"
    assert ex.symbol == "DUMMY" and "Dummy net driver support" in ex.panel.value
    assert "drivers/net/Kconfig" in ex.panel.value
    assert set(ex.value_buttons) == {(t, v) for t in ("amd64", "arm64", "both") for v in "ymn"}
    assert ex.value_buttons[("both", "n")].button_style == "success"     # the current value

    # set on both arches -> the cascade per arch
    ex.value_buttons[("both", "m")].click()
    assert all(c.applied for c in ex.last_changes.values())
    assert "amd64 (6.12.0): 1 change(s)" in ex.cascade_text and "arm64 (6.12.0): 1 change(s)" in ex.cascade_text
    shown = [w.value for w in ex.outcome.children if "talosnb-add-modules" not in w._dom_classes]
    assert len(shown) == 2 and all("<code>DUMMY</code></td><td>n</td><td>m</td>" in v for v in shown)
    assert ex.value_buttons[("both", "m")].button_style == "success"
    assert "<b>m</b>" in ex.panel.value

    # a long cascade: PCI=n on amd64 stops building a listed module, so it is refused like `talosnb set`
    # refuses it, until asked for anyway
    ex.select("PCI")
    ex.value_buttons[("amd64", "n")].click()
    assert not ex.last_changes["amd64"].applied and ws_value(wb, "amd64", "PCI") == "y"
    assert "Not changed: hack/modules-ARCH.txt lists modules" in ex.outcome.children[0].value
    assert "ena.ko" in ex.outcome.children[0].value
    ex.override_button.click()
    pci = ex.last_changes["amd64"]
    assert pci.applied and len(pci.cascade) > 5
    assert "VIRTIO_PCI" in ex.outcome.children[0].value
    ex.undo_button.click()
    assert "undid PCI=n on amd64" in ex.status.value
    assert ws_value(wb, "amd64", "PCI") == "y"

    # refusal -> why-not tree with file:line -> apply verified fix
    ex.select("MVPP2")
    assert ex.value_buttons[("amd64", "m")].button_style == "warning"
    ex.value_buttons[("amd64", "m")].click()
    refusal_html = ex.outcome.children[0].value
    assert "MVPP2=m</b> can't take effect" in refusal_html and "drivers/net/ethernet/Kconfig:40" in refusal_html
    assert "[fixed: no assignment changes it]" in refusal_html and "COMPILE_TEST=y" in refusal_html
    assert set(ex.fix_buttons) == {"amd64"}
    assert ex.fix_buttons["amd64"].description == "apply verified fix on amd64: COMPILE_TEST=y MVPP2=m"
    assert ws_value(wb, "amd64", "MVPP2") == "n"
    ex.fix_buttons["amd64"].click()
    assert ex.last_changes["amd64"].applied and "MVPP2: (no line) -> m" in ex.cascade_text
    assert ws_value(wb, "amd64", "MVPP2") == "m" and ws_value(wb, "amd64", "COMPILE_TEST") == "y"

    # undo the fix; DUMMY=m (the change before it) stays
    ex.undo_button.click()
    assert "undid COMPILE_TEST=y MVPP2=m on amd64" in ex.status.value
    assert ws_value(wb, "amd64", "MVPP2") == "n" and ws_value(wb, "amd64", "DUMMY") == "m"

    # the edit shows up in the other tabs: the amd64 list error (dummy.ko not built) is gone
    wb.show(wb.modules)
    assert "<b>amd64</b>: 0 error" in wb.modules.counts.value
    wb.selected_index = 0
    assert "DUMMY" not in set(wb.compare.filtered()["symbol"])   # now the same on both arches

    # save: the pending diff, then the files written
    wb.show(wb.save)
    save = wb.save
    assert "DUMMY n -&gt; m" in save.pending.value and save.write_button.description == "write 2 file(s)"
    save.write_button.click()
    assert save.last_error is None and [p.name for p in save.last_result.written] == ["config-amd64",
                                                                                      "config-arm64"]
    assert "make kernel PLATFORM=linux/amd64,linux/arm64" in save.result.value
    for arch in ("amd64", "arm64"):
        assert written_values(_config(sample, arch).read_text())["DUMMY"] == "m"
    assert save.write_button.disabled

    # another change, but config-amd64 changed on disk meanwhile: refused, clearly, nothing written
    wb.selected_index = 1
    ex.select("WIREGUARD")
    ex.value_buttons[("both", "y")].click()
    # built in, wireguard.ko is no longer there to copy: refused until asked for anyway
    assert "lists modules this change stops building" in ex.outcome.children[0].value
    ex.override_button.click()
    assert all(c.applied for c in ex.last_changes.values())
    theirs = _config(sample, "amd64").read_text().replace("CONFIG_LOG_BUF_SHIFT=18", "CONFIG_LOG_BUF_SHIFT=17")
    _config(sample, "amd64").write_text(theirs)
    arm64_before = _config(sample, "arm64").read_text()
    wb.show(wb.save)
    save.write_button.click()
    assert save.last_result is None and isinstance(save.last_error, FileChangedError)
    assert "Not written." in save.result.value and "config-amd64" in save.result.value
    assert "talosnb-err" in save.result.value
    assert _config(sample, "amd64").read_text() == theirs and _config(sample, "arm64").read_text() == arm64_before
    # overwriting is a deliberate choice
    save.force.value = True
    save.write_button.click()
    assert save.last_error is None
    assert written_values(_config(sample, "amd64").read_text())["WIREGUARD"] == "y"


def test_explore_shows_the_module_behind_a_symbol_and_lists_it_after_a_set(sample):
    wb = workbench(pkgs=sample / "pkgs", talos=sample / "talos", kernel_src=sample / "linux")
    ex = wb.explore
    ex.select("DUMMY")
    # the panel: per arch the .ko, and where the list has it (the sample lists dummy.ko on amd64 only)
    assert "kernel/drivers/net/dummy.ko: not built, listed at hack/modules-amd64.txt:" in ex.panel.value
    assert "kernel/drivers/net/dummy.ko: not built, not in the module list" in ex.panel.value
    ex.value_buttons[("both", "m")].click()
    button = ex.add_modules_button
    assert button is not None and button.description == ("add to the module list: kernel/drivers/net/dummy.ko "
                                                          "(hack/modules-arm64.txt)")
    assert "kernel/drivers/net/dummy.ko" not in wb.workspace.module_lists["arm64"]
    button.click()
    assert "kernel/drivers/net/dummy.ko" in wb.workspace.module_lists["arm64"] and button.disabled
    assert "added kernel/drivers/net/dummy.ko to hack/modules-arm64.txt" in ex.status.value
    assert "built as a module, listed at hack/modules-arm64.txt (added, not saved)" in ex.panel.value
    ex.undo_button.click()                     # the addition is its own step
    assert "kernel/drivers/net/dummy.ko" not in wb.workspace.module_lists["arm64"]
    assert ws_value(wb, "arm64", "DUMMY") == "m"


def ws_value(wb: Workbench, arch: str, name: str) -> str:
    return wb.workspace.configs[arch].value(name)


def test_modules_view_filters_edits_and_jumps_to_the_symbol(sample):
    wb = workbench(pkgs=sample / "pkgs", talos=sample / "talos", kernel_src=sample / "linux",
                   extensions=sample / "extensions")
    wb.show(wb.modules)
    mv = wb.modules
    assert mv.counts.value == ("<b>amd64</b>: 1 error, 0 warning, 3 info; "
                               "<b>arm64</b>: 1 error, 0 warning, 3 info")
    labels = [label for label, _ in mv.findings_list.options]
    assert len(labels) == 2 and all(label.startswith("error") for label in labels)
    mv.level.value = ("info",)
    mv.arch.value = "arm64"
    assert len(mv.findings_list.options) == 3
    mv.text.value = "vsock"
    assert [label.split()[-1] for label, _ in mv.findings_list.options] == [
        "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko", "kernel/net/vmw_vsock/vsock.ko"]
    # an unlisted module: add it to the list from the finding
    mv.findings_list.value = mv.findings_list.options[1][1]
    assert not mv.add_entry_button.disabled and mv.remove_entry_button.disabled
    mv.add_entry_button.click()
    assert "kernel/net/vmw_vsock/vsock.ko" in wb.workspace.module_lists["arm64"].entries
    assert "added kernel/net/vmw_vsock/vsock.ko" in mv.edit_result.value
    assert mv.findings_list.options[0][0].endswith("vmw_vsock_virtio_transport.ko")   # no longer unlisted
    # the error on arm64: nbd.ko is built in; remove it by typing the module name
    mv.level.value = ("error",)
    mv.text.value = ""
    mv.entry_text.value = "nbd"
    mv.entry_arch.value = "arm64"
    mv.remove_button.click()
    assert "kernel/drivers/block/nbd.ko" not in wb.workspace.module_lists["arm64"].entries
    assert "<b>arm64</b>: 0 error" in mv.counts.value
    mv.undo_button.click()
    assert "kernel/drivers/block/nbd.ko" in wb.workspace.module_lists["arm64"].entries
    # a typo is reported, nothing changes
    mv.entry_text.value = "no_such_module_xyz"
    mv.add_button.click()
    # worded as the command line words it
    assert "no module named no_such_module_xyz" in mv.edit_result.value and "nothing changed" in mv.edit_result.value
    # jump from a finding to the symbol panel
    mv.arch.value = mv.ANY
    mv.findings_list.value = next(v for label, v in mv.findings_list.options if "nbd.ko" in label)
    assert mv.open_symbol_button.description == "show BLK_DEV_NBD"
    mv.open_symbol_button.click()
    assert wb.selected_index == 1 and wb.explore.symbol == "BLK_DEV_NBD"
    assert "CONFIG_BLK_DEV_NBD" in wb.explore.panel.value
    # and from there the fix the finding suggested: BLK_DEV_NBD=m on arm64 clears the error
    wb.explore.value_buttons[("arm64", "m")].click()
    wb.show(wb.modules)
    assert "<b>arm64</b>: 0 error" in mv.counts.value


def test_compare_view_filters_pages_and_plot(ws):
    view = CompareView(ws, page_size=5)
    df = compare(ws.session)
    default = by_status(df, "differs", "amd64-only", "arm64-only")
    assert len(view.filtered()) == len(default) and f"<b>{len(default)}</b> of {len(df)}" in view.matched.value
    assert bytes(view.plot.value).startswith(b"\x89PNG")
    assert view.table.position.value == f"rows 1-5 of {len(default)}"
    view.table.next_button.click()
    assert view.table.position.value.startswith("rows 6-10")
    assert list(view.table.rows()["symbol"]) == list(default["symbol"].iloc[5:10])
    view.status.value = ("differs",)
    view.text.value = "posix"
    assert set(view.filtered()["status"]) == {"differs"} and len(view.filtered()) == 2
    assert all("posix" in (r.symbol + str(r.prompt) + str(r.help)).lower() for r in view.filtered().itertuples())
    view.text.value = ""
    view.menu.value = "Device Drivers"
    assert set(view.filtered()["menu"]) == {"Device Drivers"}
    # an edit elsewhere shows up here (the view refreshes itself when standalone)
    view.menu.value = view.ANY_MENU
    assert "CUSE" in set(view.filtered()["symbol"])   # m on amd64, n on arm64
    ws.set(["CUSE=n"], arches=["amd64"], ignore_module_list=True)   # cuse.ko is listed for amd64
    assert "CUSE" not in set(view.filtered()["symbol"])
    assert f"<b>{len(view.filtered())}</b> of {len(df)}" in view.matched.value


def test_standalone_views_share_one_workspace(ws, sample):
    explore, modules, save = ExploreView(ws, symbol="DUMMY"), ModulesView(ws), SaveView(ws)
    assert explore.symbol == "DUMMY" and save.write_button.disabled
    explore.value_buttons[("amd64", "m")].click()
    assert "<b>amd64</b>: 0 error" in modules.counts.value      # refreshed at once
    assert save.write_button.description == "write 1 file(s)"
    # a jump without a workbench shows the symbol panel inside the modules view
    modules.findings_list.value = modules.findings_list.options[0][1]
    modules.open_symbol_button.click()
    assert "CONFIG_BLK_DEV_NBD" in modules.detail.value
    # int symbols get a text field and set buttons
    explore.select("LOG_BUF_SHIFT")
    assert set(explore.value_buttons) == {("amd64", "set"), ("arm64", "set"), ("both", "set")}
    explore.value_text.value = "17"
    explore.value_buttons[("both", "set")].click()
    assert {a: c.value("LOG_BUF_SHIFT") for a, c in ws.configs.items()} == {"amd64": "17", "arm64": "17"}
    explore.value_text.value = "abc"
    explore.value_buttons[("amd64", "set")].click()
    # the error replaces the previous outcome, as a sentence with its hint and no class name
    error = explore.outcome.children[0].value
    assert len(explore.outcome.children) == 1 and "not a valid value" in error
    assert "hint: use a decimal number" in error and "InputError" not in error
    # an out-of-range value: refused, and "no fix" says the range in force
    explore.value_text.value = "99"
    explore.value_buttons[("amd64", "set")].click()
    refusal = explore.outcome.children[0].value
    assert "99 is outside the range 12..25" in refusal and "no fix: 99 is outside the range 12..25" in refusal
    assert "candidate(s) tried" not in refusal


def test_toggle_updates_the_cascade_view_quickly(ws):
    import time

    view = ExploreView(ws, symbol="DUMMY")
    view.value_buttons[("both", "m")].click()        # first use builds the editors
    timings = []
    for value in ("y", "m", "y", "m"):
        start = time.perf_counter()
        view.value_buttons[("both", value)].click()
        timings.append(time.perf_counter() - start)
        assert view.last_changes["amd64"].results["DUMMY"] == value
    assert min(timings) < 0.1, timings


def test_workbench_accepts_a_session_and_refuses_mixed_arguments(sample):
    session = Session.open(sample / "pkgs", sample / "talos", sample / "linux")
    wb = workbench(session)
    assert wb.workspace.session is session and wb.compare.table.position.value.startswith("rows 1-")
    edit.set_symbols(wb.workspace.editors, ["DUMMY=m"], dry_run=True)
    with pytest.raises(TypeError):
        workbench(session, arch="amd64")


def test_one_arch_workspace_has_no_both_buttons_and_compare_explains(sample):
    ws = Workspace.open(sample / "pkgs", sample / "talos", sample / "linux", arch="arm64")
    explore = ExploreView(ws, symbol="DUMMY")
    assert set(explore.value_buttons) == {("arm64", v) for v in "ymn"}
    view = CompareView(ws)
    assert "both arches" in view.message.value
    save = SaveView(ws)
    assert [p.name for p in ws.pending()] == ["config-arm64", "modules-arm64.txt"]
    assert "config-arm64" in save.pending.value and "config-amd64" not in save.pending.value


def test_cascade_folds_now_visible_lines_help_flows_and_no_none_cells():
    import pandas as pd

    from talosnb.present.edit import change_text
    from talosnb.present.html import cascade_html, frame_html
    from talosnb.present.text import help_blocks

    ws = Workspace.open()
    change = ws.set(["COMPILE_TEST=y"], arches=["amd64"])["amd64"]
    text = change_text(change).splitlines()
    assert text[1].strip().startswith("COMPILE_TEST: n -> y")              # the real change first
    assert text[-1].strip() == "now visible, n (1 line(s) '# CONFIG_X is not set'): MVPP2"
    html = cascade_html(change.cascade)
    assert html.index("COMPILE_TEST") < html.index("<details class='talosnb-now-visible'>")
    # help: a paragraph's source lines flow; an indented list keeps its lines (menuconfig's reading)
    blocks = help_blocks("Say Y to use it\non top of TCP.\n\n  - one\n  - two\n\nIf unsure, say N.\n")
    assert blocks == [("text", "Say Y to use it on top of TCP."), ("pre", "- one\n- two"),
                      ("text", "If unsure, say N.")]
    from talosnb.present.html import symbol_panel_html
    assert "<p>A network interface that drops everything sent to it.</p>" in symbol_panel_html(ws.symbol_panel("DUMMY"))
    # a missing value is an empty cell, not "None"
    cells = frame_html(pd.DataFrame([{"option": "X", "verdict": None}], dtype=object))
    assert "None" not in cells and "<td></td>" in cells


def test_gates_and_save_agree_on_a_refusal_naming_the_checkbox(sample):
    from talosnb.widgets import GatesView, SaveView

    config = _config(sample, "amd64")
    # a line for a symbol this tree doesn't define: writing drops it, so Save refuses by default
    config.write_text(config.read_text() + "CONFIG_NOT_IN_THIS_TREE=y\n")
    ws = Workspace.open(sample / "pkgs", sample / "talos", sample / "linux")
    ws.set(["DUMMY=m"], arches=["amd64"], ignore_module_list=True)
    checkbox = "“drop config lines for symbols this tree doesn't define” checkbox ticked"
    gates = GatesView(ws)
    assert "Save will refuse to write <b>config-amd64</b>" in gates.summary.value
    assert checkbox in gates.summary.value.replace("&#x27;", "'")
    save = SaveView(ws)
    assert checkbox in save.pending.value.replace("&#x27;", "'")
    assert save.write() is None and "allow_drop" not in save.result.value
    assert checkbox in save.result.value.replace("&#x27;", "'")
    save.allow_drop.value = True
    assert save.write() is not None and "CONFIG_NOT_IN_THIS_TREE" not in config.read_text()


def test_menu_tree_marks_an_off_menu_as_menuconfig_does():
    from talosnb.widgets.menu_tree import MenuTreeView

    ws = Workspace.open()
    view = MenuTreeView(ws)
    view.reveal("NETDEVICES")
    row = next(r for r in view.rows() if r["name"] == "NETDEVICES")
    assert row["text"].endswith("  --->")
    ws.set(["NETDEVICES=n"], ignore_module_list=True)
    view.refresh()
    row = next(r for r in view.rows() if r["name"] == "NETDEVICES")
    assert row["text"].endswith("  ----")          # nothing in it to see: mconf's menu_is_empty


def test_explore_keeps_its_value_buttons_open_from_symbol_to_symbol():
    # a click the page sends while it still shows the previous symbol's buttons must reach an open
    # widget: the buttons are made once and only hidden, never closed, whatever the next symbol's type
    ws = Workspace.open()
    view = ExploreView(ws, symbol="DUMMY")
    made = dict(view._buttons)
    assert set(view.value_buttons) == {(t, v) for t in ("amd64", "arm64", "both") for v in "ymn"}
    view.select("COMPILE_TEST")
    assert set(view.value_buttons) == {(t, v) for t in ("amd64", "arm64", "both") for v in "yn"}
    assert view._buttons[("amd64", "m")].layout.display == "none"
    view.select("BLK_DEV_LOOP_MIN_COUNT")
    assert set(view.value_buttons) == {(t, "set") for t in ("amd64", "arm64", "both")}
    view.select("DUMMY")
    assert view._buttons == made and all(b.comm is not None for b in made.values())
    # the button clicked acts on the symbol shown by the time the click arrives
    view.select("COMPILE_TEST")
    made[("amd64", "n")].click()
    assert ws.configs["amd64"].value("COMPILE_TEST") == "n"


def test_menu_tree_row_click_opens_its_menu_and_differs_lists_what_shows():
    from talosnb.widgets.menu_tree import MenuTreeView

    ws = Workspace.open()
    view = MenuTreeView(ws)
    drivers = next(r["id"] for r in view.rows() if r["text"].startswith("Device Drivers"))
    view._message(None, {"event": "select", "id": drivers, "open": True}, None)
    assert drivers in view.expanded and next(r for r in view.rows() if r["id"] == drivers)["expanded"]
    view.mode.value = "differs"
    listed = [r for r in view.rows() if r["match"]]
    assert listed and all(any(c["notation"] not in ("", "---") for c in r["cells"].values()) for r in listed)
    assert all(view.tree.differs(view.tree.rows[r["id"]]) for r in listed)


def test_a_verified_fix_that_replaces_a_value_set_earlier_says_so_and_save_shows_it():
    from talosnb.present.edit import outcome_text
    from talosnb.widgets import SaveView

    ws = Workspace.open()
    view = ExploreView(ws, symbol="BLK_DEV_LOOP")
    view.set_value("amd64", "m")                                     # the user's value
    ws.set(["BLK_DEV=n"], arches=["amd64"], ignore_module_list=True)  # the menu off: its line goes
    view.select("VIRTIO_BLK")
    refused = view.set_value("amd64", "m")                           # refused: BLK_DEV is n
    assert refused["amd64"].refusals and view.fix_buttons["amd64"].description.endswith("BLK_DEV=y VIRTIO_BLK=m")
    view.fix_buttons["amd64"].click()                                # back on: LOOP comes back as n
    outcome = view.last_changes
    assert [(o.symbol, o.wanted, o.now, o.step) for o in outcome.overridden] == [("BLK_DEV_LOOP", "m", "n",
                                                                                  "BLK_DEV_LOOP=m")]
    html = "".join(getattr(c, "value", "") for c in view.outcome.children)
    assert "talosnb-overridden" in html and "BLK_DEV_LOOP=m on amd64 was set earlier (BLK_DEV_LOOP=m)" in html
    assert "undo button above" in html
    # the command line says it from the same outcome
    assert ("WARNING: BLK_DEV_LOOP=m on amd64 was set earlier (BLK_DEV_LOOP=m); BLK_DEV=y VIRTIO_BLK=m makes it n; "
            "set BLK_DEV_LOOP=m again if you still want it") in outcome_text(outcome)
    assert outcome.as_dict()["overridden"][0]["wanted"] == "m"
    save = SaveView(ws)
    assert "talosnb-overridden" in save.pending.value and "BLK_DEV_LOOP=m on amd64" in save.pending.value
    view.undo()                                   # the fix taken back: what BLK_DEV=n did is left
    assert [(o.by, o.now) for o in ws.overridden()] == [("BLK_DEV=n", None)]
    view.undo()
    assert ws.overridden() == [] and "talosnb-overridden" not in SaveView(ws).pending.value


def test_hardware_tab_over_the_sample_says_it_has_no_c_source(ws):
    """The Hardware tab, driven as a person would: nothing pasted asks for a capture; a pasted talosctl
    capture over the embedded sample (a Kconfig/Kbuild skeleton) says the ID tables need the full
    source and how to get it, and offers no change."""
    from talosnb.core.paths import data_dir
    from talosnb.widgets import HardwareView

    view = HardwareView(ws)
    assert "paste a capture" in view.summary.value and view.fix_button.disabled
    view.capture.value = (data_dir() / "hardware" / "talosctl-pcidevices-nics.yaml").read_text()
    view.lookup_button.click()
    assert "no C files" in view.summary.value and "linux-source-6.12" in view.summary.value
    assert view.fix_button.disabled and view.reports == []
    view.capture.value = "0000:03:00.0 VGA compatible controller: ASPEED Graphics Family (rev 41)\n"
    view.lookup_button.click()
    assert "an lspci line without IDs" in view.summary.value and "pasted:1" in view.summary.value
