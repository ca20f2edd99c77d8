"""From the hardware in front of you to the driver that claims it.

Devices come from what people paste: ``talosctl get pcidevices -o yaml|json``, ``lspci -nn`` /
``lspci -n``, ``lsusb``, modalias strings (``/sys/.../modalias``), device-tree compatible strings,
or one ID given on the command line. Each is matched against every ID table of the kernel source
(:mod:`talosnb.kbuild.devices`) the way the kernel's buses match (``pci_match_one_device``,
``usb_match_id``, ``of_device_is_compatible``, ``acpi_match_device``), and each claiming table is
followed to the ``.ko`` it is linked into (the Kbuild map) and the CONFIG symbols that build it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talosnb.core.errors import InputError
from talosnb.inputs.captures import IDS_PATHS, read_captures
from talosnb.kbuild import KbuildMap, module_name
from talosnb.kbuild.devices import DeviceIndex, IdEntry, IdTable

from .aliases import PCI_ANY_ID, USB_MATCH, all_hold

# --- devices as read from a capture --------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """One device: its bus and IDs (None: not in the capture), where it was read, and the driver
    bound to it when the capture says (talosctl's ``driver:``)."""

    bus: str                      # pci, usb, of, acpi
    where: str                    # input:line
    label: str = ""               # the slot, or the input text
    vendor: int | None = None
    device: int | None = None
    subvendor: int | None = None
    subdevice: int | None = None
    cls: int | None = None        # PCI class code (base << 16 | sub << 8 | interface)
    cls_known: int = 0            # which bits of cls the capture gives
    usb: tuple[int | None, ...] = ()   # bcdDevice, dev class/sub/proto, iface class/sub/proto/number
    name: str = ""                # compatible string or ACPI id
    driver: str | None = None
    description: str = ""

    @property
    def id(self) -> str:
        if self.bus in ("pci", "usb"):
            return f"{self.vendor or 0:04x}:{self.device or 0:04x}"
        return self.name


def _hex(text: str, where: str, what: str, bits: int = 16) -> int:
    t = text.strip().strip('"').strip("'")
    t = t[2:] if t.lower().startswith("0x") else t
    if not t or not re.fullmatch(r"[0-9a-fA-F]+", t) or int(t, 16) >> bits:
        raise InputError(f"{what} {text.strip()!r} is not a {bits // 4}-digit hex number", where=where,
                         hint=f"write it as in lspci -n: {'8086' if bits == 16 else '02'} or 0x{'8086' if bits == 16 else '02'}")
    return int(t, 16)


_LSPCI = re.compile(r"^(?P<slot>(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+(?P<rest>.*)$")
_LSPCI_N = re.compile(r"^(?P<cls>[0-9a-fA-F]{4}):\s+(?P<v>[0-9a-fA-F]{4}):(?P<d>[0-9a-fA-F]{4})"
                      r"(?:\s+\(rev\s+[0-9a-fA-F]+\))?(?:\s+\(prog-if\s+(?P<pi>[0-9a-fA-F]{2})\))?")
_LSPCI_NN = re.compile(r"\[(?P<cls>[0-9a-fA-F]{4})\]:\s+(?P<desc>.*)\s\[(?P<v>[0-9a-fA-F]{4}):(?P<d>[0-9a-fA-F]{4})\]")
_LSUSB = re.compile(r"^Bus\s+\d+\s+Device\s+\d+:\s+ID\s+(?P<v>\S+?):(?P<p>\S+)\s*(?P<desc>.*)$")
_COMPATIBLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*,[A-Za-z0-9_.+,-]+$")


def parse_modalias(text: str, where: str) -> Device:
    """A modalias string as the kernel writes it in sysfs (``pci:v00008086d00001593sv...``)."""
    s = text.strip()
    m = re.fullmatch(r"pci:v([0-9A-Fa-f]{8})d([0-9A-Fa-f]{8})sv([0-9A-Fa-f]{8})sd([0-9A-Fa-f]{8})"
                     r"bc([0-9A-Fa-f]{2})sc([0-9A-Fa-f]{2})i([0-9A-Fa-f]{2})", s)
    if m:
        v = [int(x, 16) for x in m.groups()]
        return Device("pci", where, s, v[0], v[1], v[2], v[3], v[4] << 16 | v[5] << 8 | v[6], 0xFFFFFF)
    m = re.fullmatch(r"usb:v([0-9A-Fa-f]{4})p([0-9A-Fa-f]{4})d([0-9A-Fa-f]{4})dc([0-9A-Fa-f]{2})dsc([0-9A-Fa-f]{2})"
                     r"dp([0-9A-Fa-f]{2})ic([0-9A-Fa-f]{2})isc([0-9A-Fa-f]{2})ip([0-9A-Fa-f]{2})in([0-9A-Fa-f]{2})", s)
    if m:
        v = [int(x, 16) for x in m.groups()]
        return Device("usb", where, s, v[0], v[1], usb=tuple(v[2:]))
    m = re.fullmatch(r"of:N(.*?)T(.*?)C(.*)", s)
    if m:
        first = m.group(3).split("C")[0]
        return Device("of", where, s, name=first)
    m = re.fullmatch(r"acpi:([A-Za-z0-9_]+):.*", s)
    if m:
        return Device("acpi", where, s, name=m.group(1))
    raise InputError(f"not a modalias: {s!r}", where=where,
                     hint="a line of /sys/bus/*/devices/*/modalias: pci:v...d...sv...sd...bc..sc..i.., "
                          "usb:v...p...d...dc..dsc..dp..ic..isc..ip..in.., of:N...T...C..., acpi:ID:")


def parse_id(text: str, bus: str, where: str) -> Device:
    """``VVVV:DDDD`` (PCI or USB)."""
    parts = text.strip().split(":")
    if len(parts) != 2:
        raise InputError(f"{text!r} is not VENDOR:DEVICE", where=where, hint="e.g. 8086:1593")
    return Device(bus, where, text.strip(), _hex(parts[0], where, "vendor ID"), _hex(parts[1], where, "device ID"))


def _talosctl_docs(text: str, where: str) -> list[tuple[int, dict]]:
    """The resources of a ``talosctl get ... -o yaml`` (documents) or ``-o json`` (objects, one
    after another) capture, each with the line it starts on."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        decoder = json.JSONDecoder()
        out: list[tuple[int, dict]] = []
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                obj, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                raise InputError(f"not valid JSON: {e.msg}", where=f"{where}:{e.lineno}",
                                 hint="give the whole output of talosctl get pcidevices -o json") from e
            line = text.count("\n", 0, pos) + 1
            for o in obj if isinstance(obj, list) else [obj]:
                out.append((line, o))
            pos = end
        return out
    import yaml

    docs: list[tuple[int, dict]] = []
    try:
        loader = yaml.SafeLoader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                data = loader.construct_document(node)
                docs.append((node.start_mark.line + 1, data))
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"not valid YAML: {getattr(e, 'problem', None) or e}", where=f"{where}{at}",
                         hint="give the whole output of talosctl get pcidevices -o yaml (a cut-off copy "
                              "is the usual cause)") from e
    return docs


def _pci_from_talosctl(line: int, doc: Any, where: str) -> Device:
    here = f"{where}:{line}"
    if not isinstance(doc, dict) or not isinstance(doc.get("spec"), dict):
        raise InputError("a resource without a spec: not talosctl get pcidevices output", where=here,
                         hint="capture it with talosctl get pcidevices -o yaml")
    spec = doc["spec"]
    meta = doc.get("metadata") or {}
    for key in ("vendor_id", "product_id"):
        if key not in spec:
            raise InputError(f"the PCI device has no {key}", where=here,
                             hint="capture it with talosctl get pcidevices -o yaml (Talos 1.6 or later)")
    vendor = _hex(str(spec["vendor_id"]), here, "vendor_id")
    device = _hex(str(spec["product_id"]), here, "product_id")
    cls, known = None, 0
    if "class_id" in spec:
        cls = _hex(str(spec["class_id"]), here, "class_id", 8) << 16
        known = 0xFF0000
        if "subclass_id" in spec:
            cls |= _hex(str(spec["subclass_id"]), here, "subclass_id", 8) << 8
            known = 0xFFFF00
    desc = " ".join(str(spec.get(k) or "") for k in ("vendor", "product")).strip()
    return Device("pci", here, str(meta.get("id") or ""), vendor, device, cls=cls, cls_known=known,
                  driver=(str(spec["driver"]) if spec.get("driver") else None), description=desc)


def parse_capture(text: str, where: str) -> list[Device]:
    """Every device of one pasted capture (its format recognized from its lines)."""
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if not first:
        return []
    stripped = first.strip()
    if stripped.startswith(("{", "[", "---", "node:", "metadata:", "spec:")) or \
            re.match(r"^(NODE|node)\s", stripped) is None and stripped.endswith(":") and "metadata" in text:
        docs = _talosctl_docs(text, where)
        return [_pci_from_talosctl(line, doc, where) for line, doc in docs if doc is not None]
    devices = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        here = f"{where}:{number}"
        if not line or line.startswith("#"):
            continue
        devices.append(_parse_line(line, here))
    return devices


def _parse_line(line: str, here: str) -> Device:
    if re.match(r"^(pci|usb|of|acpi):", line):
        return parse_modalias(line, here)
    m = _LSUSB.match(line)
    if m:
        d = parse_id(f"{m.group('v')}:{m.group('p')}", "usb", here)
        return Device("usb", here, line, d.vendor, d.device, description=m.group("desc"))
    m = _LSPCI.match(line)
    if m:
        rest = m.group("rest")
        nn = _LSPCI_NN.search(rest)
        if nn:
            cls = int(nn.group("cls"), 16) << 8
            pi = re.search(r"\(prog-if ([0-9a-fA-F]{2})", rest)
            known = 0xFFFF00
            if pi:
                cls |= int(pi.group(1), 16)
                known = 0xFFFFFF
            return Device("pci", here, m.group("slot"), int(nn.group("v"), 16), int(nn.group("d"), 16), cls=cls,
                          cls_known=known, description=nn.group("desc").strip())
        n = _LSPCI_N.match(rest)
        if n:
            cls = int(n.group("cls"), 16) << 8
            known = 0xFFFF00
            if n.group("pi"):
                cls |= int(n.group("pi"), 16)
                known = 0xFFFFFF
            return Device("pci", here, m.group("slot"), int(n.group("v"), 16), int(n.group("d"), 16), cls=cls,
                          cls_known=known)
        raise InputError(f"an lspci line without IDs: {line!r}", where=here,
                         hint="capture with lspci -nn (names and [VVVV:DDDD]) or lspci -n (IDs only)")
    if re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", line):
        return parse_id(line, "pci", here)
    if _COMPATIBLE.match(line):
        return Device("of", here, line, name=line)
    if re.fullmatch(r"[A-Z0-9]{4}[0-9A-F]{4}|PNP[0-9A-F]{4}", line):
        return Device("acpi", here, line, name=line)
    raise InputError(f"no device in {line!r}", where=here,
                     hint="lines of lspci -nn / lspci -n / lsusb, modalias strings, compatible strings "
                          "(vendor,chip), or talosctl get pcidevices -o yaml|json")


def read_inputs(paths: Iterable[str], *, stdin_text: str | None = None) -> list[Device]:
    return [d for where, text in read_captures(paths, stdin_text) for d in parse_capture(text, where)]


# --- matching ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One table entry that matches a device; ``exact`` False when it depends on IDs the capture
    doesn't give (subsystem IDs, the programming interface, USB interface classes)."""

    entry: IdEntry
    table: IdTable
    exact: bool
    specificity: int


def _pci_claim(e: IdEntry, d: Device) -> tuple[bool, int] | None:
    vendor, device, subvendor, subdevice, cls, mask = (int(x or 0) for x in e.values[:6])
    exact = True
    score = 0
    for want, have in ((vendor, d.vendor), (device, d.device), (subvendor, d.subvendor), (subdevice, d.subdevice)):
        if want == PCI_ANY_ID:
            continue
        if have is None:
            exact = False
        elif want != have:
            return None
        score += 1
    if mask:
        known = d.cls_known if d.cls is not None else 0
        if (cls ^ (d.cls or 0)) & mask & known:
            return None
        if vendor == PCI_ANY_ID and not mask & known:
            return None     # a class-only entry, and the capture gives no class: says nothing
        if mask & ~known:
            exact = False
        score += 1
    if vendor == PCI_ANY_ID and not mask and device == PCI_ANY_ID:
        return None
    return exact, score


_USB_CLASS_FLAGS = ("DEV_CLASS", "DEV_SUBCLASS", "DEV_PROTOCOL", "INT_CLASS", "INT_SUBCLASS", "INT_PROTOCOL",
                    "INT_NUMBER")


def _usb_classes(flags: int, want: list[int], have: list[int | None]) -> tuple[bool, int] | None:
    """usb_match_device/usb_match_one_id's class checks: (exact, how many) or None (no match)."""
    exact, score = True, 0
    for k, flag in enumerate(_USB_CLASS_FLAGS):
        if flags & USB_MATCH[flag]:
            if have[k + 1] is None:
                exact = False
            elif have[k + 1] != want[5 + k]:
                return None
            score += 1
    return exact, score


def _usb_claim(e: IdEntry, d: Device) -> tuple[bool, int] | None:
    v = [int(x or 0) for x in e.values[:12]]
    flags = v[0]
    if not flags:
        return None
    score = 0
    for flag, want, have_id in (("VENDOR", v[1], d.vendor), ("PRODUCT", v[2], d.device)):
        if flags & USB_MATCH[flag]:
            if want != have_id:
                return None
            score += 1
    have = list(d.usb) + [None] * (8 - len(d.usb))
    bcd = have[0]
    exact = True
    if flags & (USB_MATCH["DEV_LO"] | USB_MATCH["DEV_HI"]):
        if bcd is None:
            exact = False
        elif (flags & USB_MATCH["DEV_LO"] and bcd < v[3]) or (flags & USB_MATCH["DEV_HI"] and bcd > v[4]):
            return None
    classes = _usb_classes(flags, v, have)
    if classes is None:
        return None
    exact = exact and classes[0]
    if not score and not exact:
        return None     # a class-only entry: every device might be one; only a full modalias says
    return exact, score + classes[1]


class DeviceMatcher:
    """The index's entries by what they match on, for lookups of many devices."""

    def __init__(self, index: DeviceIndex) -> None:
        self.index = index
        self.by_vendor: dict[tuple[str, int], list[tuple[IdEntry, IdTable]]] = {}
        self.any_vendor: dict[str, list[tuple[IdEntry, IdTable]]] = {"pci": [], "usb": []}
        self.by_name: dict[tuple[str, str], list[tuple[IdEntry, IdTable]]] = {}
        self.acpi_classes: list[tuple[IdEntry, IdTable]] = []
        for table in index.tables.values():
            for e in table.entries:
                if e.kind == "pci":
                    vendor = e.values[0]
                    if vendor == PCI_ANY_ID:
                        self.any_vendor["pci"].append((e, table))
                    elif isinstance(vendor, int):
                        self.by_vendor.setdefault(("pci", vendor), []).append((e, table))
                elif e.kind == "usb":
                    flags = int(e.values[0] or 0)
                    if flags & USB_MATCH["VENDOR"] and isinstance(e.values[1], int):
                        self.by_vendor.setdefault(("usb", e.values[1]), []).append((e, table))
                    else:
                        self.any_vendor["usb"].append((e, table))
                elif e.kind == "of" and e.values[2]:
                    self.by_name.setdefault(("of", str(e.values[2]).lower()), []).append((e, table))
                elif e.kind == "acpi":
                    if e.values[0]:
                        self.by_name.setdefault(("acpi", str(e.values[0]).upper()), []).append((e, table))
                    else:
                        self.acpi_classes.append((e, table))

    def claims(self, d: Device) -> list[Claim]:
        out: list[Claim] = []
        if d.bus in ("pci", "usb"):
            candidates = self.by_vendor.get((d.bus, d.vendor or -1), []) + self.any_vendor[d.bus]
            judge = _pci_claim if d.bus == "pci" else _usb_claim
            for e, table in candidates:
                got = judge(e, d)
                if got is not None:
                    out.append(Claim(e, table, got[0], got[1]))
        else:
            for e, table in self.by_name.get((d.bus, d.name.lower() if d.bus == "of" else d.name.upper()), []):
                out.append(Claim(e, table, True, 3))
        out.sort(key=lambda c: (not c.exact, -c.specificity, c.entry.file, c.entry.line))
        return out


# --- from a claim to modules, symbols, values, module lists ----------------------------------


@dataclass
class ModuleFacts:
    """One module that claims a device, on every arch."""

    module: str
    ko: str
    entry: str                    # file:line of the matching table entry
    table: str                    # table name at file:line
    exact: bool
    symbols: list[str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)    # arch -> symbol -> value
    state: dict[str, str] = field(default_factory=dict)                # arch -> module/builtin/not-built/absent
    compiled: dict[str, bool] = field(default_factory=dict)            # arch -> the entry is in that build
    listed: dict[str, str | None] = field(default_factory=dict)        # arch -> modules-ARCH.txt:line or None

    def supported(self, arch: str) -> bool:
        return self.state.get(arch) in ("module", "builtin") and self.compiled.get(arch, False)

    def as_dict(self) -> dict[str, Any]:
        return {"module": self.module, "ko": self.ko, "entry": self.entry, "table": self.table, "exact": self.exact,
                "symbols": self.symbols, "values": self.values, "state": self.state, "compiled": self.compiled,
                "listed": self.listed}


@dataclass
class DeviceReport:
    device: Device
    modules: list[ModuleFacts]
    names: dict[str, str] = field(default_factory=dict)       # vendor/device names from pci.ids/usb.ids
    driver_matches: bool | None = None                        # talosctl's driver: is one of the modules
    unsupported: list[str] = field(default_factory=list)      # arches no claiming module is built on
    proposal: dict[str, Any] | None = None                    # the change that supports it

    def as_dict(self) -> dict[str, Any]:
        d = self.device
        return {"bus": d.bus, "id": d.id, "where": d.where, "label": d.label, "driver": d.driver,
                "description": d.description, "names": self.names, "driver_matches": self.driver_matches,
                "modules": [m.as_dict() for m in self.modules], "claimed": bool(self.modules),
                "unsupported": self.unsupported, "proposal": self.proposal}


class ModuleLocator:
    """Which ``.ko`` files a table is linked into, through the Kbuild map's composite objects."""

    def __init__(self, index: DeviceIndex, kmaps: Mapping[str, KbuildMap]) -> None:
        self.index = index
        self.kmaps = kmaps
        self._by_object: dict[str, set[str]] = {}
        for kmap in kmaps.values():
            for ko, parts in kmap.parts.items():
                for obj, _ in parts:
                    self._by_object.setdefault(obj, set()).add(ko)
        self._users: dict[tuple[str, str], list[str]] = {}
        for f, uses in index.uses.items():
            for u in uses:
                if u.kind != "alias":
                    table = index.table_for(u)
                    if table is not None:
                        self._users.setdefault((table.file, table.name), []).append(f)
        self._includers: dict[str, set[str]] = {}
        for f, incs in index.includes.items():
            for inc in incs:
                self._includers.setdefault(inc, set()).add(f)

    def kos(self, table: IdTable) -> list[str]:
        out: set[str] = set()
        for f in self._users.get((table.file, table.name), []):
            for src in self._compiled_from(f):
                out |= self._by_object.get(src[:-2] + ".o", set())
        return sorted(out)

    def _compiled_from(self, f: str) -> list[str]:
        """The C files that compile ``f`` (itself, or those including it)."""
        seen, todo, found = {f}, [f], []
        while todo:
            cur = todo.pop()
            if cur.endswith(".c"):
                found.append(cur)
            for inc in self._includers.get(cur, ()):
                if inc not in seen:
                    seen.add(inc)
                    todo.append(inc)
        return found


def describe(devices: list[Device], matcher: DeviceMatcher, locator: ModuleLocator,
             values: Mapping[str, Mapping[str, str]], lists: Mapping[str, Any],
             names: Any | None = None) -> list[DeviceReport]:
    """For each device: the modules that claim it, on every arch of ``values``."""
    reports = []
    for d in devices:
        facts: dict[str, ModuleFacts] = {}
        for claim in matcher.claims(d):
            for ko in locator.kos(claim.table):
                if ko in facts:
                    continue
                facts[ko] = _facts(ko, claim, locator, values, lists)
        modules = list(facts.values())
        report = DeviceReport(d, modules)
        if names is not None:
            report.names = names.lookup(d)
        if d.driver:
            report.driver_matches = any(module_name(m.ko) == module_name(d.driver) or m.module == d.driver
                                        for m in modules)
        # the exact claims decide; claims that depend on IDs the capture lacks only when there is none
        deciding = [m for m in modules if m.exact] or modules
        report.unsupported = [arch for arch in values if not any(m.supported(arch) for m in deciding)]
        reports.append(report)
    return reports


def _facts(ko: str, claim: Claim, locator: ModuleLocator, values: Mapping[str, Mapping[str, str]],
           lists: Mapping[str, Any]) -> ModuleFacts:
    symbols: list[str] = []
    for kmap in locator.kmaps.values():
        rule = kmap.rule(ko)
        if rule is not None:
            symbols += [s for s in rule.own_symbols if s not in symbols]
    facts = ModuleFacts(module_name(ko), ko, claim.entry.where, f"{claim.table.name} at {claim.table.file}:"
                        f"{claim.table.line}", claim.exact, symbols)
    for arch, vals in values.items():
        kmap = locator.kmaps[arch]
        facts.values[arch] = {s: vals.get(s, "n") or "n" for s in symbols}
        facts.state[arch] = kmap.evaluate(ko, vals).state if kmap.rule(ko) is not None else "absent"
        objs = kmap.objects(ko, vals) if facts.state[arch] == "module" else \
            [o for o, _ in kmap.parts.get(ko, ())]
        facts.compiled[arch] = all_hold(claim.table.conditions, vals) and all_hold(claim.entry.conditions, vals) and \
            any(claim.table.file in locator.index.closure(o[:-2] + ".c") for o in objs)
        module_list = lists.get(arch)
        facts.listed[arch] = None
        if module_list is not None:
            for _, entry, where in module_list.numbered():
                if entry == ko:
                    facts.listed[arch] = where
                    break
    return facts


@dataclass(frozen=True)
class ModuleSupport:
    """How one claiming module is had on one arch: what a change to a device's support compares."""

    ko: str
    state: str                    # module, builtin, not-built, absent
    compiled_out: bool = False    # built, but the matching entry is compiled out by an #if
    listed: bool = False          # a module the module list names


def module_support(m: ModuleFacts | None, arch: str) -> ModuleSupport | None:
    """`m`'s support on `arch` (None: no claiming module), each fact only where its state has it."""
    if m is None:
        return None
    state = m.state.get(arch, "absent")
    return ModuleSupport(m.ko, state, state in ("module", "builtin") and not m.compiled.get(arch, True),
                         state == "module" and bool(m.listed.get(arch)))


@dataclass(frozen=True)
class DeviceChange:
    """A device of a capture whose support a change moves on one arch: supported no longer, supported
    now, or a claiming module's build or list entry changed (each as before -> after)."""

    device: Device
    arch: str
    lost: bool
    gained: bool
    modules: tuple[tuple[ModuleSupport | None, ModuleSupport | None], ...]


def device_changes(devices: list[Device], matcher: DeviceMatcher, locator: ModuleLocator, arch: str,
                   before: Mapping[str, str], after: Mapping[str, str], before_list: Any | None = None,
                   after_list: Any | None = None) -> list[DeviceChange]:
    """The devices a change affects on ``arch``: each one whose support changes (no claiming module
    built before and one after, or the other way round) or whose claiming module's build or
    module-list entry changes."""
    was = describe(devices, matcher, locator, {arch: before}, {arch: before_list} if before_list else {})
    now = describe(devices, matcher, locator, {arch: after}, {arch: after_list} if after_list else {})
    out = []
    for old, new in zip(was, now, strict=True):
        lost, gained = arch in new.unsupported and arch not in old.unsupported, \
            arch in old.unsupported and arch not in new.unsupported
        moved = [(module_support(next((o for o in old.modules if o.ko == m.ko), None), arch),
                  module_support(m, arch)) for m in new.modules]
        changed = tuple((o, m) for o, m in moved if o != m)
        if lost or gained or changed:
            out.append(DeviceChange(new.device, arch, lost, gained, changed))
    return out


# --- human names from pci.ids / usb.ids ------------------------------------------------------



class IdNames:
    """Vendor and device names from the machine's pci.ids / usb.ids (when present)."""

    def __init__(self, paths: Mapping[str, Iterable[str]] = IDS_PATHS) -> None:
        self.files = {bus: next((p for p in ps if Path(p).is_file()), None) for bus, ps in paths.items()}
        self._tables: dict[str, dict[tuple[int, int | None], str]] = {}

    def _table(self, bus: str) -> dict[tuple[int, int | None], str]:
        if bus not in self._tables:
            table: dict[tuple[int, int | None], str] = {}
            path = self.files.get(bus)
            vendor = None
            if path:
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        if line.startswith("C "):
                            break
                        m = re.match(r"^([0-9a-f]{4})\s+(.*)$", line)
                        if m:
                            vendor = int(m.group(1), 16)
                            table[(vendor, None)] = m.group(2).strip()
                            continue
                        m = re.match(r"^\t([0-9a-f]{4})\s+(.*)$", line)
                        if m and vendor is not None:
                            table[(vendor, int(m.group(1), 16))] = m.group(2).strip()
            self._tables[bus] = table
        return self._tables[bus]

    def lookup(self, d: Device) -> dict[str, str]:
        if d.bus not in ("pci", "usb") or d.vendor is None or self.files.get(d.bus) is None:
            return {}
        table = self._table(d.bus)
        out = {}
        if (d.vendor, None) in table:
            out["vendor"] = table[(d.vendor, None)]
        if (d.vendor, d.device) in table:
            out["device"] = table[(d.vendor, d.device)]
        return out
