"""Tenant 0004: case-insensitive discount codes (``referral_codes.code_key``) and usage counts.

Referral codes written before discount codes (issue 8) lack ``code_key``
(the upper-case key that makes codes unique in any case and finds them) and
``uses`` (the bookings made with the code). This backfills both and then
creates the ``code_key_unique`` index.

Idempotent, and a concurrent API write wins: each document is written with
a filter that re-checks the missing field. Codes were already stored
upper-case under a unique index on ``code``, so their keys cannot collide.
"""

from __future__ import annotations

from domain.collections import REFERRAL_CODES, TENANT_INDEXES
from tenancy.indexes import apply_indexes
from tenancy.mongo_types import Database

DESCRIPTION = "referral_codes: backfill code_key and uses; unique index on code_key"


async def up(db: Database) -> None:
    """Set ``code_key`` (upper-case code) and ``uses`` (0) where missing; create the indexes."""
    codes = db[REFERRAL_CODES]
    async for doc in codes.find({"code_key": None, "code": {"$type": "string"}}, {"code": 1}):
        await codes.update_one(
            {"_id": doc["_id"], "code_key": None},
            {"$set": {"code_key": doc["code"].strip().upper()}},
        )
    await codes.update_many({"uses": None}, {"$set": {"uses": 0}})
    await apply_indexes(codes, TENANT_INDEXES[REFERRAL_CODES])


async def down(db: Database) -> None:
    """Drop the ``code_key_unique`` index; the backfilled fields are harmless to older code."""
    names = [index["name"] async for index in await db[REFERRAL_CODES].list_indexes()]
    if "code_key_unique" in names:
        await db[REFERRAL_CODES].drop_index("code_key_unique")
