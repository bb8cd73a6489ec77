"""Catalog queries (public) and catalog upkeep: services and locations (admins)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import strawberry
from strawberry.types import Info

from domain.catalog import CatalogService, ServiceFields
from graphql_api import audit_trail
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.types.catalog import (
    CreateLocationInput,
    CreateServiceInput,
    Location,
    LocationPayload,
    Service,
    ServicePayload,
    UpdateLocationInput,
    UpdateServiceInput,
    given_fields,
)


def _catalog(info: Info) -> CatalogService:
    _, db = info.context.require_writable()
    return CatalogService(db)


async def _service_payload(
    info: Info,
    write: Callable[[CatalogService], Awaitable[dict[str, Any]]],
    action: str,
    ident: str | None = None,
) -> ServicePayload:
    async def run() -> ServicePayload:
        catalog = _catalog(info)
        before = await catalog.service(ident) if ident else None
        doc = await write(catalog)
        await audit_trail.record(info, action, "service", before, doc)
        return ServicePayload(service=Service.from_doc(doc))

    return await mutation_payload(ServicePayload, run)


async def _location_payload(
    info: Info,
    write: Callable[[CatalogService], Awaitable[dict[str, Any]]],
    action: str,
    ident: str | None = None,
) -> LocationPayload:
    async def run() -> LocationPayload:
        catalog = _catalog(info)
        before = await catalog.location(ident) if ident else None
        doc = await write(catalog)
        await audit_trail.record(info, action, "location", before, doc)
        return LocationPayload(location=Location.from_doc(doc))

    return await mutation_payload(LocationPayload, run)


def _location_changes(fields: dict[str, Any]) -> dict[str, Any]:
    rules = fields.get("availability")
    if rules is not None:
        fields["availability"] = rules.to_dict()
    return fields


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
    async def locations(self, info: Info, include_inactive: bool = False) -> list[Location]:
        """Bookable locations; inactive ones only for staff."""
        _, db = info.context.require_tenant()
        show_inactive = include_inactive and info.context.principal.can("bookings.read")
        docs = await CatalogService(db).locations(include_inactive=show_inactive)
        return [Location.from_doc(d) for d in docs]


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(extensions=requires("services.write"))
    async def create_service(self, info: Info, input: CreateServiceInput) -> ServicePayload:
        fields = ServiceFields(**asdict(input))
        return await _service_payload(
            info, lambda catalog: catalog.create_service(fields), "service.create"
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def update_service(
        self, info: Info, id: strawberry.ID, input: UpdateServiceInput
    ) -> ServicePayload:
        """Change some fields of a service; bookings already made keep their price."""
        changes = given_fields(input)
        return await _service_payload(
            info, lambda catalog: catalog.update_service(id, changes), "service.update", id
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def deactivate_service(self, info: Info, id: strawberry.ID) -> ServicePayload:
        """No longer bookable nor listed publicly; existing bookings keep it."""
        return await _service_payload(
            info, lambda catalog: catalog.set_service_active(id, False), "service.deactivate", id
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def reactivate_service(self, info: Info, id: strawberry.ID) -> ServicePayload:
        return await _service_payload(
            info, lambda catalog: catalog.set_service_active(id, True), "service.reactivate", id
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def create_location(self, info: Info, input: CreateLocationInput) -> LocationPayload:
        fields = _location_changes(asdict(input) | {"availability": input.availability})
        return await _location_payload(
            info, lambda catalog: catalog.create_location(**fields), "location.create"
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def update_location(
        self, info: Info, id: strawberry.ID, input: UpdateLocationInput
    ) -> LocationPayload:
        """Change some fields of a location; ``availability`` is replaced as a whole."""
        changes = _location_changes(given_fields(input))
        return await _location_payload(
            info, lambda catalog: catalog.update_location(id, changes), "location.update", id
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def deactivate_location(self, info: Info, id: strawberry.ID) -> LocationPayload:
        """No longer bookable nor listed publicly; existing bookings keep it."""
        return await _location_payload(
            info, lambda catalog: catalog.set_location_active(id, False), "location.deactivate", id
        )

    @strawberry.mutation(extensions=requires("services.write"))
    async def reactivate_location(self, info: Info, id: strawberry.ID) -> LocationPayload:
        return await _location_payload(
            info, lambda catalog: catalog.set_location_active(id, True), "location.reactivate", id
        )
