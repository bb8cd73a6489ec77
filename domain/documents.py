"""Typed documents of the tenant collections: the one definition of what is stored.

Every write of a customer, service, location, referral code, booking,
booking slot, activity entry or outbox message builds one of these models and stores
``to_mongo()``: the API's services, the legacy importers and the migrations
alike. Reads return plain dicts (validation on every read would only cost).

Rules encoded here (seeds, MongoDB facts):

- money is integer minor units plus an ISO 4217 currency code, never a float;
- datetimes are UTC (timezone-aware);
- ``name_key`` / ``email_key`` are the case-folded lookup keys (the unique
  ``email_unique`` index is partial on a string ``email_key``, so a customer
  without an email stores none);
- importers may carry extra legacy fields (``legacy_*``, snake_case copies of
  old fields): the models allow extra fields and keep them as they are.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any, Literal

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.booking_rules import BookingStatus
from tenancy.models import utcnow
from tenancy.platform import email_key


class TenantDocument(BaseModel):
    """Base of the tenant documents: ObjectId-friendly, extra (legacy) fields kept."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="allow")

    def to_mongo(self, exclude: set[str] | None = None) -> dict[str, Any]:
        """The document as stored: ``_id`` first, BSON types as they are.

        ``exclude`` leaves fields out (an importer that sets them with ``$min``).
        """
        doc = self.model_dump(by_alias=True, exclude=exclude)
        return {"_id": doc.pop("_id"), **doc} if "_id" in doc else doc


def name_key(name: str) -> str:
    """The case-folded sort and search key of a customer name."""
    return name.casefold()


class CustomerDocument(TenantDocument):
    """A ``customers`` document. ``email_key`` is set exactly when ``email`` is."""

    id: Any = Field(default_factory=ObjectId, alias="_id")
    name: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    tags: list[str] = Field(default_factory=list)
    notes: str | None = None
    status: str = "active"
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(populate_by_name=True)

    def to_mongo(self, exclude: set[str] | None = None) -> dict[str, Any]:
        doc = super().to_mongo(exclude)
        doc["name_key"] = name_key(self.name)
        if self.email:
            doc["email_key"] = email_key(self.email)
        return doc


class ServiceDocument(TenantDocument):
    """A ``services`` document: something bookable, with its price and duration."""

    id: Any = Field(default_factory=ObjectId, alias="_id")
    code: str
    name: str
    description: str | None = None
    duration_minutes: int
    price_minor: int = Field(ge=0)
    currency: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # Scheduling (issue 8). Documents written before it lack these fields;
    # readers take the defaults, which keep the old behaviour (no notice, no
    # horizon, one customer at a time, no buffers).
    buffer_before_minutes: int = Field(default=0, ge=0, le=240)
    buffer_after_minutes: int = Field(default=0, ge=0, le=240)
    min_notice_minutes: int = Field(default=0, ge=0, le=365 * 24 * 60)
    max_advance_days: int | None = Field(default=None, ge=1, le=730)  # None: no horizon
    slot_step_minutes: int = Field(default=15, ge=5, le=60, multiple_of=5)
    capacity: int = Field(default=1, ge=1, le=1000)  # customers at once (seats)

    model_config = ConfigDict(populate_by_name=True)


MAX_OVERRIDES = 1000  # date overrides per availability (about three years of holidays)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeInterval(BaseModel):
    """A local wall-clock interval of one day: ``start`` < ``end``, "HH:MM", end may be "24:00"."""

    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")

    @model_validator(mode="after")
    def _ordered(self) -> TimeInterval:
        if self.start >= self.end:
            raise ValueError(f"interval {self.start}-{self.end} must end after it starts")
        return self


class DateOverride(BaseModel):
    """Hours of one local date that replace the weekly hours: closed, or other intervals.

    ``date`` is "YYYY-MM-DD" (BSON has no date-only type); ``closed`` with
    intervals is refused.
    """

    date: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    closed: bool = False
    intervals: list[TimeInterval] = Field(default_factory=list)
    reason: str | None = Field(default=None, max_length=200)

    @field_validator("date")
    @classmethod
    def _calendar_date(cls, value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a calendar date") from None
        return value

    @model_validator(mode="after")
    def _closed_or_open(self) -> DateOverride:
        if self.closed and self.intervals:
            raise ValueError(f"{self.date}: a closed day has no intervals")
        check_no_overlap(self.intervals, self.date)
        return self


def check_no_overlap(intervals: list[TimeInterval], day: str) -> None:
    """Refuse intervals of one day that overlap (touching, 09:00-12:00 and 12:00-13:00, is fine).

    Raises:
        ValueError: naming ``day`` and the two intervals (pydantic turns it into
        a validation error at the field's path).
    """
    ordered = sorted(intervals, key=lambda i: i.start)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ValueError(
                f"{day}: intervals {before.start}-{before.end} and "
                f"{after.start}-{after.end} overlap"
            )


class AvailabilityRules(BaseModel):
    """When a location or staff member works, in the local time of its time zone.

    ``weekly_hours`` maps a weekday to its intervals (a missing day: closed);
    ``overrides`` replace single dates (holidays, special hours).
    """

    weekly_hours: dict[Weekday, list[TimeInterval]] = Field(default_factory=dict)
    overrides: list[DateOverride] = Field(default_factory=list, max_length=MAX_OVERRIDES)

    @field_validator("weekly_hours")
    @classmethod
    def _days_without_overlap(
        cls, value: dict[Weekday, list[TimeInterval]]
    ) -> dict[Weekday, list[TimeInterval]]:
        for day, intervals in value.items():
            check_no_overlap(intervals, day)
        return value

    @field_validator("overrides")
    @classmethod
    def _one_override_per_date(cls, value: list[DateOverride]) -> list[DateOverride]:
        seen: set[str] = set()
        for override in value:
            if override.date in seen:
                raise ValueError(f"{override.date} has more than one override")
            seen.add(override.date)
        return value


class LocationDocument(TenantDocument):
    """A ``locations`` document: a place (and resource) bookings are made at.

    ``timezone`` (IANA) overrides the tenant's; ``availability`` None means
    no hours are set: the location takes bookings at any time, as before
    scheduling existed.
    """

    id: Any = Field(default_factory=ObjectId, alias="_id")
    name: str
    city: str | None = None
    district: str | None = None
    timezone: str | None = None
    active: bool = True
    availability: AvailabilityRules | None = None

    model_config = ConfigDict(populate_by_name=True)


class StaffDocument(TenantDocument):
    """A ``staff`` document: a person bookings can name (issue 8).

    ``user_id`` links a platform user of the same tenant (or ``None``);
    ``service_ids`` empty means every service, ``location_ids`` empty every
    location; ``availability`` ``None`` means the locations' hours only;
    ``timezone`` (IANA) is the zone of ``availability``, else the location's,
    else the tenant's. Deactivated staff keep their bookings.
    """

    id: Any = Field(default_factory=ObjectId, alias="_id")
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    user_id: Any = None
    service_ids: list[Any] = Field(default_factory=list)
    location_ids: list[Any] = Field(default_factory=list)
    availability: AvailabilityRules | None = None
    timezone: str | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(populate_by_name=True)


def code_key(code: str) -> str:
    """The case-insensitive lookup key of a referral/discount code: trimmed, upper-case."""
    return code.strip().upper()


class ReferralCodeDocument(TenantDocument):
    """A ``referral_codes`` document: a referral (seed 000: a doctor's) or discount code.

    The discount is EITHER ``discount_basis_points`` (1000 = 10 %) OR a fixed
    ``discount_amount_minor`` in ``discount_currency`` (then basis points are 0).
    ``code_key`` (``code_key(code)``, written by ``to_mongo``) is the unique,
    case-insensitive key. Fields added with discount codes (issue 8) default to
    what older documents meant: valid at any time, no usage limit, every service.
    ``valid_from``/``valid_until`` are UTC (from inclusive, until exclusive);
    ``uses`` counts bookings made with the code; empty ``service_ids``: every service.
    """

    id: Any = Field(default_factory=ObjectId, alias="_id")
    code: str
    doctor_name: str | None = None  # the referring doctor (seed 000)
    discount_basis_points: int = Field(default=0, ge=0, le=10_000)
    discount_amount_minor: int | None = Field(default=None, ge=1)
    discount_currency: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_uses: int | None = Field(default=None, ge=1)
    uses: int = Field(default=0, ge=0)
    service_ids: list[Any] = Field(default_factory=list)
    active: bool = True

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _one_discount(self) -> ReferralCodeDocument:
        if (self.discount_amount_minor is None) != (self.discount_currency is None):
            raise ValueError("a fixed discount needs both an amount and a currency")
        if self.discount_amount_minor is not None and self.discount_basis_points:
            raise ValueError("a code gives basis points or a fixed amount, not both")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValueError("valid_until must be after valid_from")
        return self

    def to_mongo(self, exclude: set[str] | None = None) -> dict[str, Any]:
        doc = super().to_mongo(exclude)
        doc["code_key"] = code_key(self.code)
        return doc


class StatusChange(BaseModel):
    """One entry of a booking's ``status_history``."""

    status: str
    at: datetime
    by: str
    reason: str | None = None


class BookingDocument(TenantDocument):
    """A ``bookings`` document.

    Money: ``price_minor`` - ``discount_minor`` = ``final_price_minor`` for
    bookings made by the product (imported ones keep their legacy amounts).
    ``idempotency_key`` is stored only when the request gave one (the unique
    index is partial on a string key).
    """

    id: Any = Field(default_factory=ObjectId, alias="_id")
    status: str = BookingStatus.PENDING.value
    customer_id: Any
    service_id: Any
    location_id: Any = None
    staff_id: Any = None  # issue 8: the staff member booked, if any
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    timezone: str
    currency: str
    price_minor: int = Field(ge=0)
    discount_minor: int = Field(ge=0)
    final_price_minor: int = Field(ge=0)
    referral_code: str | None = None
    discount_basis_points: int = 0
    discount_code_id: Any = None  # the referral_codes document applied, if any
    payment_status: str = "pending"
    notes: str | None = None
    confirmation_number: str | None = None
    # Issue 8: the service's buffers when booked, and the resources whose slot
    # claims the booking holds (``domain.slots``: ``location:<id>``,
    # ``staff:<id>#seat1``...). Older bookings lack them: no buffers, and
    # ``location:<id>`` when they have a location.
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    resources: list[str] = Field(default_factory=list)
    status_history: list[StatusChange] = Field(default_factory=list)
    # Issue 9: every write of the booking service adds one to ``version`` and
    # is conditional on the version it read; ``outbox_keys`` lists the
    # notification messages its writes committed (``domain.outbox``). Older
    # bookings lack both (``version`` null matches them).
    version: int = 1
    outbox_keys: list[str] = Field(default_factory=list)
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(populate_by_name=True)

    def to_mongo(self, exclude: set[str] | None = None) -> dict[str, Any]:
        doc = super().to_mongo(exclude)
        if doc.get("idempotency_key") is None:
            doc.pop("idempotency_key", None)
        return doc


class BookingSlotDocument(TenantDocument):
    """A ``booking_slots`` document: one claimed grid cell of one resource.

    The unique ``(resource, slot)`` index makes a second claim of a cell fail.
    """

    resource: str
    slot: datetime
    booking_id: Any

    def to_mongo(self, exclude: set[str] | None = None) -> dict[str, Any]:
        return self.model_dump(exclude=exclude)


class ActivityEntry(TenantDocument):
    """An ``activity_log`` document: who did what to which booking, and why."""

    at: datetime = Field(default_factory=utcnow)
    actor: str
    action: str
    booking_id: Any = None
    reason: str | None = None

    def to_mongo(self, exclude: set[str] | None = None) -> dict[str, Any]:
        return self.model_dump(exclude=exclude)


class OutboxMessage(TenantDocument):
    """A ``notification_outbox`` document: one message to one recipient on one channel.

    ``_id`` is the deterministic key ``<kind>:<booking id>:<booking version>:<channel>``
    (``domain.outbox.message_key``), so staging the same change twice inserts
    once (``_id`` is unique). ``status`` moves ``staged`` -> ``pending`` ->
    ``sent`` | ``dead``, or to ``cancelled`` (a reminder of a booking that was
    cancelled or moved); ``domain.outbox`` explains each step. A message is due
    when ``next_attempt_at`` has passed; a relay that claims one pushes
    ``next_attempt_at`` to the end of its lease (``lease_owner``), so another
    relay takes it over only when that lease has expired. ``data`` is the
    snapshot the templates render (confirmation number, service, start, place,
    price), taken when the change happened; branding and sender are the
    tenant's at sending time.
    """

    id: str = Field(alias="_id")
    kind: str
    channel: Literal["email", "sms"]
    status: Literal["staged", "pending", "sent", "dead", "cancelled"] = "staged"
    booking_id: Any
    booking_version: int = Field(ge=1)
    recipient: str
    recipient_name: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    appointment_at: datetime | None = None  # reminders: the start they remind of
    attempts: int = Field(default=0, ge=0)
    next_attempt_at: datetime
    due_at: datetime  # when it is meant to go out (a reminder: hours before the start)
    lease_owner: str | None = None
    last_error: str | None = None
    provider_message_id: str | None = None
    sent_at: datetime | None = None
    cancel_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(populate_by_name=True)
