"""Between modules, only public names: no module under apps/ or portal/ imports another module's
``_private`` name, and a ``_private`` module is imported only from inside its own package. The
apps stand in layers: a lower one never imports a higher one.

What several apps need has a public home (``portal/outbound.py`` for the HTTP client); a second
caller of a ``_private`` function is the sign that it belongs there (STYLE, "Between apps").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("apps", "portal")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules() -> Iterator[tuple[str, Path, bool]]:
    """(dotted module name, path, is a package's __init__) of every module under PACKAGES."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            yield ".".join(parts), path, is_package


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from ... import`` reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private_module_outside(target: str, importer: str) -> str | None:
    """The first private segment of ``target`` whose package ``importer`` is not inside."""
    parts = target.split(".")
    for index, part in enumerate(parts):
        owner = ".".join(parts[:index])
        inside = importer == owner or importer.startswith(owner + ".")
        if _private(part) and not inside:
            return ".".join(parts[: index + 1])
    return None


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def violations_in(module: str, path: Path, is_package: bool) -> Iterator[str]:
    where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if found := _private_module_outside(alias.name, module):
                    yield f"{where}:{node.lineno}: import {alias.name} (private module {found})"
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, is_package)
            if found := _private_module_outside(target, module):
                yield f"{where}:{node.lineno}: from {target} import ... (private module {found})"
            for alias in node.names:
                if not _private(alias.name) or target == module:
                    continue
                submodule = f"{target}.{alias.name}"
                if _is_module(submodule):
                    if _private_module_outside(submodule, module):
                        yield f"{where}:{node.lineno}: from {target} import {alias.name}"
                else:
                    yield f"{where}:{node.lineno}: from {target} import {alias.name}"


def test_no_module_imports_another_modules_private_names() -> None:
    found = [v for module in _modules() for v in violations_in(*module)]

    assert found == [], "private names imported across modules:\n" + "\n".join(found)


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    # The check itself, on made-up modules: what it must flag, and what it must let through.
    source = tmp_path / "views.py"
    source.write_text(
        "from apps.api.schema import _error, FORBIDDEN\n"
        "from .sender import _vet\n"
        "from apps.gates.parsers._common import as_dict\n"
        "from . import _common\n"
        "from __future__ import annotations\n"
    )
    flagged = list(violations_in("apps.webhooks.views", source, False))
    inside = list(violations_in("apps.gates.parsers.junit", source, False))

    assert [line.split(": ", 1)[1] for line in flagged] == [
        "from apps.api.schema import _error",
        "from apps.webhooks.sender import _vet",
        "from apps.gates.parsers._common import ... (private module apps.gates.parsers._common)",
        "from apps.webhooks import _common",
    ]
    # Inside apps.gates.parsers, its own _common module is fair game.
    assert not any("_common" in line for line in inside)


def test_the_outbound_client_imports_nothing_from_apps() -> None:
    tree = ast.parse((ROOT / "portal/outbound.py").read_text())
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]

    assert not [name for name in imported if name == "apps" or name.startswith("apps.")]


def _imported_modules(module: str, path: Path, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, module) of each import of `path`; `from x import y` also gives x.y for a module y."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, is_package)
            yield node.lineno, target
            for alias in node.names:
                if _is_module(f"{target}.{alias.name}"):
                    yield node.lineno, f"{target}.{alias.name}"


def views_imported_across_apps(module: str, path: Path, is_package: bool) -> Iterator[str]:
    """Imports of another app's views modules (`apps.<app>.views`, `*_views`): a door calls the
    rules of other apps through their public modules (portal.launch_access gets a launch for a
    person), never through another door. URL confs route to views: they may."""
    app = module.split(".")[:2]
    if module.split(".")[-1] == "urls":
        return
    for line, target in _imported_modules(module, path, is_package):
        parts = target.split(".")
        is_views = parts[-1] == "views" or parts[-1].endswith("_views")
        if parts[0] == "apps" and len(parts) > 2 and is_views and parts[:2] != app:
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
            yield f"{where}:{line}: imports {target}"


def test_no_app_imports_another_apps_views() -> None:
    found = [
        v for m in _modules() if m[0].startswith("apps.") for v in views_imported_across_apps(*m)
    ]

    assert found == [], "views imported across apps:\n" + "\n".join(found)


def test_the_check_sees_a_views_import(tmp_path: Path) -> None:
    made = tmp_path / "views.py"
    made.write_text(
        "from apps.launches.views import get_launch_for_user\n"
        "from apps.reports import closure_views\n"
        "from apps.gates import views\n"
        "from portal.launch_access import get_launch_for_user\n"
    )
    flagged = [
        line.split(": ", 1)[1]
        for line in views_imported_across_apps("apps.gates.views", made, False)
    ]

    assert flagged == ["imports apps.launches.views", "imports apps.reports.closure_views"]


def import_graph() -> dict[str, set[str]]:
    """Each module under PACKAGES and the modules of PACKAGES it imports (function-level too)."""
    graph: dict[str, set[str]] = {}
    for module, path, is_package in _modules():
        graph[module] = {
            target
            for _, target in _imported_modules(module, path, is_package)
            if target.split(".")[0] in PACKAGES and _is_module(target) and target != module
        }
    return graph


def cycles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`: its strongly connected components of two or more modules
    (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for following in graph.get(node, ()):
            if following not in index:
                visit(following)
                low[node] = min(low[node], low[following])
            elif following in on_stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert cycles_in(import_graph()) == []


def test_the_check_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}

    assert cycles_in(graph) == [["a", "b", "c"]]


def singular_plural_siblings(root: Path) -> list[str]:
    """Sibling modules or packages whose names differ only by a trailing s (`export.py` beside
    `exports.py`): two homes whose names do not say which holds what."""
    found = []
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        modules = {p.stem for p in folder.glob("*.py")}
        modules |= {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
        found += [
            f"{folder.relative_to(root)}: {n}, {n}s" for n in sorted(modules) if n + "s" in modules
        ]
    return found


def test_no_module_sits_beside_its_own_plural() -> None:
    found = [pair for package in PACKAGES for pair in singular_plural_siblings(ROOT / package)]

    assert found == [], "modules named alike:\n" + "\n".join(found)


def test_the_check_sees_a_module_beside_its_plural(tmp_path: Path) -> None:
    (tmp_path / "reports" / "exports").mkdir(parents=True)
    for name in ("export.py", "exports/__init__.py", "job.py", "views.py"):
        (tmp_path / "reports" / name).write_text("")

    assert singular_plural_siblings(tmp_path) == ["reports: export, exports"]


# The apps, lowest first. An app imports its own layer and those below, never one above, so no
# two apps import each other: the audit chain knows no app; people and their sign-in know the
# audit chain; a launch and its plan (apps.launches) are the base the domain reads; then its gates,
# the sign-offs over them (waivers' rules, readiness, the forecast), the rollout, and the reports
# (packets, exports, closing a launch); the YAML launch specs in and out write all of the domain;
# the doors to the outside (the API, outbound webhooks) sit above them, and no app below imports
# them; the demo fills a launch through the spec import, and the launch pages (apps.pages: the
# list, overview, timeline and gate pages, and the URL conf of the namespace "launches" that routes
# to the apps' views) sit on top. What every page needs to get a launch for a person is
# portal/launch_access.py, above them all.
LAYERS = (
    {"audit"},
    {"accounts"},
    {"launches"},
    {"gates"},
    {"signoffs"},
    {"rollouts"},
    {"reports", "specs"},
    {"api", "webhooks"},
    {"demo"},
    {"pages"},
)
# Imports that point up, each with its reason (none: the per-launch permission rules live with
# Assignment, in apps.signoffs.permissions).
UPWARD_EXCEPTIONS: set[tuple[str, str]] = set()


def _layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "apps" or len(parts) < 2:
        return None
    return next((n for n, apps in enumerate(LAYERS) if parts[1] in apps), None)


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, imported) of each import from an app to an app of a higher layer."""
    return {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if (low := _layer_of(module)) is not None
        and (high := _layer_of(target)) is not None
        and high > low
    }


def test_every_app_has_a_layer() -> None:
    apps = {p.parent.name for p in (ROOT / "apps").glob("*/apps.py")}

    assert apps == set().union(*LAYERS)


def test_no_app_imports_a_higher_layer() -> None:
    # Equal, not a subset: an exception that no longer happens is struck from the list.
    assert upward_imports(import_graph()) == UPWARD_EXCEPTIONS


def test_the_check_sees_an_upward_import() -> None:
    graph = {
        "apps.audit.services": {"apps.accounts.models"},
        "apps.gates.models": {"apps.launches.models", "apps.audit.services"},
        "apps.api.views": {"apps.gates.services", "portal.outbound"},
    }

    assert upward_imports(graph) == {("apps.audit.services", "apps.accounts.models")}
