"""The booking operations queue their messages with their write (issue 9, item 1):
create, confirm, reschedule, cancel, no-show and the customer's own cancel each stage
their messages, commit them with a conditional write on the booking's ``version``, and
promote them; a write that does not happen leaves nothing to send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from domain.booking_rules import BookingAction
from domain.collections import BOOKINGS, NOTIFICATION_OUTBOX
from domain.outbox import COMMIT_FIELD
from tenancy.errors import AppError
from tenancy.platform import NOTIFICATION_DUE
from tests import test_bookings
from tests.test_bookings import West, local

west = test_bookings.west  # the fixture: the demo tenant west-nipt, any time bookable

CANCEL_BY_CUSTOMER = """mutation($n: String!, $e: String!) {
  cancelBookingByCustomer(confirmationNumber: $n, email: $e) {
    booking { status } userErrors { code message } } }"""


async def _messages(west: West, booking_id: Any) -> list[dict[str, Any]]:
    cursor = west.db[NOTIFICATION_OUTBOX].find({"booking_id": ObjectId(booking_id)})
    return await cursor.sort("created_at", 1).to_list(None)


def _kinds(messages: list[dict[str, Any]], status: str | None = None) -> list[tuple[str, str]]:
    return sorted(
        (m["kind"], m["channel"]) for m in messages if status is None or m["status"] == status
    )


async def _booking(west: West, booking_id: str) -> dict[str, Any]:
    doc = await west.db[BOOKINGS].find_one({"_id": ObjectId(booking_id)})
    assert doc is not None
    return doc


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _both(kind: str) -> list[tuple[str, str]]:
    return [(kind, "email"), (kind, "sms")]


async def test_each_operation_queues_its_messages_with_its_write(west: West) -> None:
    booking = await west.create(startsAt=local(4, 10), locationId=west.locations[0])
    customer = booking["customer"]
    messages = await _messages(west, booking["id"])
    assert _kinds(messages) == sorted(_both("booking_confirmation") + _both("booking_reminder"))
    assert {m["status"] for m in messages} == {"pending"}  # promoted, none left staged
    assert {m["recipient"] for m in messages if m["channel"] == "email"} == {customer["email"]}
    doc = await _booking(west, booking["id"])
    assert doc["version"] == 1 and sorted(doc[COMMIT_FIELD]) == sorted(m["_id"] for m in messages)
    starts = datetime.fromisoformat(booking["startsAt"])
    reminder = next(m for m in messages if m["kind"] == "booking_reminder")
    assert _utc(reminder["due_at"]) == starts - timedelta(hours=24)
    confirmation = next(m for m in messages if m["kind"] == "booking_confirmation")
    assert confirmation["data"]["confirmation_number"] == booking["confirmationNumber"]
    assert confirmation["_id"] == f"booking_confirmation:{booking['id']}:1:email"
    due = await west.runtime.store.db[NOTIFICATION_DUE].find_one({"_id": west.tenant.id})
    assert due is not None  # the relay knows this tenant has work

    await west.act("confirm", booking["id"])
    await west.act("schedule", booking["id"])  # tells the customer nothing
    messages = await _messages(west, booking["id"])
    assert _kinds(messages, "pending") == sorted(
        _both("booking_confirmation") + _both("booking_reminder") + _both("booking_confirmed")
    )
    assert (await _booking(west, booking["id"]))["version"] == 3

    moved = await west.reschedule(booking["id"], local(5, 11))
    assert moved["userErrors"] == []
    messages = await _messages(west, booking["id"])
    reminders = [m for m in messages if m["kind"] == "booking_reminder"]
    assert sorted(m["status"] for m in reminders) == [
        "cancelled",
        "cancelled",
        "pending",
        "pending",
    ]
    new = [m for m in reminders if m["status"] == "pending"]
    assert all(m["booking_version"] == 4 for m in new)
    assert all(m["appointment_at"] > reminder["appointment_at"] for m in new)
    rescheduled = [m for m in messages if m["kind"] == "booking_rescheduled"]
    assert _kinds(rescheduled) == _both("booking_rescheduled")
    assert rescheduled[0]["data"]["previous_starts_at"] == reminder["appointment_at"]

    await west.act("cancel", booking["id"], "patient asked")
    messages = await _messages(west, booking["id"])
    assert _kinds(messages, "pending") == sorted(
        _both("booking_confirmation")
        + _both("booking_confirmed")
        + _both("booking_rescheduled")
        + _both("booking_cancelled")
    )
    assert all(m["status"] == "cancelled" for m in messages if m["kind"] == "booking_reminder")
    cancelled = next(m for m in messages if m["kind"] == "booking_cancelled")
    assert cancelled["data"]["cancel_reason"] == "patient asked"
    doc = await _booking(west, booking["id"])
    assert doc["version"] == 5 and set(doc[COMMIT_FIELD]) == {m["_id"] for m in messages}


async def test_no_show_is_told_and_its_reminders_are_cancelled(west: West) -> None:
    booking = await west.create(startsAt=local(6, 10))
    await west.act("confirm", booking["id"])
    await west.act("no_show", booking["id"])
    messages = await _messages(west, booking["id"])
    assert _kinds(messages, "pending") == sorted(
        _both("booking_confirmation") + _both("booking_confirmed") + _both("booking_no_show")
    )
    assert all(m["status"] == "cancelled" for m in messages if m["kind"] == "booking_reminder")


async def test_the_customers_own_cancel_queues_the_cancellation(west: West) -> None:
    booking = await west.create(startsAt=local(7, 10))
    result = await west.gql(
        CANCEL_BY_CUSTOMER,
        {"n": booking["confirmationNumber"], "e": booking["customer"]["email"].upper()},
        tenant="west-nipt",
    )
    payload = result["data"]["cancelBookingByCustomer"]
    assert payload["userErrors"] == [] and payload["booking"]["status"] == "CANCELLED"
    messages = await _messages(west, booking["id"])
    assert _kinds(messages, "pending") == sorted(
        _both("booking_confirmation") + _both("booking_cancelled")
    )
    assert all(m["status"] == "cancelled" for m in messages if m["kind"] == "booking_reminder")


async def test_refused_and_replayed_creates_queue_nothing_more(west: West) -> None:
    first = await west.create(
        startsAt=local(8, 10), locationId=west.locations[0], idempotencyKey="key-1"
    )
    before = await west.db[NOTIFICATION_OUTBOX].count_documents({})
    replay = await west.create_raw(
        serviceId=west.services["verifi"]["id"],
        customerId=west.customers[0],
        startsAt=local(8, 10),
        locationId=west.locations[0],
        idempotencyKey="key-1",
    )
    assert replay["replayed"] is True and replay["booking"]["id"] == first["id"]
    taken = await west.create_error(
        startsAt=local(8, 10), locationId=west.locations[0], customerId=west.customers[1]
    )
    assert taken["code"] == "SLOT_TAKEN"
    # The refused booking's staged messages were removed with it; nothing is left staged.
    assert await west.db[NOTIFICATION_OUTBOX].count_documents({}) == before
    assert await west.db[NOTIFICATION_OUTBOX].count_documents({"status": "staged"}) == 0


async def test_a_write_that_lost_a_race_is_retried_and_sends_once(
    west: West, monkeypatch: pytest.MonkeyPatch
) -> None:
    booking = await west.create(startsAt=local(9, 10))
    service = west.service()
    original = service.notes.prepare
    raced: list[int] = []

    async def prepare_then_race(*args: Any, **kwargs: Any) -> Any:
        staged = await original(*args, **kwargs)
        if not raced:  # another write lands between this read and this write
            raced.append(1)
            await west.db[BOOKINGS].update_one(
                {"_id": ObjectId(booking["id"])}, {"$inc": {"version": 1}}
            )
        return staged

    monkeypatch.setattr(service.notes, "prepare", prepare_then_race)
    doc = await service.transition(booking["id"], BookingAction.CONFIRM)
    assert doc["status"] == "confirmed" and doc["version"] == 3  # the race's write, then ours
    messages = await _messages(west, booking["id"])
    confirmed = [m for m in messages if m["kind"] == "booking_confirmed"]
    # The attempt that lost staged version-2 keys and removed them; the retry wrote version 3.
    assert sorted(m["_id"] for m in confirmed) == [
        f"booking_confirmed:{booking['id']}:3:email",
        f"booking_confirmed:{booking['id']}:3:sms",
    ]
    assert {m["status"] for m in confirmed} == {"pending"}
    assert await west.db[NOTIFICATION_OUTBOX].count_documents({"status": "staged"}) == 0


async def test_a_failed_write_leaves_nothing_to_send(
    west: West, monkeypatch: pytest.MonkeyPatch
) -> None:
    booking = await west.create(startsAt=local(10, 10))
    before = await west.db[NOTIFICATION_OUTBOX].count_documents({})
    service = west.service()

    class Failing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("the server went away")

    monkeypatch.setattr(service, "bookings", Failing(service.bookings))
    with pytest.raises(ConnectionError):
        await service.transition(booking["id"], BookingAction.CANCEL, "no longer needed")
    assert (await _booking(west, booking["id"]))["status"] == "pending"
    assert await west.db[NOTIFICATION_OUTBOX].count_documents({}) == before  # staged, then removed


async def test_a_booking_written_before_versions_still_changes_and_tells(west: West) -> None:
    booking = await west.create(startsAt=local(11, 10))
    oid = ObjectId(booking["id"])
    await west.db[BOOKINGS].update_one({"_id": oid}, {"$unset": {"version": "", COMMIT_FIELD: ""}})
    doc = await west.service().transition(booking["id"], BookingAction.CONFIRM)
    assert doc["version"] == 1 and doc[COMMIT_FIELD] == [
        f"booking_confirmed:{booking['id']}:1:email",
        f"booking_confirmed:{booking['id']}:1:sms",
    ]


async def test_a_refused_transition_queues_nothing(west: West) -> None:
    booking = await west.create(startsAt=local(12, 10))
    await west.act("cancel", booking["id"])
    before = await west.db[NOTIFICATION_OUTBOX].count_documents({})
    with pytest.raises(AppError) as refused:
        await west.service().transition(booking["id"], BookingAction.CONFIRM)
    assert refused.value.code == "INVALID_TRANSITION"
    assert "cancelled booking cannot be confirmed" in refused.value.message
    assert await west.db[NOTIFICATION_OUTBOX].count_documents({}) == before
