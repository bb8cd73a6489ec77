"""Platform 0001: the platform indexes and the default plan catalog.

Delegates to the live definitions (``PLATFORM_INDEXES``,
``ensure_default_plans``), which ``Runtime.start`` also applies, so this
is a no-op on a platform database that was started before migrations
existed. Later index or plan changes get their own migration.
"""

from __future__ import annotations

from tenancy.indexes import apply_indexes
from tenancy.mongo_types import Database
from tenancy.plans import ensure_default_plans
from tenancy.platform import PLATFORM_INDEXES, PlatformStore

DESCRIPTION = "platform indexes (tenants, users, plans) and the default plans"


async def up(db: Database) -> None:
    """Create the platform indexes; insert the default plans when there are none."""
    for collection, indexes in PLATFORM_INDEXES.items():
        await apply_indexes(db[collection], indexes)
    await ensure_default_plans(PlatformStore(db))


# Dropping the platform's indexes or plans would break every tenant.
down = None
