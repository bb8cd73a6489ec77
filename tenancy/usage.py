"""What tenants use of their plan limits: active users (platform database) and
live customers (each tenant's own ``counters``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bson import ObjectId

from tenancy import quota
from tenancy.models import Tenant
from tenancy.runtime import Runtime

CUSTOMERS_COUNTER = "customers"  # the counter domain.customers keeps in each tenant database


@dataclass(frozen=True)
class TenantUsage:
    """Counts against the plan's ``max_users`` and ``max_customers``."""

    users: int
    customers: int


async def usage_of(runtime: Runtime, tenants: list[Tenant]) -> dict[ObjectId, TenantUsage]:
    """Usage of several tenants: one aggregation for all users, one read per tenant database.

    Returns:
        tenant id -> usage, for every tenant given.
    """
    users = await runtime.store.active_users_by_tenant([t.id for t in tenants])
    customers = await asyncio.gather(
        *(quota.usage(runtime.tenant_database(t), CUSTOMERS_COUNTER) for t in tenants)
    )
    return {
        tenant.id: TenantUsage(users=users.get(tenant.id, 0), customers=count)
        for tenant, count in zip(tenants, customers, strict=True)
    }
