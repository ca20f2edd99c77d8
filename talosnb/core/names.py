"""Names talosnb's engine adds to a parsed Kconfig tree, and how to tell them apart.

In recorded toolchain mode every compiler probe of the tree (``$(success,...)``,
``$(cc-version)``, ...) becomes a placeholder symbol whose value is solved from
the config's recorded lines. Placeholders are never written to a config and are
never shown as kernel symbols.
"""

from __future__ import annotations

PLACEHOLDER_PREFIX = "TALOSNB_"
PROBE_PREFIX = PLACEHOLDER_PREFIX + "PROBE_"    # yes/no probes: $(success,...), $(cc-option,...)
TC_PREFIX = PLACEHOLDER_PREFIX + "TC_"          # versions and texts: $(cc-version), $(CC_VERSION_TEXT)


def is_placeholder(name: str) -> bool:
    """Whether a symbol name is one of talosnb's probe placeholders, not a kernel symbol."""
    return name.startswith(PLACEHOLDER_PREFIX)


def describe_placeholder(name: str) -> str | None:
    """How a placeholder reads in an explanation ("<compiler probe 003>"), None for kernel symbols."""
    if name.startswith(PROBE_PREFIX):
        return f"<compiler probe {name[len(PROBE_PREFIX):]}>"
    if name.startswith(TC_PREFIX):
        return f"<toolchain {name[len(TC_PREFIX):]}>"
    return None
