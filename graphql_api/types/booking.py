"""Booking types and inputs. Related customer, service and location load through DataLoaders."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import strawberry
from strawberry.types import Info

from domain import booking_rules
from domain import bookings as svc
from graphql_api.permissions import requires
from graphql_api.types.catalog import Location, Service
from graphql_api.types.common import Connection, Money, UserError
from graphql_api.types.customer import Customer
from graphql_api.types.node import Node
from graphql_api.types.notification import Notification

BookingStatus = strawberry.enum(booking_rules.BookingStatus, name="BookingStatus")
BookingSort = strawberry.enum(svc.BookingSort, name="BookingSort")


@strawberry.type
class StatusChange:
    status: BookingStatus  # type: ignore[valid-type]
    at: datetime
    by: str
    reason: str | None


@strawberry.type
class Booking(Node):
    id: strawberry.ID
    confirmation_number: str
    status: BookingStatus  # type: ignore[valid-type]
    starts_at: datetime = strawberry.field(description="Start, UTC.")
    ends_at: datetime
    timezone: str
    duration_minutes: int
    price: Money
    discount: Money
    final_price: Money
    referral_code: str | None
    payment_status: str
    notes: str | None
    cancel_reason: str | None
    history: list[StatusChange]
    created_at: datetime
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The staff member booked, if any.")
    def staff_id(self) -> strawberry.ID | None:
        staff = self.doc.get("staff_id")
        return strawberry.ID(str(staff)) if staff else None

    @strawberry.field(
        description="Start in the booking's time zone (the location's, else the tenant's), "
        "ISO 8601 with offset."
    )
    def starts_at_local(self) -> str:
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).isoformat()

    @strawberry.field(extensions=requires("customers.read"))
    async def customer(self, info: Info) -> Customer | None:
        doc = await info.context.loaders.customer.load(self.doc["customer_id"])
        return Customer.from_doc(doc) if doc else None

    @strawberry.field
    async def service(self, info: Info) -> Service | None:
        doc = await info.context.loaders.service.load(self.doc["service_id"])
        return Service.from_doc(doc) if doc else None

    @strawberry.field
    async def location(self, info: Info) -> Location | None:
        if self.doc.get("location_id") is None:
            return None
        doc = await info.context.loaders.location.load(self.doc["location_id"])
        return Location.from_doc(doc) if doc else None

    @strawberry.field(
        extensions=requires("notifications.read"),
        description="Messages of this booking, oldest first, imported legacy ones included.",
    )
    async def notifications(self, info: Info) -> list[Notification]:
        records = await info.context.loaders.notifications.load(self.doc["_id"])
        return [Notification.from_record(record) for record in records]

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Booking:
        currency = doc["currency"]
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            confirmation_number=doc["confirmation_number"],
            status=booking_rules.BookingStatus(doc["status"]),
            starts_at=doc["starts_at"],
            ends_at=doc["ends_at"],
            timezone=doc.get("timezone", "UTC"),
            duration_minutes=doc["duration_minutes"],
            price=Money(amount_minor=doc["price_minor"], currency=currency),
            discount=Money(amount_minor=doc.get("discount_minor", 0), currency=currency),
            final_price=Money(amount_minor=doc["final_price_minor"], currency=currency),
            referral_code=doc.get("referral_code"),
            payment_status=doc.get("payment_status", "pending"),
            notes=doc.get("notes"),
            cancel_reason=doc.get("cancel_reason"),
            history=[
                StatusChange(
                    status=booking_rules.BookingStatus(h["status"]),
                    at=h["at"],
                    by=h.get("by", "system"),
                    reason=h.get("reason"),
                )
                for h in doc.get("status_history", [])
            ],
            created_at=doc["created_at"],
            doc=doc,
        )


BookingConnection = Connection[Booking]


@strawberry.input
class BookingFilter:
    statuses: list[BookingStatus] | None = None  # type: ignore[valid-type]
    starts_from: datetime | None = strawberry.field(default=None, description="Inclusive.")
    starts_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    customer_id: strawberry.ID | None = None
    service_id: strawberry.ID | None = None


@strawberry.input
class InlineCustomerInput:
    name: str
    email: str
    phone: str | None = None


@strawberry.input
class CreateBookingInput:
    service_id: strawberry.ID
    starts_at: datetime = strawberry.field(
        description="ISO 8601 with UTC offset, e.g. 2026-03-01T10:30:00+03:00."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing customer (staff), or give `customer`."
    )
    customer: InlineCustomerInput | None = strawberry.field(
        default=None, description="New or returning customer, matched by email."
    )
    location_id: strawberry.ID | None = None
    staff_id: strawberry.ID | None = strawberry.field(
        default=None, description="A staff member offering the service (never double-booked)."
    )
    referral_code: str | None = None
    notes: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retrying with the same key returns the same booking."
    )


@strawberry.type
class BookingPayload:
    booking: Booking | None = None
    replayed: bool = strawberry.field(
        default=False, description="True when an idempotency key returned an earlier booking."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
