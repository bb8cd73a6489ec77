"""What a real server refuses becomes a coded error on both legs, never INTERNAL_ERROR.

On the wire leg these failures are real (the driver's BSON encoder, the
server's limits); on the mock leg, which accepts such values, the test
raises the same exception the driver raises, so both legs check the mapping.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo.errors import DocumentTooLarge, ExecutionTimeout, OperationFailure

from domain.customers import MAX_SEARCH_LENGTH, CustomerService
from tests.backends import Backend
from tests.conftest import GraphQLClient, error_codes

CREATE = """mutation($n: String!) {
  createCustomer(input: {name: $n}) { customer { id } userErrors { field code message } } }"""


async def customer_count(demo) -> int:
    tenant = await demo.store.tenant_by_slug("west-nipt")
    return await demo.tenant_database(tenant)["customers"].count_documents({})


@pytest.mark.parametrize(
    "body",
    [
        '{"query": %s, "variables": {"n": "Ay\\ud800se"}}',
        '{"query": %s, "variables": {"n": "Ayse", "\\udfff": 1}}',
    ],
    ids=["value", "key"],
)
async def test_lone_surrogates_are_refused_before_anything_runs(
    demo, client: httpx.AsyncClient, gql: GraphQLClient, body: str
):
    import json

    before = await customer_count(demo)
    token = await gql.token("west-nipt")
    response = await client.post(
        "/t/west-nipt/graphql",
        content=body % json.dumps(CREATE),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["VALIDATION_FAILED"]
    assert "surrogate" in response.json()["errors"][0]["message"]
    assert await customer_count(demo) == before


async def test_overlong_search_is_a_validation_error(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")
    query = "query($s: String) { customers(filter: {search: $s}) { totalCount } }"
    ok = await gql(query, {"s": "(*" * (MAX_SEARCH_LENGTH // 2)}, tenant="west-nipt", token=token)
    assert ok["data"]["customers"]["totalCount"] == 0  # metacharacters are escaped
    long = await gql(query, {"s": "a" * (MAX_SEARCH_LENGTH + 1)}, tenant="west-nipt", token=token)
    assert error_codes(long) == ["VALIDATION_FAILED"]
    assert long["errors"][0]["extensions"]["field"] == ["filter", "search"]


def _store(document: dict[str, Any], mock_error: Exception, backend: Backend):
    """A ``CustomerService.create`` that writes ``document`` as it is."""

    async def create(self: CustomerService, fields: Any) -> dict[str, Any]:
        if backend.is_mock:
            raise mock_error  # the mock would store it; a server's driver refuses
        await self.collection.insert_one(document)
        raise AssertionError("the driver should have refused this document")

    return create


@pytest.mark.parametrize(
    ("document", "mock_error", "code"),
    [
        (
            {"big": 2**70},
            OverflowError("MongoDB can only handle up to 8-byte ints"),
            "VALIDATION_FAILED",
        ),
        (
            {"text": "a\ud800"},
            UnicodeEncodeError("utf-8", "a\ud800", 1, 2, "surrogates"),
            "VALIDATION_FAILED",
        ),
        (
            {"blob": "x" * (17 * 1024 * 1024)},
            DocumentTooLarge("BSON document too large"),
            "PAYLOAD_TOO_LARGE",
        ),
    ],
    ids=["int-beyond-64-bits", "lone-surrogate", "over-16-mib"],
)
async def test_values_bson_cannot_hold_are_user_errors(
    demo, gql: GraphQLClient, monkeypatch, backend: Backend, document, mock_error, code
):
    monkeypatch.setattr(CustomerService, "create", _store(document, mock_error, backend))
    token = await gql.token("west-nipt")
    result = await gql(CREATE, {"n": "Ayse"}, tenant="west-nipt", token=token)
    errors = result["data"]["createCustomer"]["userErrors"]
    assert [e["code"] for e in errors] == [code], result


async def test_an_unexpected_duplicate_key_is_already_exists(demo, gql: GraphQLClient, monkeypatch):
    async def create(self: CustomerService, fields: Any) -> dict[str, Any]:
        await self.collection.insert_one({"_id": "twice"})
        await self.collection.insert_one({"_id": "twice"})
        raise AssertionError("unreachable")

    monkeypatch.setattr(CustomerService, "create", create)
    token = await gql.token("west-nipt")
    result = await gql(CREATE, {"n": "Ayse"}, tenant="west-nipt", token=token)
    assert [e["code"] for e in result["data"]["createCustomer"]["userErrors"]] == ["ALREADY_EXISTS"]


async def test_a_regex_the_server_refuses_is_a_validation_error(
    demo, gql: GraphQLClient, monkeypatch, backend: Backend
):
    async def page(self: CustomerService, *args: Any) -> Any:
        if backend.is_mock:
            raise OperationFailure("Regular expression is invalid", code=51091)
        await self.collection.count_documents({"name": {"$regex": "("}})
        raise AssertionError("the server should have refused this pattern")

    monkeypatch.setattr(CustomerService, "page", page)
    token = await gql.token("west-nipt")
    result = await gql("{ customers { totalCount } }", tenant="west-nipt", token=token)
    assert error_codes(result) == ["VALIDATION_FAILED"]


async def test_a_query_timeout_is_database_unavailable(demo, gql: GraphQLClient, monkeypatch):
    async def page(self: CustomerService, *args: Any) -> Any:
        raise ExecutionTimeout("operation exceeded time limit", code=50)

    monkeypatch.setattr(CustomerService, "page", page)
    token = await gql.token("west-nipt")
    result = await gql("{ customers { totalCount } }", tenant="west-nipt", token=token)
    assert error_codes(result) == ["DATABASE_UNAVAILABLE"]
    assert "Traceback" not in str(result)
