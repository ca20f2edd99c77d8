"""The two checkouts a Talos kernel customizer works with.

- siderolabs/pkgs: ``kernel/build/config-<arch>`` (full Linux .config files),
  ``kernel/build/patches/*.patch`` and ``Pkgfile``; talosnb's settings for it in ``.talosnb.toml``;
- siderolabs/talos: ``hack/modules-<arch>.txt`` (modules copied into the initramfs);
- siderolabs/extensions (optional): each system extension's ``files/modules*.txt`` (the modules
  it ships besides the base).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from talosnb.core import layout
from talosnb.core.arches import ARCHES, check_arch
from talosnb.core.errors import InputError, TalosnbError, opt
from talosnb.core.fileio import os_error, recover

from .pkgfile import PkgfileInfo, parse_pkgfile


class PkgsCheckout:
    """A siderolabs/pkgs checkout (or a folder laid out like one)."""

    CONTENTS = f"{layout.PKGFILE} and {layout.config_file('amd64')}, {layout.config_name('arm64')}"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = _existing_dir(path, "pkgs checkout", opt("pkgs"), self.CONTENTS)
        # a talosnb run killed while writing here left a journal: finish (or undo) it first
        self.recovered = _recover(self.path, layout.build_dir(self.path))

    def __repr__(self) -> str:
        return f"PkgsCheckout({str(self.path)!r})"

    @property
    def pkgfile(self) -> Path:
        return _existing_file(self.path / layout.PKGFILE, layout.PKGFILE, opt("pkgs"), self.CONTENTS)

    def pkgfile_info(self) -> PkgfileInfo:
        return parse_pkgfile(self.pkgfile)

    def config_path(self, arch: str) -> Path:
        return _existing_file(layout.config_path(self.path, check_arch(arch)),
                              f"kernel config for {arch}", opt("pkgs"), self.CONTENTS)

    @property
    def patches_dir(self) -> Path:
        """kernel/build/patches: what the build applies to the kernel tree (may not exist)."""
        return layout.patches_dir(self.path)

    def arches(self) -> list[str]:
        """The architectures this checkout has a config for."""
        return [a for a in ARCHES if _is_file(layout.config_path(self.path, a))]

    def settings(self) -> CheckoutSettings | None:
        """talosnb's settings kept in the checkout (``.talosnb.toml`` at its root), None without the
        file; a file that isn't valid TOML, or has a key or value talosnb doesn't take, is an
        InputError naming its line."""
        return read_settings(self.path / layout.SETTINGS_FILE)


@dataclass(frozen=True)
class CheckoutSettings:
    """What ``.talosnb.toml`` says: the workloads whose kernel requirements the checkout's configs
    must meet (the workloads gate and the set/merge guard, when no workload is named) and the
    optional features of theirs in use. ``lines`` says where each key is (for the messages about
    its names, checked against the profiles later)."""

    path: Path
    workloads: tuple[str, ...] | None = None
    features: tuple[str, ...] | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        return f"{self.path}:{self.lines.get(key, 1)}"


SETTINGS_KEYS = {"workloads": "the workloads whose kernel requirements the configs must meet",
                 "features": "the optional features of those workloads in use"}
SETTINGS_EXAMPLE = 'workloads = ["kubernetes", "cilium"]\nfeatures = ["wireguard"]'


def read_settings(path: Path) -> CheckoutSettings | None:
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read talosnb's settings ({getattr(e, 'strerror', None) or e})", where=str(path),
                         hint="make it a readable UTF-8 text file, or remove it") from None
    hint = f"the file takes, e.g.:\n{SETTINGS_EXAMPLE}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        # "at end of document": the last line is where it was still open
        line = m.group(1) if m else max(1, len(text.splitlines()))
        raise InputError(f"not valid TOML: {e}", where=f"{path}:{line}",
                         hint=f"fix its syntax (https://toml.io); {hint}") from None
    lines = {}
    for key in data:
        m = re.search(rf"^[ \t]*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*[=.\]]", text, re.MULTILINE)
        if m is None:
            m = re.search(rf"^[ \t]*\[[ \t]*{re.escape(key)}\s*[\].]", text, re.MULTILINE)
        lines[key] = text.count("\n", 0, m.start()) + 1 if m else 1
    values: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        where = f"{path}:{lines[key]}"
        if key not in SETTINGS_KEYS:
            raise InputError(f"unknown key {key!r} in talosnb's settings", where=where,
                             hint="the keys are " + "; ".join(f"{k} ({what})" for k, what in SETTINGS_KEYS.items()))
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise InputError(f"{key} must be a list of names", where=where, hint=hint)
        values[key] = tuple(v.strip() for v in value)
    return CheckoutSettings(path, values.get("workloads"), values.get("features"), lines)


class TalosCheckout:
    """A siderolabs/talos checkout (or a folder laid out like one)."""

    CONTENTS = ", ".join(layout.module_list_file(arch) for arch in ARCHES)

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = _existing_dir(path, "talos checkout", opt("talos"), self.CONTENTS)
        self.recovered = _recover(self.path / layout.MODULE_LIST_DIR)

    def __repr__(self) -> str:
        return f"TalosCheckout({str(self.path)!r})"

    def module_list_path(self, arch: str) -> Path:
        return _existing_file(layout.module_list_path(self.path, check_arch(arch)),
                              f"module list for {arch}", opt("talos"), self.CONTENTS)

    def arches(self) -> list[str]:
        return [a for a in ARCHES if _is_file(layout.module_list_path(self.path, a))]


def _recover(*folders: Path) -> list[str]:
    notes = []
    for folder in folders:
        try:
            notes += recover(folder)
        except TalosnbError:
            raise
        except OSError as e:
            raise os_error(e, "cannot finish an interrupted write in this folder", folder) from None
    return notes


def _is_file(p: Path) -> bool:
    """Path.is_file, except that a folder on the way that can't be searched is an error naming it."""
    try:
        return stat.S_ISREG(p.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        raise os_error(e, "cannot look into this folder", p.parent) from None


def _mode(p: Path, what: str, hint: str) -> int:
    """The st_mode of `p`; a missing one is an InputError naming `what` (with `hint`)."""
    try:
        return p.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{what} not found", where=str(p), hint=hint) from None
    except OSError as e:
        raise os_error(e, f"cannot open the {what}", p) from None


def _existing_dir(path: str | os.PathLike, what: str, option: str, contents: str) -> Path:
    p = Path(path).expanduser()
    hint = f"{option} takes a folder containing {contents}"
    if not stat.S_ISDIR(_mode(p, what, hint)):
        raise InputError(f"{what} is not a folder", where=str(p), hint=hint)
    if not os.access(p, os.X_OK):
        raise InputError(f"cannot open the {what}: permission denied", where=str(p),
                         hint="check the folder's permissions")
    return p.resolve()


def _existing_file(p: Path, what: str, option: str, contents: str) -> Path:
    hint = f"the {option} folder should contain {contents}"
    if stat.S_ISDIR(_mode(p, what, hint)):
        raise InputError(f"{what} is a folder, expected a file", where=str(p), hint=hint)
    if not os.access(p, os.R_OK):
        raise InputError(f"cannot read the {what}: permission denied", where=str(p),
                         hint="check the file's permissions")
    return p


# What `{{ .ARCH }}` expands to in an extension's pkg.yaml (the machine names of `uname -m`), and
# the Talos arch each one is.
EXTENSION_ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}
_XARGS_RE = re.compile(r"xargs\s+(?:-a\s*|--arg-file[= ])/pkg/files/(?P<name>modules-\{\{\s*\.ARCH\s*\}\}\.txt|\S+)")
_ARCH_TEMPLATE_RE = re.compile(r"\{\{\s*\.ARCH\s*\}\}")
_INSTALL_RE = re.compile(r"install\s+-D\s+(?P<source>\S+)\{\}")


@dataclass(frozen=True)
class ExtensionListFile:
    """One module list of a system extension: ``files/modules.txt`` (every arch) or
    ``files/modules-x86_64.txt`` / ``files/modules-aarch64.txt`` (one arch each)."""

    extension: str            # the extension's folder in the checkout: drivers/usb-modem
    path: Path
    arches: tuple[str, ...]
    installed_at: str | None  # the pkg.yaml line that installs it (file:line)

    @property
    def list_id(self) -> str:
        """How commands name the extension's list: extensions/drivers/usb-modem."""
        return layout.extension_list_id(self.extension)

    @property
    def label(self) -> str:
        return f"extensions: {layout.extension_list_file(self.extension, self.path.name)}"


class ExtensionsCheckout:
    """A siderolabs/extensions checkout: each extension that ships kernel modules has a ``pkg.yaml``
    installing the ``.ko`` files of its ``files/modules*.txt`` from the kernel's
    ``/usr/lib/modules/$KERNELRELEASE/`` (``xargs -a /pkg/files/modules.txt -I {} install -D ...``)."""

    CONTENTS = "<group>/<extension>/pkg.yaml with files/modules.txt or files/modules-x86_64.txt, modules-aarch64.txt"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = _existing_dir(path, "extensions checkout", opt("extensions"), self.CONTENTS)
        self.lists = self._find_lists()
        self.recovered = _recover(*dict.fromkeys(f.path.parent for f in self.lists))

    def __repr__(self) -> str:
        return f"ExtensionsCheckout({str(self.path)!r})"

    def extensions(self) -> list[str]:
        return sorted({f.extension for f in self.lists})

    def list_files(self, arch: str) -> list[ExtensionListFile]:
        """The lists installed on `arch`, by extension."""
        check_arch(arch)
        return [f for f in self.lists if arch in f.arches]

    def _find_lists(self) -> list[ExtensionListFile]:
        found: list[ExtensionListFile] = []
        for pkg in sorted(self.path.rglob(layout.STEP_FILE)):
            folder = pkg.parent
            rel = folder.relative_to(self.path)
            if any(part.startswith(".") for part in rel.parts) or rel == Path("."):
                continue
            found += _extension_lists(rel.as_posix(), pkg)
        return found


_TEMPLATE_RE = re.compile(r"\{\{-?\s*(if\b[^}]*|else|end)\s*-?\}\}")
_ARCH_TEST_RE = re.compile(r'if\s+(eq|ne)\s+\.ARCH\s+"([^"]+)"')


def _template_scope(scopes: list[frozenset[str]], word: str) -> None:
    """Follow bldr's Go template blocks in a pkg.yaml (evaluated before YAML is read, comments
    included): `scopes` holds, per open block, the machines ({{ .ARCH }}) it keeps its lines for."""
    every = frozenset(EXTENSION_ARCHES)
    if word.startswith("if"):
        test = _ARCH_TEST_RE.match(word)
        if test is None:
            scopes.append(every)
        else:
            one = frozenset({test.group(2)})
            scopes.append(one if test.group(1) == "eq" else every - one)
    elif word == "else" and scopes:
        scopes[-1] = every - scopes[-1] if scopes[-1] != every else every
    elif word == "end" and scopes:
        scopes.pop()


def _installed_lists(pkg: Path) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """The list files a pkg.yaml installs (name as written -> its file:line) and the machines each
    install line is kept for."""
    from talosnb.core.fileio import read_text

    text, _snapshot = read_text(pkg, what="extension pkg.yaml")
    installs: dict[str, str] = {}
    machines: dict[str, frozenset[str]] = {}
    scopes: list[frozenset[str]] = []   # bldr's Go template blocks: {{ if eq .ARCH "x86_64" }} ... {{ end }}
    for number, line in enumerate(text.splitlines(), 1):
        for word in _TEMPLATE_RE.findall(line):
            _template_scope(scopes, word)
        m = _XARGS_RE.search(line)
        if m is None or not m.group("name").startswith("modules"):
            continue
        where = f"{pkg}:{number}"
        source = _INSTALL_RE.search(line)
        if source is not None and not source.group("source").startswith("/usr/lib/modules/"):
            raise InputError(f"this extension installs its list's entries from {source.group('source')}, "
                             "not from /usr/lib/modules/<version>/", where=where,
                             hint="module lists name .ko files under /usr/lib/modules/$KERNELRELEASE/")
        file_name = _ARCH_TEMPLATE_RE.sub("{{ .ARCH }}", m.group("name"))
        installs[file_name] = where
        machines[file_name] = frozenset(EXTENSION_ARCHES).intersection(*scopes)
    return installs, machines


def _list_arches(path: Path, installs: dict[str, str],
                 machines: dict[str, frozenset[str]]) -> tuple[tuple[str, ...], str | None]:
    """The arches a list file ships on (none: its install line is templated out) and its install line."""
    m = layout.EXTENSION_LIST_RE.match(path.name)
    assert m is not None   # globbed as modules*.txt and matched by the caller
    machine = m.group("machine")
    if machine is None:
        kept = machines.get(path.name, frozenset(EXTENSION_ARCHES))
        return tuple(a for a in ARCHES if any(EXTENSION_ARCHES[k] == a for k in kept)), installs.get(path.name)
    if machine not in EXTENSION_ARCHES:
        raise InputError(f"a module list for {machine!r}, an arch Talos doesn't build", where=str(path),
                         hint=f"extension lists are files/modules.txt or files/modules-ARCH.txt with ARCH one "
                              f"of {', '.join(EXTENSION_ARCHES)}")
    template = layout.EXTENSION_LIST_TEMPLATE
    kept = machines.get(path.name, machines.get(template, frozenset(EXTENSION_ARCHES)))
    arches = (EXTENSION_ARCHES[machine],) if machine in kept else ()
    return arches, installs.get(path.name) or installs.get(template)


def _extension_lists(name: str, pkg: Path) -> list[ExtensionListFile]:
    """The module lists one extension's pkg.yaml installs (with what is in its files/ folder)."""
    installs, machines = _installed_lists(pkg)
    files = layout.extension_files_dir(pkg)
    on_disk = sorted(p for p in files.glob(layout.EXTENSION_LIST_GLOB) if layout.EXTENSION_LIST_RE.match(p.name)) \
        if files.is_dir() else []
    if installs and not files.is_dir():
        first = next(iter(installs.values()))
        raise InputError(f"pkg.yaml installs /pkg/files/{next(iter(installs))}, but the extension has no files/ "
                         "folder", where=first,
                         hint=f"create {files} with the module list, or drop the install line")
    lists = []
    for path in on_disk:
        arches, where = _list_arches(path, installs, machines)
        if arches:
            lists.append(ExtensionListFile(name, path, arches, where))
    names = {p.name for p in on_disk}
    for written, where in installs.items():
        wanted = ([written.replace("{{ .ARCH }}", m) for m in EXTENSION_ARCHES]
                  if "ARCH" in written else [written])
        missing = [w for w in wanted if w not in names]
        if missing:
            raise InputError(f"pkg.yaml installs /pkg/files/{written}, but files/ has no {' or '.join(missing)}",
                             where=where, hint=f"add the list to {files}, or fix the install line")
    return lists
