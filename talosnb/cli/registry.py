"""Every command: its name, the module that implements it, and its one-line summary.

A command module has ``add_arguments(parser)`` and ``run(args) -> Result``; it is
imported only when that command runs (or shows its --help), so ``talosnb --help``
and the light commands never pay for pandas or matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    module: str
    summary: str


COMMANDS: tuple[Command, ...] = (
    Command("normalize", "talosnb.cli.normalize",
            "rewrite config-ARCH as make olddefconfig would, print what changed"),
    Command("get", "talosnb.cli.get", "show symbols: value per arch, type, prompt, where defined, why"),
    Command("check", "talosnb.cli.check",
            "the Talos kernel build's gates before the build: olddefconfig, kernel-hardening-checker, module lists"),
    Command("set", "talosnb.cli.set",
            "set symbols (SYMBOL=VALUE...) on one or both arches, write config-ARCH, print the cascade"),
    Command("merge", "talosnb.cli.merge",
            "apply config fragments as merge_config.sh + olddefconfig do, write, list unmet values"),
    Command("why", "talosnb.cli.why",
            "a symbol's value and why; or why SYMBOL=VALUE can't be had, with a verified fix"),
    Command("search", "talosnb.cli.search", "find symbols by name, prompt, help text or module"),
    Command("diff", "talosnb.cli.diff", "what normalize would change, or config-ARCH against another file"),
    Command("modules", "talosnb.cli.modules",
            "add or remove entries of hack/modules-ARCH.txt, checked against the config"),
    Command("compare", "talosnb.cli.compare", "amd64 and arm64 side by side: which symbols differ"),
    Command("export", "talosnb.cli.export",
            "run a notebook with parameters and write it as one HTML file that opens offline"),
    Command("history", "talosnb.cli.history",
            "the commits that changed a symbol's config line (git history of the pkgs checkout)"),
    Command("report", "talosnb.cli.report",
            "write a self-contained HTML report of the comparison, or what a change does (--base REF)"),
    Command("hardware", "talosnb.cli.hardware",
            "devices (talosctl, lspci, lsusb, IDs) -> the drivers that claim them, their symbols and list entries"),
    Command("requirements", "talosnb.cli.requirements",
            "what the workloads (Kubernetes, Cilium, Longhorn, ...) need from the kernel config: met or why not"),
    Command("upgrade", "talosnb.cli.upgrade",
            "move the configs and module lists to a new kernel: what changes, explained; --write applies it"),
    Command("lab", "talosnb.cli.lab",
            "copy the notebooks into a working folder (never over your changes) and start JupyterLab there"),
)

BY_NAME = {command.name: command for command in COMMANDS}
