"""HTTP surface: health, readiness, error codes, limits, CORS, GraphiQL, introspection."""

from __future__ import annotations

import httpx
import pytest

from domain.catalog import CatalogService
from graphql_api.app import create_app
from tests.conftest import GraphQLClient, error_codes


async def test_healthz(client: httpx.AsyncClient):
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readyz_ok_and_unavailable(client: httpx.AsyncClient, runtime, monkeypatch):
    assert (await client.get("/readyz")).json() == {"status": "ready", "embedded": False}

    async def down() -> None:
        raise ConnectionError("no route to host")

    monkeypatch.setattr(runtime.store, "ping", down)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


async def test_syntax_error_code(demo, gql: GraphQLClient):
    result = await gql("{ services { name ")
    assert error_codes(result) == ["GRAPHQL_PARSE_FAILED"]


async def test_unknown_field_code(demo, gql: GraphQLClient):
    result = await gql("{ services { nope } }", tenant="west-nipt")
    assert error_codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "nope" in result["errors"][0]["message"]


async def test_bad_variable_is_a_validation_error(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")
    result = await gql(
        "query($n: Int) { customers(first: $n) { totalCount } }",
        {"n": "ten"},
        tenant="west-nipt",
        token=token,
    )
    assert error_codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_depth_limit(demo):
    settings = demo.settings.model_copy(update={"max_query_depth": 2})
    app = create_app(settings=settings, runtime=demo)
    query = "{ plans { limits { maxUsers } } tenant { subscription { plan { key } } } }"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = (await c.post("/t/west-nipt/graphql", json={"query": query})).json()
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "exceeds maximum operation depth of 2" in body["errors"][0]["message"]


async def test_alias_limit(demo, gql: GraphQLClient):
    query = "{ " + " ".join(f"p{i}: plans {{ key }}" for i in range(40)) + " }"
    result = await gql(query)
    assert error_codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_token_limit(demo, gql: GraphQLClient):
    query = "{ plans { " + " ".join(["key"] * 2100) + " } }"
    result = await gql(query)
    assert error_codes(result) == ["GRAPHQL_PARSE_FAILED"]


async def test_unexpected_error_is_masked_and_logged(demo, gql: GraphQLClient, monkeypatch, caplog):
    async def boom(self, *, include_inactive: bool):
        raise RuntimeError("secret connection string mongodb://user:pw@db")

    monkeypatch.setattr(CatalogService, "services", boom)
    result = await gql("{ services { name } }", tenant="west-nipt")
    assert error_codes(result) == ["INTERNAL_ERROR"]
    text = str(result)
    assert "secret" not in text and "Traceback" not in text
    assert "secret connection string" in caplog.text


async def test_cors_preflight_for_configured_origin(client: httpx.AsyncClient):
    response = await client.options(
        "/graphql",
        headers={
            "origin": "http://localhost:5173",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type,x-tenant",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    refused = await client.options(
        "/graphql",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_graphiql_in_development(runtime):
    app = create_app(
        settings=runtime.settings.model_copy(update={"graphiql": True}), runtime=runtime
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize("enabled", [True, False])
async def test_introspection_switch(runtime, enabled: bool):
    settings = runtime.settings.model_copy(update={"introspection": enabled})
    app = create_app(settings=settings, runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})
    body = response.json()
    if enabled:
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    else:
        assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
        assert "introspection has been disabled" in body["errors"][0]["message"]


async def test_plan_rate_limit_per_tenant(demo):
    tenant = await demo.store.tenant_by_slug("tromb-screening")
    await demo.store.update_tenant(tenant.id, {"limits.api_rate_limit_per_minute": 3})
    demo.registry.invalidate("tromb-screening")
    settings = demo.settings.model_copy(update={"rate_limit_enabled": True})
    app = create_app(settings=settings, runtime=demo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        gql = GraphQLClient(c, demo)
        for _ in range(3):
            assert "errors" not in await gql("{ services { code } }", tenant="tromb-screening")
        refused = await gql("{ services { code } }", tenant="tromb-screening")
        assert error_codes(refused) == ["RATE_LIMITED"]
        assert "3 requests per minute" in refused["errors"][0]["message"]
        # staff have the tenant's own budget, untouched by anonymous traffic
        token = await gql.token("tromb-screening")
        assert "errors" not in await gql(
            "{ services { code } }", tenant="tromb-screening", token=token
        )
        # another tenant has its own budget
        assert "errors" not in await gql("{ services { code } }", tenant="west-nipt")


GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ({"query": "{ plans { key "}, {}, 400, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, {}, 400, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "{ services { code } }"}, {"x-tenant": "nobody-here"}, 404, "TENANT_NOT_FOUND"),
        ({"query": "{ me { email } }"}, {"authorization": "Bearer x.y.z"}, 401, "UNAUTHENTICATED"),
    ],
)
async def test_graphql_response_media_type_status_codes(
    demo, client: httpx.AsyncClient, body, headers, status, code
):
    """GraphQL over HTTP: request errors get 4xx and no data with the new media type..."""
    response = await client.post(
        "/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE, **headers}
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    payload = response.json()
    assert "data" not in payload
    assert error_codes(payload) == [code]
    # ...while application/json clients keep 200 and "data": null.
    legacy = await client.post("/graphql", json=body, headers=headers)
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")
    assert legacy.json()["data"] is None


async def test_graphql_response_media_type_success(demo, client: httpx.AsyncClient):
    response = await client.post(
        "/graphql", json={"query": "{ plans { key } }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert [p["key"] for p in response.json()["data"]["plans"]] == [
        "starter",
        "professional",
        "enterprise",
    ]


async def test_database_outage_is_a_coded_error(demo, gql: GraphQLClient, monkeypatch):
    from pymongo.errors import ServerSelectionTimeoutError

    async def down(self, slug):
        raise ServerSelectionTimeoutError("no primary")

    monkeypatch.setattr("tenancy.platform.PlatformStore.tenant_by_slug", down)
    demo.registry.invalidate()
    result = await gql("{ services { code } }", tenant="west-nipt")
    assert error_codes(result) == ["DATABASE_UNAVAILABLE"]
    assert "no primary" not in str(result)

    async def broken(self, *, include_inactive: bool):
        raise ServerSelectionTimeoutError("no primary")

    monkeypatch.undo()
    monkeypatch.setattr(CatalogService, "services", broken)
    result = await gql("{ services { code } }", tenant="west-nipt")
    assert error_codes(result) == ["DATABASE_UNAVAILABLE"]
