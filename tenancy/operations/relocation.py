"""Move a tenant's database, or restore it from an export, with one switch of its record.

- **move**: maintenance (API serves reads, refuses writes) -> wait for
  other processes' registry caches to see it -> copy (resumable) -> verify ->
  switch the tenant record to the new location in one conditional write ->
  leave maintenance. On any failure the tenant stays where it was,
  untouched, leaves maintenance, and the half-made target is reported, not
  deleted. The old database is kept and listed in ``previous_databases``.
- **restore** (``tenantctl import``): the export is checked completely
  before anything changes (every document against the manifest's counts and
  content hashes, index definitions: ``check_dump``) ->
  maintenance -> wait for caches -> import into a fresh *staging* database on
  the tenant's cluster -> verify it (counts, content hashes, indexes) ->
  switch the tenant record to it in the same conditional write as a move.
  The old database is kept (``previous_databases``) until ``drop old
  database``. On any failure the tenant stays on its old database, untouched,
  and the staging database is kept and reported; running the restore again
  reuses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from tenancy import lifecycle
from tenancy.databases.batches import ProgressCallback
from tenancy.databases.copy import copy_database
from tenancy.databases.dump_format import check_dump
from tenancy.databases.specs import non_empty_collections
from tenancy.dump import holds_dump, import_database
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import DatabaseLocation, Tenant, utcnow
from tenancy.naming import tenant_database_name, validate_database_name
from tenancy.operations.maintenance import NoticeCallback, enter_maintenance
from tenancy.operations.report import OperationReport, where
from tenancy.reports import ReportError, Status
from tenancy.runtime import Runtime

#: Collection that marks a staging database as a restore's work in progress.
RESTORE_MARKER = "_restore_state"
#: Staging databases are named ``<prefix><slug>_r<n>``, n from 1 to this.
MAX_STAGING_DATABASES = 99


async def _switch_record(
    runtime: Runtime, tenant: Tenant, target: DatabaseLocation, report: OperationReport
) -> bool:
    """Point the tenant record at ``target`` and end maintenance in one
    conditional write (only if the record still names the database it named
    when the operation started); the old database joins ``previous_databases``."""
    source = tenant.database
    switched = await runtime.store.switch_database(tenant, target)
    if not switched:
        changed = "the tenant record changed meanwhile; nothing was switched"
        report.step("switch record", Status.FAILED, changed, ReportError(ErrorCode.LOCKED, changed))
        return False
    runtime.registry.invalidate(tenant.slug)
    report.step(
        "switch record",
        detail=f"now on {where(target)}; the old database {where(source)} is kept "
        "(tenants drop-old-database removes it after a backup)",
    )
    report.info.update(database=where(target), old_database=where(source))
    report.step("leave maintenance")
    return True


#: Fills a new location while the tenant is in maintenance; returns it, or
#: ``None`` after recording a failed step.
Fill = Callable[[], Awaitable[DatabaseLocation | None]]


async def _relocate(
    runtime: Runtime,
    tenant: Tenant,
    report: OperationReport,
    fill: Fill,
    *,
    reason: str,
    actor: str,
    drain_seconds: float | None,
    on_notice: NoticeCallback | None,
) -> bool:
    """The shared part of move and restore: maintenance -> wait for caches ->
    ``fill()`` -> switch the record. Unless the switch happened, the tenant
    leaves maintenance on its original database (also when ``fill`` raises).

    Returns:
        True when the tenant now lives in the location ``fill`` returned.
    """
    await enter_maintenance(runtime, tenant.slug, reason, actor, report, drain_seconds, on_notice)
    switched = False
    try:
        target = await fill()
        if target is not None:
            switched = await _switch_record(runtime, tenant, target, report)
        return switched
    finally:
        if not switched:
            await lifecycle.leave_maintenance(runtime, tenant.slug, actor)
            report.step("rollback", detail=f"tenant stays on {where(tenant.database)}")


async def move_tenant(
    runtime: Runtime,
    slug: str,
    *,
    to_cluster: str | None = None,
    to_database: str | None = None,
    batch_size: int = 1000,
    drain_seconds: float | None = None,
    actor: str,
    on_progress: ProgressCallback | None = None,
    on_notice: NoticeCallback | None = None,
) -> OperationReport:
    """Move a tenant's database to another database and/or cluster.

    Args:
        slug: the tenant.
        to_cluster: configured cluster name (default: the current one).
        to_database: target database name (default: the current name).
        batch_size: documents per copy batch.
        drain_seconds: wait after entering maintenance so that every server
            process's tenant cache sees it before the copy starts; default:
            ``tenant_cache_ttl_seconds`` when other servers are running, else 0.
        actor: who runs it (audit log).
        on_progress: ``(label, done, total)`` of the copy.
        on_notice: told what the operation waits for, before it waits.
    Returns:
        The report; ``ok`` False when the copy or verification failed (the
        tenant is back on its original database and out of maintenance).
    Raises:
        AppError: TENANT_NOT_FOUND, VALIDATION_FAILED (same location, bad
        name), ALREADY_EXISTS (target used by another tenant), NOT_FOUND
        (unknown cluster), LOCKED (tenant already in maintenance).
    """
    report = OperationReport("move", slug)
    tenant = await lifecycle.get_tenant(runtime, slug)
    source = tenant.database
    target = DatabaseLocation(
        cluster=to_cluster or source.cluster,
        name=validate_database_name(to_database or source.name),
    )
    if (target.cluster, target.name) == (source.cluster, source.name):
        raise validation_error("to", "the target is the tenant's current database")
    holder = await runtime.store.tenant_by_database(target)
    if holder is not None:
        raise AppError(
            ErrorCode.ALREADY_EXISTS,
            f"{target.cluster}/{target.name} belongs to tenant {holder.slug!r}",
        )
    target_db = runtime.clients.database(target)  # raises NOT_FOUND for an unknown cluster

    async def fill() -> DatabaseLocation | None:
        try:
            result = await copy_database(
                runtime.tenant_database(tenant),
                target_db,
                batch_size=batch_size,
                on_progress=on_progress,
            )
        except Exception as exc:  # any driver or refusal error: report it, roll back
            error = ReportError.from_exception(exc, ErrorCode.DATABASE_UNAVAILABLE)
            report.step(
                "copy and verify",
                Status.FAILED,
                f"{error.message}; the target {where(target)} was "
                "kept as it is (run move again to resume it, or drop it)",
                error,
            )
            return None
        report.data["copy"] = result
        if not result.ok:
            report.step(
                "copy and verify",
                Status.FAILED,
                f"{result.failure_summary()}; the partial target {where(target)} was kept "
                "(run move again to resume it, or drop it)",
                result.error or ReportError(ErrorCode.VERIFICATION_FAILED, "the copy stopped"),
            )
            return None
        report.step("copy and verify", detail=f"{result.written} documents")
        return target

    moved = await _relocate(
        runtime,
        tenant,
        report,
        fill,
        reason=f"moving to {where(target)}",
        actor=actor,
        drain_seconds=drain_seconds,
        on_notice=on_notice,
    )
    if moved:
        await lifecycle.audit(
            runtime,
            actor,
            "tenant.move",
            slug,
            {"from": source.model_dump(), "to": target.model_dump()},
        )
    return report


async def _database_in_use(runtime: Runtime, location: DatabaseLocation) -> bool:
    """True when a tenant record names ``location`` as its database or a previous one."""
    held = await runtime.store.tenant_by_database(location, include_previous=True)
    return held is not None


async def staging_database(runtime: Runtime, tenant: Tenant) -> tuple[DatabaseLocation, bool]:
    """Choose the database a restore of ``tenant`` imports into.

    Candidates, on the tenant's cluster: ``<prefix><slug>_r1`` ... ``_r99``
    (at most 54 bytes, within MongoDB's 63; lowercase, so no case collision).
    The first one that no tenant record names (as current or previous
    database) and that is either absent (no collections) or the leftover of
    an earlier failed restore of this tenant (it holds this tenant's
    ``_restore_state`` marker; it is dropped) is chosen. Call it while the
    tenant is in maintenance, so two restores of one tenant cannot race.

    Returns:
        (location, reused): ``reused`` is True when a leftover was dropped.
    Raises:
        AppError(ALREADY_EXISTS): every candidate is taken.
    """
    cluster = tenant.database.cluster
    base = tenant_database_name(tenant.slug, runtime.settings.tenant_db_prefix)
    for n in range(1, MAX_STAGING_DATABASES + 1):
        location = DatabaseLocation(cluster=cluster, name=validate_database_name(f"{base}_r{n}"))
        if await _database_in_use(runtime, location):
            continue
        db = runtime.clients.database(location)
        names = await db.list_collection_names()
        if not names:
            return location, False
        marker = await db[RESTORE_MARKER].find_one({"_id": "restore"})
        if marker is not None and marker.get("tenant_id") == tenant.id:
            await runtime.clients.client(cluster).drop_database(location.name)
            return location, True
    raise AppError(
        ErrorCode.ALREADY_EXISTS,
        f"no free staging database name on cluster {cluster} ({base}_r1 to "
        f"{base}_r{MAX_STAGING_DATABASES} are taken); remove old databases of tenant "
        f"{tenant.slug!r} with `tenantctl tenants drop-old-database`",
    )


async def restore_tenant(
    runtime: Runtime,
    slug: str,
    directory: Path,
    *,
    overwrite: bool = False,
    batch_size: int = 1000,
    drain_seconds: float | None = None,
    actor: str,
    on_progress: ProgressCallback | None = None,
    on_notice: NoticeCallback | None = None,
) -> OperationReport:
    """Replace a tenant's data with an export, verified before the switch.

    Nothing changes until the export has checked out completely (manifest,
    files, every document's count and content hash, index definitions).
    Then, in maintenance, the export is imported into a staging database
    (:func:`staging_database`), verified (counts, content hashes, indexes per
    collection), and the tenant record is switched to it in one conditional
    write (as a move). The tenant's database afterwards holds exactly the
    export's collections; the old database is kept and reported
    (``info["old_database"]``). The import checks the export once more
    before writing into the staging database (the files may have changed
    during the wait for caches), and verifies what it wrote.

    Args:
        slug: the tenant.
        directory: an export made by ``tenantctl export`` (tenancy.dump format).
        overwrite: allow replacing a database that holds documents. Without
            it, a tenant database holding documents is refused.
        batch_size: documents per write batch.
        drain_seconds: as for :func:`move_tenant`.
        actor: who runs it (audit log).
        on_progress: ``("check:<name>" | name | "verify:<name>", done, total)``.
        on_notice: told what the operation waits for, before it waits.
    Returns:
        The report; ``ok`` False when the import or its verification failed:
        the tenant is then on its old database, out of maintenance, and the
        staging database is kept (``info["staging_database"]``); running the
        restore again reuses it.
    Raises:
        AppError: TENANT_NOT_FOUND; NOT_FOUND (no such directory);
        MANIFEST_INVALID (the export does not check out); TARGET_NOT_EMPTY
        (holds documents, no ``overwrite``); LOCKED (in maintenance);
        INVALID_TRANSITION (deleted tenant). Nothing was changed then.
    """
    report = OperationReport("restore", slug)
    tenant = await lifecycle.get_tenant(runtime, slug)
    root = Path(directory).absolute()
    manifest = check_dump(root, batch_size=batch_size, on_progress=on_progress)
    entries = manifest["collections"]
    documents = sum(e["count"] for e in entries if e.get("type", "collection") != "view")
    report.step(
        "check export",
        detail=f"{len(entries)} collections, {documents} documents match the manifest",
    )
    current = runtime.tenant_database(tenant)

    async def refuse_if_occupied() -> None:
        occupied = await non_empty_collections(current)
        if occupied and not overwrite:
            raise AppError(
                ErrorCode.TARGET_NOT_EMPTY,
                f"the database of tenant {slug!r} ({where(tenant.database)}) is not empty "
                f"({', '.join(occupied)} hold documents); pass --overwrite to replace it "
                "(the current database is kept)",
            )

    if await holds_dump(manifest, current, ignore=[RESTORE_MARKER], batch_size=batch_size):
        await current.drop_collection(RESTORE_MARKER)  # left if a run died after the switch
        report.step(
            "already restored",
            detail=f"{where(tenant.database)} holds exactly this export; nothing to do",
        )
        return report
    await refuse_if_occupied()
    chosen: list[DatabaseLocation] = []

    async def fill() -> DatabaseLocation | None:
        try:
            await refuse_if_occupied()  # again, now that writes are refused
            staging, reused = await staging_database(runtime, tenant)
        except AppError as exc:
            report.step(
                "staging database", Status.FAILED, exc.message, ReportError(exc.code, exc.message)
            )
            return None
        chosen.append(staging)
        report.info["staging_database"] = where(staging)
        report.step(
            "staging database",
            detail=where(staging)
            + (" (the leftover of an earlier failed restore, emptied)" if reused else ""),
        )
        staging_db = runtime.clients.database(staging)
        try:
            await staging_db[RESTORE_MARKER].insert_one(
                {"_id": "restore", "tenant_id": tenant.id, "dump": str(root), "since": utcnow()}
            )
            result = await import_database(
                root, staging_db, overwrite=True, batch_size=batch_size, on_progress=on_progress
            )
        except Exception as exc:  # any driver, disk or refusal error: report it, roll back
            error = ReportError.from_exception(exc, ErrorCode.DATABASE_UNAVAILABLE)
            report.step(
                "import and verify",
                Status.FAILED,
                f"{error.message}; the staging database {where(staging)} was kept "
                "(run the restore again to reuse it)",
                error,
            )
            return None
        report.data["import"] = result
        if not result.ok:
            report.step(
                "import and verify",
                Status.FAILED,
                f"{result.failure_summary()}; the staging database {where(staging)} was kept "
                "(run the restore again to reuse it)",
                result.error or ReportError(ErrorCode.VERIFICATION_FAILED, "the import stopped"),
            )
            return None
        report.step(
            "import and verify",
            detail=f"{result.written} documents; counts, content hashes and "
            "indexes match the export",
        )
        return staging

    restored = await _relocate(
        runtime,
        tenant,
        report,
        fill,
        reason=f"restoring from {root}",
        actor=actor,
        drain_seconds=drain_seconds,
        on_notice=on_notice,
    )
    if restored:
        await runtime.clients.database(chosen[0]).drop_collection(RESTORE_MARKER)
        await lifecycle.audit(
            runtime,
            actor,
            "tenant.restore",
            slug,
            {
                "from": tenant.database.model_dump(),
                "to": chosen[0].model_dump(),
                "dump": str(root),
                "overwrite": overwrite,
            },
        )
    return report
