"""The migration status of one database: its ledger compared with the code (reads only)."""

from __future__ import annotations

from collections.abc import Sequence

from migrations.base import Migration, MigrationScope
from migrations.ledger import Ledger, LedgerEntry, MigrationLock
from migrations.registry import MigrationRegistry, default_registry
from migrations.reports import DatabaseStatus, MigrationState, MigrationStatus
from tenancy.errors import AppError, ErrorCode
from tenancy.mongo_types import Database

#: How reports name the platform database.
PLATFORM_LABEL = "platform"


def compute_status(
    migrations: Sequence[Migration],
    entries: dict[str, LedgerEntry],
    *,
    scope: MigrationScope,
    target: str,
    database: str | None,
) -> DatabaseStatus:
    """The status of one database from its ledger ``entries`` and the code's ``migrations``.

    Returns:
        One row per migration of the code (applied, pending or drifted) and
        per ledger entry the code does not know (unknown), ordered by id.
    """
    rows: list[MigrationStatus] = []
    for migration in migrations:
        entry = entries.get(migration.id)
        if entry is None:
            state = MigrationState.PENDING
        elif entry.checksum != migration.checksum:
            state = MigrationState.CHECKSUM_MISMATCH
        else:
            state = MigrationState.APPLIED
        rows.append(
            MigrationStatus(
                id=migration.id,
                description=migration.description,
                state=state,
                checksum=migration.checksum,
                recorded_checksum=entry.checksum if entry else None,
                applied_at=entry.applied_at if entry else None,
                by=entry.by if entry else None,
                reversible=migration.reversible,
            )
        )
    known = {m.id for m in migrations}
    for entry_id, entry in entries.items():
        if entry_id not in known:
            rows.append(
                MigrationStatus(
                    id=entry_id,
                    description=entry.description,
                    state=MigrationState.UNKNOWN,
                    checksum=None,
                    recorded_checksum=entry.checksum,
                    applied_at=entry.applied_at,
                    by=entry.by,
                )
            )
    rows.sort(key=lambda r: r.id)
    return DatabaseStatus(
        scope=scope,
        target=target,
        database=database,
        current=max(entries) if entries else None,
        latest=migrations[-1].id if migrations else None,
        migrations=rows,
    )


def refuse_drift(status: DatabaseStatus) -> None:
    """Raise CHECKSUM_MISMATCH or MIGRATION_UNKNOWN for a database that must not be migrated."""
    if status.mismatched:
        raise AppError(
            ErrorCode.CHECKSUM_MISMATCH,
            f"migration(s) {', '.join(status.mismatched)} changed after they were applied; "
            "restore their code, or review the change and accept it (repair_checksums)",
        )
    refuse_unknown(status)


def refuse_unknown(status: DatabaseStatus) -> None:
    """Raise MIGRATION_UNKNOWN when the ledger names migrations this code does not have."""
    if status.unknown:
        raise AppError(
            ErrorCode.MIGRATION_UNKNOWN,
            f"the ledger has migration(s) {', '.join(status.unknown)} that this code does not "
            "know; run a newer version of the code",
        )


def label_of(db: Database, scope: MigrationScope, label: str | None) -> str:
    """How reports name a database: ``label``, else ``platform`` or the database name."""
    if label:
        return label
    return PLATFORM_LABEL if scope == MigrationScope.PLATFORM else db.name


async def database_status(
    db: Database,
    scope: MigrationScope | str,
    *,
    label: str | None = None,
    registry: MigrationRegistry | None = None,
) -> DatabaseStatus:
    """Compare one database's ledger with the code (reads only).

    Args:
        db: the database.
        scope: which migrations apply to it.
        label: how reports name it (tenant slug; default ``platform`` or the db name).
        registry: the migrations; defaults to this code base's.

    Returns:
        The status; ``locked_by`` names a runner holding an unexpired lock.

    Raises:
        pymongo errors when the database cannot be read (``status_all`` turns
        them into ``error``).
    """
    scope = MigrationScope(scope)
    migrations = (registry or default_registry()).for_scope(scope)
    entries = await Ledger(db).entries()
    status = compute_status(
        migrations, entries, scope=scope, target=label_of(db, scope, label), database=db.name
    )
    holder = await MigrationLock(db, "status-reader").holder()
    status.locked_by = holder.owner if holder else None
    return status
