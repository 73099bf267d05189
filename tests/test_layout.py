"""The layout rules of the house, checked on the source (no import of the code under test).

* The environment is read in one place: ``records/settings.py`` (``Settings.from_env``).
* Roles are tested in one place: ``records/policy.py``; everything else asks the policy
  (``can``, ``holds``, ``holders``…). ``User.has_role`` is defined in the accounts' models.
* No module of ``app``, ``records``, ``search``, ``retention`` over 600 lines, no function
  over 80 lines (migrations aside).

Import rules (layers, no Flask below ``app``, no import at the bottom of a module) are
checked by ``lint-imports`` and ``ruff`` (``[tool.importlinter]`` and ``[tool.ruff]`` in
pyproject.toml), which scripts/test.sh runs.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "records", "search", "retention")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
#: Files over a limit, each with the reason; empty when the tree keeps the rules.
SIZE_EXEMPTIONS: dict[str, str] = {}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if "migrations" not in p.relative_to(ROOT).parts)


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_sources_are_found():
    names = {_name(p) for p in _sources()}
    assert {"records/settings.py", "records/policy.py", "app/__init__.py", "search/factory.py",
            "retention/destroy.py"} <= names


def _environment_reads(tree: ast.Module) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in ("environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(a.name in ("environ", "environb", "getenv", "getenvb") for a in node.names):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_environment_is_read_only_by_the_settings():
    offenders = [f"{_name(p)}:{line}" for p in _sources() if _name(p) != "records/settings.py"
                 for line in _environment_reads(_tree(p))]
    assert not offenders, ("read XINFANG_* settings through records.settings.Settings, not the environment: "
                           + ", ".join(offenders))


def test_the_checks_see_an_environment_read():
    assert _environment_reads(ast.parse("import os\nx = os.environ.get('A')\ny = os.getenv('B')\n")) == [2, 3]
    assert _environment_reads(ast.parse("from os import environ\n")) == [1]
    assert _environment_reads(ast.parse("environ = {}\nx = request.environ['y']\n")) == []


def _role_tests(tree: ast.Module) -> list[int]:
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "has_role"]


def test_roles_are_tested_only_by_the_policy():
    offenders = [f"{_name(p)}:{line}" for p in _sources() if _name(p) != "records/policy.py"
                 for line in _role_tests(_tree(p))]
    assert not offenders, ("ask records.policy (can, holds, holders, requires_second_factor), "
                           "not User.has_role: " + ", ".join(offenders))
    assert _role_tests(ast.parse("u.has_role('chief')")) == [1]


def _long_functions(tree: ast.Module) -> list[tuple[str, int, int]]:
    return [(node.name, node.lineno, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def _exempt(name: str) -> bool:
    return any(name == key or (key.endswith("/") and name.startswith(key)) for key in SIZE_EXEMPTIONS)


def test_no_module_is_too_long():
    long = [f"{_name(p)} ({n} lines)" for p in _sources() if not _exempt(_name(p))
            for n in [len(p.read_text(encoding="utf-8").splitlines())] if n > MAX_MODULE_LINES]
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by job): " + ", ".join(long)


def test_no_function_is_too_long():
    long = [f"{_name(p)}:{line} {name} ({n} lines)" for p in _sources() if not _exempt(_name(p))
            for name, line, n in _long_functions(_tree(p))]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: " + ", ".join(long)


def test_every_exemption_names_a_file_that_exists():
    gone = [name for name in SIZE_EXEMPTIONS if not (ROOT / name).exists()]
    assert not gone, f"exempted but gone (take them off SIZE_EXEMPTIONS): {gone}"
