"""Hardware captures as pasted: the text of each file (or standard input) a lookup reads, with
the name its lines are reported by."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from talosnb.core.errors import InputError

IDS_PATHS = {"pci": ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"),
             "usb": ("/usr/share/misc/usb.ids", "/var/lib/usbutils/usb.ids", "/usr/share/hwdata/usb.ids")}


def read_captures(paths: Iterable[str], stdin_text: str | None = None) -> list[tuple[str, str]]:
    """Each capture's text with the name it is reported by (``-``: standard input)."""
    out = []
    for p in paths:
        if p == "-":
            out.append(("<stdin>", stdin_text or ""))
            continue
        try:
            text = Path(p).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError("no such file", where=p, hint="give a capture file, or - for standard input") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read the capture: {e}", where=p) from e
        out.append((p, text))
    return out
