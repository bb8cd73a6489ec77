"""Tenant isolation: with its own valid admin token, one tenant can neither read, count,
change nor page into another tenant's customers and bookings; a token of one tenant is
refused by another."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from bson import ObjectId

from domain.collections import BOOKING_SLOTS, BOOKINGS, COUNTERS, CUSTOMERS
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from tenancy.models import Role, Tenant
from tenancy.runtime import Runtime
from tests.conftest import GraphQLClient, error_codes
from tests.snapshots import seeded

WEST, TROMB = "west-nipt", "tromb-screening"

CUSTOMERS_Q = """
query($first: Int, $after: String, $filter: CustomerFilter) {
  customers(first: $first, after: $after, filter: $filter) {
    totalCount edges { cursor node { id email } } pageInfo { hasNextPage endCursor }
  }
}"""
BOOKINGS_Q = """
query($first: Int, $after: String, $filter: BookingFilter) {
  bookings(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { cursor node { id customer { id } service { id } location { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
CUSTOMER_Q = "query($id: ID!) { customer(id: $id) { id name } }"
BOOKING_Q = "query($id: ID!) { booking(id: $id) { id status } }"
ERRORS = "userErrors { code field }"
UPDATE_CUSTOMER = f"""mutation($id: ID!) {{
  updateCustomer(id: $id, input: {{name: "Hijacked", email: "hijack@example.com"}}) {{
    customer {{ id }} {ERRORS} }} }}"""
DELETE_CUSTOMER = (
    f"mutation($id: ID!) {{ deleteCustomer(id: $id) {{ customer {{ id }} {ERRORS} }} }}"
)
BOOKING_MUTATIONS = {
    name: f"mutation($id: ID!) {{ {name}(id: $id{extra}) {{ booking {{ id }} {ERRORS} }} }}"
    for name, extra in (
        ("confirmBooking", ""),
        ("scheduleBooking", ""),
        ("startBooking", ""),
        ("completeBooking", ""),
        ("markBookingNoShow", ""),
        ("cancelBooking", ', reason: "not yours"'),
        ("rescheduleBooking", ', startsAt: "2030-05-05T10:00:00+03:00"'),
    )
}
CREATE_BOOKING = f"""mutation($input: CreateBookingInput!) {{
  createBooking(input: $input) {{ booking {{ id customer {{ id }} }} replayed {ERRORS} }} }}"""
CREATE_CUSTOMER = f"""mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ id }} {ERRORS} }} }}"""


@dataclass
class Side:
    """One tenant: its record, database, admin token and what it holds."""

    slug: str
    tenant: Tenant
    token: str
    customer_ids: list[str]
    booking_ids: list[str]
    service_ids: list[str]
    location_ids: list[str]

    def db(self, runtime: Runtime):
        return runtime.tenant_database(self.tenant)


async def _side(runtime: Runtime, gql: GraphQLClient, slug: str) -> Side:
    tenant = await runtime.store.tenant_by_slug(slug)
    assert tenant is not None
    db = runtime.tenant_database(tenant)

    async def ids(collection: str, query: dict[str, Any] | None = None) -> list[str]:
        return [str(d["_id"]) for d in await db[collection].find(query or {}).to_list(None)]

    return Side(
        slug=slug,
        tenant=tenant,
        token=await gql.token(slug),
        customer_ids=await ids(CUSTOMERS, {"status": {"$ne": "deleted"}}),
        booking_ids=await ids(BOOKINGS),
        service_ids=await ids("services"),
        location_ids=await ids("locations"),
    )


@pytest.fixture
async def tenants(runtime: Runtime, gql: GraphQLClient) -> dict[str, Side]:
    """The demo tenants west-nipt and tromb-screening (only these two, for speed)."""

    async def seed() -> None:
        for demo in DEMO_TENANTS:
            if demo.slug in (WEST, TROMB):  # without hours: these tests book any time
                await _seed_tenant(runtime, replace(demo, schedule=None))

    await seeded(runtime, "west-nipt and tromb-screening without hours", seed)
    sides = {slug: await _side(runtime, gql, slug) for slug in (WEST, TROMB)}
    for side in sides.values():
        assert side.customer_ids and side.booking_ids and side.service_ids
    return sides


async def snapshot(runtime: Runtime, side: Side) -> dict[str, list[dict[str, Any]]]:
    """Every document of the collections a foreign request could try to change."""
    db = side.db(runtime)
    return {
        name: await db[name].find({}).sort("_id", 1).to_list(None)
        for name in (CUSTOMERS, BOOKINGS, BOOKING_SLOTS, COUNTERS, "services", "locations")
    }


DIRECTIONS = [(WEST, TROMB), (TROMB, WEST)]


@pytest.mark.parametrize(("victim", "attacker"), DIRECTIONS)
async def test_foreign_ids_are_not_found_and_nothing_changes(
    runtime: Runtime, gql: GraphQLClient, tenants: dict[str, Side], victim: str, attacker: str
):
    a, b = tenants[victim], tenants[attacker]
    before_a, before_b = await snapshot(runtime, a), await snapshot(runtime, b)

    async def as_b(query: str, **variables: Any) -> dict[str, Any]:
        return await gql(query, variables, tenant=b.slug, token=b.token)

    for customer_id in a.customer_ids:
        result = await as_b(CUSTOMER_Q, id=customer_id)
        assert error_codes(result) == ["NOT_FOUND"] and result["data"] == {"customer": None}
        for query, field in (
            (UPDATE_CUSTOMER, "updateCustomer"),
            (DELETE_CUSTOMER, "deleteCustomer"),
        ):
            payload = (await as_b(query, id=customer_id))["data"][field]
            assert payload["customer"] is None
            assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"], (field, payload)

    for booking_id in a.booking_ids:
        result = await as_b(BOOKING_Q, id=booking_id)
        assert error_codes(result) == ["NOT_FOUND"] and result["data"] == {"booking": None}
        for name, query in BOOKING_MUTATIONS.items():
            payload = (await as_b(query, id=booking_id))["data"][name]
            assert payload["booking"] is None
            assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"], (name, payload)

    # nothing changed on either side
    assert await snapshot(runtime, a) == before_a
    assert await snapshot(runtime, b) == before_b
    # and the victim still sees its data as before
    for booking_id in a.booking_ids[:3]:
        own = await gql(BOOKING_Q, {"id": booking_id}, tenant=a.slug, token=a.token)
        assert own["data"]["booking"]["id"] == booking_id


@pytest.mark.parametrize(("victim", "attacker"), DIRECTIONS)
async def test_counts_and_lists_show_only_own_rows(
    runtime: Runtime, gql: GraphQLClient, tenants: dict[str, Side], victim: str, attacker: str
):
    a, b = tenants[victim], tenants[attacker]
    customers = await gql(CUSTOMERS_Q, {"first": 100}, tenant=b.slug, token=b.token)
    page = customers["data"]["customers"]
    assert page["totalCount"] == len(b.customer_ids)
    assert sorted(e["node"]["id"] for e in page["edges"]) == sorted(b.customer_ids)

    bookings = await gql(BOOKINGS_Q, {"first": 100}, tenant=b.slug, token=b.token)
    page = bookings["data"]["bookings"]
    assert page["totalCount"] == len(b.booking_ids)
    nodes = [e["node"] for e in page["edges"]]
    assert sorted(n["id"] for n in nodes) == sorted(b.booking_ids)
    # related documents come from the same tenant's database (DataLoaders are per tenant)
    assert {n["customer"]["id"] for n in nodes} <= set(b.customer_ids)
    assert {n["service"]["id"] for n in nodes} <= set(b.service_ids)
    assert {n["location"]["id"] for n in nodes} <= set(b.location_ids)
    assert not {n["customer"]["id"] for n in nodes} & set(a.customer_ids)


@pytest.mark.parametrize(("victim", "attacker"), DIRECTIONS)
async def test_foreign_cursor_pages_only_own_rows(
    gql: GraphQLClient, tenants: dict[str, Side], victim: str, attacker: str
):
    a, b = tenants[victim], tenants[attacker]
    for query, field, a_ids, b_ids in (
        (CUSTOMERS_Q, "customers", a.customer_ids, b.customer_ids),
        (BOOKINGS_Q, "bookings", a.booking_ids, b.booking_ids),
    ):
        cursors = []
        after = None
        while True:  # every cursor the victim's pages hand out
            page = (await gql(query, {"first": 2, "after": after}, tenant=a.slug, token=a.token))[
                "data"
            ][field]
            cursors.extend(e["cursor"] for e in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert len(cursors) == len(a_ids)
        for cursor in cursors:
            result = await gql(query, {"first": 100, "after": cursor}, tenant=b.slug, token=b.token)
            assert "errors" not in result, result
            page = result["data"][field]
            ids = {e["node"]["id"] for e in page["edges"]}
            assert ids <= set(b_ids)
            assert not ids & set(a_ids)
            assert page["totalCount"] == len(b_ids)


@pytest.mark.parametrize(("victim", "attacker"), DIRECTIONS)
async def test_foreign_filters_and_references_find_nothing(
    runtime: Runtime, gql: GraphQLClient, tenants: dict[str, Side], victim: str, attacker: str
):
    a, b = tenants[victim], tenants[attacker]
    for flt in [{"customerId": c} for c in a.customer_ids] + [
        {"serviceId": s} for s in a.service_ids
    ]:
        result = await gql(BOOKINGS_Q, {"first": 100, "filter": flt}, tenant=b.slug, token=b.token)
        page = result["data"]["bookings"]
        assert page["edges"] == [] and page["totalCount"] == 0, flt
    # searching by the victim's customer emails finds nothing either
    for doc in await a.db(runtime)[CUSTOMERS].find({}).to_list(None):
        result = await gql(
            CUSTOMERS_Q,
            {"first": 10, "filter": {"search": doc["email"]}},
            tenant=b.slug,
            token=b.token,
        )
        assert result["data"]["customers"]["totalCount"] == 0

    # booking with the victim's service, customer or location is NOT_FOUND, and creates nothing
    before = await b.db(runtime)[BOOKINGS].count_documents({})
    base = {
        "serviceId": b.service_ids[0],
        "customerId": b.customer_ids[0],
        "startsAt": "2030-06-01T10:00:00+03:00",
    }
    for change, field in (
        ({"serviceId": a.service_ids[0]}, "serviceId"),
        ({"customerId": a.customer_ids[0]}, "customerId"),
        ({"locationId": a.location_ids[0]}, "locationId"),
    ):
        result = await gql(
            CREATE_BOOKING, {"input": {**base, **change}}, tenant=b.slug, token=b.token
        )
        payload = result["data"]["createBooking"]
        assert payload["booking"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("NOT_FOUND", ["input", field])
        ]
    assert await b.db(runtime)[BOOKINGS].count_documents({}) == before


async def test_idempotency_keys_and_emails_are_per_tenant(
    runtime: Runtime, gql: GraphQLClient, tenants: dict[str, Side]
):
    made = {}
    for side in tenants.values():
        fields = {
            "serviceId": side.service_ids[0],
            "customerId": side.customer_ids[0],
            "startsAt": "2030-06-02T10:00:00+03:00",
            "locationId": side.location_ids[0],
            "idempotencyKey": "shared-key",
        }
        payload = await gql(CREATE_BOOKING, {"input": fields}, tenant=side.slug, token=side.token)
        payload = payload["data"]["createBooking"]
        assert payload["userErrors"] == [] and payload["replayed"] is False
        made[side.slug] = payload["booking"]["id"]
        customer = await gql(
            CREATE_CUSTOMER,
            {"input": {"name": "Same Person", "email": "same.person@example.com"}},
            tenant=side.slug,
            token=side.token,
        )
        assert customer["data"]["createCustomer"]["userErrors"] == []
    assert made[WEST] != made[TROMB]
    for side in tenants.values():
        doc = await side.db(runtime)[BOOKINGS].find_one({"idempotency_key": "shared-key"})
        assert str(doc["_id"]) == made[side.slug]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.STAFF, Role.VIEWER])
async def test_token_of_one_tenant_is_forbidden_in_another(
    runtime: Runtime, gql: GraphQLClient, tenants: dict[str, Side], role: Role
):
    west_token = await gql.token(WEST, role)
    tromb = tenants[TROMB]
    before = await snapshot(runtime, tromb)
    attempts = [
        dict(tenant=TROMB),
        dict(header_tenant=TROMB),
        dict(headers={"host": "tromb-screening.example.test"}),
        dict(headers={"host": "trombofili.com"}),
    ]
    for how in attempts:
        for query, variables in (
            (CUSTOMERS_Q, {"first": 5}),
            (BOOKINGS_Q, {"first": 5}),
            (CUSTOMER_Q, {"id": tromb.customer_ids[0]}),
            (CREATE_CUSTOMER, {"input": {"name": "Intruder"}}),
            (BOOKING_MUTATIONS["cancelBooking"], {"id": tromb.booking_ids[0]}),
        ):
            result = await gql(query, variables, token=west_token, **how)
            assert error_codes(result) == ["FORBIDDEN"], (how, query, result)
            assert result["data"] is None
    # the path names one tenant and the header another
    result = await gql(
        CUSTOMERS_Q, {"first": 5}, token=west_token, tenant=WEST, header_tenant=TROMB
    )
    assert error_codes(result) == ["FORBIDDEN"]
    assert await snapshot(runtime, tromb) == before
    # the same token still works at home
    home = await gql(CUSTOMERS_Q, {"first": 100}, tenant=WEST, token=west_token)
    assert home["data"]["customers"]["totalCount"] == len(tenants[WEST].customer_ids)


async def test_token_naming_its_tenant_without_a_request_tenant_stays_home(
    gql: GraphQLClient, tenants: dict[str, Side]
):
    """A request that names no tenant is served from the token's own tenant."""
    west = tenants[WEST]
    result = await gql(CUSTOMERS_Q, {"first": 100}, token=west.token)
    ids = {e["node"]["id"] for e in result["data"]["customers"]["edges"]}
    assert ids == set(west.customer_ids)


async def test_token_of_a_recreated_tenant_id_is_refused(
    runtime: Runtime, gql: GraphQLClient, tenants: dict[str, Side]
):
    """The token carries the tenant id too: one whose id does not match the record is refused."""
    west = tenants[WEST]
    owner = await runtime.store.user_by_email(west.tenant.id, "admin@west-nipt.example.com")
    assert owner is not None
    impostor = west.tenant.model_copy(update={"id": ObjectId()})
    token = gql.tokens.issue(owner, impostor)[0]
    result = await gql(CUSTOMERS_Q, {"first": 5}, tenant=WEST, token=token)
    assert error_codes(result) == ["FORBIDDEN"]
