"""A customer's view of their own booking (public look-up by confirmation number + email)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import strawberry

from domain.booking_lookup import PublicBookingView
from graphql_api.types.booking import BookingStatus
from graphql_api.types.common import Money, UserError


@strawberry.type(
    description="One booking as its customer sees it: no ids, notes, history or staff names."
)
class PublicBooking:
    confirmation_number: str
    status: BookingStatus  # type: ignore[valid-type]
    service_name: str | None
    location_name: str | None
    starts_at: datetime = strawberry.field(description="Start, UTC.")
    ends_at: datetime = strawberry.field(description="End, UTC.")
    timezone: str = strawberry.field(description="IANA time zone of the local times.")
    duration_minutes: int
    price: Money = strawberry.field(description="What the customer pays (after discounts).")
    cancellable: bool = strawberry.field(
        description="True when cancelBookingByCustomer would cancel it now."
    )
    cancellable_until: datetime | None = strawberry.field(
        description="Until when (UTC, exclusive) the customer may cancel; null when the "
        "tenant takes no online cancellations."
    )

    @strawberry.field(description="Start in the booking's time zone, ISO 8601 with offset.")
    def starts_at_local(self) -> str:
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).isoformat()

    @strawberry.field(description="End in the booking's time zone, ISO 8601 with offset.")
    def ends_at_local(self) -> str:
        return self.ends_at.astimezone(ZoneInfo(self.timezone)).isoformat()

    @classmethod
    def from_view(cls, view: PublicBookingView) -> PublicBooking:
        return cls(
            confirmation_number=view.confirmation_number,
            status=view.status,
            service_name=view.service_name,
            location_name=view.location_name,
            starts_at=view.starts_at,
            ends_at=view.ends_at,
            timezone=view.timezone,
            duration_minutes=view.duration_minutes,
            price=Money(amount_minor=view.final_price_minor, currency=view.currency),
            cancellable=view.cancellable,
            cancellable_until=view.cancellable_until,
        )


@strawberry.type
class PublicBookingPayload:
    booking: PublicBooking | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
