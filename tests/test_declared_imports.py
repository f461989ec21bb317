"""Every third-party package the code imports is declared in pyproject.toml, directly: the app's
code and scripts against `dependencies`, the tests and the bench against `dependencies` and the
`dev` extras. A package that another dependency happens to pull in today may not tomorrow."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.helpers import ROOT

FIRST_PARTY = {"apps", "portal", "bench", "tests"}
SKIPPED = {".venv", "var", "node_modules", "migrations"}


def _files(*patterns: str) -> list[Path]:
    found = [path for pattern in patterns for path in ROOT.glob(pattern)]
    return sorted(p for p in found if not SKIPPED & set(p.relative_to(ROOT).parts))


def _top_level_imports(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name.partition(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0], node.lineno


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(*groups: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        r for g in groups
        for r in (project["dependencies"] if g == "" else project["optional-dependencies"][g])
    ]  # fmt: skip
    return {_normalized(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def _undeclared(files: list[Path], declared: set[str], root: Path = ROOT) -> list[str]:
    distributions = packages_distributions()
    missing = []
    for path in files:
        for module, line in _top_level_imports(path):
            if module in sys.stdlib_module_names or module in FIRST_PARTY:
                continue
            names = {_normalized(d) for d in distributions.get(module, [])}
            if not names & declared:
                where = f"{path.relative_to(root)}:{line}"
                missing.append(f"{where} imports {module} ({', '.join(sorted(names)) or '?'})")
    return missing


APP_CODE = ("apps/**/*.py", "portal/**/*.py", "scripts/*.py", "manage.py")
DEV_CODE = ("tests/**/*.py", "bench/**/*.py")


@pytest.mark.parametrize(
    ("patterns", "groups"), [(APP_CODE, ("",)), (DEV_CODE, ("", "dev"))], ids=["app", "dev"]
)
def test_every_imported_package_is_declared(patterns, groups):
    files = _files(*patterns)
    assert len(files) > 20
    missing = _undeclared(files, _declared(*groups))
    assert not missing, "declare in pyproject.toml:\n" + "\n".join(missing)


def test_the_check_sees_an_undeclared_import_and_passes_the_rest(tmp_path):
    code = tmp_path / "code.py"
    code.write_text("import os\nimport yaml\nfrom apps import x\nfrom django import db\n")
    assert _undeclared([code], {"django"}, tmp_path) == ["code.py:2 imports yaml (pyyaml)"]
    assert _undeclared([code], {"django", "pyyaml"}, tmp_path) == []
