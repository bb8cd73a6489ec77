"""Versioned per-database migrations and their runner.

Two scopes: ``platform`` (the platform database) and ``tenant`` (every
tenant database). Migrations live in ``migrations/platform`` and
``migrations/tenant`` as ``mNNNN_words.py`` modules; each database records
what it has applied in its ``_migrations`` ledger and is locked while it is
migrated (``_migration_lock``).

Modules: ``base`` (what a migration is), ``registry`` (discovery),
``ledger`` (ledger and lock of one database), ``status`` (one database's
status), ``database`` (up/down/repair for one database, and
``bring_to_latest`` for new databases), ``fleet`` (the platform and every
tenant, concurrently), ``reports`` and ``progress`` (what runs report).

This package imports ``tenancy`` (errors, models, indexes...), never the
other way round, and never ``graphql_api`` or ``scripts``: operator tools
work without the web server.
"""

from migrations.base import Migration, MigrationScope
from migrations.database import bring_to_latest, migrate_database, rollback_database
from migrations.fleet import migrate_all, status_all
from migrations.registry import MigrationRegistry, default_registry
from migrations.reports import DatabaseResult, DatabaseStatus, Outcome, RunReport, StatusReport
from migrations.status import database_status

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
