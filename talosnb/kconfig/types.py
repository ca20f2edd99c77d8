"""Names for kconfiglib's objects in type hints (kconfiglib itself ships no type information)."""

from __future__ import annotations

from typing import TypeAlias

import kconfiglib

# A Kconfig expression as kconfiglib stores it: a symbol (or constant), a choice, or a tuple
# (AND/OR, a, b), (NOT, a) or (relation, a, b).
Expr: TypeAlias = "kconfiglib.Symbol | kconfiglib.Choice | tuple"
# What a menu node stands for.
Item: TypeAlias = "kconfiglib.Symbol | kconfiglib.Choice | int"
