"""The hardware lookup: devices -> the drivers that claim them -> what the configs do with those
drivers, and the change that supports a device that isn't.

Looking a device up needs no Kconfig parse: the configs' values as written, the Kbuild maps and
the device index (all cached) say which module claims it and whether it is built and listed. Only
the change for an unsupported device goes through the Workspace, which decides it exactly like
``talosnb set SYMBOL=m --add-to-module-list`` (cascade, refusals with verified fixes, the
module-list guard, the build gates).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talosnb.analyses.aliases import Alias, module_aliases
from talosnb.analyses.hardware import (
    Device,
    DeviceMatcher,
    DeviceReport,
    IdNames,
    ModuleLocator,
    describe,
)
from talosnb.core import layout
from talosnb.core.arches import parse_arches, srcarch
from talosnb.core.errors import ExitStatus, InputError
from talosnb.inputs.resolve import Inputs, resolve_inputs
from talosnb.kbuild import KbuildMap, load_kbuild_map, read_config_values
from talosnb.kbuild.devices import DeviceIndex, load_device_index

if TYPE_CHECKING:
    from talosnb.analyses.modules import ModuleList
    from talosnb.app.plan import Options
    from talosnb.app.workspace import EditOutcome, Workspace


CAPTURE_HINT = ("paste talosctl get pcidevices -o yaml|json, lspci -nn, lspci -n, lsusb, modalias lines or "
                "device-tree compatible strings")


@dataclass
class Hardware:
    """The loaded facts a lookup reads: per arch, the config's values, the Kbuild map and the
    module list; and the source's device index."""

    inputs: Inputs
    arches: list[str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    kmaps: dict[str, KbuildMap] = field(default_factory=dict)
    lists: dict[str, ModuleList] = field(default_factory=dict)
    _index: DeviceIndex | None = None
    _matcher: DeviceMatcher | None = None
    _locator: ModuleLocator | None = None
    names: IdNames = field(default_factory=IdNames)

    @classmethod
    def open(cls, pkgs: str | os.PathLike | None = None, talos: str | os.PathLike | None = None,
             kernel_src: str | os.PathLike | None = None, *, arch: str | None = "all", patches: bool = True,
             progress: bool = False) -> Hardware:
        inputs = resolve_inputs(pkgs, talos, kernel_src, progress=progress, patches=patches)
        if inputs.kernel is None or inputs.pkgs is None:
            raise InputError("a hardware lookup needs the configs and the kernel source",
                             hint="give a pkgs checkout and the kernel source (--pkgs, --kernel-src)")
        return cls.of(inputs, parse_arches(arch))

    @classmethod
    def of(cls, inputs: Inputs, arches: Sequence[str]) -> Hardware:
        """Over already resolved inputs (a Session's)."""
        assert inputs.kernel is not None and inputs.pkgs is not None
        self = cls(inputs, [a for a in arches if inputs.pkgs.config_path(a).is_file()])
        from talosnb.analyses.modules import ModuleList

        for arch in self.arches:
            self.values[arch] = read_config_values(inputs.pkgs.config_path(arch))
            self.kmaps[arch] = load_kbuild_map(inputs.kernel.path, srcarch(arch),
                                               check_sources=inputs.kernel.ensure_intact)
            if inputs.talos is not None and inputs.talos.module_list_path(arch).is_file():
                self.lists[arch] = ModuleList.load(inputs.talos.module_list_path(arch), arch)
        return self

    @classmethod
    def of_workspace(cls, ws: Workspace) -> Hardware:
        """Over a Workspace as it is now (its edits not saved yet included): the configs' current
        values, its Kbuild maps and module lists."""
        inputs = ws.session.inputs
        if inputs.kernel is None or inputs.pkgs is None:
            raise InputError("a hardware lookup needs the configs and the kernel source",
                             hint="give a pkgs checkout and the kernel source (--pkgs, --kernel-src)")
        self = cls(inputs, list(ws.arches))
        for arch in self.arches:
            self.values[arch] = dict(ws.written(arch))
            self.kmaps[arch] = ws.kbuild_map(arch)
            if arch in ws.module_lists:
                self.lists[arch] = ws.module_lists[arch]
        return self

    def index(self, progress: Callable[[str], None] | None = None) -> DeviceIndex:
        """The device index of the kernel source (built once, then cached): a Kconfig/Kbuild
        skeleton has no C files, and says so."""
        if self._index is None:
            kernel = self.inputs.kernel
            assert kernel is not None
            self._index = load_device_index(kernel.origin, kernel.version, progress=progress)
        return self._index

    def describe(self, devices: list[Device]) -> list[DeviceReport]:
        index = self.index()
        if self._matcher is None:
            self._matcher = DeviceMatcher(index)
            self._locator = ModuleLocator(index, self.kmaps)
        assert self._locator is not None
        return describe(devices, self._matcher, self._locator, self.values, self.lists, self.names)

    @staticmethod
    def devices_in(text: str, where: str = "pasted") -> list[Device]:
        """The devices of one pasted capture (its format recognized from its lines)."""
        from talosnb.analyses.hardware import parse_capture

        devices = parse_capture(text, where)
        if not devices:
            raise InputError("no devices in the capture", where=where, hint=CAPTURE_HINT)
        return devices

    def modules_alias(self, arch: str) -> list[Alias]:
        """The pci/usb/of/acpi lines of modules.alias a build of config-ARCH would hold."""
        if arch not in self.values:
            raise InputError(f"no config for {arch}", hint="choose an arch the pkgs checkout has a config for")
        return list(module_aliases(self.index(), self.kmaps[arch], self.values[arch]))


@dataclass(frozen=True)
class SupportReason:
    """Why the change sets ``assignment``: ``module`` (built by it) claims ``device`` through the ID
    table ``entry``."""

    assignment: str
    module: str
    device: str
    entry: str


@dataclass
class Support:
    """The change that makes the unsupported devices supported: per arch, ``SYMBOL=m`` for each
    device's best claiming module, and the Workspace's outcome of each (one ``set`` per arch and
    symbol, so a driver another arch can't build — an x86-only one on arm64 — is refused there
    without holding back the rest)."""

    assignments: dict[str, list[str]]
    reasons: dict[str, list[SupportReason]]
    outcomes: list[tuple[str, str, EditOutcome]] = field(default_factory=list)   # (arch, assignment, outcome)
    files: list[str] = field(default_factory=list)          # what saving the change writes
    written: dict[str, bool] = field(default_factory=dict)  # arch -> config-ARCH written
    blocked: str | None = None                              # why saving is refused (said dry run or not)
    saved: bool = False                                     # written (asked for, not refused)

    @property
    def applied(self) -> list[EditOutcome]:
        return [o for _, _, o in self.outcomes if not o.blocked]

    @property
    def refused(self) -> list[tuple[str, str, str]]:
        return [(arch, a, o.blocked) for arch, a, o in self.outcomes if o.blocked]

    @property
    def status(self) -> ExitStatus:
        """0 when the devices are supported now (written, nothing refused); 1 when something is
        left to do (not written, refused on an arch)."""
        return ExitStatus.OK if any(self.written.values()) and not self.refused else ExitStatus.FINDINGS

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``reasons``: per arch, each reason's fields; the words are
        :func:`talosnb.present.hardware.support_dict`'s)."""
        return {"assignments": self.assignments,
                "reasons": {arch: [vars(r) for r in rs] for arch, rs in self.reasons.items()},
                "refused": [{"arch": arch, "assignment": a, "why": why} for arch, a, why in self.refused],
                "outcomes": [{"arch": arch, "assignment": a, **o.as_dict()} for arch, a, o in self.outcomes]}


def needed_changes(reports: list[DeviceReport]) -> tuple[dict[str, list[str]], dict[str, list[SupportReason]]]:
    """Per arch, ``SYMBOL=m`` for each unsupported device's best claiming module (its own
    symbol, the ``obj-$(CONFIG_SYMBOL)`` that builds it)."""
    assignments: dict[str, list[str]] = {}
    reasons: dict[str, list[SupportReason]] = {}
    for report in reports:
        for arch in report.unsupported:
            candidates = [m for m in report.modules if m.state.get(arch) != "absent" and m.symbols]
            candidates = [m for m in candidates if m.exact] or candidates
            if not candidates:
                continue
            best = candidates[0]
            assignment = f"{best.symbols[0]}=m"
            if assignment not in assignments.setdefault(arch, []):
                assignments[arch].append(assignment)
                reasons.setdefault(arch, []).append(SupportReason(assignment, best.module, report.device.id,
                                                                  best.entry))
    return assignments, reasons


def plan_support(ws: Workspace, reports: list[DeviceReport], *, strict: bool = False) -> Support:
    """The change for every unsupported device, worked out by the Workspace exactly as
    ``set SYMBOL=m --add-to-module-list`` (in memory: saving it is the caller's choice, as with
    ``set``), with the module-list entries when there is a talos checkout."""
    assignments, reasons = needed_changes(reports)
    support = Support(assignments, reasons)
    add = ws.session.inputs.talos is not None
    for arch, items in assignments.items():
        for item in items:
            try:
                outcome = ws.set([item], arches=[arch], add_to_module_list=add, strict=strict)
            except InputError:
                # a bool symbol has no m: its obj-$(CONFIG_X) is then built in
                item = item.replace("=m", "=y")
                outcome = ws.set([item], arches=[arch], add_to_module_list=add, strict=strict)
            support.outcomes.append((arch, item, outcome))
    return support


def support_devices(ws: Workspace, reports: list[DeviceReport], options: Options | None = None, *,
                    write: bool = False, dry_run: bool = False) -> Support | None:
    """The change that supports every unsupported device (None: all are supported), worked out in
    the Workspace (:func:`plan_support`), and its save: planned and judged always (what writing
    would refuse is said either way: the dropped-lines guard), committed when ``write`` and not
    ``dry_run`` and nothing refuses it. The command line and the Hardware tab both end here."""
    from talosnb.app.plan import Options, Request

    options = options or Options()
    if not needed_changes(reports)[0]:
        return None
    support = plan_support(ws, reports, strict=options.strict)
    support.files = sorted({layout.config_name(arch) for o in support.applied for arch in o.changed_arches()})
    support.files += sorted({layout.module_list_name(arch) for o in support.applied for arch, m in o.modules.items()
                             if m.get("added")})
    writing = bool(support.applied) and write and not dry_run
    plan = ws.propose(Request("save", names=tuple(support.files), write=True, dry_run=not writing),
                      options) if support.files else None
    dropped = plan.verdict("dropped-lines") if plan is not None else None
    support.blocked = dropped.message if dropped is not None and dropped.refuses else None
    if support.blocked is None and writing and plan is not None:
        saved = ws.commit(plan)
        names = {p.name for p in saved.written} if saved is not None else set()
        support.written = {arch: layout.config_name(arch) in names for arch in ws.configs}
        support.saved = True
    return support


def lookup_status(support: Support | None) -> ExitStatus:
    """A lookup's exit status: 0 when every device is supported (or now is, written), else 1."""
    return ExitStatus.OK if support is None else support.status
