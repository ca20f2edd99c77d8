"""The words and tables of the hardware lookup, for the CLI, the widget and the notebook alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from talosnb.analyses.aliases import Alias
    from talosnb.analyses.hardware import DeviceChange, DeviceReport, ModuleFacts, ModuleSupport
    from talosnb.app.hardware import Support, SupportReason


def device_title(report: DeviceReport) -> str:
    d = report.device
    names = " ".join(x for x in (report.names.get("vendor"), report.names.get("device")) if x)
    label = f"{d.label}  " if d.label and d.label != d.id else ""
    text = f"{label}{d.bus} {d.id}"
    if names or d.description:
        text += f"  {names or d.description}"
    if d.driver:
        verdict = {True: "a claiming module", False: "not a claiming module", None: ""}[report.driver_matches]
        text += f"  [driver: {d.driver}{', ' + verdict if verdict else ''}]"
    return text


# how a claiming module's state on an arch reads (ModuleFacts.state, ModuleSupport.state)
STATE_WORDS = {"module": "built as a module", "builtin": "built in", "not-built": "not built",
               "absent": "not in this arch's Kbuild files"}


def module_state(m: ModuleFacts, arch: str) -> str:
    """A claiming module on one arch, for the hardware lookup: its state, where it is listed."""
    state = m.state.get(arch, "absent")
    words = ("=m, " if state == "module" else "") + STATE_WORDS[state]
    if state in ("module", "builtin") and not m.compiled.get(arch, True):
        words += " (but the matching entry is compiled out by an #if on this config)"
    if state == "module":
        listed = m.listed.get(arch)
        words += f", listed at {listed}" if listed else ", not in the module list"
    return words


def support_words(support: ModuleSupport | None) -> str:
    """A claiming module's support in a device change: "bnxt_en.ko built as a module, listed"."""
    if support is None:
        return "no claiming module"
    words = STATE_WORDS[support.state]
    if support.compiled_out:
        words += ", its entry compiled out"
    if support.state == "module":
        words += ", listed" if support.listed else ", not listed"
    return f"{support.ko} {words}"


def device_change_text(change: DeviceChange) -> str:
    """A device whose support a change moves: "pci 8086:1593 (...) at capture:12: no longer supported
    (ice.ko built as a module, listed -> ice.ko not built)"."""
    d = change.device
    title = f"{d.bus} {d.id}" + (f" ({d.description})" if d.description else "") + f" at {d.where}"
    changed = "; ".join(f"{support_words(old)} -> {support_words(new)}" for old, new in change.modules)
    if change.lost:
        return f"{title}: no longer supported ({changed or 'no claiming module built'})"
    if change.gained:
        return f"{title}: supported after the change ({changed})"
    return f"{title}: {changed}"


def report_lines(reports: Sequence[DeviceReport]) -> list[str]:
    lines: list[str] = []
    for report in reports:
        lines.append(device_title(report))
        lines.append(f"  read from {report.device.where}")
        if not report.modules:
            lines.append("  no driver in this kernel source claims this device")
            lines.append("")
            continue
        for m in report.modules:
            match = "" if m.exact else " (if the IDs the capture doesn't give match too)"
            lines.append(f"  {m.module}  {m.ko}{match}")
            lines.append(f"    entry {m.entry}  (table {m.table})")
            for s in m.symbols:
                vals = "  ".join(f"{arch}={v.get(s, 'n')}" for arch, v in m.values.items())
                lines.append(f"    CONFIG_{s}  {vals}")
            for arch in m.state:
                lines.append(f"    {arch}: {module_state(m, arch)}")
        for arch in report.unsupported:
            lines.append(f"  NOT SUPPORTED on {arch}: no claiming module is built")
        lines.append("")
    return lines


def summary_line(reports: Sequence[DeviceReport]) -> str:
    unclaimed = sum(1 for r in reports if not r.modules)
    unsupported = sum(1 for r in reports if r.modules and r.unsupported)
    return (f"{len(reports)} device(s): {len(reports) - unclaimed - unsupported} supported on every arch, "
            f"{unsupported} not supported on some arch, {unclaimed} claimed by no driver")


def reports_frame(reports: Iterable[DeviceReport]) -> pd.DataFrame:
    """One row per (device, claiming module, arch): the table the widget and notebook show."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for r in reports:
        d = r.device
        name = " ".join(x for x in (r.names.get("vendor"), r.names.get("device")) if x) or d.description
        if not r.modules:
            rows.append({"device": d.label or d.id, "id": d.id, "name": name, "module": "", "arch": "",
                         "state": "claimed by no driver", "symbols": "", "listed": "", "entry": "",
                         "driver": d.driver or ""})
        for m in r.modules:
            for arch in m.state:
                rows.append({"device": d.label or d.id, "id": d.id, "name": name, "module": m.module, "arch": arch,
                             "state": m.state[arch], "symbols": " ".join(f"{s}={m.values[arch].get(s, 'n')}"
                                                                         for s in m.symbols),
                             "listed": m.listed.get(arch) or "", "entry": m.entry, "driver": d.driver or ""})
    return pd.DataFrame(rows, columns=["device", "id", "name", "module", "arch", "state", "symbols", "listed",
                                       "entry", "driver"])


def alias_lines(aliases: Iterable[Alias]) -> list[str]:
    return sorted(a.line() for a in aliases)


def compare_aliases(predicted: Iterable[str], real_text: str, kinds: Sequence[str] = ("pci", "usb", "of", "acpi")
                    ) -> dict[str, dict[str, int]]:
    """Line-by-line comparison with a real modules.alias (as multisets: depmod writes one line per
    table entry per module, duplicates included), per kind."""
    prefixes = {"pci": ("pci:", "vfio_pci:"), "usb": ("usb:",), "of": ("of:",), "acpi": ("acpi*:",)}
    real = Counter(ln.strip() for ln in real_text.splitlines() if ln.startswith("alias "))
    pred = Counter(predicted)
    out: dict[str, dict[str, int]] = {}
    for kind in kinds:
        def mine(line: str, kind: str = kind) -> bool:
            parts = line.split()
            return len(parts) >= 3 and parts[1].startswith(prefixes[kind])
        r = Counter({k: v for k, v in real.items() if mine(k)})
        p = Counter({k: v for k, v in pred.items() if mine(k)})
        out[kind] = {"real": sum(r.values()), "reproduced": sum((r & p).values()),
                     "extra": sum((p - r).values()), "predicted": sum(p.values())}
    return out


def support_reason_text(reason: SupportReason) -> str:
    """Why the change that supports the devices sets an assignment: ``DUMMY=m: dummy claims ...``."""
    return f"{reason.assignment}: {reason.module} claims {reason.device} ({reason.entry})"


def support_dict(support: Support) -> dict[str, Any]:
    """The change that supports the devices as `talosnb hardware --format json` gives it (the reasons
    in words)."""
    return {**support.as_dict(), "reasons": {arch: [support_reason_text(r) for r in rs]
                                             for arch, rs in support.reasons.items()}}
