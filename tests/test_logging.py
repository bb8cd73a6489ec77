"""Structured logs (issue 12, items 2 and 3): one JSON line per request with tenant, operation,
duration, status and error codes; the request id in every line; GraphQL errors logged with their
code, a traceback only for INTERNAL_ERROR; the access log off by default in production."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from domain.catalog import CatalogService
from graphql_api.app import create_app
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from graphql_api.logging_setup import configure_logging
from tenancy.runtime import Runtime
from tenancy.settings import Settings

SLUG = "west-nipt"


class Lines:
    """What the structured handler wrote, one parsed JSON object a line."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def where(self, **fields: Any) -> list[dict[str, Any]]:
        return [line for line in self.all() if all(line.get(k) == v for k, v in fields.items())]


@pytest.fixture
def lines(settings: Settings) -> Iterator[Lines]:
    """The structured handler installed on the root logger, writing JSON to a buffer."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(settings.model_copy(update={"log_format": "json"}), stream)
    try:
        yield Lines(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@asynccontextmanager
async def _http(runtime: Runtime, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings=runtime.settings.model_copy(update=settings), runtime=runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
        yield c


async def test_a_requests_id_is_in_its_header_its_log_lines_and_its_error(
    runtime: Runtime, lines: Lines
):
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    async with _http(runtime, access_log=True) as http:
        response = await http.post(
            f"/t/{SLUG}/graphql",
            json={"query": "query Broken { services { nope } }"},
            headers={"X-Request-ID": "req-log-1"},
        )
    assert response.headers["x-request-id"] == "req-log-1"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "req-log-1"
    [error] = lines.where(event="graphql error")
    assert error["request_id"] == "req-log-1"
    assert error["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["level"] == "info"
    assert "exception" not in error  # a client mistake: no traceback
    [access] = lines.where(event="request")
    assert access["request_id"] == "req-log-1"
    assert access["logger"] == "graphql_api.access"
    assert access["tenant"] == SLUG
    assert access["plan"] == "professional"
    assert access["status"] == 200
    assert access["outcome"] == "GRAPHQL_VALIDATION_FAILED"
    assert access["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert access["duration_ms"] >= 0
    assert {"timestamp", "method", "path", "round_trips"} <= set(access)


async def test_one_access_line_per_request_names_the_operation(runtime: Runtime, lines: Lines):
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    async with _http(runtime, access_log=True) as http:
        for _ in range(3):
            await http.post(
                f"/t/{SLUG}/graphql", json={"query": "query Catalog { services { code } }"}
            )
        await http.get("/healthz")  # probes are not logged
    access = lines.where(event="request")
    assert len(access) == 3
    assert {a["operation"] for a in access} == {"Catalog"}
    assert {a["operation_type"] for a in access} == {"query"}
    assert {a["outcome"] for a in access} == {"OK"}
    assert all(a["cost_requested"] == 1 for a in access)
    assert len({a["request_id"] for a in access}) == 3


async def test_an_internal_error_is_logged_with_its_code_and_traceback_once(
    runtime: Runtime, lines: Lines, monkeypatch: pytest.MonkeyPatch
):
    await _seed_tenant(runtime, DEMO_TENANTS[0])

    async def broken(self: Any, include_inactive: bool = False) -> Any:
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(CatalogService, "services", broken)
    async with _http(runtime, access_log=True) as http:
        response = await http.post(
            f"/t/{SLUG}/graphql",
            json={"query": "{ services { code } }"},
            headers={"X-Request-ID": "req-bug"},
        )
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert "secret detail" not in response.text
    [logged] = [line for line in lines.all() if line.get("code") == "INTERNAL_ERROR"]
    assert logged["level"] == "error"
    assert logged["request_id"] == "req-bug"
    assert "RuntimeError: secret detail of a bug" in logged["exception"]
    assert not lines.where(event="graphql error")  # not logged a second time


async def test_the_access_log_is_off_by_default_in_production(runtime: Runtime, lines: Lines):
    production = Settings(
        _env_file=None,
        environment="production",
        mongodb_url="mongodb://db.example.test",
        jwt_secret="Zq3v8Lr0xT5kWm2Jc9Yb4Hn7Ps1Fd6Ga",
    )
    assert not production.access_log_enabled
    assert Settings(_env_file=None, environment="development").access_log_enabled
    assert production.model_copy(update={"access_log": True}).access_log_enabled
    async with _http(runtime, access_log=False) as http:
        await http.post("/graphql", json={"query": "{ plans { key } }"})
    assert not lines.where(event="request")


def test_console_format_for_development(settings: Settings):
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(settings.model_copy(update={"log_format": "console"}), stream)
    try:
        logging.getLogger("graphql_api.test").warning("hello %s", "there", extra={"tenant": "x"})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = stream.getvalue()
    assert "hello there" in text and "tenant=x" in text
    assert not text.startswith("{")
    assert Settings(_env_file=None, environment="development").log_format_used == "console"
    assert Settings(_env_file=None, environment="test").log_format_used == "json"


def test_uvicorn_lines_are_json_without_their_terminal_colours(lines: Lines):
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "\x1b[36m%d\x1b[0m"}
    )
    [line] = lines.where(logger="uvicorn.error")
    assert line["event"] == "Started server process [42]"
    assert "color_message" not in line
