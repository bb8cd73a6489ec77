"""One error vocabulary: every code of ``tenancy/errors.py`` reaches its audience as declared.

Each ``ErrorCode`` declares its level (request, payload, operator), its
HTTP status for GraphQL over HTTP and a description. This module checks the
declaration itself, the consumers that read it (the HTTP status map,
HTTP-level refusals, ``mutation_payload``, ``format_error``, the GraphQL
enum, README's table), and then walks EVERY code with a producer of its
own, end to end:

- a code with an HTTP status: a real HTTP request with ``Accept:
  application/graphql-response+json`` answered with that status, no
  ``data`` and that code;
- a request-level code without a status: an HTTP request where it is
  raised while resolving a field (200, the error at the field's path, not
  in ``userErrors``);
- a payload-level code: a real mutation whose payload carries it in
  ``userErrors``;
- an operator-level code: ``tenantctl`` printing it as one ``CODE:
  message`` line (or, where the CLI reports it in a report, the report's
  code).

Where no real request can produce a code in a test, its producer says why
and stages the failure closest to the real one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from bson import ObjectId
from click.testing import Result
from graphql import GraphQLError
from pydantic import SecretStr
from pymongo.errors import DocumentTooLarge
from typer.testing import CliRunner

import tenancy.clients as clients_module
from domain.customers import CustomerService
from domain.documents import ServiceDocument
from graphql_api.app import create_app
from graphql_api.demo import (
    DEMO_PASSWORD,
    DEMO_TENANTS,
    SUPER_ADMIN_EMAIL,
    _seed_tenant,
    next_holiday,
)
from graphql_api.errors import REQUEST_LEVEL_CODES, error_body, format_error, mutation_payload
from graphql_api.rate_limit import TenantRateLimiter
from graphql_api.schema import schema as served_schema
from graphql_api.types.common import UserError
from migrations.runtime import build_runtime
from scripts.cli import app as cli_app
from tenancy import lifecycle
from tenancy.clients import ClientRegistry
from tenancy.errors import (
    AppError,
    CodeInfo,
    ErrorCode,
    Level,
    code_for_http_status,
    error_table,
    http_status_of,
)
from tenancy.models import DatabaseLocation, TenantStatus, utcnow
from tenancy.runtime import Runtime
from tests.backends import Backend
from tests.conftest import GraphQLClient, error_codes
from tests.snapshots import seeded

# The driver's own client factory, kept before the mock leg replaces it: the
# outage producer needs a real client that finds no server.
REAL_OPEN_CLIENT = clients_module.open_client

GRAPHQL_RESPONSE = "application/graphql-response+json"
README = Path(__file__).parent.parent / "README.md"
SLUG = "west-nipt"
SERVICES = {"query": "{ services { code } }"}


# -- the declaration -----------------------------------------------------------

# The GraphQL-over-HTTP statuses are a public contract: changing one must
# change this test too. Every code not listed declares none.
CONTRACT_STATUS = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.TENANT_INACTIVE: 403,
    ErrorCode.TENANT_NOT_FOUND: 404,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.DATABASE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.GRAPHQL_PARSE_FAILED: 400,
    ErrorCode.GRAPHQL_VALIDATION_FAILED: 400,
    ErrorCode.VALIDATION_FAILED: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.QUERY_TOO_COSTLY: 400,
    ErrorCode.PERSISTED_QUERY_NOT_FOUND: 404,
    ErrorCode.PERSISTED_QUERY_NOT_ALLOWED: 403,
}


def test_every_code_is_declared_once_with_level_status_and_description():
    assert list(ErrorCode.__members__) == [code.name for code in ErrorCode], "no aliases"
    for code in ErrorCode:
        assert code.value == code.name
        assert isinstance(code.info, CodeInfo)
        assert code.info.level in Level
        description = code.info.description
        assert description.endswith(".") and "\n" not in description, code
        assert len(description) <= 200, code
        status = code.info.http_status
        assert status is None or 400 <= status <= 599, code
        assert not code.info.http_refusal or status is not None, code
    assert ErrorCode("LOCKED") is ErrorCode.LOCKED


def test_http_statuses_are_the_published_contract():
    declared = {code: code.info.http_status for code in ErrorCode if code.info.http_status}
    assert declared == CONTRACT_STATUS


def test_request_level_codes_are_read_from_the_declaration():
    assert {code for code in ErrorCode if code.info.level is Level.REQUEST} == REQUEST_LEVEL_CODES
    # Operator codes are those only tenantctl reports.
    assert {code for code in ErrorCode if code.info.level is Level.OPERATOR} == {
        ErrorCode.TARGET_NOT_EMPTY,
        ErrorCode.MANIFEST_INVALID,
        ErrorCode.VERIFICATION_FAILED,
        ErrorCode.MIGRATION_LOCKED,
        ErrorCode.MIGRATION_FAILED,
        ErrorCode.MIGRATION_INVALID,
        ErrorCode.MIGRATION_UNKNOWN,
        ErrorCode.MIGRATION_IRREVERSIBLE,
        ErrorCode.CHECKSUM_MISMATCH,
    }


def test_status_lookups_both_ways():
    for code in ErrorCode:
        assert http_status_of(code) == (code.info.http_status or 400)
        assert http_status_of(str(code)) == http_status_of(code)
    assert http_status_of(None) == 400
    assert http_status_of("NOT_A_CODE") == 400
    # A refusal that carries only its status (Strawberry's own, the body limit's).
    assert code_for_http_status(404) is ErrorCode.NOT_FOUND
    assert code_for_http_status(413) is ErrorCode.PAYLOAD_TOO_LARGE
    for status in (400, 405, 415, 422):
        assert code_for_http_status(status) is ErrorCode.BAD_REQUEST
    refusal_statuses = [c.info.http_status for c in ErrorCode if c.info.http_refusal]
    assert len(refusal_statuses) == len(set(refusal_statuses)), "one code per bare status"


def test_the_graphql_enum_lists_every_code_in_order_with_its_description():
    enum = served_schema._schema.type_map["ErrorCode"]
    assert list(enum.values) == [code.value for code in ErrorCode]
    for code in ErrorCode:
        assert enum.values[code.value].description == code.info.description


def test_readme_error_table_is_generated_from_the_declaration():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- error-table:[^\n]*-->\n(.*?)\n<!-- /error-table -->", text, re.S)
    assert found, "README.md lost its error table markers"
    assert found[1] == error_table(), "README is stale: paste `python -m tenancy.errors`"
    for code in ErrorCode:
        assert f"| `{code}` |" in found[1]


# -- formatting in one place ---------------------------------------------------


@pytest.mark.parametrize("code", list(ErrorCode))
def test_format_error_gives_every_code_its_extensions(code: ErrorCode):
    error = AppError(code, "what to do", field=["input", "x"], details={"retryAfter": 3})
    formatted = format_error(GraphQLError("raw", path=["f"], original_error=error))
    assert formatted.message == "what to do"
    assert formatted.extensions == {"code": str(code), "field": ["input", "x"], "retryAfter": 3}


def test_error_bodies_of_http_refusals_are_made_by_format_error():
    body = error_body(ErrorCode.PAYLOAD_TOO_LARGE, "too big", limit=1024)
    assert body == {
        "errors": [
            {"message": "too big", "extensions": {"code": "PAYLOAD_TOO_LARGE", "limit": 1024}}
        ]
    }


@dataclass
class _Payload:
    user_errors: list[UserError]
    ok: bool = False


@pytest.mark.parametrize("code", list(ErrorCode))
async def test_mutation_payload_follows_each_codes_level(code: ErrorCode):
    async def fails() -> _Payload:
        raise AppError(code, "refused", field=["input", "x"])

    if code.info.level is Level.REQUEST:
        with pytest.raises(AppError) as raised:
            await mutation_payload(_Payload, fails)
        assert raised.value.code is code
    else:
        payload = await mutation_payload(_Payload, fails)
        assert [(e.code, e.field, e.message) for e in payload.user_errors] == [
            (code, ["input", "x"], "refused")
        ]


# -- end to end: the API -------------------------------------------------------


@dataclass
class World:
    """The demo tenant west-nipt (admin token ``admin``) and a super-admin (``root``)."""

    runtime: Runtime
    http: httpx.AsyncClient
    gql: GraphQLClient
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path
    backend: Backend
    admin: str
    root: str

    async def post(
        self,
        body: dict[str, Any] | bytes,
        *,
        tenant: str | None = SLUG,
        headers: dict[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """POST ``body`` as a GraphQL-over-HTTP client does."""
        path = f"/t/{tenant}/graphql" if tenant else "/graphql"
        sent = {"accept": GRAPHQL_RESPONSE, "content-type": "application/json", **(headers or {})}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await (http or self.http).post(path, content=content, headers=sent)

    async def mutate(self, query: str, token: str | None = None, **variables: Any) -> Any:
        """The payload of a one-field mutation (asserting no GraphQL error)."""
        result = await self.gql(query, variables, tenant=SLUG, token=token or self.admin)
        assert "errors" not in result, result
        [payload] = result["data"].values()
        return payload

    async def ids(self) -> dict[str, str]:
        """Ids of a service, a location and a customer of west-nipt."""
        found = await self.gql(
            "{ services { id } locations { id } customers(first: 1) { nodes { id } } }",
            tenant=SLUG,
            token=self.admin,
        )
        data = found["data"]
        return {
            "serviceId": data["services"][0]["id"],
            "locationId": data["locations"][0]["id"],
            "customerId": data["customers"]["nodes"][0]["id"],
        }


@pytest.fixture
async def world(
    runtime: Runtime,
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    backend: Backend,
) -> World:

    async def seed() -> None:
        await _seed_tenant(runtime, DEMO_TENANTS[0])
        await lifecycle.create_super_admin(
            runtime, email=SUPER_ADMIN_EMAIL, name="Root", password=DEMO_PASSWORD, actor="test"
        )

    await seeded(runtime, "west-nipt and the super-admin", seed)
    return World(
        runtime=runtime,
        http=client,
        gql=gql,
        monkeypatch=monkeypatch,
        tmp_path=tmp_path,
        backend=backend,
        admin=await gql.token(SLUG),
        root=await gql.token(None),
    )


@asynccontextmanager
async def _http(app: Any):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
        yield c


# Producers of the codes that refuse a request before execution.


async def _tenant_not_found(w: World) -> httpx.Response:
    return await w.post(SERVICES, tenant="nobody-here")


async def _tenant_inactive(w: World) -> httpx.Response:
    await lifecycle.set_tenant_status(
        w.runtime, SLUG, TenantStatus.SUSPENDED, "payment failed", "test"
    )
    return await w.post(SERVICES)


async def _unauthenticated(w: World) -> httpx.Response:
    return await w.post(SERVICES, headers={"authorization": "Bearer x.y.z"})


async def _forbidden(w: World) -> httpx.Response:
    return await w.post(SERVICES, headers={"x-tenant": "tromb-screening"})


async def _rate_limited(w: World) -> httpx.Response:
    tenant = await w.runtime.store.tenant_by_slug(SLUG)
    assert tenant is not None
    await w.runtime.store.update_tenant(tenant.id, {"limits.api_rate_limit_per_minute": 1})
    w.runtime.registry.invalidate(SLUG)
    settings = w.runtime.settings.model_copy(update={"rate_limit_enabled": True})
    async with _http(create_app(settings=settings, runtime=w.runtime)) as http:
        assert (await w.post(SERVICES, http=http)).status_code == 200
        refused = await w.post(SERVICES, http=http)
    assert int(refused.headers["retry-after"]) >= 1
    return refused


async def _database_unavailable(w: World) -> httpx.Response:
    # A real client that finds no server (nothing listens on port 9 of this
    # host), waiting 100 ms instead of the driver's 30 s.
    w.monkeypatch.setattr(clients_module, "open_client", REAL_OPEN_CLIENT)
    settings = w.runtime.settings.model_copy(update={"mongodb_url": "mongodb://127.0.0.1:9/"})
    clients = ClientRegistry(settings.cluster_urls(), {"serverSelectionTimeoutMS": 100})
    down = build_runtime(settings, clients)
    try:
        async with _http(create_app(settings=settings, runtime=down)) as http:
            return await w.post(SERVICES, http=http)
    finally:
        await down.close()


async def _internal_error(w: World) -> httpx.Response:
    # Staged: no correct request fails unexpectedly. The closest real case is
    # the rate limit's shared storage (APP_RATE_LIMIT_STORAGE, e.g. Redis)
    # failing while the tenant is resolved; its failure is raised here.
    async def storage_down(self: TenantRateLimiter, tenant: Any, client: Any) -> None:
        raise ConnectionRefusedError("redis://limits.internal:6379 refused the connection")

    w.monkeypatch.setattr(TenantRateLimiter, "hit", storage_down)
    settings = w.runtime.settings.model_copy(update={"rate_limit_enabled": True})
    async with _http(create_app(settings=settings, runtime=w.runtime)) as http:
        response = await w.post(SERVICES, http=http)
    assert "redis" not in response.text  # logged, never shown
    return response


async def _bad_request(w: World) -> httpx.Response:
    return await w.post(b'{"query": ')


async def _parse_failed(w: World) -> httpx.Response:
    return await w.post({"query": "{ services { code "})


async def _validation_failed_graphql(w: World) -> httpx.Response:
    return await w.post({"query": "{ nope }"})


async def _validation_failed(w: World) -> httpx.Response:
    body = '{"query": "query($n: String) { services { code } }", "variables": {"n": "A\\ud800"}}'
    return await w.post(body.encode())


async def _not_found(w: World) -> httpx.Response:
    # A browser asking for GraphiQL, which is switched off outside development.
    assert not w.runtime.settings.graphiql_enabled
    return await w.http.get(
        f"/t/{SLUG}/graphql", headers={"accept": f"text/html, {GRAPHQL_RESPONSE}"}
    )


async def _payload_too_large(w: World) -> httpx.Response:
    return await w.post(b" " * (w.runtime.settings.max_body_bytes + 1))


async def _query_too_costly(w: World) -> httpx.Response:
    # A connection costs `first` times its nodes: 1 + 60 x 1 = 61 > 50.
    settings = w.runtime.settings.model_copy(update={"max_query_cost": 50})
    query = "{ customers(first: 60) { nodes { id } } }"
    async with _http(create_app(settings=settings, runtime=w.runtime)) as http:
        return await w.post(
            {"query": query}, http=http, headers={"authorization": f"Bearer {w.admin}"}
        )


async def _persisted_query_not_found(w: World) -> httpx.Response:
    hash_only = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    return await w.post({"extensions": hash_only})


async def _persisted_query_not_allowed(w: World) -> httpx.Response:
    settings = w.runtime.settings.model_copy(update={"persisted_queries_safelist": True})
    async with _http(create_app(settings=settings, runtime=w.runtime)) as http:
        return await w.post(SERVICES, http=http)


HTTP_PRODUCERS: dict[ErrorCode, Callable[[World], Awaitable[httpx.Response]]] = {
    ErrorCode.TENANT_NOT_FOUND: _tenant_not_found,
    ErrorCode.TENANT_INACTIVE: _tenant_inactive,
    ErrorCode.UNAUTHENTICATED: _unauthenticated,
    ErrorCode.FORBIDDEN: _forbidden,
    ErrorCode.RATE_LIMITED: _rate_limited,
    ErrorCode.DATABASE_UNAVAILABLE: _database_unavailable,
    ErrorCode.INTERNAL_ERROR: _internal_error,
    ErrorCode.BAD_REQUEST: _bad_request,
    ErrorCode.GRAPHQL_PARSE_FAILED: _parse_failed,
    ErrorCode.GRAPHQL_VALIDATION_FAILED: _validation_failed_graphql,
    ErrorCode.VALIDATION_FAILED: _validation_failed,
    ErrorCode.NOT_FOUND: _not_found,
    ErrorCode.PAYLOAD_TOO_LARGE: _payload_too_large,
    ErrorCode.QUERY_TOO_COSTLY: _query_too_costly,
    ErrorCode.PERSISTED_QUERY_NOT_FOUND: _persisted_query_not_found,
    ErrorCode.PERSISTED_QUERY_NOT_ALLOWED: _persisted_query_not_allowed,
}


@pytest.mark.parametrize("code", list(HTTP_PRODUCERS), ids=str)
async def test_each_code_with_a_status_refuses_a_real_request_with_it(
    world: World, code: ErrorCode
):
    response = await HTTP_PRODUCERS[code](world)
    assert response.status_code == code.info.http_status, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body
    assert error_codes(body) == [code]
    assert body["errors"][0]["message"]


async def test_an_unexpected_failure_before_execution_is_logged_and_coded(
    world: World, caplog: pytest.LogCaptureFixture
):
    """Regression: an exception escaping the tenant/token resolution (here the rate
    limit's storage) went past the GraphQL view as a plain-text 500."""
    with caplog.at_level(logging.ERROR, logger="graphql_api.errors"):
        response = await _internal_error(world)
    assert response.status_code == 500
    assert error_codes(response.json()) == ["INTERNAL_ERROR"]
    [record] = [r for r in caplog.records if r.exc_info]
    assert isinstance(record.exc_info[1], ConnectionRefusedError)
    # application/json clients get the same error with 200, as for any request error.
    async with _http(
        create_app(
            settings=world.runtime.settings.model_copy(update={"rate_limit_enabled": True}),
            runtime=world.runtime,
        )
    ) as http:
        legacy = await http.post(f"/t/{SLUG}/graphql", json=SERVICES)
    assert legacy.status_code == 200
    assert error_codes(legacy.json()) == ["INTERNAL_ERROR"]


# Request-level codes raised while resolving a field: 200, the error at its path.

CREATE_CUSTOMER = """mutation($name: String!, $email: String) {
  createCustomer(input: {name: $name, email: $email}) {
    customer { id } userErrors { field code message } } }"""


async def _tenant_required(w: World) -> httpx.Response:
    return await w.post(SERVICES, tenant=None)


async def _tenant_maintenance(w: World) -> httpx.Response:
    await lifecycle.enter_maintenance(w.runtime, SLUG, "copy to eu-2", "test")
    body = {"query": CREATE_CUSTOMER, "variables": {"name": "Ayse"}}
    return await w.post(body, headers={"authorization": f"Bearer {w.admin}"})


FIELD_PRODUCERS: dict[ErrorCode, Callable[[World], Awaitable[httpx.Response]]] = {
    ErrorCode.TENANT_REQUIRED: _tenant_required,
    ErrorCode.TENANT_MAINTENANCE: _tenant_maintenance,
}


@pytest.mark.parametrize("code", list(FIELD_PRODUCERS), ids=str)
async def test_each_request_code_without_a_status_is_a_field_error(world: World, code: ErrorCode):
    response = await FIELD_PRODUCERS[code](world)
    assert response.status_code == 200, response.text
    body = response.json()
    assert error_codes(body) == [code]
    assert body["errors"][0]["path"], "raised while resolving a field"
    assert "userErrors" not in response.text  # request level: never a userError


# Payload-level codes: a mutation's userErrors.

LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { token userErrors { field code message } } }"""
DELETE_CUSTOMER = """mutation($id: ID!) {
  deleteCustomer(id: $id) { customer { id } userErrors { field code message } } }"""
CREATE_BOOKING = """mutation($input: CreateBookingInput!) { createBooking(input: $input) {
  booking { id confirmationNumber } userErrors { field code message } } }"""
REACTIVATE = """mutation($slug: String!) {
  reactivateTenant(slug: $slug) { tenant { slug } userErrors { field code message } } }"""
DELETE_TENANT = """mutation($slug: String!) {
  deleteTenant(slug: $slug, confirmSlug: $slug) { steps { name } userErrors { field code message } }
}"""


async def _invalid_credentials(w: World) -> Any:
    return await w.mutate(LOGIN, email=f"admin@{SLUG}.example.com", password="wrong password")


async def _validation_failed_input(w: World) -> Any:
    return await w.mutate(CREATE_CUSTOMER, name="Ayse", email="not an email")


async def _record_not_found(w: World) -> Any:
    return await w.mutate(DELETE_CUSTOMER, id=str(ObjectId()))


async def _already_exists(w: World) -> Any:
    first = await w.mutate(CREATE_CUSTOMER, name="Ayse", email="ayse@example.com")
    assert first["userErrors"] == []
    return await w.mutate(CREATE_CUSTOMER, name="Ayse Y", email="AYSE@example.com")


async def _plan_limit_exceeded(w: World) -> Any:
    tenant = await w.runtime.store.tenant_by_slug(SLUG)
    assert tenant is not None
    customers = await w.runtime.tenant_database(tenant)["customers"].count_documents({})
    await w.runtime.store.update_tenant(tenant.id, {"limits.max_customers": customers})
    w.runtime.registry.invalidate(SLUG)
    return await w.mutate(CREATE_CUSTOMER, name="One too many")


async def _invalid_transition(w: World) -> Any:
    return await w.mutate(REACTIVATE, token=w.root, slug=SLUG)  # it is active


def _open_day() -> date:
    """A day next week on which west-nipt's demo locations are open (Mon-Sat, not a holiday)."""
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Istanbul")).date()
    day = today + timedelta(days=7)
    while day.weekday() == 6 or day == next_holiday(today):
        day += timedelta(days=1)
    return day


def _booking(ids: dict[str, str], key: str, hour: int) -> dict[str, Any]:
    starts = f"{_open_day().isoformat()}T{hour:02d}:00:00+03:00"  # inside the demo's hours
    return {**ids, "startsAt": starts, "idempotencyKey": key}


async def _slot_taken(w: World) -> Any:
    ids = await w.ids()
    assert (await w.mutate(CREATE_BOOKING, input=_booking(ids, "k-1", 10)))["userErrors"] == []
    return await w.mutate(CREATE_BOOKING, input=_booking(ids, "k-2", 10))


async def _idempotency_key_reused(w: World) -> Any:
    ids = await w.ids()
    assert (await w.mutate(CREATE_BOOKING, input=_booking(ids, "k-1", 10)))["userErrors"] == []
    return await w.mutate(CREATE_BOOKING, input=_booking(ids, "k-1", 11))


async def _outside_availability(w: World) -> Any:
    return await w.mutate(CREATE_BOOKING, input=_booking(await w.ids(), "k-1", 20))  # closed


async def _too_soon(w: World) -> Any:
    soon = datetime.now(UTC) + timedelta(minutes=30)  # inside the demo's 2 h notice
    starts = soon.replace(minute=soon.minute - soon.minute % 5, second=0, microsecond=0)
    fields = {**await w.ids(), "startsAt": starts.isoformat()}
    return await w.mutate(CREATE_BOOKING, input=fields)


async def _too_far(w: World) -> Any:
    return await w.mutate(
        CREATE_BOOKING, input={**await w.ids(), "startsAt": "2030-03-18T10:00:00+03:00"}
    )  # beyond the demo's 90-day horizon


async def _locked(w: World) -> Any:
    await lifecycle.enter_maintenance(w.runtime, SLUG, "copy to eu-2", "another operator")
    return await w.mutate(DELETE_TENANT, token=w.root, slug=SLUG)


async def _backup_failed(w: World) -> Any:
    blocker = w.tmp_path / "a-file"
    blocker.write_text("not a directory")
    w.monkeypatch.setattr(w.runtime.settings, "backup_dir", blocker)
    return await w.mutate(DELETE_TENANT, token=w.root, slug=SLUG)


async def _document_too_large(w: World) -> Any:
    # Staged on the mock only: the 1 MiB body limit refuses any request that
    # could carry a 16 MiB record, so the service stores one itself; a server's
    # driver refuses it (DocumentTooLarge), the mock would store it.
    async def create(self: CustomerService, fields: Any) -> dict[str, Any]:
        if w.backend.is_mock:
            raise DocumentTooLarge("BSON document too large")
        await self.collection.insert_one({"blob": "x" * (17 * 1024 * 1024)})
        raise AssertionError("the driver should have refused this document")

    w.monkeypatch.setattr(CustomerService, "create", create)
    return await w.mutate(CREATE_CUSTOMER, name="Ayse")


CANCEL_BY_CUSTOMER = """mutation($n: String!, $e: String!) {
  cancelBookingByCustomer(confirmationNumber: $n, email: $e) {
    booking { status } userErrors { field code message } } }"""


async def _cancellation_window_closed(w: World) -> Any:
    # A booking an hour from now (a service without notice rules, no location);
    # the tenant's default window is 24 hours.
    tenant = await w.runtime.store.tenant_by_slug(SLUG)
    assert tenant is not None
    service = ServiceDocument(
        code="window", name="Window", duration_minutes=30, price_minor=0, currency="TRY"
    )
    await w.runtime.tenant_database(tenant)["services"].insert_one(service.to_mongo())
    at = (utcnow() + timedelta(hours=1)).replace(second=0, microsecond=0)
    at += timedelta(minutes=(-at.minute) % 5)
    customer = {"name": "Ayse", "email": "ayse@example.com"}
    booked = await w.gql(
        CREATE_BOOKING,
        {"input": {"serviceId": str(service.id), "startsAt": at.isoformat(), "customer": customer}},
        tenant=SLUG,
    )
    number = booked["data"]["createBooking"]["booking"]["confirmationNumber"]
    result = await w.gql(CANCEL_BY_CUSTOMER, {"n": number, "e": customer["email"]}, tenant=SLUG)
    return result["data"]["cancelBookingByCustomer"]


START_CHECKOUT = """mutation {
  startCheckout(planKey: "professional") { url userErrors { field code message } } }"""


async def _billing_disabled(w: World) -> Any:
    assert not w.runtime.settings.billing_enabled  # the default: no APP_STRIPE_SECRET_KEY
    return await w.mutate(START_CHECKOUT)


async def _billing_provider_failed(w: World) -> Any:
    # Stripe unreachable: billing configured against an address where nothing listens.
    settings = w.runtime.settings.model_copy(
        update={
            "stripe_secret_key": SecretStr("sk_test_x"),
            "stripe_api_base": "http://127.0.0.1:9",
            "stripe_max_network_retries": 0,
        }
    )
    async with _http(create_app(settings=settings, runtime=w.runtime)) as http:
        response = await w.post(
            {"query": START_CHECKOUT}, http=http, headers={"authorization": f"Bearer {w.admin}"}
        )
    return response.json()["data"]["startCheckout"]


# -- accounts (issue 11) --------------------------------------------------------

VERIFY_EMAIL = """mutation($link: String!) {
  verifyEmail(token: $link) { userErrors { field code message } } }"""
INVITE_USER = """mutation($input: InviteUserInput!) {
  inviteUser(input: $input) { userErrors { field code message } } }"""
CHANGE_USER_ROLE = """mutation($id: ID!, $role: Role!) {
  changeUserRole(userId: $id, role: $role) { userErrors { field code message } } }"""


async def _token_invalid(w: World) -> Any:
    return await w.mutate(VERIFY_EMAIL, link="not-a-signed-link")


async def _admin_user(w: World) -> Any:
    tenant = await w.runtime.store.tenant_by_slug(SLUG)
    assert tenant is not None
    user = await w.runtime.store.user_by_email(tenant.id, f"admin@{SLUG}.example.com")
    assert user is not None
    return user


async def _email_not_verified(w: World) -> Any:
    admin = await _admin_user(w)
    await w.runtime.store.change_user(admin.id, {"email_verified": False})
    invite = {"email": "new@example.com", "name": "New", "role": "STAFF"}
    return await w.mutate(INVITE_USER, input=invite)


async def _last_admin(w: World) -> Any:
    admin = await _admin_user(w)
    return await w.mutate(CHANGE_USER_ROLE, id=str(admin.id), role="STAFF")


MUTATION_PRODUCERS: dict[ErrorCode, Callable[[World], Awaitable[Any]]] = {
    ErrorCode.INVALID_CREDENTIALS: _invalid_credentials,
    ErrorCode.VALIDATION_FAILED: _validation_failed_input,
    ErrorCode.NOT_FOUND: _record_not_found,
    ErrorCode.ALREADY_EXISTS: _already_exists,
    ErrorCode.PLAN_LIMIT_EXCEEDED: _plan_limit_exceeded,
    ErrorCode.INVALID_TRANSITION: _invalid_transition,
    ErrorCode.SLOT_TAKEN: _slot_taken,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: _idempotency_key_reused,
    ErrorCode.LOCKED: _locked,
    ErrorCode.BACKUP_FAILED: _backup_failed,
    ErrorCode.PAYLOAD_TOO_LARGE: _document_too_large,
    ErrorCode.OUTSIDE_AVAILABILITY: _outside_availability,
    ErrorCode.TOO_SOON: _too_soon,
    ErrorCode.TOO_FAR: _too_far,
    ErrorCode.CANCELLATION_WINDOW_CLOSED: _cancellation_window_closed,
    ErrorCode.BILLING_DISABLED: _billing_disabled,
    ErrorCode.BILLING_PROVIDER_FAILED: _billing_provider_failed,
    # Accounts (issue 11).
    ErrorCode.TOKEN_INVALID: _token_invalid,
    ErrorCode.EMAIL_NOT_VERIFIED: _email_not_verified,
    ErrorCode.LAST_ADMIN: _last_admin,
}


@pytest.mark.parametrize("code", list(MUTATION_PRODUCERS), ids=str)
async def test_each_payload_code_is_a_user_error_of_a_real_mutation(world: World, code: ErrorCode):
    payload = await MUTATION_PRODUCERS[code](world)
    assert [error["code"] for error in payload["userErrors"]] == [code], payload
    assert payload["userErrors"][0]["message"]


# -- end to end: tenantctl -----------------------------------------------------

OWNER = [
    "--name",
    "Acme Dental",
    "--owner-email",
    "owner@acme-dental.com",
    "--owner-name",
    "Ada",
    "--owner-password",
    "correct horse battery",
]
ACME_DB = "t_acme-dental"


@dataclass
class Operator:
    """Runs tenantctl against the test's backend, and writes to it directly."""

    backend: Backend
    monkeypatch: pytest.MonkeyPatch
    tmp_path: Path

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(cli_app, list(args))

    def insert(self, database: str, collection: str, *docs: dict[str, Any]) -> None:
        async def insert() -> None:
            client = clients_module.open_client(self.backend.url())
            try:
                await client[database][collection].insert_many(list(docs))
            finally:
                await client.close()

        asyncio.run(insert())

    def provision(self) -> Result:
        return self("tenants", "provision", "acme-dental", *OWNER)


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: Backend) -> Operator:
    monkeypatch.setenv("APP_EMBEDDED_DIR", str(tmp_path / "embedded"))
    monkeypatch.setenv("APP_MONGODB_URL", backend.url())
    monkeypatch.setenv("APP_TENANT_CACHE_TTL_SECONDS", "0")
    return Operator(backend, monkeypatch, tmp_path)


def one_coded_line(result: Result, code: ErrorCode) -> str:
    """The failure was one ``CODE: message`` line on stderr, no traceback, exit 1."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{code}: ") and len(lines[0]) > len(f"{code}: "), lines[0]
    return lines[0]


def _target_not_empty(op: Operator) -> Result:
    op.insert("src", "things", {"_id": 1})
    op.insert("dst", "things", {"_id": 2})
    return op("copy", "src", "dst")


def _manifest_invalid(op: Operator) -> Result:
    assert op.provision().exit_code == 0
    dump = op.tmp_path / "dump"
    dump.mkdir()
    (dump / "manifest.json").write_text('{"format": "something else"}')
    return op("import", str(dump), "acme-dental")


class _CorruptingCollection:
    """A transport that changes one field of the first document of every batch."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def insert_many(self, documents: Any, *args: Any, **kwargs: Any) -> Any:
        docs = [dict(d) for d in documents]
        docs[0]["n"] = -1
        return await self._collection.insert_many(docs, *args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._collection, attr)


class _CorruptingDatabase:
    def __init__(self, db: Any) -> None:
        self._db = db

    def __getitem__(self, name: str) -> _CorruptingCollection:
        return _CorruptingCollection(self._db[name])

    def get_collection(self, name: str, **_: Any) -> _CorruptingCollection:
        return self[name]

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._db, attr)


def _verification_failed(op: Operator) -> Result:
    # Staged: a copy differs from its source only when something between them
    # changes the data (a faulty transport or disk); the target is wrapped in one.
    op.insert("src", "things", {"_id": 1, "n": 1}, {"_id": 2, "n": 2})
    real = ClientRegistry.database

    def database(self: ClientRegistry, location: DatabaseLocation) -> Any:
        db = real(self, location)
        return _CorruptingDatabase(db) if location.name == "dst" else db

    op.monkeypatch.setattr(ClientRegistry, "database", database)
    return op("copy", "src", "dst", "--json")


def _lock_held(op: Operator) -> Result:
    now = utcnow()
    lock = {"_id": "migrate", "owner": "runner-b@other-host:42:abcd", "acquired_at": now}
    op.insert(ACME_DB, "_migration_lock", {**lock, "expires_at": now + timedelta(minutes=10)})
    return op.provision()


def _migration_fails(op: Operator) -> Result:
    # Two services with one code: the first migration's unique index cannot be built.
    op.insert(ACME_DB, "services", {"code": "same"}, {"code": "same"})
    return op.provision()


def _ledger_entry(migration_id: str, checksum: str) -> dict[str, Any]:
    return {
        "_id": migration_id,
        "checksum": checksum,
        "description": "",
        "scope": "tenant",
        "applied_at": utcnow(),
        "duration_ms": 1,
        "by": "someone",
        "owner": "someone",
    }


def _migration_unknown(op: Operator) -> Result:
    op.insert(ACME_DB, "_migrations", _ledger_entry("9999_from_a_newer_release", "0" * 64))
    return op.provision()


def _checksum_mismatch(op: Operator) -> Result:
    op.insert(ACME_DB, "_migrations", _ledger_entry("0001_initial_schema", "0" * 64))
    return op.provision()


def _migration_invalid(op: Operator) -> Result:
    # Staged: a malformed migration module is a defect of the code base, so
    # the tenant scope is pointed at a package that holds one.
    from migrations import registry

    package = op.tmp_path / "broken_tenant_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "m1_missing_digits.py").write_text("DESCRIPTION = 'x'\n")
    op.monkeypatch.syspath_prepend(str(op.tmp_path))
    op.monkeypatch.setitem(registry.SCOPE_PACKAGES, registry.MigrationScope.TENANT, package.name)
    registry.default_registry.cache_clear()
    try:
        return op("migrate", "status")
    finally:
        registry.default_registry.cache_clear()


def _migration_irreversible(op: Operator) -> ErrorCode | None:
    # Not reachable through tenantctl: it has no rollback command. The
    # runner's rollback refuses to pass a migration without a down step.
    from migrations.database import rollback_database
    from migrations.registry import discover

    assert op.provision().exit_code == 0
    steps = len(discover("tenant"))  # all of them: 0001 has no down step

    async def rollback() -> ErrorCode | None:
        client = clients_module.open_client(op.backend.url())
        try:
            result = await rollback_database(client[ACME_DB], "tenant", actor="test", steps=steps)
        finally:
            await client.close()
        return result.error.code if result.error else None

    return asyncio.run(rollback())


OPERATOR_PRODUCERS: dict[ErrorCode, Callable[[Operator], Result | ErrorCode | None]] = {
    ErrorCode.TARGET_NOT_EMPTY: _target_not_empty,
    ErrorCode.MANIFEST_INVALID: _manifest_invalid,
    ErrorCode.VERIFICATION_FAILED: _verification_failed,
    ErrorCode.MIGRATION_LOCKED: _lock_held,
    ErrorCode.MIGRATION_FAILED: _migration_fails,
    ErrorCode.MIGRATION_INVALID: _migration_invalid,
    ErrorCode.MIGRATION_UNKNOWN: _migration_unknown,
    ErrorCode.MIGRATION_IRREVERSIBLE: _migration_irreversible,
    ErrorCode.CHECKSUM_MISMATCH: _checksum_mismatch,
}


@pytest.mark.parametrize("code", list(OPERATOR_PRODUCERS), ids=str)
def test_each_operator_code_is_reported_by_tenantctl(operator: Operator, code: ErrorCode):
    outcome = OPERATOR_PRODUCERS[code](operator)
    if outcome is None or isinstance(outcome, ErrorCode):  # the runner's API (the producer)
        assert outcome is code
    elif code is ErrorCode.VERIFICATION_FAILED:
        # A copy reports per collection; its JSON report carries the code.
        # (The text report's table shows the message only: see the report.)
        assert outcome.exit_code == 1, outcome.output
        report = json.loads(outcome.stdout)
        assert [c["error"]["code"] for c in report["collections"]] == [code]
    else:
        one_coded_line(outcome, code)


# -- every code has its producer ----------------------------------------------


def test_every_code_has_a_producer_for_its_level_and_status():
    with_status = {code for code in ErrorCode if code.info.http_status is not None}
    assert set(HTTP_PRODUCERS) == with_status
    assert set(FIELD_PRODUCERS) == REQUEST_LEVEL_CODES - with_status
    assert set(MUTATION_PRODUCERS) == {c for c in ErrorCode if c.info.level is Level.PAYLOAD}
    assert set(OPERATOR_PRODUCERS) == {c for c in ErrorCode if c.info.level is Level.OPERATOR}
    covered = {*HTTP_PRODUCERS, *FIELD_PRODUCERS, *MUTATION_PRODUCERS, *OPERATOR_PRODUCERS}
    assert covered == set(ErrorCode)
