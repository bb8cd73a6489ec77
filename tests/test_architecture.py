"""Import contracts between the project's packages, read from the source (AST).

- The low-level packages (``tenancy``, ``migrations``, ``domain`` and
  ``notifications``) never import the server (``graphql_api``) or the
  operator tools (``scripts``): operator tools and migrations work without
  the web server.
- ``notifications`` sits beside ``domain`` with its rules: it imports neither
  ``migrations`` nor the server or tools, and ``domain`` never imports it.
- No import cycle between the top-level packages (``tenancy``,
  ``migrations``, ``graphql_api``, ``scripts``, ``domain``): ``migrations``
  imports ``tenancy``, never the other way round.

Every import counts: module level, inside functions, under ``TYPE_CHECKING``,
relative ones, and ``importlib.import_module`` / ``__import__`` /
``pkgutil.resolve_name`` calls with a literal module name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL_PACKAGES = ["domain", "notifications", "accounts"]  # checked as soon as they exist
PACKAGES = [
    name
    for name in ["tenancy", "migrations", "graphql_api", "scripts", *OPTIONAL_PACKAGES]
    if (ROOT / name).is_dir()
]
LOW_LEVEL = [
    name
    for name in ["tenancy", "migrations", "domain", "notifications", "accounts"]
    if name in PACKAGES
]
NEVER_IMPORTED_BY_LOW_LEVEL = {"graphql_api", "scripts"}
DYNAMIC_IMPORTS = {"import_module", "__import__", "resolve_name"}


@dataclass(frozen=True)
class Import:
    """One import found in a source file."""

    path: Path
    line: int
    module: str

    @property
    def package(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        where = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{where}:{self.line} imports {self.module}"


def module_name(path: Path) -> str:
    """``tenancy/databases/copy.py`` -> ``tenancy.databases.copy``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str | None = None) -> Iterator[Import]:
    """Every module ``path`` imports (see the module docstring); ``module`` is
    its dotted name (default: from its place under the project root)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (module or module_name(path)).split(".")
    if path.name != "__init__.py":
        package.pop()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..y import z
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield Import(path, node.lineno, module)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                name in DYNAMIC_IMPORTS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                yield Import(path, node.lineno, first.value.split(":")[0])


def package_imports(package: str) -> Iterator[Import]:
    for path in sorted((ROOT / package).rglob("*.py")):
        yield from imports_of(path)


def package_graph() -> dict[str, dict[str, Import]]:
    """package -> {imported package: one example import} over ``PACKAGES``."""
    graph: dict[str, dict[str, Import]] = {name: {} for name in PACKAGES}
    for package in PACKAGES:
        for found in package_imports(package):
            if found.package in graph and found.package != package:
                graph[package].setdefault(found.package, found)
    return graph


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` as ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, str] = {}  # "open" while on the DFS path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_low_level_packages_never_import_the_server_or_the_tools() -> None:
    violations = [
        str(found)
        for package in LOW_LEVEL
        for found in package_imports(package)
        if found.package in NEVER_IMPORTED_BY_LOW_LEVEL
    ]
    assert violations == [], "low-level packages import graphql_api/scripts:\n" + "\n".join(
        violations
    )


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    cycle = find_cycle({package: set(targets) for package, targets in graph.items()})
    if cycle is not None:
        steps = [str(graph[a][b]) for a, b in pairwise(cycle)]
        raise AssertionError(f"import cycle {' -> '.join(cycle)}:\n" + "\n".join(steps))


def test_migrations_depend_on_tenancy_not_the_reverse() -> None:
    graph = package_graph()
    assert "tenancy" in graph["migrations"]  # the allowed direction is used...
    assert "migrations" not in graph["tenancy"], str(graph["tenancy"].get("migrations"))


def test_notifications_sits_beside_domain() -> None:
    """``notifications`` may import ``tenancy`` and ``domain``; ``domain`` and ``tenancy``
    never import it (the booking operations reach the outbox through ``domain.outbox``)."""
    graph = package_graph()
    assert "domain" in graph["notifications"]  # the allowed direction is used...
    assert "migrations" not in graph["notifications"], str(graph["notifications"]["migrations"])
    for package in ("domain", "tenancy"):
        assert "notifications" not in graph[package], str(graph[package].get("notifications"))


def test_the_checks_see_every_kind_of_import(tmp_path: Path) -> None:
    """The scanner and the cycle finder themselves (so the tests above can fail)."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from __future__ import annotations\n"
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "from . import errors\n"
        "if TYPE_CHECKING:\n"
        "    from scripts.cli import app\n"
        "def later():\n"
        "    import graphql_api.app\n"
        "    return importlib.import_module('migrations.fleet')\n",
        encoding="utf-8",
    )
    found = sorted(i.module for i in imports_of(source, "tenancy.probe"))
    assert found == [
        "__future__",
        "graphql_api.app",
        "importlib",
        "migrations.fleet",
        "scripts.cli",
        "tenancy",
        "typing",
    ]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


# -- billing (issue 10) ---------------------------------------------------------

BILLING_NEVER_IMPORTS = {"graphql_api", "scripts", "migrations", "notifications"}
STRIPE_MODULE = ROOT / "billing" / "stripe_gateway.py"


def test_billing_sits_beside_domain() -> None:
    """``billing`` may import ``tenancy`` and ``domain``, never the server, the tools,
    migrations or notifications; ``tenancy``, ``domain`` and ``notifications`` never
    import it."""
    violations = [
        str(found) for found in package_imports("billing") if found.package in BILLING_NEVER_IMPORTS
    ]
    assert violations == [], "billing imports:\n" + "\n".join(violations)
    assert any(found.package == "tenancy" for found in package_imports("billing"))
    for package in ("tenancy", "domain", "notifications"):
        back = [str(f) for f in package_imports(package) if f.package == "billing"]
        assert back == [], "\n".join(back)


def test_only_the_gateway_imports_stripe() -> None:
    """Stripe knowledge stays in one module: ``billing/stripe_gateway.py``."""
    product = ["tenancy", "migrations", "graphql_api", "scripts", "billing", *OPTIONAL_PACKAGES]
    importers = sorted(
        str(found.path.relative_to(ROOT))
        for package in product
        for found in package_imports(package)
        if found.package == "stripe"
    )
    assert importers == [str(STRIPE_MODULE.relative_to(ROOT))]


def test_accounts_sits_beside_domain() -> None:
    """``accounts`` (issue 11) may import ``tenancy`` and ``domain`` (the account emails go
    through the tenant's outbox); ``tenancy``, ``domain``, ``notifications`` and
    ``migrations`` never import it, and it imports neither ``notifications`` nor
    ``migrations``."""
    graph = package_graph()
    assert {"tenancy", "domain"} <= set(graph["accounts"])  # the allowed direction is used...
    for package in ("notifications", "migrations"):
        assert package not in graph["accounts"], str(graph["accounts"][package])
    for package in ("tenancy", "domain", "notifications", "migrations"):
        assert "accounts" not in graph[package], str(graph[package].get("accounts"))
