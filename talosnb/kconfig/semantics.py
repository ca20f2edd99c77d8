"""Value rules of the kernel's current scripts/kconfig where kconfiglib 14.1.0 follows older ones.

Applied only to trees parsed by talosnb (objects whose Kconfig carries
`_talosnb_kernel_semantics`); plain kconfiglib users in the same process keep
kconfiglib's behaviour.

1. `imply` (symbol.c, sym_calc_value): a symbol implied by an enabled symbol is
   written even when its own dependencies are unmet, and the implied value is
   limited by those dependencies; kconfiglib writes it only when the
   dependencies are met, and promotes a user's `m` to `y` when implied by `y`,
   which Linux stopped doing.
2. int, hex and string values (symbol.c, sym_calc_value and
   sym_validate_range): an int symbol without a value is "0" and a hex one
   "0x0" (kconfiglib: ""), in comparisons, ranges, the defaults that copy it and
   what is written (a visible int without a default is written `=0`); a value
   outside the active range, from the user or from a default, becomes the
   nearer bound as the bound is spelled (kconfiglib drops a user value for the
   defaults and rewrites a clamped default in its own spelling).
3. Numbers in comparisons (expr.c, expr_parse_string): an operand that is
   neither int nor hex is read as C's strtoll(str, 0) reads it (so "010" is
   octal and "0x10" hex); kconfiglib's int(str, 0) refuses both and falls back
   to comparing the texts. A hex operand makes the comparison unsigned (so
   `HEX > -2` is n), and a number out of 64-bit range compares as text.
4. Choices (symbol.c, sym_calc_choice, Linux >= 6.11): every choice member read
   from a .config moves to the front of the choice's priority list (the last
   line wins). The selection is the first visible member in priority order with
   user value y; else the default unless the user set it to n; else the first
   visible member without a user value; else the least prioritised visible one.
   A choice has no value of its own: its members are chosen whenever one is
   visible, even when the choice's prompt is hidden (`prompt "..." if X`; see
   syntax.py for the dependencies).

Found by running the kernel's conf and talosnb on the same input: the real
trees with the Talos configs, and seeded random Kconfig trees
(tests/kconfig_fuzz.py) for the constructs those configs don't reach.
"""

from __future__ import annotations

import kconfiglib
from kconfiglib import BOOL, expr_value

_original_set_value = kconfiglib.Symbol.set_value
_original_tri_value = kconfiglib.Symbol.tri_value
_original_selection = kconfiglib.Choice._selection
_original_str_value = kconfiglib.Symbol.str_value
_original_sym_to_num = kconfiglib._sym_to_num
_VALUE_TYPES = (kconfiglib.INT, kconfiglib.HEX, kconfiglib.STRING)
_EMPTY = {kconfiglib.INT: "0", kconfiglib.HEX: "0x0", kconfiglib.STRING: ""}


def _ours(item: kconfiglib.Symbol | kconfiglib.Choice) -> bool:
    return getattr(item.kconfig, "_talosnb_kernel_semantics", False)


def _bool_promote(sym: kconfiglib.Symbol, tri: int) -> int:
    # sym_calc_visibility: m on a bool symbol's dependencies counts as y
    return 2 if tri == 1 and sym.type is BOOL else tri


def _tri_value(self: kconfiglib.Symbol) -> int:
    if not _ours(self) or self.choice is not None or self.orig_type not in (BOOL, kconfiglib.TRISTATE):
        return _original_tri_value.fget(self)
    if self._cached_tri_val is not None:
        return self._cached_tri_val

    vis = self.visibility
    write = vis != 0
    rev = _bool_promote(self, expr_value(self.rev_dep))
    if vis and self.user_value is not None:
        val = min(self.user_value, vis)
    else:
        val = 0
        if rev:
            write = True
        for default, cond in self.defaults:
            cond_val = expr_value(cond)
            if cond_val:
                val = min(expr_value(default), cond_val)
                if val:
                    write = True
                break
        implied = _bool_promote(self, expr_value(self.weak_rev_dep))
        if implied:
            write = True
            val = min(max(val, implied), _bool_promote(self, expr_value(self.direct_dep)))
    if rev:
        if expr_value(self.direct_dep) < rev:
            self._warn_select_unsatisfied_deps()
        val = max(val, rev)
    if val == 1 and self.type is BOOL:
        val = 2
    self._write_to_conf = write
    self._cached_tri_val = val
    return val


def _str_value(self: kconfiglib.Symbol) -> str:
    if self._cached_str_val is not None:
        return self._cached_str_val
    if not _ours(self) or self.orig_type not in _VALUE_TYPES:
        return _original_str_value.fget(self)
    # sym_calc_value: the empty value of the type, the user's value if the
    # symbol is visible, else the first active default's symbol's value
    kind = self.orig_type
    val = _EMPTY[kind]
    vis = self.visibility
    write = vis != 0
    if vis and self.user_value is not None:
        val = self.user_value
    else:
        for default, cond in self.defaults:
            if expr_value(cond):
                # prop_get_symbol: only a lone symbol gives a value
                if default.__class__ is kconfiglib.Symbol:
                    write = True
                    val = default.str_value
                break
    if kind is not kconfiglib.STRING:
        val = _validate_range(self, val)
    if self.env_var is not None or self is self.kconfig.defconfig_list:
        write = False
    self._write_to_conf = write
    self._cached_str_val = val
    return val


def _validate_range(sym: kconfiglib.Symbol, val: str) -> str:
    """sym_validate_range: outside the first active range, the value becomes the bound's value."""
    base = 16 if sym.orig_type is kconfiglib.HEX else 10
    for low, high, cond in sym.ranges:
        if expr_value(cond):
            number = strtoll(val, base)
            if number < _range_value(low, base):
                return low.str_value
            if number > _range_value(high, base):
                return high.str_value
            break
    return val


def _range_value(bound: kconfiglib.Symbol, base: int) -> int:
    # sym_get_range_val: an int or hex bound is read in its own base
    kind = bound.orig_type
    return strtoll(bound.str_value, 10 if kind is kconfiglib.INT else 16 if kind is kconfiglib.HEX else base)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_LLONG = (-(1 << 63), (1 << 63) - 1)


def strtoll(text: str, base: int) -> int:
    """C's strtoll(text, NULL, base), saturating: 0 when no digits lead the text."""
    number, _ = _strtoll(text, base)
    return number


def _strtoll(text: str, base: int, *, exact: bool = False) -> tuple[int, int]:
    """(value, number of characters read; 0 if none) as strtoll() parses them;
    unbounded with `exact` (the caller checks the range), else saturated."""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    if base in (0, 16) and text[i:i + 2].lower() == "0x" and i + 2 < n and text[i + 2].lower() in _DIGITS[:16]:
        i += 2
        base = 16
    elif base == 0:
        base = 8 if text[i:i + 1] == "0" else 10
    start, value = i, 0
    while i < n and text[i].lower() in _DIGITS[:base]:
        value = value * base + _DIGITS.index(text[i].lower())
        i += 1
    if i == start:
        return 0, 0
    if exact:
        return sign * value, i
    return max(_LLONG[0], min(_LLONG[1], sign * value)), i


def _sym_to_num(sym: kconfiglib.Symbol) -> int:
    if not _ours(sym) or sym.orig_type in (BOOL, kconfiglib.TRISTATE):
        return _original_sym_to_num(sym)
    # expr_parse_string: int base 10, hex base 16 (unsigned), anything else as
    # strtoll(str, 0) reads it; a text that is not all number, or out of range,
    # compares as text (ValueError makes expr_value do so)
    text = sym.str_value
    kind = sym.orig_type
    base = 10 if kind is kconfiglib.INT else 16 if kind is kconfiglib.HEX else 0
    number, used = _strtoll(text, base, exact=True)
    if used == 0 or used != len(text) or text[used - 1].lower() not in _DIGITS[:16]:
        raise ValueError(text)
    if kind is kconfiglib.HEX:
        if abs(number) >= 1 << 64:
            raise ValueError(text)  # strtoull's ERANGE
        return _Unsigned(number % (1 << 64))
    if not _LLONG[0] <= number <= _LLONG[1]:
        raise ValueError(text)  # strtoll's ERANGE
    return number


class _Unsigned(int):
    """A hex operand: expr.c compares both sides as unsigned 64-bit numbers when one is.

    expr_value() only looks at the sign of `left - right`, so subtraction gives it.
    """

    def __sub__(self, other: int) -> int:
        a, b = int(self) % (1 << 64), int(other) % (1 << 64)
        return (a > b) - (a < b)

    def __rsub__(self, other: int) -> int:
        a, b = int(other) % (1 << 64), int(self) % (1 << 64)
        return (a > b) - (a < b)


def _set_value(self: kconfiglib.Symbol, value: str | int) -> bool:
    ok = _original_set_value(self, value)
    if ok and self.choice is not None and _ours(self):
        # confdata.c: a choice member read from a .config gets the highest priority
        priority = choice_priority(self.choice)
        priority.remove(self)
        priority.insert(0, self)
        self.choice._rec_invalidate()
    return ok


def choice_priority(choice: kconfiglib.Choice) -> list:
    """The choice's members in priority order (rule 4), kept on its tree (``choice_priorities``)."""
    table = choice_priorities(choice.kconfig)
    if choice not in table:
        table[choice] = list(choice.syms)
    return table[choice]


def choice_priorities(kconf: kconfiglib.Kconfig) -> dict[kconfiglib.Choice, list[kconfiglib.Symbol]]:
    """Every choice's priority order a load or an edit set (a choice not in it: its members' order)."""
    return kconf.choice_priorities  # declared by syntax.TalosKconfig


def reset_choice_priorities(kconf: kconfiglib.Kconfig) -> None:
    kconf.choice_priorities = {}  # declared by syntax.TalosKconfig


# Not a value rule: bookkeeping for reading a config incrementally. kconfiglib drops a
# symbol's cached value whenever something it depends on changes; a talosnb tree records each
# symbol so dropped (its ``invalidated`` set), so an editor recomputes only those lines after
# an edit, whatever read values in between.
_original_invalidate = kconfiglib.Symbol._invalidate


def _recording_invalidate(self: kconfiglib.Symbol) -> None:
    _original_invalidate(self)
    dirty = getattr(self.kconfig, "invalidated", None)
    if dirty is not None:
        dirty.add(self)


def invalidated(kconf: kconfiglib.Kconfig) -> set[kconfiglib.Symbol]:
    """The symbols whose cached value kconfiglib dropped since the set was last cleared."""
    return kconf.invalidated  # declared by syntax.TalosKconfig


def _selection(self: kconfiglib.Choice) -> kconfiglib.Symbol | None:
    if not _ours(self):
        return _original_selection(self)
    # Not needed for the value, but kconfiglib's _rec_invalidate() only walks on to an
    # item whose visibility is cached: without it, a change reaching the choice
    # would leave this selection stale.
    _ = self.visibility
    priority = choice_priority(self)
    for sym in priority:
        if sym.visibility and sym.user_value == 2:
            return sym
    res = self._selection_from_defaults()
    if res is not None and res.user_value == 0:
        res = None
    if res is None:
        for sym in self.syms:
            if sym.visibility and sym.user_value is None:
                return sym
        for sym in reversed(priority):
            if sym.visibility:
                return sym
    return res


def install() -> None:
    kconfiglib.Symbol.tri_value = property(_tri_value)
    kconfiglib.Symbol.str_value = property(_str_value)
    kconfiglib.Symbol.set_value = _set_value
    kconfiglib.Choice._selection = _selection
    kconfiglib._sym_to_num = _sym_to_num
    kconfiglib.Symbol._invalidate = _recording_invalidate


install()
