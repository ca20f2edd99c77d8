"""The edit engine on the embedded sample: cascade, refusal trees, verified fixes, undo, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talosnb.analyses import edit
from talosnb.analyses.search import search
from talosnb.app.session import Session
from talosnb.cli import main
from talosnb.core.dotconfig import read_values as written_values
from talosnb.core.errors import FileChangedError, InputError


@pytest.fixture
def session(sample) -> Session:
    return Session.open(sample / "pkgs", sample / "talos", sample / "linux")


@pytest.fixture
def editors(session) -> dict[str, edit.Editor]:
    """The session's configs' editors (what a Workspace holds), one per arch."""
    return edit.editors_of(session.configs)


def _args(sample: Path) -> list[str]:
    return ["--pkgs", str(sample / "pkgs"), "--talos", str(sample / "talos"), "--kernel-src", str(sample / "linux")]


def _leaves(reason):
    yield reason
    for child in reason.children:
        yield from _leaves(child)


def test_cascade_per_arch_and_exact_undo_redo(session, editors):
    before = {arch: c.text() for arch, c in session.configs.items()}
    changes = edit.set_symbols(editors, ["PCI=n"])
    for arch, change in changes.items():
        assert change.applied and change.ok
        by_symbol = {c.symbol: c for c in change.cascade}
        assert by_symbol["PCI"].old == "y" and by_symbol["PCI"].new == "n"
        # everything behind PCI goes, each with the condition that removed it
        assert by_symbol["VIRTIO_PCI"].new is None and "PCI" in by_symbol["VIRTIO_PCI"].reason
        assert by_symbol["VIRTIO"].reason.startswith("no longer selected")
        now = written_values(session.configs[arch].text())
        for c in change.cascade:
            assert now.get(c.symbol) == (None if c.new is None else edit._quote_if_string(session.configs[arch], c))
    assert "E1000E" in {c.symbol for c in changes["amd64"].cascade}   # an x86-only driver
    assert "E1000E" not in {c.symbol for c in changes["arm64"].cascade}
    after = {arch: c.text() for arch, c in session.configs.items()}
    edit.undo(editors)
    assert {arch: c.text() for arch, c in session.configs.items()} == before
    edit.redo(editors)
    assert {arch: c.text() for arch, c in session.configs.items()} == after


def test_refusal_explains_with_file_line_and_verified_fix(session, editors):
    before = session.configs["amd64"].text()
    changes = edit.set_symbols(editors, ["MVPP2=m"], arches=["amd64"])
    change = changes["amd64"]
    assert not change.applied and session.configs["amd64"].text() == before
    refusal = change.refusals[0]
    nodes = [r for reason in refusal.reasons for r in _leaves(reason)]
    assert any(r.where == "drivers/net/ethernet/Kconfig:40" for r in nodes)
    fixed = [r for r in nodes if r.fixed]
    assert fixed and "ARM64" in fixed[0].text        # an arch constant, named as such
    assert refusal.fix.found and [str(a) for a in refusal.fix.assignments] == ["COMPILE_TEST=y"]
    # the fix really works: apply it, then the original assignment takes effect
    assert edit.set_symbols(editors, ["COMPILE_TEST=y"], arches=["amd64"])["amd64"].applied
    again = edit.set_symbols(editors, ["MVPP2=m"], arches=["amd64"])["amd64"]
    assert again.applied and again.results["MVPP2"] == "m"


def test_both_arches_report_separately(editors):
    changes = edit.set_symbols(editors, ["CRYPTO_AES_NI_INTEL=y"])
    assert changes["amd64"].applied and changes["amd64"].results["CRYPTO_AES_NI_INTEL"] == "y"
    assert "CRYPTO_AES" in {c.symbol for c in changes["amd64"].cascade}   # selected along
    arm = changes["arm64"]
    assert not arm.applied and arm.refusals
    assert not arm.refusals[0].fix.found and not arm.refusals[0].fix.exhausted
    # a symbol one arch doesn't define is reported, not an error
    changes = edit.set_symbols(editors, ["ARM64_16K_PAGES=y"])
    assert changes["amd64"].undefined == ["ARM64_16K_PAGES"] and not changes["amd64"].cascade
    assert changes["arm64"].applied
    assert {c.symbol for c in changes["arm64"].cascade} >= {"ARM64_16K_PAGES", "ARM64_4K_PAGES"}


def test_atomic_batch_keeps_every_arch_unchanged(session, editors):
    before = {arch: c.text() for arch, c in session.configs.items()}
    changes = edit.set_symbols(editors, ["DUMMY=m", "CRYPTO_AES_NI_INTEL=y"], atomic=True)
    assert changes["arm64"].refusals
    assert {arch: c.text() for arch, c in session.configs.items()} == before


def test_bad_assignments_are_input_errors(editors):
    with pytest.raises(InputError, match="VIRTIO_NET"):
        edit.set_symbols(editors, ["VIRTIO_NETT=y"])          # did you mean
    with pytest.raises(InputError, match="bool"):
        edit.set_symbols(editors, ["PCI=m"])
    with pytest.raises(InputError, match="decimal"):
        edit.set_symbols(editors, ["NR_CPUS=lots"])
    with pytest.raises(InputError):
        edit.parse_assignment("just words")


def test_int_range_refusal_names_the_range(editors):
    change = edit.set_symbols(editors, ["NR_CPUS=100000"], arches=["amd64"])["amd64"]
    assert not change.applied
    reason = change.refusals[0].reasons[0]
    assert "outside the range" in reason.text and reason.where.startswith("arch/x86/Kconfig:")


def test_merge_lists_unmet_and_keeps_the_rest(session, editors):
    assignments = edit.parse_fragment("CONFIG_PCI=n\n# CONFIG_DUMMY is not set\nCONFIG_VIRTIO_NET=y\n", "frag")
    change = edit.set_symbols(editors, assignments, arches=["arm64"], mode="merge")["arm64"]
    assert change.applied
    assert [r.assignment.symbol for r in change.refusals] == ["VIRTIO_NET"]
    assert change.refusals[0].assignment.where == "frag:3"
    assert session.configs["arm64"].value("PCI") == "n"


def test_write_refuses_a_file_changed_on_disk(session, sample, editors):
    edit.set_symbols(editors, ["DUMMY=m"], arches=["amd64"])
    path = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    path.write_text(path.read_text() + "# edited elsewhere\n")
    with pytest.raises(FileChangedError):
        session.configs["amd64"].write()
    assert path.read_text().endswith("# edited elsewhere\n")


def test_search_ranks_name_prompt_help_module_and_typos(session):
    from talosnb.kbuild import load_kbuild_map
    frame = search(session.configs, "virtio")
    assert frame.iloc[0]["symbol"] == "VIRTIO" and frame.iloc[0]["match"] == "name"
    assert list(frame["rank"]) == sorted(frame["rank"])
    assert "BLK_DEV_NBD" in set(search(session.configs, "network block")["symbol"])
    assert search(session.configs, "CONFIG_virtio_net").iloc[0]["symbol"] == "VIRTIO_NET"
    typo = search(session.configs, "VIRTOI_NET")
    assert typo.iloc[0]["symbol"] == "VIRTIO_NET" and typo.iloc[0]["match"] == "similar-name"
    maps = {arch: load_kbuild_map(session.inputs.kernel.path, c.tree.srcarch) for arch, c in session.configs.items()}
    hit = search(session.configs, "kernel/drivers/block/nbd.ko", kbuild_maps=maps)
    assert list(hit["symbol"]) == ["BLK_DEV_NBD"] and hit.iloc[0]["match"] == "module"


def test_cli_set_writes_and_refusal_writes_nothing(sample, capsys):
    cfg = sample / "pkgs" / "kernel" / "build"
    before = {p.name: p.read_bytes() for p in cfg.iterdir()}
    assert main(["set", *_args(sample), "MVPP2=m", "DUMMY=m"]) == 1
    out = capsys.readouterr().out
    assert "COMPILE_TEST=y" in out and "nothing written" in out
    assert {p.name: p.read_bytes() for p in cfg.iterdir()} == before
    assert main(["set", *_args(sample), "--format", "json", "DUMMY=m"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["written"] == {"amd64": True, "arm64": True}
    assert payload["modules"]["amd64"]["built"] == ["kernel/drivers/net/dummy.ko"]
    assert "CONFIG_DUMMY=m\n" in (cfg / "config-amd64").read_text()
    assert main(["set", *_args(sample), "NO_SUCH_SYMBOL=y"]) == 2
    assert "not defined" in capsys.readouterr().err


def test_cli_merge_why_search_diff(sample, capsys, tmp_path):
    frag = tmp_path / "frag.config"
    frag.write_text("CONFIG_PCI=n\nCONFIG_VIRTIO_NET=y\n")
    assert main(["merge", *_args(sample), "--arch", "arm64", str(frag)]) == 1
    out = capsys.readouterr().out
    assert f"{frag}:2: VIRTIO_NET=y requested" in out
    assert "CONFIG_PCI is not set" in (sample / "pkgs/kernel/build/config-arm64").read_text()
    assert main(["why", *_args(sample), "--format", "json", "MVPP2=m"]) == 1
    payload = json.loads(capsys.readouterr().out)
    amd = next(s for s in payload["symbols"] if s["arch"] == "amd64")
    assert amd["possible"] is False and amd["refusal"]["fix"]["assignments"] == ["COMPILE_TEST=y"]
    assert main(["search", *_args(sample), "--format", "json", "nbd"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["symbol"] == "BLK_DEV_NBD"
    assert main(["diff", *_args(sample), "--arch", "amd64", "--against",
                 str(sample / "pkgs/kernel/build/config-arm64")]) == 2   # other arch's config
    assert main(["diff", *_args(sample)]) == 0


def test_cli_set_refuses_to_break_the_module_list(sample, capsys):
    cfg = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    before = cfg.read_bytes()
    # nbd.ko is listed for amd64; built in, there would be no .ko to copy
    assert main(["set", *_args(sample), "--arch", "amd64", "BLK_DEV_NBD=y"]) == 1
    out = capsys.readouterr().out
    assert "kernel/drivers/block/nbd.ko is built into the kernel" in out and "nothing written" in out
    assert cfg.read_bytes() == before
    assert main(["set", *_args(sample), "--arch", "amd64", "--ignore-module-list", "BLK_DEV_NBD=y"]) == 0
    assert "CONFIG_BLK_DEV_NBD=y\n" in cfg.read_text()


def test_cli_set_adds_new_modules_to_the_list(sample, capsys):
    listing = sample / "talos" / "hack" / "modules-arm64.txt"
    assert "kernel/drivers/net/dummy.ko" not in listing.read_text()
    code = main(["set", *_args(sample), "--arch", "arm64", "--format", "json", "--add-to-module-list",
                 "DUMMY=m"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0, payload
    added = payload["modules"]["arm64"]["added"]
    assert added and all(entry in listing.read_text().splitlines() for entry in added)


def test_diff_as_frame_and_text(session, editors):
    from talosnb.kconfig.diff import diff_frame, diff_text
    config = session.configs["arm64"]
    before = config.text()
    edit.set_symbols(editors, ["PCI=n", "DUMMY=m"], arches=["arm64"])
    frame = diff_frame(before, config)
    rows = {r.symbol: r for r in frame.itertuples()}
    assert rows["PCI"].kind == "changed" and (rows["PCI"].old, rows["PCI"].new) == ("y", "n")
    assert rows["VIRTIO_PCI"].kind == "removed" and rows["VIRTIO_PCI"].new is None
    text = diff_text(before, config)
    assert "-VIRTIO_PCI y\n" in text and " PCI y -> n\n" in text and " DUMMY n -> m\n" in text
    assert len(text.splitlines()) == len(frame)


def test_cli_set_checks_everything_before_writing_anything(sample, capsys, monkeypatch):
    cfg = sample / "pkgs" / "kernel" / "build"
    before = {p.name: p.read_bytes() for p in cfg.iterdir()}
    no_talos = ["--pkgs", str(sample / "pkgs"), "--kernel-src", str(sample / "linux")]
    assert main(["set", *no_talos, "--add-to-module-list", "DUMMY=m"]) == 2
    assert "needs a talos checkout" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in cfg.iterdir()} == before
    # a file changed on disk while the edit ran: neither arch is written
    original = edit.attempt_symbols

    def racing(*args, **kwargs):
        result = original(*args, **kwargs)
        with open(cfg / "config-arm64", "a") as f:
            f.write("# edited elsewhere\n")
        return result
    monkeypatch.setattr(edit, "attempt_symbols", racing)
    assert main(["set", *_args(sample), "DUMMY=m"]) == 1   # a refusal
    err = capsys.readouterr().err
    assert "config-arm64" in err and "nothing was written" in err
    assert (cfg / "config-amd64").read_bytes() == before["config-amd64"]


def test_cli_never_writes_the_embedded_sample(capsys, monkeypatch):
    from talosnb.core.paths import sample_dir
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
        monkeypatch.delenv(name, raising=False)
    files = sorted(p for p in sample_dir().rglob("*") if p.is_file())
    before = [p.read_bytes() for p in files]
    assert main(["set", "DUMMY=m"]) == 2
    assert "embedded sample is read-only" in capsys.readouterr().err
    assert main(["set", "--dry-run", "DUMMY=m"]) == 0
    assert [p.read_bytes() for p in files] == before


def test_cli_dry_run_runs_the_module_list_check(sample, capsys):
    cfg = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    before = cfg.read_bytes()
    assert main(["set", *_args(sample), "--dry-run", "--arch", "amd64", "BLK_DEV_NBD=y"]) == 1
    assert "nbd.ko is built into the kernel" in capsys.readouterr().out
    assert cfg.read_bytes() == before


def test_cli_set_refuses_to_drop_lines_unless_allowed(sample, capsys):
    cfg = sample / "pkgs" / "kernel" / "build" / "config-arm64"
    cfg.write_text(cfg.read_text() + "CONFIG_NOT_IN_THIS_TREE=y\n")
    before = cfg.read_bytes()
    assert main(["set", *_args(sample), "DUMMY=m"]) == 1
    out = capsys.readouterr().out
    assert "NOT_IN_THIS_TREE" in out and "--allow-drop" in out and cfg.read_bytes() == before
    assert main(["set", *_args(sample), "--allow-drop", "DUMMY=m"]) == 0
    assert "NOT_IN_THIS_TREE" not in cfg.read_text() and "CONFIG_DUMMY=m\n" in cfg.read_text()


def test_cli_merge_reports_every_bad_line_and_unknown_symbols(sample, capsys, tmp_path):
    junk = tmp_path / "junk.config"
    junk.write_text("CONFIG_DUMMY=m\nnot an assignment\nCONFIG_PCI=y\nalso junk\n")
    assert main(["merge", *_args(sample), str(junk)]) == 2
    err = capsys.readouterr().err
    assert f"{junk}:2" in err and f"{junk}:4" in err
    frag = tmp_path / "frag.config"
    frag.write_text("CONFIG_DUMMY=m\nCONFIG_NO_SUCH_THING=y\nCONFIG_DUMMY=y\n")
    assert main(["merge", *_args(sample), str(frag)]) == 1
    out = capsys.readouterr().out
    assert f"{frag}:2: CONFIG_NO_SUCH_THING is not defined" in out
    assert f"{frag}:3: CONFIG_DUMMY=y redefines m from {frag}:1" in out
    assert "CONFIG_DUMMY=y\n" in (sample / "pkgs/kernel/build/config-amd64").read_text()


def test_cli_errors_in_json_mode_are_json(sample, capsys):
    assert main(["set", *_args(sample), "--format", "json", "NO_SUCH_SYMBOL=y"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["error"]["exit_code"] == 2 and "NO_SUCH_SYMBOL" in payload["error"]["message"]
    assert main(["get", *_args(sample), "--format", "json", "NO_SUCH_SYMBOL"]) == 2
    assert "error" in json.loads(capsys.readouterr().out)


def test_normalize_output_refuses_the_other_arch_config(sample, capsys):
    arm = sample / "pkgs" / "kernel" / "build" / "config-arm64"
    before = arm.read_bytes()
    assert main(["normalize", *_args(sample), "--arch", "amd64", "--output", str(arm)]) == 2
    assert "Linux/arm64 config" in capsys.readouterr().err and arm.read_bytes() == before


def test_writes_go_through_symlinks(sample, tmp_path):
    cfg = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    real = tmp_path / "real-config-amd64"
    real.write_bytes(cfg.read_bytes())
    cfg.unlink()
    cfg.symlink_to(real)
    before = real.read_bytes()
    # a link out of the checkout is written through only when asked to
    assert main(["set", *_args(sample), "--arch", "amd64", "DUMMY=m"]) == 1
    assert real.read_bytes() == before
    assert main(["set", *_args(sample), "--arch", "amd64", "--follow-symlinks", "DUMMY=m"]) == 0
    assert cfg.is_symlink() and "CONFIG_DUMMY=m\n" in real.read_text()
    # a link inside the checkout is just written through
    inside = sample / "pkgs" / "kernel" / "config-amd64.real"
    inside.write_bytes(before)
    cfg.unlink()
    cfg.symlink_to("../config-amd64.real")
    assert main(["set", *_args(sample), "--arch", "amd64", "DUMMY=m"]) == 0
    assert cfg.is_symlink() and "CONFIG_DUMMY=m\n" in inside.read_text()


def test_selected_by_names_the_symbols_with_the_select_lines(session):
    from talosnb.kconfig.info import symbol_info
    for arch, config in session.configs.items():
        for sym in config.kconf.unique_defined_syms:
            if sym.name.startswith("TALOSNB_"):
                continue
            selectors = {s.name for s in config.kconf.unique_defined_syms
                         for node in s.nodes for target, _c in node.selects if target is sym}
            assert set(symbol_info(config, sym.name)["selected_by"]) == selectors, (arch, sym.name)


def test_fix_side_effects_are_labelled_while_applied(editors):
    refusal = edit.set_symbols(editors, ["MVPP2=m"], arches=["amd64"])["amd64"].refusals[0]
    reasons = {c.symbol: c.reason for c in refusal.fix.cascade}
    assert reasons["COMPILE_TEST"] == "set by the fix" and reasons["MVPP2"] == "requested"
