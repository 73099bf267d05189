"""Whoosh's private API is used in one module only (``search.whoosh.internals``), which names
the Whoosh-Reloaded release it mirrors; that release is pinned exactly, and a backend refuses
to be built over another one."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from records.errors import ConfigurationError
from search.whoosh import internals
from search.whoosh.backend import WhooshBackend

from .conftest import whoosh_only

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "search" / "whoosh"
#: Whoosh's layers below its public API: subclassing or driving them is borrowing internals.
PRIVATE_MODULES = ("whoosh.codec", "whoosh.filedb.compound", "whoosh.filedb.structfile")


def test_the_pin_is_exact_and_is_the_mirrored_release():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d for d in deps if d.lower().startswith("whoosh-reloaded")]
    assert pins == [f"Whoosh-Reloaded=={internals.MIRRORS}"]
    assert f"Whoosh-Reloaded {internals.MIRRORS}" in internals.__doc__


def test_the_installed_release_is_the_mirrored_one(tmp_path):
    assert internals.installed_version() == internals.MIRRORS
    WhooshBackend(tmp_path, "k1").close()   # builds


@pytest.mark.parametrize("found", ["2.7.6", "3.0.0", None])
def test_a_backend_refuses_another_release_and_says_what_to_install(tmp_path, monkeypatch, found):
    monkeypatch.setattr(internals, "installed_version", lambda: found)
    with pytest.raises(ConfigurationError) as err:
        WhooshBackend(tmp_path / "ix", "k1")
    y = internals.MIRRORS
    what = f"Whoosh-Reloaded {found} is installed" if found else "Whoosh-Reloaded is not installed"
    assert err.value.message == (f"{what}; this build mirrors {y}'s internals (search/whoosh/internals.py). "
                                 f"Install {y}: pip install 'Whoosh-Reloaded=={y}'")
    assert not (tmp_path / "ix").exists()   # refused before touching anything


@whoosh_only("the check is of the embedded backend's Whoosh")
def test_the_configured_backend_is_checked_when_built(inst, monkeypatch):
    from search import factory

    monkeypatch.setattr(internals, "installed_version", lambda: "2.8.0")
    with pytest.raises(ConfigurationError, match=re.escape(f"pip install 'Whoosh-Reloaded=={internals.MIRRORS}'")):
        factory.make_backend(inst, "000000000000")


def _private_uses(path: Path) -> list[str]:
    """Uses of Whoosh's private API in a module: imports of underscored names or of Whoosh's
    layers below the public API, and attributes with a leading underscore on anything but
    ``self`` (our own objects' attributes are reached through ``self`` only)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "whoosh":
            if node.module.startswith(PRIVATE_MODULES):
                found.append(f"{path.name}:{node.lineno} imports {node.module}")
            found += [f"{path.name}:{node.lineno} imports {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [f"{path.name}:{node.lineno} imports {a.name}" for a in node.names
                      if a.name.startswith(PRIVATE_MODULES)]
        elif isinstance(node, ast.Attribute) and re.match(r"^_[^_]", node.attr) \
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
    return found


def test_private_api_is_used_in_internals_only():
    modules = sorted(p for p in PACKAGE.glob("*.py") if p.name != "internals.py")
    assert {p.name for p in modules} >= {"backend.py", "bulk.py", "codec.py", "execution.py", "schema.py",
                                         "segments.py", "shards.py", "storage.py"}
    assert [use for p in modules for use in _private_uses(p)] == []
    assert _private_uses(PACKAGE / "internals.py")   # the scan does see what internals borrows
    others = [p for p in (ROOT / "search").rglob("*.py") if PACKAGE not in p.parents]
    assert [use for p in others if re.search(r"^\s*(from|import) whoosh\b", p.read_text(), re.MULTILINE)
            for use in _private_uses(p)] == []


def test_the_package_keeps_modules_and_functions_small():
    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        assert len(source.splitlines()) <= 600, path.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 80, f"{path.name}:{node.name}"


@whoosh_only("the check is of the embedded backend's Whoosh")
def test_search_check_and_the_server_report_the_wrong_release_plainly(inst, app, runner, monkeypatch):
    """``xinfang search check`` says what to install (exit 2, no traceback), and a server
    refuses to start (``app.serve.check_instance``) before any search is tried."""
    from app.cli import cli
    from app.serve import check_instance
    from search import factory, indexer

    monkeypatch.setattr(indexer.service(inst), "_backend", None)   # built anew, as in a new process
    monkeypatch.setattr(internals, "installed_version", lambda: "2.8.0")
    result = runner.invoke(cli, ["search", "check"])
    assert result.exit_code == 2
    assert (f"Whoosh-Reloaded 2.8.0 is installed; this build mirrors {internals.MIRRORS}'s internals "
            f"(search/whoosh/internals.py). Install {internals.MIRRORS}: "
            f"pip install 'Whoosh-Reloaded=={internals.MIRRORS}'") in result.output
    with pytest.raises(ConfigurationError, match="Whoosh-Reloaded 2.8.0 is installed"):
        factory.check(inst)
    with pytest.raises(ConfigurationError, match="Whoosh-Reloaded 2.8.0 is installed"):
        check_instance(app)
    monkeypatch.setattr(internals, "installed_version", lambda: internals.MIRRORS)
    factory.check(inst)
    check_instance(app)
