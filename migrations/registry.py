"""Discovery and ordering of the migrations in ``migrations/platform`` and ``migrations/tenant``.

A migration module is named ``mNNNN_lowercase_words.py`` and defines:

- ``DESCRIPTION: str`` - one line for ``migrate status``;
- ``async def up(db: AsyncDatabase) -> None`` - idempotent;
- ``down`` - ``async def down(db)`` or ``down = None`` (cannot be undone).

Its id is the module name without the ``m`` (``0001_initial_schema``); its
scope is its package. Modules whose name starts with ``_`` are helpers and
are ignored. Numbers are unique per scope (two ``0003_*`` modules, the usual
result of merging two branches, are refused rather than ordered by name).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable
from functools import lru_cache

from migrations.base import Migration, MigrationScope
from tenancy.errors import AppError, ErrorCode

_MODULE_NAME = re.compile(r"m(\d{4}_[a-z0-9_]+)")  # used with fullmatch

SCOPE_PACKAGES: dict[MigrationScope, str] = {
    MigrationScope.PLATFORM: "migrations.platform",
    MigrationScope.TENANT: "migrations.tenant",
}


class MigrationRegistry:
    """The ordered migrations of every scope.

    Args:
        migrations: any number of migrations of any scope, in any order.

    Raises:
        AppError(MIGRATION_INVALID) when an id or a number repeats within a scope.
    """

    def __init__(self, migrations: Iterable[Migration]) -> None:
        by_scope: dict[MigrationScope, list[Migration]] = {scope: [] for scope in MigrationScope}
        for migration in migrations:
            by_scope[migration.scope].append(migration)
        self._by_scope: dict[MigrationScope, tuple[Migration, ...]] = {}
        for scope, items in by_scope.items():
            items.sort(key=lambda m: m.id)
            seen: dict[int, str] = {}
            for migration in items:
                if migration.number in seen:
                    raise AppError(
                        ErrorCode.MIGRATION_INVALID,
                        f"{scope} migrations {seen[migration.number]} and {migration.id} "
                        "share a number; renumber one of them",
                    )
                seen[migration.number] = migration.id
            self._by_scope[scope] = tuple(items)

    def for_scope(self, scope: MigrationScope | str) -> tuple[Migration, ...]:
        """The migrations of ``scope``, ordered by id."""
        return self._by_scope[MigrationScope(scope)]

    def get(self, scope: MigrationScope | str, migration_id: str) -> Migration | None:
        """One migration by id, or ``None``."""
        return next((m for m in self.for_scope(scope) if m.id == migration_id), None)

    def latest(self, scope: MigrationScope | str) -> str | None:
        """The id of the last migration of ``scope`` (``None`` when there is none)."""
        items = self.for_scope(scope)
        return items[-1].id if items else None


def discover(scope: MigrationScope | str, package: str | None = None) -> list[Migration]:
    """Import every migration module of one scope.

    Args:
        scope: the scope the modules belong to.
        package: dotted package to scan; defaults to ``SCOPE_PACKAGES[scope]``.

    Returns:
        The migrations, ordered by id.

    Raises:
        AppError(MIGRATION_INVALID) for a badly named module or one missing
        ``DESCRIPTION``/``up``.
    """
    scope = MigrationScope(scope)
    package_name = package or SCOPE_PACKAGES[scope]
    pkg = importlib.import_module(package_name)
    found: list[Migration] = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        match = _MODULE_NAME.fullmatch(info.name)
        if not match or info.ispkg:
            raise AppError(
                ErrorCode.MIGRATION_INVALID,
                f"{package_name}.{info.name}: migration modules are named mNNNN_lowercase_words.py "
                "(prefix helpers with an underscore)",
            )
        module = importlib.import_module(f"{package_name}.{info.name}")
        description = getattr(module, "DESCRIPTION", None)
        up = getattr(module, "up", None)
        if not isinstance(description, str) or not callable(up):
            raise AppError(
                ErrorCode.MIGRATION_INVALID,
                f"{module.__name__} must define DESCRIPTION (str) and async def up(db)",
            )
        found.append(
            Migration(
                id=match.group(1),
                description=description,
                scope=scope,
                up=up,
                down=getattr(module, "down", None),
            )
        )
    found.sort(key=lambda m: m.id)
    return found


@lru_cache(maxsize=1)
def default_registry() -> MigrationRegistry:
    """The registry of this code base's migrations (discovered once per process).

    Raises:
        AppError(MIGRATION_INVALID) as :func:`discover` does.
    """
    return MigrationRegistry(migration for scope in MigrationScope for migration in discover(scope))
