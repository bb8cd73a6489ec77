"""Platform 0002: unique keys of the reference data, feature flags and audit log.

The legacy import (``tenantctl import-legacy legacy-crm``) fills
``global_countries``, ``global_currencies``, ``global_languages`` (by
``code``), ``global_cities`` (by name + country) and ``feature_flags`` (by
``key``); these unique indexes make a duplicate impossible even when two
imports run at once. The audit log gets an index for "latest first, per tenant".
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from tenancy.indexes import apply_indexes
from tenancy.mongo_types import Database

DESCRIPTION = "unique keys of global_* reference data and feature_flags; audit_log index"

INDEXES: dict[str, list[IndexModel]] = {
    "global_countries": [IndexModel([("code", ASCENDING)], unique=True, name="code_unique")],
    "global_currencies": [IndexModel([("code", ASCENDING)], unique=True, name="code_unique")],
    "global_languages": [IndexModel([("code", ASCENDING)], unique=True, name="code_unique")],
    "global_cities": [
        IndexModel(
            [("country", ASCENDING), ("name", ASCENDING)], unique=True, name="country_name_unique"
        )
    ],
    "feature_flags": [IndexModel([("key", ASCENDING)], unique=True, name="key_unique")],
    "audit_log": [IndexModel([("tenant", ASCENDING), ("at", DESCENDING)], name="tenant_at")],
}


async def up(db: Database) -> None:
    """Create the indexes (idempotent)."""
    for collection, indexes in INDEXES.items():
        await apply_indexes(db[collection], indexes)


async def down(db: Database) -> None:
    """Drop the indexes again (the data stays)."""
    for collection, indexes in INDEXES.items():
        for index in indexes:
            if index.document["name"] in await db[collection].index_information():
                await db[collection].drop_index(index.document["name"])
