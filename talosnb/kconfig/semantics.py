"""Value rules of the kernel's current scripts/kconfig where kconfiglib 14.1.0 follows older ones.

Applied only to trees parsed by talosnb (objects whose Kconfig carries
`_talosnb_kernel_semantics`); plain kconfiglib users in the same process keep
kconfiglib's behaviour.

1. `imply` (symbol.c, sym_calc_value): a symbol implied by an enabled symbol is
   written even when its own dependencies are unmet, and the implied value is
   limited by those dependencies; kconfiglib writes it only when the
   dependencies are met, and promotes a user's `m` to `y` when implied by `y`,
   which Linux stopped doing.
2. Ranges (symbol.c, sym_validate_range): a user value outside the active
   range is clamped to the nearer bound (written as the bound is spelled);
   kconfiglib drops it and falls back to the defaults.
3. Choices (symbol.c, sym_calc_choice, Linux >= 6.11): every choice member read
   from a .config moves to the front of the choice's priority list (the last
   line wins). The selection is the first visible member in priority order with
   user value y; else the default unless the user set it to n; else the first
   visible member without a user value; else the least prioritised visible one.
"""

from __future__ import annotations

import kconfiglib
from kconfiglib import BOOL, expr_value

_original_set_value = kconfiglib.Symbol.set_value
_original_tri_value = kconfiglib.Symbol.tri_value
_original_selection = kconfiglib.Choice._selection
_original_str_value = kconfiglib.Symbol.str_value
_INT_HEX = (kconfiglib.INT, kconfiglib.HEX)


def _ours(item) -> bool:
    return getattr(item.kconfig, "_talosnb_kernel_semantics", False)


def _bool_promote(sym, tri: int) -> int:
    # sym_calc_visibility: m on a bool symbol's dependencies counts as y
    return 2 if tri == 1 and sym.type is BOOL else tri


def _tri_value(self):
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


def _str_value(self):
    if (self._cached_str_val is not None or not _ours(self) or self.orig_type not in _INT_HEX
            or self.user_value is None or not self.visibility):
        return _original_str_value.fget(self)
    base = 16 if self.orig_type is kconfiglib.HEX else 10
    for low_sym, high_sym, cond in self.ranges:
        if expr_value(cond):
            try:
                user = int(self.user_value, base)
                low, high = int(low_sym.str_value, base), int(high_sym.str_value, base)
            except ValueError:
                break
            if user < low or user > high:
                self._write_to_conf = True
                self._cached_str_val = (low_sym if user < low else high_sym).str_value
                return self._cached_str_val
            break
    return _original_str_value.fget(self)


def _set_value(self, value):
    ok = _original_set_value(self, value)
    if ok and self.choice is not None and _ours(self):
        # confdata.c: a choice member read from a .config gets the highest priority
        priority = choice_priority(self.choice)
        priority.remove(self)
        priority.insert(0, self)
        self.choice._rec_invalidate()
    return ok


def choice_priority(choice) -> list:
    table = choice.kconfig.__dict__.setdefault("talosnb_choice_priority", {})
    if choice not in table:
        table[choice] = list(choice.syms)
    return table[choice]


def reset_choice_priorities(kconf) -> None:
    kconf.__dict__["talosnb_choice_priority"] = {}


def _selection(self):
    if not _ours(self):
        return _original_selection(self)
    if self.tri_value != 2:
        return None
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


install()
