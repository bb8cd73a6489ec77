"""Bookings over GraphQL: pricing, confirmation numbers, inline customers, the status machine,
double booking (also under concurrency), idempotency, rescheduling and connection filters."""

from __future__ import annotations

import asyncio
import inspect
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId

from domain.booking_rules import BookingAction, discount_minor, slot_starts
from domain.bookings import BookingRequest, BookingService
from domain.collections import BOOKING_SLOTS, BOOKINGS, CUSTOMERS
from domain.slots import BookingChanged, claim_slots
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from notifications.wiring import outbox_setup
from tenancy.models import Role, Tenant
from tenancy.runtime import Runtime
from tests.conftest import GraphQLClient, error_codes
from tests.snapshots import seeded

ISTANBUL = ZoneInfo("Europe/Istanbul")

BOOKING_FIELDS = """
  id confirmationNumber status startsAt endsAt startsAtLocal timezone durationMinutes
  price { amountMinor currency amount } discount { amountMinor currency }
  finalPrice { amountMinor currency amount }
  referralCode paymentStatus notes cancelReason createdAt
  history { status by reason }
  service { id code } location { id }
"""
STAFF_FIELDS = BOOKING_FIELDS + " customer { id name email }"

CREATE = f"""
mutation($input: CreateBookingInput!) {{
  createBooking(input: $input) {{
    booking {{ {STAFF_FIELDS} }}
    replayed
    userErrors {{ field code message }}
  }}
}}"""

# Anonymous callers lack customers.read, so they do not select the customer.
CREATE_ANON = f"""
mutation($input: CreateBookingInput!) {{
  createBooking(input: $input) {{
    booking {{ {BOOKING_FIELDS} }}
    replayed
    userErrors {{ field code message }}
  }}
}}"""

GET = f"query($id: ID!) {{ booking(id: $id) {{ {STAFF_FIELDS} }} }}"

LIST = """
query($first: Int, $after: String, $filter: BookingFilter, $sort: BookingSort! = STARTS_AT_DESC) {
  bookings(first: $first, after: $after, filter: $filter, sort: $sort) {
    totalCount
    edges { cursor node { id status startsAt confirmationNumber customer { id } service { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

PAYLOAD = (
    "booking { id status startsAt endsAt cancelReason history { status by reason } } "
    "userErrors { field code message }"
)
ACTIONS = {
    "confirm": ("confirmBooking", ""),
    "schedule": ("scheduleBooking", ""),
    "start": ("startBooking", ""),
    "complete": ("completeBooking", ""),
    "cancel": ("cancelBooking", ", reason: $reason"),
    "no_show": ("markBookingNoShow", ""),
}


def action_mutation(action: str) -> str:
    name, extra = ACTIONS[action]
    params = "$id: ID!, $reason: String!" if extra else "$id: ID!"
    return f"mutation({params}) {{ {name}(id: $id{extra}) {{ {PAYLOAD} }} }}"


RESCHEDULE = f"""
mutation($id: ID!, $startsAt: DateTime!, $locationId: ID) {{
  rescheduleBooking(id: $id, startsAt: $startsAt, locationId: $locationId) {{ {PAYLOAD} }}
}}"""


def local(day: int, hour: int, minute: int = 0, month: int = 3, year: int = 2030) -> str:
    """An Istanbul wall-clock time (UTC+03:00) in a future month free of demo bookings."""
    return datetime(year, month, day, hour, minute, tzinfo=ISTANBUL).isoformat()


def utc_iso(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).isoformat()


@dataclass
class West:
    """The demo tenant west-nipt, seen by its admin."""

    gql: GraphQLClient
    runtime: Runtime
    tenant: Tenant
    token: str
    admin_id: str
    services: dict[str, dict[str, Any]]
    locations: list[str]
    customers: list[str]

    async def __call__(
        self, query: str, token: str | None = "admin", **variables: Any
    ) -> dict[str, Any]:
        tok = self.token if token == "admin" else token
        return await self.gql(query, variables, tenant="west-nipt", token=tok)

    async def create_raw(self, token: str | None = "admin", **fields: Any) -> dict[str, Any]:
        query = CREATE if token is not None else CREATE_ANON
        result = await self(query, token=token, input=fields)
        assert "errors" not in result, result
        return result["data"]["createBooking"]

    async def create(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("serviceId", self.services["verifi"]["id"])
        fields.setdefault("customerId", self.customers[0])
        payload = await self.create_raw(**fields)
        assert payload["userErrors"] == [], payload
        assert payload["replayed"] is False
        return payload["booking"]

    async def create_error(self, token: str | None = "admin", **fields: Any) -> dict[str, Any]:
        fields.setdefault("serviceId", self.services["verifi"]["id"])
        if token is not None and "customer" not in fields:
            fields.setdefault("customerId", self.customers[0])
        payload = await self.create_raw(token=token, **fields)
        assert payload["booking"] is None, payload
        assert len(payload["userErrors"]) == 1, payload
        return payload["userErrors"][0]

    async def act(self, action: str, booking_id: str, reason: str | None = None) -> dict[str, Any]:
        variables: dict[str, Any] = {"id": booking_id}
        if ACTIONS[action][1]:
            variables["reason"] = reason if reason is not None else "test"
        result = await self(action_mutation(action), **variables)
        assert "errors" not in result, result
        return next(iter(result["data"].values()))

    async def reschedule(self, booking_id: str, starts_at: str, location_id: str | None = None):
        result = await self(RESCHEDULE, id=booking_id, startsAt=starts_at, locationId=location_id)
        assert "errors" not in result, result
        return result["data"]["rescheduleBooking"]

    async def get(self, booking_id: str) -> dict[str, Any]:
        result = await self(GET, id=booking_id)
        assert "errors" not in result, result
        return result["data"]["booking"]

    async def list(self, **variables: Any) -> dict[str, Any]:
        variables.setdefault("first", 100)
        result = await self(LIST, **variables)
        assert "errors" not in result, result
        return result["data"]["bookings"]

    async def count_bookings(self) -> int:
        return await self.db[BOOKINGS].count_documents({})

    async def count_customers(self) -> int:
        return await self.db[CUSTOMERS].count_documents({})

    @property
    def db(self):
        return self.runtime.tenant_database(self.tenant)

    def service(self, actor: str = "test") -> BookingService:
        return BookingService(self.db, self.tenant, actor, outbox_setup(self.runtime))


@pytest.fixture
async def west(runtime: Runtime, gql: GraphQLClient) -> West:
    # Only the west-nipt demo tenant (the whole demo takes ten times longer to seed),
    # without its schedule: these tests book any time (no hours set: unrestricted);
    # tests/test_scheduling.py covers the scheduling rules.
    await seeded(
        runtime,
        "west-nipt without hours",
        lambda: _seed_tenant(runtime, replace(DEMO_TENANTS[0], schedule=None)),
    )
    demo = runtime
    token = await gql.token("west-nipt")
    tenant = await demo.store.tenant_by_slug("west-nipt")
    assert tenant is not None
    catalog = await gql(
        "{ services { id code durationMinutes price { amountMinor } } locations { id name } "
        "customers(first: 100, sort: NAME_ASC) { nodes { id } } }",
        tenant="west-nipt",
        token=token,
    )
    assert "errors" not in catalog, catalog
    admin = await demo.store.user_by_email(tenant.id, "admin@west-nipt.example.com")
    assert admin is not None
    return West(
        gql=gql,
        runtime=demo,
        tenant=tenant,
        token=token,
        admin_id=str(admin.id),
        services={s["code"]: s for s in catalog["data"]["services"]},
        locations=[loc["id"] for loc in catalog["data"]["locations"]],
        customers=[c["id"] for c in catalog["data"]["customers"]["nodes"]],
    )


class _YieldingCollection:
    """Yields to the event loop around every awaited operation, so concurrent requests
    interleave between their database calls (the in-process mock never suspends)."""

    def __init__(self, inner: Any, log: list[int]) -> None:
        self._inner = inner
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            task = asyncio.current_task()
            self._log.append(id(task))
            try:
                return await attr(*args, **kwargs)
            finally:
                await asyncio.sleep(0)

        return call


class _YieldingDatabase:
    def __init__(self, inner: Any, log: list[int]) -> None:
        self._inner = inner
        self._log = log

    def __getitem__(self, name: str) -> _YieldingCollection:
        return _YieldingCollection(self._inner[name], self._log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def interleaved(west: West, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make every tenant-database call a suspension point; returns the log of calling tasks."""
    log: list[int] = []
    real = west.runtime.clients.database
    monkeypatch.setattr(
        west.runtime.clients, "database", lambda location: _YieldingDatabase(real(location), log)
    )
    return log


def assert_interleaved(log: list[int]) -> None:
    """Some task made a database call between two calls of another task."""
    first_seen: dict[int, int] = {}
    for i, task in enumerate(log):
        first_seen.setdefault(task, i)
        if any(log[j] != task for j in range(first_seen[task], i)):
            return
    raise AssertionError("requests did not interleave; the concurrency test proves nothing")


# -- price, discount, confirmation number -------------------------------------


async def test_create_booking_with_service_price(west: West):
    verifi = west.services["verifi"]
    booking = await west.create(
        serviceId=verifi["id"],
        locationId=west.locations[0],
        startsAt=local(4, 10),
        notes="first visit",
    )
    assert booking["status"] == "PENDING"
    assert booking["startsAt"] == "2030-03-04T07:00:00+00:00"
    assert booking["endsAt"] == "2030-03-04T07:30:00+00:00"
    assert booking["startsAtLocal"] == "2030-03-04T10:00:00+03:00"
    assert booking["timezone"] == "Europe/Istanbul"
    assert booking["durationMinutes"] == 30
    assert booking["price"] == {"amountMinor": 185_000, "currency": "TRY", "amount": "1850.00"}
    assert booking["discount"] == {"amountMinor": 0, "currency": "TRY"}
    assert booking["finalPrice"] == {"amountMinor": 185_000, "currency": "TRY", "amount": "1850.00"}
    assert booking["referralCode"] is None
    assert booking["paymentStatus"] == "pending"
    assert booking["notes"] == "first visit"
    assert booking["service"] == {"id": verifi["id"], "code": "verifi"}
    assert booking["location"] == {"id": west.locations[0]}
    assert booking["customer"]["id"] == west.customers[0]
    assert booking["history"] == [
        {"status": "PENDING", "by": f"user:{west.admin_id}", "reason": None}
    ]
    assert await west.get(booking["id"]) == booking


async def test_referral_code_discount_is_computed_server_side(west: West):
    booking = await west.create(startsAt=local(4, 11), referralCode=" drali10 ")
    assert booking["referralCode"] == "DRALI10"
    assert booking["price"]["amountMinor"] == 185_000
    assert booking["discount"]["amountMinor"] == 18_500
    assert booking["finalPrice"] == {"amountMinor": 166_500, "currency": "TRY", "amount": "1665.00"}

    momguard = await west.create(
        serviceId=west.services["momguard"]["id"], startsAt=local(4, 12), referralCode="DRFATIH15"
    )
    assert momguard["price"]["amountMinor"] == 120_000
    assert momguard["discount"]["amountMinor"] == 18_000
    assert momguard["finalPrice"]["amountMinor"] == 102_000


async def test_price_cannot_be_set_by_the_client(west: West):
    before = await west.count_bookings()
    result = await west(
        CREATE,
        input={
            "serviceId": west.services["verifi"]["id"],
            "customerId": west.customers[0],
            "startsAt": local(4, 9),
            "finalPriceMinor": 1,
        },
    )
    assert error_codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert await west.count_bookings() == before


async def test_unknown_or_inactive_referral_code_is_refused(west: West):
    before = await west.count_bookings()
    error = await west.create_error(startsAt=local(4, 13), referralCode="NOPE")
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "referralCode"])
    await west.db["referral_codes"].update_one({"code": "DRALI10"}, {"$set": {"active": False}})
    error = await west.create_error(startsAt=local(4, 13), referralCode="DRALI10")
    assert error["code"] == "VALIDATION_FAILED"
    assert await west.count_bookings() == before


async def _service_priced(west: West, price_minor: int, code: str) -> str:
    result = await west(
        "mutation($input: CreateServiceInput!) { createService(input: $input) { "
        "service { id } userErrors { code } } }",
        input={
            "name": f"Test {code}",
            "code": code,
            "durationMinutes": 15,
            "priceMinor": price_minor,
            "currency": "TRY",
        },
    )
    assert result["data"]["createService"]["userErrors"] == [], result
    return result["data"]["createService"]["service"]["id"]


@pytest.mark.parametrize(
    ("price", "code", "discount"),
    [
        (12_345, "DRALI10", 1_235),  # 1234.5 -> 1235 (half up)
        (12_344, "DRALI10", 1_234),  # 1234.4 -> 1234
        (12_346, "DRALI10", 1_235),  # 1234.6 -> 1235
        (12_345, "DRFATIH15", 1_852),  # 1851.75 -> 1852
        (5, "DRALI10", 1),  # 0.5 -> 1
        (4, "DRALI10", 0),  # 0.4 -> 0
        (0, "DRALI10", 0),
        (99_999_999, "DRFATIH15", 15_000_000),  # 14999999.85 -> 15000000
    ],
)
async def test_discount_rounds_half_up_in_integer_minor_units(
    west: West, price: int, code: str, discount: int
):
    service_id = await _service_priced(west, price, f"svc-{price}")
    booking = await west.create(serviceId=service_id, startsAt=local(5, 10), referralCode=code)
    assert booking["price"]["amountMinor"] == price
    assert booking["discount"]["amountMinor"] == discount
    assert booking["finalPrice"]["amountMinor"] == price - discount
    stored = await west.db[BOOKINGS].find_one({"_id": ObjectId(booking["id"])})
    assert all(
        type(stored[k]) is int for k in ("price_minor", "discount_minor", "final_price_minor")
    )


def test_discount_minor_rule():
    assert discount_minor(185_000, 1_000) == 18_500
    assert discount_minor(185_000, 500) == 9_250
    assert discount_minor(1, 5_000) == 1  # 0.5 -> 1
    assert discount_minor(3, 5_000) == 2  # 1.5 -> 2
    assert discount_minor(1, 4_999) == 0
    assert discount_minor(10_000, 10_000) == 10_000
    assert discount_minor(10_000, 0) == 0


async def test_confirmation_numbers_have_the_format_and_are_unique(west: West):
    made = [
        await west.create(startsAt=local(6, 8 + i), locationId=west.locations[i % 3])
        for i in range(8)
    ]
    numbers = [b["confirmationNumber"] for b in made]
    pattern = re.compile(r"^WE-(\d{2})(\d{2})-(\d{5})$")
    sequences = []
    for booking, number in zip(made, numbers, strict=True):
        match = pattern.match(number)
        assert match, number
        created = datetime.fromisoformat(booking["createdAt"])
        assert (int(match[1]), int(match[2])) == (created.year % 100, created.month)
        sequences.append(int(match[3]))
    assert sequences == list(range(sequences[0], sequences[0] + 8))  # one counter, no reuse
    assert sequences[0] > 24  # after the demo's 24 seeded attempts
    stored = await west.db[BOOKINGS].distinct("confirmation_number")
    assert len(stored) == await west.count_bookings()


# -- customers: inline details, anonymous callers ------------------------------


async def test_anonymous_booking_with_new_inline_customer(west: West):
    customers_before = await west.count_customers()
    payload = await west.create_raw(
        token=None,
        serviceId=west.services["momguard"]["id"],
        startsAt=local(7, 10),
        locationId=west.locations[1],
        customer={"name": "Yeni Hasta", "email": "Yeni.Hasta@Example.com", "phone": "+90 555"},
        referralCode="DRALI10",
    )
    assert payload["userErrors"] == []
    booking = payload["booking"]
    assert booking["finalPrice"]["amountMinor"] == 108_000
    assert booking["history"][0]["by"] == "anonymous"
    assert await west.count_customers() == customers_before + 1
    seen_by_staff = await west.get(booking["id"])
    assert seen_by_staff["customer"]["name"] == "Yeni Hasta"
    assert seen_by_staff["customer"]["email"] == "Yeni.Hasta@example.com"


async def test_anonymous_returning_customer_is_matched_by_email(west: West):
    first = await west.create_raw(
        token=None,
        serviceId=west.services["verifi"]["id"],
        startsAt=local(7, 11),
        customer={"name": "Returning", "email": "returning@example.com"},
    )
    second = await west.create_raw(
        token=None,
        serviceId=west.services["verifi"]["id"],
        startsAt=local(8, 11),
        customer={"name": "Returning Again", "email": "  RETURNING@example.COM "},
    )
    assert first["userErrors"] == second["userErrors"] == []
    a = await west.get(first["booking"]["id"])
    b = await west.get(second["booking"]["id"])
    assert a["customer"]["id"] == b["customer"]["id"]
    assert await west.db[CUSTOMERS].count_documents({"email_key": "returning@example.com"}) == 1

    # an existing demo customer is matched too, not duplicated
    demo_customer = await west.create_raw(
        token=None,
        serviceId=west.services["verifi"]["id"],
        startsAt=local(9, 11),
        customer={"name": "Someone", "email": "ayse.demir@example.com"},
    )
    c = await west.get(demo_customer["booking"]["id"])
    assert c["customer"]["name"] == "Ayşe Demir"


async def test_anonymous_caller_cannot_book_by_customer_id(west: West):
    before = await west.count_bookings()
    result = await west(
        CREATE_ANON,
        token=None,
        input={
            "serviceId": west.services["verifi"]["id"],
            "startsAt": local(7, 12),
            "customerId": west.customers[0],
        },
    )
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["data"] is None
    assert await west.count_bookings() == before


async def test_customer_id_or_details_exactly_one(west: West):
    before = await west.count_bookings()
    neither = await west.create_error(
        serviceId=west.services["verifi"]["id"], startsAt=local(7, 13), customerId=None
    )
    assert neither["code"] == "VALIDATION_FAILED"
    both = await west.create_error(
        startsAt=local(7, 13),
        customerId=west.customers[0],
        customer={"name": "X", "email": "x@example.com"},
    )
    assert both["code"] == "VALIDATION_FAILED"
    unknown = await west.create_error(startsAt=local(7, 13), customerId=str(ObjectId()))
    assert (unknown["code"], unknown["field"]) == ("NOT_FOUND", ["input", "customerId"])
    bad_email = await west.create_error(
        token=None, startsAt=local(7, 13), customer={"name": "X", "email": "not-mail"}
    )
    assert bad_email["code"] == "VALIDATION_FAILED"
    assert await west.count_bookings() == before


async def test_new_inline_customer_respects_the_plan_limit(west: West):
    live = await west.db[CUSTOMERS].count_documents({"status": {"$ne": "deleted"}})
    await west.runtime.store.update_tenant(west.tenant.id, {"limits.max_customers": live})
    west.runtime.registry.invalidate("west-nipt")
    before = await west.count_bookings()
    error = await west.create_error(
        token=None, startsAt=local(7, 16), customer={"name": "New", "email": "new@example.com"}
    )
    assert error["code"] == "PLAN_LIMIT_EXCEEDED"
    assert f"{live} customers" in error["message"]
    assert await west.count_bookings() == before
    assert await west.count_customers() == live
    # a returning customer still books
    payload = await west.create_raw(
        token=None,
        serviceId=west.services["verifi"]["id"],
        startsAt=local(7, 16),
        customer={"name": "Elif", "email": "elif.kaya@example.com"},
    )
    assert payload["userErrors"] == []
    assert await west.count_bookings() == before + 1


async def test_viewer_cannot_create_and_staff_can(west: West):
    viewer = await west.gql.token("west-nipt", Role.VIEWER)
    staff = await west.gql.token("west-nipt", Role.STAFF)
    variables = {
        "serviceId": west.services["verifi"]["id"],
        "startsAt": local(7, 14),
        "customerId": west.customers[0],
    }
    denied = await west(CREATE, token=viewer, input=variables)
    assert error_codes(denied) == ["FORBIDDEN"]
    ok = await west(CREATE, token=staff, input=variables)
    assert ok["data"]["createBooking"]["booking"]["customer"]["id"] == west.customers[0]


async def test_unknown_service_or_location(west: West):
    error = await west.create_error(serviceId=str(ObjectId()), startsAt=local(7, 15))
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "serviceId"])
    error = await west.create_error(startsAt=local(7, 15), locationId=str(ObjectId()))
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "locationId"])


@pytest.mark.parametrize(
    "starts_at",
    [
        "2030-03-04T10:00:00",
        "2030-03-04T10:00",
        "2030-03-04T10:00:30+03:00",
        "2030-03-04T10:00:00.5Z",
    ],
)
async def test_times_without_offset_or_with_seconds_are_refused(west: West, starts_at: str):
    before = await west.count_bookings()
    error = await west.create_error(startsAt=starts_at, locationId=west.locations[0])
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "startsAt"])
    assert await west.count_bookings() == before
    assert (
        await west.db[BOOKING_SLOTS].count_documents(
            {"slot": {"$gte": datetime(2030, 1, 1, tzinfo=UTC)}}
        )
        == 0
    )


async def test_utc_and_offset_times_are_the_same_instant(west: West):
    a = await west.create(startsAt="2030-03-10T07:00:00Z")
    # another service: without location or staff, the service is the resource (one at a time)
    b = await west.create(
        startsAt="2030-03-10T10:00:00+03:00", serviceId=west.services["momguard"]["id"]
    )
    assert a["startsAt"] == b["startsAt"] == "2030-03-10T07:00:00+00:00"


# -- the status machine -------------------------------------------------------

# How to reach each status from pending.
PATHS: dict[str, list[BookingAction]] = {
    "pending": [],
    "confirmed": [BookingAction.CONFIRM],
    "scheduled": [BookingAction.CONFIRM, BookingAction.SCHEDULE],
    "in_progress": [BookingAction.CONFIRM, BookingAction.START],
    "completed": [BookingAction.CONFIRM, BookingAction.COMPLETE],
    "cancelled": [BookingAction.CANCEL],
    "no_show": [BookingAction.CONFIRM, BookingAction.NO_SHOW],
}

# The lifecycle of the seeds: action -> (from statuses, to status).
ALLOWED: dict[str, tuple[set[str], str]] = {
    "confirm": ({"pending"}, "confirmed"),
    "schedule": ({"confirmed"}, "scheduled"),
    "start": ({"confirmed", "scheduled"}, "in_progress"),
    "complete": ({"confirmed", "scheduled", "in_progress"}, "completed"),
    "cancel": ({"pending", "confirmed", "scheduled"}, "cancelled"),
    "no_show": ({"confirmed", "scheduled"}, "no_show"),
}

PARTICIPLES = {
    "confirm": "confirmed",
    "schedule": "scheduled",
    "start": "started",
    "complete": "completed",
    "cancel": "cancelled",
    "no_show": "marked no-show",
}


async def _booking_in(west: West, status: str, hour: int) -> str:
    service = west.service()
    result = await service.create(
        BookingRequest(
            service_id=west.services["verifi"]["id"],
            starts_at=datetime(2030, 4, 1, hour, 0, tzinfo=ISTANBUL),
            customer_id=west.customers[1],
        ),
        allow_customer_id=True,
    )
    booking_id = str(result.booking["_id"])
    for action in PATHS[status]:
        await service.transition(booking_id, action, "setup")
    return booking_id


@pytest.mark.parametrize("status", list(PATHS))
async def test_every_action_from_every_status(west: West, status: str):
    for hour, (action, (sources, target)) in enumerate(ALLOWED.items()):
        booking_id = await _booking_in(west, status, 8 + hour)
        before = await west.get(booking_id)
        assert before["status"] == status.upper()
        payload = await west.act(action, booking_id, reason="customer called")
        after = await west.get(booking_id)
        if status in sources:
            assert payload["userErrors"] == [], (status, action, payload)
            assert payload["booking"]["status"] == target.upper()
            assert after["status"] == target.upper()
            assert len(after["history"]) == len(before["history"]) + 1
            assert after["history"][-1]["status"] == target.upper()
            assert after["history"][-1]["by"] == f"user:{west.admin_id}"
        else:
            assert payload["booking"] is None
            assert [e["code"] for e in payload["userErrors"]] == ["INVALID_TRANSITION"], (
                status,
                action,
            )
            message = payload["userErrors"][0]["message"]
            assert f"a {status} booking cannot be {PARTICIPLES[action]}" in message, message
            assert after == before


async def test_happy_path_through_the_lifecycle(west: West):
    booking = await west.create(startsAt=local(11, 9), locationId=west.locations[0])
    for action, status in (
        ("confirm", "CONFIRMED"),
        ("schedule", "SCHEDULED"),
        ("start", "IN_PROGRESS"),
        ("complete", "COMPLETED"),
    ):
        payload = await west.act(action, booking["id"])
        assert payload["booking"]["status"] == status
    final = await west.get(booking["id"])
    assert [h["status"] for h in final["history"]] == [
        "PENDING",
        "CONFIRMED",
        "SCHEDULED",
        "IN_PROGRESS",
        "COMPLETED",
    ]


async def test_confirm_twice_and_complete_cancelled_are_invalid(west: West):
    booking = await west.create(startsAt=local(11, 10))
    assert (await west.act("confirm", booking["id"]))["booking"]["status"] == "CONFIRMED"
    twice = await west.act("confirm", booking["id"])
    assert [e["code"] for e in twice["userErrors"]] == ["INVALID_TRANSITION"]
    assert "confirmed" in twice["userErrors"][0]["message"]

    cancelled = await west.act("cancel", booking["id"], reason="patient ill")
    assert cancelled["booking"]["status"] == "CANCELLED"
    assert cancelled["booking"]["cancelReason"] == "patient ill"
    assert cancelled["booking"]["history"][-1]["reason"] == "patient ill"
    complete = await west.act("complete", booking["id"])
    assert [e["code"] for e in complete["userErrors"]] == ["INVALID_TRANSITION"]
    assert "cancelled" in complete["userErrors"][0]["message"]
    assert (await west.get(booking["id"]))["status"] == "CANCELLED"


@pytest.mark.parametrize("reason", ["", "   "])
async def test_cancel_needs_a_reason(west: West, reason: str):
    booking = await west.create(startsAt=local(11, 11))
    payload = await west.act("cancel", booking["id"], reason=reason)
    assert payload["booking"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["VALIDATION_FAILED"]
    assert payload["userErrors"][0]["field"][-1] == "reason"
    assert (await west.get(booking["id"]))["status"] == "PENDING"


async def test_transitions_of_unknown_booking_are_not_found(west: West):
    for action in ALLOWED:
        payload = await west.act(action, str(ObjectId()))
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]


async def test_viewer_cannot_change_status(west: West):
    booking = await west.create(startsAt=local(11, 12))
    viewer = await west.gql.token("west-nipt", Role.VIEWER)
    result = await west(action_mutation("confirm"), token=viewer, id=booking["id"])
    assert error_codes(result) == ["FORBIDDEN"]
    result = await west(action_mutation("confirm"), token=None, id=booking["id"])
    assert error_codes(result) == ["UNAUTHENTICATED"]
    assert (await west.get(booking["id"]))["status"] == "PENDING"


# -- double booking -----------------------------------------------------------


async def test_overlapping_booking_at_same_location_is_refused(west: West):
    loc = west.locations[0]
    held = await west.create(startsAt=local(12, 10), locationId=loc)  # 10:00-10:30
    before = await west.count_bookings()
    for start in (
        local(12, 10),
        local(12, 10, 15),
        local(12, 9, 45),
        local(12, 9, 35),
        local(12, 10, 25),
        "2030-03-12T07:00:00Z",
        "2030-03-12T07:10:00+00:00",
    ):
        error = await west.create_error(startsAt=start, locationId=loc)
        assert (error["code"], error["field"]) == ("SLOT_TAKEN", ["input", "startsAt"]), start
    # another service at the same place and time is refused as well: the location is the resource
    error = await west.create_error(
        serviceId=west.services["momguard"]["id"],
        customerId=west.customers[2],
        startsAt=local(12, 10, 5),
        locationId=loc,
    )
    assert error["code"] == "SLOT_TAKEN"
    assert await west.count_bookings() == before
    assert await west.db[BOOKING_SLOTS].distinct(
        "booking_id",
        {
            "resource": f"location:{loc}",
            "slot": {
                "$gte": datetime(2030, 3, 12, tzinfo=UTC),
                "$lt": datetime(2030, 3, 13, tzinfo=UTC),
            },
        },
    ) == [ObjectId(held["id"])]


async def test_adjacent_times_and_other_locations_are_allowed(west: West):
    loc, other = west.locations[0], west.locations[1]
    await west.create(startsAt=local(12, 10), locationId=loc)  # 10:00-10:30
    after = await west.create(startsAt=local(12, 10, 30), locationId=loc)
    before = await west.create(startsAt=local(12, 9, 30), locationId=loc)
    elsewhere = await west.create(startsAt=local(12, 10), locationId=other)
    nowhere = await west.create(startsAt=local(12, 10))  # no location: no resource to hold
    assert len({after["id"], before["id"], elsewhere["id"], nowhere["id"]}) == 4


async def test_starts_off_the_five_minute_grid_are_refused(west: West):
    loc = west.locations[2]
    error = await west.create_error(startsAt=local(13, 10, 2), locationId=loc)
    assert error["code"] == "VALIDATION_FAILED"
    assert error["field"] == ["input", "startsAt"]
    assert "5-minute boundary" in error["message"]


async def test_back_to_back_bookings_share_no_cell(west: West):
    loc = west.locations[2]
    await west.create(startsAt=local(13, 10, 0), locationId=loc)  # 10:00-10:30
    await west.create(startsAt=local(13, 10, 30), locationId=loc)  # 10:30-11:00
    await west.create(startsAt=local(13, 9, 30), locationId=loc)  # 09:30-10:00
    error = await west.create_error(startsAt=local(13, 10, 25), locationId=loc)
    assert error["code"] == "SLOT_TAKEN"


async def test_cancelling_frees_the_slot(west: West):
    loc = west.locations[0]
    first = await west.create(startsAt=local(14, 10), locationId=loc)
    assert (await west.create_error(startsAt=local(14, 10), locationId=loc))["code"] == "SLOT_TAKEN"
    await west.act("cancel", first["id"], reason="moved away")
    second = await west.create(startsAt=local(14, 10), locationId=loc)
    assert second["id"] != first["id"]
    # no-show frees the slot too; completed bookings keep it
    await west.act("confirm", second["id"])
    await west.act("no_show", second["id"])
    third = await west.create(startsAt=local(14, 10), locationId=loc)
    await west.act("confirm", third["id"])
    await west.act("complete", third["id"])
    assert (await west.create_error(startsAt=local(14, 10), locationId=loc))["code"] == "SLOT_TAKEN"


# -- concurrency --------------------------------------------------------------


async def test_concurrent_creates_for_one_slot_make_exactly_one_booking(west: West, interleaved):
    loc = west.locations[0]
    before = await west.count_bookings()
    results = await asyncio.gather(
        *(
            west.create_raw(
                serviceId=west.services["verifi"]["id"],
                customerId=west.customers[i % len(west.customers)],
                startsAt=local(15, 10),
                locationId=loc,
            )
            for i in range(20)
        )
    )
    assert_interleaved(interleaved)
    winners = [r["booking"] for r in results if r["booking"]]
    losers = [r for r in results if not r["booking"]]
    assert len(winners) == 1
    assert len(losers) == 19
    assert all([e["code"] for e in r["userErrors"]] == ["SLOT_TAKEN"] for r in losers)
    assert await west.count_bookings() == before + 1
    listed = await west.list(filter={"startsFrom": local(15, 0), "startsBefore": local(16, 0)})
    assert [e["node"]["id"] for e in listed["edges"]] == [winners[0]["id"]]
    slots = await west.db[BOOKING_SLOTS].distinct(
        "booking_id",
        {"resource": f"location:{loc}", "slot": {"$gte": datetime(2030, 3, 15, tzinfo=UTC)}},
    )
    assert slots == [ObjectId(winners[0]["id"])]


async def test_concurrent_overlapping_creates_with_inline_customers(west: West, interleaved):
    loc = west.locations[1]
    starts = [local(16, 10, 5 * (i % 6)) for i in range(12)]  # 10:00 ... 10:25, all overlapping
    results = await asyncio.gather(
        *(
            west.create_raw(
                token=None,
                serviceId=west.services["verifi"]["id"],
                startsAt=start,
                locationId=loc,
                customer={"name": f"Racer {i}", "email": f"racer{i}@example.com"},
            )
            for i, start in enumerate(starts)
        )
    )
    assert_interleaved(interleaved)
    winners = [r["booking"] for r in results if r["booking"]]
    assert len(winners) == 1
    assert {e["code"] for r in results if not r["booking"] for e in r["userErrors"]} == {
        "SLOT_TAKEN"
    }
    listed = await west.list(filter={"startsFrom": local(16, 0), "startsBefore": local(17, 0)})
    assert listed["totalCount"] == 1


async def test_concurrent_reschedules_keep_slots_consistent(west: West, interleaved):
    loc = west.locations[2]
    booking = await west.create(startsAt=local(17, 9), locationId=loc)
    targets = [local(17, 11), local(17, 11, 10), local(17, 11, 20)]  # overlap each other
    payloads = await asyncio.gather(*(west.reschedule(booking["id"], t) for t in targets))
    assert_interleaved(interleaved)
    moved = [p["booking"] for p in payloads if p["booking"]]
    assert len(moved) >= 1
    final = await west.get(booking["id"])
    assert final["startsAt"] in {utc_iso(t) for t in targets}
    # the booking holds exactly the cells of its final time, and nothing else
    start = datetime.fromisoformat(final["startsAt"])
    held = await west.db[BOOKING_SLOTS].find({"booking_id": ObjectId(booking["id"])}).to_list(None)
    assert sorted(d["slot"] for d in held) == slot_starts(start, 30)
    assert {d["resource"] for d in held} == {f"location:{loc}"}
    error = await west.create_error(
        startsAt=final["startsAt"], locationId=loc, customerId=west.customers[3]
    )
    assert error["code"] == "SLOT_TAKEN"


async def test_a_reschedule_never_counts_a_concurrent_changes_cells_as_its_own(west: West):
    # Two reschedules of one booking: the second must not rely on cells the first inserted,
    # since the first frees them again if it loses the race (the failure CI once hit).
    booking_id, resource = ObjectId(), "location:race"
    committed = slot_starts(datetime(2030, 3, 18, 6, tzinfo=UTC), 30)
    await claim_slots(west.db, booking_id, resource, committed)
    own = frozenset(committed)
    first = await claim_slots(
        west.db, booking_id, resource, slot_starts(datetime(2030, 3, 18, 8, tzinfo=UTC), 30), own
    )
    second = slot_starts(datetime(2030, 3, 18, 8, 10, tzinfo=UTC), 30)
    with pytest.raises(BookingChanged):
        await claim_slots(west.db, booking_id, resource, second, own)
    held = await west.db[BOOKING_SLOTS].find({"booking_id": booking_id}).to_list(None)
    assert sorted(d["slot"] for d in held) == sorted(committed + first)  # nothing of the second
    # moving back onto its own committed cells is fine, and so is an import's resumed claim
    assert await claim_slots(west.db, booking_id, resource, committed, own) == []
    assert await claim_slots(west.db, booking_id, resource, second) == second[-2:]


# -- idempotency --------------------------------------------------------------


async def test_replay_with_same_key_returns_the_same_booking(west: West):
    fields = {
        "serviceId": west.services["verifi"]["id"],
        "startsAt": local(18, 10),
        "locationId": west.locations[0],
        "customer": {"name": "Retry Person", "email": "retry@example.com"},
        "idempotencyKey": "order-123",
        "referralCode": "DRALI10",
    }
    first = await west.create_raw(**fields)
    assert first["userErrors"] == [] and first["replayed"] is False
    bookings, customers, slots = (
        await west.count_bookings(),
        await west.count_customers(),
        await west.db[BOOKING_SLOTS].count_documents({}),
    )
    for _ in range(3):
        again = await west.create_raw(**fields)
        assert again["userErrors"] == []
        assert again["replayed"] is True
        assert again["booking"] == first["booking"]
    # same meaning, different spelling: still a replay
    spelled = await west.create_raw(
        **{
            **fields,
            "startsAt": "2030-03-18T07:00:00Z",
            "referralCode": "drali10",
            "customer": {"name": "Other Name", "email": "RETRY@example.com"},
        }
    )
    assert spelled["replayed"] is True and spelled["booking"]["id"] == first["booking"]["id"]
    assert await west.count_bookings() == bookings
    assert await west.count_customers() == customers
    assert await west.db[BOOKING_SLOTS].count_documents({}) == slots


async def test_anonymous_replay(west: West):
    fields = {
        "serviceId": west.services["verifi"]["id"],
        "startsAt": local(18, 11),
        "customer": {"name": "Anon", "email": "anon@example.com"},
        "idempotencyKey": "anon-1",
    }
    first = await west.create_raw(token=None, **fields)
    second = await west.create_raw(token=None, **fields)
    assert second["replayed"] is True
    assert second["booking"]["id"] == first["booking"]["id"]
    assert second["booking"]["confirmationNumber"] == first["booking"]["confirmationNumber"]


@pytest.mark.parametrize(
    "change",
    [
        {"startsAt": local(18, 13)},
        {"serviceId": "momguard"},
        {"locationId": 1},
        {"referralCode": "DRFATIH15"},
        {"customerId": 1},
    ],
)
async def test_same_key_with_a_different_request_is_refused(west: West, change: dict[str, Any]):
    fields = {
        "serviceId": west.services["verifi"]["id"],
        "startsAt": local(18, 12),
        "locationId": west.locations[0],
        "customerId": west.customers[0],
        "referralCode": "DRALI10",
        "idempotencyKey": "key-1",
    }
    first = await west.create(**fields)
    changed = dict(change)
    if "serviceId" in changed:
        changed["serviceId"] = west.services["momguard"]["id"]
    if "locationId" in changed:
        changed["locationId"] = west.locations[1]
    if "customerId" in changed:
        changed["customerId"] = west.customers[1]
    before = await west.count_bookings()
    payload = await west.create_raw(**{**fields, **changed})
    assert payload["booking"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("IDEMPOTENCY_KEY_REUSED", ["input", "idempotencyKey"])
    ]
    assert await west.count_bookings() == before
    assert (await west.get(first["id"]))["startsAt"] == utc_iso(local(18, 12))


async def test_key_of_a_refused_request_can_be_used_again(west: West):
    loc = west.locations[0]
    await west.create(startsAt=local(18, 14), locationId=loc)
    refused = await west.create_error(startsAt=local(18, 14), locationId=loc, idempotencyKey="k-2")
    assert refused["code"] == "SLOT_TAKEN"
    ok = await west.create_raw(
        serviceId=west.services["verifi"]["id"],
        customerId=west.customers[0],
        startsAt=local(18, 15),
        locationId=loc,
        idempotencyKey="k-2",
    )
    assert ok["userErrors"] == [] and ok["replayed"] is False


@pytest.mark.parametrize("key", ["", "k" * 201])
async def test_idempotency_key_length(west: West, key: str):
    error = await west.create_error(startsAt=local(18, 16), idempotencyKey=key)
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "idempotencyKey"])


async def test_concurrent_requests_with_one_key_create_one_booking(west: West, interleaved):
    before_bookings, before_customers = await west.count_bookings(), await west.count_customers()
    fields = {
        "serviceId": west.services["verifi"]["id"],
        "startsAt": local(19, 10),
        "locationId": west.locations[0],
        "idempotencyKey": "double-click",
        "customer": {"name": "Double Click", "email": "double@example.com"},
    }
    results = await asyncio.gather(*(west.create_raw(token=None, **fields) for _ in range(10)))
    assert_interleaved(interleaved)
    assert all(r["userErrors"] == [] for r in results), results
    assert len({r["booking"]["id"] for r in results}) == 1
    assert sorted(r["replayed"] for r in results) == [False] + [True] * 9
    assert await west.count_bookings() == before_bookings + 1
    assert await west.count_customers() == before_customers + 1


# -- reschedule ---------------------------------------------------------------


async def test_reschedule_moves_the_slot(west: West):
    loc = west.locations[0]
    booking = await west.create(startsAt=local(20, 10), locationId=loc)
    payload = await west.reschedule(booking["id"], local(20, 14))
    assert payload["userErrors"] == []
    moved = payload["booking"]
    assert moved["startsAt"] == utc_iso(local(20, 14))
    assert moved["endsAt"] == utc_iso(local(20, 14, 30))
    assert moved["status"] == "PENDING"
    assert moved["history"][-1] == {
        "status": "PENDING",
        "by": f"user:{west.admin_id}",
        "reason": "rescheduled",
    }
    # the old slot is free for others, the new one is held
    other = await west.create(startsAt=local(20, 10), locationId=loc, customerId=west.customers[1])
    assert other["id"] != booking["id"]
    assert (await west.create_error(startsAt=local(20, 14, 15), locationId=loc))[
        "code"
    ] == "SLOT_TAKEN"


async def test_reschedule_overlapping_its_own_old_slot(west: West):
    loc = west.locations[0]
    booking = await west.create(startsAt=local(21, 12), locationId=loc)  # 12:00-12:30
    payload = await west.reschedule(booking["id"], local(21, 12, 15))  # 12:15-12:45
    assert payload["userErrors"] == []
    assert payload["booking"]["startsAt"] == utc_iso(local(21, 12, 15))
    assert (await west.create_error(startsAt=local(21, 12), locationId=loc))["code"] == "SLOT_TAKEN"
    assert (await west.create_error(startsAt=local(21, 12, 40), locationId=loc))[
        "code"
    ] == "SLOT_TAKEN"
    # and back, overlapping the other way: 12:05-12:35
    payload = await west.reschedule(booking["id"], local(21, 12, 5))
    assert payload["userErrors"] == []
    held = await west.db[BOOKING_SLOTS].find({"booking_id": ObjectId(booking["id"])}).to_list(None)
    start = datetime.fromisoformat(utc_iso(local(21, 12, 5)))
    assert sorted(d["slot"] for d in held) == slot_starts(start, 30)
    # the freed minutes on both sides can be booked again
    await west.create(startsAt=local(21, 11, 35), locationId=loc)  # ends 12:05
    await west.create(startsAt=local(21, 12, 35), locationId=loc)  # starts when it ends
    assert (await west.create_error(startsAt=local(21, 12, 30), locationId=loc))[
        "code"
    ] == "SLOT_TAKEN"


async def test_reschedule_into_a_taken_slot_keeps_the_old_time(west: West):
    loc = west.locations[0]
    blocker = await west.create(startsAt=local(22, 14), locationId=loc)
    booking = await west.create(
        startsAt=local(22, 10), locationId=loc, customerId=west.customers[1]
    )
    slots_before = await west.db[BOOKING_SLOTS].count_documents({})
    payload = await west.reschedule(booking["id"], local(22, 13, 45))  # 13:45-14:15 overlaps
    assert payload["booking"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("SLOT_TAKEN", ["input", "startsAt"])
    ]
    kept = await west.get(booking["id"])
    assert kept["startsAt"] == utc_iso(local(22, 10))
    assert len(kept["history"]) == 1
    assert await west.db[BOOKING_SLOTS].count_documents({}) == slots_before
    # both still hold their slots
    assert (await west.create_error(startsAt=local(22, 10), locationId=loc))["code"] == "SLOT_TAKEN"
    assert (await west.create_error(startsAt=local(22, 14), locationId=loc))["code"] == "SLOT_TAKEN"
    assert (await west.get(blocker["id"]))["startsAt"] == utc_iso(local(22, 14))


async def test_reschedule_to_another_location(west: West):
    a, b = west.locations[0], west.locations[1]
    booking = await west.create(startsAt=local(23, 10), locationId=a)
    payload = await west.reschedule(booking["id"], local(23, 10), location_id=b)
    assert payload["userErrors"] == []
    assert (await west.get(booking["id"]))["location"] == {"id": b}
    await west.create(startsAt=local(23, 10), locationId=a)  # old place free
    assert (await west.create_error(startsAt=local(23, 10), locationId=b))["code"] == "SLOT_TAKEN"
    missing = await west.reschedule(booking["id"], local(23, 11), location_id=str(ObjectId()))
    assert [e["code"] for e in missing["userErrors"]] == ["NOT_FOUND"]


async def test_reschedule_refusals(west: West):
    booking = await west.create(startsAt=local(24, 10), locationId=west.locations[0])
    naive = await west.reschedule(booking["id"], "2030-03-24T12:00:00")
    assert [(e["code"], e["field"]) for e in naive["userErrors"]] == [
        ("VALIDATION_FAILED", ["input", "startsAt"])
    ]
    unknown = await west.reschedule(str(ObjectId()), local(24, 12))
    assert [e["code"] for e in unknown["userErrors"]] == ["NOT_FOUND"]
    await west.act("cancel", booking["id"], reason="no longer needed")
    closed = await west.reschedule(booking["id"], local(24, 12))
    assert [e["code"] for e in closed["userErrors"]] == ["INVALID_TRANSITION"]
    assert (await west.get(booking["id"]))["startsAt"] == utc_iso(local(24, 10))
    # the cancelled booking did not claim the new time
    await west.create(startsAt=local(24, 12), locationId=west.locations[0])


# -- connection filters -------------------------------------------------------


@pytest.fixture
async def april(west: West) -> dict[str, str]:
    """Bookings on 2031-04-01 (Istanbul) with known status, customer and service."""
    verifi, momguard = west.services["verifi"]["id"], west.services["momguard"]["id"]
    c0, c1 = west.customers[0], west.customers[1]
    spec = {
        "b09": (9, verifi, c0, []),
        "b10": (10, momguard, c0, ["confirm"]),
        "b11": (11, verifi, c1, ["confirm", "schedule"]),
        "b12": (12, momguard, c1, ["cancel"]),
        "b13": (13, verifi, c0, ["confirm", "complete"]),
    }
    ids = {}
    for key, (hour, service, customer, actions) in spec.items():
        booking = await west.create(
            serviceId=service, customerId=customer, startsAt=local(1, hour, month=4, year=2031)
        )
        for action in actions:
            await west.act(action, booking["id"], reason="test")
        ids[key] = booking["id"]
    return ids


def _day(hour: int, minute: int = 0, second: int = 0) -> str:
    return datetime(2031, 4, 1, hour, minute, second, tzinfo=ISTANBUL).isoformat()


async def _ids(west: West, **flt: Any) -> list[str]:
    flt.setdefault("startsFrom", _day(0))
    flt.setdefault("startsBefore", _day(23))
    page = await west.list(filter=flt, sort="STARTS_AT_ASC")
    assert page["totalCount"] == len(page["edges"])
    return [e["node"]["id"] for e in page["edges"]]


async def test_filter_by_date_range(west: West, april: dict[str, str]):
    assert await _ids(west) == [april[k] for k in ("b09", "b10", "b11", "b12", "b13")]
    assert await _ids(west, startsFrom=_day(10), startsBefore=_day(12)) == [
        april["b10"],
        april["b11"],
    ]
    # inclusive start, exclusive end, at any precision
    assert await _ids(west, startsFrom=_day(10), startsBefore=_day(10, 0, 30)) == [april["b10"]]
    assert await _ids(west, startsFrom=_day(10, 0, 30), startsBefore=_day(11, 0, 1)) == [
        april["b11"]
    ]
    assert await _ids(
        west, startsFrom="2031-04-01T07:00:00Z", startsBefore="2031-04-01T08:00:00Z"
    ) == [april["b10"]]
    assert await _ids(west, startsFrom=_day(13, 1)) == []
    only_before = await west.list(filter={"startsBefore": _day(9, 1)}, sort="STARTS_AT_DESC")
    assert only_before["edges"][0]["node"]["id"] == april["b09"]


async def test_filter_with_naive_time_is_refused(west: West, april: dict[str, str]):
    result = await west(LIST, first=10, filter={"startsFrom": "2031-04-01T10:00:00"})
    assert error_codes(result) == ["VALIDATION_FAILED"]


async def test_filter_by_status(west: West, april: dict[str, str]):
    assert await _ids(west, statuses=["PENDING"]) == [april["b09"]]
    assert await _ids(west, statuses=["CONFIRMED", "SCHEDULED"]) == [april["b10"], april["b11"]]
    assert await _ids(west, statuses=["CANCELLED", "COMPLETED"]) == [april["b12"], april["b13"]]
    assert await _ids(west, statuses=["NO_SHOW"]) == []
    assert await _ids(west, statuses=[]) == [april[k] for k in ("b09", "b10", "b11", "b12", "b13")]


async def test_filter_by_customer_and_service(west: West, april: dict[str, str]):
    c0, c1 = west.customers[0], west.customers[1]
    verifi, momguard = west.services["verifi"]["id"], west.services["momguard"]["id"]
    assert await _ids(west, customerId=c0) == [april["b09"], april["b10"], april["b13"]]
    assert await _ids(west, customerId=c1) == [april["b11"], april["b12"]]
    assert await _ids(west, serviceId=momguard) == [april["b10"], april["b12"]]
    assert await _ids(west, serviceId=verifi, customerId=c0) == [april["b09"], april["b13"]]
    assert await _ids(west, serviceId=verifi, customerId=c0, statuses=["COMPLETED"]) == [
        april["b13"]
    ]
    assert await _ids(west, customerId=str(ObjectId())) == []
    # across all dates: every booking of a customer, and nothing else
    everything = await west.list(filter={"customerId": c1})
    assert everything["totalCount"] == len(everything["edges"]) > 2
    assert {e["node"]["customer"]["id"] for e in everything["edges"]} == {c1}


async def test_bookings_pagination_with_filter_and_sorts(west: West, april: dict[str, str]):
    for sort, expected in (
        ("STARTS_AT_ASC", ["b09", "b10", "b11", "b12", "b13"]),
        ("STARTS_AT_DESC", ["b13", "b12", "b11", "b10", "b09"]),
        ("CREATED_AT_DESC", ["b13", "b12", "b11", "b10", "b09"]),
    ):
        seen, after = [], None
        while True:
            page = await west.list(
                first=2,
                after=after,
                sort=sort,
                filter={"startsFrom": _day(0), "startsBefore": _day(23)},
            )
            seen.extend(e["node"]["id"] for e in page["edges"])
            assert page["totalCount"] == 5
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [april[k] for k in expected], sort


async def test_all_demo_bookings_page_without_duplicates(west: West):
    total = (await west.list(first=1))["totalCount"]
    seen, after = [], None
    while True:
        page = await west.list(first=7, after=after)
        seen.extend(e["node"]["id"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == total == await west.count_bookings()
    result = await west(LIST, first=101)
    assert error_codes(result) == ["VALIDATION_FAILED"]
    result = await west(LIST, first=5, after="bogus")
    assert error_codes(result) == ["VALIDATION_FAILED"]


async def test_refused_booking_does_not_keep_the_inline_customer_it_created(west: West):
    loc = west.locations[1]
    await west.create(startsAt=local(25, 9), locationId=loc)
    customers_before = await west.db["customers"].count_documents({})
    counter_before = (await west.db["counters"].find_one({"_id": "customers"}))["value"]
    error = await west.create_error(
        token=None,
        startsAt=local(25, 9),
        locationId=loc,
        customer={"name": "New Person", "email": "new.person@example.com"},
    )
    assert error["code"] == "SLOT_TAKEN"
    assert await west.db["customers"].count_documents({}) == customers_before
    assert (await west.db["counters"].find_one({"_id": "customers"}))["value"] == counter_before
