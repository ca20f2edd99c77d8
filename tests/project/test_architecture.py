"""The package layout of ARCHITECTURE.md, checked: imports flow one way, with no cycle."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "talosnb"

# Left to right: a layer may import the layers before it, never one after it.
LAYERS = [("core",), ("inputs",), ("kconfig", "kbuild"), ("analyses",), ("app",), ("present",),
          ("cli", "widgets")]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


@functools.cache
def _parsed(path: Path) -> ast.Module:
    """A file's syntax tree, parsed once for all the checks below (none of them changes it)."""
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_only(tree: ast.Module) -> set[int]:
    """The ids of the nodes under `if TYPE_CHECKING:` (imports for annotations only: never run)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skip |= {id(n) for part in node.body for n in ast.walk(part)}
    return skip


def _imports(path: Path, *, runtime: bool = False) -> set[str]:
    """Every talosnb module a file imports, at the top or inside functions; with `runtime`, not
    those under `if TYPE_CHECKING:` (read by annotations only, they never run)."""
    tree = _parsed(path)
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    type_only = _type_only(tree) if runtime else set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "talosnb"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "talosnb":
                continue
            found.add(module)
            # `from talosnb.analyses import edit` imports the module talosnb.analyses.edit
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                if (ROOT / Path(*candidate.split("."))).with_suffix(".py").is_file() or \
                        (ROOT / Path(*candidate.split("."))).is_dir():
                    found.add(candidate)
    return found


def _graph(*, runtime: bool = False) -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(f) for f in files}
    graph = {}
    for f in files:
        graph[_module_name(f)] = {m for m in _imports(f, runtime=runtime) if m in modules and m != _module_name(f)}
    return graph


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def test_every_subpackage_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(RANK), "a new subpackage needs its place in LAYERS and in ARCHITECTURE.md"


def test_no_import_goes_against_the_flow():
    wrong = []
    for module, imported in _graph().items():
        src = _layer(module)
        if src is None:
            continue
        for target in imported:
            dst = _layer(target)
            if dst is None or dst == src:
                continue
            if RANK[dst] >= RANK[src]:
                wrong.append(f"{module} imports {target} ({src} may not import {dst})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycle():
    # annotations may name a type of a module that imports this one (no cycle when the code runs);
    # the flow above holds for those imports too
    graph = _graph(runtime=True)
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "\n".join(cycles)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _from_base(node: ast.ImportFrom, package: list[str]) -> str:
    """The module a `from ... import` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    return ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))


def _private_reaches(path: Path, modules: set[str]) -> list[str]:
    """Where a file uses another talosnb module's _private name: imported by name
    (`from .base import _View`), or read off the module (`toolchain._require_recorded`)."""
    tree = _parsed(path)
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    bound: dict[str, str] = {}     # local name -> the talosnb module it is
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in (a for a in node.names if a.name.split(".")[0] == "talosnb"):
                bound[alias.asname or "talosnb"] = alias.name if alias.asname else "talosnb"
                found += [f"{path.name}:{node.lineno}: import {alias.name}"
                          for part in alias.name.split(".") if _private(part)][:1]
        elif isinstance(node, ast.ImportFrom) and _from_base(node, package).split(".")[0] == "talosnb":
            base = _from_base(node, package)
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
                elif _private(alias.name):
                    found.append(f"{path.name}:{node.lineno}: from {base} import {alias.name}")
    found += [f"{path.name}:{node.lineno}: {bound[node.value.id]}.{node.attr}" for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
              and node.value.id in bound]
    return found


def test_no_module_uses_another_modules_private_names():
    """A _name is its module's own business: what another module needs is public (and documented)
    in the module it belongs to, or moves to the module that uses it."""
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(f) for f in files}
    found = [f"{f.relative_to(ROOT).parent}/{line}" for f in files for line in _private_reaches(f, modules)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("command", ["--help", "normalize --help", "get --help"])
def test_light_commands_do_not_import_heavy_libraries(command):
    """pandas, matplotlib, ipywidgets and nbformat cost most of a command's start-up time: only the
    commands that show tables, charts or notebooks import them."""
    code = ("import sys\nfrom talosnb.cli.main import build_parser\n"
            f"build_parser({command.split()!r})\n"
            "print(','.join(sorted(m for m in ('pandas', 'matplotlib', 'ipywidgets', 'nbformat') "
            "if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == ""


# --- analyses compute, present words ---------------------------------------------
# A function or method of analyses/ or app/ is a text producer when its name reads as one
# (after any leading "_") and it returns a str (or says nothing of what it returns).
TEXT_PRODUCER_NAMES = ("text", "markdown", "html", "*_text", "*_message", "*_words", "*_markdown", "*_html",
                       "render*", "describe*", "format_*")

# The product's own output files and a finding's own strings: text, but not wording for a person.
FILE_CONTENTS = {
    "analyses/modules.py:ModuleList.text",             # modules-ARCH.txt as it is written
    "analyses/upgrade/view.py:ArchView.new_text",      # the .config as the new tree writes it
    "app/workspace.py:Workspace._plan_text",           # config-ARCH as a plan writes it
    "app/workspace.py:Workspace._config_text",         # config-ARCH as saving writes it
    "analyses/modules.py:_format_assignments",         # a module finding's fix (the Finding's data)
    "analyses/upgrade/rules.py:line_text",             # a .config line as conf writes it, in upgrade findings
    "analyses/upgrade/view.py:ConfigLineAt.text",      # the same, for a line of the config as loaded
    "analyses/upgrade/choices.py:_replacement_text",   # a removed symbol's successors, in its finding's message
}

# Wording for a person still made in analyses/ or app/, to move into present/ (one renderer per
# format over the typed result). Remove an entry when its producer moves; never add one.
TEXT_PRODUCERS_TO_MOVE: set[str] = set()


def _text_producers(path: Path) -> list[str]:
    """`file:Class.method` / `file:function` of each text producer defined in `path`."""
    import fnmatch

    def returns_text(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        return fn.returns is None or ast.unparse(fn.returns) in ("str", "'str'")

    rel = path.relative_to(PACKAGE).as_posix()
    found: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif (isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and returns_text(child)
                  and any(fnmatch.fnmatchcase(child.name.lstrip("_"), p) for p in TEXT_PRODUCER_NAMES)):
                found.append(f"{rel}:{prefix}{child.name}")
    visit(_parsed(path), "")
    return found


def test_analyses_compute_present_words():
    """analyses/ and app/ return typed data; the words a person reads are made in present/, one
    renderer per format over that data. The lists above hold the exceptions by name, so a new
    producer fails here and a moved one must leave its list."""
    found = {name for layer in ("analyses", "app") for f in sorted((PACKAGE / layer).rglob("*.py"))
             for name in _text_producers(f)}
    new = sorted(found - FILE_CONTENTS - TEXT_PRODUCERS_TO_MOVE)
    assert not new, "text made outside present/ (render it in a present/ module):\n" + "\n".join(new)
    gone = sorted((FILE_CONTENTS | TEXT_PRODUCERS_TO_MOVE) - found)
    assert not gone, "listed but no longer defined (remove from the list):\n" + "\n".join(gone)


HEAVY = ("pandas", "matplotlib", "ipywidgets", "nbformat")


def test_import_talosnb_alone_imports_no_heavy_library():
    """The command line starts by importing talosnb: its public names are imported on first use."""
    code = ("import sys, talosnb\n"
            f"print(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
            "print(','.join(sorted(m for m in sys.modules if m.startswith('talosnb.'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    heavy, loaded = out.stdout.split("\n")[:2]
    assert heavy == "" and loaded == ""


def _public_api() -> tuple[list[str], dict[str, str]]:
    """talosnb/__init__.py's __all__, and what its `if TYPE_CHECKING:` imports say: name -> module."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    type_only = _type_only(tree)
    typed = {alias.asname or alias.name: node.module or "" for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and id(node) in type_only for alias in node.names}
    listed = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets))
    return listed, typed


def test_every_public_name_resolves_to_its_home():
    import talosnb
    listed, typed = _public_api()
    assert listed == sorted(set(listed)), "__all__ is sorted, each name once"
    assert set(listed) == set(typed), "__all__ and the imports for type checkers name the same"
    for name in listed:
        value = getattr(talosnb, name)
        assert value.__module__ == typed[name], f"talosnb.{name} is {value.__module__}'s, not {typed[name]}'s"
        assert getattr(sys.modules[typed[name]], name) is value
        assert value.__doc__, f"talosnb.{name} has no docstring"
    assert set(listed) <= set(dir(talosnb))
    with pytest.raises(AttributeError):
        talosnb.no_such_name  # noqa: B018


# --- one home per fact ------------------------------------------------------------------------
# Text that builds a checkout path or file name, or a .config line: in f-strings a {} stands for
# each value put in (a finding template's {arch} reads the same way).
LAYOUT_PIECES = (
    re.compile(r"config-\{[^}]*\}"),                                   # config-{arch}
    re.compile(r"modules-\{[^}]*\}\.txt"),                             # modules-{arch}.txt
    re.compile(r"^(?:\{\}/)?(?:kernel/(?:build|prepare)|hack)(?:/[\w.*{}-]+)*/?$"),   # a path below them
    re.compile(r"^(?:Pkgfile|pkg\.yaml|modules\*\.txt|\.talosnb\.toml|extensions/)$"),
)
LINE_PIECES = (
    re.compile(r"# CONFIG_\{[^}]*\} is not set"),
    re.compile(r"no CONFIG_\{[^}]*\} line"),
    re.compile(r"^CONFIG_\{[^}]*\}=\{[^}]*\}$"),
)
HOMES = (("core/layout.py", LAYOUT_PIECES, "the checkout layout (core/layout.py)"),
         ("core/dotconfig.py", LINE_PIECES, "the .config line grammar (core/dotconfig.py)"))


def _code_strings(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, text) of every string the code builds (not docstrings): an f-string with {} for
    each value it puts in."""
    skip: set[int] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            skip.add(id(node.body[0].value))      # its docstring
        elif isinstance(node, ast.JoinedStr):
            skip |= {id(v) for v in node.values}
            found.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}"
                                               for v in node.values)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found.append((node.lineno, node.value))
    return found


def test_layout_and_config_lines_are_built_in_their_home():
    """kernel/build/config-ARCH, hack/modules-ARCH.txt, the extensions' lists and file names come
    from core/layout.py; '# CONFIG_X is not set', 'CONFIG_X=v' and 'no CONFIG_X line' from
    core/dotconfig.py. Prose naming a path for a person says it without building it (ARCH)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for line, text in _code_strings(_parsed(path)):
            found += [f"{rel}:{line}: {text!r} builds {what}" for home, pieces, what in HOMES
                      if rel != home and any(p.search(text) for p in pieces)]
    assert not found, "\n".join(found)
