"""Request ids (issue 12, item 2): accepted or generated, returned, in errors and the audit log."""

from __future__ import annotations

import httpx

from tenancy.platform import AUDIT_LOG
from tenancy.runtime import Runtime
from tests.conftest import GraphQLClient

PLANS = {"query": "{ plans { key } }"}


async def test_a_clients_request_id_is_returned(client: httpx.AsyncClient):
    response = await client.post("/graphql", json=PLANS, headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc-123"


async def test_a_missing_or_unsafe_request_id_is_replaced_by_a_generated_one(
    client: httpx.AsyncClient,
):
    first = await client.post("/graphql", json=PLANS)
    second = await client.post("/graphql", json=PLANS, headers={"X-Request-ID": "a b\tc"})
    too_long = await client.post("/graphql", json=PLANS, headers={"X-Request-ID": "x" * 129})
    ids = [r.headers["x-request-id"] for r in (first, second, too_long)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == 3


async def test_errors_carry_the_request_id(client: httpx.AsyncClient):
    graphql = await client.post(
        "/graphql", json={"query": "{ nope }"}, headers={"X-Request-ID": "req-graphql"}
    )
    body = await client.post(
        "/graphql",
        content=b"[1]",
        headers={"content-type": "application/json", "X-Request-ID": "req-body"},
    )
    health = await client.get("/healthz", headers={"X-Request-ID": "req-health"})
    assert graphql.json()["errors"][0]["extensions"]["requestId"] == "req-graphql"
    assert body.status_code == 400
    assert body.json()["errors"][0]["extensions"]["requestId"] == "req-body"
    assert body.headers["x-request-id"] == "req-body"
    assert health.headers["x-request-id"] == "req-health"


async def test_audit_entries_carry_the_request_id(
    demo: Runtime, gql: GraphQLClient, client: httpx.AsyncClient
):
    token = await gql.token(None)  # the super-admin
    response = await client.post(
        "/graphql",
        json={
            "query": 'mutation { suspendTenant(slug: "west-nipt", reason: "audit test") '
            "{ tenant { status } userErrors { code } } }"
        },
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-audit-1"},
    )
    assert response.json()["data"]["suspendTenant"]["tenant"]["status"] == "SUSPENDED"
    entry = await demo.store.db[AUDIT_LOG].find_one({"request_id": "req-audit-1"})
    assert entry is not None and entry["action"] == "tenant.suspended"
