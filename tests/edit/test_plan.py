"""A change is a plan: proposed once on trial state, every guard a verdict, committed as one step.

The work of one guarded `set` with --add-to-module-list is counted on the real Talos v1.10 configs
and the 6.12.117 tree: each arch's edit is tried once, no undo or redo measures a guard's
"before", the module lists are not checked in full, and each file's text is built once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from engine_fixtures import DATA, SHARED

from talosnb.analyses import edit, modules
from talosnb.analyses.edit import Assignment
from talosnb.app.plan import Options, Request
from talosnb.app.session import Session
from talosnb.app.workspace import Workspace
from talosnb.core.dotconfig import read_values
from talosnb.core.errors import RefusedError
from talosnb.kconfig.config import Config
from talosnb.kconfig.diff import config_diff
from talosnb.present.workspace import pending_text

CHECKER = SHARED / "tools" / "kernel-hardening-checker-aa94036c6a86f1d0f76624cf6047264af5b2f525.tar.gz"


def _count(monkeypatch, counts: Counter, owner: Any, name: str, key=None) -> None:
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts[key(*args) if key else name] += 1
        return original(*args, **kwargs)
    monkeypatch.setattr(owner, name, counted)


def test_a_guarded_set_computes_each_thing_once(trees, monkeypatch):
    if not CHECKER.is_file():
        pytest.skip("../shared/tools is not present")
    ws = Workspace.open(DATA["v1.10"] / "pkgs", DATA["v1.10"] / "talos", trees["6.12"], scratch=True,
                        hardening_checker=str(CHECKER))
    ws.gates(["hardening"])            # the checker obtained, as a session that ran the gates has it
    # what writing alone changes (v1.10's configs on 6.12.117), as the file's text says it
    drift = {arch: config_diff(c.original_text, c.text()) for arch, c in ws.configs.items()}
    assert all(drift.values())
    counts: Counter = Counter()
    _count(monkeypatch, counts, edit.Editor, "attempt", key=lambda editor, *_: f"attempt {editor.arch}")
    _count(monkeypatch, counts, edit.Editor, "undo")
    _count(monkeypatch, counts, edit.Editor, "redo")
    _count(monkeypatch, counts, modules, "check_module_lists")
    _count(monkeypatch, counts, Config, "text", key=lambda config: f"text {config.arch}")
    request = Request("set", (Assignment("IFB", "m"), Assignment("RANDOMIZE_BASE", "n")),
                      add_to_module_list=True, write=True)
    plan = ws.propose(request, Options(allow_drop=True))
    # every guard judged: the assignments take effect, the lists stay right, the hardening gate breaks
    assert plan.blocked is None and plan.refusal is None and plan.applied
    assert {v.guard for v in plan.verdicts} >= {"assignments", "module-list", "gates", "dropped-lines",
                                                 "series-change", "sample", "changed-on-disk"}
    gates = plan.verdict("gates")
    assert gates is not None and not gates.refuses
    assert {b.arch for b in gates.detail.broken} == {"amd64", "arm64"}
    assert {arch: m["added"] for arch, m in plan.modules.items()} == {
        arch: ["kernel/drivers/net/ifb.ko"] for arch in ("amd64", "arm64")}
    assert sorted(plan.file_names()) == ["config-amd64", "config-arm64", "modules-amd64.txt", "modules-arm64.txt"]
    assert plan.outcome is not None and plan.outcome.drift == drift   # read from the planned text
    saved = ws.commit(plan)
    assert saved is not None and sorted(p.name for p in saved.written) == sorted(plan.file_names())
    for arch in ("amd64", "arm64"):
        written = read_values(ws.configs[arch].snapshot.path.read_text())
        assert written["IFB"] == "m" and written["RANDOMIZE_BASE"] == "n"
        assert "kernel/drivers/net/ifb.ko" in ws.module_lists[arch].snapshot.path.read_text().split()
    # the work: one attempt per arch, no undo/redo, no full module check, each config's text built once
    assert counts == Counter({"attempt amd64": 1, "attempt arm64": 1, "text amd64": 1, "text arm64": 1})
    assert len(ws.history) == 1 and ws.history[0].also and pending_text(ws.pending()).count(": no change") == 4
    ws.undo()
    assert read_values(ws.configs["amd64"].text())["IFB"] == "n"


def test_a_plan_is_shown_before_it_is_kept_and_a_stale_one_is_refused(sample):
    ws = Workspace.open(sample / "pkgs", sample / "talos", sample / "linux")
    plan = ws.propose(Request("set", (Assignment("VIRTIO_NET", "m"),), ("amd64",), add_to_module_list=True))
    # on trial: the workspace shows the planned state until commit or discard
    assert ws.configs["amd64"].written()["VIRTIO_NET"] == "m" and ws.history == []
    assert "kernel/drivers/net/virtio_net.ko" in ws.module_lists["amd64"].entries
    ws.discard(plan)
    assert ws.configs["amd64"].written()["VIRTIO_NET"] == "y"
    assert "kernel/drivers/net/virtio_net.ko" not in ws.module_lists["amd64"].entries
    with pytest.raises(RefusedError, match="changed since this change was planned"):
        ws.commit(plan)
    plan = ws.propose(Request("set", (Assignment("VIRTIO_NET", "m"),), ("amd64",)))
    ws.commit(plan)
    assert ws.configs["amd64"].written()["VIRTIO_NET"] == "m" and len(ws.history) == 1
    with pytest.raises(RefusedError):
        ws.commit(plan)                  # committed once
    # a blocked plan holds nothing: the module-list guard refuses, naming the override
    blocked = ws.propose(Request("set", (Assignment("BLK_DEV_NBD", "y"),), ("amd64",)))
    verdict = blocked.verdict("module-list")
    assert blocked.blocked and verdict is not None and verdict.refuses and verdict.override == "ignore_module_list"
    assert not blocked.applied and ws.configs["amd64"].written()["BLK_DEV_NBD"] == "m"
    assert ws.commit(blocked) is None and len(ws.history) == 1


def test_the_editors_and_their_undo_stacks_are_the_workspaces(sample):
    session = Session.open(sample / "pkgs", sample / "talos", sample / "linux")
    assert not hasattr(session, "editors")                 # the session holds what was loaded, no edits
    ws = Workspace(session)
    assert all(ws.editors[arch].config is config for arch, config in session.configs.items())
    ws.set(["DUMMY=m"], arches=["amd64"])
    assert len(ws.editors["amd64"].history) == 1 and ws.written("amd64")["DUMMY"] == "m"
    # another workspace over the same session edits through the same editors: its written values
    # follow what the first one changes (an editor of its own would keep stale ones)
    other = Workspace(session)
    assert other.editors["amd64"] is ws.editors["amd64"] and other.written("amd64")["DUMMY"] == "m"
    ws.undo()
    assert other.written("amd64").get("DUMMY", "n") == "n" and not other.editors["amd64"].history
    # a why answer is typed; its record is what `talosnb why --format json` lists
    answer = ws.why("CONFIG_MVPP2", "m")["amd64"]
    assert answer is not None and answer.possible is False and answer.refusal is not None
    assert answer.refusal.fix is not None and [str(a) for a in answer.refusal.fix.assignments] == ["COMPILE_TEST=y"]
    record = answer.as_dict()
    assert record["request"] == "MVPP2=m" and record["defined"] and record["reason"] == answer.reason
    assert ws.why("X86_MSR")["arm64"] is None                # not defined on arm64
