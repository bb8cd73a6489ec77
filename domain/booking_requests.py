"""What callers ask of bookings: requests, filters, sort orders, and the time rules.

Appointment times carry a UTC offset, lie between 1970 and 2200 and start on
the ``SLOT_MINUTES`` grid (``booking_rules``), so slot cells are exact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, DESCENDING

from domain.booking_rules import SLOT_MINUTES, BookingStatus
from tenancy.errors import validation_error


class BookingSort(StrEnum):
    STARTS_AT_DESC = "starts_desc"
    STARTS_AT_ASC = "starts_asc"
    CREATED_AT_DESC = "created_desc"


SORTS: dict[BookingSort, list[tuple[str, int]]] = {
    BookingSort.STARTS_AT_DESC: [("starts_at", DESCENDING), ("_id", DESCENDING)],
    BookingSort.STARTS_AT_ASC: [("starts_at", ASCENDING), ("_id", ASCENDING)],
    BookingSort.CREATED_AT_DESC: [("created_at", DESCENDING), ("_id", DESCENDING)],
}


@dataclass
class InlineCustomer:
    name: str
    email: str
    phone: str | None = None


@dataclass
class BookingRequest:
    """Input of ``createBooking``. ``starts_at`` must carry a UTC offset."""

    service_id: str
    starts_at: datetime
    customer_id: str | None = None
    customer: InlineCustomer | None = None
    location_id: str | None = None
    referral_code: str | None = None
    notes: str | None = None
    idempotency_key: str | None = None
    staff_id: str | None = None

    def fingerprint(self) -> str:
        """Hash of the request's meaning, to tell a replay from a reused key."""
        body = {
            "service": self.service_id,
            "starts": self.starts_at.astimezone(UTC).isoformat(),
            "customer": self.customer_id,
            "inline": (self.customer.email.strip().lower() if self.customer else None),
            "location": self.location_id,
            "referral": (self.referral_code or "").strip().upper() or None,
        }
        if self.staff_id:  # only when given: keys stored before staff existed still match
            body["staff"] = self.staff_id
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class BookingFilter:
    statuses: list[BookingStatus] | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    customer_id: str | None = None
    service_id: str | None = None


@dataclass
class CreateResult:
    booking: dict[str, Any]
    replayed: bool


MIN_YEAR, MAX_YEAR = 1970, 2200


def utc_time(value: datetime, path: list[str]) -> datetime:
    """``value`` in UTC; VALIDATION_FAILED on ``path`` without a UTC offset or out of range."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise validation_error(
            path, "time must be ISO 8601 with a UTC offset, e.g. 2026-03-01T10:30:00+03:00"
        )
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise validation_error(path, f"time must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return utc


def appointment_time(value: datetime, field: str) -> datetime:
    """An appointment time: with a UTC offset, on the ``SLOT_MINUTES`` grid, converted to UTC.

    Starts on the grid make the slot cells exact: back-to-back bookings
    (10:00-10:30, then 10:30) never share a cell.
    """
    utc_time(value, ["input", field])
    utc = value.astimezone(UTC)
    if utc.second or utc.microsecond or utc.minute % SLOT_MINUTES:
        raise validation_error(
            ["input", field],
            f"appointments start on a {SLOT_MINUTES}-minute boundary (e.g. 10:00, 10:05)",
        )
    return utc
