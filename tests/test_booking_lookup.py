"""Booking look-up and cancel by the customer (issue 8, item 8).

A public caller gives a confirmation number plus the booking's email and
gets that one booking (``PublicBooking``: no internal fields), or
``NOT_FOUND`` with one message whether the number or the email is wrong.
``cancelBookingByCustomer`` cancels it while the start is more than the
tenant's cancellation window away (``CANCELLATION_WINDOW_CLOSED`` after).
Both count against the caller's address and the number (``RATE_LIMITED``).

Bookings here use a service and a location of the test's own (no notice,
no opening hours), so the times relative to now are always bookable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.booking_lookup import (
    CUSTOMER_ACTOR,
    NOT_FOUND_MESSAGE,
    BookingLookup,
    customer_may_cancel,
)
from domain.collections import ACTIVITY_LOG, BOOKING_SLOTS, BOOKINGS, LOCATIONS, SERVICES
from domain.documents import LocationDocument, ServiceDocument
from graphql_api.app import create_app
from graphql_api.schema import schema as served_schema
from notifications.wiring import outbox_setup
from tenancy.errors import AppError, ErrorCode
from tenancy.models import BookingPolicy, Tenant
from tenancy.runtime import Runtime
from tests.conftest import GraphQLClient, error_codes

A, B = "west-nipt", "tromb-screening"
EMAIL = "Ayse.Yilmaz@Example.com"
WINDOW = timedelta(hours=24)  # the default policy

CREATE = """mutation($input: CreateBookingInput!) { createBooking(input: $input) {
  booking { id confirmationNumber } userErrors { code message } } }"""
LOOKUP = """query($n: String!, $e: String!) { bookingLookup(confirmationNumber: $n, email: $e) {
  confirmationNumber status serviceName locationName startsAt startsAtLocal endsAt endsAtLocal
  timezone durationMinutes price { amountMinor currency } cancellable cancellableUntil } }"""
CANCEL = """mutation($n: String!, $e: String!, $r: String) {
  cancelBookingByCustomer(confirmationNumber: $n, email: $e, reason: $r) {
    booking { confirmationNumber status cancellable } userErrors { field code message } } }"""


def _start(ahead: timedelta) -> datetime:
    """Now + ``ahead``, rounded UP to the 5-minute grid (adds at most 5 minutes)."""
    at = (datetime.now(UTC) + ahead).replace(second=0, microsecond=0)
    return at + timedelta(minutes=(-at.minute) % 5 or 5)


async def _tenant(runtime: Runtime, slug: str) -> Tenant:
    tenant = await runtime.store.tenant_by_slug(slug)
    assert tenant is not None
    return tenant


async def _catalog(runtime: Runtime, slug: str) -> dict[str, str]:
    """A service and a location of the test's own in ``slug`` (no scheduling rules)."""
    db = runtime.tenant_database(await _tenant(runtime, slug))
    service = ServiceDocument(
        code="lookup-test",
        name="Lookup test",
        duration_minutes=30,
        price_minor=125_000,
        currency="TRY",
    )
    location = LocationDocument(name="Lookup branch")
    await db[SERVICES].insert_one(service.to_mongo())
    await db[LOCATIONS].insert_one(location.to_mongo())
    return {"serviceId": str(service.id), "locationId": str(location.id)}


async def _book(
    gql: GraphQLClient,
    slug: str,
    ids: dict[str, str],
    starts_at: datetime,
    email: str = EMAIL,
    name: str = "Ayse Yilmaz",
) -> str:
    """Book anonymously as the public site does; the confirmation number."""
    variables = {
        "input": {
            **ids,
            "startsAt": starts_at.isoformat(),
            "customer": {"name": name, "email": email},
        }
    }
    payload = (await gql(CREATE, variables, tenant=slug))["data"]["createBooking"]
    assert payload["userErrors"] == [], payload
    return payload["booking"]["confirmationNumber"]


async def _booking_doc(runtime: Runtime, slug: str, number: str) -> dict[str, Any]:
    db = runtime.tenant_database(await _tenant(runtime, slug))
    doc = await db[BOOKINGS].find_one({"confirmation_number": number})
    assert doc is not None
    return doc


def _app(runtime: Runtime, **settings: Any) -> Any:
    return create_app(settings=runtime.settings.model_copy(update=settings), runtime=runtime)


def _http(app: Any, client_host: str = "203.0.113.7") -> httpx.AsyncClient:
    """A client of ``app`` calling from ``client_host``."""
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api.example.test")


# -- look-up ------------------------------------------------------------------


async def test_customer_finds_their_booking_with_number_and_email(demo, gql: GraphQLClient):
    ids = await _catalog(demo, A)
    starts = _start(timedelta(days=3))
    number = await _book(gql, A, ids, starts)

    # Any letter case of the email and of the number, surrounding spaces.
    found = await gql(LOOKUP, {"n": f"  {number.lower()} ", "e": EMAIL.upper()}, tenant=A)
    booking = found["data"]["bookingLookup"]
    assert booking == {
        "confirmationNumber": number,
        "status": "PENDING",
        "serviceName": "Lookup test",
        "locationName": "Lookup branch",
        "startsAt": starts.isoformat(),
        "startsAtLocal": booking["startsAtLocal"],
        "endsAt": (starts + timedelta(minutes=30)).isoformat(),
        "endsAtLocal": booking["endsAtLocal"],
        "timezone": "Europe/Istanbul",
        "durationMinutes": 30,
        "price": {"amountMinor": 125_000, "currency": "TRY"},
        "cancellable": True,
        "cancellableUntil": (starts - WINDOW).isoformat(),
    }
    assert datetime.fromisoformat(booking["startsAtLocal"]) == starts
    assert booking["startsAtLocal"].endswith("+03:00")


async def test_wrong_number_and_wrong_email_answer_alike(demo, gql: GraphQLClient):
    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(timedelta(days=3)))
    await _book(gql, A, ids, _start(timedelta(days=4)), email="other@example.com", name="Other")
    prefix = number.rsplit("-", 1)[0]
    attempts = [
        (number, "other@example.com"),  # a real customer, but not this booking's
        (number, "nobody@example.com"),
        (f"{prefix}-99999", EMAIL),
        ("", EMAIL),
        (number, ""),
        ("x" * 1000, EMAIL),
    ]
    for n, e in attempts:
        result = await gql(LOOKUP, {"n": n, "e": e}, tenant=A)
        assert result["data"] is None
        assert error_codes(result) == ["NOT_FOUND"], (n, e)
        assert result["errors"][0]["message"] == NOT_FOUND_MESSAGE


async def test_a_customer_without_email_cannot_be_looked_up_with_an_empty_one(
    demo, gql: GraphQLClient
):
    """Regression guard: an empty email must not match customers that have none."""
    ids = await _catalog(demo, A)
    token = await gql.token(A)
    created = await gql(
        'mutation { createCustomer(input: {name: "No Mail"}) { customer { id } } }',
        token=token,
        tenant=A,
    )
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    variables = {
        "input": {
            **ids,
            "customerId": customer_id,
            "startsAt": _start(timedelta(days=2)).isoformat(),
        }
    }
    payload = (await gql(CREATE, variables, token=token, tenant=A))["data"]["createBooking"]
    number = payload["booking"]["confirmationNumber"]
    for email in ("", "   "):
        result = await gql(LOOKUP, {"n": number, "e": email}, tenant=A)
        assert error_codes(result) == ["NOT_FOUND"]


async def test_another_tenants_booking_is_not_found(demo, gql: GraphQLClient):
    ids_a, ids_b = await _catalog(demo, A), await _catalog(demo, B)
    number_b = await _book(gql, B, ids_b, _start(timedelta(days=3)))
    # Tenant A even has a customer with the same email.
    await _book(gql, A, ids_a, _start(timedelta(days=3)))
    for slug_arg in ({"tenant": A}, {"header_tenant": A}):
        result = await gql(LOOKUP, {"n": number_b, "e": EMAIL}, **slug_arg)
        assert error_codes(result) == ["NOT_FOUND"]
        cancel = await gql(CANCEL, {"n": number_b, "e": EMAIL}, **slug_arg)
        assert [e["code"] for e in cancel["data"]["cancelBookingByCustomer"]["userErrors"]] == [
            "NOT_FOUND"
        ]
    assert (await _booking_doc(demo, B, number_b))["status"] == "pending"
    assert (await gql(LOOKUP, {"n": number_b, "e": EMAIL}, tenant=B))["data"]["bookingLookup"]
    # No tenant: nothing to look in.
    assert error_codes(await gql(LOOKUP, {"n": number_b, "e": EMAIL})) == ["TENANT_REQUIRED"]


async def test_public_booking_shows_no_internal_fields(demo, gql: GraphQLClient):
    public_type = served_schema._schema.type_map["PublicBooking"]
    assert set(public_type.fields) == {
        "confirmationNumber",
        "status",
        "serviceName",
        "locationName",
        "startsAt",
        "startsAtLocal",
        "endsAt",
        "endsAtLocal",
        "timezone",
        "durationMinutes",
        "price",
        "cancellable",
        "cancellableUntil",
    }
    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(timedelta(days=3)))
    for field in ("id", "notes", "history { by }", "customer { email }", "createdBy"):
        query = (
            f'{{ bookingLookup(confirmationNumber: "{number}", email: "{EMAIL}") {{ {field} }} }}'
        )
        assert error_codes(await gql(query, tenant=A)) == ["GRAPHQL_VALIDATION_FAILED"], field


# -- cancel ---------------------------------------------------------------------


async def test_customer_cancels_outside_the_window_and_the_slot_is_free_again(
    demo, gql: GraphQLClient
):
    ids = await _catalog(demo, A)
    starts = _start(WINDOW + timedelta(minutes=10))  # just outside the window
    number = await _book(gql, A, ids, starts)
    doc = await _booking_doc(demo, A, number)
    db = demo.tenant_database(await _tenant(demo, A))
    assert await db[BOOKING_SLOTS].count_documents({"booking_id": doc["_id"]}) == 6

    result = await gql(CANCEL, {"n": number.lower(), "e": EMAIL.lower(), "r": "ill"}, tenant=A)
    payload = result["data"]["cancelBookingByCustomer"]
    assert payload == {
        "booking": {"confirmationNumber": number, "status": "CANCELLED", "cancellable": False},
        "userErrors": [],
    }
    doc = await _booking_doc(demo, A, number)
    assert doc["status"] == "cancelled" and doc["cancel_reason"] == "ill"
    assert doc["status_history"][-1]["by"] == CUSTOMER_ACTOR
    assert await db[BOOKING_SLOTS].count_documents({"booking_id": doc["_id"]}) == 0
    entry = await db[ACTIVITY_LOG].find_one({"booking_id": doc["_id"], "action": "booking.cancel"})
    assert entry is not None and entry["actor"] == CUSTOMER_ACTOR
    # The slot is bookable again, and a second cancel is refused.
    await _book(gql, A, ids, starts, email="next@example.com", name="Next")
    again = (await gql(CANCEL, {"n": number, "e": EMAIL}, tenant=A))["data"]
    assert [e["code"] for e in again["cancelBookingByCustomer"]["userErrors"]] == [
        "INVALID_TRANSITION"
    ]


async def test_cancel_without_a_reason_stores_a_default_one(demo, gql: GraphQLClient):
    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(timedelta(days=5)))
    payload = (await gql(CANCEL, {"n": number, "e": EMAIL}, tenant=A))["data"]
    assert payload["cancelBookingByCustomer"]["userErrors"] == []
    assert (await _booking_doc(demo, A, number))["cancel_reason"] == "cancelled by the customer"


async def test_cancel_inside_the_window_is_refused_with_its_code(demo, gql: GraphQLClient):
    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(WINDOW - timedelta(minutes=20)))  # just inside
    looked_up = (await gql(LOOKUP, {"n": number, "e": EMAIL}, tenant=A))["data"]["bookingLookup"]
    assert looked_up["cancellable"] is False
    payload = (await gql(CANCEL, {"n": number, "e": EMAIL}, tenant=A))["data"][
        "cancelBookingByCustomer"
    ]
    assert payload["booking"] is None
    [error] = payload["userErrors"]
    assert error["code"] == "CANCELLATION_WINDOW_CLOSED"
    assert "24 hours" in error["message"]
    doc = await _booking_doc(demo, A, number)
    assert doc["status"] == "pending" and len(doc["status_history"]) == 1


async def test_the_window_follows_the_tenants_settings(demo, gql: GraphQLClient):
    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(timedelta(hours=3)))
    token = await gql.token(A)
    update = """mutation($input: UpdateTenantSettingsInput!) {
      updateTenantSettings(input: $input) { userErrors { code } } }"""

    async def set_policy(**fields: Any) -> None:
        result = await gql(update, {"input": fields}, token=token, tenant=A)
        assert result["data"]["updateTenantSettings"]["userErrors"] == []

    async def cancel_codes() -> list[str]:
        result = await gql(CANCEL, {"n": number, "e": EMAIL}, tenant=A)
        return [e["code"] for e in result["data"]["cancelBookingByCustomer"]["userErrors"]]

    assert await cancel_codes() == ["CANCELLATION_WINDOW_CLOSED"]  # 24 h by default
    await set_policy(cancellationWindowHours=2, allowCustomerCancellation=False)
    assert await cancel_codes() == ["CANCELLATION_WINDOW_CLOSED"]  # switched off
    looked_up = (await gql(LOOKUP, {"n": number, "e": EMAIL}, tenant=A))["data"]["bookingLookup"]
    assert looked_up["cancellableUntil"] is None
    await set_policy(allowCustomerCancellation=True)
    assert await cancel_codes() == []
    assert (await _booking_doc(demo, A, number))["status"] == "cancelled"


async def test_window_edges_with_a_fixed_clock(demo, gql: GraphQLClient):
    """Exactly at the deadline is too late; one second before is in time (domain rule)."""
    ids = await _catalog(demo, A)
    starts = _start(timedelta(days=10))
    number = await _book(gql, A, ids, starts)
    tenant = await _tenant(demo, A)
    db = demo.tenant_database(tenant)
    deadline = starts - WINDOW

    setup = outbox_setup(demo)
    at_deadline = BookingLookup(db, tenant, setup, now=lambda: deadline)
    with pytest.raises(AppError) as refused:
        await at_deadline.cancel(number, EMAIL)
    assert refused.value.code is ErrorCode.CANCELLATION_WINDOW_CLOSED
    assert (await at_deadline.view(number, EMAIL)).cancellable is False

    in_time = BookingLookup(
        db, tenant, outbox_setup(demo), now=lambda: deadline - timedelta(seconds=1)
    )
    assert (await in_time.view(number, EMAIL)).cancellable is True
    cancelled = await in_time.cancel(number, EMAIL, "plans changed")
    assert cancelled.status == "cancelled"


def test_customer_may_cancel_rule():
    starts = datetime(2030, 3, 31, 9, 0, tzinfo=UTC)
    booking = {"starts_at": starts, "status": "confirmed"}
    policy = BookingPolicy(cancellation_window_hours=0)
    assert customer_may_cancel(booking, policy, starts - timedelta(microseconds=1))
    assert not customer_may_cancel(booking, policy, starts)
    assert not customer_may_cancel({**booking, "status": "completed"}, policy, starts - WINDOW)
    closed = BookingPolicy(allow_customer_cancellation=False)
    assert not customer_may_cancel(booking, closed, starts - timedelta(days=30))


async def test_cancel_with_a_wrong_email_changes_nothing(demo, gql: GraphQLClient):
    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(timedelta(days=3)))
    result = await gql(CANCEL, {"n": number, "e": "guess@example.com"}, tenant=A)
    [error] = result["data"]["cancelBookingByCustomer"]["userErrors"]
    assert (error["code"], error["message"]) == ("NOT_FOUND", NOT_FOUND_MESSAGE)
    assert (await _booking_doc(demo, A, number))["status"] == "pending"


async def test_cancel_refused_during_maintenance(demo, gql: GraphQLClient):
    from tenancy import lifecycle

    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(timedelta(days=3)))
    await lifecycle.enter_maintenance(demo, A, "copy to eu-2", "test")
    result = await gql(CANCEL, {"n": number, "e": EMAIL}, tenant=A)
    assert error_codes(result) == ["TENANT_MAINTENANCE"]
    assert (await _booking_doc(demo, A, number))["status"] == "pending"


# -- rate limits ----------------------------------------------------------------


async def test_one_number_cannot_be_tried_with_many_emails(demo, gql: GraphQLClient):
    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(timedelta(days=3)))
    other = await _book(gql, A, ids, _start(timedelta(days=4)))
    async with _http(_app(demo, booking_lookup_attempts_per_number="3/15 minutes")) as http:
        client = GraphQLClient(http, demo)
        for guess in ("a@example.com", "b@example.com", "c@example.com"):
            assert error_codes(await client(LOOKUP, {"n": number, "e": guess}, tenant=A)) == [
                "NOT_FOUND"
            ]
        # The right email no longer helps: the number is throttled (any letter case).
        refused = await client(LOOKUP, {"n": number.lower(), "e": EMAIL}, tenant=A)
        assert error_codes(refused) == ["RATE_LIMITED"]
        assert refused["errors"][0]["extensions"]["retryAfter"] >= 1
        cancel = await client(CANCEL, {"n": number, "e": EMAIL}, tenant=A)
        assert error_codes(cancel) == ["RATE_LIMITED"]
        # GraphQL-over-HTTP clients get the Retry-After header.
        response = await http.post(
            f"/t/{A}/graphql",
            json={"query": LOOKUP, "variables": {"n": number, "e": EMAIL}},
            headers={"accept": "application/graphql-response+json"},
        )
        assert int(response.headers["retry-after"]) >= 1
        # Another number is unaffected.
        assert (await client(LOOKUP, {"n": other, "e": EMAIL}, tenant=A))["data"]["bookingLookup"]
    assert (await _booking_doc(demo, A, number))["status"] == "pending"


async def test_one_address_cannot_sweep_numbers(demo, gql: GraphQLClient):
    ids = await _catalog(demo, A)
    number = await _book(gql, A, ids, _start(timedelta(days=3)))
    prefix = number.rsplit("-", 1)[0]
    app = _app(demo, booking_lookup_attempts_per_address="4/15 minutes")
    async with _http(app) as http:
        client = GraphQLClient(http, demo)
        # Aliases in one document count one by one: 3 here, then 1 allowed, then refused.
        aliases = " ".join(
            f'a{i}: bookingLookup(confirmationNumber: "{prefix}-{90000 + i}", email: "{EMAIL}") '
            "{ status }"
            for i in range(3)
        )
        swept = await client(f"{{ {aliases} }}", tenant=A)
        assert set(error_codes(swept)) == {"NOT_FOUND"}  # the first non-null failure ends it
        assert (await client(LOOKUP, {"n": number, "e": EMAIL}, tenant=A))["data"]["bookingLookup"]
        refused = await client(LOOKUP, {"n": number, "e": EMAIL}, tenant=A)
        assert error_codes(refused) == ["RATE_LIMITED"]
        assert "address" in refused["errors"][0]["message"]
        # Also in another tenant: the address is counted over all tenants.
        assert error_codes(await client(LOOKUP, {"n": number, "e": EMAIL}, tenant=B)) == [
            "RATE_LIMITED"
        ]
    # Another address of the same server is unaffected.
    async with _http(app, client_host="198.51.100.9") as http:
        client = GraphQLClient(http, demo)
        assert (await client(LOOKUP, {"n": number, "e": EMAIL}, tenant=A))["data"]["bookingLookup"]
