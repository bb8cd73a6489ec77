"""What a booking operation calls to send its messages: prepare, write, then committed or failed.

The booking operations (``domain.bookings``) use one :class:`BookingOutbox`
per operation, around their one business write::

    staged = await notes.prepare(MessageKind.BOOKING_CONFIRMED, after, version)
    try:
        result = await bookings.update_one(
            {"_id": ..., "version": version - 1, ...},
            merge({"$set": ..., "$inc": {"version": 1}}, commit_update(staged)),
        )
    except Exception:
        await notes.failed(staged)
        raise
    if result.modified_count == 0:
        await notes.failed(staged)
        raise ...
    await notes.committed(staged)

``domain.outbox`` explains why this never loses nor invents a message. After
the write committed, nothing may fail the operation: ``committed`` logs a
database error instead of raising (the relay promotes the staged messages
itself), and ``failed`` only tidies up (the relay deletes what it leaves).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from domain.booking_messages import (
    CANCELS_REMINDERS,
    MessageKind,
    NotificationPolicy,
    Related,
    booking_messages,
    related,
)
from domain.outbox import DueMarker, Outbox, Staged, commit_fields, commit_update
from tenancy.models import Tenant
from tenancy.mongo_types import Database

log = logging.getLogger(__name__)


def merge_updates(*updates: dict[str, Any]) -> dict[str, Any]:
    """One update document from several (``$set`` of one and ``$push`` of another...).

    Operators present in more than one are merged field by field; a field
    set twice keeps the last value.
    """
    merged: dict[str, dict[str, Any]] = {}
    for update in updates:
        for operator, fields in update.items():
            merged.setdefault(operator, {}).update(fields)
    return dict(merged)


@dataclass(frozen=True)
class OutboxSetup:
    """What booking operations need from their composition root to queue messages.

    There is no default: a booking service without it could not mark its
    tenant as having due messages, and the relay would never look. The
    server's resolvers, the demo seeding and tools build it with
    ``notifications.wiring.outbox_setup(runtime)``.

    Attributes:
        mark_due: ``PlatformStore.mark_notifications_due`` (``domain.outbox.DueMarker``).
        policy: reminders and SMS (``NotificationPolicy.from_settings``).
    """

    mark_due: DueMarker
    policy: NotificationPolicy


class BookingOutbox:
    """The outbox steps of booking operations on one tenant.

    Args:
        db: the tenant's database handle.
        tenant: the tenant (its id is what the platform record names).
        mark_due: ``PlatformStore.mark_notifications_due`` (given by the caller).
        policy: reminders and SMS (``NotificationPolicy``, from settings).
    """

    def __init__(
        self,
        db: Database,
        tenant: Tenant,
        mark_due: DueMarker,
        policy: NotificationPolicy | None = None,
    ) -> None:
        self.db = db
        self.outbox = Outbox(db, tenant.id, mark_due)
        self.policy = policy or NotificationPolicy()

    @classmethod
    def of(cls, db: Database, tenant: Tenant, setup: OutboxSetup) -> BookingOutbox:
        """The outbox steps of ``tenant`` with the composition root's ``setup``."""
        return cls(db, tenant, setup.mark_due, setup.policy)

    async def prepare(
        self,
        kind: MessageKind,
        booking: dict[str, Any],
        version: int,
        *,
        previous: dict[str, Any] | None = None,
        rel: Related | None = None,
    ) -> Staged:
        """Stage the messages of a change, before its write.

        Args:
            kind: what the write does.
            booking: the booking as the write will leave it.
            version: its version after the write.
            previous: the booking before a reschedule.
            rel: customer, service and location when the caller has them
                (else read: three reads by ``_id``).

        Raises:
            whatever the platform or tenant database raises: the operation
            fails before its write, and nothing is sent.
        """
        rel = rel or await related(self.db, booking)
        messages = booking_messages(kind, booking, version, rel, self.policy, previous=previous)
        return await self.outbox.stage(
            booking["_id"], messages, cancel_reminders=kind in CANCELS_REMINDERS
        )

    @staticmethod
    def commit_update(staged: Staged) -> dict[str, Any]:
        """See ``domain.outbox.commit_update`` (merge it into the write: :func:`merge_updates`)."""
        return commit_update(staged)

    @staticmethod
    def commit_fields(staged: Staged) -> dict[str, Any]:
        """See ``domain.outbox.commit_fields`` (a booking about to be inserted)."""
        return commit_fields(staged)

    async def committed(self, staged: Staged) -> None:
        """The write committed: the messages become due (never raises; see the module)."""
        try:
            await self.outbox.promote(staged)
        except Exception as exc:  # the relay promotes committed staged messages itself
            log.warning("outbox promotion of %s left to the relay: %s", staged.keys, exc)

    async def failed(self, staged: Staged) -> None:
        """The write did not happen: remove what was staged (never raises)."""
        try:
            await self.outbox.abandon(staged)
        except Exception as exc:  # the relay deletes uncommitted staged messages itself
            log.warning("outbox clean-up of %s left to the relay: %s", staged.keys, exc)
