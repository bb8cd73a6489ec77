"""Per-request DataLoaders: one query per batch, whatever the page size.

Created per request. ``Loaders`` (``Context.loaders``) is bound to the
tenant's database, so a cached entry never crosses requests or tenants;
``PlatformLoaders`` (``Context.platform_loaders``) batch platform reads
for lists of tenants (super-admin views).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from domain.collections import CUSTOMERS, LOCATIONS, SERVICES
from domain.notification_history import NotificationRecord, for_bookings
from tenancy.models import Plan, Tenant
from tenancy.mongo_types import Database
from tenancy.runtime import Runtime
from tenancy.usage import TenantUsage, usage_of


def _by_id_loader(db: Database, collection: str) -> Callable[[Sequence[Any]], Awaitable[list[Any]]]:
    async def load(ids: Sequence[Any]) -> list[dict[str, Any] | None]:
        docs = await db[collection].find({"_id": {"$in": list(ids)}}).to_list(None)
        found = {doc["_id"]: doc for doc in docs}
        return [found.get(i) for i in ids]

    return load


class Loaders:
    """Documents by ``_id``: ``customer``, ``service``, ``location``; a booking's
    ``notifications`` (outbox and legacy history: two queries per batch)."""

    def __init__(self, db: Database) -> None:
        self.customer: DataLoader[Any, dict[str, Any] | None] = DataLoader(
            _by_id_loader(db, CUSTOMERS)
        )
        self.service: DataLoader[Any, dict[str, Any] | None] = DataLoader(
            _by_id_loader(db, SERVICES)
        )
        self.location: DataLoader[Any, dict[str, Any] | None] = DataLoader(
            _by_id_loader(db, LOCATIONS)
        )

        async def notifications(booking_ids: Sequence[Any]) -> list[list[NotificationRecord]]:
            found = await for_bookings(db, booking_ids)
            return [found.get(booking_id, []) for booking_id in booking_ids]

        self.notifications: DataLoader[Any, list[NotificationRecord]] = DataLoader(notifications)


class PlatformLoaders:
    """Plans by key and usage by tenant, batched for a page of tenants."""

    def __init__(self, runtime: Runtime) -> None:
        async def plans(keys: Sequence[str]) -> list[Plan | None]:
            found = await runtime.store.plans_by_key(list(keys))
            return [found.get(key) for key in keys]

        async def usage(tenants: Sequence[Tenant]) -> list[TenantUsage]:
            found = await usage_of(runtime, list(tenants))
            return [found[tenant.id] for tenant in tenants]

        self.plan: DataLoader[str, Plan | None] = DataLoader(plans)
        self.usage: DataLoader[Tenant, TenantUsage] = DataLoader(
            usage, cache_key_fn=lambda tenant: tenant.id
        )
