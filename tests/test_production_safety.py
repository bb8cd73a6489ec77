"""Production safety (hardening item 6): no demo, strong secrets, quiet schema."""

from __future__ import annotations

import secrets

import httpx
import pytest

from graphql_api.app import create_app
from graphql_api.demo import DEMO_PASSWORD, demo_login, disable_demo_logins
from migrations.runtime import build_runtime
from tenancy import lifecycle
from tenancy.models import Role
from tenancy.settings import Settings
from tests.conftest import error_codes

GOOD_SECRET = secrets.token_urlsafe(48)


def production(**overrides) -> Settings:
    values = {"environment": "production", "jwt_secret": GOOD_SECRET, "mongodb_url": ""}
    return Settings(_env_file=None, **{**values, **overrides})


def test_production_never_seeds_demo_data():
    assert production().should_seed_demo is False  # embedded (no URL) included
    assert production(mongodb_url="mongodb://db:27017").should_seed_demo is False
    with pytest.raises(ValueError, match="APP_SEED_DEMO"):
        production(seed_demo=True)


@pytest.mark.parametrize(
    "secret",
    [
        "a" * 64,
        "ab" * 32,
        "abc" * 20,
        "0123456789" * 4,
        "short-but-random-Xy7",
        "dev-insecure-secret-change-me-please-32b",
    ],
)
def test_weak_production_secrets_are_refused(secret: str):
    with pytest.raises(ValueError, match="APP_JWT_SECRET"):
        production(jwt_secret=secret)


@pytest.mark.parametrize("make", [lambda: secrets.token_hex(16), lambda: secrets.token_urlsafe(32)])
def test_random_secrets_pass(make):
    secret = make()
    assert production(jwt_secret=secret).jwt_secret == secret


def test_weak_secret_is_fine_outside_production():
    assert Settings(_env_file=None, jwt_secret="a" * 64).jwt_secret == "a" * 64


def test_production_defaults_hide_the_schema():
    settings = production()
    assert not settings.introspection_enabled and not settings.field_suggestions_enabled
    development = Settings(_env_file=None)
    assert development.introspection_enabled and development.field_suggestions_enabled
    assert production(introspection=True).introspection_enabled  # an explicit choice wins


async def _post(app, query: str) -> dict:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return (await c.post("/graphql", json={"query": query})).json()


@pytest.mark.parametrize(
    "query",
    [
        "{ plan { key } }",  # unknown field close to "plans"
        "{ plans { kee } }",
        '{ tenant(slg: "x") { name } }',  # unknown argument
        '{ __type(name: "BookingStatus") { name } }',
    ],
)
async def test_no_suggestions_or_introspection_in_production(runtime, query: str):
    settings = runtime.settings.model_copy(
        update={"environment": "production", "introspection": None, "field_suggestions": None}
    )
    body = await _post(create_app(settings=settings, runtime=runtime), query)
    assert error_codes(body) and set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert all("Did you mean" not in e["message"] for e in body["errors"])


async def test_suggestions_stay_in_development(runtime):
    body = await _post(create_app(runtime=runtime), "{ plan { key } }")
    assert "Did you mean" in body["errors"][0]["message"]


async def test_demo_logins_are_deactivated_when_production_starts(demo):
    # An admin changed one demo password: that login is no longer public and stays.
    tenant = await demo.store.tenant_by_slug("west-nipt")
    staff = await demo.store.user_by_email(tenant.id, demo_login("west-nipt", Role.STAFF))
    from tenancy.passwords import hash_password

    await demo.store.db["users"].update_one(
        {"_id": staff.id}, {"$set": {"password_hash": await hash_password("a-private-one")}}
    )
    settings = demo.settings.model_copy(update={"environment": "production"})
    served = build_runtime(settings)  # the server's own platform (its lifespan closes it)
    app = create_app(settings=settings, runtime=served)
    async with app.router.lifespan_context(app):
        gql_body = {
            "query": 'mutation { login(email: "root@platform.example.com", '
            f'password: "{DEMO_PASSWORD}") {{ token userErrors {{ code }} }} }}'
        }
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            result = (await c.post("/graphql", json=gql_body)).json()
    assert result["data"]["login"]["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
    root = await demo.store.user_by_email(None, "root@platform.example.com")
    assert root is not None and not root.active  # kept, deactivated
    assert (await demo.store.user_by_id(staff.id)).active
    audit = await demo.store.db["audit_log"].count_documents({"action": "user.deactivate"})
    assert audit == 12  # root + 3 roles x 4 tenants - the changed staff login
    assert await disable_demo_logins(demo) == []  # idempotent


async def test_deactivating_a_user_frees_its_plan_unit(demo):
    tenant = await demo.store.tenant_by_slug("tromb-screening")
    viewer = await demo.store.user_by_email(tenant.id, demo_login("tromb-screening", Role.VIEWER))
    assert await lifecycle.deactivate_user(demo, viewer, "test", "test")
    assert not await lifecycle.deactivate_user(demo, viewer, "test", "test")
    user = await lifecycle.create_user(
        demo,
        tenant,
        email="n@t.example",
        name="N",
        role=Role.STAFF,
        password="pw-123456",
        actor="t",
    )
    assert user.active
