"""Kbuild Makefiles -> which Kconfig symbols build which ``.ko``.

The kernel decides what becomes a module in its Makefiles, not in Kconfig:
``obj-$(CONFIG_X) += foo.o`` puts ``foo.o`` in ``obj-m`` when X=m, and a module
is only built when every directory on its path was descended into. This module
reads the Kbuild files of a kernel tree the way kbuild does (from the top
``Kbuild``, per SRCARCH, ``Kbuild`` preferred over ``Makefile`` in each
directory) and evaluates them *symbolically*: without a config, every word of a
make variable carries the conditions (on CONFIG symbols) under which it is
there. The result is config-independent and cached on disk; a config is applied
afterwards with :meth:`KbuildMap.evaluate`.

What make would do that cannot be evaluated this way (``$(shell ...)``,
unknown functions, comparisons that are not a plain conjunction of symbol
values) is recorded in :attr:`KbuildMap.unevaluated` with its ``file:line``
rather than guessed silently.
"""

from .cache import load_kbuild_map
from .model import (
    FORMAT_VERSION,
    Condition,
    Conds,
    KbuildMap,
    ModuleRule,
    ModuleState,
    module_name,
    normalize_value,
    read_config_values,
)
from .walk import build_kbuild_map, kbuild_file, kernel_version

__all__ = [
    "FORMAT_VERSION", "Condition", "Conds", "KbuildMap", "ModuleRule", "ModuleState", "build_kbuild_map",
    "kbuild_file", "kernel_version", "load_kbuild_map", "module_name", "normalize_value", "read_config_values",
]
