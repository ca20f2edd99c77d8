"""Text bound for a terminal, made inert.

A config string, a module-list entry or a commit subject can hold anything, including
escape sequences a terminal obeys (retitle the window, clear the screen, rewrite what was
printed above, paste into the shell on some terminals). Every text the command line
prints goes through :func:`terminal_safe`: control characters (C0 but newline and tab,
DEL, C1) and the bidirectional overrides that reorder what is shown are written as
visible escapes (``\\x1b``, ``\\u202e``), so what is shown is what the file says. JSON
output escapes them itself (``json.dumps`` writes non-ASCII as ``\\uXXXX``).
"""

from __future__ import annotations

_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
_TABLE = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"}
_TABLE.update({c: f"\\u{c:04x}" for c in _BIDI})


def terminal_safe(text: str) -> str:
    """``text`` with every control character written as a visible escape (newline and tab kept)."""
    return text.translate(_TABLE) if not text.isprintable() else text


__all__ = ["terminal_safe"]
