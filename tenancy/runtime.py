"""The platform runtime: settings, clients, platform store and tenant registry.

One instance per process, built at start (server lifespan or CLI command)
and passed explicitly; there is no module-level "current database".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from tenancy.clients import ClientRegistry
from tenancy.models import DatabaseLocation, Tenant
from tenancy.platform import PlatformStore
from tenancy.registry import TenantRegistry
from tenancy.settings import DEFAULT_CLUSTER, Settings

log = logging.getLogger(__name__)


@dataclass
class Platform:
    """Everything that reaches MongoDB, bundled for explicit passing."""

    settings: Settings
    clients: ClientRegistry
    store: PlatformStore
    registry: TenantRegistry

    @classmethod
    def build(cls, settings: Settings, clients: ClientRegistry | None = None) -> Platform:
        """Wire a platform; opens no connection yet (clients are lazy)."""
        clients = clients or ClientRegistry(settings.cluster_urls())
        platform_db = clients.database(
            DatabaseLocation(cluster=DEFAULT_CLUSTER, name=settings.platform_db)
        )
        store = PlatformStore(platform_db)
        registry = TenantRegistry(store, settings.base_domain, settings.tenant_cache_ttl_seconds)
        return cls(settings=settings, clients=clients, store=store, registry=registry)

    async def start(self) -> None:
        """Create the platform indexes and the default plans when missing (idempotent)."""
        from tenancy.plans import ensure_default_plans

        await self.store.ensure_indexes()
        await ensure_default_plans(self.store)

    def tenant_database(self, tenant: Tenant) -> AsyncDatabase:
        """The handle bound to this tenant's own database (cluster + name from its record)."""
        return self.clients.database(tenant.database)

    async def close(self) -> None:
        await self.clients.close()
