"""Status, up and down for one database, and plans over the platform and every tenant.

One database:

- :func:`database_status` reads the ledger and compares it with the code.
- :func:`migrate_database` takes the database's lock, then applies the
  pending migrations in id order, recording each in the ledger as soon as it
  succeeds. Stops at the first failure. Refuses a database with checksum
  drift or with ledger entries this code does not know.
- :func:`rollback_database` runs ``down`` of the last applied migrations.
- :func:`bring_to_latest` is what provisioning calls on a new database.

Many databases (:func:`migrate_all`, :func:`status_all`): the platform
database first, then the tenant databases (every tenant whose status is not
``deleted``, or the selected slugs), at most ``concurrency`` at a time.
Without ``continue_on_error`` the first failure stops new databases from
starting (running ones finish; the rest are reported ``skipped``). A failed
platform database always stops the run: tenant migrations may rely on it.

Nothing here raises for a failing database: failures are results, with an
:class:`~tenancy.errors.ErrorCode`, so a CLI can print a table or JSON and
pick an exit status from :attr:`RunReport.ok`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from migrations.base import Migration, MigrationScope
from migrations.ledger import (
    DEFAULT_LOCK_TTL,
    Ledger,
    LedgerEntry,
    MigrationLock,
    default_owner,
)
from migrations.registry import MigrationRegistry, default_registry
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import Tenant, TenantStatus, utcnow
from tenancy.platform import TENANTS

if TYPE_CHECKING:
    from tenancy.runtime import Platform

log = logging.getLogger(__name__)

PLATFORM_LABEL = "platform"
DEFAULT_CONCURRENCY = 4


# -- results -----------------------------------------------------------------


class MigrationState(StrEnum):
    """Where one migration stands in one database."""

    APPLIED = "applied"
    PENDING = "pending"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    UNKNOWN = "unknown"  # in the ledger, not in this code (newer code applied it?)


class Outcome(StrEnum):
    """What a run did to one database."""

    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"
    UNCHANGED = "unchanged"
    PLANNED = "planned"  # dry run: ``planned`` lists what would run
    FAILED = "failed"
    SKIPPED = "skipped"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class MigrationStatus:
    """One migration in one database (a row of ``migrate status``)."""

    id: str
    description: str
    state: MigrationState
    checksum: str | None
    recorded_checksum: str | None = None
    applied_at: datetime | None = None
    by: str | None = None
    reversible: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601 strings)."""
        return {
            "id": self.id,
            "description": self.description,
            "state": str(self.state),
            "checksum": self.checksum,
            "recorded_checksum": self.recorded_checksum,
            "applied_at": _iso(self.applied_at),
            "by": self.by,
            "reversible": self.reversible,
        }


@dataclass
class DatabaseStatus:
    """The migration status of one database.

    ``current`` is the highest id recorded in its ledger (``None``: nothing
    applied); ``latest`` the highest id the code has. ``error_code`` is set
    when the status could not be read (unreachable cluster...).
    """

    scope: MigrationScope
    target: str
    database: str | None
    current: str | None = None
    latest: str | None = None
    migrations: list[MigrationStatus] = field(default_factory=list)
    locked_by: str | None = None
    note: str | None = None
    error_code: ErrorCode | None = None
    error: str | None = None

    def _ids(self, state: MigrationState) -> list[str]:
        return [m.id for m in self.migrations if m.state == state]

    @property
    def pending(self) -> list[str]:
        return self._ids(MigrationState.PENDING)

    @property
    def mismatched(self) -> list[str]:
        return self._ids(MigrationState.CHECKSUM_MISMATCH)

    @property
    def unknown(self) -> list[str]:
        return self._ids(MigrationState.UNKNOWN)

    @property
    def up_to_date(self) -> bool:
        """True when readable, nothing pending, no drift and nothing unknown."""
        return self.error_code is None and all(
            m.state == MigrationState.APPLIED for m in self.migrations
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; includes ``pending``/``mismatched``/``unknown`` id lists."""
        return {
            "scope": str(self.scope),
            "target": self.target,
            "database": self.database,
            "current": self.current,
            "latest": self.latest,
            "up_to_date": self.up_to_date,
            "pending": self.pending,
            "mismatched": self.mismatched,
            "unknown": self.unknown,
            "locked_by": self.locked_by,
            "note": self.note,
            "error_code": str(self.error_code) if self.error_code else None,
            "error": self.error,
            "migrations": [m.to_dict() for m in self.migrations],
        }


@dataclass
class StepResult:
    """One migration run (or planned, on a dry run) in one database."""

    id: str
    direction: Literal["up", "down"]
    duration_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "direction": self.direction, "duration_ms": self.duration_ms}


@dataclass
class DatabaseResult:
    """What ``up``/``down`` did to one database.

    ``steps`` are the migrations actually run; ``planned`` what was (or, on a
    dry run, would be) run. On failure ``error_code``/``error`` say why and
    ``failed_migration`` names the migration that raised, if one did.
    """

    scope: MigrationScope
    target: str
    database: str | None
    outcome: Outcome = Outcome.UNCHANGED
    dry_run: bool = False
    version_before: str | None = None
    version_after: str | None = None
    planned: list[str] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    failed_migration: str | None = None
    error_code: ErrorCode | None = None
    error: str | None = None
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        """False only for ``failed`` (``skipped`` is not a failure of this database)."""
        return self.outcome != Outcome.FAILED

    @property
    def applied(self) -> list[str]:
        """Ids run by this call (either direction)."""
        return [s.id for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "scope": str(self.scope),
            "target": self.target,
            "database": self.database,
            "outcome": str(self.outcome),
            "dry_run": self.dry_run,
            "version_before": self.version_before,
            "version_after": self.version_after,
            "planned": list(self.planned),
            "steps": [s.to_dict() for s in self.steps],
            "failed_migration": self.failed_migration,
            "error_code": str(self.error_code) if self.error_code else None,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


@dataclass
class RunReport:
    """The results of one ``migrate up`` over many databases, platform first."""

    action: Literal["up", "down"]
    dry_run: bool
    results: list[DatabaseResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no database failed (use for the CLI exit status)."""
        return all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        """Number of databases per outcome (every outcome present, zeros included)."""
        out = {str(o): 0 for o in Outcome}
        for r in self.results:
            out[str(r.outcome)] += 1
        return out

    def summary(self) -> str:
        """One line: ``3 databases: 1 applied, 2 unchanged, ...`` (non-zero outcomes only)."""
        parts = [f"{n} {name}" for name, n in self.counts().items() if n]
        return f"{len(self.results)} databases: " + (", ".join(parts) or "none")

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }


@dataclass
class StatusReport:
    """``migrate status`` over many databases, platform first."""

    databases: list[DatabaseStatus] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return all(d.up_to_date for d in self.databases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "up_to_date": self.up_to_date,
            "databases": [d.to_dict() for d in self.databases],
        }


class ProgressKind(StrEnum):
    """What a :class:`ProgressEvent` reports (listeners compare with these members)."""

    DATABASE_STARTED = "database_started"
    MIGRATION_STARTED = "migration_started"
    MIGRATION_FINISHED = "migration_finished"  # duration_ms set
    DATABASE_FINISHED = "database_finished"  # result set; also for databases not run


@dataclass(frozen=True)
class ProgressEvent:
    """Sent to ``on_progress`` as a run advances; ``kind`` is a :class:`ProgressKind`."""

    kind: ProgressKind
    scope: MigrationScope
    target: str
    migration_id: str | None = None
    direction: Literal["up", "down"] | None = None
    duration_ms: int | None = None
    result: DatabaseResult | None = None


ProgressCallback = Callable[[ProgressEvent], Any]
"""Sync or async; its exceptions are logged and ignored (printing must not break a run)."""


async def _emit(on_progress: ProgressCallback | None, event: ProgressEvent) -> None:
    if on_progress is None:
        return
    try:
        outcome = on_progress(event)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        log.exception("migration progress callback failed (ignored)")


# -- one database ----------------------------------------------------------------


def _compute_status(
    migrations: Sequence[Migration],
    entries: dict[str, LedgerEntry],
    *,
    scope: MigrationScope,
    target: str,
    database: str | None,
) -> DatabaseStatus:
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


def _refuse_drift(status: DatabaseStatus) -> None:
    """Raise CHECKSUM_MISMATCH or MIGRATION_UNKNOWN for a database that must not be migrated."""
    if status.mismatched:
        raise AppError(
            ErrorCode.CHECKSUM_MISMATCH,
            f"migration(s) {', '.join(status.mismatched)} changed after they were applied; "
            "restore their code, or review the change and accept it (repair_checksums)",
        )
    _refuse_unknown(status)


def _refuse_unknown(status: DatabaseStatus) -> None:
    if status.unknown:
        raise AppError(
            ErrorCode.MIGRATION_UNKNOWN,
            f"the ledger has migration(s) {', '.join(status.unknown)} that this code does not "
            "know; run a newer version of the code",
        )


def _label(db: AsyncDatabase, scope: MigrationScope, label: str | None) -> str:
    if label:
        return label
    return PLATFORM_LABEL if scope == MigrationScope.PLATFORM else db.name


def _check_target_id(migrations: Sequence[Migration], migration_id: str | None) -> None:
    if migration_id is not None and migration_id not in {m.id for m in migrations}:
        raise validation_error("to", f"there is no migration {migration_id!r} in this scope")


async def database_status(
    db: AsyncDatabase,
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
        them into ``error_code``).
    """
    scope = MigrationScope(scope)
    migrations = (registry or default_registry()).for_scope(scope)
    entries = await Ledger(db).entries()
    status = _compute_status(
        migrations, entries, scope=scope, target=_label(db, scope, label), database=db.name
    )
    holder = await MigrationLock(db, "status-reader").holder()
    status.locked_by = holder.owner if holder else None
    return status


async def migrate_database(
    db: AsyncDatabase,
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
        database. ``error_code``: MIGRATION_LOCKED (another runner holds the
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
    db: AsyncDatabase,
    scope: MigrationScope,
    label: str | None,
    dry_run: bool,
    body: Callable[[DatabaseResult], Any],
    on_progress: ProgressCallback | None,
) -> DatabaseResult:
    """Run ``body`` for one database: progress events, timing, failures as results."""
    target = _label(db, scope, label)
    result = DatabaseResult(scope=scope, target=target, database=db.name, dry_run=dry_run)
    started = time.perf_counter()
    await _emit(on_progress, ProgressEvent(ProgressKind.DATABASE_STARTED, scope, target))
    try:
        await body(result)
    except Exception as exc:
        _fail(result, exc)
    result.duration_ms = round((time.perf_counter() - started) * 1000)
    await _emit(
        on_progress, ProgressEvent(ProgressKind.DATABASE_FINISHED, scope, target, result=result)
    )
    return result


async def _run_step(
    db: AsyncDatabase,
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
    await _emit(
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
    await _emit(
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
    status = _compute_status(
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
    _refuse_drift(status)
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
        result.error_code = ErrorCode.MIGRATION_FAILED
        result.error = f"{result.target}: migration {result.failed_migration} failed: {detail}"
    elif isinstance(exc, AppError):
        result.error_code = exc.code
        result.error = f"{result.target}: {exc.message}"
    else:
        result.error_code = ErrorCode.MIGRATION_FAILED
        result.error = f"{result.target}: {detail}"
    log.error("%s", result.error, exc_info=not isinstance(exc, AppError))


async def rollback_database(
    db: AsyncDatabase,
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
    _refuse_unknown(status)
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
    db: AsyncDatabase,
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
        status = _compute_status(
            migrations,
            await ledger.entries(),
            scope=scope,
            target=_label(db, scope, None),
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
    db: AsyncDatabase,
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
        AppError: the result's ``error_code`` (MIGRATION_FAILED,
        MIGRATION_LOCKED, CHECKSUM_MISMATCH, MIGRATION_UNKNOWN) when it failed.
    """
    result = await migrate_database(db, scope, actor=actor, registry=registry)
    if not result.ok:
        raise AppError(result.error_code or ErrorCode.MIGRATION_FAILED, result.error or "failed")
    return result


# -- many databases ----------------------------------------------------------


@dataclass(frozen=True)
class MigrationTarget:
    """One database a plan covers: the platform database or one tenant's.

    ``db`` is ``None`` (and ``error`` set) when the handle could not be made
    (cluster not configured); ``skip_reason`` is set for tenants in maintenance.
    """

    scope: MigrationScope
    label: str
    db: AsyncDatabase | None
    tenant: Tenant | None = None
    error: AppError | None = None
    skip_reason: str | None = None


def _tenant_target(platform: Platform, tenant: Tenant) -> MigrationTarget:
    skip = None
    if tenant.maintenance is not None:
        skip = f"tenant is in maintenance ({tenant.maintenance.reason}); migrate it afterwards"
    try:
        db = platform.tenant_database(tenant)
    except AppError as exc:
        return MigrationTarget(MigrationScope.TENANT, tenant.slug, None, tenant, error=exc)
    return MigrationTarget(MigrationScope.TENANT, tenant.slug, db, tenant, skip_reason=skip)


async def resolve_targets(
    platform: Platform,
    *,
    tenants: Sequence[str] | None = None,
    include_platform: bool | None = None,
) -> list[MigrationTarget]:
    """The databases a plan covers: platform first, then tenants by slug.

    Args:
        platform: the started platform runtime.
        tenants: slugs to select (``--tenant``); ``None`` means every tenant
            whose status is not ``deleted``.
        include_platform: default: only when ``tenants`` is ``None``.

    Returns:
        Targets in run order.

    Raises:
        AppError(TENANT_NOT_FOUND) for a selected slug that does not exist or
        is deleted (checked before anything runs).
    """
    if include_platform is None:
        include_platform = tenants is None
    targets: list[MigrationTarget] = []
    if include_platform:
        targets.append(MigrationTarget(MigrationScope.PLATFORM, PLATFORM_LABEL, platform.store.db))
    if tenants is None:
        cursor = (
            platform.store.db[TENANTS]
            .find({"status": {"$ne": TenantStatus.DELETED.value}})
            .sort("slug", ASCENDING)
        )
        records = [Tenant.model_validate(doc) async for doc in cursor]
    else:
        records = []
        for slug in dict.fromkeys(tenants):
            tenant = await platform.store.tenant_by_slug(slug)
            if tenant is None or tenant.status == TenantStatus.DELETED:
                raise AppError(
                    ErrorCode.TENANT_NOT_FOUND,
                    f"tenant {slug!r} does not exist"
                    if tenant is None
                    else f"tenant {slug!r} is deleted",
                    ["tenant"],
                )
            records.append(tenant)
    targets.extend(_tenant_target(platform, t) for t in records)
    return targets


def _check_concurrency(concurrency: int) -> None:
    if concurrency < 1:
        raise validation_error("concurrency", "concurrency must be at least 1")


async def status_all(
    platform: Platform,
    *,
    tenants: Sequence[str] | None = None,
    include_platform: bool | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    registry: MigrationRegistry | None = None,
) -> StatusReport:
    """``migrate status``: every database's current version, pending and drifted migrations.

    Args: as for :func:`migrate_all`.

    Returns:
        A :class:`StatusReport`, platform first; a database that cannot be
        read has ``error_code`` MIGRATION_FAILED (or the handle's error).

    Raises:
        AppError: TENANT_NOT_FOUND (selected slug), VALIDATION_FAILED (concurrency).
    """
    _check_concurrency(concurrency)
    targets = await resolve_targets(platform, tenants=tenants, include_platform=include_platform)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(target: MigrationTarget) -> DatabaseStatus:
        async with semaphore:
            if target.db is None:
                assert target.error is not None
                return DatabaseStatus(
                    target.scope,
                    target.label,
                    None,
                    error_code=target.error.code,
                    error=target.error.message,
                )
            try:
                status = await database_status(
                    target.db, target.scope, label=target.label, registry=registry
                )
            except Exception as exc:
                return DatabaseStatus(
                    target.scope,
                    target.label,
                    target.db.name,
                    error_code=ErrorCode.MIGRATION_FAILED,
                    error=f"cannot read the ledger: {type(exc).__name__}: {exc}",
                )
            status.note = target.skip_reason
            return status

    return StatusReport(list(await asyncio.gather(*(one(t) for t in targets))))


async def migrate_all(
    platform: Platform,
    *,
    actor: str,
    tenants: Sequence[str] | None = None,
    include_platform: bool | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    dry_run: bool = False,
    continue_on_error: bool = False,
    owner: str | None = None,
    registry: MigrationRegistry | None = None,
    lock_ttl: timedelta = DEFAULT_LOCK_TTL,
    on_progress: ProgressCallback | None = None,
) -> RunReport:
    """``migrate up``: the platform database, then tenant databases, ``concurrency`` at a time.

    Args:
        platform: the started platform runtime.
        actor: who runs it (ledger ``by``).
        tenants: slugs (``--tenant``); ``None``: every non-deleted tenant.
        include_platform: default: only when ``tenants`` is ``None``.
        concurrency: how many tenant databases migrate at once (>= 1).
        dry_run: write nothing; results say what would run. A dry run never
            stops early, so it shows every problem.
        continue_on_error: keep starting databases after one failed.
            Without it, the first failure stops new ones (``skipped``).
            A failed platform database always stops the run.
        owner: lock owner; default unique per call.
        registry: the migrations; defaults to this code base's.
        lock_ttl: lock lifetime between renewals.
        on_progress: called with :class:`ProgressEvent` s of every database.

    Returns:
        A :class:`RunReport`; ``ok`` is False when a database failed.
        Tenants in maintenance are ``skipped`` with TENANT_MAINTENANCE.

    Raises:
        AppError: TENANT_NOT_FOUND (selected slug), VALIDATION_FAILED (concurrency).
    """
    _check_concurrency(concurrency)
    targets = await resolve_targets(platform, tenants=tenants, include_platform=include_platform)
    owner = owner or default_owner(actor)
    report = RunReport(action="up", dry_run=dry_run)
    stop = asyncio.Event()

    async def run(target: MigrationTarget) -> DatabaseResult:
        if stop.is_set():
            result = _not_run(
                target, Outcome.SKIPPED, None, "not started: an earlier database failed"
            )
        elif target.db is None:
            assert target.error is not None
            result = _not_run(target, Outcome.FAILED, target.error.code, target.error.message)
        elif target.skip_reason:
            result = _not_run(
                target, Outcome.SKIPPED, ErrorCode.TENANT_MAINTENANCE, target.skip_reason
            )
        else:
            result = await migrate_database(
                target.db,
                target.scope,
                actor=actor,
                owner=owner,
                dry_run=dry_run,
                label=target.label,
                registry=registry,
                lock_ttl=lock_ttl,
                on_progress=on_progress,
            )
            if (
                not result.ok
                and not dry_run
                and (not continue_on_error or target.scope == MigrationScope.PLATFORM)
            ):
                stop.set()
            return result
        await _emit(
            on_progress,
            ProgressEvent(
                ProgressKind.DATABASE_FINISHED, target.scope, target.label, result=result
            ),
        )
        if result.outcome == Outcome.FAILED and not continue_on_error:
            stop.set()
        return result

    for target in (t for t in targets if t.scope == MigrationScope.PLATFORM):
        report.results.append(await run(target))
    semaphore = asyncio.Semaphore(concurrency)

    async def bounded(target: MigrationTarget) -> DatabaseResult:
        async with semaphore:
            return await run(target)

    tenant_targets = [t for t in targets if t.scope == MigrationScope.TENANT]
    report.results.extend(await asyncio.gather(*(bounded(t) for t in tenant_targets)))
    log.info("migrate up%s: %s", " (dry run)" if dry_run else "", report.summary())
    return report


def _not_run(
    target: MigrationTarget, outcome: Outcome, code: ErrorCode | None, message: str
) -> DatabaseResult:
    return DatabaseResult(
        scope=target.scope,
        target=target.label,
        database=target.db.name if target.db is not None else None,
        outcome=outcome,
        error_code=code,
        error=f"{target.label}: {message}",
    )
