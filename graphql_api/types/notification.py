"""Notification types: a booking's messages (outbox and legacy history), the outbox list."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from domain.notification_history import NotificationRecord
from graphql_api.types.common import Connection, UserError


@strawberry.enum(description="Where a message stands.")
class NotificationStatus(Enum):
    PENDING = strawberry.enum_value("pending", description="Not sent yet (waiting or retrying).")
    SENT = strawberry.enum_value("sent", description="Handed to the mail or SMS provider.")
    DEAD = strawberry.enum_value("dead", description="Gave up after the last attempt.")
    CANCELLED = strawberry.enum_value("cancelled", description="Not sent: no longer current.")
    FAILED = strawberry.enum_value("failed", description="Legacy: failed in the old system.")
    NEVER_SENT = strawberry.enum_value(
        "never_sent", description="Legacy: the old system never sent it (not sent again)."
    )


@strawberry.enum(description="Where a notification record comes from.")
class NotificationSource(Enum):
    OUTBOX = "outbox"
    LEGACY = "legacy"


@strawberry.type(description="One message to one customer: email or SMS.")
class Notification:
    id: strawberry.ID
    booking_id: strawberry.ID | None
    kind: str = strawberry.field(description="booking_confirmation, booking_reminder, ...")
    channel: str = strawberry.field(description="email or sms")
    status: NotificationStatus
    attempts: int
    recipient: str | None
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is (re)tried next; null once sent or given up."
    )
    created_at: datetime | None
    source: NotificationSource

    @classmethod
    def from_record(cls, record: NotificationRecord) -> Notification:
        return cls(
            id=strawberry.ID(record.id),
            booking_id=strawberry.ID(str(record.booking_id)) if record.booking_id else None,
            kind=record.kind,
            channel=record.channel,
            status=NotificationStatus(record.status),
            attempts=record.attempts,
            recipient=record.recipient,
            last_error=record.last_error,
            sent_at=record.sent_at,
            next_attempt_at=record.next_attempt_at
            if record.status in ("pending", "staged")
            else None,
            created_at=record.created_at,
            source=NotificationSource(record.source),
        )


NotificationConnection = Connection[Notification]


@strawberry.type
class NotificationPayload:
    notification: Notification | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
