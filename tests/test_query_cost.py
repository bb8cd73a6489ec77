"""Cost-based rate limiting (issue 12, item 6): cost from the selection, a bucket per tenant by
plan, ``extensions.cost`` on every executed response, RATE_LIMITED and QUERY_TOO_COSTLY."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from graphql import parse

from graphql_api.app import create_app
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from graphql_api.query_cost import CostRules, actual_cost, requested_cost
from graphql_api.schema import schema as served_schema
from tenancy.runtime import Runtime
from tenancy.settings import CostBucket
from tests.conftest import GraphQLClient, error_codes

RULES = CostRules(default_page=20, max_page=100)
SLUG = "west-nipt"


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    return requested_cost(served_schema._schema, parse(document), None, variables, RULES)


def test_scalars_are_free_and_objects_cost_one():
    assert cost("{ plans { key name } }") == 1  # a plain list counts as one object
    assert cost("{ services { code } locations { id name } }") == 2


def test_connections_cost_first_times_their_nodes():
    assert cost("{ customers(first: 50) { nodes { id } } }") == 1 + 50
    assert cost("{ customers(first: 50) { nodes { id } pageInfo { hasNextPage } } }") == 52
    assert cost("{ customers(first: 50) { totalCount } }") == 1
    # first from the variables, the default page size, the maximum page size
    assert cost("query($n: Int) { customers(first: $n) { nodes { id } } }", {"n": 7}) == 8
    assert cost("{ customers { nodes { id } } }") == 1 + 20
    assert cost("{ customers(first: 100000) { nodes { id } } }") == 1 + 100


def test_nested_connections_multiply_and_fragments_count_where_spread():
    nested = "{ bookings(first: 10) { nodes { customer { id } service { code } } } }"
    assert cost(nested) == 1 + 10 * (1 + 1 + 1)
    fragment = (
        "query { customers(first: 5) { ...Page } } "
        "fragment Page on CustomerConnection { nodes { id } }"
    )
    assert cost(fragment) == 1 + 5


def test_mutations_cost_ten_more_than_their_selection():
    document = 'mutation { login(email: "a@b.c", password: "x") { token } }'
    assert cost(document) == 10 + 1


def test_actual_cost_counts_what_the_response_holds():
    document = parse("{ customers(first: 50) { nodes { id } pageInfo { hasNextPage } } }")
    data = {"customers": {"nodes": [{"id": "1"}, {"id": "2"}], "pageInfo": {"hasNextPage": False}}}
    assert actual_cost(served_schema._schema, document, None, data, RULES) == 1 + 2 + 1
    assert actual_cost(served_schema._schema, document, None, None, RULES) == 0


@pytest.fixture
async def tenant(runtime: Runtime) -> Runtime:
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    return runtime


@asynccontextmanager
async def _http(runtime: Runtime, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    configured = runtime.settings.model_copy(update={"rate_limit_enabled": True, **settings})
    app = create_app(settings=configured, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
        yield c


async def test_every_response_carries_its_cost_and_the_tenants_throttle_status(
    tenant: Runtime, gql: GraphQLClient
):
    token = await gql.token(SLUG)
    query = "{ customers(first: 50) { nodes { id } pageInfo { hasNextPage } } }"
    async with _http(tenant) as http:
        response = await http.post(
            f"/t/{SLUG}/graphql",
            json={"query": query},
            headers={"authorization": f"Bearer {token}"},
        )
    body = response.json()
    nodes = len(body["data"]["customers"]["nodes"])
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 52,
        "actualQueryCost": 1 + nodes + 1,
        "throttleStatus": {
            "maximumAvailable": 2000,  # west-nipt is on the professional plan
            "currentlyAvailable": 2000 - (1 + nodes + 1),
            "restoreRate": 100,
        },
    }


async def test_without_a_tenant_the_cost_is_reported_without_a_bucket(client: httpx.AsyncClient):
    response = await client.post("/graphql", json={"query": "{ plans { key } }"})
    assert response.json()["extensions"]["cost"] == {
        "requestedQueryCost": 1,
        "actualQueryCost": 1,
        "throttleStatus": None,
    }


async def test_an_empty_bucket_refuses_with_rate_limited_and_retry_after(tenant: Runtime):
    # 30 aliased lists of services: 30 points a request; a bucket of 100 restoring
    # 1 point a second holds three of them.
    query = "{ " + " ".join(f"s{i}: services {{ code }}" for i in range(30)) + " }"
    buckets = {"professional": CostBucket(capacity=100, restore_per_second=1)}
    async with _http(tenant, query_cost_buckets=buckets) as http:
        answers = [await http.post(f"/t/{SLUG}/graphql", json={"query": query}) for _ in range(4)]
    assert [error_codes(a.json()) for a in answers[:3]] == [[], [], []]
    refused = answers[3]
    assert error_codes(refused.json()) == ["RATE_LIMITED"]
    assert refused.json()["data"] is None
    assert int(refused.headers["retry-after"]) >= 20  # 30 - 10 points at 1 a second
    throttle = refused.json()["extensions"]["cost"]["throttleStatus"]
    assert throttle == {"maximumAvailable": 100, "currentlyAvailable": 10, "restoreRate": 1}


async def test_a_bucket_is_per_tenant(tenant: Runtime):
    await _seed_tenant(tenant, DEMO_TENANTS[1])
    query = "{ " + " ".join(f"s{i}: services {{ code }}" for i in range(30)) + " }"
    small = CostBucket(capacity=40, restore_per_second=1)
    buckets = {"professional": small, "starter": small, "enterprise": small}
    async with _http(tenant, query_cost_buckets=buckets, query_cost_default_bucket=small) as http:
        first = await http.post(f"/t/{SLUG}/graphql", json={"query": query})
        again = await http.post(f"/t/{SLUG}/graphql", json={"query": query})
        other = await http.post(f"/t/{DEMO_TENANTS[1].slug}/graphql", json={"query": query})
    assert error_codes(first.json()) == []
    assert error_codes(again.json()) == ["RATE_LIMITED"]
    assert error_codes(other.json()) == []


async def test_an_operation_over_the_maximum_cost_is_refused_before_it_runs(tenant: Runtime):
    query = "{ customers(first: 100) { nodes { id } } }"
    async with _http(tenant, max_query_cost=50) as http:
        response = await http.post(
            f"/t/{SLUG}/graphql",
            json={"query": query},
            headers={"accept": "application/graphql-response+json"},
        )
    assert response.status_code == 400
    body = response.json()
    assert error_codes(body) == ["QUERY_TOO_COSTLY"]
    assert body["errors"][0]["extensions"]["requestedQueryCost"] == 101
    assert body["errors"][0]["extensions"]["maximumQueryCost"] == 50
    assert "101" in body["errors"][0]["message"]
