"""Two changes made at the same time can't both pass a guard the other one breaks: a `set` is checked
against the module lists and a `modules add` against the config, so the file each decision read is
part of its write (locked with it and compared under the lock). The window between the decision and
the write is widened by the write path's own hook (fileio.race_hook), the other change made in it;
on a copy of the embedded sample."""

from __future__ import annotations

import pytest

from talosnb.analyses.edit import Assignment
from talosnb.app.plan import Request
from talosnb.app.workspace import Workspace
from talosnb.core import fileio
from talosnb.core.dotconfig import read_values
from talosnb.core.errors import FileChangedError

MODULE = "kernel/crypto/crypto_user.ko"    # CONFIG_CRYPTO_USER=m in the sample, not listed


def turn_off(ws: Workspace):
    return ws.propose(Request("set", (Assignment("CRYPTO_USER", "n"),), ("amd64",), write=True))


def add_module(ws: Workspace):
    return ws.propose(Request("modules", arches=("amd64",), module_action="add", module_entries=("crypto_user",),
                              write=True))


@pytest.mark.parametrize("outer", ["set", "modules add"])
def test_a_set_and_a_modules_add_made_at_once_do_not_both_pass_the_guard(sample, hook, outer):
    config = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    module_list = sample / "talos" / "hack" / "modules-amd64.txt"
    first, second = (Workspace.open(sample / "pkgs", sample / "talos", sample / "linux", arch="amd64")
                     for _ in range(2))
    plans = {"set": turn_off, "modules add": add_module}
    inner = "modules add" if outer == "set" else "set"
    # both decisions are made on the same state, and both pass their guard
    outer_plan = plans[outer](first)
    assert outer_plan.blocked is None and outer_plan.refusal is None
    # the other change is decided and written between this one's decision and its write
    hook("checked", lambda: second.commit(plans[inner](second)))
    with pytest.raises(FileChangedError, match="this change was checked against it") as caught:
        first.commit(outer_plan)
    read = module_list if outer == "set" else config
    assert str(read) in str(caught.value)
    # one of the two changes is on disk, never both: the config and the list agree
    turned_off = read_values(config.read_text()).get("CRYPTO_USER", "n") == "n"
    listed = MODULE in module_list.read_text().split()
    assert (turned_off, listed) == ((True, False) if inner == "set" else (False, True))


def test_a_file_read_to_decide_edited_while_the_write_is_made_refuses_it(sample, hook):
    config = sample / "pkgs" / "kernel" / "build" / "config-amd64"
    module_list = sample / "talos" / "hack" / "modules-amd64.txt"
    old = config.read_bytes()
    tx = fileio.Transaction()
    tx.add(config, old + b"# talosnb's change\n", expect=fileio.Snapshot.of(config), root=sample / "pkgs")
    tx.depend(module_list, fileio.Snapshot.of(module_list))

    def edit() -> None:   # by a program that takes no lock, after the check under the lock
        with open(module_list, "a") as f:
            f.write(MODULE + "\n")
    hook("written", edit)
    with pytest.raises(FileChangedError, match="while this write was being made") as caught:
        tx.commit()
    assert caught.value.files == (str(module_list),)
    assert config.read_bytes() == old and not [n for n in config.parent.iterdir() if ".talosnb-" in n.name]
