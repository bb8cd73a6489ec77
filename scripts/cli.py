"""``tenantctl``: the operator command line.

Every command works against the configured MongoDB (``APP_MONGODB_URL``) or,
when none is set, against the embedded data directory that ``make serve``
uses. Long commands show progress and end with a report table; ``--json``
prints the same report machine-readably. Exit code 0 means done, non-zero
means failed, and the report says what was and was not done. A failure
prints one line, ``CODE: message`` (with ``--json`` a ``{"error": {"code",
"message"}}`` object on stdout); ``tenantctl --debug ...`` adds the traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import typer
from rich.markup import escape
from rich.traceback import Traceback

from scripts.output import (
    ProgressReporter,
    console,
    print_error,
    print_json,
    print_notice,
    print_table,
    progress,
)
from scripts.runtime import as_app_error, describe_os_error, operator_platform
from tenancy import service
from tenancy.errors import AppError, ErrorCode
from tenancy.models import TenantStatus
from tenancy.runtime import Platform

T = TypeVar("T")
ACTOR = "cli"

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
tenants_app = typer.Typer(
    help="List, provision, suspend, reactivate and delete tenants.", no_args_is_help=True
)
app.add_typer(tenants_app, name="tenants")

JsonOption = typer.Option(False, "--json", help="Print the report as JSON on stdout.")


#: Options given before the command name (set by the callback on every invocation).
_global = {"debug": False}


@app.callback()
def _global_options(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of a failure (for bug reports)."
    ),
) -> None:
    """Options before the command name apply to every command."""
    _global["debug"] = debug


def fail(error: BaseException, as_json: bool, exit_code: int = 1) -> NoReturn:
    """Report ``error`` as one coded line (a JSON error object with ``as_json``)
    and exit; ``--debug`` adds the traceback on stderr."""
    app_error = as_app_error(error)
    if _global["debug"] and error.__traceback__ is not None:
        console.print(Traceback.from_exception(type(error), error, error.__traceback__))
    print_error(app_error.code, app_error.message, as_json)
    raise typer.Exit(exit_code)


def refuse(message: str, as_json: bool) -> NoReturn:
    """A command refused before doing anything (missing confirmation): exit code 2."""
    fail(AppError(ErrorCode.VALIDATION_FAILED, message), as_json, exit_code=2)


def run(action: Callable[[Platform], Awaitable[T]], as_json: bool = False) -> T:
    """Run ``action`` with a started platform. Any failure (settings, MongoDB,
    files, refusals) is printed by :func:`fail` and exits with code 1."""

    async def main() -> T:
        async with operator_platform() as platform:
            return await action(platform)

    try:
        return asyncio.run(main())
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except KeyboardInterrupt:
        console.print("interrupted; the command did not finish (run it again to resume)")
        raise typer.Exit(130) from None
    except Exception as error:
        fail(error, as_json)


def run_with_progress(
    action: Callable[[Platform, ProgressReporter], Awaitable[T]], as_json: bool
) -> T:
    """``run`` with rich progress bars (none for ``--json``) passed to ``action``."""
    with progress(not as_json) as bar:
        return run(lambda platform: action(platform, bar), as_json)


def _tenant_row(t: Any) -> list[Any]:
    return [
        t.slug,
        t.name,
        t.status,
        t.subscription.plan_key,
        f"{t.database.cluster}/{t.database.name}",
        ", ".join(t.domains),
        "yes" if t.maintenance else "",
    ]


TENANT_COLUMNS = ["slug", "name", "status", "plan", "database", "domains", "maintenance"]


@tenants_app.command("list")
def tenants_list(
    status: TenantStatus | None = typer.Option(None, help="Only tenants in this status."),
    as_json: bool = JsonOption,
) -> None:
    """List tenants with their status, plan and database.

    Example: tenantctl tenants list --status suspended
    """

    async def action(platform: Platform) -> list[Any]:
        query = {"status": status.value} if status else {}
        cursor = platform.store.db["tenants"].find(query).sort("slug", 1)
        from tenancy.models import Tenant

        return [Tenant.model_validate(doc) async for doc in cursor]

    tenants = run(action, as_json)
    if as_json:
        print_json([t.model_dump(mode="json") for t in tenants])
    else:
        print_table(f"{len(tenants)} tenants", TENANT_COLUMNS, [_tenant_row(t) for t in tenants])


@tenants_app.command("provision")
def tenants_provision(
    slug: str = typer.Argument(..., help="3-40 chars: a-z, 0-9, inner hyphens."),
    name: str = typer.Option(..., help="Display name."),
    owner_email: str = typer.Option(..., help="Email of the owner admin user."),
    owner_name: str = typer.Option(..., help="Name of the owner admin user."),
    owner_password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Owner password (prompted when not given).",
    ),
    plan: str = typer.Option("starter", help="Plan key: starter, professional, enterprise."),
    timezone: str = typer.Option("Europe/Istanbul", help="IANA time zone."),
    currency: str = typer.Option("TRY", help="ISO 4217 currency."),
    language: str = typer.Option("tr"),
    domain: list[str] = typer.Option([], help="Custom domain; repeat for several."),
    cluster: str = typer.Option("default", help="Cluster name from settings."),
    as_json: bool = JsonOption,
) -> None:
    """Provision a tenant: database, indexes, migrations, owner admin, 14-day trial.

    The same code path as the createTenant GraphQL mutation.

    Example: tenantctl tenants provision acme-dental --name "Acme Dental"
    --owner-email owner@acme.com --owner-name "Ada" --plan professional
    """

    async def action(platform: Platform) -> Any:
        request = service.ProvisionRequest(
            slug=slug,
            name=name,
            plan_key=plan,
            owner_email=owner_email,
            owner_name=owner_name,
            owner_password=owner_password,
            timezone=timezone,
            currency=currency,
            language=language,
            domains=domain,
            cluster=cluster,
        )
        return await service.provision_tenant(platform, request, ACTOR)

    tenant = run(action, as_json)
    if as_json:
        print_json(tenant.model_dump(mode="json"))
    else:
        print_table("provisioned", TENANT_COLUMNS, [_tenant_row(tenant)])


@tenants_app.command("suspend")
def tenants_suspend(
    slug: str,
    reason: str = typer.Option(..., help="Shown to API clients in TENANT_INACTIVE errors."),
    as_json: bool = JsonOption,
) -> None:
    """Suspend a tenant: the API refuses it with TENANT_INACTIVE and the reason.

    Example: tenantctl tenants suspend west-nipt --reason "payment failed"
    """
    tenant = run(
        lambda p: service.set_tenant_status(p, slug, TenantStatus.SUSPENDED, reason, ACTOR),
        as_json,
    )
    _print_tenant(tenant, as_json)


@tenants_app.command("reactivate")
def tenants_reactivate(slug: str, as_json: bool = JsonOption) -> None:
    """Reactivate a suspended tenant.

    Example: tenantctl tenants reactivate west-nipt
    """
    tenant = run(
        lambda p: service.set_tenant_status(p, slug, TenantStatus.ACTIVE, None, ACTOR), as_json
    )
    _print_tenant(tenant, as_json)


def _print_tenant(tenant: Any, as_json: bool) -> None:
    if as_json:
        print_json(tenant.model_dump(mode="json"))
    else:
        print_table(tenant.slug, TENANT_COLUMNS, [_tenant_row(tenant)])


# -- platform ------------------------------------------------------------------

platform_app = typer.Typer(help="Platform users (super-admins).", no_args_is_help=True)
app.add_typer(platform_app, name="platform")


@platform_app.command("create-admin")
def platform_create_admin(
    email: str = typer.Argument(..., help="Login email of the new super-admin."),
    name: str = typer.Option(..., help="Display name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (scripts)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a platform super-admin, e.g. the first one of a production deployment
    (which never gets demo data). The password is prompted for, or read from stdin.

    Example: tenantctl platform create-admin ops@example.com --name "Ops Team"
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def action(platform: Platform) -> Any:
        return await service.create_super_admin(
            platform, email=email, name=name, password=password, actor=ACTOR
        )

    user = run(action, as_json)
    if as_json:
        print_json({"id": str(user.id), "email": user.email, "role": str(user.role)})
    else:
        console.print(f"super-admin {user.email} created")


# -- migrations ----------------------------------------------------------------

migrate_app = typer.Typer(
    help="Versioned migrations of the platform and tenant databases.", no_args_is_help=True
)
app.add_typer(migrate_app, name="migrate")

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
    from migrations.runner import status_all

    report = run(lambda p: status_all(p, tenants=tenant or None, concurrency=concurrency), as_json)
    if as_json:
        print_json(report.to_dict())
    else:
        print_table(
            "migration status",
            ["database", "scope", "current", "latest", "pending", "drift / unknown", "note"],
            [
                [
                    d.target,
                    d.scope,
                    d.current or "-",
                    d.latest,
                    ", ".join(d.pending) or "-",
                    ", ".join(d.mismatched + d.unknown) or "-",
                    d.error or d.note or (f"locked by {d.locked_by}" if d.locked_by else ""),
                ]
                for d in report.databases
            ],
        )
    raise typer.Exit(0 if report.up_to_date else 1)


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
    from migrations.runner import ProgressEvent, ProgressKind, migrate_all

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
    if as_json:
        print_json(report.to_dict())
    else:
        print_table(
            f"migrate up{' (dry run)' if dry_run else ''}: {report.summary()}",
            ["database", "scope", "outcome", "before", "after", "applied / planned", "error"],
            [
                [
                    r.target,
                    r.scope,
                    r.outcome,
                    r.version_before or "-",
                    r.version_after or "-",
                    ", ".join(r.applied or r.planned) or "-",
                    f"{r.error_code}: {r.error}" if r.error_code else "",
                ]
                for r in report.results
            ],
        )
    raise typer.Exit(0 if report.ok else 1)


# -- export, import, copy ------------------------------------------------------

BatchOption = typer.Option(1000, min=1, max=100_000, help="Documents per batch (bounds memory).")


def _print_operation(result: Any, as_json: bool, title: str) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    print_table(
        f"{title}: {'ok' if result.ok else 'FAILED'} ({result.seconds:.1f} s)",
        [
            "collection",
            "status",
            "action",
            "source",
            "written",
            "skipped",
            "target",
            "hash",
            "error",
        ],
        [
            [
                c.name,
                c.status,
                c.action,
                c.source_count,
                c.written,
                c.skipped,
                c.target_count,
                {True: "match", False: "DIFFERS", None: "-"}[c.checksum_match],
                c.error or "",
            ]
            for c in result.collections
        ],
    )
    for warning in [*result.warnings, *(w for c in result.collections for w in c.warnings)]:
        console.print(f"[yellow]warning[/]: {escape(warning)}")


async def _tenant_db(platform: Platform, slug: str) -> Any:
    return platform.tenant_database(await service.get_tenant(platform, slug))


@app.command("export")
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
    from tenancy.dump import export_database

    async def action(platform: Platform, bar: ProgressReporter) -> Any:
        db = await _tenant_db(platform, slug)
        try:
            return await export_database(
                db, directory, overwrite=overwrite, batch_size=batch_size, on_progress=bar
            )
        except OSError as exc:  # the partial export was removed
            raise AppError(
                ErrorCode.BACKUP_FAILED,
                f"export to {directory} failed, nothing was written: {describe_os_error(exc)}",
            ) from exc

    result = run_with_progress(action, as_json)
    _print_operation(result, as_json, f"export {slug} -> {directory}")
    raise typer.Exit(0 if result.ok else 1)


@app.command("import")
def import_cmd(
    directory: Path = typer.Argument(..., help="An export directory (with manifest.json)."),
    slug: str = typer.Argument(..., help="Tenant whose data is replaced by the export."),
    overwrite: bool = typer.Option(
        False, help="Allow replacing a tenant database that holds documents."
    ),
    batch_size: int = BatchOption,
    drain_seconds: float | None = typer.Option(
        None,
        help="Wait after entering maintenance (default: the tenant cache TTL when other "
        "servers are running, else none).",
    ),
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
    from tenancy.operations import restore_tenant

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
    _print_report(report, as_json)
    raise typer.Exit(0 if report.ok else 1)


@app.command("copy")
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
    from tenancy.copier import copy_database
    from tenancy.models import DatabaseLocation

    async def action(platform: Platform, bar: ProgressReporter) -> Any:
        cluster = to_cluster
        if to_url is not None:
            cluster = "cli-target"
            platform.clients.add_cluster(cluster, to_url)
        if tenant:
            source_db = await _tenant_db(platform, source)
        else:
            source_db = platform.clients.database(
                DatabaseLocation(cluster=from_cluster, name=source)
            )
        target_db = platform.clients.database(DatabaseLocation(cluster=cluster, name=target))
        return await copy_database(
            source_db,
            target_db,
            batch_size=batch_size,
            overwrite=overwrite,
            dry_run=dry_run,
            on_progress=bar,
        )

    result = run_with_progress(action, as_json)
    _print_operation(result, as_json, f"copy {source} -> {target}")
    raise typer.Exit(0 if result.ok else 1)


# -- move, drop, delete --------------------------------------------------------


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    for key, value in report.data.items():
        _print_operation(value, False, key)
    print_table(
        f"{report.operation} {report.tenant}: {'ok' if report.ok else 'FAILED'}",
        ["step", "status", "detail"],
        [[s.name, s.status, s.detail] for s in report.steps],
    )


@tenants_app.command("move")
def tenants_move(
    slug: str,
    to_cluster: str | None = typer.Option(None, help="Target cluster name from settings."),
    to_database: str | None = typer.Option(None, help="Target database name (default: same)."),
    batch_size: int = BatchOption,
    drain_seconds: float | None = typer.Option(
        None,
        help="Wait after entering maintenance (default: the tenant cache TTL when other "
        "servers are running, else none).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Move a tenant to another database or cluster: maintenance (reads served,
    writes refused with TENANT_MAINTENANCE), copy, verify, switch the record in
    one write, leave maintenance. On failure the tenant stays where it was and
    the partial target is reported, not deleted. The old database is kept until
    `tenants drop-old-database`.

    Example: tenantctl tenants move west-nipt --to-cluster eu-2
    """
    from tenancy.operations import move_tenant

    report = run_with_progress(
        lambda p, bar: move_tenant(
            p,
            slug,
            to_cluster=to_cluster,
            to_database=to_database,
            batch_size=batch_size,
            drain_seconds=drain_seconds,
            actor=ACTOR,
            on_progress=bar,
            on_notice=print_notice,
        ),
        as_json,
    )
    _print_report(report, as_json)
    raise typer.Exit(0 if report.ok else 1)


@tenants_app.command("drop-old-database")
def tenants_drop_old_database(
    slug: str,
    cluster: str = typer.Option(..., help="Cluster of the old database."),
    database: str = typer.Option(..., help="Name of the old database."),
    backup_dir: Path = typer.Option(..., help="Where the backup export is written first."),
    yes: bool = typer.Option(False, "--yes", help="Confirm dropping the database."),
    as_json: bool = JsonOption,
) -> None:
    """Drop a database a tenant was moved away from, after a backup export.
    Refuses the tenant's current database.

    Example: tenantctl tenants drop-old-database west-nipt --cluster default
    --database t_west-nipt --backup-dir backups --yes
    """
    from tenancy.operations import drop_old_database

    if not yes:
        refuse("pass --yes to drop the database (a backup is made first)", as_json)
    report = run_with_progress(
        lambda p, bar: drop_old_database(
            p,
            slug,
            cluster=cluster,
            name=database,
            backup_dir=backup_dir,
            actor=ACTOR,
            on_progress=bar,
        ),
        as_json,
    )
    _print_report(report, as_json)
    raise typer.Exit(0 if report.ok else 1)


@tenants_app.command("delete")
def tenants_delete(
    slug: str,
    backup_dir: Path = typer.Option(..., help="Where the backup export is written first."),
    confirm: str = typer.Option(
        "", help="Type the tenant slug again to confirm; nothing happens without it."
    ),
    drain_seconds: float | None = typer.Option(
        None,
        help="Wait after entering maintenance (default: the tenant cache TTL when other "
        "servers are running, else none).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Delete a tenant: backup export first (refuses to continue if it fails),
    then the record is marked deleted (kept for audit), users deactivated,
    domains released, and the database dropped.

    Example: tenantctl tenants delete acme-dental --backup-dir backups --confirm acme-dental
    """
    from tenancy.operations import delete_tenant

    if confirm != slug:
        refuse(f"pass --confirm {slug} to delete tenant {slug!r}", as_json)
    report = run_with_progress(
        lambda p, bar: delete_tenant(
            p,
            slug,
            backup_dir=backup_dir,
            actor=ACTOR,
            drain_seconds=drain_seconds,
            on_progress=bar,
            on_notice=print_notice,
        ),
        as_json,
    )
    _print_report(report, as_json)
    raise typer.Exit(0 if report.ok else 1)


# -- legacy import ---------------------------------------------------------------


class LegacyKind(StrEnum):
    CRM = "legacy-crm"
    CLINICS = "legacy-clinics"


@app.command("import-legacy")
def import_legacy_cmd(
    kind: LegacyKind = typer.Argument(..., help="Which legacy system."),
    source_dir: Path | None = typer.Option(
        None,
        "--dir",
        help="Directory of mongoexport JSON Lines: <dir>/<database>/<collection>.jsonl "
        "(e.g. ../shared/data/legacy-clinics).",
    ),
    source_url: str | None = typer.Option(
        None, "--url", help="A live legacy MongoDB server instead of --dir."
    ),
    plan: str = typer.Option("professional", help="Plan of the tenants it creates."),
    owner_password: str | None = typer.Option(
        None, help="Password of created owner users (default: a random one, shown once)."
    ),
    adopt_existing: bool = typer.Option(
        False,
        help="Import into an existing tenant of the same slug that this import did not create.",
    ),
    batch_size: int = typer.Option(
        500, min=1, max=10_000, help="Records per write batch and checkpoint."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Import a legacy database into the product.

    **legacy-crm**: crm_db -> platform (plans, feature flags, global reference
    data); vitingo_crm -> tenant quattro-stand (customers, products, leads,
    calendar events; stale countries/cities not carried).
    **legacy-clinics**: omega_shared split by tenant_id into one database per
    tenant (services, bookings with exact prices and UTC times, locations,
    referral codes, providers, notifications, lab results). Documents naming
    no tenant are reported with their ids.

    Re-running creates no duplicates; an interrupted run resumes. Exit code 1
    when anything was not accounted for or did not validate.

    Example: tenantctl import-legacy legacy-clinics --dir ../shared/data/legacy-clinics
    """
    from scripts.legacy import (
        DATABASES,
        ImportOptions,
        database_sources,
        directory_sources,
        import_legacy,
    )

    if (source_dir is None) == (source_url is None):
        refuse("give exactly one of --dir or --url", as_json)
    databases = DATABASES[kind.value]

    async def action(platform: Platform, bar: ProgressReporter) -> Any:
        options = ImportOptions(
            plan_key=plan,
            owner_password=owner_password,
            adopt_existing=adopt_existing,
            batch_size=batch_size,
            actor=ACTOR,
            on_progress=bar,
        )
        if source_dir is not None:
            return await import_legacy(
                platform, kind.value, directory_sources(source_dir, databases), options
            )
        from pymongo import AsyncMongoClient

        timeout_ms = round(platform.settings.cli_server_selection_timeout_seconds * 1000)
        client: AsyncMongoClient = AsyncMongoClient(
            source_url, tz_aware=True, serverSelectionTimeoutMS=timeout_ms
        )
        try:
            return await import_legacy(
                platform, kind.value, database_sources(client, databases), options
            )
        finally:
            await client.close()

    report = run_with_progress(action, as_json)
    if as_json:
        print_json(report.to_dict())
        raise typer.Exit(0 if report.ok else 1)
    print_table(
        f"import {kind.value}: tenants",
        ["slug", "legacy id", "action", "database", "owner", "generated password", "message"],
        [
            [
                t.slug,
                t.legacy_id,
                t.action,
                t.database,
                t.owner_email,
                t.owner_password or "",
                t.message or "",
            ]
            for t in report.tenants
        ],
    )
    print_table(
        f"import {kind.value}: {'ok' if report.ok else 'NOT OK'}",
        [
            "source",
            "target",
            "count",
            "written",
            "updated",
            "present",
            "merged",
            "skipped",
            "validated",
        ],
        [
            [
                c.source,
                c.target,
                c.source_count,
                c.written,
                c.updated,
                c.already_present,
                c.merged,
                len(c.skipped),
                "-" if c.validation is None else ("ok" if c.validation.ok else "FAILED"),
            ]
            for c in report.collections
        ],
    )
    for c in report.collections:
        for reason in sorted({i.reason for i in c.skipped}):
            ids = [i.id for i in c.skipped if i.reason == reason]
            console.print(f"skipped {len(ids)} of {c.source}: {reason}")
    for c in report.collections:
        for merge in c.merges:
            kept = f"kept {merge.kept}" if merge.kept else "an existing document"
            console.print(
                f"merged {len(merge.merged)} of {c.source} into {merge.target} ({kept}): "
                f"{', '.join(merge.merged)}; {merge.reason}"
            )
    for legacy_id, ids in report.orphans.items():
        console.print(
            f"[yellow]orphans[/]: tenant_id {legacy_id!r} names no tenant: {', '.join(ids[:20])}"
            + (f" ... ({len(ids)} in all)" if len(ids) > 20 else "")
        )
    raise typer.Exit(0 if report.ok else 1)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
