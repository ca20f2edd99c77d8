"""A working folder of notebooks: the shipped notebooks copied where the user runs them.

The notebooks that ship with talosnb (talosnb/notebooks in a wheel, notebooks/ in a source checkout)
are never opened in place: JupyterLab saves what it opens (autosave), which would rewrite the
shipped copy with one machine's paths and outputs. `talosnb lab` opens a copy instead.

Copying never overwrites the user's work: the folder keeps a manifest of the SHA-256 of each copy
it wrote; a notebook is replaced by a newer shipped version only when it is still the copy written
before, byte for byte. One the user changed is kept, and said so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from talosnb import __version__
from talosnb.core.errors import InputError
from talosnb.core.fileio import Snapshot, Transaction, digest, os_error
from talosnb.core.paths import data_dir, notebooks_dir

# the SHA-256 of each file as this folder last received it from talosnb
MANIFEST = ".talosnb-lab.json"


def default_lab_folder() -> Path:
    """Where `talosnb lab` puts the notebooks when no folder is given."""
    return Path.home() / "talosnb-lab"


@dataclass
class LabFolder:
    """What copying the shipped notebooks into ``folder`` did, file by file (names relative to it)."""

    folder: Path
    copied: list[str] = field(default_factory=list)     # new in the folder
    updated: list[str] = field(default_factory=list)    # an unchanged earlier copy, replaced by the shipped one
    current: list[str] = field(default_factory=list)    # already the shipped one
    kept: list[str] = field(default_factory=list)       # changed in the folder: left as it is

    def as_dict(self) -> dict:
        return {"folder": str(self.folder), "copied": self.copied, "updated": self.updated,
                "current": self.current, "kept": self.kept}


def shipped_files() -> dict[str, bytes]:
    """The shipped notebooks and what runs them beside them (nbval's sanitize file), by name."""
    source = notebooks_dir()
    files = {}
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_file() and not any(part.startswith((".", "__")) for part in rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    if not any(name.endswith(".ipynb") for name in files):
        raise InputError("the notebooks that ship with talosnb are missing", where=str(source),
                         hint="reinstall talosnb")
    return files


def _shipped_places() -> list[Path]:
    """Folders a lab folder may not be in: the package, its notebooks and data, and a source
    checkout's tracked folders."""
    package = Path(__file__).resolve().parents[1]
    places = [package, notebooks_dir().resolve(), data_dir().resolve()]
    if not notebooks_dir().resolve().is_relative_to(package):     # a source checkout: its top folder
        places.append(notebooks_dir().resolve().parent)
    return places


def check_lab_folder(folder: Path) -> Path:
    """``folder`` resolved, refused when it lies where talosnb's own files are."""
    resolved = folder.expanduser().resolve()
    for place in _shipped_places():
        if resolved.is_relative_to(place):
            raise InputError("the notebooks would be opened among talosnb's own files, which JupyterLab's "
                             "autosave would rewrite", where=str(folder),
                             hint="name a folder outside talosnb's installation and source checkout, "
                                  f"e.g. {default_lab_folder()}")
    if resolved.exists() and not resolved.is_dir():
        raise InputError("not a folder", where=str(folder), hint="name a folder (it is made if missing)")
    return resolved


def _manifest(folder: Path) -> dict[str, str]:
    path = folder / MANIFEST
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError):
        # unreadable: nothing is known to be an unchanged copy, so nothing is replaced
        return {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def prepare_lab(folder: str | os.PathLike) -> LabFolder:
    """Copy the shipped notebooks into ``folder`` (made if missing): new ones are copied, earlier
    copies left unchanged are updated, and files changed in the folder are kept as they are."""
    root = check_lab_folder(Path(folder))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise os_error(e, "cannot make the folder", root) from None
    known = _manifest(root)
    result = LabFolder(root)
    record = dict(known)
    tx = Transaction()
    for name, data in shipped_files().items():
        target = root / name
        on_disk = Snapshot.of(target)
        shipped = digest(data)
        if on_disk.sha256 == shipped:
            result.current.append(name)
        elif on_disk.sha256 is None:
            tx.add(target, data, expect=on_disk)
            result.copied.append(name)
        elif known.get(name) == on_disk.sha256:
            # still the copy written last time: the shipped one replaces it (refused if it changes
            # on disk meanwhile)
            tx.add(target, data, expect=on_disk)
            result.updated.append(name)
        else:
            result.kept.append(name)
            continue
        record[name] = shipped
    manifest = {"talosnb": __version__, "files": dict(sorted(record.items()))}
    tx.add(root / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    tx.commit()
    return result
