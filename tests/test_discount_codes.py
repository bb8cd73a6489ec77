"""Referral/discount codes (issue 8, item 5): upkeep by admins, the rules a booking applies
(validity window, usage limit under concurrency, basis points or fixed amount, currency,
service restriction), the public ``validateDiscountCode`` check and its rate limit, old
documents, and tenant isolation."""

# The west-nipt fixtures come from tests/test_bookings.py; test arguments name them.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.collections import REFERRAL_CODES
from domain.discount_codes import CodeReason, DiscountCodes, reason_for
from graphql_api.app import create_app
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from migrations.database import migrate_database, rollback_database
from tenancy.models import Role
from tests.conftest import GraphQLClient, error_codes
from tests.test_bookings import (  # noqa: F401 (fixtures)
    West,
    assert_interleaved,
    interleaved,
    local,
    west,
)

CODE_FIELDS = """id code doctorName discountBasisPoints discountAmount { amountMinor currency }
  validFrom validUntil maxUses uses serviceIds active"""
CREATE = f"""mutation($input: CreateDiscountCodeInput!) {{
  createDiscountCode(input: $input) {{ discountCode {{ {CODE_FIELDS} }}
    userErrors {{ field code message }} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateDiscountCodeInput!) {{
  updateDiscountCode(id: $id, input: $input) {{ discountCode {{ {CODE_FIELDS} }}
    userErrors {{ field code message }} }} }}"""
DEACTIVATE = f"""mutation($id: ID!) {{ deactivateDiscountCode(id: $id) {{
  discountCode {{ {CODE_FIELDS} }} userErrors {{ field code message }} }} }}"""
REACTIVATE = f"""mutation($id: ID!) {{ reactivateDiscountCode(id: $id) {{
  discountCode {{ {CODE_FIELDS} }} userErrors {{ field code message }} }} }}"""
LIST = f"""query($first: Int, $after: String, $all: Boolean! = false) {{
  discountCodes(first: $first, after: $after, includeInactive: $all) {{
    totalCount nodes {{ {CODE_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
GET = f"query($id: ID!) {{ discountCode(id: $id) {{ {CODE_FIELDS} }} }}"
VALIDATE = """query($code: String!, $serviceId: ID!) {
  validateDiscountCode(code: $code, serviceId: $serviceId) {
    valid reason discount { amountMinor currency amount } } }"""


def soon(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def create_code(west: West, **fields: Any) -> dict[str, Any]:
    result = await west(CREATE, input=fields)
    assert "errors" not in result, result
    payload = result["data"]["createDiscountCode"]
    assert payload["userErrors"] == [], payload
    return payload["discountCode"]


async def create_error(west: West, **fields: Any) -> dict[str, Any]:
    result = await west(CREATE, input=fields)
    assert "errors" not in result, result
    payload = result["data"]["createDiscountCode"]
    assert payload["discountCode"] is None and len(payload["userErrors"]) == 1, payload
    return payload["userErrors"][0]


async def validate(west: West, code: str, service: str = "verifi", token: str | None = None):
    result = await west(VALIDATE, token=token, code=code, serviceId=west.services[service]["id"])
    assert "errors" not in result, result
    return result["data"]["validateDiscountCode"]


async def uses(west: West, code: str) -> int:
    doc = await west.db[REFERRAL_CODES].find_one({"code_key": code.upper()})
    return doc["uses"]


# -- upkeep ------------------------------------------------------------------


async def test_admin_creates_lists_and_reads_codes(west: West):
    created = await create_code(
        west,
        code="Spring-25",
        doctorName=" Dr. Can Öz ",
        discountBasisPoints=2500,
        validFrom="2030-01-01T00:00:00+03:00",
        maxUses=100,
        serviceIds=[west.services["verifi"]["id"]],
    )
    assert created == {
        "id": created["id"],
        "code": "SPRING-25",
        "doctorName": "Dr. Can Öz",
        "discountBasisPoints": 2500,
        "discountAmount": None,
        "validFrom": "2029-12-31T21:00:00+00:00",
        "validUntil": None,
        "maxUses": 100,
        "uses": 0,
        "serviceIds": [west.services["verifi"]["id"]],
        "active": True,
    }
    assert (await west(GET, id=created["id"]))["data"]["discountCode"] == created

    # A paginated connection in code order: the two demo codes and the new one.
    first = (await west(LIST, first=2))["data"]["discountCodes"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    assert [c["code"] for c in first["nodes"]] == ["DRALI10", "DRFATIH15"]
    rest = (await west(LIST, first=2, after=first["pageInfo"]["endCursor"]))["data"]
    assert [c["code"] for c in rest["discountCodes"]["nodes"]] == ["SPRING-25"]
    assert rest["discountCodes"]["pageInfo"]["hasNextPage"] is False


async def test_codes_are_unique_in_any_case(west: West):
    error = await create_error(west, code="drali10", discountBasisPoints=500)
    assert (error["code"], error["field"]) == ("ALREADY_EXISTS", ["input", "code"])
    # and found in any case, with spaces around
    assert (await validate(west, "  dRaLi10 "))["valid"] is True


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"code": "x"}, "VALIDATION_FAILED", ["input", "code"]),
        ({"code": "has space"}, "VALIDATION_FAILED", ["input", "code"]),
        (
            {"code": "OK10", "discountBasisPoints": 10_001},
            "VALIDATION_FAILED",
            ["input", "discountBasisPoints"],
        ),
        (
            {"code": "OK10", "discountBasisPoints": -1},
            "VALIDATION_FAILED",
            ["input", "discountBasisPoints"],
        ),
        (
            {
                "code": "OK10",
                "discountBasisPoints": 100,
                "discountAmountMinor": 500,
                "discountCurrency": "TRY",
            },
            "VALIDATION_FAILED",
            ["input", "discountAmountMinor"],
        ),
        (
            {"code": "OK10", "discountAmountMinor": 500},
            "VALIDATION_FAILED",
            ["input", "discountCurrency"],
        ),
        (
            {"code": "OK10", "discountAmountMinor": 0, "discountCurrency": "TRY"},
            "VALIDATION_FAILED",
            ["input", "discountAmountMinor"],
        ),
        (
            {"code": "OK10", "discountCurrency": "TRY"},
            "VALIDATION_FAILED",
            ["input", "discountAmountMinor"],
        ),
        (
            {"code": "OK10", "discountAmountMinor": 5, "discountCurrency": "LIRA"},
            "VALIDATION_FAILED",
            ["input", "discountCurrency"],
        ),
        (
            {
                "code": "OK10",
                "validFrom": "2030-02-01T00:00:00Z",
                "validUntil": "2030-01-01T00:00:00Z",
            },
            "VALIDATION_FAILED",
            ["input", "validUntil"],
        ),
        (
            {"code": "OK10", "validFrom": "2030-02-01T00:00:00"},
            "VALIDATION_FAILED",
            ["input", "validFrom"],
        ),
        ({"code": "OK10", "maxUses": 0}, "VALIDATION_FAILED", ["input", "maxUses"]),
        (
            {"code": "OK10", "serviceIds": ["0123456789abcdef01234567"]},
            "NOT_FOUND",
            ["input", "serviceIds", "0"],
        ),
    ],
)
async def test_create_refusals_name_the_field(west: West, fields, code, field):
    before = await west.db[REFERRAL_CODES].count_documents({})
    error = await create_error(west, **fields)
    assert (error["code"], error["field"]) == (code, field), error
    assert await west.db[REFERRAL_CODES].count_documents({}) == before


async def test_update_is_partial_and_switches_the_discount_kind(west: West):
    code = await create_code(west, code="SWITCH", discountBasisPoints=1000, maxUses=5)
    booking = await west.create(startsAt=local(5, 10), referralCode="switch")
    assert booking["discount"]["amountMinor"] == 18_500

    result = await west(
        UPDATE, id=code["id"], input={"discountAmountMinor": 20_000, "discountCurrency": "try"}
    )
    updated = result["data"]["updateDiscountCode"]["discountCode"]
    assert updated["discountBasisPoints"] == 0
    assert updated["discountAmount"] == {"amountMinor": 20_000, "currency": "TRY"}
    assert (updated["maxUses"], updated["uses"]) == (5, 1)  # untouched fields and the count kept

    result = await west(UPDATE, id=code["id"], input={"discountBasisPoints": 500, "maxUses": None})
    updated = result["data"]["updateDiscountCode"]["discountCode"]
    assert (updated["discountBasisPoints"], updated["discountAmount"]) == (500, None)
    assert updated["maxUses"] is None

    refused = await west(
        UPDATE,
        id=code["id"],
        input={"validFrom": "2030-01-01T00:00:00+00:00", "validUntil": "2029-01-01T00:00:00Z"},
    )
    assert refused["data"]["updateDiscountCode"]["userErrors"][0]["field"] == [
        "input",
        "validUntil",
    ]
    # The booking made before keeps its discount.
    assert (await west.get(booking["id"]))["discount"]["amountMinor"] == 18_500


async def test_deactivated_code_is_refused_but_bookings_keep_it(west: West):
    booking = await west.create(startsAt=local(5, 11), referralCode="DRALI10")
    code_id = str((await west.db[REFERRAL_CODES].find_one({"code": "DRALI10"}))["_id"])
    off = (await west(DEACTIVATE, id=code_id))["data"]["deactivateDiscountCode"]
    assert off["discountCode"]["active"] is False
    assert (await validate(west, "DRALI10"))["reason"] == "INACTIVE"
    error = await west.create_error(startsAt=local(5, 12), referralCode="DRALI10")
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "referralCode"])
    assert "no longer active" in error["message"]
    kept = await west.get(booking["id"])
    assert (kept["referralCode"], kept["discount"]["amountMinor"]) == ("DRALI10", 18_500)
    # Listed only with includeInactive; reactivation restores it.
    assert "DRALI10" not in [
        c["code"] for c in (await west(LIST))["data"]["discountCodes"]["nodes"]
    ]
    listed = (await west(LIST, all=True))["data"]["discountCodes"]["nodes"]
    assert "DRALI10" in [c["code"] for c in listed]
    await west(REACTIVATE, id=code_id)
    assert (await validate(west, "DRALI10"))["valid"] is True


async def test_only_admins_manage_and_list_codes(west: West):
    staff = await west.gql.token("west-nipt", Role.STAFF)
    result = await west(CREATE, token=staff, input={"code": "STAFF1"})
    assert error_codes(result) == ["FORBIDDEN"]
    assert error_codes(await west(LIST, token=staff)) == ["FORBIDDEN"]
    assert error_codes(await west(LIST, token=None)) == ["UNAUTHENTICATED"]


# -- what a booking applies ------------------------------------------------------


async def test_fixed_amount_discount_never_exceeds_the_price(west: West):
    await create_code(west, code="FLAT500", discountAmountMinor=50_000, discountCurrency="TRY")
    await create_code(west, code="FREE", discountAmountMinor=999_999, discountCurrency="TRY")
    flat = await west.create(startsAt=local(6, 10), referralCode="flat500")
    assert flat["discount"] == {"amountMinor": 50_000, "currency": "TRY"}
    assert flat["finalPrice"]["amountMinor"] == 135_000
    assert flat["referralCode"] == "FLAT500"
    free = await west.create(startsAt=local(6, 11), referralCode="FREE")
    assert free["discount"]["amountMinor"] == 185_000
    assert free["finalPrice"]["amountMinor"] == 0
    check = await validate(west, "free", "momguard")
    assert check == {
        "valid": True,
        "reason": None,
        "discount": {"amountMinor": 120_000, "currency": "TRY", "amount": "1200.00"},
    }
    stored = await west.db["bookings"].find_one({"referral_code": "FLAT500"})
    assert stored["discount_basis_points"] == 0 and stored["discount_code_id"] is not None


async def test_fixed_amount_in_another_currency_is_refused(west: West):
    await create_code(west, code="EURO5", discountAmountMinor=500, discountCurrency="EUR")
    before = await west.count_bookings()
    error = await west.create_error(startsAt=local(6, 12), referralCode="EURO5")
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "referralCode"])
    assert "currency" in error["message"]
    assert await west.count_bookings() == before
    assert await uses(west, "EURO5") == 0
    assert (await validate(west, "EURO5"))["reason"] == "CURRENCY_MISMATCH"


async def test_validity_window_is_checked_when_booking(west: West):
    await create_code(west, code="LATER", discountBasisPoints=500, validFrom=soon(days=1))
    await create_code(west, code="GONE", discountBasisPoints=500, validUntil=soon(seconds=-1))
    await create_code(
        west,
        code="NOW",
        discountBasisPoints=500,
        validFrom=soon(hours=-1),
        validUntil=soon(hours=1),
    )
    for code, reason in (("LATER", "not valid yet"), ("GONE", "expired")):
        error = await west.create_error(startsAt=local(7, 10), referralCode=code)
        assert error["code"] == "VALIDATION_FAILED" and reason in error["message"]
    assert (await west.create(startsAt=local(7, 10), referralCode="now"))["discount"][
        "amountMinor"
    ] == 9_250


async def test_code_restricted_to_some_services(west: West):
    await create_code(
        west, code="ONLYMOM", discountBasisPoints=1000, serviceIds=[west.services["momguard"]["id"]]
    )
    error = await west.create_error(startsAt=local(8, 10), referralCode="ONLYMOM")
    assert "does not apply to this service" in error["message"]
    booking = await west.create(
        serviceId=west.services["momguard"]["id"], startsAt=local(8, 10), referralCode="ONLYMOM"
    )
    assert booking["discount"]["amountMinor"] == 12_000


async def test_usage_limit_holds_under_concurrent_bookings(west: West, interleaved):
    await create_code(west, code="LIMIT3", discountBasisPoints=1000, maxUses=3)
    attempts = [
        west.create_raw(
            serviceId=west.services["verifi"]["id"],
            customerId=west.customers[0],
            startsAt=local(9, 8 + i),
            referralCode="LIMIT3",
        )
        for i in range(8)
    ]
    results = await asyncio.gather(*attempts)
    assert_interleaved(interleaved)
    made = [r for r in results if r["booking"] is not None]
    refused = [r["userErrors"][0] for r in results if r["booking"] is None]
    assert len(made) == 3
    assert all("used as often as it may be" in e["message"] for e in refused), refused
    assert await uses(west, "LIMIT3") == 3
    assert await west.db["bookings"].count_documents({"referral_code": "LIMIT3"}) == 3
    assert (await validate(west, "LIMIT3"))["reason"] == "USED_UP"


async def test_a_failed_booking_gives_its_use_back_a_cancelled_one_does_not(west: West):
    await create_code(west, code="ONCE", discountBasisPoints=1000, maxUses=1)
    taken = await west.create(locationId=west.locations[0], startsAt=local(10, 10))
    # The slot is taken: no booking, and the use is not spent.
    error = await west.create_error(
        locationId=west.locations[0], startsAt=local(10, 10), referralCode="ONCE"
    )
    assert error["code"] == "SLOT_TAKEN"
    assert await uses(west, "ONCE") == 0
    # A refused inline customer (plan limit etc.) likewise: see the replay case below.
    booking = await west.create(startsAt=local(10, 11), referralCode="ONCE")
    assert await uses(west, "ONCE") == 1
    await west.act("cancel", booking["id"], "changed plans")
    assert await uses(west, "ONCE") == 1  # uses count bookings made, cancelled ones included
    error = await west.create_error(startsAt=local(10, 12), referralCode="ONCE")
    assert "used as often" in error["message"]
    assert taken["referralCode"] is None


async def test_an_idempotent_replay_counts_no_second_use(west: West):
    await create_code(west, code="REPLAY", discountBasisPoints=1000)
    fields = {"startsAt": local(10, 14), "referralCode": "REPLAY", "idempotencyKey": "k-1"}
    first = await west.create(**fields)
    again = await west.create_raw(
        serviceId=west.services["verifi"]["id"], customerId=west.customers[0], **fields
    )
    assert again["replayed"] is True and again["booking"]["id"] == first["id"]
    assert await uses(west, "REPLAY") == 1


# -- the public check --------------------------------------------------------------


async def test_validate_gives_a_reason_for_each_refusal(west: West):
    momguard = [west.services["momguard"]["id"]]
    await create_code(west, code="R-INACTIVE", discountBasisPoints=100, active=False)
    await create_code(west, code="R-LATER", discountBasisPoints=100, validFrom=soon(days=2))
    await create_code(west, code="R-GONE", discountBasisPoints=100, validUntil=soon(days=-2))
    await create_code(west, code="R-MOM", discountBasisPoints=100, serviceIds=momguard)
    await create_code(west, code="R-USD", discountAmountMinor=100, discountCurrency="USD")
    await create_code(west, code="R-ONCE", discountBasisPoints=100, maxUses=1)
    await west.create(startsAt=local(11, 10), referralCode="R-ONCE")
    expected = {
        "NOPE": "UNKNOWN",
        "": "UNKNOWN",
        "R-INACTIVE": "INACTIVE",
        "R-LATER": "NOT_YET_VALID",
        "R-GONE": "EXPIRED",
        "R-MOM": "NOT_FOR_SERVICE",
        "R-USD": "CURRENCY_MISMATCH",
        "R-ONCE": "USED_UP",
    }
    for code, reason in expected.items():
        check = await validate(west, code, token=None)  # anonymous
        assert check == {"valid": False, "reason": reason, "discount": None}, code
    check = await validate(west, "drfatih15", token=None)
    assert check == {
        "valid": True,
        "reason": None,
        "discount": {"amountMinor": 27_750, "currency": "TRY", "amount": "277.50"},
    }


async def test_validate_reveals_no_doctor_or_usage(west: West):
    fields = "valid reason discount { amountMinor } doctorName uses"
    query = (
        f'query($s: ID!) {{ validateDiscountCode(code: "DRALI10", serviceId: $s) {{ {fields} }} }}'
    )
    result = await west(query, token=None, s=west.services["verifi"]["id"])
    assert error_codes(result) == ["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_VALIDATION_FAILED"]


async def test_validate_needs_a_bookable_service(west: West):
    verifi = west.services["verifi"]["id"]
    await west.db["services"].update_one({"code": "verifi"}, {"$set": {"active": False}})
    for service in (verifi, "0123456789abcdef01234567"):
        result = await west(VALIDATE, token=None, code="DRALI10", serviceId=service)
        assert error_codes(result) == ["NOT_FOUND"]


def _client(runtime, host: str = "203.0.113.9", **settings: Any) -> httpx.AsyncClient:
    app = create_app(settings=runtime.settings.model_copy(update=settings), runtime=runtime)
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api.example.test")


async def test_checks_are_rate_limited_per_address_with_retry_after(west: West):
    variables = {"code": "GUESS1", "serviceId": west.services["verifi"]["id"]}
    async with _client(west.runtime, discount_code_checks_per_address="3/15 minutes") as http:
        gql = GraphQLClient(http, west.runtime)
        for _ in range(2):
            result = await gql(VALIDATE, variables, tenant="west-nipt")
            assert result["data"]["validateDiscountCode"]["reason"] == "UNKNOWN"
        # An anonymous booking naming a code is a guess too.
        booking = await gql(
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { "
            "userErrors { code message } } }",
            {
                "input": {
                    "serviceId": variables["serviceId"],
                    "startsAt": local(12, 10),
                    "customer": {"name": "Guess Er", "email": "guess@example.com"},
                    "referralCode": "GUESS2",
                }
            },
            tenant="west-nipt",
        )
        assert booking["data"]["createBooking"]["userErrors"][0]["code"] == "VALIDATION_FAILED"
        response = await http.post(
            "/t/west-nipt/graphql", json={"query": VALIDATE, "variables": variables}
        )
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "discount code checks" in error["message"]
        retry = error["extensions"]["retryAfter"]
        assert 1 <= retry <= 900 and response.headers["retry-after"] == str(retry)
        # Another address is not affected (same app, same counters).
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=http._transport.app, client=("203.0.113.10", 1)),
            base_url="http://api.example.test",
        )
        async with other:
            result = await GraphQLClient(other, west.runtime)(
                VALIDATE, variables, tenant="west-nipt"
            )
        assert result["data"]["validateDiscountCode"]["valid"] is False


# -- old documents and migration 0004 -------------------------------------------


async def test_codes_written_before_discount_codes_keep_working(west: West):
    # As the legacy importer and older code wrote them: no code_key, uses, limits or window.
    await west.db[REFERRAL_CODES].insert_one(
        {
            "code": "OLDDOC20",
            "doctor_name": "Dr. Eski",
            "discount_basis_points": 2000,
            "active": True,
        }
    )
    assert (await validate(west, "olddoc20"))["discount"]["amountMinor"] == 37_000
    booking = await west.create(startsAt=local(13, 10), referralCode="olddoc20")
    assert booking["discount"]["amountMinor"] == 37_000
    doc = await west.db[REFERRAL_CODES].find_one({"code": "OLDDOC20"})
    assert doc["uses"] == 1 and "code_key" not in doc
    listed = (await west(LIST))["data"]["discountCodes"]["nodes"]
    assert "OLDDOC20" in [c["code"] for c in listed]


async def test_migration_0004_backfills_keys_and_counts(west: West):
    db = west.db
    await db[REFERRAL_CODES].insert_one(
        {"code": "LEGACY5", "discount_basis_points": 500, "active": True}
    )
    await db[REFERRAL_CODES].update_one({"code": "DRALI10"}, {"$unset": {"code_key": ""}})
    # The tenant was born at the latest version: step back before 0004 and apply it again.
    down = await rollback_database(
        db, "tenant", actor="test", to="0003_staff_and_booking_resources"
    )
    assert "0004_discount_code_keys" in down.applied, down.error
    result = await migrate_database(db, "tenant", actor="test")
    assert result.ok and "0004_discount_code_keys" in result.applied, result.error
    legacy = await db[REFERRAL_CODES].find_one({"code": "LEGACY5"})
    assert (legacy["code_key"], legacy["uses"]) == ("LEGACY5", 0)
    assert (await db[REFERRAL_CODES].find_one({"code": "DRALI10"}))["code_key"] == "DRALI10"


# -- pure rules -------------------------------------------------------------------


def test_reason_order_and_window_edges():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    service = {"_id": "s1", "currency": "TRY", "price_minor": 100}
    base = {"code": "X", "active": True, "discount_basis_points": 100}
    assert reason_for(None, service, now) is CodeReason.UNKNOWN
    assert reason_for({**base, "valid_from": now}, service, now) is None  # from: inclusive
    assert reason_for({**base, "valid_until": now}, service, now) is CodeReason.EXPIRED
    assert reason_for({**base, "active": False, "valid_until": now}, service, now) is (
        CodeReason.INACTIVE
    )
    assert reason_for({**base, "max_uses": 2, "uses": 1}, service, now) is None
    assert reason_for({**base, "max_uses": 2, "uses": 2}, service, now) is CodeReason.USED_UP


# -- tenant isolation -------------------------------------------------------------


async def test_another_tenant_cannot_see_use_validate_or_change_codes(west: West):
    await _seed_tenant(west.runtime, DEMO_TENANTS[1])  # tromb-screening
    tromb_token = await west.gql.token("tromb-screening")
    code_id = str((await west.db[REFERRAL_CODES].find_one({"code": "DRALI10"}))["_id"])

    async def tromb(query: str, token: str | None = tromb_token, **variables: Any):
        return await west.gql(query, variables, tenant="tromb-screening", token=token)

    assert error_codes(await tromb(GET, id=code_id)) == ["NOT_FOUND"]
    listed = (await tromb(LIST))["data"]["discountCodes"]["nodes"]
    assert [c["code"] for c in listed] == ["AKBAS15"]
    for mutation, variables in (
        (UPDATE, {"id": code_id, "input": {"discountBasisPoints": 10_000}}),
        (DEACTIVATE, {"id": code_id}),
    ):
        payload = next(iter((await tromb(mutation, **variables))["data"].values()))
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
    services = (await tromb("{ services { id code } }"))["data"]["services"]
    f5l = next(s["id"] for s in services if s["code"] == "f5l")
    check = await tromb(VALIDATE, token=None, code="DRALI10", serviceId=f5l)
    assert check["data"]["validateDiscountCode"]["reason"] == "UNKNOWN"
    # west's service id in tromb's tenant: NOT_FOUND
    other = await tromb(
        VALIDATE, token=None, code="AKBAS15", serviceId=west.services["verifi"]["id"]
    )
    assert error_codes(other) == ["NOT_FOUND"]
    booking = await tromb(
        "mutation($input: CreateBookingInput!) { createBooking(input: $input) { "
        "booking { id } userErrors { field code } } }",
        input={
            "serviceId": f5l,
            "startsAt": local(14, 10),
            "customer": {"name": "Iso Lation", "email": "iso@example.com"},
            "referralCode": "DRALI10",
        },
    )
    assert booking["data"]["createBooking"]["userErrors"] == [
        {"field": ["input", "referralCode"], "code": "VALIDATION_FAILED"}
    ]
    # Same code text in both tenants is allowed (uniqueness is per tenant).
    created = await tromb(CREATE, input={"code": "DRALI10", "discountBasisPoints": 100})
    assert created["data"]["createDiscountCode"]["userErrors"] == []
    unchanged = await west.db[REFERRAL_CODES].find_one({"code": "DRALI10"})
    assert (unchanged["discount_basis_points"], unchanged["active"]) == (1000, True)


async def test_domain_service_matches_codes_of_its_own_database_only(west: West):
    codes = DiscountCodes(west.db)
    assert (await codes.find("drali10"))["code"] == "DRALI10"
    assert await codes.find("AKBAS15") is None
