"""A customer's own booking, found by confirmation number plus email; cancel within the window.

The public booking site has no login: a customer proves a booking is
theirs with its confirmation number AND the email address it was booked
with (compared case-insensitively through the customer's ``email_key``).
Both must match; "no such number" and "another email" answer with the same
``NOT_FOUND`` message and the same two queries, so the answer never tells
which part was wrong. The API counts every attempt against the caller's
address and the confirmation number (``graphql_api.rate_limit``), so
numbers cannot be enumerated.

A customer may cancel their booking while it is open (pending, confirmed,
scheduled) and its start is MORE than the tenant's
``booking_policy.cancellation_window_hours`` away, and only if the tenant
allows customer cancellations; otherwise ``CANCELLATION_WINDOW_CLOSED``.
The cancel is ``BookingService.transition`` (slots released, activity
logged) with the actor ``"customer"``.

What the customer sees is a ``PublicBooking``: no ids, no notes, no
history, no staff names, nothing about other bookings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from domain.booking_outbox import OutboxSetup
from domain.booking_rules import OPEN_STATUSES, BookingAction, BookingStatus
from domain.bookings import BookingService
from domain.collections import BOOKINGS, CUSTOMERS, LOCATIONS, SERVICES
from tenancy.errors import AppError, ErrorCode
from tenancy.models import BookingPolicy, Tenant, utcnow
from tenancy.mongo_types import Database
from tenancy.platform import email_key

#: Who the status history and the activity log name for a customer's own cancel.
CUSTOMER_ACTOR = "customer"
#: The reason stored when the customer gives none.
DEFAULT_CANCEL_REASON = "cancelled by the customer"
#: Longer inputs are no confirmation number (``<PREFIX>-<YYMM>-<seq>`` is far shorter).
MAX_CONFIRMATION_NUMBER_LENGTH = 40
MAX_EMAIL_LENGTH = 320
MAX_REASON_LENGTH = 500
#: The one answer for a number that does not exist and an email that does not match.
NOT_FOUND_MESSAGE = (
    "no booking has this confirmation number and email address; "
    "check both against your confirmation message"
)


def normalize_confirmation_number(raw: str) -> str:
    """The stored form of a typed confirmation number: trimmed, uppercase (``we-2611-00042``)."""
    return raw.strip().upper()


def cancellation_deadline(starts_at: datetime, policy: BookingPolicy) -> datetime | None:
    """The last instant (exclusive) a customer may cancel: start minus the window (UTC).

    ``None`` when the tenant takes no cancellations from customers.
    """
    if not policy.allow_customer_cancellation:
        return None
    return starts_at - timedelta(hours=policy.cancellation_window_hours)


def customer_may_cancel(booking: dict[str, Any], policy: BookingPolicy, now: datetime) -> bool:
    """True when the booking is open and ``now`` is before its cancellation deadline.

    The start must be MORE than the window away: exactly at the deadline is too late.
    """
    deadline = cancellation_deadline(booking["starts_at"], policy)
    return deadline is not None and booking["status"] in OPEN_STATUSES and now < deadline


@dataclass(frozen=True)
class PublicBookingView:
    """What a customer may see of their own booking.

    Attributes:
        starts_at / ends_at: UTC; ``timezone`` is the IANA zone of the booking's local times.
        final_price_minor: what the customer pays, minor units of ``currency``.
        cancellable: whether ``cancel`` would succeed now.
        cancellable_until: the deadline of a customer's cancel (UTC), ``None``
            when the tenant takes no cancellations from customers.
    """

    confirmation_number: str
    status: BookingStatus
    service_name: str | None
    location_name: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    duration_minutes: int
    final_price_minor: int
    currency: str
    cancellable: bool
    cancellable_until: datetime | None


class BookingLookup:
    """Look-up and cancel of one booking by its customer, in one tenant database.

    Args:
        db: the tenant's database handle (from the request context).
        tenant: the tenant record (its booking policy and settings).
        outbox: how a cancel queues its message (``BookingService``'s ``outbox``).
        now: the clock (UTC, timezone-aware); tests pass a fixed one.
    """

    def __init__(
        self,
        db: Database,
        tenant: Tenant,
        outbox: OutboxSetup,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.tenant = tenant
        self.outbox = outbox
        self.now = now

    @property
    def policy(self) -> BookingPolicy:
        """The tenant's booking policy (defaults for records older than the policy)."""
        return self.tenant.settings.booking_policy

    async def find(self, confirmation_number: str, email: str) -> dict[str, Any]:
        """The booking with this number whose customer has this email (any letter case).

        Always the same two queries (customer by email, booking by number and
        customer), whichever part does not match.

        Raises:
            AppError(NOT_FOUND) with ``NOT_FOUND_MESSAGE`` when either does not match.
        """
        number = normalize_confirmation_number(confirmation_number)
        key = email_key(email)
        if len(number) > MAX_CONFIRMATION_NUMBER_LENGTH or len(key) > MAX_EMAIL_LENGTH:
            number, key = "", ""  # still the same two queries, which find nothing
        # Strings only: "" never matches (an absent or null email_key or number is no match).
        customer = await self.db[CUSTOMERS].find_one({"email_key": key}, {"_id": 1})
        booking: dict[str, Any] | None = await self.db[BOOKINGS].find_one(
            {
                "confirmation_number": number,
                "customer_id": customer["_id"] if customer else ObjectId(),  # matches nothing
            }
        )
        if customer is None or booking is None:
            raise AppError(ErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE)
        return booking

    async def view(self, confirmation_number: str, email: str) -> PublicBookingView:
        """The customer's view of their booking (``bookingLookup``).

        Raises:
            AppError(NOT_FOUND) as :meth:`find`.
        """
        return await self.public_view(await self.find(confirmation_number, email))

    async def cancel(
        self, confirmation_number: str, email: str, reason: str | None = None
    ) -> PublicBookingView:
        """Cancel the customer's booking (``cancelBookingByCustomer``).

        Args:
            reason: the customer's words, at most ``MAX_REASON_LENGTH``
                characters; ``DEFAULT_CANCEL_REASON`` when empty.

        Raises:
            AppError: NOT_FOUND (as :meth:`find`), INVALID_TRANSITION (the booking
            is no longer open), CANCELLATION_WINDOW_CLOSED (too close to the
            start, or the tenant takes no customer cancellations),
            VALIDATION_FAILED (reason too long).
        """
        booking = await self.find(confirmation_number, email)
        text = (reason or "").strip() or DEFAULT_CANCEL_REASON
        if len(text) > MAX_REASON_LENGTH:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                f"the reason must be at most {MAX_REASON_LENGTH} characters",
                ["reason"],
            )
        if booking["status"] not in OPEN_STATUSES:
            raise AppError(
                ErrorCode.INVALID_TRANSITION,
                f"this booking is {booking['status']}; only a pending, confirmed or scheduled "
                "booking can be cancelled",
            )
        if not customer_may_cancel(booking, self.policy, self.now()):
            raise AppError(ErrorCode.CANCELLATION_WINDOW_CLOSED, self._closed_message())
        service = BookingService(self.db, self.tenant, CUSTOMER_ACTOR, self.outbox)
        cancelled = await service.transition(str(booking["_id"]), BookingAction.CANCEL, text)
        return await self.public_view(cancelled)

    def _closed_message(self) -> str:
        policy = self.policy
        if not policy.allow_customer_cancellation:
            return "this booking cannot be cancelled online; please contact us to cancel it"
        return (
            f"bookings can be cancelled online until {policy.cancellation_window_hours} hours "
            "before they start; please contact us to cancel this one"
        )

    async def public_view(self, booking: dict[str, Any]) -> PublicBookingView:
        """The public view of ``booking``: service and location by name, the cancel deadline."""
        service = await self.db[SERVICES].find_one({"_id": booking["service_id"]}, {"name": 1})
        location = None
        if booking.get("location_id") is not None:
            location = await self.db[LOCATIONS].find_one(
                {"_id": booking["location_id"]}, {"name": 1}
            )
        return PublicBookingView(
            confirmation_number=booking["confirmation_number"],
            status=BookingStatus(booking["status"]),
            service_name=service["name"] if service else None,
            location_name=location["name"] if location else None,
            starts_at=booking["starts_at"],
            ends_at=booking["ends_at"],
            timezone=booking.get("timezone") or self.tenant.settings.timezone,
            duration_minutes=int(booking["duration_minutes"]),
            final_price_minor=int(booking["final_price_minor"]),
            currency=booking["currency"],
            cancellable=customer_may_cancel(booking, self.policy, self.now()),
            cancellable_until=cancellation_deadline(booking["starts_at"], self.policy),
        )
