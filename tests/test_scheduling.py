"""Scheduling end to end: availableSlots, write-time rules, staff, seats, isolation, round-trips.

The demo tenant west-nipt has a schedule (Mon-Sat 08:00-17:00 Europe/Istanbul, closed on the
next national holiday; services with 5/10 min buffers, 2 h notice, 90-day horizon, 15 min step).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId

from domain.booking_rules import BookingAction
from domain.bookings import BookingRequest, BookingService
from domain.collections import BOOKINGS, SERVICES
from domain.documents import BookingDocument, ServiceDocument
from graphql_api.demo import DEMO_TENANTS, _seed_tenant, next_holiday
from notifications.wiring import outbox_setup
from tenancy.models import Role, Tenant
from tenancy.runtime import Runtime
from tests.conftest import GraphQLClient, error_codes
from tests.snapshots import seeded
from tests.test_roundtrips import CountingDatabase

ISTANBUL = ZoneInfo("Europe/Istanbul")
WEST = "west-nipt"
TROMB = "tromb-screening"
ERRORS = "userErrors { field code message }"
SLOTS = """query($s: ID!, $l: ID, $st: ID, $from: DateTime!, $to: DateTime!) {
  availableSlots(serviceId: $s, locationId: $l, staffId: $st, from: $from, to: $to) {
    timezone slots { startsAt startsAtLocal endsAt seatsLeft } } }"""
CREATE = f"""mutation($input: CreateBookingInput!) {{
  createBooking(input: $input) {{ booking {{ id startsAt startsAtLocal staffId }} {ERRORS} }} }}"""
RESCHEDULE = f"""mutation($id: ID!, $at: DateTime!) {{
  rescheduleBooking(id: $id, startsAt: $at) {{ booking {{ id startsAt }} {ERRORS} }} }}"""
CREATE_STAFF = f"""mutation($input: CreateStaffMemberInput!) {{
  createStaffMember(input: $input) {{ staffMember {{ id name active serviceIds availability {{
    weeklyHours {{ mon {{ start end }} }} overrides {{ date closed }} }} }}
    {ERRORS} }} }}"""
UPDATE_STAFF = f"""mutation($id: ID!, $input: UpdateStaffMemberInput!) {{
  updateStaffMember(id: $id, input: $input) {{ staffMember {{ id name email active }}
    {ERRORS} }} }}"""
DEACTIVATE_STAFF = f"""mutation($id: ID!) {{
  deactivateStaffMember(id: $id) {{ staffMember {{ id active }} {ERRORS} }} }}"""
STAFF_LIST = """query($first: Int, $after: String, $all: Boolean) {
  staffMembers(first: $first, after: $after, includeInactive: $all) {
    nodes { id name active } pageInfo { hasNextPage endCursor } totalCount } }"""


def open_day(weeks: int = 1, weekday: int | None = None) -> date:
    """A day ``weeks`` ahead on which the demo locations are open (Mon-Sat, not the holiday)."""
    today = datetime.now(UTC).astimezone(ISTANBUL).date()
    day = today + timedelta(days=7 * weeks)
    if weekday is not None:
        day += timedelta(days=(weekday - day.weekday()) % 7)
    while day.weekday() == 6 or day == next_holiday(today):
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ISTANBUL).isoformat()


@dataclass
class West:
    gql: GraphQLClient
    runtime: Runtime
    tenant: Tenant
    admin: str
    services: dict[str, str]  # code -> id
    locations: list[str]
    customer: str

    @property
    def db(self) -> Any:
        return self.runtime.tenant_database(self.tenant)

    async def __call__(self, query: str, token: str | None = "admin", **variables: Any) -> Any:
        tok = self.admin if token == "admin" else token
        return await self.gql(query, variables, tenant=WEST, token=tok)

    async def slots(self, day: date, token: str | None = None, **ids: Any) -> list[dict]:
        ids.setdefault("s", self.services["verifi"])
        ids.setdefault("l", self.locations[0])
        result = await self(SLOTS, token=token, **ids, **{"from": at(day, 0), "to": at(day, 23)})
        assert "errors" not in result, result
        assert result["data"]["availableSlots"]["timezone"] == "Europe/Istanbul"
        return result["data"]["availableSlots"]["slots"]

    async def book(self, token: str | None = "admin", **fields: Any) -> dict[str, Any]:
        fields.setdefault("serviceId", self.services["verifi"])
        if token is None:
            fields.setdefault("customer", {"name": "Deniz Ak", "email": "deniz@example.com"})
        else:
            fields.setdefault("customerId", self.customer)
        result = await self(CREATE, token=token, input=fields)
        assert "errors" not in result, result
        return result["data"]["createBooking"]

    async def staff(self, token: str | None = "admin", **fields: Any) -> dict[str, Any]:
        fields.setdefault("name", "Dr. Test")
        result = await self(CREATE_STAFF, token=token, input=fields)
        assert "errors" not in result, result
        payload = result["data"]["createStaffMember"]
        assert payload["userErrors"] == [], payload
        return payload["staffMember"]


@pytest.fixture
async def west(runtime: Runtime, gql: GraphQLClient) -> West:
    await seeded(runtime, "west-nipt", lambda: _seed_tenant(runtime, DEMO_TENANTS[0]))
    tenant = await runtime.store.tenant_by_slug(WEST)
    assert tenant is not None
    admin = await gql.token(WEST)
    found = await gql(
        "{ services { id code } locations { id } customers(first: 1) { nodes { id } } }",
        tenant=WEST,
        token=admin,
    )
    data = found["data"]
    return West(
        gql=gql,
        runtime=runtime,
        tenant=tenant,
        admin=admin,
        services={s["code"]: s["id"] for s in data["services"]},
        locations=[loc["id"] for loc in data["locations"]],
        customer=data["customers"]["nodes"][0]["id"],
    )


def starts(slots: list[dict]) -> list[str]:
    return [s["startsAt"] for s in slots]


# -- the "Done when" flow ------------------------------------------------------------------


async def test_anonymous_caller_reads_slots_books_one_and_it_disappears(west: West):
    day = open_day()
    before = await west.slots(day)
    assert before, "the demo location is open on that day"
    local = [s["startsAtLocal"][11:16] for s in before]
    assert local[0] == "08:00" and local[-1] == "16:30"  # 30 min service, closes at 17:00
    assert all(s["startsAtLocal"].endswith("+03:00") for s in before)
    assert all(s["seatsLeft"] is None for s in before)  # capacity 1
    chosen = before[8]
    made = await west.book(token=None, locationId=west.locations[0], startsAt=chosen["startsAt"])
    assert made["userErrors"] == [], made
    assert made["booking"]["startsAtLocal"] == chosen["startsAtLocal"]
    after = await west.slots(day)
    assert chosen["startsAt"] not in starts(after)
    # 30 minutes plus the buffers (5 before, 10 after) hold the neighbours as well
    gone = set(starts(before)) - set(starts(after))
    held = {datetime.fromisoformat(s) for s in gone}
    booked = datetime.fromisoformat(chosen["startsAt"])
    assert held == {booked + timedelta(minutes=m) for m in (-30, -15, 0, 15, 30)}
    # other locations are not affected
    assert starts(await west.slots(day, l=west.locations[1])) == starts(before)
    # a time outside working hours is refused with its code
    late = await west.book(token=None, locationId=west.locations[0], startsAt=at(day, 20))
    assert [(e["code"], e["field"]) for e in late["userErrors"]] == [
        ("OUTSIDE_AVAILABILITY", ["input", "startsAt"])
    ]
    sunday = open_day(weekday=6) + timedelta(days=0)
    assert sunday.weekday() != 6 or await west.slots(sunday) == []


async def test_the_holiday_and_sundays_have_no_slots(west: West):
    today = datetime.now(UTC).astimezone(ISTANBUL).date()
    sunday = today + timedelta(days=7 + (6 - today.weekday()) % 7)
    assert await west.slots(sunday) == []
    holiday = next_holiday(today)
    if holiday - today < timedelta(days=85):
        assert await west.slots(holiday) == []


async def test_range_is_bounded_and_ordered(west: West):
    day = open_day()
    far = datetime.fromisoformat(at(day, 0)) + timedelta(days=31, minutes=1)
    ids = {"s": west.services["verifi"], "l": west.locations[0]}
    result = await west(SLOTS, token=None, **ids, **{"from": at(day, 0), "to": far.isoformat()})
    assert error_codes(result) == ["VALIDATION_FAILED"]
    assert result["errors"][0]["extensions"]["field"] == ["to"]
    result = await west(SLOTS, token=None, **ids, **{"from": at(day, 10), "to": at(day, 9)})
    assert error_codes(result) == ["VALIDATION_FAILED"]
    ok = await west(
        SLOTS,
        token=None,
        **ids,
        **{"from": at(day, 0), "to": (far - timedelta(minutes=1)).isoformat()},
    )
    assert "errors" not in ok, ok


# -- write-time rules ------------------------------------------------------------------------


async def test_create_refuses_past_soon_far_and_closed_times(west: West):
    loc = west.locations[0]
    now = datetime.now(UTC)
    soon = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    soon -= timedelta(minutes=soon.minute % 5)
    cases = {
        "TOO_SOON": soon.isoformat(),
        "OUTSIDE_AVAILABILITY": at(open_day(), 7, 45),
    }
    far = open_day(weeks=14)
    cases["TOO_FAR"] = at(far, 10)
    past = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    for code, starts_at in [*cases.items(), ("TOO_SOON", past.isoformat())]:
        made = await west.book(locationId=loc, startsAt=starts_at)
        assert [(e["code"], e["field"]) for e in made["userErrors"]] == [
            (code, ["input", "startsAt"])
        ], (code, made)
    # 16:30 ends exactly at closing; 16:45 would not fit; 10:05 is not on the 15-minute step
    day = open_day()
    assert (await west.book(locationId=loc, startsAt=at(day, 16, 30)))["userErrors"] == []
    for hour, minute in ((16, 45), (10, 5)):
        made = await west.book(locationId=loc, startsAt=at(day, hour, minute))
        assert [e["code"] for e in made["userErrors"]] == ["OUTSIDE_AVAILABILITY"]


async def test_reschedule_obeys_the_same_rules_and_frees_the_old_time(west: West):
    day = open_day()
    loc = west.locations[0]
    made = await west.book(locationId=loc, startsAt=at(day, 10))
    booking = made["booking"]["id"]
    moved = await west(RESCHEDULE, id=booking, at=at(day, 18))
    assert [e["code"] for e in moved["data"]["rescheduleBooking"]["userErrors"]] == [
        "OUTSIDE_AVAILABILITY"
    ]
    moved = await west(RESCHEDULE, id=booking, at=at(day, 13))
    assert moved["data"]["rescheduleBooking"]["userErrors"] == []
    free = starts(await west.slots(day))
    ten = datetime.fromisoformat(at(day, 10)).astimezone(UTC)
    one = datetime.fromisoformat(at(day, 13)).astimezone(UTC)
    assert ten.isoformat() in free and one.isoformat() not in free
    # the next slot after the buffers is free again, and bookable
    after = await west.book(locationId=loc, startsAt=at(day, 13, 45))
    assert after["userErrors"] == [], after


async def test_without_location_or_staff_the_service_is_the_resource(west: West):
    day = open_day()
    first = await west.book(startsAt=at(day, 10))
    assert first["userErrors"] == []
    again = await west.book(startsAt=at(day, 10, 15))  # overlaps within the same service
    assert [e["code"] for e in again["userErrors"]] == ["SLOT_TAKEN"]
    other = await west.book(startsAt=at(day, 10), serviceId=west.services["momguard"])
    assert other["userErrors"] == []
    slots = await west(
        SLOTS, token=None, s=west.services["verifi"], **{"from": at(day, 9), "to": at(day, 12)}
    )
    free = starts(slots["data"]["availableSlots"]["slots"])
    assert datetime.fromisoformat(at(day, 10)).astimezone(UTC).isoformat() not in free


# -- staff -----------------------------------------------------------------------------------

AVAILABILITY = {
    "weeklyHours": {
        d: [{"start": "12:00", "end": "16:00"}] for d in ("mon", "tue", "wed", "thu", "fri", "sat")
    },
    "overrides": [],
}


async def test_staff_crud_for_admins(west: West, gql: GraphQLClient):
    made = await west.staff(
        name="  Dr. Selim  ",
        serviceIds=[west.services["verifi"]],
        availability=AVAILABILITY,
    )
    assert made["name"] == "Dr. Selim" and made["active"] is True
    assert made["serviceIds"] == [west.services["verifi"]]
    assert made["availability"]["weeklyHours"]["mon"] == [{"start": "12:00", "end": "16:00"}]
    updated = await west(
        UPDATE_STAFF, id=made["id"], input={"name": "Dr. Selim Kaya", "email": "selim@x.com"}
    )
    payload = updated["data"]["updateStaffMember"]
    assert payload["userErrors"] == [] and payload["staffMember"]["name"] == "Dr. Selim Kaya"
    assert payload["staffMember"]["email"] == "selim@x.com"
    bad = await west(
        UPDATE_STAFF,
        id=made["id"],
        input={"availability": {"weeklyHours": {"mon": [{"start": "15:00", "end": "09:00"}]}}},
    )
    errors = bad["data"]["updateStaffMember"]["userErrors"]
    assert [e["code"] for e in errors] == ["VALIDATION_FAILED"]
    assert errors[0]["field"][:2] == ["input", "availability"]
    # list with pagination: the demo's two plus this one
    page = await west(STAFF_LIST, first=2)
    first = page["data"]["staffMembers"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
    rest = await west(STAFF_LIST, first=2, after=first["pageInfo"]["endCursor"])
    names = [n["name"] for n in first["nodes"] + rest["data"]["staffMembers"]["nodes"]]
    assert names == sorted(names) and "Dr. Selim Kaya" in names
    # deactivate: gone from the public list, kept for staff with includeInactive
    gone = await west(DEACTIVATE_STAFF, id=made["id"])
    assert gone["data"]["deactivateStaffMember"]["staffMember"]["active"] is False
    public = await west(STAFF_LIST, token=None)
    assert made["id"] not in [n["id"] for n in public["data"]["staffMembers"]["nodes"]]
    everyone = await west(STAFF_LIST, all=True)
    assert made["id"] in [n["id"] for n in everyone["data"]["staffMembers"]["nodes"]]
    # anonymous and staff roles cannot manage staff; anonymous does not see emails
    anon = await west(CREATE_STAFF, token=None, input={"name": "X"})
    assert error_codes(anon) == ["UNAUTHENTICATED"]
    staff_token = await gql.token(WEST, Role.STAFF)
    denied = await west(CREATE_STAFF, token=staff_token, input={"name": "X"})
    assert error_codes(denied) == ["FORBIDDEN"]
    email = await west("{ staffMembers { nodes { email } } }", token=None)
    assert error_codes(email) and set(error_codes(email)) == {"UNAUTHENTICATED"}


async def test_staff_links_only_users_of_this_tenant(west: West, runtime: Runtime):
    own = await runtime.store.user_by_email(west.tenant.id, f"viewer@{WEST}.example.com")
    assert own is not None
    linked = await west(CREATE_STAFF + "", input={"name": "Linked", "userId": str(own.id)})
    assert linked["data"]["createStaffMember"]["userErrors"] == []
    await _seed_tenant(runtime, next(d for d in DEMO_TENANTS if d.slug == TROMB))
    tromb = await runtime.store.tenant_by_slug(TROMB)
    assert tromb is not None
    foreign = await runtime.store.user_by_email(tromb.id, f"staff@{TROMB}.example.com")
    assert foreign is not None
    for user_id in (str(foreign.id), str(ObjectId()), "not-an-id"):
        refused = await west(CREATE_STAFF, input={"name": "Foreign", "userId": user_id})
        errors = refused["data"]["createStaffMember"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "userId"])]


async def test_staff_slots_intersect_hours_and_staff_is_never_double_booked(west: West):
    day = open_day()
    member = await west.staff(name="Dr. Afternoon", availability=AVAILABILITY)
    slots = await west.slots(day, st=member["id"])
    local = [s["startsAtLocal"][11:16] for s in slots]
    assert local[0] == "12:00" and local[-1] == "15:30"
    # booked at one location, the staff member is busy at every other
    made = await west.book(locationId=west.locations[0], staffId=member["id"], startsAt=at(day, 13))
    assert made["userErrors"] == [] and made["booking"]["staffId"] == member["id"]
    clash = await west.book(
        locationId=west.locations[1], staffId=member["id"], startsAt=at(day, 13, 15)
    )
    assert [e["code"] for e in clash["userErrors"]] == ["SLOT_TAKEN"]
    assert "staff member" in clash["userErrors"][0]["message"]
    elsewhere = await west.slots(day, l=west.locations[1], st=member["id"])
    thirteen = datetime.fromisoformat(at(day, 13)).astimezone(UTC).isoformat()
    assert thirteen not in starts(elsewhere)
    assert thirteen in starts(await west.slots(day, l=west.locations[1]))  # location is free
    outside = await west.book(
        locationId=west.locations[1], staffId=member["id"], startsAt=at(day, 9)
    )
    assert [e["code"] for e in outside["userErrors"]] == ["OUTSIDE_AVAILABILITY"]
    # deactivated: the booking stays, new bookings cannot name the member
    await west(DEACTIVATE_STAFF, id=member["id"])
    kept = await west.db[BOOKINGS].find_one({"_id": ObjectId(made["booking"]["id"])})
    assert kept["status"] == "pending" and str(kept["staff_id"]) == member["id"]
    later = await west.book(
        locationId=west.locations[2], staffId=member["id"], startsAt=at(day, 14)
    )
    assert [(e["code"], e["field"]) for e in later["userErrors"]] == [
        ("NOT_FOUND", ["input", "staffId"])
    ]


async def test_one_staff_member_booked_concurrently_exactly_one_wins(west: West):
    member = await west.staff(name="Dr. Busy")
    day = open_day()
    service = BookingService(west.db, west.tenant, "test", outbox_setup(west.runtime))

    async def book(location: str) -> Any:
        request = BookingRequest(
            service_id=west.services["verifi"],
            starts_at=datetime.fromisoformat(at(day, 11)),
            customer_id=west.customer,
            location_id=location,
            staff_id=member["id"],
        )
        return await service.create(request, allow_customer_id=True)

    results = await asyncio.gather(
        book(west.locations[0]), book(west.locations[1]), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1, results
    assert getattr(lost[0], "code", None) == "SLOT_TAKEN"
    # the loser left no booking and no claims behind
    assert await west.db[BOOKINGS].count_documents({"staff_id": ObjectId(member["id"])}) == 1
    holders = await west.db["booking_slots"].distinct(
        "booking_id", {"resource": {"$regex": "^staff:"}}
    )
    assert holders == [won[0].booking["_id"]]


async def test_capacity_gives_seats_and_concurrent_bookings_fill_them_exactly(west: West):
    service_id = west.services["momguard"]
    doc = await west.db[SERVICES].find_one({"_id": ObjectId(service_id)})
    group = ServiceDocument.model_validate({**doc, "capacity": 2})
    await west.db[SERVICES].replace_one({"_id": doc["_id"]}, group.to_mongo())
    day = open_day()
    ten = datetime.fromisoformat(at(day, 10)).astimezone(UTC).isoformat()

    def seats(slots: list[dict]) -> int | None:
        return next((s["seatsLeft"] for s in slots if s["startsAt"] == ten), None)

    assert seats(await west.slots(day, s=service_id)) == 2
    service = BookingService(west.db, west.tenant, "test", outbox_setup(west.runtime))

    async def book(i: int) -> Any:
        request = BookingRequest(
            service_id=service_id,
            starts_at=datetime.fromisoformat(at(day, 10)),
            customer_id=west.customer,
            location_id=west.locations[0],
            idempotency_key=f"seat-{i}",
        )
        return await service.create(request, allow_customer_id=True)

    results = await asyncio.gather(*(book(i) for i in range(3)), return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 2, results
    assert sorted(r.booking["resources"][0] for r in won) == [
        f"location:{west.locations[0]}",
        f"location:{west.locations[0]}#seat1",
    ]
    assert seats(await west.slots(day, s=service_id)) is None  # full: no longer offered
    # one cancelled: one seat again
    await service.transition(str(won[1].booking["_id"]), BookingAction.CANCEL, "test")
    assert seats(await west.slots(day, s=service_id)) == 1


# -- isolation -------------------------------------------------------------------------------


async def test_another_tenant_cannot_see_or_use_staff_or_slots(
    west: West, runtime: Runtime, gql: GraphQLClient
):
    member = await west.staff(name="Dr. West Only")
    await _seed_tenant(runtime, next(d for d in DEMO_TENANTS if d.slug == TROMB))
    tromb_token = await gql.token(TROMB)

    async def as_tromb(query: str, token: str | None = tromb_token, **variables: Any) -> Any:
        return await gql(query, variables, tenant=TROMB, token=token)

    one = await as_tromb("query($id: ID!) { staffMember(id: $id) { id } }", id=member["id"])
    assert error_codes(one) == ["NOT_FOUND"]
    listed = await as_tromb(STAFF_LIST)
    assert listed["data"]["staffMembers"]["nodes"] == []
    day = open_day()
    for token in (tromb_token, None):
        slots = await as_tromb(
            SLOTS,
            token=token,
            s=west.services["verifi"],
            **{"from": at(day, 0), "to": at(day, 23)},
        )
        assert error_codes(slots) == ["NOT_FOUND"]
    tromb_service = (await as_tromb("{ services { id } }"))["data"]["services"][0]["id"]
    with_west_staff = await as_tromb(
        SLOTS, s=tromb_service, st=member["id"], **{"from": at(day, 0), "to": at(day, 23)}
    )
    assert error_codes(with_west_staff) == ["NOT_FOUND"]
    booked = await as_tromb(
        CREATE,
        input={
            "serviceId": tromb_service,
            "staffId": member["id"],
            "startsAt": at(day, 10),
            "customer": {"name": "A", "email": "a@example.com"},
        },
    )
    errors = booked["data"]["createBooking"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "staffId"])]
    changed = await as_tromb(UPDATE_STAFF, id=member["id"], input={"name": "Hijacked"})
    assert [e["code"] for e in changed["data"]["updateStaffMember"]["userErrors"]] == ["NOT_FOUND"]
    gone = await as_tromb(DEACTIVATE_STAFF, id=member["id"])
    assert [e["code"] for e in gone["data"]["deactivateStaffMember"]["userErrors"]] == ["NOT_FOUND"]
    still = await west("query($id: ID!) { staffMember(id: $id) { name active } }", id=member["id"])
    assert still["data"]["staffMember"] == {"name": "Dr. West Only", "active": True}


# -- round-trips -----------------------------------------------------------------------------


async def _fill_month(west: West, location: str, n: int, first_day: date) -> None:
    """``n`` bookings at ``location`` spread over the month from ``first_day`` (direct inserts)."""
    service = await west.db[SERVICES].find_one({"_id": ObjectId(west.services["verifi"])})
    docs = []
    start = datetime.fromisoformat(at(first_day, 8)).astimezone(UTC)
    for i in range(n):
        begins = start + timedelta(days=i % 30, minutes=5 * (i // 30))
        docs.append(
            BookingDocument(
                customer_id=ObjectId(west.customer),
                service_id=service["_id"],
                location_id=ObjectId(location),
                starts_at=begins,
                ends_at=begins + timedelta(minutes=5),
                duration_minutes=5,
                timezone="Europe/Istanbul",
                currency="TRY",
                price_minor=0,
                discount_minor=0,
                final_price_minor=0,
                resources=[f"location:{location}"],
                confirmation_number=f"RT-{location[-4:]}-{i:05d}",
                created_by="test",
            ).to_mongo()
        )
    await west.db[BOOKINGS].insert_many(docs)


async def test_a_month_of_slots_costs_constant_round_trips(
    west: West, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    first = open_day(weeks=2)
    busy, quiet = west.locations[0], west.locations[1]
    await _fill_month(west, busy, 2000, first)
    await _fill_month(west, quiet, 5, first)
    calls: Counter[tuple[str, str]] = Counter()
    real = runtime.clients.database

    def counting(location: Any) -> Any:
        if location.name == runtime.settings.platform_db:
            return real(location)
        return CountingDatabase(real(location), calls)

    monkeypatch.setattr(runtime.clients, "database", counting)
    seen = {}
    month = {"from": at(first, 0), "to": at(first + timedelta(days=31), 0)}
    for name, location in (("busy", busy), ("quiet", quiet)):
        calls.clear()
        result = await west(SLOTS, token=None, s=west.services["verifi"], l=location, **month)
        assert "errors" not in result, result
        seen[name] = (Counter(calls), result["data"]["availableSlots"]["slots"])
    assert (
        seen["busy"][0]
        == seen["quiet"][0]
        == Counter(
            {("services", "find_one"): 1, ("locations", "find_one"): 1, ("bookings", "find"): 1}
        )
    )
    # and the 2,000 bookings (5 minutes each, 08:00 .. 13:35 on 30 days) are respected:
    # the first free 30-minute slot (5 minutes' buffer before) starts at 13:45
    earliest: dict[str, str] = {}
    for slot in seen["busy"][1]:
        earliest.setdefault(slot["startsAtLocal"][:10], slot["startsAtLocal"][11:16])
    filled = {(first + timedelta(days=d)).isoformat() for d in range(30)}
    assert {earliest[d] for d in filled if d in earliest} == {"13:45"}
    assert len(seen["quiet"][1]) > len(seen["busy"][1])
