"""Tenant 0002: backfill ``customers.name_key`` and recount the ``customers`` counter.

Customers written by imports or by older code may lack ``name_key`` (the
casefolded name that sorting by name and the ``name`` index use), and the
``customers`` counter that enforces the plan's ``max_customers`` may not
match the live customers. Both steps are idempotent.

The pattern for data migrations: select only documents that still need the
change (``name_key: None`` matches missing and null), write each with a
filter that re-checks that condition (so a concurrent API write, which sets
``name_key`` itself, wins).

One ``update_one`` per document rather than ``bulk_write``: the mock's
``bulk_write`` hits a RecursionError once a process has opened about a
thousand collection handles (pymongo-async-mock 0.1.3 re-wraps
``BulkOperationBuilder.add_update`` per collection).

The recount is exact when the API is idle; a customer created or deleted
during the count can leave it one off, as any recount would.
"""

from __future__ import annotations

from domain.collections import COUNTERS, CUSTOMERS
from tenancy.mongo_types import Database

DESCRIPTION = "backfill customers.name_key; recount the customers counter"


async def up(db: Database) -> None:
    """Set ``name_key`` where missing; set counter ``customers`` to the live count."""
    cursor = db[CUSTOMERS].find(
        {"name_key": None, "name": {"$type": "string"}}, projection={"name": 1}
    )
    async for doc in cursor:
        await db[CUSTOMERS].update_one(
            {"_id": doc["_id"], "name_key": None},
            {"$set": {"name_key": doc["name"].strip().casefold()}},
        )
    live = await db[CUSTOMERS].count_documents({"status": {"$ne": "deleted"}})
    await db[COUNTERS].update_one({"_id": "customers"}, {"$set": {"value": live}}, upsert=True)


async def down(db: Database) -> None:
    """Nothing to undo: ``name_key`` and the recount are right for the 0001 code as well."""
    return None
