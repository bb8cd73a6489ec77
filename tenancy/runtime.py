"""The runtime: settings, clients, platform store and tenant registry.

One instance per process, built at start (server lifespan or CLI command)
and passed explicitly; there is no module-level "current database".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tenancy.clients import ClientRegistry
from tenancy.errors import AppError, ErrorCode
from tenancy.models import DatabaseLocation, Tenant
from tenancy.mongo_types import Database
from tenancy.plans import ensure_default_plans
from tenancy.platform import PlatformStore
from tenancy.registry import TenantRegistry
from tenancy.schema_upgrade import LEDGER_COLLECTION, SchemaUpgrader
from tenancy.settings import DEFAULT_CLUSTER, Settings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything that reaches MongoDB, bundled for explicit passing.

    ``upgrade_schema`` brings a new database to the latest schema version
    (see :mod:`tenancy.schema_upgrade`).
    """

    settings: Settings
    clients: ClientRegistry
    store: PlatformStore
    registry: TenantRegistry
    upgrade_schema: SchemaUpgrader

    @classmethod
    def build(
        cls,
        settings: Settings,
        clients: ClientRegistry | None = None,
        *,
        upgrade_schema: SchemaUpgrader,
    ) -> Runtime:
        """Wire a platform; opens no connection yet (clients are lazy).

        Args:
            settings: the settings.
            clients: the client registry (default: one for ``settings``' clusters).
            upgrade_schema: how new databases reach the latest schema version
                (``migrations.runtime.build_runtime`` passes the versioned migrations).
        """
        clients = clients or ClientRegistry(settings.cluster_urls())
        location = DatabaseLocation(cluster=DEFAULT_CLUSTER, name=settings.platform_db)
        store = PlatformStore(lambda: clients.database(location))
        registry = TenantRegistry(store, settings.base_domain, settings.tenant_cache_ttl_seconds)
        return cls(
            settings=settings,
            clients=clients,
            store=store,
            registry=registry,
            upgrade_schema=upgrade_schema,
        )

    async def start(self) -> None:
        """Make the platform database usable.

        A new platform database is born at the latest platform migration
        (indexes, default plans, ledger). An existing one only gets its
        indexes ensured: pending migrations are applied by operators
        (``tenantctl migrate up``), never implicitly by a server start.

        Raises:
            AppError: the upgrader's failure (but MIGRATION_LOCKED: another
            process is creating the platform database).
        """
        if await self.store.db[LEDGER_COLLECTION].count_documents({}, limit=1):
            await self.store.ensure_indexes()
            await ensure_default_plans(self.store)
            return
        try:
            await self.upgrade_schema(self.store.db, "platform", "system:start")
        except AppError as error:
            if error.code != ErrorCode.MIGRATION_LOCKED:  # another process is doing it
                raise

    def tenant_database(self, tenant: Tenant) -> Database:
        """The handle bound to this tenant's own database (cluster + name from its record)."""
        return self.clients.database(tenant.database)

    async def close(self) -> None:
        """Close every MongoDB client of the platform."""
        await self.clients.close()
