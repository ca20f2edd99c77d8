"""The merged menu tree, the symbol panel and the Menu tree view, on the real Talos v1.10 configs
against Linux 6.12.117 (and the embedded sample), checked against kconfiglib's own menuconfig
(the notation, what a menu lists, what the space bar does) and against the compare analysis."""

from __future__ import annotations

import itertools

import menuconfig
import pytest
from engine_fixtures import DATA, open_session
from kconfiglib import BOOL, MENU, TRISTATE, Choice, Symbol

from talosnb.analyses.compare import compare
from talosnb.analyses.menu import MenuTree, menu_tree, next_value, value_notation
from talosnb.analyses.symbol import symbol_panel, with_values
from talosnb.core.dotconfig import read_values
from talosnb.core.names import is_placeholder
from talosnb.present.text import panel_lines


@pytest.fixture(scope="module")
def real(trees, engine_cache):
    return open_session(engine_cache, pkgs=DATA["v1.10"] / "pkgs", kernel_src=trees["6.12"])


@pytest.fixture(scope="module")
def tree(real) -> MenuTree:
    return menu_tree(real.configs)


def _kernel_nodes(config):
    """Every menu node of an arch in menu order, as kconfiglib's tree has them (no placeholders)."""
    return [n for n in config.kconf.node_iter()
            if not (isinstance(n.item, Symbol) and is_placeholder(n.item.name))]


def _dfs(tree: MenuTree):
    stack = list(reversed(tree.root.children))
    while stack:
        row = tree.rows[stack.pop()]
        yield row
        stack.extend(reversed(row.children))


def test_each_arch_keeps_its_own_menu_tree_in_the_merge(real, tree):
    assert len(tree) > 18000
    for arch, config in real.configs.items():
        merged = [row.nodes[arch] for row in _dfs(tree) if arch in row.nodes]
        assert merged == _kernel_nodes(config), arch
        for row in _dfs(tree):
            node = row.nodes.get(arch)
            parent = tree.rows[row.parent]
            if node is not None and row.parent != 0:
                assert parent.nodes[arch] is node.parent      # the same parent on that arch
    # the places only one arch has: x86's and arm64's own top-level menus
    tops = {tree.rows[i].prompt(): set(tree.rows[i].nodes) for i in tree.root.children}
    assert tops["Processor type and features"] == {"amd64"} and tops["Kernel Features"] == {"arm64"}
    assert tops["Device Drivers"] == {"amd64", "arm64"}


def test_the_same_structure_object_serves_every_call(real, tree):
    assert menu_tree(real.configs) is tree


def test_values_are_written_in_menuconfigs_notation(real, tree):
    checked = 0
    for row in _dfs(tree):
        for arch, node in row.nodes.items():
            item = node.item
            if not isinstance(item, Symbol) or not menuconfig._visible(node):
                continue
            assert value_notation(item, True) == menuconfig._value_str(node), (row.name, arch)
            checked += 1
    assert checked > 10000
    # hidden entries: off is ---, a value kept by select or a default is pinned (-*-, -M-)
    mvpp2 = tree.row_data(tree.find("MVPP2")[0])["arches"]
    assert mvpp2["amd64"]["notation"] == "---" and mvpp2["arm64"]["notation"] == "<*>"


def test_the_space_bar_cycles_like_menuconfig(real):
    checked = 0
    for config in real.configs.values():
        for sym in config.kconf.unique_defined_syms:
            if sym.orig_type not in (BOOL, TRISTATE) or not any(menuconfig._visible(n) for n in sym.nodes):
                continue
            if menuconfig._is_y_mode_choice_sym(sym):
                want = "y" if sym.choice.selection is not sym else None
            elif len(sym.assignable) <= 1:
                want = None
            else:   # menuconfig's _change_node: the value after the current one, wrapping
                i = sym.assignable.index(sym.tri_value)
                want = "nmy"[sym.assignable[(i + 1) % len(sym.assignable)]]
            assert next_value(sym) == want, sym.name
            checked += 1
    assert checked > 10000


def _flat(tree: MenuTree, row_id: int) -> list:
    """What entering a row's menu lists: its shown entries, the entries under plain symbols
    indented in the same list (menuconfig's _shown_nodes), not the inside of submenus."""
    out = []
    for child in tree.children(row_id, "visible"):
        row = tree.rows[child]
        out.append(next(iter(row.nodes.values())))
        if row.kind == "symbol" and not row.nodes[next(iter(row.nodes))].is_menuconfig:
            out += _flat(tree, child)
    return out


def test_visible_only_lists_what_menuconfig_shows(real):
    menuconfig._show_all = False
    for arch, config in real.configs.items():
        single = MenuTree({arch: config})
        entered = 0
        for row in [single.root, *(single.rows[i] for i in range(1, len(single)))]:
            node = row.nodes[arch]
            menu_like = node is config.kconf.top_node or (node.is_menuconfig and not isinstance(node.item, Choice))
            if not menu_like or (row.id and not single.shown(row.id, "visible")):
                continue
            if node.item is MENU and row.id and not menuconfig._visible(node):
                continue
            assert _flat(single, row.id) == menuconfig._shown_nodes(node), (arch, row.prompt())
            entered += 1
        assert entered > 300


def test_differs_between_arches_agrees_with_compare(real, tree):
    df = compare(real)
    bools = df[df["type"].isin(["bool", "tristate"]) & (df["defined"] == "both")]
    expected = set(bools.loc[bools["status"] == "differs", "symbol"])
    both = set(bools["symbol"])
    found = {row.name for row in _dfs(tree) if row.kind == "symbol" and row.name in both and tree.differs(row)}
    assert found == expected and len(found) > 500
    # and the filter lists those a menu shows on some arch (with the menus on the way to them); the
    # ones hidden on both arches (set by defaults and selects only) are left to "all"
    shown = {row.name for row in _dfs(tree) if row.kind == "symbol" and row.name in found
             and any(tree.visible(row, a) for a in row.nodes)}
    listed = set()
    stack = list(tree.children(0, "differs"))
    while stack:
        row_id = stack.pop()
        listed.add(row_id)
        stack += tree.children(row_id, "differs")
    names = {tree.rows[i].name for i in listed if tree.rows[i].kind == "symbol" and tree.differs(tree.rows[i])}
    assert names >= shown and len(found - shown) > 50
    assert all((tree.differs(tree.rows[i]) and any(tree.visible(tree.rows[i], a) for a in tree.rows[i].nodes))
               or tree.rows[i].children for i in listed)


def test_set_in_config_is_a_config_line_with_a_value(real, tree):
    lines = {arch: {k for k, v in read_values(c.text()).items() if v != "n"} for arch, c in real.configs.items()}
    want = lines["amd64"] | lines["arm64"]
    got = {row.name for row in _dfs(tree) if tree.is_set(row)}
    assert got == want


def test_rows_as_data_with_menus_open(tree):
    igb = tree.find("IGB")[0]
    rows = tree.visible_rows(tree.path(igb))
    ids = [r["id"] for r in rows]
    assert igb in ids and all(i in ids for i in tree.path(igb))
    at = ids.index(igb)
    assert rows[at]["depth"] == len(tree.path(igb)) and rows[at]["arches"]["amd64"]["notation"] == "<M>"
    assert [r["depth"] for r in rows if r["depth"] == 0] and rows[0]["depth"] == 0
    assert all(b["depth"] <= a["depth"] + 1 for a, b in itertools.pairwise(rows))


def test_text_filter_finds_by_name_and_prompt_and_keeps_the_way(tree):
    rows = tree.children(0, "all", "igb")
    assert [tree.rows[i].prompt() for i in rows] == ["Device Drivers"]
    igb = tree.find("IGB")[0]
    path = tree.path(igb)
    assert all(tree.shown(i, "all", "igb") for i in path) and tree.shown(igb, "all", "igb")
    assert tree.shown(igb, "visible", "82575/82576")          # by prompt text
    assert not tree.shown(tree.find("E1000E")[0], "all", "igb")


def test_symbol_panel_both_arches_side_by_side(real):
    panel = symbol_panel(real.configs, "NR_CPUS")
    amd, arm = panel.arches["amd64"], panel.arches["arm64"]
    assert amd is not None and arm is not None
    assert [d.where for d in amd.definitions] == ["arch/x86/Kconfig:1033"]
    assert [d.where for d in arm.definitions] == ["arch/arm64/Kconfig:1581"]
    assert arm.definitions[0].prompt == "Maximum number of CPUs (2-4096)"
    assert amd.range is not None and (amd.range.low, amd.range.high) == ("2", "512")
    assert arm.range is not None and (arm.range.low, arm.range.high) == ("2", "4096")
    assert amd.default is not None and amd.default.written == "default NR_CPUS_DEFAULT"
    assert "accepts: 2..512" in panel_lines(amd)
    assert "  prompt shown if: SMP [=y] && !MAXSMP [=n]" in panel_lines(amd)
    # the JSON form (talosnb get --format json): plain values, a condition under "if"
    as_json = amd.as_dict()
    assert as_json["definitions"][0]["where"] == "arch/x86/Kconfig:1033"
    assert set(as_json["range"]) == {"low", "high", "written", "if", "where"} and as_json["range"]["high"] == "512"

    mvpp2 = symbol_panel(real.configs, "MVPP2").arches
    amd, arm = mvpp2["amd64"], mvpp2["arm64"]
    assert amd is not None and arm is not None and amd.depends_on is not None and arm.depends_on is not None
    assert amd.depends_on.values.startswith("(ARCH_MVEBU [=n] || COMPILE_TEST [=n]) && NET_VENDOR_MARVELL [=y]")
    assert arm.depends_on.values.startswith("(ARCH_MVEBU [=y] || COMPILE_TEST [=n])")
    assert amd.assignable == [] and arm.assignable == ["n", "m", "y"]
    assert amd.definitions[0].menu_path == ["Device Drivers", "Network device support",
                                            "Ethernet driver support", "Marvell devices"]


def test_selected_by_terms_carry_each_value_and_their_select_line(real):
    config = real.configs["amd64"]
    sym = config.kconf.syms["CRC32"]
    panel = symbol_panel(real.configs, "CRC32").arches["amd64"]
    assert panel is not None
    assert {t.value for t in panel.selected_by} >= {"y", "n"}
    for term in panel.selected_by:
        selector = config.kconf.syms[term.symbol]
        assert term.values.startswith(f"{selector.name} [={selector.str_value}]")
        assert term.where is not None
        file, line = term.where.rsplit(":", 1)
        node = next(n for n in selector.nodes if n.filename == file and n.linenr == int(line))
        assert any(target is sym for target, _ in node.selects)
    assert [t.value for t in panel.selected_by] == sorted((t.value for t in panel.selected_by), key="ymn".index)


def test_expression_values_are_each_symbols_value(real):
    config = real.configs["arm64"]
    sym = config.kconf.syms["MVPP2"]
    text = with_values(sym.direct_dep)
    for name in ("ARCH_MVEBU", "COMPILE_TEST", "NET_VENDOR_MARVELL"):
        assert f"{name} [={config.kconf.syms[name].str_value}]" in text


# --- the view, driven in Python (the browser test drives it in JupyterLab) ---------------------


def test_menu_tree_view_expands_toggles_and_shows_the_panel(sample):
    from talosnb.widgets import Workspace
    from talosnb.widgets import menu_tree as menu_tree_widget

    ws = Workspace.open(sample / "pkgs", sample / "talos", sample / "linux")
    view = menu_tree_widget(ws)
    top = [r["text"] for r in view.view.rows]
    assert any(t.startswith("Device Drivers") for t in top) and all(r["depth"] == 0 for r in view.view.rows)
    dummy = view.tree.find("DUMMY")[0]
    assert dummy not in [r["id"] for r in view.view.rows]                 # nothing opened yet
    for row_id in view.tree.path(dummy):
        view._message(None, {"event": "expand", "id": row_id}, None)
    row = next(r for r in view.view.rows if r["id"] == dummy)
    assert row["cells"]["amd64"]["notation"] == "< >" and row["cells"]["amd64"]["next"] == "m"
    view._message(None, {"event": "toggle", "id": dummy, "arch": "amd64"}, None)
    row = next(r for r in view.view.rows if r["id"] == dummy)
    assert (row["cells"]["amd64"]["notation"], row["cells"]["arm64"]["notation"]) == ("<M>", "< >")
    assert ws.configs["amd64"].value("DUMMY") == "m" and ws.configs["arm64"].value("DUMMY") == "n"
    assert "DUMMY=m</b> on amd64" in view.outcome.value and "(no line)" not in view.outcome.value
    view._message(None, {"event": "select", "id": dummy}, None)
    assert "CONFIG_DUMMY" in view.panel.value and "<th>amd64</th><th>arm64</th>" in view.panel.value
    # the next toggle (m -> y) replaces that outcome; the module-list guard refuses it, as it does
    # everywhere (amd64's list has dummy.ko, which y would no longer build), and the tree says so
    view._message(None, {"event": "toggle", "id": dummy, "arch": "amd64"}, None)
    assert "<b>DUMMY=y</b> on amd64" in view.outcome.value and "DUMMY=m</b>" not in view.outcome.value
    assert "Not changed: hack/modules-ARCH.txt lists modules" in view.outcome.value
    assert ws.configs["amd64"].value("DUMMY") == "m"
    # the filters: differs lists DUMMY (m on amd64, n on arm64), set in config too
    view.mode.value = "differs"
    assert dummy in [r["id"] for r in view.rows()]
    view.text.value = "dummy"
    assert {r["name"] for r in view.rows() if r["match"]} == {"DUMMY"}
    assert {e for e, _ in view.timings} == {"expand", "toggle", "select"}
    # what a saved notebook keeps of the view: the rows listed, as a table
    static = view.static_html()
    assert "Dummy net driver support" in static and "<code>DUMMY</code>" in static and "NaN" not in static


def test_workbench_jumps_between_tree_and_explore(sample):
    from talosnb.widgets import workbench

    wb = workbench(pkgs=sample / "pkgs", talos=sample / "talos", kernel_src=sample / "linux")
    wb.selected_index = 1
    wb.explore.select("DUMMY")
    path_button = next(b for b in wb.explore.path_box.children if getattr(b, "description", "").startswith(
        "Device Drivers"))
    path_button.click()
    assert wb.selected_index == 2 and wb.menu_tree.view.selected == wb.menu_tree.tree.find("DUMMY")[0]
    assert wb.menu_tree.tree.find("DUMMY")[0] in [r["id"] for r in wb.menu_tree.view.rows]
    wb.menu_tree.explore_button.click()
    assert wb.selected_index == 1 and wb.explore.symbol == "DUMMY"


def test_explore_button_colours_mean_one_thing(sample):
    from talosnb.widgets import ExploreView, Workspace

    ws = Workspace.open(sample / "pkgs", sample / "talos", sample / "linux")
    view = ExploreView(ws, symbol="MVPP2")       # amd64: hidden, n; arm64: m
    styles = {key: b.button_style for key, b in view.value_buttons.items()}
    assert styles[("amd64", "n")] == "success"                 # the current value
    assert styles[("amd64", "m")] == "warning"                 # can't be had now
    assert styles[("both", "n")] == ""                         # amd64 has it, arm64 can be given it
    assert styles[("arm64", "m")] == "success" and styles[("arm64", "y")] == ""
    assert "MVPP2=m can't be set on amd64 now" in view.value_buttons[("amd64", "m")].tooltip
