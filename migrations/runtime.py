"""The platform as every composition root builds it: new databases migrated by this package."""

from __future__ import annotations

from migrations.database import bring_to_latest
from tenancy.clients import ClientRegistry
from tenancy.runtime import Runtime
from tenancy.settings import Settings


def build_runtime(settings: Settings, clients: ClientRegistry | None = None) -> Runtime:
    """``Runtime.build`` with the versioned migrations as its schema upgrader.

    The server (``graphql_api.app``), ``tenantctl`` (``scripts.runtime``),
    benchmarks and tests build their platform here, so a new platform or
    tenant database is always born at the latest migration. Opens no
    connection yet (clients are lazy).
    """
    return Runtime.build(settings, clients, upgrade_schema=bring_to_latest)
