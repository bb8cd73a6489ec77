"""Notification queries and mutations for staff and admins (issue 9, item 8)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.notification_history import from_outbox, outbox_page
from domain.outbox import Outbox
from domain.outbox_queue import retry_notification
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.types.notification import (
    Notification,
    NotificationConnection,
    NotificationPayload,
    NotificationStatus,
)


@strawberry.type
class NotificationQueries:
    @strawberry.field(extensions=requires("notifications.read"))
    async def notifications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[NotificationStatus] | None = None,
    ) -> NotificationConnection | None:
        """The tenant's outbox, newest first, optionally of some statuses
        (a booking's full history, legacy included, is ``Booking.notifications``)."""
        _, db = info.context.require_tenant()
        statuses = [str(s.value) for s in status] if status else None
        page = await outbox_page(db, statuses, page_size(info, first), after)
        return NotificationConnection.from_page(
            page, lambda doc: Notification.from_record(from_outbox(doc))
        )


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(extensions=requires("notifications.write"))
    async def retry_notification(self, info: Info, id: strawberry.ID) -> NotificationPayload:
        """Queue a dead message again (attempts from zero, due now)."""

        async def run() -> NotificationPayload:
            context = info.context
            tenant, db = context.require_writable()
            outbox = Outbox(db, tenant.id, context.runtime.store.mark_notifications_due)
            doc = await retry_notification(outbox, str(id))
            return NotificationPayload(notification=Notification.from_record(from_outbox(doc)))

        return await mutation_payload(NotificationPayload, run)
