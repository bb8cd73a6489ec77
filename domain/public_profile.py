"""What anonymous callers may read about a tenant's catalog: its active services and locations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.catalog import CatalogService


@dataclass(frozen=True)
class PublicCatalog:
    """The bookable part of a tenant's catalog, by name: plain stored documents."""

    services: list[dict[str, Any]]
    locations: list[dict[str, Any]]


async def public_catalog(db: AsyncDatabase[dict[str, Any]]) -> PublicCatalog:
    """Active services and active locations of the tenant behind ``db`` (two queries).

    Locations stored before ``active`` existed count as active.
    """
    catalog = CatalogService(db)
    services = await catalog.services(include_inactive=False)
    locations = [doc for doc in await catalog.locations() if doc.get("active", True)]
    return PublicCatalog(services=services, locations=locations)
