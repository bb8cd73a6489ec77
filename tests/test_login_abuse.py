"""Login abuse (hardening item 5) and Retry-After / trusted proxies (item 6).

Every ``login`` attempt counts against its account (tenant or platform
scope + email) and its client address, however the tenant is named, and
each alias in one document counts. Password hashing never runs on the
event loop.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from graphql_api.app import create_app
from tenancy import passwords
from tests.conftest import GraphQLClient, error_codes

ADMIN = "admin@west-nipt.example.com"
LOGIN = """mutation($email: String!, $password: String!, $tenant: String) {
  login(email: $email, password: $password, tenant: $tenant) { token userErrors { code } } }"""


def _client(runtime, *, client_host: str = "203.0.113.7", **settings: Any) -> httpx.AsyncClient:
    app = create_app(settings=runtime.settings.model_copy(update=settings), runtime=runtime)
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api.example.test")


def _outcome(result: dict) -> str:
    codes = error_codes(result)
    if codes:
        return codes[0]
    payload = result["data"]["login"]
    return payload["userErrors"][0]["code"] if payload["userErrors"] else "OK"


async def test_every_way_of_naming_the_tenant_counts_against_one_account(demo):
    async with _client(demo, login_attempts_per_account="6/15 minutes") as http:
        gql = GraphQLClient(http, demo)
        wrong = {"email": ADMIN, "password": "wrong-password"}
        outcomes = [
            _outcome(await gql(LOGIN, wrong, tenant="west-nipt")),
            _outcome(await gql(LOGIN, wrong, header_tenant="west-nipt")),
            _outcome(await gql(LOGIN, {**wrong, "tenant": "west-nipt"})),
            _outcome(await gql(LOGIN, wrong, headers={"host": "westesti.com"})),
            _outcome(await gql(LOGIN, wrong, headers={"host": "west-nipt.example.test"})),
            _outcome(await gql(LOGIN, {**wrong, "email": ADMIN.upper()}, tenant="west-nipt")),
        ]
        assert outcomes == ["INVALID_CREDENTIALS"] * 6
        # The right password no longer helps: the account is throttled, not the password.
        right = {"email": ADMIN, "password": "demo-password"}
        refused = await gql(LOGIN, right, tenant="west-nipt")
        assert _outcome(refused) == "RATE_LIMITED"
        assert "too many login attempts for this account" in refused["errors"][0]["message"]
        # Another account of the same tenant, and the same email elsewhere, are unaffected.
        other = {"email": "staff@west-nipt.example.com", "password": "demo-password"}
        assert _outcome(await gql(LOGIN, other, tenant="west-nipt")) == "OK"


async def test_super_admin_logins_count_in_the_platform_scope(demo):
    async with _client(demo, login_attempts_per_account="3/15 minutes") as http:
        gql = GraphQLClient(http, demo)
        wrong = {"email": "root@platform.example.com", "password": "nope-nope"}
        assert [_outcome(await gql(LOGIN, wrong)) for _ in range(3)] == ["INVALID_CREDENTIALS"] * 3
        assert _outcome(await gql(LOGIN, wrong)) == "RATE_LIMITED"


async def test_each_alias_in_one_document_counts(demo):
    def document(count: int) -> str:
        aliases = " ".join(
            f'a{i}: login(email: "{ADMIN}", password: "guess-{i}") '
            "{ token userErrors { code } }"
            for i in range(count)
        )
        return f"mutation {{ {aliases} }}"

    async with _client(demo, login_attempts_per_account="5/15 minutes") as http:
        gql = GraphQLClient(http, demo)
        first = await gql(document(5), tenant="west-nipt")
        assert [first["data"][f"a{i}"]["userErrors"] for i in range(5)] == [
            [{"code": "INVALID_CREDENTIALS"}]
        ] * 5
        # One document of five aliases used up the five attempts.
        right = {"email": ADMIN, "password": "demo-password"}
        assert _outcome(await gql(LOGIN, right, tenant="west-nipt")) == "RATE_LIMITED"
        assert error_codes(await gql(document(3), tenant="west-nipt")) == ["RATE_LIMITED"]


async def test_attempts_per_address_cover_many_accounts(demo):
    async with _client(demo, login_attempts_per_address="4/15 minutes") as http:
        gql = GraphQLClient(http, demo)
        for i in range(4):
            result = await gql(LOGIN, {"email": f"user{i}@x.example", "password": "xxxxxxxx"})
            assert _outcome(result) == "INVALID_CREDENTIALS"
        refused = await gql(LOGIN, {"email": "user9@x.example", "password": "xxxxxxxx"})
        assert _outcome(refused) == "RATE_LIMITED"
        assert "from this address" in refused["errors"][0]["message"]


async def test_rate_limited_answers_carry_retry_after(demo):
    async with _client(demo, login_attempts_per_address="1/15 minutes") as http:
        body = {"query": LOGIN, "variables": {"email": ADMIN, "password": "x" * 8}}
        await http.post("/t/west-nipt/graphql", json=body)
        response = await http.post("/t/west-nipt/graphql", json=body)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry = error["extensions"]["retryAfter"]
    assert isinstance(retry, int) and 1 <= retry <= 900
    assert response.headers["retry-after"] == str(retry)


async def test_tenant_rate_limit_carries_retry_after(demo):
    tenant = await demo.store.tenant_by_slug("tromb-screening")
    await demo.store.update_tenant(tenant.id, {"limits.api_rate_limit_per_minute": 1})
    demo.registry.invalidate("tromb-screening")
    async with _client(demo, rate_limit_enabled=True) as http:
        body = {"query": "{ services { code } }"}
        headers = {"accept": "application/graphql-response+json"}
        await http.post("/t/tromb-screening/graphql", json=body, headers=headers)
        response = await http.post("/t/tromb-screening/graphql", json=body, headers=headers)
    assert response.status_code == 429
    retry = response.json()["errors"][0]["extensions"]["retryAfter"]
    assert 1 <= retry <= 60
    assert response.headers["retry-after"] == str(retry)


@pytest.mark.parametrize("trusted", [False, True])
async def test_forwarded_for_is_believed_only_from_trusted_proxies(demo, trusted: bool):
    proxies = ["10.0.0.0/8"] if trusted else []
    async with _client(
        demo,
        client_host="10.1.2.3",
        trusted_proxies=proxies,
        login_attempts_per_address="2/15 minutes",
    ) as http:
        gql = GraphQLClient(http, demo)
        outcomes = []
        for i in range(3):
            forwarded = {"x-forwarded-for": f"198.51.100.{i}"}  # a new "client" each time
            body = {"email": f"u{i}@x.example", "password": "xxxxxxxx"}
            outcomes.append(_outcome(await gql(LOGIN, body, headers=forwarded)))
    if trusted:  # three different clients behind the proxy
        assert outcomes == ["INVALID_CREDENTIALS"] * 3
    else:  # one client (the peer) that made up the header
        assert outcomes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"]


async def test_password_hashing_never_runs_on_the_event_loop(demo, monkeypatch):
    loop_thread = threading.get_ident()
    threads: list[tuple[str, int]] = []
    real = passwords._hasher

    class Spy:
        def hash(self, password: str) -> str:
            threads.append(("hash", threading.get_ident()))
            return real.hash(password)

        def verify(self, hashed: str, password: str) -> bool:
            threads.append(("verify", threading.get_ident()))
            return real.verify(hashed, password)

    monkeypatch.setattr(passwords, "_hasher", Spy())
    async with _client(demo) as http:
        gql = GraphQLClient(http, demo)
        root = await gql.token(None)
        created = await gql(
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { userErrors { code } } }",
            {
                "i": {
                    "slug": "acme-dental",
                    "name": "Acme",
                    "ownerEmail": "o@acme.example",
                    "ownerName": "Owner",
                    "ownerPassword": "long-enough-1",
                }
            },
            token=root,
        )
        assert created["data"]["createTenant"]["userErrors"] == []
        admin = await gql.token("west-nipt")
        user = await gql(
            "mutation($i: CreateUserInput!) { createUser(input: $i) { userErrors { code } } }",
            {
                "i": {
                    "email": "n@west.example",
                    "name": "N",
                    "role": "STAFF",
                    "password": "pw-123456",
                }
            },
            tenant="west-nipt",
            token=admin,
        )
        assert user["data"]["createUser"]["userErrors"] == []
        login = {"email": ADMIN, "password": "demo-password"}
        assert _outcome(await gql(LOGIN, login, tenant="west-nipt")) == "OK"
    kinds = [kind for kind, _ in threads]
    assert kinds.count("hash") == 2 and kinds.count("verify") == 1
    assert all(thread != loop_thread for _, thread in threads)
