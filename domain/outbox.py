"""The notification outbox of one tenant: messages written with the change they announce.

MongoDB gives no multi-document transaction here (the brief), so a booking
change and its messages cannot be written atomically together. Instead an
operation **stages, commits, promotes**:

1. **stage** (:meth:`Outbox.stage`): before its business write, the
   operation marks the tenant as having due messages (the platform record,
   through the injected :data:`DueMarker`) and inserts its messages with
   status ``staged``, which no relay sends. Each ``_id`` is the deterministic
   key ``<kind>:<booking>:<version>:<channel>`` (:func:`message_key`), so
   staging the same change twice inserts once.
2. **commit**: the business write itself, one atomic single-document write,
   records the keys in the booking's ``outbox_keys``
   (:func:`commit_update` for an update, :func:`commit_fields` for an insert).
3. **promote** (:meth:`Outbox.promote`): after it, the operation turns its
   staged messages into ``pending`` (due at ``due_at``) and marks the tenant
   again. A write that failed calls :meth:`Outbox.abandon` instead.

A crash between 1 and 2 leaves staged messages that no booking names: when
their check time comes (``STAGED_CHECK`` after staging) the relay finds them
uncommitted (:func:`domain.outbox_queue.resolve_staged`) and, once they are
older than ``STAGED_ABANDON``, deletes them: the change never happened. A
crash between 2 and 3 leaves staged messages the booking names: the relay
promotes and sends them. So a committed change always gets its messages and
an uncommitted one never does; the only assumption is that an operation does
not stall for ``STAGED_ABANDON`` between its stage and its commit and then
crash (``promote`` re-inserts messages a relay deleted meanwhile).

Reminders are staged like any message, with ``due_at`` hours before the
appointment; :meth:`Outbox.cancel_reminders` cancels them when the booking is
cancelled or moved, and the relay checks before sending one that the booking
is still open at the start the reminder names (so a crash before the
cancellation cannot send it either).

Domain code only has the tenant database handle: the platform record of
tenants with due messages is reached through the :data:`DueMarker` the
composition root passes (``PlatformStore.mark_notifications_due``), as
``tenancy.schema_upgrade`` injects the schema upgrader.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from bson import ObjectId
from pymongo.errors import BulkWriteError, DuplicateKeyError

from domain.collections import BOOKINGS, NOTIFICATION_OUTBOX
from domain.documents import OutboxMessage
from tenancy.models import utcnow
from tenancy.mongo_types import Database

STAGED: Final = "staged"
PENDING: Final = "pending"
SENT: Final = "sent"
DEAD: Final = "dead"
CANCELLED: Final = "cancelled"
#: Statuses the relay looks at when their ``next_attempt_at`` has passed.
DUE_STATUSES = (STAGED, PENDING)
#: Field of a booking that lists the keys of the messages its writes committed.
COMMIT_FIELD = "outbox_keys"
#: A staged message is checked this long after staging (an operation takes milliseconds).
STAGED_CHECK = timedelta(seconds=30)
#: An uncommitted staged message is deleted once this old (its change never happened).
STAGED_ABANDON = timedelta(minutes=10)
REMINDER_KIND = "booking_reminder"
_DUPLICATE_KEY = 11000

DueMarker = Callable[[ObjectId, datetime], Awaitable[None]]
"""``await mark_due(tenant_id, at)``: record on the platform that this tenant has a
message due at ``at`` (the earliest such time is kept). ``PlatformStore.mark_notifications_due``
is the implementation; the relay reads the record instead of polling every database."""


def message_key(kind: str, booking_id: Any, version: int, channel: str) -> str:
    """The deterministic ``_id`` of a message: ``<kind>:<booking id>:<version>:<channel>``.

    ``version`` is the booking's version after the write that causes the
    message, so one change of one booking yields one message per channel,
    however often it is staged.
    """
    return f"{kind}:{booking_id}:{version}:{channel}"


def commit_update(staged: Staged) -> dict[str, Any]:
    """The update operator that, merged into the booking's business write, commits ``staged``.

    Returns ``{"$push": {"outbox_keys": {"$each": [...]}}}`` (merge it with the
    write's other operators; a write with its own ``$push`` adds the field to it).
    """
    return {"$push": {COMMIT_FIELD: {"$each": staged.keys}}}


def commit_fields(staged: Staged) -> dict[str, Any]:
    """The fields that commit ``staged`` in a booking document about to be inserted."""
    return {COMMIT_FIELD: list(staged.keys)}


@dataclass(frozen=True)
class Staged:
    """Messages staged for one business write (what :meth:`Outbox.stage` returns)."""

    booking_id: Any
    messages: tuple[OutboxMessage, ...]
    cancel_reminders: bool = False  # the write cancels or moves the booking
    inserted: frozenset[str] = field(default_factory=frozenset)  # staged by this call

    @property
    def keys(self) -> list[str]:
        return [message.id for message in self.messages]


class Outbox:
    """The write side of one tenant's outbox, used by the booking operations.

    Args:
        db: the tenant's database handle.
        tenant_id: the tenant's id (what the platform record names).
        mark_due: records on the platform that the tenant has due messages.
    """

    def __init__(self, db: Database, tenant_id: ObjectId, mark_due: DueMarker) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.mark_due = mark_due
        self.collection = db[NOTIFICATION_OUTBOX]

    async def stage(
        self,
        booking_id: Any,
        messages: Sequence[OutboxMessage],
        *,
        cancel_reminders: bool = False,
    ) -> Staged:
        """Step 1: mark the tenant, then insert ``messages`` as ``staged``.

        Args:
            booking_id: the booking the business write changes.
            messages: built by ``domain.booking_messages`` (status ``staged``).
            cancel_reminders: the write cancels or moves the booking, so its
                earlier reminders are cancelled at :meth:`promote`.

        Returns:
            The handle to pass to :func:`commit_update` / :func:`commit_fields`,
            then to :meth:`promote` or :meth:`abandon`.
        """
        now = utcnow()
        check_at = now + STAGED_CHECK
        docs = []
        for message in messages:
            message.status = STAGED
            message.next_attempt_at = check_at
            docs.append(message.to_mongo())
        if not docs:
            return Staged(booking_id, (), cancel_reminders)
        await self.mark_due(self.tenant_id, check_at)
        inserted = {doc["_id"] for doc in docs}
        try:  # one round-trip for all of them
            await self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                raise
            # The same change staged before (a retry): one message each.
            inserted -= {docs[error["index"]]["_id"] for error in errors}
        return Staged(booking_id, tuple(messages), cancel_reminders, frozenset(inserted))

    async def promote(self, staged: Staged) -> None:
        """Step 3, after the business write committed: the messages become due.

        Earlier reminders are cancelled first when the write cancelled or moved
        the booking. A message a relay already promoted (or sent) is left as it
        is; one a relay deleted meanwhile is inserted again.
        """
        if staged.cancel_reminders:
            await self.cancel_reminders(staged.booking_id, "booking changed", keep=staged.keys)
        if not staged.messages:
            return
        now = utcnow()
        by_due: dict[datetime, list[OutboxMessage]] = {}
        for message in staged.messages:  # the change's messages, then its reminders
            by_due.setdefault(max(message.due_at, now), []).append(message)
        for due, group in by_due.items():
            result = await self.collection.update_many(
                {"_id": {"$in": [message.id for message in group]}, "status": STAGED},
                {"$set": {"status": PENDING, "next_attempt_at": due, "updated_at": now}},
            )
            if result.modified_count == len(group):
                continue
            for message in group:  # some were promoted, sent or deleted by a relay meanwhile
                doc = message.model_copy(
                    update={"status": PENDING, "next_attempt_at": due, "updated_at": now}
                ).to_mongo()
                with contextlib.suppress(DuplicateKeyError):  # a relay promoted (or sent) it
                    await self.collection.insert_one(doc)
        await self.mark_due(self.tenant_id, min(by_due))

    async def abandon(self, staged: Staged) -> None:
        """The business write did not happen: remove what this call staged.

        A message with the same key that a concurrent write of the same change
        committed (it is in the booking's ``outbox_keys``) is kept.
        """
        if not staged.inserted:
            return
        booking = await self.db[BOOKINGS].find_one({"_id": staged.booking_id}, {COMMIT_FIELD: 1})
        committed = set(booking.get(COMMIT_FIELD) or []) if booking else set()
        mine = [key for key in staged.inserted if key not in committed]
        if mine:
            await self.collection.delete_many({"_id": {"$in": mine}, "status": STAGED})

    async def cancel_reminders(
        self, booking_id: Any, reason: str, *, keep: Iterable[str] = ()
    ) -> int:
        """Cancel the unsent reminders of a booking (but ``keep``); returns how many."""
        now = utcnow()
        result = await self.collection.update_many(
            {
                "booking_id": booking_id,
                "kind": REMINDER_KIND,
                "status": {"$in": list(DUE_STATUSES)},
                "_id": {"$nin": list(keep)},
            },
            {
                "$set": {
                    "status": CANCELLED,
                    "cancel_reason": reason,
                    "lease_owner": None,
                    "updated_at": now,
                }
            },
        )
        return result.modified_count


__all__ = [
    "CANCELLED",
    "COMMIT_FIELD",
    "DEAD",
    "DUE_STATUSES",
    "PENDING",
    "SENT",
    "STAGED",
    "DueMarker",
    "Outbox",
    "Staged",
    "commit_fields",
    "commit_update",
    "message_key",
]
