"""Tenant queries (the tenant, its public profile), the super-admin tenant lifecycle
mutations and a tenant admin's own settings.

The mutations call ``tenancy.lifecycle``, the same functions as the operator CLI.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import strawberry
from strawberry.types import Info

from domain.public_profile import public_catalog
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.types.catalog import Location, Service
from graphql_api.types.common import UserError
from graphql_api.types.tenant import (
    BookingPolicy,
    Branding,
    CountByKey,
    CreateTenantInput,
    DeleteTenantPayload,
    OperationStep,
    Plan,
    PlatformStats,
    Tenant,
    TenantConnection,
    TenantFilter,
    TenantPayload,
    TenantProfile,
    UpdateTenantInput,
    UpdateTenantSettingsInput,
)
from tenancy import lifecycle, models
from tenancy.errors import ErrorCode, validation_error
from tenancy.operations import delete_tenant
from tenancy.tenant_settings import TenantSettingsUpdate
from tenancy.validation import parse_model


def _tenant(doc: dict[str, Any]) -> Tenant:
    return Tenant.from_model(models.Tenant.model_validate(doc))


@strawberry.type
class TenantQueries:
    @strawberry.field(extensions=requires("tenant.read"), description="The request's tenant.")
    def tenant(self, info: Info) -> Tenant | None:
        tenant, _ = info.context.require_tenant()
        return Tenant.from_model(tenant)

    @strawberry.field(
        extensions=requires("platform.read"), description="All tenants (super-admin)."
    )
    async def tenants(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: TenantFilter | None = None,
    ) -> TenantConnection | None:
        page = await lifecycle.list_tenants(
            info.context.runtime,
            status=str(filter.status) if filter and filter.status else None,
            plan_key=filter.plan_key if filter else None,
            first=page_size(info, first),
            after=after,
        )
        return TenantConnection.from_page(page, _tenant)

    @strawberry.field(extensions=requires("platform.read"))
    async def platform_stats(self, info: Info) -> PlatformStats | None:
        """Tenants per status and plan, and active users (super-admin)."""
        store = info.context.runtime.store
        by_status = await store.tenant_counts("status")
        by_plan = await store.tenant_counts("subscription.plan_key")
        return PlatformStats(
            tenants=sum(by_status.values()),
            tenants_by_status=[CountByKey(key=k, count=n) for k, n in sorted(by_status.items())],
            tenants_by_plan=[CountByKey(key=k, count=n) for k, n in sorted(by_plan.items())],
            active_users=await store.count_all_users(),
        )

    @strawberry.field(extensions=requires("tenant.profile"))
    async def tenant_profile(self, info: Info) -> TenantProfile:
        """The request's tenant as its public booking site shows it (anyone may read it)."""
        tenant, db = info.context.require_tenant()
        settings = tenant.settings
        catalog = await public_catalog(db)
        return TenantProfile(
            slug=tenant.slug,
            name=tenant.name,
            timezone=settings.timezone,
            language=settings.language,
            currency=settings.currency,
            branding=Branding.from_model(settings.branding),
            booking_policy=BookingPolicy.from_model(settings.booking_policy),
            services=[Service.from_doc(doc) for doc in catalog.services],
            locations=[Location.from_doc(doc) for doc in catalog.locations],
        )

    @strawberry.field(description="Active plans, cheapest first (public).")
    async def plans(self, info: Info) -> list[Plan]:
        return [Plan.from_model(p) for p in await info.context.runtime.store.plans()]


@strawberry.type
class TenantMutations:
    @strawberry.mutation(extensions=requires("platform.write"))
    async def create_tenant(self, info: Info, input: CreateTenantInput) -> TenantPayload:
        """Provision a tenant: database, indexes, owner admin user, 14-day trial."""

        async def run() -> TenantPayload:
            request = parse_model(lifecycle.ProvisionRequest, asdict(input))
            tenant = await lifecycle.provision_tenant(
                info.context.runtime, request, info.context.principal.actor
            )
            return TenantPayload(tenant=Tenant.from_model(tenant))

        return await mutation_payload(TenantPayload, run)

    @strawberry.mutation(extensions=requires("platform.write"))
    async def update_tenant(self, info: Info, slug: str, input: UpdateTenantInput) -> TenantPayload:
        async def run() -> TenantPayload:
            tenant = await lifecycle.update_tenant(
                info.context.runtime,
                slug,
                parse_model(lifecycle.TenantUpdate, asdict(input)),
                info.context.principal.actor,
            )
            return TenantPayload(tenant=Tenant.from_model(tenant))

        return await mutation_payload(TenantPayload, run)

    @strawberry.mutation(extensions=requires("settings.write"))
    async def update_tenant_settings(
        self, info: Info, input: UpdateTenantSettingsInput
    ) -> TenantPayload:
        """Change the request's tenant's own settings (its admins; super-admins in the tenant).

        Plan, status, limits and domains are not here: ``updateTenant`` (super-admin).
        """

        async def run() -> TenantPayload:
            tenant, _ = info.context.require_tenant()
            updated = await lifecycle.update_tenant_settings(
                info.context.runtime,
                tenant.slug,
                TenantSettingsUpdate(**asdict(input)),
                info.context.principal.actor,
            )
            return TenantPayload(tenant=Tenant.from_model(updated))

        return await mutation_payload(TenantPayload, run)

    @strawberry.mutation(extensions=requires("platform.write"))
    async def suspend_tenant(self, info: Info, slug: str, reason: str) -> TenantPayload:
        """Suspend: the API refuses the tenant with TENANT_INACTIVE and this reason."""
        return await _set_status(info, slug, models.TenantStatus.SUSPENDED, reason)

    @strawberry.mutation(extensions=requires("platform.write"))
    async def reactivate_tenant(self, info: Info, slug: str) -> TenantPayload:
        return await _set_status(info, slug, models.TenantStatus.ACTIVE, None)

    @strawberry.mutation(extensions=requires("platform.write"))
    async def delete_tenant(self, info: Info, slug: str, confirm_slug: str) -> DeleteTenantPayload:
        """Delete a tenant (the same operation as ``tenantctl tenants delete``).

        Writes a backup export to the server's backup directory first and
        stops if that fails; then marks the record deleted (kept for audit)
        and drops the database. When other server processes are running, it
        first waits the tenant-cache TTL so that none of them serves the tenant
        from its cache. ``confirmSlug`` must repeat ``slug``.
        """

        async def run() -> DeleteTenantPayload:
            if confirm_slug != slug:
                raise validation_error("confirmSlug", "repeat the slug to confirm the deletion")
            runtime = info.context.runtime
            report = await delete_tenant(
                runtime,
                slug,
                backup_dir=runtime.settings.backup_dir,
                actor=info.context.principal.actor,
            )
            steps = [
                OperationStep(name=s.name, status=s.status, detail=s.detail) for s in report.steps
            ]
            errors = []
            if not report.ok:
                failed = next(s for s in report.steps if s.status == "failed")
                errors = [
                    UserError(
                        field=None,
                        code=ErrorCode.BACKUP_FAILED,
                        message=f"nothing was deleted: {failed.detail}",
                    )
                ]
            tenant = await runtime.store.tenant_by_slug(slug)
            return DeleteTenantPayload(
                tenant=Tenant.from_model(tenant) if tenant else None,
                steps=steps,
                user_errors=errors,
            )

        return await mutation_payload(DeleteTenantPayload, run)


async def _set_status(
    info: Info, slug: str, status: models.TenantStatus, reason: str | None
) -> TenantPayload:
    async def run() -> TenantPayload:
        tenant = await lifecycle.set_tenant_status(
            info.context.runtime, slug, status, reason, info.context.principal.actor
        )
        return TenantPayload(tenant=Tenant.from_model(tenant))

    return await mutation_payload(TenantPayload, run)
