"""The outbox written with the change (issue 9, items 1 and 7): stage, commit, promote;
a crash between any two steps; deterministic keys; reminders and their cancellation;
the platform record of tenants with due messages."""

from __future__ import annotations

from datetime import timedelta

from domain.booking_messages import MessageKind, NotificationPolicy, booking_messages
from domain.booking_outbox import BookingOutbox, merge_updates
from domain.collections import BOOKINGS, LEGACY_NOTIFICATIONS, NOTIFICATION_OUTBOX
from domain.outbox import STAGED_ABANDON, STAGED_CHECK, message_key
from domain.outbox_queue import claim, resolve_staged
from migrations.platform import m0004_notification_due as m0004
from migrations.tenant import m0005_notification_outbox_indexes as m0005
from tenancy.models import DatabaseLocation, utcnow
from tenancy.platform import NOTIFICATION_DUE
from tenancy.runtime import Runtime
from tests.notify_support import (
    EMAIL_ONLY,
    RELATED,
    Clock,
    SmtpCatcher,
    book,
    change,
    outbox_of,
    provision,
    relay,
)


async def _statuses(runtime: Runtime, tenant, booking_id) -> dict[str, str]:
    db = runtime.tenant_database(tenant)
    cursor = db[NOTIFICATION_OUTBOX].find({"booking_id": booking_id})
    return {doc["_id"]: doc["status"] async for doc in cursor}


async def test_a_committed_change_has_its_messages_due_and_its_tenant_marked(
    runtime: Runtime,
) -> None:
    tenant = await provision(runtime, "west-clinic")
    booking, staged = await book(runtime, tenant)
    confirmation = message_key("booking_confirmation", booking["_id"], 1, "email")
    reminder = message_key("booking_reminder", booking["_id"], 1, "email")
    assert staged.keys == [confirmation, reminder]
    assert await _statuses(runtime, tenant, booking["_id"]) == {
        confirmation: "pending",
        reminder: "pending",
    }
    db = runtime.tenant_database(tenant)
    stored = await db[BOOKINGS].find_one({"_id": booking["_id"]})
    assert stored["outbox_keys"] == staged.keys  # committed by the business write itself
    due = await runtime.store.db[NOTIFICATION_DUE].find_one({"_id": tenant.id})
    assert due is not None and due["due_at"] <= utcnow()
    reminder_doc = await db[NOTIFICATION_OUTBOX].find_one({"_id": reminder})
    assert reminder_doc["due_at"] == booking["starts_at"] - timedelta(hours=24)
    assert reminder_doc["appointment_at"] == booking["starts_at"]


async def test_staging_the_same_change_twice_queues_it_once(runtime: Runtime) -> None:
    tenant = await provision(runtime, "west-clinic")
    booking, _ = await book(runtime, tenant)
    after = {**booking, "status": "confirmed", "version": 2}
    outbox = outbox_of(runtime, tenant)
    first = await outbox.stage(
        booking["_id"],
        booking_messages(MessageKind.BOOKING_CONFIRMED, after, 2, RELATED, NotificationPolicy()),
    )
    again = await outbox.stage(
        booking["_id"],
        booking_messages(MessageKind.BOOKING_CONFIRMED, after, 2, RELATED, NotificationPolicy()),
    )
    assert first.keys == again.keys and len(first.keys) == 2  # email and SMS
    assert again.inserted == frozenset()  # the retry inserted nothing
    db = runtime.tenant_database(tenant)
    assert await db[NOTIFICATION_OUTBOX].count_documents({"kind": "booking_confirmed"}) == 2


async def test_crash_after_staging_before_the_business_write_never_sends(
    runtime: Runtime,
) -> None:
    tenant = await provision(runtime, "west-clinic")
    booking, _ = await book(runtime, tenant)
    _, staged = await change(
        runtime,
        tenant,
        booking,
        MessageKind.BOOKING_CONFIRMED,
        {"status": "confirmed"},
        commit=False,
    )
    key = staged.keys[0]
    db = runtime.tenant_database(tenant)
    clock = Clock()
    clock.advance(seconds=STAGED_CHECK.total_seconds() + 1)
    message = await claim(db, "staged", "relay-1", timedelta(seconds=60), clock())
    assert message is not None and message["_id"] == key
    assert await resolve_staged(db, message, clock()) == "waiting"  # maybe still in flight
    clock.advance(seconds=STAGED_ABANDON.total_seconds())
    message = await claim(db, "staged", "relay-1", timedelta(seconds=60), clock())
    assert await resolve_staged(db, message, clock()) == "deleted"
    assert await db[NOTIFICATION_OUTBOX].find_one({"_id": key}) is None


async def test_crash_after_the_business_write_before_promotion_still_delivers(
    runtime: Runtime,
) -> None:
    tenant = await provision(runtime, "west-clinic")
    catcher = SmtpCatcher()
    catcher.start()
    try:
        booking, _ = await book(runtime, tenant, starts_in=timedelta(hours=2))  # no reminder
        clock = Clock()
        sender = relay(runtime, catcher.delivery(), clock)
        await sender.run_once()
        assert len(catcher.received) == 1  # the confirmation
        _, staged = await change(
            runtime,
            tenant,
            booking,
            MessageKind.BOOKING_CONFIRMED,
            {"status": "confirmed"},
            promote=False,
        )
        assert await _statuses(runtime, tenant, booking["_id"]) == {
            staged.keys[0]: "staged",
            f"booking_confirmation:{booking['_id']}:1:email": "sent",
        }
        await sender.run_once()
        assert len(catcher.received) == 1  # staged: not sent before its check time
        clock.advance(seconds=STAGED_CHECK.total_seconds() + 1)
        await sender.run_once()
        assert sender.stats.promoted == 1
        assert [r.message["Subject"] for r in catcher.received][1].startswith(
            "Randevunuz onaylandı"
        )
        assert (await _statuses(runtime, tenant, booking["_id"]))[staged.keys[0]] == "sent"
    finally:
        catcher.stop()


async def test_a_failed_write_abandons_its_messages_but_keeps_a_twins(runtime: Runtime) -> None:
    tenant = await provision(runtime, "west-clinic")
    booking, _ = await book(runtime, tenant)
    outbox = outbox_of(runtime, tenant)
    # Two identical confirmations race from version 1: the first stages, the second
    # finds the same keys (one message). The first commits; the second's write fails.
    winner_after, winner = await change(
        runtime,
        tenant,
        booking,
        MessageKind.BOOKING_CONFIRMED,
        {"status": "confirmed"},
        promote=False,
    )
    loser = await outbox.stage(
        booking["_id"],
        booking_messages(
            MessageKind.BOOKING_CONFIRMED, winner_after, 2, RELATED, NotificationPolicy(sms=False)
        ),
    )
    assert loser.keys == winner.keys and not loser.inserted
    await outbox.abandon(loser)
    await outbox.promote(winner)
    assert (await _statuses(runtime, tenant, booking["_id"]))[winner.keys[0]] == "pending"
    # A write that failed on its own (its keys committed nowhere) leaves nothing.
    _, failed = await change(
        runtime,
        tenant,
        winner_after,
        MessageKind.BOOKING_CANCELLED,
        {"status": "cancelled"},
        commit=False,
    )
    await outbox.abandon(failed)
    assert failed.keys[0] not in await _statuses(runtime, tenant, booking["_id"])


async def test_cancel_and_move_cancel_reminders_and_a_move_gets_a_new_one(
    runtime: Runtime,
) -> None:
    tenant = await provision(runtime, "west-clinic")
    booking, _ = await book(runtime, tenant)
    first_reminder = f"booking_reminder:{booking['_id']}:1:email"
    later = booking["starts_at"] + timedelta(days=1)
    moved, staged = await change(
        runtime,
        tenant,
        booking,
        MessageKind.BOOKING_RESCHEDULED,
        {"starts_at": later, "ends_at": later + timedelta(minutes=30)},
    )
    second_reminder = f"booking_reminder:{booking['_id']}:2:email"
    statuses = await _statuses(runtime, tenant, booking["_id"])
    assert statuses[first_reminder] == "cancelled"
    assert statuses[second_reminder] == "pending"
    assert f"booking_rescheduled:{booking['_id']}:2:email" in staged.keys
    await change(runtime, tenant, moved, MessageKind.BOOKING_CANCELLED, {"status": "cancelled"})
    assert (await _statuses(runtime, tenant, booking["_id"]))[second_reminder] == "cancelled"


async def test_a_cancelled_bookings_reminder_is_never_sent(runtime: Runtime) -> None:
    """Also when the cancellation's promotion (which cancels reminders) never ran."""
    tenant = await provision(runtime, "west-clinic")
    catcher = SmtpCatcher()
    catcher.start()
    try:
        booking, _ = await book(runtime, tenant, starts_in=timedelta(hours=30))
        clock = Clock()
        sender = relay(runtime, catcher.delivery(), clock)
        await sender.run_once()
        assert [r.message["Subject"].split(" (")[0] for r in catcher.received] == [
            "Randevu talebiniz alındı"
        ]
        await change(  # crash before promote: the reminder is still pending
            runtime,
            tenant,
            booking,
            MessageKind.BOOKING_CANCELLED,
            {"status": "cancelled"},
            promote=False,
        )
        clock.advance(hours=7)  # the reminder (24 h before the start) is due
        await sender.run_once()
        reminder = f"booking_reminder:{booking['_id']}:1:email"
        statuses = await _statuses(runtime, tenant, booking["_id"])
        assert statuses[reminder] == "cancelled"
        assert statuses[f"booking_cancelled:{booking['_id']}:2:email"] == "sent"
        subjects = [r.message["Subject"] for r in catcher.received]
        assert not any("hatırlatma" in s.lower() for s in subjects), subjects
        assert sender.stats.cancelled == 1
    finally:
        catcher.stop()


async def test_a_reminder_of_an_open_booking_goes_out_at_its_time(runtime: Runtime) -> None:
    tenant = await provision(runtime, "west-clinic")
    catcher = SmtpCatcher()
    catcher.start()
    try:
        await book(runtime, tenant, starts_in=timedelta(hours=30))
        clock = Clock()
        sender = relay(runtime, catcher.delivery(), clock)
        await sender.run_once()
        assert len(catcher.received) == 1
        due = await runtime.store.db[NOTIFICATION_DUE].find_one({"_id": tenant.id})
        assert due["due_at"] > utcnow() + timedelta(hours=5)  # the record waits for it
        clock.advance(hours=7)
        await sender.run_once()
        assert catcher.received[-1].message["Subject"].startswith("Randevu hatırlatması")
    finally:
        catcher.stop()


async def test_the_outbox_migrations_create_their_indexes_idempotently(runtime: Runtime) -> None:
    db = runtime.clients.database(DatabaseLocation(cluster="default", name="t_m0005"))
    await m0005.up(db)
    await m0005.up(db)  # idempotent
    names = set(await db[NOTIFICATION_OUTBOX].index_information())
    assert {"due", "booking", "status_created", "created"} <= names
    assert "booking" in await db[LEGACY_NOTIFICATIONS].index_information()
    await m0005.down(db)
    assert set(await db[NOTIFICATION_OUTBOX].index_information()) == {"_id_", "due"}
    await m0004.up(runtime.store.db)
    assert "due" in await runtime.store.db[NOTIFICATION_DUE].index_information()


def test_merge_updates_adds_the_commit_to_the_writes_own_operators() -> None:
    assert merge_updates(
        {"$set": {"status": "confirmed"}, "$push": {"status_history": {"status": "confirmed"}}},
        {"$push": {"outbox_keys": {"$each": ["k"]}}},
    ) == {
        "$set": {"status": "confirmed"},
        "$push": {"status_history": {"status": "confirmed"}, "outbox_keys": {"$each": ["k"]}},
    }


async def test_a_committed_write_never_fails_on_its_promotion(runtime: Runtime) -> None:
    """The database fails after the booking write: the operation still succeeds, and
    the relay promotes the staged messages (the booking names them)."""
    tenant = await provision(runtime, "west-clinic")
    booking, _ = await book(runtime, tenant, starts_in=timedelta(hours=2))

    class Down:
        async def update_many(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("database unreachable")

        update_one = insert_one = update_many

    db = runtime.tenant_database(tenant)
    notes = BookingOutbox(db, tenant, runtime.store.mark_notifications_due, EMAIL_ONLY)
    after = {**booking, "status": "confirmed", "version": 2}
    staged = await notes.prepare(MessageKind.BOOKING_CONFIRMED, after, 2, rel=RELATED)
    await db[BOOKINGS].update_one(
        {"_id": booking["_id"]},
        merge_updates({"$set": {"status": "confirmed", "version": 2}}, notes.commit_update(staged)),
    )
    outbox_collection = notes.outbox.collection
    notes.outbox.collection = Down()  # type: ignore[assignment]
    await notes.committed(staged)  # logs, does not raise
    notes.outbox.collection = outbox_collection
    assert (await _statuses(runtime, tenant, booking["_id"]))[staged.keys[0]] == "staged"
    clock = Clock()
    clock.advance(seconds=STAGED_CHECK.total_seconds() + 1)
    message = await claim(db, "staged", "relay-1", timedelta(seconds=60), clock())
    assert await resolve_staged(db, message, clock()) == "promoted"
    await notes.failed(staged)  # harmless after the commit: committed keys are kept
    assert (await _statuses(runtime, tenant, booking["_id"]))[staged.keys[0]] == "pending"


async def test_promotion_after_a_relay_acted_keeps_what_it_did_and_restores_what_it_deleted(
    runtime: Runtime,
) -> None:
    """One staged message a relay already promoted and sent, one it deleted (it looked
    uncommitted for too long): promoting keeps the first as sent, inserts the second."""
    tenant = await provision(runtime, "west-clinic")
    booking, _ = await book(runtime, tenant, starts_in=timedelta(hours=2))
    db = runtime.tenant_database(tenant)
    notes = BookingOutbox(db, tenant, runtime.store.mark_notifications_due, NotificationPolicy())
    after = {**booking, "status": "confirmed", "version": 2}
    staged = await notes.prepare(MessageKind.BOOKING_CONFIRMED, after, 2, rel=RELATED)
    email, sms = sorted(staged.keys)
    await db[BOOKINGS].update_one(
        {"_id": booking["_id"]},
        merge_updates({"$set": {"status": "confirmed", "version": 2}}, notes.commit_update(staged)),
    )
    await db[NOTIFICATION_OUTBOX].update_one({"_id": email}, {"$set": {"status": "sent"}})
    await db[NOTIFICATION_OUTBOX].delete_one({"_id": sms})
    await notes.committed(staged)
    statuses = await _statuses(runtime, tenant, booking["_id"])
    assert (statuses[email], statuses[sms]) == ("sent", "pending")
