"""``tenantctl export``, ``import`` and ``copy``: whole databases."""

from __future__ import annotations

from pathlib import Path

import typer

from scripts.commands.common import (
    ACTOR,
    BatchOption,
    DrainOption,
    JsonOption,
    finish,
    run_with_progress,
)
from scripts.output import ProgressReporter, print_notice
from scripts.runtime import describe_os_error
from tenancy import lifecycle
from tenancy.databases.copy import copy_database
from tenancy.databases.results import OperationResult
from tenancy.dump import export_database
from tenancy.errors import AppError, ErrorCode
from tenancy.models import DatabaseLocation
from tenancy.mongo_types import Database
from tenancy.operations import restore_tenant
from tenancy.runtime import Runtime


def register(app: typer.Typer) -> None:
    """Add ``export``, ``import`` and ``copy`` to ``app``."""
    app.command("export")(export_cmd)
    app.command("import")(import_cmd)
    app.command("copy")(copy_cmd)


async def _tenant_db(runtime: Runtime, slug: str) -> Database:
    return runtime.tenant_database(await lifecycle.get_tenant(runtime, slug))


def export_cmd(
    slug: str = typer.Argument(..., help="Tenant to export."),
    directory: Path = typer.Argument(..., help="Directory to create (refused if it exists)."),
    overwrite: bool = typer.Option(False, help="Replace an existing export directory."),
    batch_size: int = BatchOption,
    as_json: bool = JsonOption,
) -> None:
    """Export a tenant database: one mongoexport-compatible JSON Lines file per
    collection, index definitions and a manifest with counts and checksums.

    Example: tenantctl export west-nipt backups/west-nipt-2026-11-21
    """

    async def action(runtime: Runtime, bar: ProgressReporter) -> OperationResult:
        db = await _tenant_db(runtime, slug)
        try:
            return await export_database(
                db, directory, overwrite=overwrite, batch_size=batch_size, on_progress=bar
            )
        except OSError as exc:  # the partial export was removed
            raise AppError(
                ErrorCode.BACKUP_FAILED,
                f"export to {directory} failed, nothing was written: {describe_os_error(exc)}",
            ) from exc

    finish(run_with_progress(action, as_json), as_json)


def import_cmd(
    directory: Path = typer.Argument(..., help="An export directory (with manifest.json)."),
    slug: str = typer.Argument(..., help="Tenant whose data is replaced by the export."),
    overwrite: bool = typer.Option(
        False, help="Allow replacing a tenant database that holds documents."
    ),
    batch_size: int = BatchOption,
    drain_seconds: float | None = DrainOption,
    as_json: bool = JsonOption,
) -> None:
    """Restore a tenant from an export. Every document is checked against the
    manifest (counts, content hashes, index definitions) before anything
    changes; a tampered export is refused. The export is then imported into
    a new staging database, verified, and the tenant switched to it in one
    write (in maintenance, as `tenants move`). The old database is kept and
    reported (`tenants drop-old-database` removes it after a backup); a
    failed restore leaves the tenant as it was. A tenant database holding
    documents is refused unless --overwrite.

    Example: tenantctl import backups/west-nipt-2026-11-21 west-nipt --overwrite
    """
    report = run_with_progress(
        lambda p, bar: restore_tenant(
            p,
            slug,
            directory,
            overwrite=overwrite,
            batch_size=batch_size,
            drain_seconds=drain_seconds,
            actor=ACTOR,
            on_progress=bar,
            on_notice=print_notice,
        ),
        as_json,
    )
    finish(report, as_json)


def copy_cmd(
    source: str = typer.Argument(
        ..., help="Source database name (or a tenant slug with --tenant)."
    ),
    target: str = typer.Argument(..., help="Target database name."),
    tenant: bool = typer.Option(False, "--tenant", help="SOURCE is a tenant slug."),
    from_cluster: str = typer.Option("default", help="Cluster of the source (settings name)."),
    to_cluster: str = typer.Option("default", help="Cluster of the target (settings name)."),
    to_url: str | None = typer.Option(None, help="MongoDB URL of another cluster for the target."),
    batch_size: int = BatchOption,
    overwrite: bool = typer.Option(
        False, help="Allow a non-empty target (copied collections replaced)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would be copied; write nothing."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Copy a database to another database, on the same or another cluster, in
    batches with bounded memory: indexes with all options, collection options,
    verification by count and order-independent content hash. Resumable: run the
    same command again after an interruption. The tenant record is not changed
    (use `move` for that).

    Example: tenantctl copy west-nipt t_west-nipt_copy --tenant --to-url mongodb://eu-2:27017
    """

    async def action(runtime: Runtime, bar: ProgressReporter) -> OperationResult:
        cluster = to_cluster
        if to_url is not None:
            cluster = "cli-target"
            runtime.clients.add_cluster(cluster, to_url)
        if tenant:
            source_db = await _tenant_db(runtime, source)
        else:
            source_db = runtime.clients.database(
                DatabaseLocation(cluster=from_cluster, name=source)
            )
        target_db = runtime.clients.database(DatabaseLocation(cluster=cluster, name=target))
        return await copy_database(
            source_db,
            target_db,
            batch_size=batch_size,
            overwrite=overwrite,
            dry_run=dry_run,
            on_progress=bar,
        )

    finish(run_with_progress(action, as_json), as_json)
