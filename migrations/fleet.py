"""Migrations over the fleet: the platform database, then every tenant database.

:func:`migrate_all` and :func:`status_all` run the platform database first,
then the tenant databases (every tenant whose status is not ``deleted``, or
the selected slugs), at most ``concurrency`` at a time. Without
``continue_on_error`` the first failure stops new databases from starting
(running ones finish; the rest are reported ``skipped``). A failed platform
database always stops the run: tenant migrations may rely on it. Tenants in
maintenance are skipped (migrate them afterwards).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from migrations.base import MigrationScope
from migrations.database import migrate_database
from migrations.ledger import DEFAULT_LOCK_TTL, default_owner
from migrations.progress import ProgressCallback, ProgressEvent, ProgressKind, emit
from migrations.registry import MigrationRegistry
from migrations.reports import DatabaseResult, DatabaseStatus, Outcome, RunReport, StatusReport
from migrations.status import PLATFORM_LABEL, database_status
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import Tenant, TenantStatus
from tenancy.mongo_types import Database
from tenancy.reports import ReportError

if TYPE_CHECKING:
    from tenancy.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4


@dataclass(frozen=True)
class MigrationTarget:
    """One database a plan covers: the platform database or one tenant's.

    ``db`` is ``None`` (and ``error`` set) when the handle could not be made
    (cluster not configured); ``skip_reason`` is set for tenants in maintenance.
    """

    scope: MigrationScope
    label: str
    db: Database | None
    tenant: Tenant | None = None
    error: AppError | None = None
    skip_reason: str | None = None


def _tenant_target(runtime: Runtime, tenant: Tenant) -> MigrationTarget:
    skip = None
    if tenant.maintenance is not None:
        skip = f"tenant is in maintenance ({tenant.maintenance.reason}); migrate it afterwards"
    try:
        db = runtime.tenant_database(tenant)
    except AppError as exc:
        return MigrationTarget(MigrationScope.TENANT, tenant.slug, None, tenant, error=exc)
    return MigrationTarget(MigrationScope.TENANT, tenant.slug, db, tenant, skip_reason=skip)


async def resolve_targets(
    runtime: Runtime,
    *,
    tenants: Sequence[str] | None = None,
    include_platform: bool | None = None,
) -> list[MigrationTarget]:
    """The databases a plan covers: platform first, then tenants by slug.

    Args:
        runtime: the started runtime.
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
        targets.append(MigrationTarget(MigrationScope.PLATFORM, PLATFORM_LABEL, runtime.store.db))
    if tenants is None:
        records = await runtime.store.tenants_to_migrate()
    else:
        records = []
        for slug in dict.fromkeys(tenants):
            tenant = await runtime.store.tenant_by_slug(slug)
            if tenant is None or tenant.status == TenantStatus.DELETED:
                raise AppError(
                    ErrorCode.TENANT_NOT_FOUND,
                    f"tenant {slug!r} does not exist"
                    if tenant is None
                    else f"tenant {slug!r} is deleted",
                    ["tenant"],
                )
            records.append(tenant)
    targets.extend(_tenant_target(runtime, t) for t in records)
    return targets


def _check_concurrency(concurrency: int) -> None:
    if concurrency < 1:
        raise validation_error("concurrency", "concurrency must be at least 1")


async def status_all(
    runtime: Runtime,
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
        read has an ``error`` MIGRATION_FAILED (or the handle's error).

    Raises:
        AppError: TENANT_NOT_FOUND (selected slug), VALIDATION_FAILED (concurrency).
    """
    _check_concurrency(concurrency)
    targets = await resolve_targets(runtime, tenants=tenants, include_platform=include_platform)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(target: MigrationTarget) -> DatabaseStatus:
        async with semaphore:
            if target.db is None:
                assert target.error is not None
                return DatabaseStatus(
                    target.scope,
                    target.label,
                    None,
                    error=ReportError(target.error.code, target.error.message),
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
                    error=ReportError(
                        ErrorCode.MIGRATION_FAILED,
                        f"cannot read the ledger: {type(exc).__name__}: {exc}",
                    ),
                )
            status.note = target.skip_reason
            return status

    return StatusReport(list(await asyncio.gather(*(one(t) for t in targets))))


async def migrate_all(
    runtime: Runtime,
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
        runtime: the started runtime.
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
    targets = await resolve_targets(runtime, tenants=tenants, include_platform=include_platform)
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
        await emit(
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
        error=ReportError(code, f"{target.label}: {message}") if code else None,
        note=None if code else f"{target.label}: {message}",
    )
