"""Catalog queries (public) and service management (admins)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.catalog import CatalogService, ServiceFields
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.types.catalog import CreateServiceInput, Location, Service, ServicePayload


@strawberry.type
class CatalogQueries:
    @strawberry.field(extensions=requires("services.read"))
    async def services(self, info: Info, include_inactive: bool = False) -> list[Service]:
        """The bookable catalog; inactive services only for staff."""
        _, db = info.context.require_tenant()
        show_inactive = include_inactive and info.context.principal.can("bookings.read")
        docs = await CatalogService(db).services(include_inactive=show_inactive)
        return [Service.from_doc(d) for d in docs]

    @strawberry.field(extensions=requires("services.read"))
    async def locations(self, info: Info) -> list[Location]:
        _, db = info.context.require_tenant()
        return [Location.from_doc(d) for d in await CatalogService(db).locations()]


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(extensions=requires("services.write"))
    async def create_service(self, info: Info, input: CreateServiceInput) -> ServicePayload:
        async def run() -> ServicePayload:
            _, db = info.context.require_writable()
            doc = await CatalogService(db).create_service(
                ServiceFields(
                    name=input.name,
                    duration_minutes=input.duration_minutes,
                    price_minor=input.price_minor,
                    currency=input.currency,
                    code=input.code,
                    description=input.description,
                    active=input.active,
                )
            )
            return ServicePayload(service=Service.from_doc(doc))

        return await mutation_payload(ServicePayload, run)
