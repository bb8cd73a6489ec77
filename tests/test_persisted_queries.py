"""Automatic persisted queries as Apollo Client's link speaks them (issue 12, item 1), the
safelist mode with ``tenantctl persisted-queries register``, and batches refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from graphql_api.app import create_app
from graphql_api.persisted_queries import parse_manifest, sha256_hex
from migrations.runtime import build_runtime
from scripts.cli import app as cli_app
from tenancy.errors import AppError, ErrorCode
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.backends import Backend
from tests.conftest import error_codes

PLANS = "query Plans { plans { key } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def apq(query: str | None, digest: str | None = None) -> dict[str, Any]:
    """A request body as the persisted-query link sends it (without the query the first time)."""
    body: dict[str, Any] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest or sha256_hex(PLANS)}}
    }
    if query is not None:
        body["query"] = query
    return body


@asynccontextmanager
async def _http(runtime: Runtime, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings=runtime.settings.model_copy(update=settings), runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
        yield c


async def test_the_apollo_link_round_trip(client: httpx.AsyncClient):
    # 1. The link sends the hash alone: unknown, so PersistedQueryNotFound (HTTP 200 for
    #    application/json), which makes the link retry with the query.
    first = await client.post("/graphql", json=apq(None))
    assert first.status_code == 200
    [error] = first.json()["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert "requestId" in error["extensions"]
    # 2. The retry: hash and query; the document runs and is stored.
    second = await client.post("/graphql", json=apq(PLANS))
    assert error_codes(second.json()) == []
    plans = second.json()["data"]["plans"]
    # 3. Later requests send the hash alone, by POST or by GET.
    third = await client.post("/graphql", json=apq(None))
    assert third.json()["data"]["plans"] == plans
    params = {"extensions": json.dumps(apq(None)["extensions"]), "operationName": "Plans"}
    by_get = await client.get("/graphql", params=params, headers={"accept": "*/*"})
    assert by_get.status_code == 200, by_get.text
    assert by_get.json()["data"]["plans"] == plans


async def test_a_get_with_an_unknown_hash_is_answered_not_found_not_with_graphiql(
    client: httpx.AsyncClient,
):
    params = {"extensions": json.dumps(apq(None)["extensions"])}
    response = await client.get("/graphql", params=params, headers={"accept": "*/*"})
    assert response.status_code == 200
    assert error_codes(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    strict = await client.get("/graphql", params=params, headers={"accept": GRAPHQL_RESPONSE})
    assert strict.status_code == 404
    assert error_codes(strict.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_hash_that_is_not_the_querys_is_refused(client: httpx.AsyncClient):
    response = await client.post("/graphql", json=apq(PLANS, digest="ab" * 32))
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]
    again = await client.post("/graphql", json=apq(None, digest="ab" * 32))
    assert error_codes(again.json()) == ["PERSISTED_QUERY_NOT_FOUND"]  # nothing was stored
    for bad in ({"version": 2, "sha256Hash": "ab" * 32}, {"version": 1, "sha256Hash": "x"}):
        refused = await client.post("/graphql", json={"extensions": {"persistedQuery": bad}})
        assert error_codes(refused.json()) == ["BAD_REQUEST"]


async def test_the_store_is_bounded(runtime: Runtime):
    other = "query Other { plans { name } }"
    async with _http(runtime, persisted_queries_cache_size=1) as http:
        await http.post("/graphql", json=apq(PLANS))
        await http.post("/graphql", json=apq(other, sha256_hex(other)))
        evicted = await http.post("/graphql", json=apq(None))
        kept = await http.post("/graphql", json=apq(None, sha256_hex(other)))
    assert error_codes(evicted.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert error_codes(kept.json()) == []


async def test_batches_are_refused_with_a_graphql_shaped_error(client: httpx.AsyncClient):
    response = await client.post("/graphql", json=[{"query": PLANS}, {"query": PLANS}])
    assert response.status_code == 400
    body = response.json()
    assert error_codes(body) == ["BAD_REQUEST"]
    assert "batch" in body["errors"][0]["message"].lower()


def _manifest(*documents: str) -> dict[str, Any]:
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256_hex(d), "name": d.split()[1], "type": "query", "body": d}
            for d in documents
        ],
    }


def test_a_manifest_is_checked_entry_by_entry():
    [entry] = parse_manifest(_manifest(PLANS))
    assert (entry.sha256_hash, entry.name, entry.body) == (sha256_hex(PLANS), "Plans", PLANS)
    assert parse_manifest({sha256_hex(PLANS): PLANS})[0].sha256_hash == sha256_hex(PLANS)
    broken = _manifest(PLANS)
    broken["operations"][0]["id"] = "0" * 64
    with pytest.raises(AppError) as refused:
        parse_manifest(broken)
    assert refused.value.code is ErrorCode.VALIDATION_FAILED
    assert "Plans" in refused.value.message
    with pytest.raises(AppError):
        parse_manifest({"format": "something-else", "version": 1, "operations": []})


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: Backend):
    """Runs tenantctl against the test's backend."""
    monkeypatch.setenv("APP_EMBEDDED_DIR", str(tmp_path / "embedded"))
    monkeypatch.setenv("APP_MONGODB_URL", backend.url())
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_app, list(args))


def _serve(backend: Backend, requests: list[dict[str, Any]]) -> list[httpx.Response]:
    """Send ``requests`` to a safelisted API on the backend's platform."""
    settings = Settings(
        _env_file=None,
        environment="test",
        mongodb_url=backend.url(),
        seed_demo=False,
        rate_limit_enabled=False,
        jwt_secret="test-secret-that-is-long-enough-for-hs256",
        persisted_queries_safelist=True,
    )

    async def send() -> list[httpx.Response]:
        runtime = build_runtime(settings)
        await runtime.start()
        try:
            async with _http(runtime) as http:
                return [await http.post("/graphql", json=body) for body in requests]
        finally:
            await runtime.close()

    return asyncio.run(send())


def test_safelist_mode_runs_only_registered_documents(cli, tmp_path: Path, backend: Backend):
    manifest = tmp_path / "persisted-query-manifest.json"
    manifest.write_text(json.dumps(_manifest(PLANS)))
    registered = cli("persisted-queries", "register", str(manifest), "--json")
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.output) == {"operations": 1, "added": 1, "known": 0}
    again = cli("persisted-queries", "register", str(manifest), "--json")
    assert json.loads(again.output) == {"operations": 1, "added": 0, "known": 1}
    listed = cli("persisted-queries", "list", "--json")
    assert json.loads(listed.output) == [
        {"sha256Hash": sha256_hex(PLANS), "name": "Plans", "type": "query"}
    ]

    other = "query Other { plans { name } }"
    by_hash, by_text, unknown, unknown_apq, unknown_hash = _serve(
        backend,
        [
            apq(None),
            {"query": PLANS},
            {"query": other},
            apq(other, sha256_hex(other)),
            apq(None, sha256_hex(other)),
        ],
    )
    assert error_codes(by_hash.json()) == []
    assert by_hash.json()["data"]["plans"]
    assert error_codes(by_text.json()) == []
    assert error_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert error_codes(unknown_apq.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert error_codes(unknown_hash.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_a_bad_manifest_registers_nothing(cli, tmp_path: Path):
    manifest = tmp_path / "manifest.json"
    document = _manifest(PLANS, "query Other { plans { name } }")
    document["operations"][1]["body"] += " "  # no longer the document its id names
    manifest.write_text(json.dumps(document))
    refused = cli("persisted-queries", "register", str(manifest))
    assert refused.exit_code == 1
    assert "VALIDATION_FAILED" in refused.output and "Other" in refused.output
    listed = cli("persisted-queries", "list", "--json")
    assert json.loads(listed.output) == []
