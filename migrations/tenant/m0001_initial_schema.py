"""Tenant 0001: the tenant collections and their indexes.

Delegates to ``ensure_tenant_schema`` (idempotent), so tenant databases
provisioned before migrations existed pass it without change. A later change
to ``TENANT_INDEXES`` ships with a new migration that calls it again (or
makes the specific change), so existing tenants receive it too.
"""

from __future__ import annotations

from domain.collections import ensure_tenant_schema
from tenancy.mongo_types import Database

DESCRIPTION = "tenant collections and indexes (customers, bookings, services, ...)"


async def up(db: Database) -> None:
    """Create the tenant collections and indexes that are missing."""
    await ensure_tenant_schema(db)


# Undoing would mean dropping the tenant's collections, with their data.
down = None
