"""talosnb upgrade on the real Talos data, both arches, judged by the kernel's own tools.

- Talos v1.10 from Linux 6.12.117 to 7.2.12 (both trees), with the host's gcc;
- Talos main from its 6.18.45 config to 7.2.12 without the current tree (none is available
  here), with clang-22, Talos main's own compiler.

The oracle is `make olddefconfig` / `make listnewconfig` in the 7.2.12 skeleton (the kernel's
conf, in a separate O= folder). A line may differ from conf's output only when a compiler probe
explains it: a toolchain line (whose symbol uses a probe) whose answer differs between the host
and what the config records, or a line whose value depends on such a line.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import kconfiglib
import pytest
from engine_fixtures import DATA, real_config

from talosnb.analyses.upgrade import proposed_list
from talosnb.app.upgrade import Upgrade
from talosnb.core import dotconfig
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff
from talosnb.kconfig.tree import KconfigTree
from talosnb.present.upgrade import cause_text, group_dict, upgrade_json, upgrade_text

ROOT = Path(__file__).resolve().parents[2]
ARCHES = ("amd64", "arm64")
CLANG_TOOLS = ("clang-22", "ld.lld-22", "llvm-nm-22", "llvm-ar-22")
# Talos main records pahole 1.31 (PAHOLE_VERSION=131): the oracle's pahole says so too
FAKE_PAHOLE = "#!/bin/sh\necho v1.31\n"


@pytest.fixture(scope="session")
def oracle(kernel_conf, tmp_path_factory) -> dict[tuple[str, str], dict[str, str]]:
    """(release, arch) -> {"olddefconfig": what make olddefconfig writes from the Talos config in the
    7.2.12 tree, "listnewconfig": what make listnewconfig prints for it}. v1.10 with the host's gcc,
    main with clang-22 (LLVM=-22) and pahole 1.31; rustc pinned absent (make's command line wins
    over the Makefile's RUSTC = rustc), as neither config records one. make runs in kernel_conf's
    O= folder for each set of variables, so conf is built once for each (v1.10's is make_envs')."""
    root = tmp_path_factory.mktemp("upgrade-oracle")
    (root / "pahole").write_text(FAKE_PAHOLE)
    (root / "pahole").chmod(0o755)
    out = {}
    for release in ("v1.10", "main"):
        variables = {"RUSTC": "talosnb-no-rustc"}
        if release == "main":
            if not all(shutil.which(t) for t in CLANG_TOOLS):
                continue
            variables.update({"LLVM": "-22", "PAHOLE": str(root / "pahole")})
        for arch in ARCHES:
            text = real_config(release, arch)
            listed = kernel_conf["7.2"].make_target("listnewconfig", text, arch, variables)[0]
            out[(release, arch)] = {"olddefconfig": kernel_conf["7.2"].make_olddefconfig(text, arch, variables),
                                    "listnewconfig": listed}
    return out


def _needs(oracle, release: str) -> None:
    if (release, "amd64") not in oracle:
        pytest.skip(f"{', '.join(CLANG_TOOLS)} are not installed (apt-get install clang-22 lld-22 llvm-22)")


def _copy(release: str, dest: Path) -> Path:
    """A writable copy of the release's pkgs, talos and extensions checkouts."""
    for part in ("pkgs", "talos", "extensions"):
        shutil.copytree(DATA[release] / part, dest / part)
    return dest


@pytest.fixture(scope="session")
def upgrades(trees, engine_cache, tmp_path_factory) -> dict[str, Upgrade]:
    """The two upgrades, opened once: v1.10 on both trees, main on 7.2.12 alone (--no-current-tree)."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
        for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC"):
            mp.delenv(name, raising=False)
        for release in ("v1.10", "main"):
            copy = _copy(release, tmp_path_factory.mktemp(f"upgrade-{release}"))
            out[release] = Upgrade.open(copy / "pkgs", copy / "talos", trees["6.12"],
                                        to_kernel_src=trees["7.2"], current_tree=release == "v1.10",
                                        extensions=copy / "extensions" if release == "v1.10" else None)
            # every fix searched, however long it takes: what is found must not depend on the machine
            out[release].report(fix_seconds=600)
    return out


def toolchain_caused(config: Config, ours: str, conf: str) -> set[str]:
    """The symbols whose line differing between ``ours`` and ``conf`` a compiler probe explains:
    probe users (toolchain lines) that differ, and every symbol whose value depends on them
    (kconfiglib's dependents, choices through their members)."""
    kconf = config.kconf
    users = {user for names in kconf.talosnb_probe_users.values() for user in names}
    differ = {c.symbol for c in config_diff(conf, ours)}
    caused = set(differ & users)
    stack = [kconf.syms[name] for name in caused]
    while stack:
        sym = stack.pop()
        for dependent in sym._dependents:
            for item in (dependent.syms if isinstance(dependent, kconfiglib.Choice) else [dependent]):
                if isinstance(item, kconfiglib.Symbol) and item.name not in caused:
                    caused.add(item.name)
                    stack.append(item)
    return caused


def _set_lines(config: Config | None, text: str) -> set[str]:
    """The symbols of the lines a config file sets: a visible symbol's value or 'is not set', on the
    tree it was made for (all of them without that tree)."""
    values = dotconfig.read_values(text)
    if config is None:
        return set(values)
    out = set()
    for name in values:
        sym = config.kconf.syms.get(name)
        if sym is not None and config.has_symbol(name) and sym.visibility and any(n.prompt for n in sym.nodes):
            out.add(name)
    return out


# --- the report -------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("release", ["v1.10", "main"])
def test_choices_not_honoured_are_exactly_the_set_lines_conf_changes(upgrades, oracle, release):
    _needs(oracle, release)
    upgrade = upgrades[release]
    report = upgrade.report()
    for arch in ARCHES:
        config = upgrade.workspace.configs[arch]
        conf = oracle[(release, arch)]["olddefconfig"]
        original = real_config(release, arch)
        caused = toolchain_caused(config, config.text(), conf)
        old = upgrade.current.configs[arch] if upgrade.current is not None else None
        conf_changed = {c.symbol for c in config_diff(original, conf)} & _set_lines(old, original)
        ours = {c.symbol for c in report.arches[arch].choices}
        assert ours - caused == conf_changed - caused, arch
        assert len(ours) > 50
        # and each one says what the line becomes, as conf writes it
        written = dotconfig.read_values(conf)
        for item in report.arches[arch].choices:
            if item.symbol not in caused:
                assert item.finding.details["new"] == written.get(item.symbol), item.symbol


@pytest.mark.slow
def test_v110_reasons_point_into_the_new_tree(upgrades):
    report = upgrades["v1.10"].report()
    by = {(c.finding.arch, c.symbol): c for c in report.choices()}
    preempt = by[("amd64", "PREEMPT_NONE")]
    assert preempt.finding.kind == "choice" and preempt.finding.level == "error"
    assert preempt.finding.where == f"kernel/build/config-amd64:{_line_of('v1.10', 'amd64', 'PREEMPT_NONE')}"
    assert preempt.reasons[0].where == "kernel/Kconfig.preempt:22"
    leaf = preempt.reasons[0].children[0].children[0]
    assert leaf.text.startswith("ARCH_NO_PREEMPT = n") and leaf.fixed
    # a new dependency with a fix verified on the new tree
    nat = by[("amd64", "IP_NF_NAT")]
    assert nat.finding.kind == "dependency"
    assert nat.fix is not None and nat.fix.found
    assert [str(a) for a in nat.fix.assignments] == ["NETFILTER_XTABLES_LEGACY=y"]
    # the rename 7.2 records as a transitional symbol
    renamed = by[("amd64", "RANDOM_KMALLOC_CACHES")]
    assert renamed.finding.kind == "renamed" and renamed.finding.details["renamed_to"] == "KMALLOC_PARTITION_CACHES"
    assert renamed.reasons[0].where == "mm/Kconfig:315" and renamed.reasons[0].children[0].where == "mm/Kconfig:251"
    # a removed symbol named by the help text of its successor
    assert "CONFIG_DRM_HYPERV" in by[("amd64", "FB_HYPERV")].finding.message


def _line_of(release: str, arch: str, symbol: str) -> int:
    for number, line in enumerate(dotconfig.split_lines(real_config(release, arch)), 1):
        parsed = dotconfig.parse_line(line)
        if parsed is not None and parsed.symbol == symbol:
            return number
    raise AssertionError(symbol)


@pytest.mark.slow
@pytest.mark.parametrize("release", ["v1.10", "main"])
def test_new_symbols_are_what_listnewconfig_lists(upgrades, oracle, release):
    _needs(oracle, release)
    report = upgrades[release].report()
    for arch in ARCHES:
        listed = {}
        for line in oracle[(release, arch)]["listnewconfig"].splitlines():
            name, _, value = line.partition("=")
            listed[name.removeprefix("CONFIG_")] = value
        config = upgrades[release].workspace.configs[arch]
        caused = toolchain_caused(config, config.text(), oracle[(release, arch)]["olddefconfig"])
        ours = {s.symbol: s.value for s in report.arches[arch].new_symbols}
        assert {k: v for k, v in ours.items() if k not in caused} == \
            {k: v for k, v in listed.items() if k not in caused}, arch
        assert len(ours) > 100


@pytest.mark.slow
def test_v110_module_lists(upgrades):
    report = upgrades["v1.10"].report()
    rows = {(m.arch, m.entry): m for m in report.arches["amd64"].modules + report.arches["arm64"].modules}
    # the moves the issue names: xor, raid6, lib/crc*, tsm -> tsm_report, intel_vsec -> intel-vsec
    assert rows[("amd64", "kernel/crypto/xor.ko")].status == "moved"
    assert rows[("amd64", "kernel/crypto/xor.ko")].new_entries == ("kernel/lib/raid/xor/xor.ko",)
    assert rows[("arm64", "kernel/lib/raid6/raid6_pq.ko")].new_entries == ("kernel/lib/raid/raid6/raid6_pq.ko",)
    assert rows[("amd64", "kernel/lib/crc64.ko")].new_entries == ("kernel/lib/crc/crc64.ko",)
    assert rows[("amd64", "kernel/drivers/virt/coco/tsm.ko")].status == "renamed"
    assert rows[("amd64", "kernel/drivers/virt/coco/tsm.ko")].new_entries == \
        ("kernel/drivers/virt/coco/guest/tsm_report.ko",)
    vsec = rows[("amd64", "kernel/drivers/platform/x86/intel/intel_vsec.ko")]
    assert (vsec.status, vsec.new_entries) == ("renamed", ("kernel/drivers/platform/x86/intel/intel-vsec.ko",))
    # a library split out of stmmac that stmmac-pci now needs
    needs = {f.entry: f for f in report.findings("modules") if f.kind == "module-needs"}
    assert "kernel/drivers/net/ethernet/stmicro/stmmac/stmmac_libpci.ko" in needs
    assert "stmmac-pci.ko" in needs["kernel/drivers/net/ethernet/stmicro/stmmac/stmmac_libpci.ko"].message
    # the proposed lists keep upstream's order (no entry moves, new ones at their LC_ALL=C place)
    # and their metadata entries
    for arch in ARCHES:
        original = upgrades["v1.10"].workspace.module_list(arch)
        edits = [e for e in report.arches[arch].edits if e.list_id is None]     # talos's list
        proposed = proposed_list(original, edits, upgrades["v1.10"].workspace.kbuild_map(arch))
        removed = {e for edit in edits for e in edit.remove}
        added = [e for edit in edits for e in edit.add]
        assert [e for e in proposed.entries if e not in added] == [e for e in original.entries if e not in removed]
        for entry in added:
            index = proposed.entries.index(entry)
            assert proposed.entries[index - 1].encode() < entry.encode() < proposed.entries[index + 1].encode()
        assert _unsorted(proposed.entries) <= _unsorted(original.entries)
        assert [e for e in proposed.entries if not e.startswith("kernel/")] == \
            [e for e in original.entries if not e.startswith("kernel/")]


@pytest.mark.slow
def test_v110_extension_lists_follow_a_renamed_module(upgrades):
    """btrfs's files/modules.txt lists crypto/blake2b_generic.ko; 7.2 builds CONFIG_CRYPTO_BLAKE2B as
    crypto/blake2b.ko: the extension's list gets the same edit talos's would, in its own file."""
    upgrade = upgrades["v1.10"]
    report = upgrade.report()
    renamed = {f.arch: f for f in report.findings("modules") if f.entry == "kernel/crypto/blake2b_generic.ko"}
    assert {a: f.kind for a, f in renamed.items()} == {"amd64": "module-renamed", "arm64": "module-renamed"}
    assert renamed["amd64"].where == "storage/btrfs/files/modules.txt:4"
    assert "CONFIG_CRYPTO_BLAKE2B builds kernel/crypto/blake2b.ko" in renamed["amd64"].message
    ours = [e for e in report.edits() if e.list_id == "extensions/storage/btrfs"]
    # one files/modules.txt for both arches: one edit
    assert [(e.key, e.remove, e.add) for e in ours] == [
        ("extensions/storage/btrfs:amd64:renamed:kernel/crypto/blake2b_generic.ko",
         ("kernel/crypto/blake2b_generic.ko",), ("kernel/crypto/blake2b.ko",))]
    assert all(e.kind in ("moved", "renamed", "split") for e in report.edits() if e.list_id)
    # what a write would write (computed on copies): only the extensions' own files change for them
    preview = {p.name: p for p in upgrade.preview(report=report)}
    btrfs = preview["storage/btrfs/files/modules.txt"]
    assert btrfs.changed and "-kernel/crypto/blake2b_generic.ko" in btrfs.lines \
        and "+kernel/crypto/blake2b.ko" in btrfs.lines
    assert not preview["misc/binfmt-misc/files/modules.txt"].changed
    assert not any("blake2b" in line for name in ("modules-amd64.txt", "modules-arm64.txt")
                   for line in preview[name].lines)


def _unsorted(entries: list[str]) -> int:
    return sum(1 for a, b in itertools.pairwise(entries) if b.encode() < a.encode())


@pytest.mark.slow
def test_main_without_the_current_tree_says_what_it_could_not_compute(upgrades):
    upgrade = upgrades["main"]
    report = upgrade.report()
    assert upgrade.current is None and report.from_version is None and report.config_version == "6.18.45"
    text = " ".join(report.not_computed)
    assert "which lines the config sets" in text and "renamed, split and gone" in text
    assert all(c.finding.details["set_by_config"] is None for c in report.choices())
    statuses = {m.status for r in report.arches.values() for m in r.modules}
    assert "renamed" not in statuses and "gone" not in statuses and "unknown" in statuses
    hkdf = next(m for m in report.arches["amd64"].modules if m.entry == "kernel/crypto/hkdf.ko")
    assert hkdf.status == "unknown"
    # but a move is still seen from the new tree alone
    xor = next(m for m in report.arches["amd64"].modules if m.entry == "kernel/crypto/xor.ko")
    assert (xor.status, xor.new_entries) == ("moved", ("kernel/lib/raid/xor/xor.ko",))
    # the PREEMPT_NONE -> PREEMPT flip
    flip = {(c.finding.arch, c.symbol): c.finding for c in report.choices()}
    assert flip[("amd64", "PREEMPT_NONE")].kind == "choice"
    assert flip[("amd64", "PREEMPT")].details["new"] == "y"
    assert upgrade_json(report)["not_computed"] == report.not_computed


# --- the write -----------------------------------------------------------------

@pytest.fixture(scope="session")
def written(trees, engine_cache, tmp_path_factory) -> dict[str, Path]:
    """`talosnb upgrade --write` run on copies of both releases (its own processes)."""
    out = {}
    for release, current in (("v1.10", ["--kernel-src", str(trees["6.12"])]), ("main", ["--no-current-tree"])):
        copy = _copy(release, tmp_path_factory.mktemp(f"write-{release}"))
        result = _talosnb("upgrade", "--pkgs", str(copy / "pkgs"), "--talos", str(copy / "talos"), *current,
                          "--to-kernel-src", str(trees["7.2"]), "--sha256", "0" * 64, "--sha512", "1" * 128,
                          "--write", "--format", "json", "--no-fix", cache=engine_cache)
        assert result.returncode == 1, result.stderr   # the report has errors; the write went through
        payload = json.loads(result.stdout)
        assert {w["name"] for w in payload["written"]} == {"config-amd64", "config-arm64", "modules-amd64.txt",
                                                             "modules-arm64.txt", "Pkgfile"}
        out[release] = copy
    return out


def _talosnb(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cache), "TALOSNB_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("release", ["v1.10", "main"])
def test_after_write_normalize_changes_nothing_and_check_is_clean(written, trees, engine_cache, release):
    copy = written[release]
    inputs = ["--pkgs", str(copy / "pkgs"), "--talos", str(copy / "talos"), "--kernel-src", str(trees["7.2"])]
    result = _talosnb("normalize", "--dry-run", "--format", "json", *inputs, cache=engine_cache)
    assert result.returncode == 0, result.stderr
    for arch, report in json.loads(result.stdout)["configs"].items():
        assert report["changes"] == [] and not report["notes"], arch
    # the gates an upgrade decides (the hardening gate needs the Pkgfile's checker: tests/gates/)
    result = _talosnb("check", "--gate", "olddefconfig,modules", "--format", "json", "--info", *inputs,
                      cache=engine_cache)
    findings = json.loads(result.stdout)["findings"]
    assert [f for f in findings if f["level"] == "error"] == []
    assert [f for f in findings if f["kind"] in ("not-in-this-tree", "not-in-tree")] == []
    assert result.returncode == 0, result.stderr
    pkgfile = (copy / "pkgs" / "Pkgfile").read_text()
    assert "linux_version: 7.2.12\n" in pkgfile and f"linux_sha256: {'0' * 64}\n" in pkgfile
    original = (DATA[release] / "pkgs" / "Pkgfile").read_text()
    assert len(pkgfile.splitlines()) == len(original.splitlines())
    assert [a for a, b in zip(original.splitlines(), pkgfile.splitlines(), strict=True) if a != b] == \
        [line for line in original.splitlines() if line.strip().startswith(("linux_version:", "linux_sha"))]


@pytest.mark.slow
@pytest.mark.parametrize("release", ["v1.10", "main"])
def test_written_configs_are_what_conf_writes(written, oracle, trees, release):
    _needs(oracle, release)
    for arch in ARCHES:
        ours = (written[release] / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text()
        conf = oracle[(release, arch)]["olddefconfig"]
        config = Config.from_text(KconfigTree.load(trees["7.2"], arch), ours)
        caused = toolchain_caused(config, ours, conf)
        differ = {c.symbol for c in config_diff(conf, ours)}
        assert differ - caused == set(), arch
        # the toolchain lines are the config's own: its compiler is named as it recorded it
        assert dotconfig.read_values(ours)["CC_VERSION_TEXT"] == \
            dotconfig.read_values(real_config(release, arch))["CC_VERSION_TEXT"]
        assert ours.startswith("#\n# Automatically generated file; DO NOT EDIT.\n# Linux/")


@pytest.mark.slow
def test_pkgs_patches_on_7212(upgrades):
    main = {f.entry: f for f in upgrades["main"].report().patches}
    assert main["0014-libceph-add-support-for-CEPH_CRYPTO_AES256KRB5.patch"].kind == "patch-upstream"
    assert {f.kind for name, f in main.items() if not name.startswith("0014")} == {"patch-skipped"}
    assert len(main) == 15
    v110 = {f.entry: f.kind for f in upgrades["v1.10"].report().patches}
    assert v110 == {"mglru.patch": "patch-skipped"}


@pytest.mark.slow
def test_v110_one_cause_is_one_item_with_one_fix_that_enables_it(upgrades):
    """7.x hides 16 iptables options of each v1.10 config behind a new symbol the config has no line for:
    one item naming the 16 lines, its cause worded as what it is (no line, not "set in the config"), and
    one fix verified for all of them; a cause only turning something off gets no fix."""
    report = upgrades["v1.10"].report()
    text = upgrade_text(report)
    for arch in ARCHES:
        groups = [g for g in report.choice_groups() if g.arch == arch]
        (legacy,) = [g for g in groups if g.cause == (("NETFILTER_XTABLES_LEGACY", "y"),)]
        assert len(legacy.items) == 16 and {"IP_NF_FILTER", "IP6_NF_NAT", "BRIDGE_EBT_T_NAT"} <= set(legacy.symbols)
        assert cause_text(legacy) == ("NETFILTER_XTABLES_LEGACY = n: no line in the config, so its default; set it "
                                       "to y (net/netfilter/Kconfig:747)")
        assert [str(a) for a in legacy.fix.assignments] == ["NETFILTER_XTABLES_LEGACY=y"]
        assert all(c.finding.fix == legacy.items[0].finding.fix for c in legacy.items)
        assert f"{arch} error   dependency         16 lines can't be kept for one cause, NETFILTER_XTABLES_LEGACY" in text
        for group in groups:      # never a fix that turns a menu off (INET=n keeps two crypto lines unset)
            assert group.fix is None or all(a.value != "n" for a in group.fix.assignments), group_dict(group)
    as_json = upgrade_json(report)["arches"]["amd64"]["choice_groups"]
    assert {"cause": ["NETFILTER_XTABLES_LEGACY=y"], "fix": "NETFILTER_XTABLES_LEGACY=y"}.items() <= \
        next(g for g in as_json if g["cause"] == ["NETFILTER_XTABLES_LEGACY=y"]).items()
    assert "NETFILTER_XTABLES_LEGACY = n: set in the config" not in text
    from talosnb.present.report import upgrade_html

    page = upgrade_html(report)
    assert "amd64: 16 lines (CONFIG_IP_NF_FILTER, " in page
    assert "fix: <code>NETFILTER_XTABLES_LEGACY=y</code>, verified for all of them" in page
    # inside its group only: in the list of lines and as the first one's tree, on each arch
    assert text.count("CONFIG_IP_NF_FILTER=y") == 4 and "CONFIG_IP_NF_FILTER=y can't be kept" not in text


@pytest.mark.slow
def test_fix_candidates_enable_before_they_turn_off_and_small_before_whole_menus(upgrades):
    from talosnb.analyses.edit import Assignment, Editor

    config = upgrades["v1.10"].workspace.configs["amd64"]
    editor = Editor(config)
    # kept unset on 7.2.12, PAGE_POOL_STATS is selected by MLX5_CORE_EN (behind NETDEVICES, ETHERNET, ...)
    leaves = [next(iter(leaf.items())) for leaf in editor._fix_leaves(Assignment("PAGE_POOL_STATS", "n"))]
    raising = [name for name, value in leaves if value != "n"]
    assert raising and leaves[:len(raising)] == [(name, "y") for name in raising]       # enabling first
    names = [name for name, _ in leaves]
    assert names.index("MLX5_CORE_EN") < names.index("INET") < names.index("NETDEVICES")
    assert names.index("NETDEVICES") < names.index("PCI")
    # three tries are enough to find the small fix, not a whole menu (deepest first, PCI=n came first)
    fix = editor.find_fix(Assignment("PAGE_POOL_STATS", "n"), budget=3)
    assert fix.found and [str(a) for a in fix.assignments] == ["MLX5_CORE_EN=n"]


def test_a_debian_tarball_is_named_before_its_hashes_go_into_the_pkgfile(trees):
    from talosnb.app.upgrade import not_kernel_org
    from talosnb.inputs.kernel_tree import KernelTree
    from talosnb.inputs.pkgfile import parse_pkgfile_text

    shared = DATA["v1.10"].parents[1] / "kernel"
    # the session's tree, extracted from the Debian skeleton with its own top folder
    tree = KernelTree.open(trees["7.2"], origin=shared / "linux-7.2.12-kbuild.tar.xz", extraction=trees["7.2"].parent)
    why = not_kernel_org(shared / "linux-7.2.12-kbuild.tar.xz", tree)
    assert why is not None and "its top folder is linux-source-7.2/, not linux-7.2.12/" in why
    assert why.startswith("linux-7.2.12-kbuild.tar.xz is not kernel.org's linux-7.2.12 tarball")
    from talosnb.analyses.upgrade import bump

    pkgfile = DATA["v1.10"] / "pkgs" / "Pkgfile"
    text = pkgfile.read_text()
    bumped = bump(str(pkgfile), text, "7.2.12", why_unknown=why)
    assert not bumped.complete and bumped.text is None                # the Pkgfile keeps its own hashes
    (warning,) = [f for f in bumped.findings("7.2.12") if f.kind == "bump-no-hashes"]
    assert warning.level == "warning" and "linux-source-7.2/" in warning.message
    assert "kernel.org's linux-7.2.12 tarball as --to-kernel-src" in warning.fix
    assert parse_pkgfile_text(text, str(pkgfile)).linux_sha256 not in warning.message
