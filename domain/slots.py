"""Slot claims: how one resource is never booked twice at one time.

A booking claims, on each resource it uses (its location, its staff member,
or else its service: README, "Scheduling"), one ``booking_slots`` document
per ``SLOT_MINUTES`` grid cell its span covers (buffers included). A
resource has seats when a service takes several customers at once: seat 0
is the resource itself (``location:<id>``), seat k is ``location:<id>#seat<k>``;
a booking takes the first seat free over its whole span. The unique
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


def staff_resource(staff_id: Any) -> str:
    """The resource key of a staff member (``staff:<id>``)."""
    return f"staff:{staff_id}"


def service_resource(service_id: Any) -> str:
    """The resource key of a service booked without location or staff (``service:<id>``)."""
    return f"service:{service_id}"


def seat_resource(base: str, seat: int) -> str:
    """Seat ``seat`` of resource ``base``: the resource itself for seat 0, else ``base#seat<k>``."""
    return base if seat == 0 else f"{base}#seat{seat}"


def split_seat(resource: str) -> tuple[str, int]:
    """``(base, seat)`` of a claimed resource key (inverse of :func:`seat_resource`)."""
    base, sep, seat = resource.partition("#seat")
    return (base, int(seat)) if sep and seat.isdigit() else (resource, 0)


class SlotTaken(AppError):
    """Another booking holds a cell; ``holders`` are their booking ids (never shown to clients)."""

    def __init__(self, holders: list[Any], where: str = "at this location") -> None:
        super().__init__(
            ErrorCode.SLOT_TAKEN,
            f"that time is already booked {where}; choose another time",
            ["input", "startsAt"],
        )
        self.holders = holders


class BookingChanged(AppError):
    """A concurrent change of the same booking holds a cell this claim needs."""

    def __init__(self) -> None:
        super().__init__(
            ErrorCode.INVALID_TRANSITION, "the booking changed meanwhile; reload and retry"
        )


async def claim_slots(
    db: Database,
    booking_id: Any,
    resource: str,
    cells: list[datetime],
    own: frozenset[datetime] | None = None,
) -> list[datetime]:
    """Claim every cell of ``cells`` for ``booking_id``; all or nothing.

    Cells the booking already holds count as claimed, so claiming again
    (a resumed import) is harmless. A reschedule passes ``own``, the cells
    the booking held as it read it: a cell of the booking outside ``own``
    was inserted by a concurrent change of the same booking, which may
    still free it, so counting it as claimed could leave the winner of the
    race without it.

    Args:
        db: the tenant database.
        booking_id: the claiming booking's ``_id``.
        resource: e.g. :func:`location_resource`.
        cells: grid-cell starts in UTC (``booking_rules.slot_starts``).
        own: the booking's committed cells on ``resource``; None counts
            every cell of the booking as its own.
    Returns:
        The cells this call inserted, so that a caller that must undo its
        claim (a reschedule that lost a race) frees exactly those.
    Raises:
        SlotTaken (``SLOT_TAKEN``) when another booking holds any cell;
        BookingChanged (``INVALID_TRANSITION``) when a concurrent change of
        this booking holds one. The cells this call inserted are freed first.
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
    mine = {h["slot"] for h in holders if h["booking_id"] == booking_id}
    concurrent = own is not None and any(cell not in own and cell not in inserted for cell in mine)
    if not others and not concurrent:  # the conflicts were this booking's own cells
        missing = [cell for cell in cells if cell not in mine]
        return inserted + await claim_slots(db, booking_id, resource, missing, own)
    await release_slots(db, booking_id, resource, inserted)
    raise SlotTaken(others) if others else BookingChanged()


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


async def claim_seat(
    db: Database,
    booking_id: Any,
    base: str,
    capacity: int,
    cells: list[datetime],
    own: frozenset[tuple[str, datetime]] | None = None,
) -> tuple[str, list[datetime]]:
    """Claim ``cells`` on the first seat of ``base`` (of ``0 .. capacity - 1``) free for all.

    Seats are tried in order, each claim all or nothing, so two concurrent
    bookings of the last seat cannot both win (the unique index decides).
    ``own`` is the booking's committed ``(resource, cell)`` pairs, as for
    :func:`claim_slots`.

    Returns:
        The seat's resource key and the cells this call inserted.
    Raises:
        SlotTaken when every seat is held at some of the cells;
        BookingChanged as :func:`claim_slots`.
    """
    holders: list[Any] = []
    for seat in range(max(1, capacity)):
        resource = seat_resource(base, seat)
        mine = None if own is None else frozenset(c for r, c in own if r == resource)
        try:
            return resource, await claim_slots(db, booking_id, resource, cells, mine)
        except SlotTaken as taken:
            holders += taken.holders
    where = {"staff": "with this staff member", "service": "for this service"}
    kind = base.split(":")[0]
    raise SlotTaken(sorted(set(holders), key=str), where.get(kind, "at this location"))
