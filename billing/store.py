"""The billing collections of the platform database (reached through ``PlatformStore``).

- ``stripe_events``: the webhook inbox, one document per Stripe event id
  (``_id``): the raw payload, ``status`` (``pending``, ``processed``,
  ``failed``), ``attempts``, ``last_error``, ``next_attempt_at`` and a lease
  (``lease_until``) so one worker processes an event at a time.
- ``invoices``: one document per Stripe invoice (``_id``), kept from the
  invoice Stripe returns when its events arrive.
- ``billing_accounts``: one document per tenant (``_id`` = tenant id): its
  Stripe customer and subscription, ``past_due_since`` / ``grace_until``, and
  the per-tenant processing lock (``lock_owner``, ``lock_until``).
- ``billing_requests``: idempotency keys, written before the first attempt
  of a Stripe POST (``_id`` = what the request is for).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from tenancy.indexes import apply_indexes
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.pagination import Page, fetch_page
from tenancy.platform import PlatformStore

STRIPE_EVENTS = "stripe_events"
INVOICES = "invoices"
BILLING_ACCOUNTS = "billing_accounts"
BILLING_REQUESTS = "billing_requests"

PENDING = "pending"
PROCESSED = "processed"
FAILED = "failed"

#: The indexes of the billing collections (platform migration 0005 creates them).
BILLING_INDEXES: dict[str, list[IndexModel]] = {
    STRIPE_EVENTS: [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("received_at", DESCENDING)], name="received"),
    ],
    INVOICES: [
        IndexModel([("tenant_id", ASCENDING), ("created", DESCENDING)], name="tenant_created"),
        IndexModel([("status", ASCENDING), ("created", DESCENDING)], name="status_created"),
    ],
    BILLING_ACCOUNTS: [
        IndexModel([("customer_id", ASCENDING)], name="customer", sparse=True),
        IndexModel([("grace_until", ASCENDING)], name="grace", sparse=True),
    ],
}


class BillingStore:
    """Queries and writes of the billing collections.

    Args:
        store: the platform store; its ``billing_collections()`` is the database.
    """

    def __init__(self, store: PlatformStore) -> None:
        self._store = store

    @property
    def db(self) -> Database:
        return self._store.billing_collections()

    async def ensure_indexes(self) -> None:
        """Create the billing indexes (idempotent)."""
        for name, indexes in BILLING_INDEXES.items():
            await apply_indexes(self.db[name], indexes)

    # -- idempotency keys --------------------------------------------------

    async def idempotency_key(self, purpose: str) -> str:
        """The idempotency key of the Stripe request ``purpose`` (created and stored first).

        The same ``purpose`` always gets the same key, so a request retried
        after a crash or a lost answer is the same request to Stripe.
        Callers make ``purpose`` unique per intended request (e.g.
        ``customer:<tenant id>``, ``checkout:<tenant>:<nonce>``).
        """
        key = uuid.uuid4().hex
        try:
            await self.db[BILLING_REQUESTS].insert_one(
                {"_id": purpose, "key": key, "created_at": utcnow()}
            )
        except DuplicateKeyError:
            doc = await self.db[BILLING_REQUESTS].find_one({"_id": purpose})
            assert doc is not None
            return str(doc["key"])
        return key

    async def idempotency_keys(self) -> dict[str, str]:
        """Every stored purpose -> key (tests and diagnostics)."""
        return {d["_id"]: d["key"] async for d in self.db[BILLING_REQUESTS].find({})}

    # -- accounts ----------------------------------------------------------

    async def account(self, tenant_id: ObjectId) -> dict[str, Any] | None:
        return await self.db[BILLING_ACCOUNTS].find_one({"_id": tenant_id})

    async def account_by_customer(self, customer_id: str) -> dict[str, Any] | None:
        return await self.db[BILLING_ACCOUNTS].find_one({"customer_id": customer_id})

    async def set_account(self, tenant_id: ObjectId, fields: dict[str, Any]) -> None:
        """``$set`` fields of a tenant's account (created if missing)."""
        try:
            await self.db[BILLING_ACCOUNTS].update_one(
                {"_id": tenant_id}, {"$set": {**fields, "updated_at": utcnow()}}, upsert=True
            )
        except DuplicateKeyError:  # two first writes raced: it exists now
            await self.db[BILLING_ACCOUNTS].update_one(
                {"_id": tenant_id}, {"$set": {**fields, "updated_at": utcnow()}}
            )

    async def start_grace(self, tenant_id: ObjectId, now: datetime, grace: timedelta) -> datetime:
        """Record that the tenant became past due at ``now`` unless it already was.

        Returns the end of its grace period (the first ``past_due_since`` + ``grace``).
        """
        await self.set_account(tenant_id, {})
        await self.db[BILLING_ACCOUNTS].update_one(
            {"_id": tenant_id, "past_due_since": None},
            {"$set": {"past_due_since": now, "grace_until": now + grace}},
        )
        account = await self.account(tenant_id)
        assert account is not None
        return account["grace_until"]  # type: ignore[no-any-return]

    async def end_grace(self, tenant_id: ObjectId) -> None:
        """The tenant is paid up (or cancelled): no grace period runs."""
        await self.db[BILLING_ACCOUNTS].update_one(
            {"_id": tenant_id}, {"$set": {"past_due_since": None, "grace_until": None}}
        )

    async def grace_expired(self, now: datetime) -> list[ObjectId]:
        """Tenants whose grace period ended by ``now``."""
        cursor = self.db[BILLING_ACCOUNTS].find({"grace_until": {"$lte": now}}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def cancellations(self) -> dict[ObjectId, datetime]:
        """Tenant id -> when its subscription ended, for every account with one."""
        query = {"cancelled_at": {"$ne": None}}
        cursor = self.db[BILLING_ACCOUNTS].find(query, {"cancelled_at": 1})
        return {doc["_id"]: doc["cancelled_at"] async for doc in cursor}

    async def lock_tenant(self, tenant_id: ObjectId, owner: str, seconds: float) -> bool:
        """Take the tenant's processing lock (one event of a tenant at a time); False if held."""
        now = utcnow()
        await self.set_account(tenant_id, {})
        doc = await self.db[BILLING_ACCOUNTS].find_one_and_update(
            {
                "_id": tenant_id,
                "$or": [{"lock_until": None}, {"lock_until": {"$lte": now}}],
            },
            {"$set": {"lock_owner": owner, "lock_until": now + timedelta(seconds=seconds)}},
            return_document=ReturnDocument.AFTER,
        )
        return doc is not None

    async def unlock_tenant(self, tenant_id: ObjectId, owner: str) -> None:
        await self.db[BILLING_ACCOUNTS].update_one(
            {"_id": tenant_id, "lock_owner": owner},
            {"$set": {"lock_owner": None, "lock_until": None}},
        )

    # -- the webhook inbox ---------------------------------------------------

    async def store_event(self, event: dict[str, Any], payload: str) -> bool:
        """Insert an event under its id; False when it was stored before (a duplicate).

        One insert under the unique ``_id``: of concurrent deliveries exactly one wins.
        """
        now = utcnow()
        obj = (event.get("data") or {}).get("object") or {}
        try:
            await self.db[STRIPE_EVENTS].insert_one(
                {
                    "_id": event["id"],
                    "type": event.get("type"),
                    "object_id": obj.get("id"),
                    "payload": payload,
                    "received_at": now,
                    "status": PENDING,
                    "attempts": 0,
                    "last_error": None,
                    "next_attempt_at": now,
                    "lease_until": None,
                    "processed_at": None,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def claim_event(self, event_id: str, owner: str, seconds: float) -> dict[str, Any] | None:
        """Lease an unprocessed event for processing, or ``None`` (processed, or leased)."""
        now = utcnow()
        return await self.db[STRIPE_EVENTS].find_one_and_update(
            {
                "_id": event_id,
                "status": {"$ne": PROCESSED},
                "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}],
            },
            {"$set": {"lease_until": now + timedelta(seconds=seconds), "lease_owner": owner}},
            return_document=ReturnDocument.AFTER,
        )

    async def finish_event(self, event_id: str, owner: str) -> None:
        await self.db[STRIPE_EVENTS].update_one(
            {"_id": event_id, "lease_owner": owner},
            {
                "$set": {
                    "status": PROCESSED,
                    "processed_at": utcnow(),
                    "lease_until": None,
                    "last_error": None,
                },
                "$inc": {"attempts": 1},
            },
        )

    async def fail_event(
        self, event_id: str, owner: str, error: str, retry_at: datetime, *, final: bool = False
    ) -> None:
        """Record a failed attempt; due again at ``retry_at`` (``final``: not retried)."""
        await self.db[STRIPE_EVENTS].update_one(
            {"_id": event_id, "lease_owner": owner},
            {
                "$set": {
                    "status": FAILED,
                    "last_error": error[:500],
                    "next_attempt_at": None if final else retry_at,
                    "lease_until": None,
                },
                "$inc": {"attempts": 1},
            },
        )

    async def release_event(self, event_id: str, owner: str, retry_at: datetime) -> None:
        """Give an event back without counting an attempt (its tenant was busy)."""
        await self.db[STRIPE_EVENTS].update_one(
            {"_id": event_id, "lease_owner": owner},
            {"$set": {"lease_until": None, "next_attempt_at": retry_at}},
        )

    async def due_events(self, now: datetime, limit: int = 100) -> list[str]:
        """Ids of unprocessed events due for a (re)try, oldest first."""
        cursor = (
            self.db[STRIPE_EVENTS]
            .find(
                {"status": {"$in": [PENDING, FAILED]}, "next_attempt_at": {"$lte": now}},
                {"_id": 1},
            )
            .sort("next_attempt_at", ASCENDING)
            .limit(limit)
        )
        return [doc["_id"] async for doc in cursor]

    async def event(self, event_id: str) -> dict[str, Any] | None:
        return await self.db[STRIPE_EVENTS].find_one({"_id": event_id})

    async def events(self, status: str | None = None) -> list[dict[str, Any]]:
        """Inbox entries (optionally of one status), newest first, without payloads."""
        query = {"status": status} if status else {}
        cursor = self.db[STRIPE_EVENTS].find(query, {"payload": 0}).sort("received_at", -1)
        return [doc async for doc in cursor]

    # -- invoices ----------------------------------------------------------

    async def upsert_invoice(self, doc: dict[str, Any]) -> None:
        """Keep Stripe's current version of an invoice (``_id`` = invoice id)."""
        await self.db[INVOICES].update_one(
            {"_id": doc["_id"]}, {"$set": {**doc, "updated_at": utcnow()}}, upsert=True
        )

    async def invoices_page(
        self,
        *,
        tenant_id: ObjectId | None,
        status: str | None,
        first: int,
        after: str | None,
    ) -> Page:
        """Invoices newest first (keyset pages), of one tenant (``None``: all) and status.

        Raises:
            AppError(VALIDATION_FAILED) for a forged ``after`` cursor.
        """
        query: dict[str, Any] = {}
        if tenant_id is not None:
            query["tenant_id"] = tenant_id
        if status:
            query["status"] = status
        return await fetch_page(
            self.db[INVOICES],
            query,
            sort_name="invoices",
            sort=[("created", DESCENDING), ("_id", DESCENDING)],
            first=first,
            after=after,
        )
