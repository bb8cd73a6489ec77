"""Collections and indexes of a tenant database.

Correctness rules live in these indexes rather than in reads before writes:
case-insensitive customer email uniqueness, one booking per resource slot,
unique confirmation numbers and idempotency keys.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from tenancy.indexes import apply_indexes
from tenancy.mongo_types import Database

CUSTOMERS = "customers"
SERVICES = "services"
LOCATIONS = "locations"
BOOKINGS = "bookings"
BOOKING_SLOTS = "booking_slots"
REFERRAL_CODES = "referral_codes"
COUNTERS = "counters"
ACTIVITY_LOG = "activity_log"
#: Messages to send (issue 9 calls it the ``outbox``): ``domain.outbox``.
NOTIFICATION_OUTBOX = "notification_outbox"
STAFF = "staff"
#: Notifications of the legacy clinics system, imported as history (never sent again).
LEGACY_NOTIFICATIONS = "notifications"

_IS_STRING = {"$type": "string"}

TENANT_INDEXES: dict[str, list[IndexModel]] = {
    CUSTOMERS: [
        # Soft-deleted customers drop email_key, which frees the address.
        IndexModel(
            [("email_key", ASCENDING)],
            unique=True,
            partialFilterExpression={"email_key": _IS_STRING},
            name="email_unique",
        ),
        IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created"),
        IndexModel([("name_key", ASCENDING), ("_id", ASCENDING)], name="name"),
        IndexModel([("status", ASCENDING), ("created_at", DESCENDING)], name="status"),
        IndexModel([("tags", ASCENDING)], name="tags"),
    ],
    SERVICES: [
        IndexModel([("code", ASCENDING)], unique=True, name="code_unique"),
        IndexModel([("active", ASCENDING), ("name", ASCENDING)], name="active_name"),
    ],
    LOCATIONS: [IndexModel([("name", ASCENDING)], name="name")],
    BOOKINGS: [
        IndexModel([("confirmation_number", ASCENDING)], unique=True, name="confirmation_unique"),
        IndexModel(
            [("idempotency_key", ASCENDING)],
            unique=True,
            partialFilterExpression={"idempotency_key": _IS_STRING},
            name="idempotency_unique",
        ),
        IndexModel([("starts_at", DESCENDING), ("_id", DESCENDING)], name="starts"),
        IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created"),
        IndexModel([("status", ASCENDING), ("starts_at", DESCENDING)], name="status_starts"),
        IndexModel([("customer_id", ASCENDING), ("starts_at", DESCENDING)], name="customer"),
        IndexModel([("service_id", ASCENDING), ("starts_at", DESCENDING)], name="service"),
        # Issue 8: a resource's bookings of a range (availableSlots).
        IndexModel([("location_id", ASCENDING), ("starts_at", ASCENDING)], name="location_starts"),
        IndexModel([("staff_id", ASCENDING), ("starts_at", ASCENDING)], name="staff_starts"),
    ],
    # One document per (resource, slot start): the unique index is what makes
    # two overlapping bookings of one resource impossible.
    BOOKING_SLOTS: [
        IndexModel([("resource", ASCENDING), ("slot", ASCENDING)], unique=True, name="slot_unique"),
        IndexModel([("booking_id", ASCENDING)], name="booking"),
    ],
    REFERRAL_CODES: [
        IndexModel([("code", ASCENDING)], unique=True, name="code_unique"),
        # Case-insensitive uniqueness and lookup (ReferralCodeDocument.to_mongo sets code_key).
        IndexModel(
            [("code_key", ASCENDING)],
            unique=True,
            partialFilterExpression={"code_key": _IS_STRING},
            name="code_key_unique",
        ),
    ],
    ACTIVITY_LOG: [IndexModel([("at", DESCENDING)], name="at")],
    NOTIFICATION_OUTBOX: [
        # The relay's claim: status "pending"/"staged" and next_attempt_at passed.
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("booking_id", ASCENDING), ("created_at", ASCENDING)], name="booking"),
        IndexModel(
            [("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
            name="status_created",
        ),
        IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created"),
    ],
    STAFF: [
        IndexModel([("name", ASCENDING), ("_id", ASCENDING)], name="name"),
        IndexModel([("active", ASCENDING), ("name", ASCENDING)], name="active_name"),
        IndexModel([("user_id", ASCENDING)], name="user"),
    ],
    LEGACY_NOTIFICATIONS: [IndexModel([("booking_id", ASCENDING)], name="booking")],
}


async def ensure_tenant_schema(db: Database) -> None:
    """Create the tenant collections and indexes in ``db`` (idempotent)."""
    existing = set(await db.list_collection_names())
    for name in (*TENANT_INDEXES, COUNTERS):
        if name not in existing:
            await db.create_collection(name)
    for name, indexes in TENANT_INDEXES.items():
        await apply_indexes(db[name], indexes)
