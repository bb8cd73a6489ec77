"""Visible status over GraphQL (issue 9, item 8): a booking's notifications (batched, legacy
history included), the outbox by status, retryNotification; who may see and do what."""

from __future__ import annotations

from typing import Any

import pytest

import graphql_api.loaders as loaders_module
from domain.booking_messages import MessageKind, NotificationPolicy, booking_messages, related
from domain.collections import BOOKINGS, NOTIFICATION_OUTBOX
from domain.outbox import Outbox, commit_update
from graphql_api.auth import TokenService
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from tenancy.models import Role, Tenant, utcnow
from tenancy.platform import NOTIFICATION_DUE
from tenancy.runtime import Runtime
from tests.conftest import GraphQLClient, error_codes
from tests.snapshots import seeded
from tests.test_legacy_import import run_clinics

BOOKINGS_WITH_NOTIFICATIONS = """
query($first: Int) {
  bookings(first: $first) {
    nodes {
      id confirmationNumber
      notifications { id bookingId kind channel status attempts recipient lastError sentAt
                      nextAttemptAt createdAt source }
    }
  }
}"""

OUTBOX = """
query($status: [NotificationStatus!], $first: Int, $after: String) {
  notifications(status: $status, first: $first, after: $after) {
    nodes { id kind channel status attempts lastError }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""

RETRY = """
mutation($id: ID!) {
  retryNotification(id: $id) {
    notification { id status attempts lastError }
    userErrors { code message }
  }
}"""


async def _enqueue_for_every_booking(runtime: Runtime, tenant: Tenant) -> list[dict[str, Any]]:
    """A "confirmed" message (email + SMS) for each booking, written the outbox way."""
    db = runtime.tenant_database(tenant)
    outbox = Outbox(db, tenant.id, runtime.store.mark_notifications_due)
    bookings = await db[BOOKINGS].find({}).sort("_id", 1).to_list(None)
    for booking in bookings:
        version = int(booking.get("version", 1)) + 1
        messages = booking_messages(
            MessageKind.BOOKING_CONFIRMED,
            booking,
            version,
            await related(db, booking),
            NotificationPolicy(),
            now=utcnow(),
        )
        staged = await outbox.stage(booking["_id"], messages)
        await db[BOOKINGS].update_one(
            {"_id": booking["_id"]}, {"$set": {"version": version}, **commit_update(staged)}
        )
        await outbox.promote(staged)
    return bookings


@pytest.fixture
async def west(runtime: Runtime) -> Tenant:
    await seeded(runtime, "west-nipt", lambda: _seed_tenant(runtime, DEMO_TENANTS[0]))
    tenant = await runtime.store.tenant_by_slug("west-nipt")
    assert tenant is not None
    return tenant


async def test_a_page_of_bookings_loads_its_notifications_in_one_batch(
    runtime: Runtime, gql: GraphQLClient, west: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _enqueue_for_every_booking(runtime, west)
    batches: list[int] = []
    original = loaders_module.for_bookings

    async def counting(db: Any, booking_ids: Any) -> Any:
        batches.append(len(booking_ids))
        return await original(db, booking_ids)

    monkeypatch.setattr(loaders_module, "for_bookings", counting)
    token = await gql.token("west-nipt", Role.STAFF)
    result = await gql(BOOKINGS_WITH_NOTIFICATIONS, {"first": 10}, token=token, tenant="west-nipt")
    assert "errors" not in result, result
    nodes = result["data"]["bookings"]["nodes"]
    assert len(nodes) == 10 and batches == [10]  # one batch (two queries), not ten
    for node in nodes:
        confirmed = [n for n in node["notifications"] if n["kind"] == "booking_confirmed"]
        assert {n["channel"] for n in confirmed} == {"email", "sms"}
        for item in confirmed:
            assert item["status"] == "PENDING" and item["attempts"] == 0
            assert item["source"] == "OUTBOX" and item["bookingId"] == node["id"]
            assert item["nextAttemptAt"] is not None and item["sentAt"] is None


async def test_the_outbox_by_status_and_retrying_a_dead_message(
    runtime: Runtime, gql: GraphQLClient, west: Tenant
) -> None:
    await _enqueue_for_every_booking(runtime, west)
    db = runtime.tenant_database(west)
    dead = await db[NOTIFICATION_OUTBOX].find_one({"channel": "email"})
    await db[NOTIFICATION_OUTBOX].update_one(
        {"_id": dead["_id"]},
        {"$set": {"status": "dead", "attempts": 8, "last_error": "SMTP unavailable: refused"}},
    )
    sent = await db[NOTIFICATION_OUTBOX].find_one({"status": "pending"})
    await db[NOTIFICATION_OUTBOX].update_one({"_id": sent["_id"]}, {"$set": {"status": "sent"}})
    staff = await gql.token("west-nipt", Role.STAFF)

    result = await gql(OUTBOX, {"status": ["DEAD"]}, token=staff, tenant="west-nipt")
    [node] = result["data"]["notifications"]["nodes"]
    assert node["id"] == dead["_id"] and node["lastError"] == "SMTP unavailable: refused"
    assert result["data"]["notifications"]["totalCount"] == 1
    pending = await gql(
        OUTBOX, {"status": ["PENDING"], "first": 5}, token=staff, tenant="west-nipt"
    )
    page = pending["data"]["notifications"]
    total = await db[NOTIFICATION_OUTBOX].count_documents({})
    assert page["totalCount"] == total - 2 and page["pageInfo"]["hasNextPage"]
    after = page["pageInfo"]["endCursor"]
    more = await gql(
        OUTBOX, {"status": ["PENDING"], "first": 5, "after": after}, token=staff, tenant="west-nipt"
    )
    first_ids = {n["id"] for n in page["nodes"]}
    assert first_ids.isdisjoint(n["id"] for n in more["data"]["notifications"]["nodes"])

    await runtime.store.db[NOTIFICATION_DUE].delete_many({})
    retried = (await gql(RETRY, {"id": dead["_id"]}, token=staff, tenant="west-nipt"))["data"][
        "retryNotification"
    ]
    assert retried["userErrors"] == []
    assert retried["notification"]["status"] == "PENDING"
    assert retried["notification"]["attempts"] == 0
    due = await runtime.store.db[NOTIFICATION_DUE].find_one({"_id": west.id})
    assert due is not None and due["due_at"] <= utcnow()  # a relay picks it up now

    again = await gql(RETRY, {"id": sent["_id"]}, token=staff, tenant="west-nipt")
    assert again["data"]["retryNotification"]["userErrors"][0]["code"] == "INVALID_TRANSITION"
    missing = await gql(RETRY, {"id": "nope"}, token=staff, tenant="west-nipt")
    assert missing["data"]["retryNotification"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_viewers_and_anonymous_callers_see_no_notifications(
    gql: GraphQLClient, west: Tenant
) -> None:
    viewer = await gql.token("west-nipt", Role.VIEWER)
    result = await gql(OUTBOX, {}, token=viewer, tenant="west-nipt")
    assert error_codes(result) == ["FORBIDDEN"]
    result = await gql(BOOKINGS_WITH_NOTIFICATIONS, {"first": 1}, token=viewer, tenant="west-nipt")
    assert error_codes(result) == ["FORBIDDEN"]
    result = await gql(RETRY, {"id": "x"}, tenant="west-nipt")
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_imported_legacy_notifications_appear_in_the_bookings_history(
    runtime: Runtime, gql: GraphQLClient
) -> None:
    report = await run_clinics(runtime)
    assert report.collection("omega_shared.notifications").written == 6  # the import as before
    tenant = await runtime.store.tenant_by_slug("west-nipt")
    assert tenant is not None
    db = runtime.tenant_database(tenant)
    legacy = await db["notifications"].find({}).to_list(None)
    assert legacy, "the fixture has west-nipt notifications"
    booking_id = legacy[0]["booking_id"]
    owner = next(u for u in await runtime.store.users_of_tenant(tenant.id) if u.role == "admin")
    token = TokenService(runtime.settings).issue(owner, tenant)[0]
    query = """query($id: ID!) { booking(id: $id) { notifications {
        id kind channel status attempts recipient sentAt source } } }"""
    result = await gql(query, {"id": str(booking_id)}, token=token, tenant="west-nipt")
    assert "errors" not in result, result
    history = result["data"]["booking"]["notifications"]
    expected = {str(d["_id"]) for d in legacy if d["booking_id"] == booking_id}
    assert {n["id"] for n in history} == expected
    for item, doc in zip(
        sorted(history, key=lambda n: n["id"]),
        sorted((d for d in legacy if d["booking_id"] == booking_id), key=lambda d: str(d["_id"])),
        strict=True,
    ):
        assert item["source"] == "LEGACY"
        assert item["kind"] == doc["template_name"] and item["channel"] == doc["notification_type"]
        assert (
            item["status"]
            == {"sent": "SENT", "failed": "FAILED", "pending": "NEVER_SENT"}[doc["status"]]
        )
        assert item["attempts"] == doc["retry_count"]
    retry = await gql(RETRY, {"id": str(legacy[0]["_id"])}, token=token, tenant="west-nipt")
    assert retry["data"]["retryNotification"]["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert await db[NOTIFICATION_OUTBOX].count_documents({}) == 0  # nothing queued to resend
