"""What was (or will be) sent: the outbox and the imported legacy notifications as one history.

The legacy clinics import (``tenantctl import-legacy legacy-clinics``) keeps
the old system's notifications, as they were, in the tenant collection
``notifications`` (``LEGACY_NOTIFICATIONS``): history only, never sent
again. :func:`for_bookings` reads both collections (two queries for any
number of bookings) and gives every entry the same shape,
:class:`NotificationRecord`; ``source`` tells them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from domain.collections import LEGACY_NOTIFICATIONS, NOTIFICATION_OUTBOX
from domain.outbox import STAGED
from tenancy.mongo_types import Database
from tenancy.pagination import Page, fetch_page

#: Legacy statuses and what they mean here: a legacy message is never re-sent.
LEGACY_STATUSES = {"sent": "sent", "failed": "failed", "pending": "never_sent"}
OUTBOX_SORT = [("created_at", -1), ("_id", -1)]


@dataclass(frozen=True)
class NotificationRecord:
    """One message in a booking's history.

    Attributes:
        status: ``pending`` (also while staged or leased), ``sent``, ``dead``,
            ``cancelled``; legacy entries: ``sent``, ``failed`` or
            ``never_sent`` (the old system had not sent it; it is not re-sent).
        source: ``outbox`` (this product) or ``legacy`` (imported).
    """

    id: str
    booking_id: Any
    kind: str
    channel: str
    status: str
    attempts: int
    recipient: str | None
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime | None
    source: Literal["outbox", "legacy"]


def from_outbox(doc: dict[str, Any]) -> NotificationRecord:
    """A ``notification_outbox`` document as a history record."""
    status = doc["status"]
    return NotificationRecord(
        id=str(doc["_id"]),
        booking_id=doc.get("booking_id"),
        kind=doc["kind"],
        channel=doc["channel"],
        status="pending" if status == STAGED else status,
        attempts=int(doc.get("attempts", 0)),
        recipient=doc.get("recipient"),
        last_error=doc.get("last_error"),
        sent_at=doc.get("sent_at"),
        next_attempt_at=doc.get("next_attempt_at") if status != "sent" else None,
        created_at=doc.get("created_at"),
        source="outbox",
    )


def from_legacy(doc: dict[str, Any]) -> NotificationRecord:
    """An imported legacy ``notifications`` document as a history record."""
    channel = str(doc.get("notification_type") or "email")
    recipient = doc.get("recipient_phone") if channel == "sms" else doc.get("recipient_email")
    return NotificationRecord(
        id=str(doc["_id"]),
        booking_id=doc.get("booking_id"),
        kind=str(doc.get("template_name") or "legacy"),
        channel=channel,
        status=LEGACY_STATUSES.get(str(doc.get("status")), "failed"),
        attempts=int(doc.get("retry_count") or 0),
        recipient=recipient,
        last_error=None,
        sent_at=doc.get("sent_at") if doc.get("status") == "sent" else None,
        next_attempt_at=None,
        created_at=doc.get("created_at"),
        source="legacy",
    )


async def for_bookings(
    db: Database, booking_ids: Sequence[Any]
) -> dict[Any, list[NotificationRecord]]:
    """Every notification of each booking, oldest first: outbox and legacy, two queries."""
    ids = list(booking_ids)
    found: dict[Any, list[NotificationRecord]] = {booking_id: [] for booking_id in ids}
    outbox = db[NOTIFICATION_OUTBOX].find({"booking_id": {"$in": ids}})
    async for doc in outbox:
        found.setdefault(doc["booking_id"], []).append(from_outbox(doc))
    legacy = db[LEGACY_NOTIFICATIONS].find({"booking_id": {"$in": ids}})
    async for doc in legacy:
        found.setdefault(doc["booking_id"], []).append(from_legacy(doc))
    for records in found.values():
        records.sort(key=lambda r: (r.created_at is None, r.created_at or datetime.min, r.id))
    return found


async def outbox_page(
    db: Database, statuses: Sequence[str] | None, first: int, after: str | None
) -> Page:
    """A page of the tenant's outbox, newest first, optionally of some statuses.

    ``pending`` includes staged messages (not yet committed). Documents are
    the raw outbox documents (``from_outbox`` turns them into records).

    Raises:
        AppError(VALIDATION_FAILED) for a forged ``after`` cursor.
    """
    query: dict[str, Any] = {}
    if statuses:
        wanted = set(statuses)
        if "pending" in wanted:
            wanted.add(STAGED)
        query["status"] = {"$in": sorted(wanted)}
    return await fetch_page(
        db[NOTIFICATION_OUTBOX],
        query,
        sort_name="outbox",
        sort=OUTBOX_SORT,
        first=first,
        after=after,
    )
