"""Every rule about what talosnb refuses to do to a user's files, each in one place.

The Workspace calls these before it changes or writes anything, so the command
line and the widgets refuse the same things with the same words:

- :func:`refuse_series_change`: a config made for another kernel series (or one
  that would lose most of its lines: damaged, or made for another tree) is not
  rewritten for this tree without saying so;
- :func:`refuse_dropped_lines`: a config with lines for symbols the kernel tree
  doesn't define is not written (writing drops those lines, as olddefconfig would);
- :func:`refuse_changed_on_disk`: a file changed on disk since it was loaded is not
  overwritten; every file is checked before any is written;
- :func:`refuse_sample`: the embedded sample is never written;
- :func:`refuse_other_arch_output`: a config is not written over the other arch's;
- :func:`module_list_verdict`: a config change that stops building a listed ``.ko``
  as a module is refused;
- :func:`unshipped_dependencies`: so is one that leaves a shipped module needing a module no
  list ships with it (a pure verdict on the findings before and after);
- :func:`refuse_ambiguous_module_list`: new modules an extension's list could take as well as
  talos's are listed only where the user says;
- :func:`refuse_entries_naming_nothing` and :func:`refuse_symbols_building_nothing`:
  a module-list edit whose entry names nothing changes nothing.

Each refusal is a TalosnbError (``RefusedError``, exit 1, for a write refused to
protect the user's data; ``InputError``, exit 2, for an input that names nothing)
whose hint names the override in the words of the face in use (:func:`opt`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import kconfiglib

from talosnb.analyses.modules import ListEdit, looks_like_symbol
from talosnb.core import dotconfig, layout
from talosnb.core.arches import header_arch
from talosnb.core.errors import FileChangedError, InputError, RefusedError, TalosnbError, opt
from talosnb.core.fileio import Snapshot
from talosnb.core.fileio import refuse_sample as _refuse_sample_path

from .plan import Options, Verdict

if TYPE_CHECKING:
    from .session import Session


def dropped_lines(session: Session, arches: Iterable[str]) -> str | None:
    """Why writing these arches' configs would lose lines (symbols the tree doesn't define), and what
    to do instead; None if it wouldn't."""
    parts = []
    for arch in arches:
        config = session.configs[arch]
        dropped = [n for n in config.notes if n.kind == "unknown-symbol"]
        if dropped:
            names = ", ".join(n.symbol or "" for n in dropped[:6]) + (" ..." if len(dropped) > 6 else "")
            parts.append(f"{layout.config_name(arch)} has {len(dropped)} line(s) for symbols the {session.tree_version} "
                         f"tree doesn't define ({names}; first at {dropped[0].where})")
    if not parts:
        return None
    return ("; ".join(parts) + ". Writing would drop them: use the kernel tree the configs were made for "
            f"({opt('kernel_src')}), or write anyway with {opt('allow_drop')}")


def refuse_dropped_lines(session: Session, arches: Iterable[str], *, allow_drop: bool) -> None:
    why = None if allow_drop else dropped_lines(session, arches)
    if why:
        raise RefusedError(why + "; nothing was written")


# Writing a config that keeps fewer than this share of its assignment lines as they were: it
# was damaged, or made for another tree; a stable update of one series keeps nearly all.
KEPT_AT_LEAST = 0.5


def series_change(session: Session, arches: Iterable[str], texts: Mapping[str, str] | None = None) -> str | None:
    """Why writing these arches' configs would turn them into configs of another kernel: the header
    names another series, or the rewrite keeps less than half of the lines; None if neither.
    ``texts``: arch -> the text that would be written, when already at hand."""
    from talosnb.core.versions import compare_versions

    parts = []
    for arch in arches:
        config = session.configs[arch]
        recorded = config.recorded_version
        check = compare_versions(session.tree_version, recorded, "its header") if recorded else None
        if check is not None and check.kind == "mismatch":
            parts.append(f"{layout.config_name(arch)} was made for Linux {recorded} and this tree is {session.tree_version} "
                         "(another series)")
            continue
        before = [line for line in dotconfig.split_lines(config.original_text) if dotconfig.parse_line(line)]
        if len(before) >= 20:
            after = set(dotconfig.split_lines(texts[arch] if texts and arch in texts else config.text()))
            kept = sum(line in after for line in before)
            if kept < KEPT_AT_LEAST * len(before):
                parts.append(f"writing {layout.config_name(arch)} would keep only {kept} of its {len(before)} lines as they "
                             "are (the file looks damaged, or made for another tree)")
    if not parts:
        return None
    damaged = any("looks damaged" in part for part in parts)
    instead = ("restore the file (e.g. from git) or use the kernel tree it was made for" if damaged
               else "use the kernel tree the config was made for")
    return ("; ".join(parts) + f". {instead[0].upper()}{instead[1:]} ({opt('kernel_src')}); to rewrite it for "
            f"this tree anyway, pass {opt('allow_series_change')}")


def refuse_series_change(session: Session, arches: Iterable[str], *, allow_series_change: bool,
                         texts: Mapping[str, str] | None = None) -> None:
    why = None if allow_series_change else series_change(session, arches, texts)
    if why:
        raise RefusedError(why + "; nothing was written")


def refuse_changed_on_disk(files: Sequence[tuple[str, str, Snapshot | None]], *, force: bool) -> None:
    """Before writing several files: refuse, naming every one, if any changed on disk since it was
    loaded (`files`: name, where it lives, what was loaded). Nothing is written then."""
    if force:
        return
    moved = [(name, label, snap) for name, label, snap in files if snap is not None and snap.changed_on_disk()]
    if moved:
        error = FileChangedError(
            ", ".join(f"{name} ({label})" for name, label, _ in moved)
            + " changed on disk since it was loaded; nothing was written",
            where=str(moved[0][2].path),
            hint=f"load the files again to see the other changes, or overwrite them ({opt('force')})")
        error.files = tuple(name for name, _, _ in moved)
        raise error


def refuse_sample(paths: Iterable[Path]) -> None:
    for path in paths:
        _refuse_sample_path(path)


def refuse_other_arch_output(output: Path, arch: str, *, force: bool) -> None:
    """Writing a config elsewhere must not silently replace a config of the other arch there."""
    if force or not output.is_file():
        return
    try:
        found = dotconfig.header(output.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return
    if found and found.arch != header_arch(arch):
        raise InputError(f"{output} holds a Linux/{found.arch} config, and this is the {arch} one; not "
                           "overwriting it", where=str(output),
                           hint=f"check the output path and the arch ({opt('arch')}), or overwrite it "
                                f"({opt('force')})")


def module_list_verdict(errors: Sequence[dict], *, ignore_module_list: bool) -> Verdict:
    """A config change that stops building a listed ``.ko`` as a module, or leaves a shipped module
    needing one no list ships with it (`errors`: the module-list errors it brings, as records:
    :func:`talosnb.analyses.modules.new_list_errors` and :func:`unshipped_dependencies`)."""
    return Verdict("module-list", bool(errors) and not ignore_module_list,
                   module_list_refusal(errors) if errors else "", "ignore_module_list", list(errors))


def module_list_refusal(errors: Sequence[dict] = ()) -> str:
    if errors and all(f["kind"] == DEPENDENCY for f in errors):
        return ("this change leaves a shipped module needing a module no list ships with it (see the "
                f"errors); add it to the list first, or write anyway ({opt('ignore_module_list')})")
    return ("hack/modules-ARCH.txt lists modules this change stops building as =m; remove them from the "
            f"list first, or write anyway ({opt('ignore_module_list')})")


def _verdict(guard: str, override: str | None, check: Callable[[], None], *, scope: str = "write") -> Verdict:
    """A refusing check (one that raises) as a Verdict carrying the error it raises."""
    try:
        check()
    except TalosnbError as e:
        return Verdict(guard, True, str(e), override, scope=scope, error=e)   # type: ignore[arg-type]
    return Verdict(guard, False, override=override, scope=scope)               # type: ignore[arg-type]


def write_verdicts(session: Session, files: Sequence[tuple[str, str, str, Path, Snapshot | None, bool]],
                   texts: Mapping[str, str], *, options: Options, outputs: Mapping[str, Path],
                   dropped: bool = True) -> list[Verdict]:
    """Every rule about writing these files, as verdicts (`files`: name, label, arch, path, what was
    loaded from there, whether it is a config). ``dropped``: judge the dropped lines here (a set or
    merge reports them with the change instead)."""
    arches = [arch for _name, _label, arch, _path, _snap, is_config in files if is_config]
    verdicts = [_verdict("series-change", "allow_series_change", lambda: refuse_series_change(
        session, arches, allow_series_change=options.allow_series_change,
        texts={arch: texts[layout.config_name(arch)] for arch in arches}))]
    if dropped:
        verdicts.append(dropped_lines_verdict(session, arches, allow_drop=options.allow_drop, raises=True))
    verdicts.append(_verdict("sample", None, lambda: refuse_sample(path for *_, path, _s, _c in files)))
    verdicts += [_verdict("other-arch-output", "force",
                          functools.partial(refuse_other_arch_output, path, arch, force=options.force))
                 for arch, path in outputs.items()]
    verdicts.append(_verdict("changed-on-disk", "force", lambda: refuse_changed_on_disk(
        [(name, label, snap) for name, label, _arch, path, snap, _c in files
         if snap is not None and path == snap.path], force=options.force)))
    return verdicts


def dropped_lines_verdict(session: Session, arches: Iterable[str], *, allow_drop: bool,
                          raises: bool = False) -> Verdict:
    """Writing these arches' configs would lose lines (symbols the tree doesn't define): reported
    with a set or merge, raised by a save (``raises``). Its findings say it per arch."""
    arches = list(arches)
    why = dropped_lines(session, arches)
    per_arch = [{"arch": arch, "message": one} for arch in arches if (one := dropped_lines(session, [arch]))]
    refuses = bool(why) and not allow_drop
    error = RefusedError(f"{why}; nothing was written") if refuses and raises else None
    return Verdict("dropped-lines", refuses, why or "", "allow_drop", per_arch, scope="write", error=error)


DEPENDENCY = "missing-dependency"   # an error: the exports in the source say so
_KEY_FIELDS = ("arch", "kind", "entry", "list", "needs")


def _error_key(finding: Mapping) -> tuple:
    return tuple(finding.get(name) for name in _KEY_FIELDS)


def unshipped_dependencies(before: Iterable[Mapping], after: Iterable[Mapping]) -> list[dict]:
    """The verdict on a change, from the module-list findings (records) before and after it: each
    shipped module that now needs a module no list installed with it ships (a missing-dependency
    error the lists did not have before). Empty: the change may be kept."""
    old = {_error_key(f) for f in before if f["kind"] == DEPENDENCY}
    return [dict(f) for f in after if f["kind"] == DEPENDENCY and _error_key(f) not in old]


def refuse_ambiguous_module_list(entries: Sequence[str], candidates: Sequence[str]) -> None:
    """New modules to list where an extension's list could take them as well as talos's (it ships
    modules of the same folder): which one is the user's call, not a guess."""
    if candidates:
        raise InputError(f"more than one list could take {', '.join(entries)}: talos's hack/modules-ARCH.txt or "
                         f"{', '.join(candidates)}; nothing changed",
                         hint=f"say which: {opt('add_to_module_list')}=talos or ={candidates[0]}")


def refuse_symbols_building_nothing(session: Session, entries: Iterable[str]) -> None:
    """A symbol no loaded arch defines is a typo (said with "did you mean"); one that is not a
    tristate anywhere never builds a module, whatever its obj- lines name."""
    for item in (e.strip() for e in entries):
        if not looks_like_symbol(item):
            continue
        defined = [c for c in session.configs.values() if c.has_symbol(item)]
        if not defined:
            try:
                next(iter(session.configs.values())).symbol(item)  # raises, with "did you mean"
            except InputError as e:
                raise InputError(f"{e.message}; nothing changed", where=e.where, hint=e.hint) from None
        types = {kconfiglib.TYPE_TO_STR[c.symbol(item).orig_type] for c in defined}
        if "tristate" not in types:
            name = item.removeprefix("CONFIG_")
            raise InputError(f"CONFIG_{name} is a {' or '.join(sorted(types))}: it is never built as a "
                             "module; nothing changed",
                             hint="name the module (or its tristate symbol) to list instead")


def refuse_entries_naming_nothing(edits: Mapping[str, ListEdit], entries: Iterable[str]) -> None:
    """An entry that names nothing on every arch edited is an error (the edits are then undone by the
    caller); one that names something on another arch is only skipped there."""
    for item in entries:
        reasons = {arch: edit.skipped[item] for arch, edit in edits.items() if item in edit.skipped}
        if not reasons or len(reasons) < len(edits):
            continue
        if len(reasons) == 1:
            (error,) = reasons.values()
            raise InputError(f"{error.message}; nothing changed", where=error.where, hint=error.hint)
        detail = "".join(f"\n  {arch}: {e.message}" + (f" ({e.hint})" if e.hint else "")
                         for arch, e in reasons.items())
        raise InputError(f"{item} names nothing on {' or '.join(reasons)}; nothing changed{detail}")
