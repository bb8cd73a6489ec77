"""Tenant queries and the super-admin tenant lifecycle mutations.

The mutations call ``tenancy.service``, the same functions as the operator CLI.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import strawberry
from pymongo import DESCENDING
from strawberry.types import Info

from graphql_api.errors import mutation_payload
from graphql_api.pagination import fetch_page
from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.types.tenant import (
    CreateTenantInput,
    Plan,
    Tenant,
    TenantConnection,
    TenantFilter,
    TenantPayload,
    UpdateTenantInput,
)
from tenancy import models, service
from tenancy.platform import TENANTS
from tenancy.validation import parse_model


def _tenant(doc: dict[str, Any]) -> Tenant:
    return Tenant.from_model(models.Tenant.model_validate(doc))


@strawberry.type
class TenantQueries:
    @strawberry.field(extensions=requires("tenant.read"), description="The request's tenant.")
    def tenant(self, info: Info) -> Tenant:
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
    ) -> TenantConnection:
        query: dict[str, Any] = {}
        if filter and filter.status:
            query["status"] = str(filter.status)
        if filter and filter.plan_key:
            query["subscription.plan_key"] = filter.plan_key
        page = await fetch_page(
            info.context.platform.store.db[TENANTS],
            query,
            sort_name="tenants",
            sort=[("_id", DESCENDING)],
            first=page_size(info, first),
            after=after,
        )
        return TenantConnection.from_page(page, _tenant)

    @strawberry.field(description="Active plans, cheapest first (public).")
    async def plans(self, info: Info) -> list[Plan]:
        return [Plan.from_model(p) for p in await info.context.platform.store.plans()]


@strawberry.type
class TenantMutations:
    @strawberry.mutation(extensions=requires("platform.write"))
    async def create_tenant(self, info: Info, input: CreateTenantInput) -> TenantPayload:
        """Provision a tenant: database, indexes, owner admin user, 14-day trial."""

        async def run() -> TenantPayload:
            request = parse_model(service.ProvisionRequest, asdict(input))
            tenant = await service.provision_tenant(
                info.context.platform, request, info.context.principal.actor
            )
            return TenantPayload(tenant=Tenant.from_model(tenant))

        return await mutation_payload(TenantPayload, run)

    @strawberry.mutation(extensions=requires("platform.write"))
    async def update_tenant(self, info: Info, slug: str, input: UpdateTenantInput) -> TenantPayload:
        async def run() -> TenantPayload:
            tenant = await service.update_tenant(
                info.context.platform,
                slug,
                parse_model(service.TenantUpdate, asdict(input)),
                info.context.principal.actor,
            )
            return TenantPayload(tenant=Tenant.from_model(tenant))

        return await mutation_payload(TenantPayload, run)

    @strawberry.mutation(extensions=requires("platform.write"))
    async def suspend_tenant(self, info: Info, slug: str, reason: str) -> TenantPayload:
        """Suspend: the API refuses the tenant with TENANT_INACTIVE and this reason."""
        return await _set_status(info, slug, models.TenantStatus.SUSPENDED, reason)

    @strawberry.mutation(extensions=requires("platform.write"))
    async def reactivate_tenant(self, info: Info, slug: str) -> TenantPayload:
        return await _set_status(info, slug, models.TenantStatus.ACTIVE, None)


async def _set_status(
    info: Info, slug: str, status: models.TenantStatus, reason: str | None
) -> TenantPayload:
    async def run() -> TenantPayload:
        tenant = await service.set_tenant_status(
            info.context.platform, slug, status, reason, info.context.principal.actor
        )
        return TenantPayload(tenant=Tenant.from_model(tenant))

    return await mutation_payload(TenantPayload, run)
