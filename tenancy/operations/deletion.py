"""Drop a tenant's old database, or delete a tenant; a verified backup export first.

- **drop old database**: only a database the tenant was moved away from,
  never the current one, and only after a backup export.
- **delete**: maintenance -> wait for caches -> backup export (refuses to go
  on if it fails) -> the record is marked ``deleted`` (kept for audit; users
  deactivated, domains released) -> the database is dropped. A run that
  stopped after marking can be run again to finish.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tenancy import lifecycle
from tenancy.databases.batches import ProgressCallback
from tenancy.dump import export_database
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import DatabaseLocation, Tenant, TenantStatus, utcnow
from tenancy.naming import database_key
from tenancy.operations.maintenance import NoticeCallback, enter_maintenance
from tenancy.operations.report import OperationReport
from tenancy.reports import ReportError, Status
from tenancy.runtime import Runtime


def backup_path(backup_dir: Path, tenant: Tenant, label: str) -> Path:
    """``<backup_dir>/<slug>-<label>-<UTC timestamp>``."""
    return backup_dir / f"{tenant.slug}-{label}-{utcnow():%Y%m%dT%H%M%SZ}"


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
    runtime: Runtime,
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
            runtime.clients.database(location), path, on_progress=on_progress
        )
    except Exception as exc:  # any failure: nothing is dropped without a backup
        message = f"{path}: {type(exc).__name__}: {exc}"
        report.step("backup", Status.FAILED, message, ReportError(ErrorCode.BACKUP_FAILED, message))
        return False
    report.data["backup"] = result
    if not result.ok:
        message = f"{path}: export incomplete ({result.failure_summary()})"
        report.step("backup", Status.FAILED, message, ReportError(ErrorCode.BACKUP_FAILED, message))
        return False
    report.step("backup", detail=f"{result.written} documents in {path}")
    return True


async def drop_old_database(
    runtime: Runtime,
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
    tenant = await lifecycle.get_tenant(runtime, slug)
    location = DatabaseLocation(cluster=cluster, name=name)
    if database_key(cluster, name) == tenant.database_key:
        raise validation_error("database", "this is the tenant's current database")
    if not any((p.cluster, p.name) == (cluster, name) for p in tenant.previous_databases):
        raise validation_error(
            "database", f"{cluster}/{name} is not a database tenant {slug!r} was moved away from"
        )
    if await runtime.store.tenant_by_database(location) is not None:
        raise validation_error("database", "another tenant uses this database")
    check_backup_dir(backup_dir)
    if not await _backup(runtime, tenant, location, backup_dir, "old", report, on_progress):
        return report
    await runtime.clients.client(cluster).drop_database(name)
    await runtime.store.forget_previous_database(tenant.id, location)
    report.step("drop", detail=f"{cluster}/{name} dropped")
    await lifecycle.audit(runtime, actor, "tenant.drop_old_database", slug, location.model_dump())
    return report


async def delete_tenant(
    runtime: Runtime,
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
    tenant = await lifecycle.get_tenant(runtime, slug)
    if tenant.status != TenantStatus.DELETED:
        check_backup_dir(backup_dir)
        await enter_maintenance(
            runtime, slug, "being deleted", actor, report, drain_seconds, on_notice
        )
        if not await _backup(
            runtime, tenant, tenant.database, backup_dir, "deleted", report, on_progress
        ):
            await lifecycle.leave_maintenance(runtime, slug, actor)
            report.step("stopped", Status.SKIPPED, "nothing was deleted because the backup failed")
            return report
        await runtime.store.update_tenant(
            tenant.id,
            {
                "status": TenantStatus.DELETED.value,
                "status_reason": "deleted by an operator",
                "deleted_at": utcnow(),
                "maintenance": None,
                "domains": [],
            },
        )
        await runtime.store.release_domains(slug, tenant.domains)
        await runtime.store.deactivate_tenant_users(tenant.id)
        runtime.registry.invalidate(slug)
        report.step(
            "mark deleted", detail="record kept for audit; users deactivated, domains released"
        )
    else:
        report.step("mark deleted", Status.SKIPPED, "already deleted; finishing the drop")
    await runtime.clients.client(tenant.database.cluster).drop_database(tenant.database.name)
    report.step("drop database", detail=f"{tenant.database.cluster}/{tenant.database.name}")
    await lifecycle.audit(
        runtime, actor, "tenant.delete", slug, {"database": tenant.database.model_dump()}
    )
    return report
