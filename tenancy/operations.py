"""Operator operations on one tenant: move its database, drop an old one, delete the tenant.

All are safe by default:

- **move**: maintenance (API serves reads, refuses writes) -> wait for
  other processes' registry caches to see it -> copy (resumable) -> verify ->
  switch the tenant record to the new location in one conditional write ->
  leave maintenance. On any failure the tenant stays where it was,
  untouched, leaves maintenance, and the half-made target is reported, not
  deleted. The old database is kept and listed in ``previous_databases``.
- **drop old database**: only a database the tenant was moved away from,
  never the current one, and only after a verified backup export.
- **delete**: maintenance -> backup export (refuses to go on if it fails) ->
  the record is marked ``deleted`` (kept for audit; users deactivated,
  domains released) -> the database is dropped. A run that stopped after
  marking can be run again to finish.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenancy import service
from tenancy.copier import OperationResult, ProgressCallback, copy_database
from tenancy.dump import export_database
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import DatabaseLocation, PreviousDatabase, Tenant, TenantStatus, utcnow
from tenancy.naming import database_key, validate_database_name
from tenancy.platform import TENANTS, USERS
from tenancy.runtime import Platform


@dataclass
class Step:
    name: str
    status: str  # "ok", "failed", "skipped"
    detail: str = ""


@dataclass
class OperationReport:
    """What an operation did, step by step; ``data`` holds copy/backup results."""

    operation: str
    tenant: str
    steps: list[Step] = field(default_factory=list)
    data: dict[str, OperationResult] = field(default_factory=dict)

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
            **{key: value.to_dict() for key, value in self.data.items()},
        }


def backup_path(backup_dir: Path, tenant: Tenant, label: str) -> Path:
    """``<backup_dir>/<slug>-<label>-<UTC timestamp>``."""
    return backup_dir / f"{tenant.slug}-{label}-{utcnow():%Y%m%dT%H%M%SZ}"


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
) -> OperationReport:
    """Move a tenant's database to another database and/or cluster.

    Args:
        slug: the tenant.
        to_cluster: configured cluster name (default: the current one).
        to_database: target database name (default: the current name).
        batch_size: documents per copy batch.
        drain_seconds: wait after entering maintenance so that every server
            process's tenant cache (``tenant_cache_ttl_seconds``) sees it
            before the copy starts; default: that TTL.
        actor: who runs it (audit log).
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
    await service.enter_maintenance(
        platform, slug, f"moving to {target.cluster}/{target.name}", actor
    )
    report.step("enter maintenance", detail="API serves reads, refuses writes")
    try:
        wait = (
            platform.settings.tenant_cache_ttl_seconds if drain_seconds is None else drain_seconds
        )
        if wait > 0:
            await asyncio.sleep(wait)
        report.step("drain", detail=f"waited {wait:g} s for other processes' caches")
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
                f"{type(exc).__name__}: {exc}; the target {target.cluster}/{target.name} was "
                "kept as it is (run move again to resume it, or drop it)",
            )
            return report
        report.data["copy"] = result
        if not result.ok:
            failed = ", ".join(f"{c.name} ({c.error})" for c in result.failed)
            report.step(
                "copy and verify",
                "failed",
                f"{failed}; the partial target {target.cluster}/{target.name} was kept "
                "(run move again to resume it, or drop it)",
            )
            return report
        report.step("copy and verify", detail=f"{result.documents_written} documents")
        switched = await platform.store.db[TENANTS].update_one(
            {"_id": tenant.id, "database_key": tenant.database_key},
            {
                "$set": {
                    "database": target.model_dump(),
                    "database_key": target_key,
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
            return report
        platform.registry.invalidate(slug)
        report.step("switch record", detail=f"now on {target.cluster}/{target.name}")
        report.step("leave maintenance")
        await service.audit(
            platform,
            actor,
            "tenant.move",
            slug,
            {"from": source.model_dump(), "to": target.model_dump()},
        )
        return report
    finally:
        if not report.ok or not any(s.name == "switch record" for s in report.steps):
            await service.leave_maintenance(platform, slug, actor)
            report.step("rollback", detail=f"tenant stays on {source.cluster}/{source.name}")


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
        tenant's current one or not one it was moved away from.
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
) -> OperationReport:
    """Delete a tenant: backup, mark deleted (record kept for audit), drop its database.

    Raises:
        AppError: TENANT_NOT_FOUND, LOCKED (in maintenance by another operation).
    """
    report = OperationReport("delete", slug)
    tenant = await service.get_tenant(platform, slug)
    if tenant.status != TenantStatus.DELETED:
        await service.enter_maintenance(platform, slug, "being deleted", actor)
        report.step("enter maintenance")
        wait = (
            platform.settings.tenant_cache_ttl_seconds if drain_seconds is None else drain_seconds
        )
        if wait > 0:
            await asyncio.sleep(wait)
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
