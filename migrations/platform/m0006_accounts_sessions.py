"""Platform 0006: accounts (issue 11): login sessions, refresh tokens, audit-log and flag indexes.

- ``sessions`` (one per login: a refresh-token family) and ``refresh_tokens``
  (SHA-256 digests only): by user / session, and removed by the server's TTL
  monitor once expired.
- ``audit_log``: newest first per tenant, per action and per actor (the
  ``auditLog`` query's filters).
- ``database_pool``: ready databases per cluster (``tenancy.database_pool``).
- ``feature_flags``: the unique ``key`` (already created by 0002 for the
  legacy import; repeated here, idempotent).
- ``users``: ``token_version`` 0, ``email_verified`` true and
  ``invitation_pending`` false where missing (users from before accounts
  existed are verified, their tokens carry version 0).

``PLATFORM_INDEXES`` holds the same indexes, which ``Runtime.start`` ensures.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from tenancy.indexes import apply_indexes
from tenancy.mongo_types import Database

DESCRIPTION = "sessions and refresh tokens, audit_log and feature_flags indexes, user token state"

INDEXES: dict[str, list[IndexModel]] = {
    "sessions": [
        IndexModel([("user_id", ASCENDING)], name="user"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_ttl"),
    ],
    "refresh_tokens": [
        IndexModel([("session_id", ASCENDING)], name="session"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_ttl"),
    ],
    "audit_log": [
        IndexModel([("tenant", ASCENDING), ("_id", DESCENDING)], name="tenant_id_desc"),
        IndexModel([("action", ASCENDING), ("_id", DESCENDING)], name="action_id_desc"),
        IndexModel([("actor", ASCENDING), ("_id", DESCENDING)], name="actor_id_desc"),
    ],
    "feature_flags": [IndexModel([("key", ASCENDING)], unique=True, name="key_unique")],
    "database_pool": [
        IndexModel([("cluster", ASCENDING), ("status", ASCENDING)], name="cluster_status")
    ],
}

_BACKFILL = {"token_version": 0, "email_verified": True, "invitation_pending": False}


async def up(db: Database) -> None:
    """Create the indexes and backfill the users' token state (idempotent)."""
    for collection, indexes in INDEXES.items():
        await apply_indexes(db[collection], indexes)
    for field, value in _BACKFILL.items():
        await db["users"].update_many({field: {"$exists": False}}, {"$set": {field: value}})


async def down(db: Database) -> None:
    """Drop this migration's indexes (sessions keep working without them, only slower)."""
    for collection, indexes in INDEXES.items():
        if collection == "feature_flags":
            continue  # 0002's index
        existing = await db[collection].index_information()
        for index in indexes:
            if index.document["name"] in existing:
                await db[collection].drop_index(index.document["name"])
