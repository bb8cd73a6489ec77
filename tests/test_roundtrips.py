"""Listing bookings costs a constant number of tenant-database round-trips, whatever the page size:
one query for the page and one batched ``$in`` query per related collection (DataLoaders)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from domain.bookings import BookingRequest, BookingService
from domain.catalog import CatalogService, ServiceFields
from domain.collections import LOCATIONS
from domain.customers import CustomerFields, CustomerService
from notifications.wiring import outbox_setup
from tenancy import lifecycle
from tenancy.models import Tenant
from tenancy.runtime import Runtime
from tests.conftest import GraphQLClient

COUNTED = {
    "find",
    "find_one",
    "aggregate",
    "count_documents",
    "estimated_document_count",
    "distinct",
    "bulk_write",
    "replace_one",
}
COUNTED_PREFIXES = ("insert", "update", "delete", "find_one_and_")


def _counted(name: str) -> bool:
    return name in COUNTED or name.startswith(COUNTED_PREFIXES)


class CountingCollection:
    """Counts database operations on one collection, then delegates to the real collection."""

    def __init__(self, inner: Any, calls: Counter[tuple[str, str]]) -> None:
        self._inner = inner
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not _counted(name):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls[(self._inner.name, name)] += 1
            return attr(*args, **kwargs)

        return call


class CountingDatabase:
    """A tenant database handle whose collections count their operations."""

    def __init__(self, inner: Any, calls: Counter[tuple[str, str]]) -> None:
        self._inner = inner
        self._calls = calls

    def __getitem__(self, name: str) -> CountingCollection:
        return CountingCollection(self._inner[name], self._calls)

    def get_collection(self, name: str, *args: Any, **kwargs: Any) -> CountingCollection:
        return CountingCollection(self._inner.get_collection(name, *args, **kwargs), self._calls)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if _counted(name) or name in ("command", "list_collection_names"):

            def call(*args: Any, **kwargs: Any) -> Any:
                self._calls[("<database>", name)] += 1
                return attr(*args, **kwargs)

            return call
        return attr


@pytest.fixture
def calls(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """Counter of tenant-database operations, keyed by (collection, method)."""
    counter: Counter[tuple[str, str]] = Counter()
    real = runtime.clients.database

    def database(location: Any) -> Any:
        if location.name == runtime.settings.platform_db:
            return real(location)  # the platform database is not what is counted here
        return CountingDatabase(real(location), counter)

    monkeypatch.setattr(runtime.clients, "database", database)
    return counter


async def _tenant_with_bookings(runtime: Runtime, slug: str, n: int) -> tuple[Tenant, dict]:
    """A fresh tenant: 25 customers, 6 services, 3 locations and ``n`` bookings spread over them."""
    tenant = await lifecycle.provision_tenant(
        runtime,
        lifecycle.ProvisionRequest(
            slug=slug,
            name=slug,
            plan_key="enterprise",
            owner_email=f"owner@{slug}.example.com",
            owner_name="Owner",
            owner_password="owner-password-123",
        ),
        actor="test",
    )
    db = runtime.tenant_database(tenant)
    customers = [
        await CustomerService(db, tenant).create(CustomerFields(name=f"Customer {i:02d}"))
        for i in range(25)
    ]
    catalog = CatalogService(db)
    services = [
        await catalog.create_service(
            ServiceFields(
                name=f"Service {i}", duration_minutes=20, price_minor=1000 * (i + 1), currency="TRY"
            )
        )
        for i in range(6)
    ]
    locations = [{"_id": ObjectId(), "name": f"Room {i}"} for i in range(3)]
    await db[LOCATIONS].insert_many(locations)
    bookings = BookingService(db, tenant, "test", outbox_setup(runtime))
    start = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)
    expected = {}
    for i in range(n):
        customer, service = customers[i % len(customers)], services[(i * 7) % len(services)]
        result = await bookings.create(
            BookingRequest(
                service_id=str(service["_id"]),
                customer_id=str(customer["_id"]),
                location_id=str(locations[i % 3]["_id"]),
                starts_at=start + timedelta(minutes=30 * i),
            ),
            allow_customer_id=True,
        )
        expected[str(result.booking["_id"])] = (customer["name"], service["name"])
    owner = await runtime.store.user_by_id(tenant.owner_user_id)
    assert owner is not None
    return tenant, {"bookings": expected, "owner": owner}


LIST = """
query {
  bookings(first: 100) {
    edges { node { id customer { id name } service { id name } } }
    pageInfo { hasNextPage }
  }
}"""
LIST_WITH_COUNT = """
query {
  bookings(first: 100) {
    totalCount
    edges { node { id customer { id name } service { id name } } }
  }
}"""
LIST_WITH_LOCATION = """
query {
  bookings(first: 100) {
    edges { node { id customer { name } service { name } location { name } } }
  }
}"""


async def _list(
    gql: GraphQLClient, tenant: Tenant, owner, query: str, calls: Counter, expected: dict
) -> Counter:
    token = gql.tokens.issue(owner, tenant)[0]
    calls.clear()
    result = await gql(query, tenant=tenant.slug, token=token)
    assert "errors" not in result, result
    edges = result["data"]["bookings"]["edges"]
    assert len(edges) == len(expected)
    for edge in edges:
        node = edge["node"]
        assert node["customer"] is not None and node["service"] is not None
        assert (node["customer"]["name"], node["service"]["name"]) == expected[node["id"]]
    if "totalCount" in result["data"]["bookings"]:
        assert result["data"]["bookings"]["totalCount"] == len(expected)
    return Counter(calls)


@pytest.fixture
async def five_and_hundred(runtime: Runtime) -> dict[int, tuple[Tenant, dict]]:
    return {
        5: await _tenant_with_bookings(runtime, "rt-five", 5),
        100: await _tenant_with_bookings(runtime, "rt-hundred", 100),
    }


async def test_list_with_customer_and_service_costs_three_round_trips(
    gql: GraphQLClient, five_and_hundred, calls: Counter
):
    seen = {}
    for n, (tenant, data) in five_and_hundred.items():
        seen[n] = await _list(gql, tenant, data["owner"], LIST, calls, data["bookings"])
        assert seen[n] == Counter(
            {("bookings", "find"): 1, ("customers", "find"): 1, ("services", "find"): 1}
        ), (n, seen[n])
        assert sum(seen[n].values()) == 3
    assert seen[5] == seen[100]


async def test_total_count_adds_exactly_one_round_trip(
    gql: GraphQLClient, five_and_hundred, calls: Counter
):
    seen = {}
    for n, (tenant, data) in five_and_hundred.items():
        seen[n] = await _list(gql, tenant, data["owner"], LIST_WITH_COUNT, calls, data["bookings"])
        assert seen[n] == Counter(
            {
                ("bookings", "find"): 1,
                ("bookings", "count_documents"): 1,
                ("customers", "find"): 1,
                ("services", "find"): 1,
            }
        ), (n, seen[n])
    assert seen[5] == seen[100]


async def test_location_adds_one_batched_round_trip(
    gql: GraphQLClient, five_and_hundred, calls: Counter
):
    seen = {}
    for n, (tenant, data) in five_and_hundred.items():
        token = gql.tokens.issue(data["owner"], tenant)[0]
        calls.clear()
        result = await gql(LIST_WITH_LOCATION, tenant=tenant.slug, token=token)
        assert len(result["data"]["bookings"]["edges"]) == n
        assert {e["node"]["location"]["name"] for e in result["data"]["bookings"]["edges"]} == (
            {"Room 0", "Room 1", "Room 2"}
        )
        seen[n] = Counter(calls)
        assert sum(seen[n].values()) == 4
        assert seen[n][("locations", "find")] == 1
    assert seen[5] == seen[100]


async def test_counting_proxy_sees_per_item_queries(
    runtime: Runtime, five_and_hundred, calls: Counter
):
    """The counter is real: loading customers one by one is counted once per booking."""
    tenant, _ = five_and_hundred[5]
    db = runtime.tenant_database(tenant)
    calls.clear()
    docs = await db["bookings"].find({}).to_list(None)
    for doc in docs:
        await db["customers"].find_one({"_id": doc["customer_id"]})
    assert calls == Counter({("bookings", "find"): 1, ("customers", "find_one"): 5})


TENANTS_QUERY = """{ tenants(first: 100) { edges { node { slug usage { users customers }
  subscription { plan { key } } } } } }"""


async def test_tenant_list_with_usage_and_plan_is_batched(
    runtime: Runtime, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
):
    """``tenants(first: 100)`` with usage and plan: a constant number of platform
    queries (page, users, plans) plus one counter read per tenant database."""
    await lifecycle.create_super_admin(
        runtime,
        email="root@platform.example.com",
        name="Root",
        password="root-pass-123",
        actor="t",
    )
    token = await gql.token(None)
    counts: dict[int, tuple[int, int]] = {}
    for size in (3, 8):
        while len(await runtime.store.all_tenants()) < size:
            n = len(await runtime.store.all_tenants())
            await lifecycle.provision_tenant(
                runtime,
                lifecycle.ProvisionRequest(
                    slug=f"shop-{n:02d}",
                    name=f"Shop {n}",
                    owner_email=f"owner{n}@shop.example.com",
                    owner_name="Owner",
                    owner_password="owner-password-123",
                ),
                actor="test",
            )
        calls: Counter[tuple[str, str]] = Counter()
        real = runtime.clients.database

        def counting(location: Any, real: Any = real, calls: Any = calls) -> Any:
            return CountingDatabase(real(location), calls)

        # The token's revocation check reads the user once per cache period
        # (accounts.sessions): warm it, so both sizes count the same request.
        await gql("{ me { id } }", token=token)
        monkeypatch.setattr(runtime.clients, "database", counting)
        result = await gql(TENANTS_QUERY, token=token)
        monkeypatch.setattr(runtime.clients, "database", real)
        nodes = [e["node"] for e in result["data"]["tenants"]["edges"]]
        assert len(nodes) == size and all(n["subscription"]["plan"]["key"] for n in nodes)
        assert all(n["usage"]["users"] == 1 for n in nodes)  # each owner
        platform_calls = sum(n for (c, _), n in calls.items() if c != "counters")
        counter_reads = calls[("counters", "find_one")]
        counts[size] = (platform_calls, counter_reads)
    assert counts[3][0] == counts[8][0], counts  # page, users aggregate, plans: not per tenant
    assert (counts[3][1], counts[8][1]) == (3, 8), counts  # one usage read per tenant database
