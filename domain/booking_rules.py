"""Pure booking rules: the status machine, pricing and slot arithmetic.

The status machine follows the seeds' booking lifecycle
(pending -> confirmed -> scheduled -> in_progress -> completed; cancelled
from any open state; no_show after confirmation).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

SLOT_MINUTES = 5


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class BookingAction(StrEnum):
    CONFIRM = "confirm"
    SCHEDULE = "schedule"
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"
    NO_SHOW = "no_show"


OPEN_STATUSES = frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.SCHEDULED})

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[BookingAction, tuple[frozenset[BookingStatus], BookingStatus]] = {
    BookingAction.CONFIRM: (frozenset({BookingStatus.PENDING}), BookingStatus.CONFIRMED),
    BookingAction.SCHEDULE: (frozenset({BookingStatus.CONFIRMED}), BookingStatus.SCHEDULED),
    BookingAction.START: (
        frozenset({BookingStatus.CONFIRMED, BookingStatus.SCHEDULED}),
        BookingStatus.IN_PROGRESS,
    ),
    BookingAction.COMPLETE: (
        frozenset({BookingStatus.CONFIRMED, BookingStatus.SCHEDULED, BookingStatus.IN_PROGRESS}),
        BookingStatus.COMPLETED,
    ),
    BookingAction.CANCEL: (OPEN_STATUSES, BookingStatus.CANCELLED),
    BookingAction.NO_SHOW: (
        frozenset({BookingStatus.CONFIRMED, BookingStatus.SCHEDULED}),
        BookingStatus.NO_SHOW,
    ),
}

# Statuses whose bookings no longer hold their resource slots.
RELEASING_STATUSES = frozenset({BookingStatus.CANCELLED, BookingStatus.NO_SHOW})


def discount_minor(price_minor: int, discount_basis_points: int) -> int:
    """Discount in minor units, rounded half up; 1 basis point = 0.01 %.

    Integer arithmetic only: 185000 minor at 500 bp (5 %) -> 9250.
    """
    return (price_minor * discount_basis_points + 5000) // 10000


def slot_starts(starts_at: datetime, duration_minutes: int) -> list[datetime]:
    """The ``SLOT_MINUTES`` grid cells a booking covers (UTC datetimes).

    A booking from 10:02 for 30 minutes covers the cells 10:00 ... 10:30.
    """
    step = timedelta(minutes=SLOT_MINUTES)
    epoch_minutes = int(starts_at.timestamp() // 60)
    first = starts_at - timedelta(
        minutes=epoch_minutes % SLOT_MINUTES,
        seconds=starts_at.second,
        microseconds=starts_at.microsecond,
    )
    end = starts_at + timedelta(minutes=duration_minutes)
    cells = []
    cell = first
    while cell < end:
        cells.append(cell)
        cell += step
    return cells
