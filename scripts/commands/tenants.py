"""``tenantctl tenants ...``: list, provision, suspend, reactivate, move, drop an
old database, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scripts.commands.common import (
    ACTOR,
    BatchOption,
    DrainOption,
    JsonOption,
    finish,
    refuse,
    run,
    run_with_progress,
)
from scripts.output import print_notice, print_records
from tenancy import lifecycle
from tenancy.models import Tenant, TenantStatus
from tenancy.operations import delete_tenant, drop_old_database, move_tenant
from tenancy.reports import Table
from tenancy.runtime import Runtime

tenants_app = typer.Typer(
    help="List, provision, suspend, reactivate and delete tenants.", no_args_is_help=True
)


def _tenant_row(t: Tenant) -> list[Any]:
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


def _print_tenants(title: str, tenants: list[Tenant], data: Any, as_json: bool) -> None:
    print_records(Table(title, TENANT_COLUMNS, [_tenant_row(t) for t in tenants]), data, as_json)


@tenants_app.command("list")
def tenants_list(
    status: TenantStatus | None = typer.Option(None, help="Only tenants in this status."),
    as_json: bool = JsonOption,
) -> None:
    """List tenants with their status, plan and database.

    Example: tenantctl tenants list --status suspended
    """

    async def action(runtime: Runtime) -> list[Tenant]:
        found: list[Tenant] = []
        after = None
        while True:  # the same service as GraphQL ``tenants``, page by page
            page = await lifecycle.list_tenants(
                runtime, status=status.value if status else None, first=500, after=after
            )
            found += [Tenant.model_validate(doc) for doc in page.docs]
            if not page.has_next_page:
                return sorted(found, key=lambda tenant: tenant.slug)
            after = page.cursors[-1]

    tenants = run(action, as_json)
    data = [t.model_dump(mode="json") for t in tenants]
    _print_tenants(f"{len(tenants)} tenants", tenants, data, as_json)


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

    async def action(runtime: Runtime) -> Tenant:
        request = lifecycle.ProvisionRequest(
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
        return await lifecycle.provision_tenant(runtime, request, ACTOR)

    tenant = run(action, as_json)
    _print_tenants("provisioned", [tenant], tenant.model_dump(mode="json"), as_json)


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
        lambda p: lifecycle.set_tenant_status(p, slug, TenantStatus.SUSPENDED, reason, ACTOR),
        as_json,
    )
    _print_tenant(tenant, as_json)


@tenants_app.command("reactivate")
def tenants_reactivate(slug: str, as_json: bool = JsonOption) -> None:
    """Reactivate a suspended tenant.

    Example: tenantctl tenants reactivate west-nipt
    """
    tenant = run(
        lambda p: lifecycle.set_tenant_status(p, slug, TenantStatus.ACTIVE, None, ACTOR), as_json
    )
    _print_tenant(tenant, as_json)


def _print_tenant(tenant: Tenant, as_json: bool) -> None:
    _print_tenants(tenant.slug, [tenant], tenant.model_dump(mode="json"), as_json)


@tenants_app.command("move")
def tenants_move(
    slug: str,
    to_cluster: str | None = typer.Option(None, help="Target cluster name from settings."),
    to_database: str | None = typer.Option(None, help="Target database name (default: same)."),
    batch_size: int = BatchOption,
    drain_seconds: float | None = DrainOption,
    as_json: bool = JsonOption,
) -> None:
    """Move a tenant to another database or cluster: maintenance (reads served,
    writes refused with TENANT_MAINTENANCE), copy, verify, switch the record in
    one write, leave maintenance. On failure the tenant stays where it was and
    the partial target is reported, not deleted. The old database is kept until
    `tenants drop-old-database`.

    Example: tenantctl tenants move west-nipt --to-cluster eu-2
    """
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
    finish(report, as_json)


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
    finish(report, as_json)


@tenants_app.command("delete")
def tenants_delete(
    slug: str,
    backup_dir: Path = typer.Option(..., help="Where the backup export is written first."),
    confirm: str = typer.Option(
        "", help="Type the tenant slug again to confirm; nothing happens without it."
    ),
    drain_seconds: float | None = DrainOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete a tenant: backup export first (refuses to continue if it fails),
    then the record is marked deleted (kept for audit), users deactivated,
    domains released, and the database dropped.

    Example: tenantctl tenants delete acme-dental --backup-dir backups --confirm acme-dental
    """
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
    finish(report, as_json)
