"""Catalog upkeep (issue 8, item 5): updating and deactivating services, creating,
updating and deactivating locations (time zone, weekly hours, date overrides), bookings
that keep deactivated items, and tenant isolation."""

# The west-nipt fixtures come from tests/test_bookings.py; test arguments name them.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest

from domain.catalog import CatalogService
from domain.collections import LOCATIONS, SERVICES
from domain.ids import parse_id
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from tenancy.models import Role
from tests.conftest import error_codes
from tests.test_bookings import West, local, west  # noqa: F401 (fixture)

SERVICE_FIELDS = """id code name description durationMinutes price { amountMinor currency }
  active bufferBeforeMinutes bufferAfterMinutes minNoticeMinutes maxAdvanceDays
  slotStepMinutes capacity"""
UPDATE_SERVICE = f"""mutation($id: ID!, $input: UpdateServiceInput!) {{
  updateService(id: $id, input: $input) {{ service {{ {SERVICE_FIELDS} }}
    userErrors {{ field code message }} }} }}"""
DEACTIVATE_SERVICE = f"""mutation($id: ID!) {{ deactivateService(id: $id) {{
  service {{ {SERVICE_FIELDS} }} userErrors {{ field code message }} }} }}"""
REACTIVATE_SERVICE = f"""mutation($id: ID!) {{ reactivateService(id: $id) {{
  service {{ {SERVICE_FIELDS} }} userErrors {{ field code message }} }} }}"""
SERVICES_QUERY = (
    f"query($all: Boolean!) {{ services(includeInactive: $all) {{ {SERVICE_FIELDS} }} }}"
)

INTERVALS = "{ start end }"
LOCATION_FIELDS = f"""id name city district timezone active availability {{
  weeklyHours {{ mon {INTERVALS} tue {INTERVALS} wed {INTERVALS} thu {INTERVALS}
    fri {INTERVALS} sat {INTERVALS} sun {INTERVALS} }}
  overrides {{ date closed intervals {INTERVALS} reason }} }}"""
CREATE_LOCATION = f"""mutation($input: CreateLocationInput!) {{
  createLocation(input: $input) {{ location {{ {LOCATION_FIELDS} }}
    userErrors {{ field code message }} }} }}"""
UPDATE_LOCATION = f"""mutation($id: ID!, $input: UpdateLocationInput!) {{
  updateLocation(id: $id, input: $input) {{ location {{ {LOCATION_FIELDS} }}
    userErrors {{ field code message }} }} }}"""
DEACTIVATE_LOCATION = f"""mutation($id: ID!) {{ deactivateLocation(id: $id) {{
  location {{ {LOCATION_FIELDS} }} userErrors {{ field code message }} }} }}"""
REACTIVATE_LOCATION = f"""mutation($id: ID!) {{ reactivateLocation(id: $id) {{
  location {{ {LOCATION_FIELDS} }} userErrors {{ field code message }} }} }}"""
LOCATIONS_QUERY = (
    f"query($all: Boolean!) {{ locations(includeInactive: $all) {{ {LOCATION_FIELDS} }} }}"
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NINE_TO_FIVE = [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]


def payload(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    return next(iter(result["data"].values()))


def ok(result: dict[str, Any], kind: str) -> dict[str, Any]:
    body = payload(result)
    assert body["userErrors"] == [], body
    return body[kind]


def refused(result: dict[str, Any]) -> tuple[str, list[str] | None, str]:
    body = payload(result)
    assert len(body["userErrors"]) == 1, body
    error = body["userErrors"][0]
    return error["code"], error["field"], error["message"]


def week(**days: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    return {day: days.get(day, []) for day in WEEKDAYS}


# -- services -------------------------------------------------------------------


async def test_update_service_changes_only_the_given_fields(west: West):
    verifi = west.services["verifi"]["id"]
    before = await west.create(startsAt=local(15, 10))
    updated = ok(
        await west(
            UPDATE_SERVICE,
            id=verifi,
            input={
                "priceMinor": 200_000,
                "description": "  New description",
                "bufferBeforeMinutes": 10,
                "bufferAfterMinutes": 15,
                "minNoticeMinutes": 120,
                "maxAdvanceDays": 90,
                "slotStepMinutes": 20,
                "capacity": 3,
            },
        ),
        "service",
    )
    assert updated == {
        "id": verifi,
        "code": "verifi",
        "name": "Verifi NIPT",
        "description": "  New description",
        "durationMinutes": 30,
        "price": {"amountMinor": 200_000, "currency": "TRY"},
        "active": True,
        "bufferBeforeMinutes": 10,
        "bufferAfterMinutes": 15,
        "minNoticeMinutes": 120,
        "maxAdvanceDays": 90,
        "slotStepMinutes": 20,
        "capacity": 3,
    }
    # null clears a nullable field; an empty input changes nothing
    cleared = ok(await west(UPDATE_SERVICE, id=verifi, input={"maxAdvanceDays": None}), "service")
    assert cleared == {**updated, "maxAdvanceDays": None}
    assert ok(await west(UPDATE_SERVICE, id=verifi, input={}), "service") == cleared
    # A booking made before keeps its price.
    assert (await west.get(before["id"]))["price"]["amountMinor"] == 185_000


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": "  "}, "VALIDATION_FAILED", ["input", "name"]),
        ({"name": None}, "VALIDATION_FAILED", ["input", "name"]),
        ({"durationMinutes": 0}, "VALIDATION_FAILED", ["input", "durationMinutes"]),
        ({"priceMinor": -1}, "VALIDATION_FAILED", ["input", "priceMinor"]),
        ({"currency": "TL"}, "VALIDATION_FAILED", ["input", "currency"]),
        ({"slotStepMinutes": 7}, "VALIDATION_FAILED", ["input", "slotStepMinutes"]),
        ({"slotStepMinutes": 90}, "VALIDATION_FAILED", ["input", "slotStepMinutes"]),
        ({"bufferBeforeMinutes": -5}, "VALIDATION_FAILED", ["input", "bufferBeforeMinutes"]),
        ({"minNoticeMinutes": -1}, "VALIDATION_FAILED", ["input", "minNoticeMinutes"]),
        ({"maxAdvanceDays": 0}, "VALIDATION_FAILED", ["input", "maxAdvanceDays"]),
        ({"capacity": 0}, "VALIDATION_FAILED", ["input", "capacity"]),
        ({"code": "momguard"}, "ALREADY_EXISTS", ["input", "code"]),
        ({"code": "!!!"}, "VALIDATION_FAILED", ["input", "code"]),
    ],
)
async def test_update_service_is_validated_like_create(west: West, changes, code, field):
    verifi = west.services["verifi"]["id"]
    stored = await west.db[SERVICES].find_one({"code": "verifi"})
    got = refused(await west(UPDATE_SERVICE, id=verifi, input=changes))
    assert got[:2] == (code, field), got
    assert await west.db[SERVICES].find_one({"_id": stored["_id"]}) == stored


async def test_create_service_takes_the_scheduling_fields(west: West):
    result = await west(
        "mutation($input: CreateServiceInput!) { createService(input: $input) { "
        "service { slotStepMinutes capacity maxAdvanceDays } userErrors { field code } } }",
        input={
            "name": "Group class",
            "durationMinutes": 60,
            "priceMinor": 10_000,
            "currency": "TRY",
            "slotStepMinutes": 30,
            "capacity": 12,
            "maxAdvanceDays": 30,
        },
    )
    assert ok(result, "service") == {"slotStepMinutes": 30, "capacity": 12, "maxAdvanceDays": 30}
    bad = await west(
        "mutation($input: CreateServiceInput!) { createService(input: $input) { "
        "service { id } userErrors { field code } } }",
        input={
            "name": "Bad",
            "durationMinutes": 60,
            "priceMinor": 1,
            "currency": "TRY",
            "slotStepMinutes": 3,
        },
    )
    assert payload(bad)["userErrors"] == [
        {"field": ["input", "slotStepMinutes"], "code": "VALIDATION_FAILED"}
    ]


async def test_services_written_before_scheduling_read_with_defaults(west: West):
    await west.db[SERVICES].insert_one(
        {
            "code": "old",
            "name": "Old service",
            "duration_minutes": 20,
            "price_minor": 100,
            "currency": "TRY",
            "active": True,
        }
    )
    old = next(
        s for s in (await west(SERVICES_QUERY, all=False))["data"]["services"] if s["code"] == "old"
    )
    assert (old["slotStepMinutes"], old["capacity"], old["maxAdvanceDays"]) == (15, 1, None)
    updated = ok(await west(UPDATE_SERVICE, id=old["id"], input={"capacity": 2}), "service")
    assert (updated["capacity"], updated["slotStepMinutes"]) == (2, 15)


async def test_deactivated_service_is_not_bookable_but_bookings_keep_it(west: West):
    verifi = west.services["verifi"]["id"]
    booking = await west.create(startsAt=local(16, 10))
    assert ok(await west(DEACTIVATE_SERVICE, id=verifi), "service")["active"] is False

    public = await west(SERVICES_QUERY, token=None, all=True)  # anonymous: never inactive ones
    assert [s["code"] for s in public["data"]["services"]] == ["momguard"]
    staff = await west(SERVICES_QUERY, all=True)
    assert sorted(s["code"] for s in staff["data"]["services"]) == ["momguard", "verifi"]

    error = await west.create_error(startsAt=local(16, 11))
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "serviceId"])
    kept = await west.get(booking["id"])
    assert kept["service"] == {"id": verifi, "code": "verifi"}
    assert kept["price"]["amountMinor"] == 185_000

    assert ok(await west(REACTIVATE_SERVICE, id=verifi), "service")["active"] is True
    await west.create(startsAt=local(16, 11))


async def test_only_admins_change_the_catalog(west: West):
    verifi = west.services["verifi"]["id"]
    staff = await west.gql.token("west-nipt", Role.STAFF)
    for query, variables in (
        (UPDATE_SERVICE, {"id": verifi, "input": {"priceMinor": 1}}),
        (DEACTIVATE_SERVICE, {"id": verifi}),
        (CREATE_LOCATION, {"input": {"name": "Staff place"}}),
        (DEACTIVATE_LOCATION, {"id": west.locations[0]}),
    ):
        assert error_codes(await west(query, token=staff, **variables)) == ["FORBIDDEN"]
        assert error_codes(await west(query, token=None, **variables)) == ["UNAUTHENTICATED"]
    assert (await west.db[SERVICES].find_one({"code": "verifi"}))["price_minor"] == 185_000


# -- locations --------------------------------------------------------------------


async def test_create_location_with_timezone_and_hours(west: West):
    availability = {
        "weeklyHours": {"mon": NINE_TO_FIVE, "sat": [{"start": "10:00", "end": "24:00"}]},
        "overrides": [
            {"date": "2030-04-23", "closed": True, "reason": "National holiday"},
            {"date": "2030-04-24", "intervals": [{"start": "10:00", "end": "14:00"}]},
        ],
    }
    location = ok(
        await west(
            CREATE_LOCATION,
            input={
                "name": " Bornova ",
                "city": "İzmir",
                "district": "Bornova",
                "timezone": "Europe/Istanbul",
                "availability": availability,
            },
        ),
        "location",
    )
    assert location["name"] == "Bornova" and location["timezone"] == "Europe/Istanbul"
    assert location["active"] is True
    assert location["availability"] == {
        "weeklyHours": week(mon=NINE_TO_FIVE, sat=[{"start": "10:00", "end": "24:00"}]),
        "overrides": [
            {"date": "2030-04-23", "closed": True, "intervals": [], "reason": "National holiday"},
            {
                "date": "2030-04-24",
                "closed": False,
                "intervals": [{"start": "10:00", "end": "14:00"}],
                "reason": None,
            },
        ],
    }
    stored = await west.db[LOCATIONS].find_one({"name": "Bornova"})
    assert stored["availability"]["weekly_hours"]["mon"][1] == {"start": "13:00", "end": "17:00"}
    listed = (await west(LOCATIONS_QUERY, token=None, all=False))["data"]["locations"]
    assert location in listed
    # Without hours: bookable at any time (availability null), as before scheduling.
    plain = ok(await west(CREATE_LOCATION, input={"name": "Anytime"}), "location")
    assert (plain["availability"], plain["timezone"]) == (None, None)


def _overlap(day: str = "mon") -> dict[str, Any]:
    intervals = [{"start": "09:00", "end": "12:00"}, {"start": "11:30", "end": "13:00"}]
    return {"weeklyHours": {day: intervals}}


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": ""}, ["input", "name"], "name"),
        ({"timezone": "Mars/Olympus"}, ["input", "timezone"], "IANA"),
        ({"availability": _overlap()}, ["input", "availability", "weeklyHours"], "overlap"),
        (
            {"availability": _overlap("sun")},
            ["input", "availability", "weeklyHours"],
            "sun: intervals 09:00-12:00 and 11:30-13:00 overlap",
        ),
        (
            {"availability": {"weeklyHours": {"tue": [{"start": "12:00", "end": "09:00"}]}}},
            ["input", "availability", "weeklyHours", "tue", "0"],
            "end after it starts",
        ),
        (
            {"availability": {"weeklyHours": {"tue": [{"start": "9:00", "end": "10:00"}]}}},
            ["input", "availability", "weeklyHours", "tue", "0", "start"],
            "pattern",
        ),
        (
            {
                "availability": {
                    "weeklyHours": {},
                    "overrides": [
                        {"date": "2030-05-01", "closed": True},
                        {"date": "2030-05-01", "closed": True},
                    ],
                }
            },
            ["input", "availability", "overrides"],
            "more than one override",
        ),
        (
            {
                "availability": {
                    "weeklyHours": {},
                    "overrides": [
                        {
                            "date": "2030-05-01",
                            "closed": True,
                            "intervals": [{"start": "09:00", "end": "10:00"}],
                        }
                    ],
                }
            },
            ["input", "availability", "overrides", "0"],
            "closed day has no intervals",
        ),
        (
            {"availability": {"weeklyHours": {}, "overrides": [{"date": "2030-02-30"}]}},
            ["input", "availability", "overrides", "0", "date"],
            "not a calendar date",
        ),
        (
            {
                "availability": {
                    "weeklyHours": {},
                    "overrides": [
                        {"date": f"{2030 + i // 365}-01-01", "closed": True} for i in range(1001)
                    ],
                }
            },
            ["input", "availability", "overrides"],
            "1000",
        ),
    ],
)
async def test_location_refusals_name_the_field(west: West, fields, field, words):
    before = await west.db[LOCATIONS].count_documents({})
    code, got_field, message = refused(
        await west(CREATE_LOCATION, input={"name": "Refused", **fields})
    )
    assert (code, got_field) == ("VALIDATION_FAILED", field), message
    assert words in message
    assert await west.db[LOCATIONS].count_documents({}) == before


async def test_touching_intervals_are_not_an_overlap(west: West):
    hours = [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "13:00"}]
    location = ok(
        await west(
            CREATE_LOCATION,
            input={"name": "Touching", "availability": {"weeklyHours": {"fri": hours}}},
        ),
        "location",
    )
    assert location["availability"]["weeklyHours"]["fri"] == hours


async def test_update_location_is_partial_and_replaces_the_hours(west: West):
    location_id = west.locations[0]
    original = await west.db[LOCATIONS].find_one({"_id": parse_id(location_id)})
    first = ok(
        await west(
            UPDATE_LOCATION,
            id=location_id,
            input={
                "timezone": "Europe/Berlin",
                "availability": {"weeklyHours": {"mon": NINE_TO_FIVE}},
            },
        ),
        "location",
    )
    assert first["name"] == original["name"] and first["city"] == original["city"]
    assert first["timezone"] == "Europe/Berlin"
    assert first["availability"]["weeklyHours"] == week(mon=NINE_TO_FIVE)

    second = ok(
        await west(
            UPDATE_LOCATION,
            id=location_id,
            input={"availability": {"weeklyHours": {"tue": NINE_TO_FIVE}}, "district": "Yeni"},
        ),
        "location",
    )
    assert second["availability"]["weeklyHours"] == week(tue=NINE_TO_FIVE)  # replaced, not merged
    assert (second["district"], second["timezone"]) == ("Yeni", "Europe/Berlin")

    cleared = ok(
        await west(UPDATE_LOCATION, id=location_id, input={"availability": None, "timezone": None}),
        "location",
    )
    assert (cleared["availability"], cleared["timezone"]) == (None, None)

    bad = await west(UPDATE_LOCATION, id=location_id, input={"availability": _overlap()})
    assert refused(bad)[:2] == ("VALIDATION_FAILED", ["input", "availability", "weeklyHours"])
    assert refused(await west(UPDATE_LOCATION, id=location_id, input={"timezone": "Berlin"}))[
        1
    ] == [
        "input",
        "timezone",
    ]


async def test_deactivated_location_is_not_bookable_but_bookings_keep_it(west: West):
    place = west.locations[1]
    booking = await west.create(locationId=place, startsAt=local(17, 10))
    elsewhere = await west.create(locationId=west.locations[0], startsAt=local(17, 12))
    assert ok(await west(DEACTIVATE_LOCATION, id=place), "location")["active"] is False

    public = (await west(LOCATIONS_QUERY, token=None, all=True))["data"]["locations"]
    assert place not in [loc["id"] for loc in public]
    staff = (await west(LOCATIONS_QUERY, all=True))["data"]["locations"]
    assert place in [loc["id"] for loc in staff]

    error = await west.create_error(locationId=place, startsAt=local(17, 11))
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "locationId"])
    moved = await west.reschedule(elsewhere["id"], local(17, 14), place)
    assert moved["userErrors"][0]["code"] == "NOT_FOUND"
    # The booking there keeps its location and can still move in time at it.
    assert (await west.get(booking["id"]))["location"] == {"id": place}
    assert (await west.reschedule(booking["id"], local(17, 15)))["userErrors"] == []

    assert ok(await west(REACTIVATE_LOCATION, id=place), "location")["active"] is True
    await west.create(locationId=place, startsAt=local(17, 11))


async def test_locations_written_before_active_existed_stay_listed(west: West):
    await west.db[LOCATIONS].insert_one({"name": "Aaa old", "city": "İzmir"})
    listed = (await west(LOCATIONS_QUERY, token=None, all=False))["data"]["locations"]
    old = listed[0]
    assert (old["name"], old["active"], old["availability"]) == ("Aaa old", True, None)
    assert (await CatalogService(west.db).locations())[0]["name"] == "Aaa old"


# -- tenant isolation -----------------------------------------------------------


async def test_another_tenant_cannot_see_or_change_services_or_locations(west: West):
    await _seed_tenant(west.runtime, DEMO_TENANTS[1])  # tromb-screening
    token = await west.gql.token("tromb-screening")
    verifi = west.services["verifi"]["id"]
    place = west.locations[0]

    async def tromb(query: str, **variables: Any) -> dict[str, Any]:
        return await west.gql(query, variables, tenant="tromb-screening", token=token)

    for query, variables in (
        (UPDATE_SERVICE, {"id": verifi, "input": {"priceMinor": 1}}),
        (DEACTIVATE_SERVICE, {"id": verifi}),
        (REACTIVATE_SERVICE, {"id": verifi}),
        (UPDATE_LOCATION, {"id": place, "input": {"name": "Taken over"}}),
        (DEACTIVATE_LOCATION, {"id": place}),
        (REACTIVATE_LOCATION, {"id": place}),
    ):
        assert refused(await tromb(query, **variables))[0] == "NOT_FOUND"
    services = (await tromb(SERVICES_QUERY, all=True))["data"]["services"]
    assert verifi not in [s["id"] for s in services]
    locations = (await tromb(LOCATIONS_QUERY, all=True))["data"]["locations"]
    assert place not in [loc["id"] for loc in locations]
    created = ok(await tromb(CREATE_LOCATION, input={"name": "Tromb only"}), "location")
    west_locations = (await west(LOCATIONS_QUERY, all=True))["data"]["locations"]
    assert created["id"] not in [loc["id"] for loc in west_locations]
    # west's catalog is unchanged
    stored = await west.db[SERVICES].find_one({"code": "verifi"})
    assert (stored["price_minor"], stored["active"]) == (185_000, True)
    assert (await west.db[LOCATIONS].find_one({"name": "Taken over"})) is None
