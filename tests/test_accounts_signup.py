"""Self-service signup (issue 11, item 1): a tenant in trial with its owner as an unverified
admin, a verification email in its outbox, exactly one winner of a slug race, no hint
whether an email has an account, rate limits per address and per email."""

from __future__ import annotations

import asyncio

import httpx

from tenancy.runtime import Runtime
from tests.accounts_support import INVITE, SIGNUP, outbox_links, signup_input
from tests.conftest import GraphQLClient, error_codes

AVAILABLE = "query($s: String!) { slugAvailable(slug: $s) }"


async def test_signup_provisions_a_trial_tenant_usable_at_once(
    runtime: Runtime, gql: GraphQLClient
):
    assert (await gql(AVAILABLE, {"s": "fresh-co"}))["data"]["slugAvailable"] is True
    result = await gql(SIGNUP, {"input": signup_input("fresh-co", planKey="professional")})
    payload = result["data"]["signup"]
    assert payload["userErrors"] == [] and payload["tenantSlug"] == "fresh-co"
    tenant = await runtime.store.tenant_by_slug("fresh-co")
    assert tenant is not None and tenant.status == "trial"
    assert tenant.subscription.plan_key == "professional"
    owner = await runtime.store.user_by_id(tenant.owner_user_id)  # type: ignore[arg-type]
    assert owner is not None and owner.role == "admin" and not owner.email_verified
    assert len(await outbox_links(runtime, "fresh-co", "account_verification")) == 1
    # The owner's token works in the new tenant right away.
    me = await gql("{ me { email } }", token=payload["token"])
    assert me["data"]["me"]["email"] == "ada@fresh-co.example.com"
    assert (await gql(AVAILABLE, {"s": "fresh-co"}))["data"]["slugAvailable"] is False
    assert (await gql(AVAILABLE, {"s": "No Such!"}))["data"]["slugAvailable"] is False


async def test_two_signups_racing_for_one_slug_have_exactly_one_winner(
    runtime: Runtime, gql: GraphQLClient
):
    results = await asyncio.gather(
        gql(SIGNUP, {"input": signup_input("contested", email="one@example.com")}),
        gql(SIGNUP, {"input": signup_input("contested", email="two@example.com")}),
    )
    errors = sorted(tuple(e["code"] for e in r["data"]["signup"]["userErrors"]) for r in results)
    assert errors == [(), ("ALREADY_EXISTS",)]
    tenant = await runtime.store.tenant_by_slug("contested")
    assert tenant is not None
    users = await runtime.store.users_of_tenant(tenant.id)
    assert len(users) == 1 and users[0].email in {"one@example.com", "two@example.com"}


async def test_signup_answers_alike_whether_or_not_the_email_has_an_account(
    gql: GraphQLClient,
):
    first = await gql(SIGNUP, {"input": signup_input("first-co", email="same@example.com")})
    second = await gql(SIGNUP, {"input": signup_input("second-co", email="same@example.com")})
    fresh = await gql(SIGNUP, {"input": signup_input("third-co", email="new@example.com")})
    shapes = [
        {k: v for k, v in r["data"]["signup"].items() if k in ("userErrors",)}
        | {"has_token": bool(r["data"]["signup"]["token"])}
        for r in (first, second, fresh)
    ]
    assert shapes[0] == shapes[1] == shapes[2] == {"userErrors": [], "has_token": True}


async def test_signup_is_rate_limited_per_email_and_per_address(
    runtime: Runtime, gql: GraphQLClient
):
    codes = [
        error_codes(await gql(SIGNUP, {"input": signup_input(f"co-{i}", email="x@example.com")}))
        for i in range(4)
    ]
    assert codes == [[], [], [], ["RATE_LIMITED"]]
    more = [
        error_codes(await gql(SIGNUP, {"input": signup_input(f"more-{i}", email=f"{i}@ex.com")}))
        for i in range(8)
    ]
    # 10 per address per hour: 4 above + 6 here pass, then refused.
    assert more == [[]] * 6 + [["RATE_LIMITED"]] * 2


async def test_an_unverified_owner_cannot_invite(gql: GraphQLClient):
    token = (await gql(SIGNUP, {"input": signup_input("unverified")}))["data"]["signup"]["token"]
    invite = {"email": "bob@example.com", "name": "Bob", "role": "STAFF"}
    result = await gql(INVITE, {"input": invite}, token=token)
    assert [e["code"] for e in result["data"]["inviteUser"]["userErrors"]] == ["EMAIL_NOT_VERIFIED"]


async def test_signup_on_a_tenant_endpoint_is_refused(runtime: Runtime, gql: GraphQLClient):
    await gql(SIGNUP, {"input": signup_input("host-co")})
    result = await gql(SIGNUP, {"input": signup_input("guest-co")}, tenant="host-co")
    assert error_codes(result) == ["FORBIDDEN"]
    assert await runtime.store.tenant_by_slug("guest-co") is None


async def test_the_http_client_address_counts(client: httpx.AsyncClient):
    """Signups are counted per client address (the ASGI peer here)."""
    response = await client.post(
        "/graphql", json={"query": SIGNUP, "variables": {"input": signup_input("peer-co")}}
    )
    assert response.json()["data"]["signup"]["userErrors"] == []


async def test_signups_claim_pre_provisioned_databases_one_each(
    runtime: Runtime, gql: GraphQLClient
):
    """The pool (``tenancy.database_pool``): concurrent signups each claim another database
    with one conditional update; a failed signup gives its database back; the pool refills."""
    from accounts.signup import refills_done
    from tenancy import database_pool

    runtime.settings = runtime.settings.model_copy(update={"signup_database_pool_size": 3})
    assert await database_pool.fill(runtime) == 3
    results = await asyncio.gather(
        gql(SIGNUP, {"input": signup_input("pool-a")}),
        gql(SIGNUP, {"input": signup_input("pool-b")}),
        gql(SIGNUP, {"input": signup_input("pool-a", email="late@example.com")}),  # loses
    )
    assert sorted(len(r["data"]["signup"]["userErrors"]) for r in results) == [0, 0, 1]
    await refills_done(runtime)
    a = await runtime.store.tenant_by_slug("pool-a")
    b = await runtime.store.tenant_by_slug("pool-b")
    assert a is not None and b is not None
    assert "pool_" in a.database.name and "pool_" in b.database.name
    assert a.database.name != b.database.name
    # The loser's database is back (nothing stays claimed) and the pool is refilled.
    assert await runtime.store.db["database_pool"].count_documents({"status": "claimed"}) == 0
    assert await runtime.store.pool_ready("default") >= 3
    me = await gql("{ me { email } }", token=results[0]["data"]["signup"]["token"])
    assert me["data"]["me"]["email"]


async def test_a_pool_database_left_half_made_is_finished_by_the_next_fill(runtime: Runtime):
    """A fill stopped half-way (shutdown cancels it) leaves its database recorded as
    ``filling``; the next fill migrates and offers it instead of leaking it."""
    from datetime import timedelta

    from tenancy import database_pool
    from tenancy.models import DatabaseLocation, utcnow

    runtime.settings = runtime.settings.model_copy(update={"signup_database_pool_size": 1})
    location = DatabaseLocation(cluster="default", name="t_pool_halfmade")
    await runtime.store.pool_add(location)  # recorded, never migrated: the fill was stopped
    await runtime.store.db["database_pool"].update_one(
        {"name": "t_pool_halfmade"}, {"$set": {"created_at": utcnow() - timedelta(minutes=5)}}
    )
    assert await runtime.store.pool_ready("default") == 0
    assert await database_pool.fill(runtime) == 0  # finished the old one, made none
    assert await runtime.store.pool_claim("default", "x") == location
    ledger = runtime.clients.database(location)["_migrations"]
    assert await ledger.count_documents({}) > 0
