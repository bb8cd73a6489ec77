"""Versioned per-database migrations and their runner.

Two scopes: ``platform`` (the platform database) and ``tenant`` (every
tenant database). Migrations live in ``migrations/platform`` and
``migrations/tenant`` as ``mNNNN_words.py`` modules; each database records
what it has applied in its ``_migrations`` ledger and is locked while it is
migrated (``_migration_lock``). See ``runner`` for the entry points.

This package never imports ``graphql_api``: operator tools work without the
web server.
"""

from migrations.base import Migration, MigrationScope
from migrations.registry import MigrationRegistry, default_registry
from migrations.runner import (
    DatabaseResult,
    DatabaseStatus,
    Outcome,
    RunReport,
    StatusReport,
    bring_to_latest,
    database_status,
    migrate_all,
    migrate_database,
    rollback_database,
    status_all,
)

__all__ = [
    "DatabaseResult",
    "DatabaseStatus",
    "Migration",
    "MigrationRegistry",
    "MigrationScope",
    "Outcome",
    "RunReport",
    "StatusReport",
    "bring_to_latest",
    "database_status",
    "default_registry",
    "migrate_all",
    "migrate_database",
    "rollback_database",
    "status_all",
]
