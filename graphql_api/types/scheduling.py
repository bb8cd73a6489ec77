"""Free slots (``availableSlots``)."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type(description="A free start time.")
class AvailableSlot:
    starts_at: datetime = strawberry.field(description="Start, UTC.")
    starts_at_local: str = strawberry.field(
        description="Start in the location's (else the tenant's) time zone, ISO 8601 with offset."
    )
    ends_at: datetime
    seats_left: int | None = strawberry.field(
        description="Free seats, for services with capacity > 1 (else null)."
    )


@strawberry.type
class AvailableSlots:
    timezone: str = strawberry.field(description="IANA zone of startsAtLocal.")
    slots: list[AvailableSlot]
