"""Tenant 0005: the indexes of the notification outbox and of the legacy notification history.

The outbox (``notification_outbox``, issue 9) keeps its ``due`` index (status,
next_attempt_at: the relay's claim) and gains ``booking`` (a booking's
messages, batched for a page of bookings), ``status_created`` and ``created``
(the staff's outbox list, newest first, by status or not). The legacy
``notifications`` collection (imported history) gets ``booking``.

The index list is written out here rather than read from
``domain.collections``, so a later change there ships as its own migration.
Idempotent (``create_index`` of an existing index is a no-op).
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from tenancy.indexes import apply_indexes
from tenancy.mongo_types import Database

DESCRIPTION = "notification outbox indexes (due, booking, status/created) and legacy history"

INDEXES: dict[str, list[IndexModel]] = {
    "notification_outbox": [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("booking_id", ASCENDING), ("created_at", ASCENDING)], name="booking"),
        IndexModel(
            [("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
            name="status_created",
        ),
        IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created"),
    ],
    "notifications": [IndexModel([("booking_id", ASCENDING)], name="booking")],
}


async def up(db: Database) -> None:
    """Create the indexes that are missing."""
    for collection, indexes in INDEXES.items():
        await apply_indexes(db[collection], indexes)


async def down(db: Database) -> None:
    """Drop the indexes this migration added (``due`` predates it; the data stays)."""
    for collection, indexes in INDEXES.items():
        existing = await db[collection].index_information()
        for index in indexes:
            name = index.document["name"]
            if name != "due" and name in existing:
                await db[collection].drop_index(name)
