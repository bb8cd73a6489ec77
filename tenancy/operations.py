"""Operator operations on one tenant: move its database, restore it from an
export, drop an old database, delete the tenant.

All are safe by default:

- **move**: maintenance (API serves reads, refuses writes) -> wait for
  other processes' registry caches to see it -> copy (resumable) -> verify ->
  switch the tenant record to the new location in one conditional write ->
  leave maintenance. On any failure the tenant stays where it was,
  untouched, leaves maintenance, and the half-made target is reported, not
  deleted. The old database is kept and listed in ``previous_databases``.
- **restore** (``tenantctl import``): the export is checked completely
  before anything changes (every document against the manifest's counts and
  content hashes, index definitions: :func:`tenancy.dump.check_dump`) ->
  maintenance -> wait for caches -> import into a fresh *staging* database on
  the tenant's cluster -> verify it (counts, content hashes, indexes) ->
  switch the tenant record to it in the same conditional write as a move.
  The old database is kept (``previous_databases``) until ``drop old
  database``. On any failure the tenant stays on its old database, untouched,
  and the staging database is kept and reported; running the restore again
  reuses it.
- **drop old database**: only a database the tenant was moved away from,
  never the current one, and only after a verified backup export.
- **delete**: maintenance -> backup export (refuses to go on if it fails) ->
  the record is marked ``deleted`` (kept for audit; users deactivated,
  domains released) -> the database is dropped. A run that stopped after
  marking can be run again to finish.

Waiting for caches: every API server process caches tenant records for
``tenant_cache_ttl_seconds``. After entering maintenance an operation waits
that long, but only when other running servers are registered in the
platform database (tenancy.heartbeat); it names them through ``on_notice``.
``drain_seconds`` sets the wait explicitly.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenancy import service
from tenancy.copier import OperationResult, ProgressCallback, copy_database, non_empty_collections
from tenancy.dump import check_dump, export_database, holds_dump, import_database
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import DatabaseLocation, PreviousDatabase, Tenant, TenantStatus, utcnow
from tenancy.naming import database_key, tenant_database_name, validate_database_name
from tenancy.platform import TENANTS, USERS, ServerInstance
from tenancy.runtime import Platform

log = logging.getLogger(__name__)

#: ``on_notice(message)``: what an operation is about to wait for, as it happens.
NoticeCallback = Callable[[str], None]

#: The wait for caches (tests replace it to observe waits without waiting).
_sleep = asyncio.sleep

#: Collection that marks a staging database as a restore's work in progress.
RESTORE_MARKER = "_restore_state"
#: Staging databases are named ``<prefix><slug>_r<n>``, n from 1 to this.
MAX_STAGING_DATABASES = 99


@dataclass
class Step:
    name: str
    status: str  # "ok", "failed", "skipped"
    detail: str = ""


@dataclass
class OperationReport:
    """What an operation did, step by step; ``data`` holds copy/import/backup
    results, ``info`` facts for machines (e.g. ``old_database``)."""

    operation: str
    tenant: str
    steps: list[Step] = field(default_factory=list)
    data: dict[str, OperationResult] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(step.status != "failed" for step in self.steps)

    def step(self, name: str, status: str = "ok", detail: str = "") -> None:
        self.steps.append(Step(name, status, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "tenant": self.tenant,
            "ok": self.ok,
            "steps": [vars(s) for s in self.steps],
            "info": dict(self.info),
            **{key: value.to_dict() for key, value in self.data.items()},
        }


def backup_path(backup_dir: Path, tenant: Tenant, label: str) -> Path:
    """``<backup_dir>/<slug>-<label>-<UTC timestamp>``."""
    return backup_dir / f"{tenant.slug}-{label}-{utcnow():%Y%m%dT%H%M%SZ}"


def _where(location: DatabaseLocation) -> str:
    return f"{location.cluster}/{location.name}"


def _describe_servers(servers: list[ServerInstance]) -> str:
    labels = ", ".join(s.label for s in servers[:5])
    more = f" and {len(servers) - 5} more" if len(servers) > 5 else ""
    noun = "server" if len(servers) == 1 else "servers"
    return f"{len(servers)} running {noun} ({labels}{more})"


async def _enter_maintenance(
    platform: Platform,
    slug: str,
    reason: str,
    actor: str,
    report: OperationReport,
    drain_seconds: float | None,
    on_notice: NoticeCallback | None,
) -> None:
    """Enter maintenance, then wait until other servers' caches have seen it.

    Waits ``drain_seconds`` when given; otherwise ``tenant_cache_ttl_seconds``
    when other server instances are running (none: no wait). The wait is
    announced through ``on_notice`` and recorded as a ``drain`` step. If the
    wait fails or is interrupted, maintenance is left again.

    Raises:
        AppError: as :func:`tenancy.service.enter_maintenance` (nothing changed).
    """
    await service.enter_maintenance(platform, slug, reason, actor)
    report.step("enter maintenance", detail="API serves reads, refuses writes")
    try:
        await _drain(platform, slug, report, drain_seconds, on_notice)
    except BaseException:
        await service.leave_maintenance(platform, slug, actor)
        report.step("rollback", detail="left maintenance; nothing else was changed")
        raise


async def _drain(
    platform: Platform,
    slug: str,
    report: OperationReport,
    drain_seconds: float | None,
    on_notice: NoticeCallback | None,
) -> None:
    if drain_seconds is not None:
        wait = drain_seconds
        message = (
            f"waiting {wait:g} s (as asked) for other processes to drop cached tenant {slug!r}"
        )
    else:
        wait = platform.settings.tenant_cache_ttl_seconds
        others = await platform.store.live_instances() if wait > 0 else []
        if not others:
            report.steps[-1].detail += "; no other server is running, so no wait for caches"
            return
        message = (
            f"waiting {wait:g} s for {_describe_servers(others)} to drop cached tenant {slug!r}"
        )
    if wait <= 0:
        return
    log.info(message)
    if on_notice:
        on_notice(message)
    await _sleep(wait)
    report.step("drain", detail=message.replace("waiting", "waited", 1))


async def _switch_record(
    platform: Platform, tenant: Tenant, target: DatabaseLocation, report: OperationReport
) -> bool:
    """Point the tenant record at ``target`` and end maintenance in one
    conditional write (only if the record still names the database it named
    when the operation started); the old database joins ``previous_databases``."""
    source = tenant.database
    switched = await platform.store.db[TENANTS].update_one(
        {"_id": tenant.id, "database_key": tenant.database_key},
        {
            "$set": {
                "database": target.model_dump(),
                "database_key": database_key(target.cluster, target.name),
                "maintenance": None,
                "updated_at": utcnow(),
            },
            "$push": {
                "previous_databases": PreviousDatabase(
                    cluster=source.cluster, name=source.name
                ).model_dump()
            },
            "$inc": {"version": 1},
        },
    )
    if switched.modified_count != 1:
        report.step("switch record", "failed", "the tenant record changed meanwhile")
        return False
    platform.registry.invalidate(tenant.slug)
    report.step(
        "switch record",
        detail=f"now on {_where(target)}; the old database {_where(source)} is kept "
        "(tenants drop-old-database removes it after a backup)",
    )
    report.info.update(database=_where(target), old_database=_where(source))
    report.step("leave maintenance")
    return True


#: Fills a new location while the tenant is in maintenance; returns it, or
#: ``None`` after recording a failed step.
Fill = Callable[[], Awaitable[DatabaseLocation | None]]


async def _relocate(
    platform: Platform,
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
    await _enter_maintenance(platform, tenant.slug, reason, actor, report, drain_seconds, on_notice)
    switched = False
    try:
        target = await fill()
        if target is not None:
            switched = await _switch_record(platform, tenant, target, report)
        return switched
    finally:
        if not switched:
            await service.leave_maintenance(platform, tenant.slug, actor)
            report.step("rollback", detail=f"tenant stays on {_where(tenant.database)}")


async def move_tenant(
    platform: Platform,
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
    tenant = await service.get_tenant(platform, slug)
    source = tenant.database
    target = DatabaseLocation(
        cluster=to_cluster or source.cluster,
        name=validate_database_name(to_database or source.name),
    )
    if (target.cluster, target.name) == (source.cluster, source.name):
        raise validation_error("to", "the target is the tenant's current database")
    target_key = database_key(target.cluster, target.name)
    holder = await platform.store.db[TENANTS].find_one({"database_key": target_key}, {"slug": 1})
    if holder is not None:
        raise AppError(
            ErrorCode.ALREADY_EXISTS,
            f"{target.cluster}/{target.name} belongs to tenant {holder['slug']!r}",
        )
    target_db = platform.clients.database(target)  # raises NOT_FOUND for an unknown cluster

    async def fill() -> DatabaseLocation | None:
        try:
            result = await copy_database(
                platform.tenant_database(tenant),
                target_db,
                batch_size=batch_size,
                on_progress=on_progress,
            )
        except Exception as exc:  # any driver or refusal error: report it, roll back
            report.step(
                "copy and verify",
                "failed",
                f"{type(exc).__name__}: {exc}; the target {_where(target)} was "
                "kept as it is (run move again to resume it, or drop it)",
            )
            return None
        report.data["copy"] = result
        if not result.ok:
            failed = ", ".join(f"{c.name} ({c.error})" for c in result.failed)
            report.step(
                "copy and verify",
                "failed",
                f"{failed}; the partial target {_where(target)} was kept "
                "(run move again to resume it, or drop it)",
            )
            return None
        report.step("copy and verify", detail=f"{result.documents_written} documents")
        return target

    moved = await _relocate(
        platform,
        tenant,
        report,
        fill,
        reason=f"moving to {_where(target)}",
        actor=actor,
        drain_seconds=drain_seconds,
        on_notice=on_notice,
    )
    if moved:
        await service.audit(
            platform,
            actor,
            "tenant.move",
            slug,
            {"from": source.model_dump(), "to": target.model_dump()},
        )
    return report


async def _database_in_use(platform: Platform, location: DatabaseLocation) -> bool:
    """True when a tenant record names ``location`` as its database or a previous one."""
    held = await platform.store.db[TENANTS].find_one(
        {
            "$or": [
                {"database_key": database_key(location.cluster, location.name)},
                {
                    "previous_databases": {
                        "$elemMatch": {"cluster": location.cluster, "name": location.name}
                    }
                },
            ]
        },
        {"_id": 1},
    )
    return held is not None


async def staging_database(platform: Platform, tenant: Tenant) -> tuple[DatabaseLocation, bool]:
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
    base = tenant_database_name(tenant.slug, platform.settings.tenant_db_prefix)
    for n in range(1, MAX_STAGING_DATABASES + 1):
        location = DatabaseLocation(cluster=cluster, name=validate_database_name(f"{base}_r{n}"))
        if await _database_in_use(platform, location):
            continue
        db = platform.clients.database(location)
        names = await db.list_collection_names()
        if not names:
            return location, False
        marker = await db[RESTORE_MARKER].find_one({"_id": "restore"})
        if marker is not None and marker.get("tenant_id") == tenant.id:
            await platform.clients.client(cluster).drop_database(location.name)
            return location, True
    raise AppError(
        ErrorCode.ALREADY_EXISTS,
        f"no free staging database name on cluster {cluster} ({base}_r1 to "
        f"{base}_r{MAX_STAGING_DATABASES} are taken); remove old databases of tenant "
        f"{tenant.slug!r} with `tenantctl tenants drop-old-database`",
    )


async def restore_tenant(
    platform: Platform,
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
    tenant = await service.get_tenant(platform, slug)
    root = Path(directory).absolute()
    manifest = check_dump(root, batch_size=batch_size, on_progress=on_progress)
    entries = manifest["collections"]
    documents = sum(e["count"] for e in entries if e.get("type", "collection") != "view")
    report.step(
        "check export",
        detail=f"{len(entries)} collections, {documents} documents match the manifest",
    )
    current = platform.tenant_database(tenant)

    async def refuse_if_occupied() -> None:
        occupied = await non_empty_collections(current)
        if occupied and not overwrite:
            raise AppError(
                ErrorCode.TARGET_NOT_EMPTY,
                f"the database of tenant {slug!r} ({_where(tenant.database)}) is not empty "
                f"({', '.join(occupied)} hold documents); pass --overwrite to replace it "
                "(the current database is kept)",
            )

    if await holds_dump(manifest, current, ignore=[RESTORE_MARKER], batch_size=batch_size):
        await current.drop_collection(RESTORE_MARKER)  # left if a run died after the switch
        report.step(
            "already restored",
            detail=f"{_where(tenant.database)} holds exactly this export; nothing to do",
        )
        return report
    await refuse_if_occupied()
    chosen: list[DatabaseLocation] = []

    async def fill() -> DatabaseLocation | None:
        try:
            await refuse_if_occupied()  # again, now that writes are refused
            staging, reused = await staging_database(platform, tenant)
        except AppError as exc:
            report.step("staging database", "failed", exc.message)
            return None
        chosen.append(staging)
        report.info["staging_database"] = _where(staging)
        report.step(
            "staging database",
            detail=_where(staging)
            + (" (the leftover of an earlier failed restore, emptied)" if reused else ""),
        )
        staging_db = platform.clients.database(staging)
        try:
            await staging_db[RESTORE_MARKER].insert_one(
                {"_id": "restore", "tenant_id": tenant.id, "dump": str(root), "since": utcnow()}
            )
            result = await import_database(
                root, staging_db, overwrite=True, batch_size=batch_size, on_progress=on_progress
            )
        except Exception as exc:  # any driver, disk or refusal error: report it, roll back
            reason = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
            report.step(
                "import and verify",
                "failed",
                f"{reason}; the staging database {_where(staging)} was kept "
                "(run the restore again to reuse it)",
            )
            return None
        report.data["import"] = result
        if not result.ok:
            failed = ", ".join(f"{c.name} ({c.error})" for c in result.failed)
            report.step(
                "import and verify",
                "failed",
                f"{failed}; the staging database {_where(staging)} was kept "
                "(run the restore again to reuse it)",
            )
            return None
        report.step(
            "import and verify",
            detail=f"{result.documents_written} documents; counts, content hashes and "
            "indexes match the export",
        )
        return staging

    restored = await _relocate(
        platform,
        tenant,
        report,
        fill,
        reason=f"restoring from {root}",
        actor=actor,
        drain_seconds=drain_seconds,
        on_notice=on_notice,
    )
    if restored:
        await platform.clients.database(chosen[0]).drop_collection(RESTORE_MARKER)
        await service.audit(
            platform,
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


def check_backup_dir(backup_dir: Path) -> None:
    """Create ``backup_dir`` if needed and prove it takes files (a probe file is
    created and removed), so an operation fails before it changes anything.

    Raises:
        AppError(BACKUP_FAILED) naming the directory and the system's reason.
    """
    try:
        backup_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=backup_dir, prefix=".probe-"):
            pass
    except OSError as exc:
        reason = (
            "it is not a directory"
            if backup_dir.exists() and not backup_dir.is_dir()
            else exc.strerror or str(exc)
        )
        raise AppError(
            ErrorCode.BACKUP_FAILED,
            f"backup directory {backup_dir} cannot be written ({reason}); nothing was changed",
        ) from exc


async def _backup(
    platform: Platform,
    tenant: Tenant,
    location: DatabaseLocation,
    backup_dir: Path,
    label: str,
    report: OperationReport,
    on_progress: ProgressCallback | None,
) -> bool:
    path = backup_path(backup_dir, tenant, label)
    try:
        result = await export_database(
            platform.clients.database(location), path, on_progress=on_progress
        )
    except Exception as exc:  # any failure: nothing is dropped without a backup
        report.step("backup", "failed", f"{path}: {type(exc).__name__}: {exc}")
        return False
    report.data["backup"] = result
    if not result.ok:
        report.step("backup", "failed", f"{path}: export incomplete")
        return False
    report.step("backup", detail=f"{result.documents_written} documents in {path}")
    return True


async def drop_old_database(
    platform: Platform,
    slug: str,
    *,
    cluster: str,
    name: str,
    backup_dir: Path,
    actor: str,
    on_progress: ProgressCallback | None = None,
) -> OperationReport:
    """Drop a database the tenant was moved away from, after backing it up.

    Raises:
        AppError: TENANT_NOT_FOUND; VALIDATION_FAILED when the database is the
        tenant's current one or not one it was moved away from; BACKUP_FAILED
        when ``backup_dir`` cannot be written (nothing dropped).
    """
    report = OperationReport("drop-old-database", slug)
    tenant = await service.get_tenant(platform, slug)
    location = DatabaseLocation(cluster=cluster, name=name)
    if database_key(cluster, name) == tenant.database_key:
        raise validation_error("database", "this is the tenant's current database")
    if not any((p.cluster, p.name) == (cluster, name) for p in tenant.previous_databases):
        raise validation_error(
            "database", f"{cluster}/{name} is not a database tenant {slug!r} was moved away from"
        )
    if await platform.store.db[TENANTS].count_documents(
        {"database_key": database_key(cluster, name)}
    ):
        raise validation_error("database", "another tenant uses this database")
    check_backup_dir(backup_dir)
    if not await _backup(platform, tenant, location, backup_dir, "old", report, on_progress):
        return report
    await platform.clients.client(cluster).drop_database(name)
    await platform.store.db[TENANTS].update_one(
        {"_id": tenant.id}, {"$pull": {"previous_databases": {"cluster": cluster, "name": name}}}
    )
    report.step("drop", detail=f"{cluster}/{name} dropped")
    await service.audit(platform, actor, "tenant.drop_old_database", slug, location.model_dump())
    return report


async def delete_tenant(
    platform: Platform,
    slug: str,
    *,
    backup_dir: Path,
    actor: str,
    drain_seconds: float | None = None,
    on_progress: ProgressCallback | None = None,
    on_notice: NoticeCallback | None = None,
) -> OperationReport:
    """Delete a tenant: backup, mark deleted (record kept for audit), drop its database.

    Args:
        slug: the tenant.
        backup_dir: where the backup export is written (checked first).
        actor: who runs it (audit log).
        drain_seconds: as for :func:`move_tenant`.
        on_progress: ``(label, done, total)`` of the backup export.
        on_notice: told what the operation waits for, before it waits.
    Raises:
        AppError: TENANT_NOT_FOUND, LOCKED (in maintenance by another
        operation), BACKUP_FAILED (``backup_dir`` cannot be written; nothing
        was changed).
    """
    report = OperationReport("delete", slug)
    tenant = await service.get_tenant(platform, slug)
    if tenant.status != TenantStatus.DELETED:
        check_backup_dir(backup_dir)
        await _enter_maintenance(
            platform, slug, "being deleted", actor, report, drain_seconds, on_notice
        )
        if not await _backup(
            platform, tenant, tenant.database, backup_dir, "deleted", report, on_progress
        ):
            await service.leave_maintenance(platform, slug, actor)
            report.step("stopped", "skipped", "nothing was deleted because the backup failed")
            return report
        await platform.store.update_tenant(
            tenant.id,
            {
                "status": TenantStatus.DELETED.value,
                "status_reason": "deleted by an operator",
                "deleted_at": utcnow(),
                "maintenance": None,
                "domains": [],
            },
        )
        await platform.store.release_domains(slug, tenant.domains)
        await platform.store.db[USERS].update_many(
            {"tenant_id": tenant.id}, {"$set": {"active": False}}
        )
        platform.registry.invalidate(slug)
        report.step(
            "mark deleted", detail="record kept for audit; users deactivated, domains released"
        )
    else:
        report.step("mark deleted", "skipped", "already deleted; finishing the drop")
    await platform.clients.client(tenant.database.cluster).drop_database(tenant.database.name)
    report.step("drop database", detail=f"{tenant.database.cluster}/{tenant.database.name}")
    await service.audit(
        platform, actor, "tenant.delete", slug, {"database": tenant.database.model_dump()}
    )
    return report
