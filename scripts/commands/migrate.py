"""``tenantctl migrate ...``: status and up over the platform and tenant databases."""

from __future__ import annotations

import typer

from migrations.fleet import migrate_all, status_all
from migrations.progress import ProgressEvent, ProgressKind
from scripts.commands.common import ACTOR, JsonOption, finish, run
from scripts.output import progress

migrate_app = typer.Typer(
    help="Versioned migrations of the platform and tenant databases.", no_args_is_help=True
)

TenantOption = typer.Option(
    None, "--tenant", "-t", help="Only this tenant (repeatable); default: platform and all tenants."
)


@migrate_app.command("status")
def migrate_status(
    tenant: list[str] | None = TenantOption,
    concurrency: int = typer.Option(4, min=1, max=64, help="Databases read at once."),
    as_json: bool = JsonOption,
) -> None:
    """Per database: current version, latest, pending, checksum drift, lock holder.

    Exit code 1 when any database is not up to date.

    Example: tenantctl migrate status --tenant west-nipt
    """
    report = run(lambda p: status_all(p, tenants=tenant or None, concurrency=concurrency), as_json)
    finish(report, as_json)


@migrate_app.command("up")
def migrate_up(
    tenant: list[str] | None = TenantOption,
    concurrency: int = typer.Option(4, min=1, max=64, help="Tenant databases migrated at once."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would run; write nothing."),
    continue_on_error: bool = typer.Option(
        False, "--continue-on-error", help="Keep migrating other tenants after a failure."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Apply pending migrations: platform database first, then every tenant database.

    Each database is locked while it migrates (two runners never migrate one
    database at once); re-running does nothing; a migration whose checksum
    changed after it was applied is reported and that database refused.

    Example: tenantctl migrate up --concurrency 8 --continue-on-error
    """
    with progress(not as_json) as bar:
        done = {"n": 0}

        def on_event(event: ProgressEvent) -> None:
            if event.kind == ProgressKind.DATABASE_FINISHED:
                done["n"] += 1
                bar("databases", done["n"], None)

        report = run(
            lambda p: migrate_all(
                p,
                actor=ACTOR,
                tenants=tenant or None,
                concurrency=concurrency,
                dry_run=dry_run,
                continue_on_error=continue_on_error,
                on_progress=on_event,
            ),
            as_json,
        )
    finish(report, as_json)
