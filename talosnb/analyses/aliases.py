"""What ``modules.alias`` of a build holds, from the source's ID tables, a config and the Kbuild map.

modpost writes one ``MODULE_ALIAS`` per ID table entry of each module (scripts/mod/file2alias.c,
the table's last entry being its terminator) and depmod copies them, one ``alias PATTERN module``
line each. The functions here follow file2alias.c's ``do_pci_entry``, ``do_usb_entry_multi``
(bcdDevice ranges turned into fnmatch patterns), ``do_of_entry_multi`` and ``do_acpi_entry``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from talosnb.kbuild import KbuildMap, module_name
from talosnb.kbuild.cpp import condition_holds
from talosnb.kbuild.devices import FIELDS, DeviceIndex, IdEntry, IdTable

PCI_ANY_ID = 0xFFFFFFFF
PCI_ID_F_VFIO_DRIVER_OVERRIDE = 1
# include/linux/mod_devicetable.h
USB_MATCH = {"VENDOR": 0x0001, "PRODUCT": 0x0002, "DEV_LO": 0x0004, "DEV_HI": 0x0008, "DEV_CLASS": 0x0010,
             "DEV_SUBCLASS": 0x0020, "DEV_PROTOCOL": 0x0040, "INT_CLASS": 0x0080, "INT_SUBCLASS": 0x0100,
             "INT_PROTOCOL": 0x0200, "INT_NUMBER": 0x0400}
ALIAS_PREFIXES = {"pci": ("pci:", "vfio_pci:"), "usb": ("usb:",), "of": ("of:",), "acpi": ("acpi*:",)}


@dataclass(frozen=True)
class Alias:
    """One line of modules.alias: ``alias {pattern} {module}``, from the entry at ``where``."""

    pattern: str
    module: str
    kind: str
    where: str
    ko: str

    def line(self) -> str:
        return f"alias {self.pattern} {self.module}"


def _add(prefix: str, cond: bool, value: int, width: int) -> str:
    return prefix + (f"{value:0{width}X}" if cond else "*")


def _wildcard(alias: str) -> str:
    return alias if alias.endswith("*") else alias + "*"


def pci_alias(entry: IdEntry) -> str | None:
    v = {name: entry.values[i] for i, (name, _) in enumerate(FIELDS["pci"])}
    vendor, device, subvendor, subdevice = (int(v[k] or 0) for k in ("vendor", "device", "subvendor", "subdevice"))
    cls, mask, override = int(v["class"] or 0), int(v["class_mask"] or 0), int(v["override_only"] or 0)
    if override == 0:
        alias = "pci:"
    elif override == PCI_ID_F_VFIO_DRIVER_OVERRIDE:
        alias = "vfio_pci:"
    else:
        return None
    alias += _add("v", vendor != PCI_ANY_ID, vendor, 8) + _add("d", device != PCI_ANY_ID, device, 8)
    alias += _add("sv", subvendor != PCI_ANY_ID, subvendor, 8) + _add("sd", subdevice != PCI_ANY_ID, subdevice, 8)
    masks = [(mask >> s) & 0xFF for s in (16, 8, 0)]
    if any(m not in (0, 0xFF) for m in masks):
        return None     # modpost: "Can't handle masks"
    values = [(cls >> s) & 0xFF for s in (16, 8, 0)]
    for sep, m, val in zip(("bc", "sc", "i"), masks, values, strict=True):
        alias += _add(sep, m == 0xFF, val, 2)
    return _wildcard(alias)


def _incbcd(bcd: int, inc: int, maxd: int, chars: int) -> tuple[int, int]:
    """file2alias.c's incbcd: (value before, value after) a BCD increment."""
    if maxd > 0x9:
        return bcd, bcd + inc
    dec = 0
    for i in range(chars):
        c = min((bcd >> (i << 2)) & 0xF, 9)
        dec += c * 10 ** i
    dec += inc
    new = 0
    for i in range(chars):
        new += ((dec // 10 ** i) % 10) << (i << 2)
    return bcd, new


def usb_aliases(entry: IdEntry) -> list[str]:
    v = {name: int(entry.values[i] or 0) for i, (name, _) in enumerate(FIELDS["usb"]) if name != "driver_info"}
    flags = v["match_flags"]
    devlo = v["bcdDevice_lo"] if flags & USB_MATCH["DEV_LO"] else 0
    devhi = v["bcdDevice_hi"] if flags & USB_MATCH["DEV_HI"] else 0xFFFFFFFF
    maxd = 0x9
    for nd in range(4):
        clo = (devlo >> (nd << 2)) & 0xF
        chi = ((min(devhi, 39321)) >> (nd << 2)) & 0xF
        if clo > maxd or chi > maxd:
            maxd = 0xF
            break
    if not (v["idVendor"] | v["idProduct"] | v["bDeviceClass"] | v["bInterfaceClass"]):
        return []
    out: list[str] = []
    ndigits = 3
    while devlo <= devhi:
        clo = devlo & 0xF
        chi = min(devhi & 0xF, maxd)
        devlo >>= 4
        devhi >>= 4
        if devlo == devhi or not ndigits:
            out.append(_usb_entry(v, devlo, ndigits, clo, chi, maxd))
            break
        if clo > 0:
            before, devlo = _incbcd(devlo, 1, maxd, 4)
            out.append(_usb_entry(v, before, ndigits, clo, maxd, maxd))
        if chi < maxd:
            before, devhi = _incbcd(devhi, -1, maxd, 4)
            out.append(_usb_entry(v, before, ndigits, 0, chi, maxd))
        ndigits -= 1
    return out


def _usb_entry(v: Mapping[str, int], initial: int, digits: int, lo: int, hi: int, maxd: int) -> str:
    flags = v["match_flags"]
    alias = "usb:" + _add("v", bool(flags & USB_MATCH["VENDOR"]), v["idVendor"], 4)
    alias += _add("p", bool(flags & USB_MATCH["PRODUCT"]), v["idProduct"], 4)
    alias += "d"
    if digits:
        alias += f"{initial:0{digits}X}"
    if lo == hi:
        alias += f"{lo:X}"
    elif lo > 0 or hi < maxd:
        if lo > 0x9 or hi < 0xA:
            alias += f"[{lo:X}-{hi:X}]"
        else:
            alias += f"[{lo:X}-9" if lo < 0x9 else f"[{lo:X}"
            alias += f"A-{hi:X}]" if hi > 0xA else f"{hi:X}]"
    if digits < 3:
        alias += "*"
    for sep, flag, name in (("dc", "DEV_CLASS", "bDeviceClass"), ("dsc", "DEV_SUBCLASS", "bDeviceSubClass"),
                            ("dp", "DEV_PROTOCOL", "bDeviceProtocol"), ("ic", "INT_CLASS", "bInterfaceClass"),
                            ("isc", "INT_SUBCLASS", "bInterfaceSubClass"),
                            ("ip", "INT_PROTOCOL", "bInterfaceProtocol"), ("in", "INT_NUMBER", "bInterfaceNumber")):
        alias += _add(sep, bool(flags & USB_MATCH[flag]), v[name], 2)
    return _wildcard(alias)


def of_aliases(entry: IdEntry) -> list[str]:
    name, typ, compatible = (str(entry.values[i] or "") for i in range(3))
    alias = f"of:N{name or '*'}T{typ or '*'}"
    if compatible:
        alias += f"{'*' if typ else ''}C{compatible}"
    alias = "".join("_" if ch.isspace() else ch for ch in alias)
    return [alias, _wildcard(alias + "C")]


def acpi_alias(entry: IdEntry) -> str:
    ident = str(entry.values[0] or "")
    if ident:
        return f"acpi*:{ident}:*"
    cls, mask = int(entry.values[2] or 0), int(entry.values[3] or 0)
    out = "acpi*:"
    for shift in (16, 8, 0):
        out += f"{(cls >> shift) & 0xFF:02x}" if (mask >> shift) & 0xFF else "??"
    return out + ":*"


def pnp_aliases(entry: IdEntry) -> list[str]:
    """do_pnp_device_entry: ``pnp:dID*`` and ``acpi*:ID:*`` with the id upper-cased."""
    ident = str(entry.values[0] or "")
    return [f"pnp:d{ident}*", f"acpi*:{ident.upper()}:*"]


def entry_aliases(entry: IdEntry) -> list[str]:
    """The alias patterns modpost writes for one table entry ([] for one it skips)."""
    if any(v is None for (_, w), v in zip(FIELDS[entry.kind], entry.values, strict=False) if w != "-"):
        return []
    if entry.kind == "pci":
        one = pci_alias(entry)
        return [one] if one else []
    if entry.kind == "usb":
        return usb_aliases(entry)
    if entry.kind == "of":
        return of_aliases(entry)
    if entry.kind == "pnp":
        return pnp_aliases(entry)
    return [acpi_alias(entry)]


def all_hold(conditions: tuple[str, ...], values: Mapping[str, str]) -> bool:
    return all(condition_holds(c, values) for c in conditions)


def compiled_entries(table: IdTable, values: Mapping[str, str]) -> list[IdEntry]:
    """The entries a compiled table holds under ``values``, its terminator (the last) left out as
    modpost leaves it out; an explicit array size pads with zero entries."""
    entries = [e for e in table.entries if all_hold(e.conditions, values)]
    if table.size is not None and table.size > len(entries):
        zero = tuple(("" if w.startswith("s") else 0) for _, w in FIELDS[table.kind])
        entries += [IdEntry(table.kind, zero, table.file, table.line, ())] * (table.size - len(entries))
    return entries[:-1]


def module_aliases(index: DeviceIndex, kmap: KbuildMap, values: Mapping[str, str],
                   kinds: tuple[str, ...] = ("pci", "usb", "of", "acpi")) -> Iterator[Alias]:
    """Every alias line the modules ``values`` builds would carry, module by module."""
    for ko in sorted(kmap.modules):
        if kmap.evaluate(ko, values).state != "module":
            continue
        yield from ko_aliases(index, kmap, ko, values, kinds)


def ko_aliases(index: DeviceIndex, kmap: KbuildMap, ko: str, values: Mapping[str, str],
               kinds: tuple[str, ...] = ("pci", "usb", "of", "acpi")) -> Iterator[Alias]:
    name = module_name(ko)
    for obj in kmap.objects(ko, values):
        for use in index.object_uses(obj):
            if not all_hold(use.conditions, values):
                continue
            if use.kind == "alias":
                kind = next((k for k in kinds if use.name.startswith(ALIAS_PREFIXES[k])), None)
                if kind is not None:
                    yield Alias(use.name, name, kind, f"{use.file}:{use.line}", ko)
                continue
            if use.kind not in kinds and not (use.kind == "pnp" and "acpi" in kinds):
                continue
            table = index.table_for(use)
            if table is None or table.kind != use.kind or not all_hold(table.conditions, values):
                continue
            for entry in compiled_entries(table, values):
                for pattern in entry_aliases(entry):
                    kind = "acpi" if pattern.startswith("acpi*:") else use.kind
                    if kind in kinds:
                        yield Alias(pattern, name, kind, entry.where, ko)
