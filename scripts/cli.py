"""``tenantctl``: the operator command line.

Every command works against the configured MongoDB (``APP_MONGODB_URL``) or,
when none is set, against the embedded data directory that ``make serve``
uses. Long commands show progress and end with a report table; ``--json``
prints the same report machine-readably. Exit code 0 means done, non-zero
means failed, and the report says what was and was not done.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from scripts.output import console, print_json, print_table
from scripts.runtime import operator_platform
from tenancy import service
from tenancy.errors import AppError
from tenancy.models import TenantStatus
from tenancy.runtime import Platform

T = TypeVar("T")
ACTOR = "cli"

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
tenants_app = typer.Typer(help="List, provision, suspend, reactivate and delete tenants.",
                          no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")

JsonOption = typer.Option(False, "--json", help="Print the report as JSON on stdout.")


def run(action: Callable[[Platform], Awaitable[T]]) -> T:
    """Run ``action`` with a started platform; AppError -> clear message and exit code 1."""

    async def main() -> T:
        async with operator_platform() as platform:
            return await action(platform)

    try:
        return asyncio.run(main())
    except AppError as error:
        console.print(f"[bold red]{error.code}[/]: {error.message}")
        raise typer.Exit(1) from None


def _tenant_row(t: Any) -> list[Any]:
    return [
        t.slug, t.name, t.status, t.subscription.plan_key,
        f"{t.database.cluster}/{t.database.name}", ", ".join(t.domains),
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

    tenants = run(action)
    if as_json:
        print_json([t.model_dump(mode="json", exclude={"id"}) | {"id": str(t.id)} for t in tenants])
    else:
        print_table(f"{len(tenants)} tenants", TENANT_COLUMNS, [_tenant_row(t) for t in tenants])


@tenants_app.command("provision")
def tenants_provision(
    slug: str = typer.Argument(..., help="3-40 chars: a-z, 0-9, inner hyphens."),
    name: str = typer.Option(..., help="Display name."),
    owner_email: str = typer.Option(..., help="Email of the owner admin user."),
    owner_name: str = typer.Option(..., help="Name of the owner admin user."),
    owner_password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True,
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
    request = service.ProvisionRequest(
        slug=slug, name=name, plan_key=plan, owner_email=owner_email, owner_name=owner_name,
        owner_password=owner_password, timezone=timezone, currency=currency,
        language=language, domains=domain, cluster=cluster,
    )
    tenant = run(lambda platform: service.provision_tenant(platform, request, ACTOR))
    if as_json:
        print_json(tenant.model_dump(mode="json", exclude={"id"}) | {"id": str(tenant.id)})
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
    tenant = run(lambda p: service.set_tenant_status(p, slug, TenantStatus.SUSPENDED, reason, ACTOR))
    _print_tenant(tenant, as_json)


@tenants_app.command("reactivate")
def tenants_reactivate(slug: str, as_json: bool = JsonOption) -> None:
    """Reactivate a suspended tenant.

    Example: tenantctl tenants reactivate west-nipt
    """
    tenant = run(lambda p: service.set_tenant_status(p, slug, TenantStatus.ACTIVE, None, ACTOR))
    _print_tenant(tenant, as_json)


def _print_tenant(tenant: Any, as_json: bool) -> None:
    if as_json:
        print_json(tenant.model_dump(mode="json", exclude={"id"}) | {"id": str(tenant.id)})
    else:
        print_table(tenant.slug, TENANT_COLUMNS, [_tenant_row(tenant)])


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
