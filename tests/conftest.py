"""Shared fixtures: the backend legs, a fresh platform per test, an ASGI client, GraphQL helpers.

Tests that use ``backend`` (directly or through ``settings``/``platform``/
``demo``...) run once per leg: the in-process mock and a real wire-protocol
server (``tests/backends.py``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher, profiles

from graphql_api.app import create_app
from graphql_api.auth import TokenService
from graphql_api.demo import DEMO_PASSWORD, demo_login, seed_demo
from migrations.runtime import build_runtime
from tenancy import passwords
from tenancy.models import Role
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.backends import Backend, MockBackend, ServerBackend, ServerUrls, legs, server_urls
from tests.notify_support import SmtpCatcher
from tests.snapshots import seeded


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2's cheapest profile keeps the suite fast; production uses RFC 9106 defaults."""
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("not-a-real-password"))


def pytest_configure(config: pytest.Config) -> None:
    workers = getattr(config.option, "numprocesses", None)
    if os.environ.get("APP_TEST_MONGODB_URL") and workers not in (None, 0, 1, "0", "1"):
        raise pytest.UsageError(
            "APP_TEST_MONGODB_URL: the tests drop that server's databases and run serially; "
            "add -n 0"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", legs(), indirect=True)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerUrls]:
    """This test process's real servers (started on first use)."""
    yield from server_urls(tmp_path_factory.mktemp("servers"))


@pytest.fixture
async def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """The leg this test runs on (``mock``, ``wire`` or ``url``); cleaned after the test."""
    if request.param == "mock":
        chosen: Backend = MockBackend(monkeypatch)
    else:
        chosen = ServerBackend(request.param, request.getfixturevalue("servers"))
    yield chosen
    await chosen.cleanup()


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        mongodb_url=backend.url(),
        seed_demo=False,
        rate_limit_enabled=False,  # tests/test_app.py turns it on where it is the subject
        base_domain="example.test",
        jwt_secret="test-secret-that-is-long-enough-for-hs256",
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """An empty platform (default plans only) on the test's backend."""
    runtime = build_runtime(settings)
    await runtime.start()
    yield runtime
    await runtime.close()


@pytest.fixture
async def demo(runtime: Runtime) -> Runtime:
    """The platform with the demo tenants seeded (west-nipt, tromb-screening,
    quattro-stand active; omega-nipt suspended)."""
    await seeded(runtime, "demo", lambda: seed_demo(runtime))
    return runtime


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
        yield c


class GraphQLClient:
    """Posts GraphQL operations the way an SPA does."""

    def __init__(self, http: httpx.AsyncClient, runtime: Runtime) -> None:
        self.http = http
        self.runtime = runtime
        self.tokens = TokenService(runtime.settings)

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        tenant: str | None = None,
        header_tenant: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one operation; ``tenant`` uses the path prefix, ``header_tenant`` X-Tenant."""
        path = f"/t/{tenant}/graphql" if tenant else "/graphql"
        h = dict(headers or {})
        if token:
            h["authorization"] = f"Bearer {token}"
        if header_tenant:
            h["x-tenant"] = header_tenant
        response = await self.http.post(
            path, json={"query": query, "variables": variables or {}}, headers=h
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def token(self, slug: str | None, role: Role = Role.ADMIN) -> str:
        """A real token for a demo user, minted like ``login`` does."""
        tenant = await self.runtime.store.tenant_by_slug(slug) if slug else None
        email = demo_login(slug, role) if slug else "root@platform.example.com"
        user = await self.runtime.store.user_by_email(tenant.id if tenant else None, email)
        assert user is not None, email
        return self.tokens.issue(user, tenant)[0]


@pytest.fixture
def catcher() -> Iterator[SmtpCatcher]:
    """A local SMTP server (aiosmtpd) that keeps what it receives; stopped after the test."""
    smtp = SmtpCatcher()
    smtp.start()
    yield smtp
    smtp.stop()


@pytest.fixture
def gql(client: httpx.AsyncClient, runtime: Runtime) -> GraphQLClient:
    return GraphQLClient(client, runtime)


def error_codes(result: dict[str, Any]) -> list[str]:
    """The ``extensions.code`` of every GraphQL error in a response."""
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]


__all__ = ["DEMO_PASSWORD", "GraphQLClient", "error_codes"]
