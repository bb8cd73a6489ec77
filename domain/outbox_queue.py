"""The relay's side of one tenant's outbox: claim, check, settle, retry.

Every function takes the tenant's database handle and works with
conditional single-document writes (``domain.outbox`` explains the statuses):

- a relay **claims** a due message with ``find_one_and_update``: the claim
  sets ``lease_owner`` and moves ``next_attempt_at`` to the end of the lease,
  so no other relay sees the message as due until the lease has expired (a
  crashed relay's messages are taken over then: at-least-once delivery);
  claiming a pending message counts an attempt;
- a claimed **staged** message is checked against its booking
  (:func:`resolve_staged`): promoted when the booking's write committed it,
  deleted when it never will be;
- the relay then **settles** the message: :func:`mark_sent`, :func:`mark_failed`
  (a later retry or ``dead``), :func:`cancel` (a stale reminder) or
  :func:`release` (shutdown before sending);
- staff put a ``dead`` message back with :func:`retry_notification`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pymongo import ASCENDING, ReturnDocument

from domain.booking_rules import OPEN_STATUSES
from domain.collections import BOOKINGS, LEGACY_NOTIFICATIONS, NOTIFICATION_OUTBOX
from domain.outbox import (
    CANCELLED,
    COMMIT_FIELD,
    DEAD,
    DUE_STATUSES,
    PENDING,
    SENT,
    STAGED,
    STAGED_ABANDON,
    STAGED_CHECK,
    Outbox,
)
from tenancy.errors import AppError, ErrorCode, not_found
from tenancy.models import utcnow
from tenancy.mongo_types import Database

StagedOutcome = Literal["promoted", "deleted", "waiting"]


async def claim(
    db: Database, status: str, owner: str, lease: timedelta, now: datetime
) -> dict[str, Any] | None:
    """Claim the most overdue message of ``status`` (``staged`` or ``pending``), or ``None``.

    Args:
        owner: the relay's id, stored as ``lease_owner``.
        lease: how long the claim lasts; the message is due again after it.

    A pending message's ``attempts`` grows by one (also when the relay then
    crashes, so a message that crashes relays ends ``dead``).
    """
    doc: dict[str, Any] | None = await db[NOTIFICATION_OUTBOX].find_one_and_update(
        {"status": status, "next_attempt_at": {"$lte": now}},
        _claim_update(status, owner, lease, now),
        sort=[("next_attempt_at", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )
    return doc


async def due_ids(db: Database, status: str, now: datetime, limit: int) -> list[str]:
    """Up to ``limit`` ids of messages of ``status`` due by ``now``, most overdue first.

    A hint, not a claim: :func:`claim_one` claims each (another relay may be
    first). One query for many messages: a claim by ``_id`` is cheap, a
    search for the next due message is not (on the embedded server above all).
    """
    cursor = (
        db[NOTIFICATION_OUTBOX]
        .find({"status": status, "next_attempt_at": {"$lte": now}}, {"_id": 1})
        .sort("next_attempt_at", ASCENDING)
        .limit(limit)
    )
    return [doc["_id"] async for doc in cursor]


async def claim_one(
    db: Database,
    message_id: str,
    status: str,
    owner: str,
    lease: timedelta,
    now: datetime,
) -> dict[str, Any] | None:
    """Claim one message by id if it is still of ``status`` and due (as :func:`claim`)."""
    doc: dict[str, Any] | None = await db[NOTIFICATION_OUTBOX].find_one_and_update(
        {"_id": message_id, "status": status, "next_attempt_at": {"$lte": now}},
        _claim_update(status, owner, lease, now),
        return_document=ReturnDocument.AFTER,
    )
    return doc


def _claim_update(status: str, owner: str, lease: timedelta, now: datetime) -> dict[str, Any]:
    update: dict[str, Any] = {
        "$set": {"lease_owner": owner, "next_attempt_at": now + lease, "updated_at": now}
    }
    if status == PENDING:
        update["$inc"] = {"attempts": 1}
    return update


async def resolve_staged(db: Database, message: dict[str, Any], now: datetime) -> StagedOutcome:
    """Decide a claimed staged message by its booking (``domain.outbox``, crash safety).

    Returns:
        ``promoted`` (the booking's write committed it: due at its ``due_at``),
        ``deleted`` (not committed and older than ``STAGED_ABANDON``: the change
        never happened), or ``waiting`` (not committed yet: checked again later).
    """
    outbox = db[NOTIFICATION_OUTBOX]
    committed = await db[BOOKINGS].count_documents(
        {"_id": message["booking_id"], COMMIT_FIELD: message["_id"]}, limit=1
    )
    if committed:
        await outbox.update_one(
            {"_id": message["_id"], "status": STAGED},
            {
                "$set": {
                    "status": PENDING,
                    "next_attempt_at": max(message["due_at"], now),
                    "lease_owner": None,
                    "updated_at": now,
                }
            },
        )
        return "promoted"
    if message["created_at"] <= now - STAGED_ABANDON:
        await outbox.delete_one({"_id": message["_id"], "status": STAGED})
        return "deleted"
    await outbox.update_one(
        {"_id": message["_id"], "status": STAGED},
        {"$set": {"next_attempt_at": now + STAGED_CHECK, "lease_owner": None, "updated_at": now}},
    )
    return "waiting"


async def reminder_is_current(db: Database, message: dict[str, Any]) -> bool:
    """True when the booking a reminder names is still open at the start it reminds of."""
    booking = await db[BOOKINGS].find_one(
        {"_id": message["booking_id"]}, {"status": 1, "starts_at": 1}
    )
    return (
        booking is not None
        and booking.get("status") in OPEN_STATUSES
        and booking.get("starts_at") == message.get("appointment_at")
    )


async def mark_sent(db: Database, message_id: str, provider_message_id: str, now: datetime) -> None:
    """Record a delivery: ``sent``, when, and the provider's message id.

    Also when this relay's lease had expired meanwhile (the message did go out).
    """
    await db[NOTIFICATION_OUTBOX].update_one(
        {"_id": message_id, "status": PENDING},
        {
            "$set": {
                "status": SENT,
                "sent_at": now,
                "provider_message_id": provider_message_id,
                "lease_owner": None,
                "updated_at": now,
            }
        },
    )


async def mark_failed(
    db: Database,
    message_id: str,
    owner: str,
    error: str,
    now: datetime,
    retry_at: datetime | None,
) -> bool:
    """Record a failed attempt: due again at ``retry_at``, or ``dead`` when it is ``None``.

    Only while ``owner`` still holds the lease (a relay that took over decides
    then). Returns whether the message was updated.
    """
    changes: dict[str, Any] = {
        "last_error": error[:1000],
        "lease_owner": None,
        "updated_at": now,
    }
    if retry_at is None:
        changes["status"] = DEAD
    else:
        changes["next_attempt_at"] = retry_at
    result = await db[NOTIFICATION_OUTBOX].update_one(
        {"_id": message_id, "status": PENDING, "lease_owner": owner}, {"$set": changes}
    )
    return result.modified_count == 1


async def cancel(db: Database, message_id: str, reason: str, now: datetime) -> None:
    """Cancel an unsent message (a reminder whose booking was cancelled or moved)."""
    await db[NOTIFICATION_OUTBOX].update_one(
        {"_id": message_id, "status": {"$in": list(DUE_STATUSES)}},
        {
            "$set": {
                "status": CANCELLED,
                "cancel_reason": reason,
                "lease_owner": None,
                "updated_at": now,
            }
        },
    )


async def release(db: Database, message_id: str, owner: str, now: datetime) -> None:
    """Give a claimed message back unsent (shutdown): due now, its attempt not counted."""
    await db[NOTIFICATION_OUTBOX].update_one(
        {"_id": message_id, "status": PENDING, "lease_owner": owner},
        {
            "$set": {"next_attempt_at": now, "lease_owner": None, "updated_at": now},
            "$inc": {"attempts": -1},
        },
    )


async def next_due(db: Database) -> datetime | None:
    """When the tenant's next message falls due (staged or pending), or ``None``."""
    doc = await db[NOTIFICATION_OUTBOX].find_one(
        {"status": {"$in": list(DUE_STATUSES)}},
        {"next_attempt_at": 1},
        sort=[("next_attempt_at", ASCENDING)],
    )
    return doc["next_attempt_at"] if doc else None


async def retry_dead(db: Database, message_id: str, now: datetime) -> dict[str, Any] | None:
    """Put a ``dead`` message back in the queue (due now, attempts from zero).

    Returns the updated message, or ``None`` when no dead message has this id.
    Its ``last_error`` stays until the next attempt settles.
    """
    doc: dict[str, Any] | None = await db[NOTIFICATION_OUTBOX].find_one_and_update(
        {"_id": message_id, "status": DEAD},
        {
            "$set": {
                "status": PENDING,
                "next_attempt_at": now,
                "attempts": 0,
                "lease_owner": None,
                "updated_at": now,
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    return doc


async def retry_notification(outbox: Outbox, message_id: str) -> dict[str, Any]:
    """Staff's ``retryNotification``: a ``dead`` message is queued again, due now.

    The tenant is marked due on the platform, so a relay picks it up at once.

    Raises:
        AppError: NOT_FOUND (no message with this id), INVALID_TRANSITION (the
        message is not dead, or it is an imported legacy notification, which
        is history and never sent again).
    """
    now = utcnow()
    doc = await retry_dead(outbox.db, message_id, now)
    if doc is None:
        current = await outbox.collection.find_one({"_id": message_id}, {"status": 1})
        if current is not None:
            raise AppError(
                ErrorCode.INVALID_TRANSITION,
                f"only dead notifications can be retried; this one is {current['status']}",
            )
        legacy = await outbox.db[LEGACY_NOTIFICATIONS].find_one({"_id": message_id}, {"_id": 1})
        if legacy is not None:
            raise AppError(
                ErrorCode.INVALID_TRANSITION,
                "imported legacy notifications are history; they are not sent again",
            )
        raise not_found("notification", message_id)
    await outbox.mark_due(outbox.tenant_id, now)
    return doc
