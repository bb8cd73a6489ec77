"""The migration runner for one database: up, down, repair, and
:func:`bring_to_latest` (what a new database is born with). Its status
(reads only) is :mod:`migrations.status`.

- :func:`migrate_database` takes the database's lock, then applies the
  pending migrations in id order, recording each in the ledger as soon as it
  succeeds. Stops at the first failure. Refuses a database with checksum
  drift or with ledger entries this code does not know.
- :func:`rollback_database` runs ``down`` of the last applied migrations.
- :func:`bring_to_latest` is the schema upgrader tenancy calls for a new
  platform or tenant database (:mod:`tenancy.schema_upgrade`).

Nothing here raises for a failing database: failures are results, with an
``error`` ``{code, message}``, so a CLI can print a table or JSON.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

from migrations.base import Migration, MigrationScope
from migrations.ledger import DEFAULT_LOCK_TTL, Ledger, MigrationLock, default_owner
from migrations.progress import ProgressCallback, ProgressEvent, ProgressKind, emit
from migrations.registry import MigrationRegistry, default_registry
from migrations.reports import (
    DatabaseResult,
    DatabaseStatus,
    MigrationState,
    Outcome,
    StepResult,
)
from migrations.status import compute_status, label_of, refuse_drift, refuse_unknown
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.reports import ReportError

log = logging.getLogger(__name__)


def _check_target_id(migrations: Sequence[Migration], migration_id: str | None) -> None:
    if migration_id is not None and migration_id not in {m.id for m in migrations}:
        raise validation_error("to", f"there is no migration {migration_id!r} in this scope")


async def migrate_database(
    db: Database,
    scope: MigrationScope | str,
    *,
    actor: str,
    owner: str | None = None,
    to: str | None = None,
    dry_run: bool = False,
    label: str | None = None,
    registry: MigrationRegistry | None = None,
    lock_ttl: timedelta = DEFAULT_LOCK_TTL,
    on_progress: ProgressCallback | None = None,
) -> DatabaseResult:
    """Apply the pending migrations of ``scope`` to one database, in id order.

    Takes the database's lock first (a dry run takes none and writes
    nothing), records each migration in the ledger right after its ``up``
    succeeds, and stops at the first failure (what was applied stays
    applied and recorded; re-running continues from there).

    Args:
        db: the database.
        scope: platform or tenant.
        actor: who runs it (ledger ``by``), e.g. ``"cli:alice"``.
        owner: lock owner; defaults to a unique ``actor@host:pid:random``.
        to: stop after this migration id (default: the latest).
        dry_run: only report what would run (``outcome`` ``planned``).
        label: how reports name the database (tenant slug).
        registry: the migrations; defaults to this code base's.
        lock_ttl: lock lifetime between renewals.
        on_progress: called with :class:`ProgressEvent` s.

    Returns:
        A :class:`DatabaseResult`; never raises for a failure of this
        database. ``error.code``: MIGRATION_LOCKED (another runner holds the
        lock or took it over), CHECKSUM_MISMATCH, MIGRATION_UNKNOWN (ledger
        ahead of the code), MIGRATION_FAILED (a migration raised, or the
        database could not be read), VALIDATION_FAILED (unknown ``to``).
    """
    scope = MigrationScope(scope)
    owner = owner or default_owner(actor)

    async def body(result: DatabaseResult) -> None:
        migrations = (registry or default_registry()).for_scope(scope)
        _check_target_id(migrations, to)
        ledger = Ledger(db)
        if dry_run:
            await _plan_up(ledger, migrations, result, to)
            return
        async with MigrationLock(db, owner, ttl=lock_ttl) as lock:
            for migration in await _plan_up(ledger, migrations, result, to):
                duration_ms = await _run_step(db, migration, "up", lock, result, on_progress)
                await ledger.record(
                    migration,
                    applied_at=utcnow(),
                    duration_ms=duration_ms,
                    by=actor,
                    owner=owner,
                )
                result.version_after = max(result.version_after or "", migration.id)
                await _step_done(migration, "up", duration_ms, result, on_progress)
        result.outcome = Outcome.APPLIED if result.steps else Outcome.UNCHANGED

    return await _run_database(db, scope, label, dry_run, body, on_progress)


async def _run_database(
    db: Database,
    scope: MigrationScope,
    label: str | None,
    dry_run: bool,
    body: Callable[[DatabaseResult], Any],
    on_progress: ProgressCallback | None,
) -> DatabaseResult:
    """Run ``body`` for one database: progress events, timing, failures as results."""
    target = label_of(db, scope, label)
    result = DatabaseResult(scope=scope, target=target, database=db.name, dry_run=dry_run)
    started = time.perf_counter()
    await emit(on_progress, ProgressEvent(ProgressKind.DATABASE_STARTED, scope, target))
    try:
        await body(result)
    except Exception as exc:
        _fail(result, exc)
    result.duration_ms = round((time.perf_counter() - started) * 1000)
    await emit(
        on_progress, ProgressEvent(ProgressKind.DATABASE_FINISHED, scope, target, result=result)
    )
    return result


async def _run_step(
    db: Database,
    migration: Migration,
    direction: Literal["up", "down"],
    lock: MigrationLock,
    result: DatabaseResult,
    on_progress: ProgressCallback | None,
) -> int:
    """Run one ``up`` or ``down`` while holding the lock; returns its duration (ms)."""
    lock.check()
    await lock.renew()
    result.failed_migration = migration.id
    await emit(
        on_progress,
        ProgressEvent(
            ProgressKind.MIGRATION_STARTED, result.scope, result.target, migration.id, direction
        ),
    )
    step = migration.up if direction == "up" else migration.down
    assert step is not None  # a missing down is refused by _plan_down
    t0 = time.perf_counter()
    await step(db)
    duration_ms = round((time.perf_counter() - t0) * 1000)
    lock.check()
    return duration_ms


async def _step_done(
    migration: Migration,
    direction: Literal["up", "down"],
    duration_ms: int,
    result: DatabaseResult,
    on_progress: ProgressCallback | None,
) -> None:
    """Record a finished step in the result, the progress events and the log."""
    result.failed_migration = None
    result.steps.append(StepResult(migration.id, direction, duration_ms))
    await emit(
        on_progress,
        ProgressEvent(
            ProgressKind.MIGRATION_FINISHED,
            result.scope,
            result.target,
            migration.id,
            direction,
            duration_ms,
        ),
    )
    log.info(
        "%s: %s %s %s in %d ms", result.target, direction, result.scope, migration.id, duration_ms
    )


async def _read_status(
    ledger: Ledger, migrations: Sequence[Migration], result: DatabaseResult
) -> DatabaseStatus:
    """The database's status from its ledger; sets the result's versions to the current one."""
    status = compute_status(
        migrations,
        await ledger.entries(),
        scope=result.scope,
        target=result.target,
        database=result.database,
    )
    result.version_before = result.version_after = status.current
    return status


async def _plan_up(
    ledger: Ledger, migrations: Sequence[Migration], result: DatabaseResult, to: str | None
) -> list[Migration]:
    """Read the ledger, refuse drift, fill ``planned``/versions; return what to apply."""
    status = await _read_status(ledger, migrations, result)
    refuse_drift(status)
    pending_ids = set(status.pending)
    pending = [m for m in migrations if m.id in pending_ids and (to is None or m.id <= to)]
    result.planned = [m.id for m in pending]
    if result.dry_run:
        result.outcome = Outcome.PLANNED if pending else Outcome.UNCHANGED
    return pending


def _fail(result: DatabaseResult, exc: Exception) -> None:
    """Turn an exception into a failed result.

    A migration that raised (anything but a lost lock) is MIGRATION_FAILED
    whatever it raised; other AppErrors keep their code.
    """
    result.outcome = Outcome.FAILED
    lost_lock = isinstance(exc, AppError) and exc.code == ErrorCode.MIGRATION_LOCKED
    detail = (
        f"{exc.code}: {exc.message}"
        if isinstance(exc, AppError)
        else (f"{type(exc).__name__}: {exc}")
    )
    if result.failed_migration and not lost_lock:
        result.error = ReportError(
            ErrorCode.MIGRATION_FAILED,
            f"{result.target}: migration {result.failed_migration} failed: {detail}",
        )
    elif isinstance(exc, AppError):
        result.error = ReportError(exc.code, f"{result.target}: {exc.message}")
    else:
        result.error = ReportError(ErrorCode.MIGRATION_FAILED, f"{result.target}: {detail}")
    log.error("%s", result.error.message, exc_info=not isinstance(exc, AppError))


async def rollback_database(
    db: Database,
    scope: MigrationScope | str,
    *,
    actor: str,
    to: str | None = None,
    steps: int = 1,
    owner: str | None = None,
    dry_run: bool = False,
    label: str | None = None,
    registry: MigrationRegistry | None = None,
    lock_ttl: timedelta = DEFAULT_LOCK_TTL,
    on_progress: ProgressCallback | None = None,
) -> DatabaseResult:
    """Undo applied migrations of one database, newest first, under its lock.

    Args:
        db, scope, actor, owner, dry_run, label, registry, lock_ttl,
        on_progress: as for :func:`migrate_database`.
        to: keep migrations up to and including this id, undo the later ones.
        steps: when ``to`` is not given, how many of the last applied to undo.

    Returns:
        A :class:`DatabaseResult` (``rolled_back``, ``unchanged``, ``planned``
        or ``failed``). Before running anything, the whole plan is refused
        with MIGRATION_IRREVERSIBLE if one of its migrations has no ``down``,
        CHECKSUM_MISMATCH if one of them changed since it was applied, and
        MIGRATION_UNKNOWN if the ledger has ids the code does not know.
        MIGRATION_FAILED when a ``down`` raises (its ledger entry stays).
    """
    scope = MigrationScope(scope)
    owner = owner or default_owner(actor)

    async def body(result: DatabaseResult) -> None:
        migrations = (registry or default_registry()).for_scope(scope)
        _check_target_id(migrations, to)
        if to is None and steps < 1:
            raise validation_error("steps", "steps must be at least 1")
        ledger = Ledger(db)
        if dry_run:
            await _plan_down(ledger, migrations, result, to, steps)
            return
        async with MigrationLock(db, owner, ttl=lock_ttl) as lock:
            for migration in await _plan_down(ledger, migrations, result, to, steps):
                duration_ms = await _run_step(db, migration, "down", lock, result, on_progress)
                await ledger.remove(migration.id)
                await _step_done(migration, "down", duration_ms, result, on_progress)
            remaining = await ledger.entries()
            result.version_after = max(remaining) if remaining else None
        result.outcome = Outcome.ROLLED_BACK if result.steps else Outcome.UNCHANGED

    return await _run_database(db, scope, label, dry_run, body, on_progress)


async def _plan_down(
    ledger: Ledger,
    migrations: Sequence[Migration],
    result: DatabaseResult,
    to: str | None,
    steps: int,
) -> list[Migration]:
    status = await _read_status(ledger, migrations, result)
    refuse_unknown(status)
    recorded = {m.id: m.state for m in status.migrations}
    applied = [m for m in migrations if recorded.get(m.id) != MigrationState.PENDING]
    undo = [m for m in applied if m.id > to] if to is not None else applied[-steps:]
    undo.reverse()
    drifted = [m.id for m in undo if recorded[m.id] == MigrationState.CHECKSUM_MISMATCH]
    if drifted:
        raise AppError(
            ErrorCode.CHECKSUM_MISMATCH,
            f"migration(s) {', '.join(drifted)} changed after they were applied; "
            "their down may not match what was done",
        )
    irreversible = [m.id for m in undo if m.down is None]
    if irreversible:
        raise AppError(
            ErrorCode.MIGRATION_IRREVERSIBLE,
            f"migration(s) {', '.join(irreversible)} cannot be undone (no down); "
            "nothing was rolled back",
        )
    result.planned = [m.id for m in undo]
    if result.dry_run:
        result.outcome = Outcome.PLANNED if undo else Outcome.UNCHANGED
    return undo


async def repair_checksums(
    db: Database,
    scope: MigrationScope | str,
    *,
    actor: str,
    ids: Sequence[str] | None = None,
    registry: MigrationRegistry | None = None,
) -> list[str]:
    """Accept the code's checksum for drifted migrations, after a person reviewed them.

    Use when a migration was edited in a harmless way (renamed variable,
    fixed docstring). Runs nothing; updates ledger entries, keeping the old
    checksum in ``previous_checksums``.

    Args:
        ids: which drifted migrations to accept; default all drifted ones.

    Returns:
        The ids whose checksum was updated.

    Raises:
        AppError(MIGRATION_LOCKED) when another runner holds the lock;
        AppError(VALIDATION_FAILED) when an id in ``ids`` is not drifted.
    """
    scope = MigrationScope(scope)
    migrations = (registry or default_registry()).for_scope(scope)
    async with MigrationLock(db, default_owner(actor)):
        ledger = Ledger(db)
        status = compute_status(
            migrations,
            await ledger.entries(),
            scope=scope,
            target=label_of(db, scope, None),
            database=db.name,
        )
        drifted = status.mismatched
        chosen = list(drifted if ids is None else ids)
        wrong = [i for i in chosen if i not in drifted]
        if wrong:
            raise validation_error("ids", f"not drifted: {', '.join(wrong)}")
        by_id = {m.id: m for m in migrations}
        return [i for i in chosen if await ledger.accept_checksum(i, by_id[i].checksum, actor)]


async def bring_to_latest(
    db: Database,
    scope: MigrationScope | str,
    actor: str,
    *,
    registry: MigrationRegistry | None = None,
) -> DatabaseResult:
    """Apply every migration of ``scope`` to a (new) database, with ledger entries.

    Provisioning calls this instead of creating the schema by hand, so a new
    tenant database is born at the latest version. Safe on an existing
    database too (applies only what is pending).

    Returns:
        The successful :class:`DatabaseResult`.

    Raises:
        AppError: the result's error code (MIGRATION_FAILED,
        MIGRATION_LOCKED, CHECKSUM_MISMATCH, MIGRATION_UNKNOWN) when it failed.
    """
    result = await migrate_database(db, scope, actor=actor, registry=registry)
    if not result.ok:
        error = result.error or ReportError(ErrorCode.MIGRATION_FAILED, "failed")
        raise AppError(error.code, error.message)
    return result
