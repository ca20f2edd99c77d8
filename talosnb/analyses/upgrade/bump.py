"""The Pkgfile bump: ``linux_version``, ``linux_sha256`` and ``linux_sha512`` for the new tree."""

from __future__ import annotations

from dataclasses import dataclass

from talosnb.core import layout

from ..findings import Finding
from .rules import section_finding


@dataclass(frozen=True)
class Bump:
    """The Pkgfile lines for the new tree: old and new value of each, and the edited text."""

    path: str
    old: dict[str, str]
    new: dict[str, str | None]        # None: not known (no hash given, none computed)
    lines: dict[str, int]
    text: str | None                  # the Pkgfile with the three values replaced (None: hashes unknown)
    why_unknown: str | None = None
    hashes_from: str | None = None    # "given", "tarball", "download"
    label: str = layout.PKGFILE       # how file:line names it

    @property
    def complete(self) -> bool:
        return self.text is not None

    def findings(self, to_version: str) -> list[Finding]:
        out = []
        for key in ("linux_version", "linux_sha256", "linux_sha512"):
            new = self.new.get(key)
            if new is None or new == self.old.get(key):
                continue
            out.append(section_finding("bump", "bump", "all", key, where=f"{self.label}:{self.lines.get(key, '')}",
                                key=key, old=self.old.get(key), new=new, to_version=to_version,
                                details={"hashes_from": self.hashes_from}))
        if self.why_unknown:
            out.append(section_finding("bump", "bump-no-hashes", "all", "linux_sha256", where=self.label,
                                to_version=to_version, why=self.why_unknown))
        return out

    def as_dict(self) -> dict:
        return {"pkgfile": self.path, "old": self.old, "new": self.new, "complete": self.complete,
                "why_unknown": self.why_unknown, "hashes_from": self.hashes_from}


def bump(pkgfile_path: str, pkgfile_text: str, version: str, *, sha256: str | None = None,
         sha512: str | None = None, hashes_from: str | None = None, why_unknown: str | None = None,
         label: str = layout.PKGFILE) -> Bump:
    """The Pkgfile bumped to ``version`` (every other byte kept; see inputs.pkgfile.bump_linux)."""
    from talosnb.inputs.pkgfile import bump_linux, parse_pkgfile_text

    info = parse_pkgfile_text(pkgfile_text, pkgfile_path)
    old = {"linux_version": info.linux_version, "linux_sha256": info.linux_sha256,
           "linux_sha512": info.linux_sha512}
    new = {"linux_version": version, "linux_sha256": sha256, "linux_sha512": sha512}
    text = None
    if sha256 and sha512:
        text = bump_linux(pkgfile_text, version, sha256, sha512, path=pkgfile_path)
    elif why_unknown is None:
        why_unknown = "neither --sha256/--sha512 nor a tarball to compute them from was given"
    return Bump(str(pkgfile_path), old, new, dict(info.lines), text, why_unknown if text is None else None,
                hashes_from if text is not None else None, label)
