"""The workloads' kernel requirements on the real Talos configs and trees: the profiles as data,
each status (met, met as a module and shipped or not, not met with why-not and a verified fix,
stale, not applicable), the set/merge guard as a pure before/after function, the workloads gate
and the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import DATA, SHARED

from talosnb.analyses import requirements as rq
from talosnb.app import workloads as wl
from talosnb.core.errors import InputError

# Share the session fixtures (one tree extraction, one cache and signing key per session).

ROOT = Path(__file__).resolve().parents[2]
TREE_618 = SHARED / "kernel" / "linux-6.18.15-kbuild.tar.xz"
# strict set/merge checks the hardening gate too: the checker v1.10's Pkgfile pins, offline
CHECKER = SHARED / "tools" / "kernel-hardening-checker-aa94036c6a86f1d0f76624cf6047264af5b2f525.tar.gz"
ARCHES = ("amd64", "arm64")
CILIUM_PAGE = "https://docs.cilium.io/en/stable/operations/system_requirements/"
VALIDATORS = "https://github.com/kubernetes/system-validators/blob/master/validators/types_unix.go"


def _open(release: str, kernel_src: Path):
    from talosnb.app.workspace import Workspace

    if not Path(kernel_src).exists():
        pytest.skip("../shared is not beside the project")
    return Workspace.open(DATA[release] / "pkgs", DATA[release] / "talos", kernel_src, scratch=True,
                          hardening_checker=str(CHECKER) if CHECKER.is_file() else None)


@pytest.fixture(scope="module")
def main_618(engine_cache, engine_config):
    """Talos main's configs and module lists on the 6.18.15 tree (one per module; edits are undone)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
        mp.setenv("TALOSNB_CONFIG_DIR", str(engine_config))
        yield _open("main", TREE_618)


@pytest.fixture(scope="module")
def v110(trees, engine_cache, engine_config):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALOSNB_CACHE_DIR", str(engine_cache))
        mp.setenv("TALOSNB_CONFIG_DIR", str(engine_config))
        yield _open("v1.10", trees["6.12"])


def _rows(report: wl.RequirementsReport, **match: object) -> list[dict]:
    return [r for r in report.rows() if all(r[k] == v for k, v in match.items())]


def _line(release: str, arch: str, text: str) -> int:
    lines = (DATA[release] / "pkgs" / "kernel" / "build" / f"config-{arch}").read_text().splitlines()
    return lines.index(text) + 1


# --------------------------------------------------------------------------- profiles as data

def test_the_profiles_cover_the_workloads_with_sources():
    profiles = rq.load_profiles()
    assert {"kubernetes", "containerd", "cilium", "istio", "longhorn", "rook-ceph", "kubevirt", "kata", "criu",
            "mayastor"} <= set(profiles)
    for profile in profiles.values():
        assert profile.requirements and profile.sources
        assert any(r.required for r in profile.requirements), profile.workload
        for req in profile.requirements:
            assert req.source.url.startswith("https://") and req.section
            assert req.where.startswith(f"talosnb/profiles/{profile.workload}.toml:")
    # a module-name requirement and an optional feature, as the sources state them
    istio = [r for r in profiles["istio"].requirements if r.name == "xt_REDIRECT"]
    assert istio and istio[0].kind == "module" and istio[0].required
    assert {r.feature for r in profiles["longhorn"].requirements} >= {"base", "v2", "rwx"}
    assert {"ipsec", "wireguard", "bandwidth-manager"} <= set(profiles["cilium"].features)


@pytest.mark.parametrize(("text", "message", "line"), [
    ('sysctls = ["net.ipv4.ip_forward"]', "unknown key 'sysctls' in a requirement", 9),
    ('symbols = ["BPF"]\nkernel = ">=5.x"', "bad kernel version range '>=5.x'", 10),
    ('symbols = ["BPF"]\nfeature = "ipsec"', "feature 'ipsec', which [features] doesn't define", 10),
])
def test_bad_profile_data_names_the_file_and_line(tmp_path, text, message, line):
    path = tmp_path / "demo.toml"
    path.write_text('workload = "demo"\n\n[sources.page]\nurl = "https://example.org/requirements"\n\n'
                    '[[requirement]]\nsource = "page"\nneed = "m"\n' + text + "\n")
    with pytest.raises(InputError) as e:
        rq.load_profiles(tmp_path)
    assert message in e.value.message
    assert e.value.where == f"{path}:{line}"


def test_need_must_be_y_or_m_and_names_must_exist(tmp_path):
    path = tmp_path / "demo.toml"
    path.write_text('workload = "demo"\n[sources.page]\nurl = "https://example.org"\n'
                    '[[requirement]]\nsource = "page"\nneed = "yes"\nsymbols = ["BPF"]\n')
    with pytest.raises(InputError, match="need = 'yes'"):
        rq.load_profiles(tmp_path)
    path.write_text(path.read_text().replace('"yes"', '"y"'))
    profiles = rq.load_profiles(tmp_path)
    with pytest.raises(InputError, match="no workload profile named 'cilum'"):
        rq.select(profiles, ["cilum"])
    with pytest.raises(InputError, match="no feature named 'ipsec'"):
        rq.select(profiles, ["demo"], ["ipsec"])


# --------------------------------------------------------------------------- the real findings

def test_cilium_on_talos_main_misses_crypto_user_api_hash_on_both_arches(main_618):
    """Talos main disabled CRYPTO_USER_API_HASH; Cilium's page lists it as a base requirement."""
    report = main_618.requirements(["cilium"])
    assert report.failed
    failing = [r for r in report.rows() if r["status"] == "not-met" and r["required"]]
    assert {(r["arch"], r["requirement"]) for r in failing} == {
        (arch, "CONFIG_CRYPTO_USER_API_HASH") for arch in ARCHES}
    for row in failing:
        assert row["url"] == CILIUM_PAGE and "Base Requirements" in row["section"]
        assert CILIUM_PAGE in row["why"]
        line = _line("main", row["arch"], "# CONFIG_CRYPTO_USER_API_HASH is not set")
        assert row["where"].endswith(f"config-{row['arch']}:{line}")
        assert row["fix"].startswith("set CONFIG_CRYPTO_USER_API_HASH=y") and row["fix"].endswith("verified")
    # the fix is what it says: a dry run of it takes effect on each arch
    for arch in ARCHES:
        finding = next(f for f in report.findings if f.arch == arch and f.kind == "requirement-not-met")
        change = main_618.set(finding.details["assignments"], [arch], fix=False)
        try:
            assert change.applied
            assert main_618.configs[arch].value("CRYPTO_USER_API_HASH") == "y"
            assert not _rows(main_618.requirements(["cilium"]), arch=arch, status="not-met", required=True)
        finally:
            main_618.undo()
    assert main_618.configs["amd64"].value("CRYPTO_USER_API_HASH") == "n"


def test_talos_main_dropped_legacy_iptables_that_containerd_and_istio_list(main_618):
    """Talos main builds no legacy iptables (IP_NF_IPTABLES_LEGACY=n): moby's check-config lists
    IP_NF_FILTER, Istio the iptable_nat module; the why-not names the Kconfig line that blocks them."""
    report = main_618.requirements(["containerd", "istio"], ["base"])
    rows = {(r["workload"], r["arch"], r["requirement"]): r for r in report.rows() if r["status"] == "not-met"}
    for arch in ARCHES:
        row = rows[("containerd", arch, "CONFIG_IP_NF_FILTER")]
        assert row["where"].startswith("net/ipv4/netfilter/Kconfig:")
        assert "IP_NF_IPTABLES_LEGACY=y" in row["fix"] and row["fix"].endswith("verified")
        nat = rows[("istio", arch, "module iptable_nat")]
        assert nat["symbol"] == "IP_NF_NAT"


def test_kubernetes_passes_on_talos_v110(v110):
    report = v110.requirements(["kubernetes"], ["base"])
    assert not report.failed
    statuses = {r["status"] for r in report.rows()}
    assert statuses <= {"met", "met-module"} and "met" in statuses
    gate = v110.gates(["workloads"])
    assert gate.statuses() == {"workloads": {"amd64": "pass", "arm64": "pass"}}


def test_turning_off_a_kubernetes_requirement_fails_naming_it_and_its_source(v110):
    outcome = v110.set(["NETFILTER_XT_MATCH_COMMENT=n"])
    try:
        assert outcome.applied
        broken = [m for m in outcome.workloads.messages() if "Kubernetes's base requirement" in m]
        assert {m.split(":")[0] for m in broken} == set(ARCHES)
        assert all("CONFIG_NETFILTER_XT_MATCH_COMMENT" in m and "system-validators" in m for m in broken)
        report = v110.requirements(["kubernetes"], ["base"])
        assert report.failed
        row = _rows(report, arch="amd64", status="not-met")[0]
        assert row["requirement"] == "CONFIG_NETFILTER_XT_MATCH_COMMENT" and row["url"] == VALIDATORS
        assert row["fix"].startswith("set CONFIG_NETFILTER_XT_MATCH_COMMENT=y")
        gate = v110.gates(["workloads"])
        assert gate.failed and gate.statuses()["workloads"] == {"amd64": "fail", "arm64": "fail"}
    finally:
        v110.undo()
    assert not v110.requirements(["kubernetes"], ["base"]).failed


def test_strict_refuses_a_change_that_breaks_a_requirement(v110):
    before = v110.configs["arm64"].value("CGROUP_FREEZER")
    outcome = v110.set(["CGROUP_FREEZER=n"], strict=True)
    assert outcome.blocked and "breaks Kubernetes's base requirement CONFIG_CGROUP_FREEZER" in outcome.blocked
    assert v110.configs["arm64"].value("CGROUP_FREEZER") == before == "y"
    assert not v110.history or v110.history[-1].what != "CGROUP_FREEZER=n"


# --------------------------------------------------------------------------- each status

def test_met_as_a_module_and_whether_the_ko_ships(main_618):
    report = main_618.requirements()
    # a real one: btrfs is built as a module on Talos main and not in the module lists
    btrfs = _rows(report, workload="containerd", requirement="CONFIG_BTRFS_FS")
    assert {r["status"] for r in btrfs} == {"not-shipped"}
    assert all(r["unshipped"] == ["kernel/fs/btrfs/btrfs.ko"] for r in btrfs)
    shipped = [r for r in report.rows() if r["status"] == "met-module"]
    assert shipped and all(r["modules"] and not r["unshipped"] for r in shipped)
    # mutation: take a shipped module out of the list -> not shipped (the pure evaluation)
    row = shipped[0]
    resolved = wl.resolved_for(main_618.session, rq.select(rq.load_profiles(), [row["workload"]]))
    values = wl.values_of(main_618.session, resolved)[row["arch"]]
    lists = wl.shipped_of(main_618.module_lists)[row["arch"]]
    label = lambda s: s.requirement.label
    before = {label(s): s.status for s in rq.evaluate(resolved[row["arch"]], values, lists)}
    after = {label(s): s.status for s in rq.evaluate(resolved[row["arch"]], values, lists - set(row["modules"]))}
    assert before[row["requirement"]] == "met-module" and after[row["requirement"]] == "not-shipped"


def test_stale_requirements_name_what_the_tree_has_instead(main_618):
    report = main_618.requirements(["cilium", "istio"])
    xfrm = _rows(report, requirement="CONFIG_INET_XFRM_MODE_TUNNEL")
    assert {r["status"] for r in xfrm} == {"stale"} and len(xfrm) == 2
    stale = {f.entry: f for f in report.findings if f.kind == "requirement-stale" and f.arch == "amd64"}
    assert "doesn't define CONFIG_INET_XFRM_MODE_TUNNEL" in stale["CONFIG_INET_XFRM_MODE_TUNNEL"].message
    # a module merged into another since Linux 4.19: the tree's module of that name is named
    assert "no module named nf_conntrack_ipv4 (it has nf_conntrack)" in stale["module nf_conntrack_ipv4"].message
    assert stale["module nf_conntrack_ipv4"].where.endswith(".toml:" + stale["module nf_conntrack_ipv4"].where.split(":")[-1])


def test_module_names_resolve_through_the_kbuild_map(main_618):
    report = main_618.requirements(["istio", "kata", "longhorn"])
    for arch in ARCHES:
        redirect = _rows(report, arch=arch, requirement="module xt_REDIRECT")[0]
        assert redirect["symbol"] == "NETFILTER_XT_TARGET_REDIRECT" and redirect["status"] == "met"
        vsock = [r for r in _rows(report, arch=arch, requirement="module vhost_vsock")
                 if r["status"] != "not-applicable"]     # kata lists it per arch
        assert [r["symbol"] for r in vsock] == ["VHOST_VSOCK"]
        nvme = _rows(report, arch=arch, requirement="module nvme_tcp")[0]
        assert nvme["symbol"] == "NVME_TCP"


def test_not_applicable_by_arch_and_kernel_range(main_618):
    report = main_618.requirements(["containerd", "criu"])
    nat = _rows(report, requirement="CONFIG_NF_NAT_IPV4")
    assert {r["status"] for r in nat} == {"not-applicable"} and "Linux <5.2" in nat[0]["why"]
    soft_dirty = {r["arch"]: r["status"] for r in _rows(report, requirement="CONFIG_MEM_SOFT_DIRTY")}
    assert soft_dirty["arm64"] == "not-applicable" and soft_dirty["amd64"] != "not-applicable"


def test_the_guard_is_a_pure_function_of_before_and_after(main_618):
    resolved = wl.resolved_for(main_618.session, rq.select(rq.load_profiles(), ["cilium"], ["base"]))
    after = wl.values_of(main_618.session, resolved)
    assert not wl.verdict(after, after, resolved).broken
    mutated = {arch: {**values, "BPF_JIT": "n"} for arch, values in after.items()}
    verdict = wl.verdict(after, mutated, resolved)
    assert [(s.arch, s.requirement.name) for s in verdict.broken] == [(a, "BPF_JIT") for a in ARCHES]
    assert "breaks Cilium's base requirement CONFIG_BPF_JIT" in verdict.messages()[0]
    # and the way back is no break
    assert not wl.verdict(mutated, after, resolved).broken


def test_cilium_kube_proxy_replacement_and_bbr_and_longhorn_ublk_on_talos_main(main_618):
    """The optional features of the pages besides the system requirements: Cilium's kube-proxy
    replacement (socket-LB on BPF cgroup hooks, built in), BBR for Pods (tcp_bbr), Longhorn's UBLK
    frontend (ublk_drv, shipped): met on Talos main, and each one's break is named by its feature."""
    chosen = rq.select(rq.load_profiles(), ["cilium", "longhorn"], ["kube-proxy-replacement", "bbr", "v2-ublk"])
    resolved = wl.resolved_for(main_618.session, [r for r in chosen if not r.required])
    values = wl.values_of(main_618.session, resolved)
    shipped = wl.shipped_of(main_618.module_lists)
    statuses = {(s.arch, s.requirement.feature): s for arch, items in resolved.items()
                for s in rq.evaluate(items, values[arch], shipped[arch])}
    for arch in ARCHES:
        assert (statuses[arch, "kube-proxy-replacement"].symbol, statuses[arch, "kube-proxy-replacement"].status) \
            == ("CGROUP_BPF", "met")
        assert (statuses[arch, "bbr"].symbol, statuses[arch, "bbr"].status) == ("TCP_CONG_BBR", "met")
        assert statuses[arch, "v2-ublk"].status == "met-module"
        assert statuses[arch, "v2-ublk"].modules == ("kernel/drivers/block/ublk_drv.ko",)
    off = {arch: {**v, "CGROUP_BPF": "n", "TCP_CONG_BBR": "n"} for arch, v in values.items()}
    broken = wl.verdict(values, off, resolved, shipped).messages()
    assert sorted(m.split(" requirement ")[0] for m in broken) == sorted(
        f"{arch}: breaks Cilium's {feature}" for arch in ARCHES for feature in ("kube-proxy-replacement", "bbr"))
    # a list without ublk_drv.ko: built, but not there at run time
    unshipped = {s.requirement.feature: s.status for s in rq.evaluate(
        resolved["amd64"], values["amd64"], shipped["amd64"] - {"kernel/drivers/block/ublk_drv.ko"})}
    assert unshipped["v2-ublk"] == "not-shipped"


# --------------------------------------------------------------------------- the command line

def _cli(*args: str, cache: Path, config: Path) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TALOSNB_") or k == "TALOSNB_CONFIG_DIR"}
    env.update(TALOSNB_CACHE_DIR=str(cache), TALOSNB_CONFIG_DIR=str(config), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "talosnb", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False)


def test_the_command_line(main_618, engine_cache, engine_config):
    inputs = ["--pkgs", str(DATA["main"] / "pkgs"), "--talos", str(DATA["main"] / "talos"),
              "--kernel-src", str(TREE_618)]
    proc = _cli("requirements", "--workload", "cilium", "--format", "json", *inputs, cache=engine_cache, config=engine_config)
    assert proc.returncode == 1, proc.stderr
    payload = json.loads(proc.stdout)
    failing = [r for r in payload["requirements"] if r["status"] == "not-met" and r["required"]]
    assert {r["requirement"] for r in failing} == {"CONFIG_CRYPTO_USER_API_HASH"}
    listing = _cli("requirements", "--list", cache=engine_cache, config=engine_config)
    assert listing.returncode == 0 and "cilium: Cilium" in listing.stdout and CILIUM_PAGE in listing.stdout
    unknown = _cli("requirements", "--workload", "cilum", *inputs, cache=engine_cache, config=engine_config)
    assert unknown.returncode == 2 and "no workload profile named 'cilum'" in unknown.stderr
    gate = _cli("check", "--gate", "workloads", "--workload", "cilium", *inputs, cache=engine_cache, config=engine_config)
    assert gate.returncode == 1 and "CRYPTO_USER_API_HASH" in gate.stdout


def test_report_base_says_which_requirement_a_change_breaks(trees, engine_cache, tmp_path):
    """A head that turns CRYPTO_USER_API_HASH off (as Talos main did) against the v1.10 base: the
    change report's Workloads section says it breaks Cilium's base requirement."""
    from engine_fixtures import open_session

    from talosnb.app.change import change_report_for
    from talosnb.present.markdown import change_markdown
    from talosnb.present.report import change_report_html

    head = tmp_path / "head"
    shutil.copytree(DATA["v1.10"], head)
    for arch in ARCHES:
        config = head / "pkgs/kernel/build" / f"config-{arch}"
        config.chmod(0o644)
        text = config.read_text()
        assert "CONFIG_CRYPTO_USER_API_HASH=y\n" in text
        config.write_text(text.replace("CONFIG_CRYPTO_USER_API_HASH=y\n", "# CONFIG_CRYPTO_USER_API_HASH is not set\n"))
    session = open_session(engine_cache, pkgs=head / "pkgs", talos=head / "talos", kernel_src=trees["6.12"])
    report = change_report_for(session, base_pkgs=DATA["v1.10"] / "pkgs", base_talos=DATA["v1.10"] / "talos")
    for arch in ARCHES:
        assert report.arches[arch].workloads_broken == [(
            f"{arch}: breaks Cilium's base requirement CONFIG_CRYPTO_USER_API_HASH (now CRYPTO_USER_API_HASH=n; "
            "Cilium documentation: System Requirements, Linux Kernel > Base Requirements)")]
        assert report.arches[arch].workloads_fixed == []
    assert "breaks Cilium&#x27;s base requirement CONFIG_CRYPTO_USER_API_HASH" in change_report_html(report)
    assert "#### Workloads" in change_markdown(report)


# --------------------------------------------------------------------------- the kept answer

def test_a_kept_answer_is_the_fresh_one_until_an_input_changes(sample, tmp_path, capsys, monkeypatch):
    """`requirements` keeps its answer keyed by every input: a second run reads it back without
    opening a session and prints the same; a change to the config, the module list, a Kconfig file
    of the tree or a profile gives the answer a fresh run gives."""
    from talosnb.app import session as session_module
    from talosnb.cli.main import main
    from talosnb.core.paths import cache_dir

    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC", "TALOSNB_EXTENSIONS"):
        monkeypatch.delenv(name, raising=False)
    opened = []
    real_open = session_module.Session.open.__func__

    def counting_open(cls, *args, **kwargs):
        opened.append(1)
        return real_open(cls, *args, **kwargs)

    monkeypatch.setattr(session_module.Session, "open", classmethod(counting_open))
    profiles = tmp_path / "profiles"
    shutil.copytree(ROOT / "talosnb" / "profiles", profiles)
    argv = ["requirements", "--all", "--format", "json", "--pkgs", str(sample / "pkgs"),
            "--talos", str(sample / "talos"), "--kernel-src", str(sample / "linux"), "--profiles", str(profiles)]

    def run() -> tuple[int, dict, int]:
        before = len(opened)
        code = main(argv)
        return code, json.loads(capsys.readouterr().out), len(opened) - before

    def fresh() -> tuple[int, dict]:
        for kept in (cache_dir() / "answers").glob("requirements-*.json"):
            kept.unlink()
        code, payload, sessions = run()
        assert sessions == 1
        return code, payload

    def status(payload: dict, arch: str, requirement: str, workload: str) -> str:
        return next(r["status"] for r in payload["requirements"]
                    if (r["arch"], r["requirement"], r["workload"]) == (arch, requirement, workload))

    first = fresh()
    code, payload, sessions = run()
    assert sessions == 0 and (code, payload) == first     # read back: no tree, no config loaded
    assert status(payload, "amd64", "CONFIG_DUMMY", "containerd") == "not-met"
    assert status(payload, "amd64", "CONFIG_WIREGUARD", "cilium") == "met-module"
    assert status(payload, "amd64", "CONFIG_SCHEDSTATS", "cilium") == "stale"
    assert status(payload, "amd64", "module vhost_net", "kata") == "stale"

    def changed(path: Path, old: str, new: str) -> None:
        path.chmod(0o644)
        text = path.read_text()
        assert old in text, path
        path.write_text(text.replace(old, new, 1))

    config = sample / "pkgs/kernel/build/config-amd64"
    module_list = sample / "talos/hack/modules-amd64.txt"
    kconfig = sample / "linux/Kconfig"
    makefile = sample / "linux/drivers/net/Makefile"
    steps = [
        (lambda: changed(config, "# CONFIG_DUMMY is not set\n", "CONFIG_DUMMY=y\n"),
         ("amd64", "CONFIG_DUMMY", "containerd"), "met"),
        (lambda: changed(module_list, "kernel/drivers/net/wireguard/wireguard.ko\n", ""),
         ("amd64", "CONFIG_WIREGUARD", "cilium"), "not-shipped"),
        (lambda: kconfig.write_text(kconfig.read_text() + '\nconfig SCHEDSTATS\n\tbool "Collect scheduler statistics"\n'),
         ("amd64", "CONFIG_SCHEDSTATS", "cilium"), "not-met"),
        (lambda: changed(profiles / "cilium.toml", '"BPF_SYSCALL",', '"BPF_SYSCALL", "DUMMY",'),
         ("arm64", "CONFIG_DUMMY", "cilium"), "not-met"),
        # a Kbuild line: the module name resolves now (to DUMMY, made =y above)
        (lambda: makefile.write_text(makefile.read_text() + "obj-$(CONFIG_DUMMY)\t\t+= vhost_net.o\n"),
         ("amd64", "module vhost_net", "kata"), "met"),
    ]
    for mutate, (arch, requirement, workload), now in steps:
        mutate()
        code, payload, sessions = run()
        assert sessions == 1, requirement     # the change is seen: worked out afresh, as a first run
        assert status(payload, arch, requirement, workload) == now
    assert run() == (code, payload, 0)


# --------------------------------------------------------------------------- the pkgs checkout's choice

def test_the_pkgs_checkout_names_the_workloads_the_gate_and_guard_watch(sample, capsys, monkeypatch):
    """.talosnb.toml at the pkgs checkout's root: the workloads gate checks its workloads and the
    features it says are in use (default kubernetes), the set/merge guard watches them; a name
    given on the command line wins; a bad name is an error at its line (exit 2)."""
    from talosnb.app.workspace import Workspace
    from talosnb.cli.main import main

    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC", "TALOSNB_EXTENSIONS"):
        monkeypatch.delenv(name, raising=False)
    settings = sample / "pkgs" / ".talosnb.toml"
    ws = Workspace.open(sample / "pkgs", sample / "talos", sample / "linux")

    def gate(**named) -> dict[str, str]:
        return ws.gates(["workloads"], **named).statuses()["workloads"]

    assert gate() == {"amd64": "pass", "arm64": "pass"}          # kubernetes, by default
    # the sample's DUMMY is off: containerd's macvlan feature fails once the checkout says it is used
    settings.write_text('# the workloads this kernel runs\nworkloads = ["containerd"]\nfeatures = ["macvlan"]\n')
    assert gate() == {"amd64": "fail", "arm64": "fail"}
    failing = {f.entry for f in ws.gates(["workloads"]).findings if f.level == "error" or "not-met" in f.kind}
    assert failing == {"CONFIG_DUMMY"}
    assert gate(workloads=["kubernetes"]) == {"amd64": "pass", "arm64": "pass"}
    settings.write_text('workloads = ["containerd"]\n')
    assert gate() == {"amd64": "pass", "arm64": "pass"}          # macvlan not in use: base only

    def broken_by_wireguard_off() -> set[str]:
        outcome = ws.set(["WIREGUARD=n"], ignore_module_list=True)
        assert outcome.applied, outcome.blocked
        try:
            return {s.requirement.label for s in outcome.workloads.broken}
        finally:
            ws.undo()

    settings.write_text('workloads = ["cilium"]\nfeatures = ["ipsec"]\n')
    assert broken_by_wireguard_off() == set()                   # cilium without its wireguard feature
    settings.write_text('workloads = ["cilium"]\nfeatures = ["wireguard"]\n')
    assert broken_by_wireguard_off() == {"CONFIG_WIREGUARD"}

    settings.write_text('workloads = ["cilium"]\n\nfeatures = ["wirguard"]\n')
    with pytest.raises(InputError) as bad:
        ws.gates(["workloads"])
    assert bad.value.where == f"{settings}:3" and "'wirguard'" in bad.value.message
    settings.write_text('\nworkloads = ["cilum"]\n')
    code = main(["check", "--gate", "workloads", "--pkgs", str(sample / "pkgs"), "--talos", str(sample / "talos"),
                 "--kernel-src", str(sample / "linux")])
    assert code == 2 and f"{settings}:2: no workload profile named 'cilum'" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "line", "message"), [
    ('workloads = ["kubernetes"]\nworkload = ["cilium"]\n', 2, "unknown key 'workload'"),
    ('\n\nworkloads = "cilium"\n', 3, "workloads must be a list of names"),
    ('features = ["ipsec", 3]\n', 1, "features must be a list of names"),
    ('workloads = ["kubernetes"\n\n', 2, "not valid TOML"),
    ('workloads = ["kubernetes"]\nworkloads = ["cilium"]\n', 2, "not valid TOML"),
])
def test_bad_checkout_settings_name_the_file_and_line(tmp_path, text, line, message):
    from talosnb.inputs.checkouts import read_settings

    path = tmp_path / ".talosnb.toml"
    path.write_text(text)
    with pytest.raises(InputError) as bad:
        read_settings(path)
    assert bad.value.where == f"{path}:{line}" and message in bad.value.message
    assert read_settings(tmp_path / "missing.toml") is None
