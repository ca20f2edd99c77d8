"""Patches as a pkgs checkout would carry them, written against a real kernel tree.

Shared by tests/engine/test_patches.py and benchmarks/bench_patches.py: one patch adds a
`select`, one a new driver (symbol, `obj-` line, C file), one does not fit.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

NEW_SYMBOL = "PKGS_DEMO_NIC"
NEW_MODULE = "kernel/drivers/net/pkgs-demo-nic.ko"


def file_diff(tree: Path, rel: str, edit) -> str:
    """A git-style diff of tree/rel changed by edit(text) -> text (the tree is not touched)."""
    before = (tree / rel).read_text()
    after = edit(before)
    assert after != before, f"the edit of {rel} changed nothing"
    body = difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{rel}", f"b/{rel}")
    return f"diff --git a/{rel} b/{rel}\nindex 1111111..2222222 100644\n" + "".join(body)


def mail(subject: str, *diffs: str) -> str:
    """A patch as `git format-patch` writes it: mail header, message, diffstat, diffs, signature."""
    return (f"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            f"From: Talos Kernel <kernel@example.org>\nSubject: [PATCH] {subject}\n\n"
            f"Why: a test of talosnb's patch handling.\n---\n\n" + "".join(diffs) + "-- \n2.45.0\n")


def select_patch(tree: Path) -> str:
    """CEPH_LIB (y in the Talos configs) gains `select CRYPTO_WP512` (not set in them)."""
    return mail("libceph: select whirlpool",
                file_diff(tree, "net/ceph/Kconfig",
                          lambda t: t.replace("\tselect CRYPTO_AES\n", "\tselect CRYPTO_AES\n\tselect CRYPTO_WP512\n", 1)))


def new_symbol_patch(tree: Path) -> str:
    """A new driver: its symbol, its obj- line, and a C file (a hunk talosnb must skip)."""
    kconfig = file_diff(tree, "drivers/net/Kconfig", lambda t: t.replace(
        "config DUMMY\n", f'config {NEW_SYMBOL}\n\ttristate "Demo NIC added by a pkgs patch"\n'
                          "\tdepends on NETDEVICES\n\thelp\n\t  A driver only the patch knows.\n\n"
                          "config DUMMY\n", 1))
    makefile = file_diff(tree, "drivers/net/Makefile", lambda t: t.replace(
        "obj-$(CONFIG_DUMMY) += dummy.o\n",
        f"obj-$(CONFIG_DUMMY) += dummy.o\nobj-$(CONFIG_{NEW_SYMBOL}) += pkgs-demo-nic.o\n", 1))
    source = ("diff --git a/drivers/net/pkgs-demo-nic.c b/drivers/net/pkgs-demo-nic.c\nnew file mode 100644\n"
              "index 0000000..3333333\n--- /dev/null\n+++ b/drivers/net/pkgs-demo-nic.c\n@@ -0,0 +1,2 @@\n"
              "+// SPDX-License-Identifier: GPL-2.0\n+#include <linux/module.h>\n")
    return mail("net: add a demo NIC", kconfig, source, makefile)


def broken_patch(tree: Path) -> tuple[str, str]:
    """Hunk #1 fits the tree, hunk #2's context is nowhere in it; returns (patch, hunk #2 header)."""
    good = file_diff(tree, "net/ceph/Kconfig",
                     lambda t: t.replace("config CEPH_LIB\n", "# the Ceph library\nconfig CEPH_LIB\n", 1))
    # A changed line must match exactly, whatever the fuzz (context alone can be fuzzed away).
    header = "@@ -400,7 +401,7 @@ config CEPH_LIB_NOT_IN_THIS_TREE"
    bad = (f"{header}\n config CEPH_LIB_NOT_IN_THIS_TREE\n \tbool \"no such prompt\"\n \tdepends on A\n"
           "-\tselect NOT_IN_THIS_TREE\n+\tselect CRYPTO_WP512\n \tdepends on B\n \tdepends on C\n \thelp\n")
    return mail("libceph: a patch for another tree", good + bad), header


def write_pkgs(root: Path, source: Path, patches: dict[str, str]) -> Path:
    """root/pkgs: the Pkgfile and config-ARCH of the pkgs checkout `source`, and `patches`
    (name -> text) in kernel/build/patches."""
    pkgs = root / "pkgs"
    (pkgs / "kernel" / "build" / "patches").mkdir(parents=True)
    shutil.copy2(source / "Pkgfile", pkgs / "Pkgfile")
    for arch in ("amd64", "arm64"):
        shutil.copy2(source / "kernel" / "build" / f"config-{arch}", pkgs / "kernel" / "build" / f"config-{arch}")
    for name, text in patches.items():
        (pkgs / "kernel" / "build" / "patches" / name).write_text(text)
    return pkgs
