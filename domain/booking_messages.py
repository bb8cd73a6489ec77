"""Which messages a booking change sends, to whom, with what data (no I/O but :func:`related`).

One message per channel the customer can be reached on (email when the
customer has an address; SMS when they have a phone number and the policy
allows SMS). A new or moved booking also gets a reminder per channel,
``NotificationPolicy.reminder_before`` ahead of its start, unless that time
has already passed. ``data`` is the snapshot the templates render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from domain.collections import CUSTOMERS, LOCATIONS, SERVICES
from domain.documents import OutboxMessage
from domain.outbox import REMINDER_KIND, message_key
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.settings import Settings

Channel = Literal["email", "sms"]


class MessageKind(StrEnum):
    """What a message tells; the template set of each is ``notifications/templates/<lang>/``."""

    BOOKING_CONFIRMATION = "booking_confirmation"  # a booking was made (request received)
    BOOKING_CONFIRMED = "booking_confirmed"
    BOOKING_RESCHEDULED = "booking_rescheduled"
    BOOKING_CANCELLED = "booking_cancelled"
    BOOKING_NO_SHOW = "booking_no_show"
    BOOKING_REMINDER = REMINDER_KIND


#: Kinds whose booking gets a (new) reminder.
_REMINDED = frozenset({MessageKind.BOOKING_CONFIRMATION, MessageKind.BOOKING_RESCHEDULED})
#: Kinds after which earlier reminders are cancelled.
CANCELS_REMINDERS = frozenset(
    {MessageKind.BOOKING_RESCHEDULED, MessageKind.BOOKING_CANCELLED, MessageKind.BOOKING_NO_SHOW}
)


@dataclass(frozen=True)
class NotificationPolicy:
    """Platform-wide notification choices (from settings: ``APP_REMINDER_BEFORE_MINUTES``,
    ``APP_SMS_ENABLED``).

    Attributes:
        reminder_before: how long before the start a reminder goes out (default 24 h).
        sms: send SMS to customers with a phone number.
    """

    reminder_before: timedelta = timedelta(hours=24)
    sms: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> NotificationPolicy:
        """The policy the platform's settings choose."""
        return cls(
            reminder_before=timedelta(minutes=settings.reminder_before_minutes),
            sms=settings.sms_enabled,
        )


@dataclass(frozen=True)
class Related:
    """The documents a booking refers to (``None`` when missing)."""

    customer: dict[str, Any] | None
    service: dict[str, Any] | None
    location: dict[str, Any] | None


async def related(db: Database, booking: dict[str, Any]) -> Related:
    """Load a booking's customer, service and location (three reads by ``_id``)."""
    customer = await db[CUSTOMERS].find_one({"_id": booking.get("customer_id")})
    service = await db[SERVICES].find_one({"_id": booking.get("service_id")})
    location = None
    if booking.get("location_id") is not None:
        location = await db[LOCATIONS].find_one({"_id": booking["location_id"]})
    return Related(customer, service, location)


def snapshot(
    booking: dict[str, Any], rel: Related, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The template data of a booking at the time of a change.

    ``previous`` is the booking before a reschedule (its start is shown too).
    Times are UTC datetimes plus the booking's time zone; money is minor units
    plus currency (the templates format both in the tenant's language).
    """
    location = rel.location or {}
    place = ", ".join(str(p) for p in (location.get("district"), location.get("city")) if p)
    data: dict[str, Any] = {
        "confirmation_number": booking.get("confirmation_number"),
        "status": booking.get("status"),
        "service_name": (rel.service or {}).get("name"),
        "starts_at": booking.get("starts_at"),
        "ends_at": booking.get("ends_at"),
        "timezone": booking.get("timezone") or "UTC",
        "duration_minutes": booking.get("duration_minutes"),
        "location_name": location.get("name"),
        "location_place": place or None,
        "price_minor": booking.get("price_minor"),
        "discount_minor": booking.get("discount_minor", 0),
        "final_price_minor": booking.get("final_price_minor"),
        "currency": booking.get("currency"),
        "customer_name": (rel.customer or {}).get("name"),
        "cancel_reason": booking.get("cancel_reason"),
    }
    if previous is not None:
        data["previous_starts_at"] = previous.get("starts_at")
    return data


def recipients(
    customer: dict[str, Any] | None, policy: NotificationPolicy
) -> list[tuple[Channel, str]]:
    """``(channel, address)`` pairs a customer is reached on."""
    if not customer:
        return []
    found: list[tuple[Channel, str]] = []
    if customer.get("email"):
        found.append(("email", str(customer["email"])))
    if policy.sms and customer.get("phone"):
        found.append(("sms", str(customer["phone"])))
    return found


def booking_messages(
    kind: MessageKind,
    booking: dict[str, Any],
    version: int,
    rel: Related,
    policy: NotificationPolicy,
    *,
    previous: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """The messages of one booking change, ready for ``Outbox.stage``.

    Args:
        kind: what happened (not ``BOOKING_REMINDER``: reminders come with
            ``BOOKING_CONFIRMATION`` and ``BOOKING_RESCHEDULED``).
        booking: the booking as the write leaves it (new start, new status).
        version: the booking's version after the write (part of each key).
        rel: its customer, service and location (:func:`related`).
        previous: the booking before a reschedule.
        now: the current time (UTC).
    """
    now = now or utcnow()
    data = snapshot(booking, rel, previous)
    name = (rel.customer or {}).get("name")
    messages = []
    for channel, address in recipients(rel.customer, policy):
        messages.append(_message(kind, booking, version, channel, address, name, data, now))
        remind_at = booking["starts_at"] - policy.reminder_before
        if kind in _REMINDED and remind_at > now:
            reminder = _message(
                MessageKind.BOOKING_REMINDER, booking, version, channel, address, name, data, now
            )
            reminder.due_at = remind_at
            reminder.appointment_at = booking["starts_at"]
            messages.append(reminder)
    return messages


def _message(
    kind: MessageKind,
    booking: dict[str, Any],
    version: int,
    channel: Channel,
    address: str,
    name: str | None,
    data: dict[str, Any],
    now: datetime,
) -> OutboxMessage:
    return OutboxMessage(
        id=message_key(kind.value, booking["_id"], version, channel),
        kind=kind.value,
        channel=channel,
        booking_id=booking["_id"],
        booking_version=version,
        recipient=address,
        recipient_name=name,
        data=dict(data),
        next_attempt_at=now,
        due_at=now,
        created_at=now,
        updated_at=now,
    )
