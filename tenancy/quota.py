"""Atomic plan-limit reservations kept in a ``counters`` collection.

Customers are counted in the tenant database (counter ``customers``), users
in the platform database (counter ``users:<tenant id>``).

``reserve`` increments a counter only while it is below the limit, in one
conditional update, so concurrent creates cannot overshoot a plan limit
(a read-then-write check could). ``release`` gives a unit back.
"""

from __future__ import annotations

from contextlib import suppress

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from tenancy.mongo_types import Database

COUNTERS = "counters"  # the same collection name in the platform and tenant databases


async def reserve(db: Database, counter: str, limit: int | None) -> bool:
    """Take one unit of ``counter``; False when the limit is reached (``None``: unlimited)."""
    if limit is None:
        await db[COUNTERS].update_one({"_id": counter}, {"$inc": {"value": 1}}, upsert=True)
        return True
    if limit <= 0:
        # The upsert below would create the counter at 1, above a zero limit.
        return False
    try:
        doc = await db[COUNTERS].find_one_and_update(
            {"_id": counter, "value": {"$lt": limit}},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError:
        # The counter exists and is at the limit, so the upsert tried to insert a second one.
        return False
    return doc is not None


async def release(db: Database, counter: str) -> None:
    """Give one unit back (after a failed insert or a delete)."""
    await db[COUNTERS].update_one({"_id": counter, "value": {"$gt": 0}}, {"$inc": {"value": -1}})


async def set_usage(db: Database, counter: str, value: int) -> None:
    """Set a counter to a recounted value (seeding, imports, repairs)."""
    await db[COUNTERS].update_one({"_id": counter}, {"$set": {"value": value}}, upsert=True)


async def ensure_counter(db: Database, counter: str, current: int) -> None:
    """Create ``counter`` at ``current`` if it does not exist yet (first use on old data)."""
    with suppress(DuplicateKeyError):  # created concurrently by another request: same value
        await db[COUNTERS].update_one(
            {"_id": counter}, {"$setOnInsert": {"value": current}}, upsert=True
        )


async def usage(db: Database, counter: str) -> int:
    doc = await db[COUNTERS].find_one({"_id": counter})
    return int(doc["value"]) if doc else 0
