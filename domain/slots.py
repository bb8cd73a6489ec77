"""Slot claims: how one resource is never booked twice at one time.

A booking with a resource (today: a location) claims one ``booking_slots``
document per ``SLOT_MINUTES`` grid cell it covers. The unique
``(resource, slot)`` index lets exactly one booking hold a cell, so of two
overlapping claims one fails, without a transaction. Bookings made through
the API and bookings imported from legacy systems claim through these
functions alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from domain.collections import BOOKING_SLOTS
from domain.documents import BookingSlotDocument
from tenancy.errors import AppError, ErrorCode
from tenancy.mongo_types import Database


def location_resource(location_id: Any) -> str:
    """The resource key of a location (``location:<id>``)."""
    return f"location:{location_id}"


class SlotTaken(AppError):
    """Another booking holds a cell; ``holders`` are their booking ids (never shown to clients)."""

    def __init__(self, holders: list[Any]) -> None:
        super().__init__(
            ErrorCode.SLOT_TAKEN,
            "that time is already booked at this location; choose another time",
            ["input", "startsAt"],
        )
        self.holders = holders


async def claim_slots(
    db: Database, booking_id: Any, resource: str, cells: list[datetime]
) -> list[datetime]:
    """Claim every cell of ``cells`` for ``booking_id``; all or nothing.

    Cells the booking already holds count as claimed, so claiming again
    (a resumed import) is harmless.

    Args:
        db: the tenant database.
        booking_id: the claiming booking's ``_id``.
        resource: e.g. :func:`location_resource`.
        cells: grid-cell starts in UTC (``booking_rules.slot_starts``).
    Returns:
        The cells this call inserted, so that a caller that must undo its
        claim (a reschedule that lost a race) frees exactly those and never
        a cell a concurrent operation of the same booking inserted.
    Raises:
        SlotTaken (``SLOT_TAKEN``) when another booking holds any cell; the
        cells this call inserted are freed again first.
    """
    if not cells:
        return []
    docs = [
        BookingSlotDocument(resource=resource, slot=cell, booking_id=booking_id).to_mongo()
        for cell in cells
    ]
    try:
        await db[BOOKING_SLOTS].insert_many(docs, ordered=True)
        return list(cells)
    except (BulkWriteError, DuplicateKeyError) as exc:
        inserted = (
            list(cells[: exc.details.get("nInserted", 0)])
            if isinstance(exc, BulkWriteError)  # its details are the bulk result, never None
            else []
        )
    holders = (
        await db[BOOKING_SLOTS].find({"resource": resource, "slot": {"$in": cells}}).to_list(None)
    )
    others = sorted({h["booking_id"] for h in holders if h["booking_id"] != booking_id}, key=str)
    if not others:  # the conflicts were this booking's own cells: claim what is missing
        held = {h["slot"] for h in holders}
        missing = [cell for cell in cells if cell not in held]
        return inserted + await claim_slots(db, booking_id, resource, missing)
    await release_slots(db, booking_id, resource, inserted)
    raise SlotTaken(others)


async def release_slots(
    db: Database,
    booking_id: Any,
    resource: str | None = None,
    cells: list[datetime] | None = None,
) -> None:
    """Free cells of ``booking_id``: all of them, or ``cells`` of ``resource``."""
    query: dict[str, Any] = {"booking_id": booking_id}
    if cells is not None:
        if not cells:
            return
        query["resource"] = resource
        query["slot"] = {"$in": cells}
    await db[BOOKING_SLOTS].delete_many(query)
