"""Platform 0004: ``notification_due``, the record of tenants whose outbox has due messages.

Booking operations mark their tenant there (``PlatformStore.mark_notifications_due``)
and outbox relays claim tenants from it by due time, so a relay reads the
databases of tenants with due messages only, never every tenant database.
The ``due`` index serves that claim. ``PLATFORM_INDEXES`` holds the same
index, which ``Runtime.start`` ensures on every start.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from tenancy.indexes import apply_indexes
from tenancy.mongo_types import Database

DESCRIPTION = "notification_due: tenants with due notifications, by due time"

INDEXES = [IndexModel([("due_at", ASCENDING)], name="due")]


async def up(db: Database) -> None:
    """Create the collection's index (idempotent)."""
    await apply_indexes(db["notification_due"], INDEXES)


async def down(db: Database) -> None:
    """Drop the index; the records stay (they say which tenants have messages to send)."""
    if "due" in await db["notification_due"].index_information():
        await db["notification_due"].drop_index("due")
