"""Fill one on-disk cache in a process of its own: ``python -m talosnb.app.warm kconfig|kbuild TREE ARCH``.

:func:`talosnb.app.upgrade.warm_caches` runs these two at a time, so the parsed trees and Kbuild
maps of two kernel trees are made on two cores at once. A plain program (not multiprocessing) so
nothing of the caller is imported or forked: a script without a ``__main__`` guard, or a notebook
kernel, is safe.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    kind, tree, arch = argv
    if kind == "kconfig":
        from talosnb.kconfig.tree import KconfigTree
        KconfigTree.load(tree, arch)
    else:
        from talosnb.core.arches import srcarch
        from talosnb.kbuild import load_kbuild_map
        load_kbuild_map(Path(tree), srcarch(arch))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
