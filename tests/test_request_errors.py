"""Client mistakes are coded errors, never a 500 or INTERNAL_ERROR (hardening item 3).

Covers broken HTTP bodies (not JSON objects, invalid UTF-8, deep nesting,
oversize), forged cursors on every connection of the schema, and validly
signed JWTs whose claims have the wrong types.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from graphql import GraphQLNamedType, GraphQLObjectType, get_named_type

from graphql_api.app import create_app
from graphql_api.schema import schema as served_schema
from tests.conftest import GraphQLClient, error_codes

PLANS = '{"query": "{ plans { key } }"}'


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1]", "Batching"),
        (b'"a string"', "JSON object"),
        (b"42", "JSON object"),
        (b"null", "JSON object"),
        (b"\xff\xfe" + PLANS.encode(), "UTF-8"),
        (b'{"query": ', "not valid JSON"),
        (
            b'{"query": "{ plans { key } }", "variables": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
            "nested",
        ),
        (
            b'{"query": "{ plans { key } }", "variables": {"x": '
            + b'{"a":' * 40
            + b"1"
            + b"}" * 41
            + b"}",
            "nested",
        ),
        (b'{"query": 5}', "query"),
        (b'{"query": "{ plans { key } }", "variables": [1]}', "variables"),
    ],
)
async def test_broken_bodies_are_400_with_a_graphql_error(
    client: httpx.AsyncClient, body: bytes, message: str
):
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert "data" not in payload
    assert error_codes(payload) == ["BAD_REQUEST"]
    assert message in payload["errors"][0]["message"]


async def test_deeply_nested_get_variables_are_400(client: httpx.AsyncClient):
    variables = '{"x":' * 40 + "1" + "}" * 40
    response = await client.get(
        "/graphql", params={"query": "{ plans { key } }", "variables": variables}
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


async def test_unsupported_content_type_is_400_json(client: httpx.AsyncClient):
    response = await client.post("/graphql", content=PLANS, headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


async def test_oversize_body_is_413_before_the_body_is_read(client: httpx.AsyncClient, runtime):
    limit = runtime.settings.max_body_bytes
    body = PLANS.encode() + b" " * limit
    response = await client.post(
        "/graphql",
        content=body,
        headers={"content-type": "application/json", "accept": "application/graphql-response+json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert error_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]
    assert str(limit) in response.json()["errors"][0]["message"]


async def test_oversize_chunked_body_is_413(client: httpx.AsyncClient, runtime):
    limit = runtime.settings.max_body_bytes

    async def chunks():
        yield PLANS.encode()
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert error_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]


async def test_body_within_the_limit_is_served(client: httpx.AsyncClient, runtime):
    body = PLANS.encode() + b" " * (runtime.settings.max_body_bytes - len(PLANS) - 10)
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert len(response.json()["data"]["plans"]) == 3


# -- forged cursors on every connection ------------------------------------------

FORGED_CURSORS = [
    "not base64 at all!",
    _b64("not json"),
    _b64('{"a": 1, "b": 2}'),
    _b64('["only-a-name"]'),
    _b64("[1, 2]"),
    _b64('["CREATED_AT_DESC", [{"$oid": "zz"}]]'),
    _b64('["CREATED_AT_DESC", [{"$numberDecimal": "abc"}, {"$oid": "0" }]]'),
    _b64('["CREATED_AT_DESC", [{"$date": {"$numberLong": "999999999999999999999"}}]]'),
    _b64('["CREATED_AT_DESC", [{"$date": 1e300}, 1]]'),
    _b64('["CREATED_AT_DESC", [{"$date": -99999999999999}, 1]]'),
    _b64('["CREATED_AT_DESC", [{"$gt": ""}, {"$ne": null}]]'),
    _b64('["CREATED_AT_DESC", [[1], [2]]]'),
    _b64('["CREATED_AT_DESC", ["\\ud800", 1]]'),
    _b64('["CREATED_AT_DESC", [123456789012345678901234567890, 1]]'),
    _b64('["CREATED_AT_DESC", [true, false]]'),
    _b64("[" * 3000 + "]" * 3000),
    "A" * 5000,
]


def _connection_fields() -> list[str]:
    """Every root query field that returns a Relay connection (has ``after``)."""
    query_type = served_schema._schema.query_type
    names = []
    for name, field in query_type.fields.items():
        named: GraphQLNamedType = get_named_type(field.type)
        if "after" in field.args and isinstance(named, GraphQLObjectType):
            assert "pageInfo" in named.fields, name
            names.append(name)
    return names


def test_the_schema_has_the_connections_we_walk():
    assert set(_connection_fields()) >= {"tenants", "customers", "bookings"}


async def test_every_connection_refuses_forged_cursors(demo, gql: GraphQLClient):
    root = await gql.token(None)
    for field in _connection_fields():
        for cursor in FORGED_CURSORS:
            result = await gql(
                f"query($after: String) {{ {field}(first: 2, after: $after) {{ totalCount }} }}",
                {"after": cursor},
                token=root,
                tenant="west-nipt" if field != "tenants" else None,
            )
            assert error_codes(result) == ["VALIDATION_FAILED"], (field, cursor, result)
            assert result["errors"][0]["extensions"]["field"] == ["after"]


async def test_real_cursors_still_page(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")
    query = (
        "query($after: String) { customers(first: 2, after: $after) "
        "{ edges { node { id } } pageInfo { endCursor hasNextPage } } }"
    )
    first = (await gql(query, token=token, tenant="west-nipt"))["data"]["customers"]
    after = first["pageInfo"]["endCursor"]
    second = (await gql(query, {"after": after}, token=token, tenant="west-nipt"))["data"]
    ids = {e["node"]["id"] for e in first["edges"]} | {
        e["node"]["id"] for e in second["customers"]["edges"]
    }
    assert len(ids) == 4


# -- JWT claims of the wrong type -------------------------------------------------


def _token(settings, **claims) -> str:
    now = datetime.now(UTC)
    base = {
        "sub": "65a000000000000000000001",
        "role": "admin",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": settings.jwt_issuer,
    }
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not _DROP}
    return jwt.encode(base, settings.jwt_secret, algorithm="HS256")


_DROP = object()


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": ["65a000000000000000000001"]},
        {"sub": {"$oid": "65a000000000000000000001"}},
        {"sub": 12345},
        {"sub": "not-an-object-id"},
        {"role": ["admin"]},
        {"role": {"admin": True}},
        {"role": "emperor"},
        {"tenant": 5, "tid": "65a000000000000000000002"},
        {"tenant": "west-nipt", "tid": ["x"]},
        {"tenant": "west-nipt", "tid": "nope"},
        {"tenant": "west-nipt"},
        {"tenant": ["west-nipt"], "tid": "65a000000000000000000002"},
    ],
)
async def test_wrong_claim_types_are_unauthenticated(demo, gql: GraphQLClient, claims):
    token = _token(demo.settings, **claims)
    result = await gql("{ me { email } }", token=token)
    assert error_codes(result) == ["UNAUTHENTICATED"], result
    with_tenant = await gql("{ services { name } }", token=token, tenant="west-nipt")
    assert error_codes(with_tenant) == ["UNAUTHENTICATED"], with_tenant


async def test_body_limit_is_a_setting(runtime):
    settings = runtime.settings.model_copy(update={"max_body_bytes": 2048})
    app = create_app(settings=settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        body = json.dumps({"query": "{ plans { key } }", "variables": {"x": "y" * 3000}})
        response = await c.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
