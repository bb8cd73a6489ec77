"""Platform 0005: the billing collections' indexes (issue 10, Stripe).

``stripe_events`` (the webhook inbox: its unique ``_id`` is the Stripe event
id, so a delivery is stored once; ``due`` serves the billing loop's retries),
``invoices`` (per tenant and per status, newest first) and
``billing_accounts`` (by Stripe customer; by the end of the grace period).
``billing_requests`` (idempotency keys) needs only its ``_id``.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from tenancy.indexes import apply_indexes
from tenancy.mongo_types import Database

DESCRIPTION = "billing: stripe_events inbox, invoices, billing_accounts indexes"

#: As ``billing.store.BILLING_INDEXES`` was when this migration was written (a test
#: keeps them equal; a later change of the indexes is a later migration).
BILLING_INDEXES: dict[str, list[IndexModel]] = {
    "stripe_events": [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("received_at", DESCENDING)], name="received"),
    ],
    "invoices": [
        IndexModel([("tenant_id", ASCENDING), ("created", DESCENDING)], name="tenant_created"),
        IndexModel([("status", ASCENDING), ("created", DESCENDING)], name="status_created"),
    ],
    "billing_accounts": [
        IndexModel([("customer_id", ASCENDING)], name="customer", sparse=True),
        IndexModel([("grace_until", ASCENDING)], name="grace", sparse=True),
    ],
}


async def up(db: Database) -> None:
    """Create the indexes (idempotent)."""
    for name, indexes in BILLING_INDEXES.items():
        await apply_indexes(db[name], indexes)


async def down(db: Database) -> None:
    """Drop the indexes; the documents stay (events, invoices and accounts are records)."""
    for name, indexes in BILLING_INDEXES.items():
        existing = await db[name].index_information()
        for index in indexes:
            if index.document["name"] in existing:
                await db[name].drop_index(index.document["name"])
