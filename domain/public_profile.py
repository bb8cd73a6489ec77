"""What anonymous callers may read about a tenant's catalog: its active services and locations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.catalog import CatalogService
from tenancy.mongo_types import Database


@dataclass(frozen=True)
class PublicCatalog:
    """The bookable part of a tenant's catalog, by name: plain stored documents."""

    services: list[dict[str, Any]]
    locations: list[dict[str, Any]]


async def public_catalog(db: Database) -> PublicCatalog:
    """Active services and active locations of the tenant behind ``db`` (two queries).

    Locations stored before ``active`` existed count as active.
    """
    catalog = CatalogService(db)
    services = await catalog.services(include_inactive=False)
    locations = await catalog.locations(include_inactive=False)
    return PublicCatalog(services=services, locations=locations)
