"""Project-level checks: pins stay in step, CI runs the README's command, the CLI starts."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pyproject_pins() -> list[str]:
    project = _pyproject()["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["test"])


def _env_pip_pins_by_lines(text: str) -> list[str]:
    """The `- pip:` list of a conda environment.yml, read line by line (no PyYAML needed)."""
    pins: list[str] = []
    pip_indent: int | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if pip_indent is None:
            if item.replace(" ", "") == "-pip:":
                pip_indent = indent
            continue
        if indent <= pip_indent:
            break
        assert item.startswith("- "), f"unexpected line in environment.yml's pip list: {raw!r}"
        pins.append(item[2:].strip().strip("'\""))
    assert pip_indent is not None, "environment.yml has no '- pip:' list"
    return pins


def _env_pip_pins() -> list[str]:
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    pins = _env_pip_pins_by_lines(text)
    try:
        import yaml
    except ImportError:
        return pins
    deps = yaml.safe_load(text)["dependencies"]
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml should have exactly one pip list"
    assert [str(p) for p in pip_lists[0]] == pins, "line-based and YAML readings of environment.yml differ"
    return pins


def _as_dict(pins: list[str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pin in pins:
        m = PIN.match(pin.replace(" ", ""))
        assert m, f"{where}: {pin!r} is not an exact 'name==version' pin"
        name = _norm(m.group(1))
        assert name not in out, f"{where}: {name} is listed twice"
        out[name] = m.group(2)
    return out


def test_every_pin_is_exact():
    _as_dict(_pyproject_pins(), "pyproject.toml")
    _as_dict(_env_pip_pins(), "environment.yml")


def test_pyproject_and_environment_yml_pin_the_same_versions():
    py = _as_dict(_pyproject_pins(), "pyproject.toml")
    env = _as_dict(_env_pip_pins(), "environment.yml")
    only_py = {k: v for k, v in py.items() if k not in env}
    only_env = {k: v for k, v in env.items() if k not in py}
    differ = {k: (py[k], env[k]) for k in py.keys() & env.keys() if py[k] != env[k]}
    assert not only_py and not only_env and not differ, (
        f"only in pyproject.toml: {only_py}; only in environment.yml: {only_env}; "
        f"different versions (pyproject, environment.yml): {differ}")


def test_kconfiglib_is_pinned_to_14_1_0():
    assert _as_dict(_pyproject_pins(), "pyproject.toml").get("kconfiglib") == "14.1.0"
    assert _as_dict(_env_pip_pins(), "environment.yml").get("kconfiglib") == "14.1.0"


def test_python_versions_agree():
    requires = _pyproject()["project"]["requires-python"]
    assert requires == ">=3.11"
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s*-\s*python=3\.11\s*$", env, re.MULTILINE), "environment.yml should ask for python=3.11"


def test_ci_run_calls_the_readme_test_command():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [ln.strip() for ln in run.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert commands == ['exec bash "$(dirname "$0")/test"'], commands
    assert (ROOT / ".ci" / "test").is_file()
    assert (ROOT / ".ci" / "lab").is_file()


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^\s*bash \.ci/test\s*$", readme, re.MULTILINE), "README should show `bash .ci/test`"
    assert re.search(r"^\s*bash \.ci/lab\s*$", readme, re.MULTILINE), "README should show `bash .ci/lab`"


def test_ci_scripts_parse():
    for name in ("run", "test", "lab"):
        proc = subprocess.run(["bash", "-n", str(ROOT / ".ci" / name)], check=False, capture_output=True, text=True)
        assert proc.returncode == 0, f".ci/{name}: {proc.stderr}"


def test_python_m_talosnb_help():
    proc = subprocess.run([sys.executable, "-m", "talosnb", "--help"], check=False, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "normalize" in proc.stdout


def test_lint_is_clean():
    """`ruff check` (pinned in the test extra) passes, as the README's development section says."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


# The documented Python examples name the checkouts as a reader has them; they run on copies of
# the embedded sample made into git clones (the change report and the line history read git).
EXAMPLE_INPUTS = {"~/src/pkgs": "pkgs", "~/src/talos": "talos"}
EXAMPLE_KERNEL_SRC = "/usr/src/linux-source-6.12.tar.xz"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _python_examples() -> list[tuple[str, int, str]]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [(f.relative_to(ROOT).as_posix(), n, block) for f in files
            for n, block in enumerate(PYTHON_BLOCK.findall(f.read_text(encoding="utf-8")), 1)]


@pytest.fixture(scope="module")
def example_checkouts(tmp_path_factory) -> Path:
    import shutil
    root = tmp_path_factory.mktemp("examples")
    git = ["git", "-c", "user.name=talosnb", "-c", "user.email=talosnb@example.org", "-c", "init.defaultBranch=main"]
    for name in EXAMPLE_INPUTS.values():
        shutil.copytree(ROOT / "data" / "sample" / name, root / name)
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the sample"],
                     ["update-ref", "refs/remotes/origin/main", "HEAD"]):
            subprocess.run([*git, *args], cwd=root / name, check=True, capture_output=True)
    return root


@pytest.mark.parametrize(("doc", "number", "code"), _python_examples(), ids=lambda v: v if isinstance(v, str)
                         and "\n" not in v else str(v) if isinstance(v, int) else "")
def test_documented_python_examples_run(doc, number, code, example_checkouts, tmp_path, monkeypatch):
    """Every ```python block of README.md and docs/ runs as written, on the embedded sample (the
    run's one cache folder: engine_cache_env)."""
    for name in ("TALOSNB_PKGS", "TALOSNB_TALOS", "TALOSNB_KERNEL_SRC", "TALOSNB_EXTENSIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    for given, name in EXAMPLE_INPUTS.items():
        code = code.replace(given, str(example_checkouts / name))
    code = code.replace(EXAMPLE_KERNEL_SRC, str(ROOT / "data" / "sample" / "linux"))
    script = tmp_path / f"{Path(doc).stem}_example_{number}.py"
    script.write_text(code, encoding="utf-8")
    runpy.run_path(str(script), run_name="__example__")


def _fixture_names(conftest: Path) -> set[str]:
    import ast

    def is_fixture(node: ast.expr) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        return isinstance(target, ast.Attribute) and target.attr == "fixture"
    return {node.name for node in ast.walk(ast.parse(conftest.read_text()))
            if isinstance(node, ast.FunctionDef) and any(is_fixture(d) for d in node.decorator_list)}


def test_test_files_name_the_shared_fixtures_without_importing_them():
    """A fixture imported into a test module is a second definition of it: pytest then makes a
    session fixture once more for that module (a tree parsed, conf run again)."""
    import ast
    shared = set().union(*(_fixture_names(c) for c in (ROOT / "tests").rglob("conftest.py")))
    assert {"trees", "kernel_conf", "sample", "browser", "hook"} <= shared
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                found += [f"{path.name}:{node.lineno} imports {a.name}" for a in node.names if a.name in shared]
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytest_plugins" for t in node.targets):
                found.append(f"{path.name}:{node.lineno} sets pytest_plugins")
    assert found == []


def test_test_files_sit_in_the_feature_folders_docs_development_md_lists():
    """tests/<feature>/test_*.py, each folder in the layout table of docs/development.md; the
    names are unique (the folders are not packages: pytest imports each file by its name)."""
    files = sorted((ROOT / "tests").rglob("test_*.py"))
    assert [f.name for f in files if f.parent == ROOT / "tests"] == []
    assert len({f.name for f in files}) == len(files)
    layout = (ROOT / "docs" / "development.md").read_text()
    assert sorted({f.parent.name for f in files if f'`tests/{f.parent.name}/`' not in layout}) == []
