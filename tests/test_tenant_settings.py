"""Tenant settings by tenant admins (issue 8, item 6) and the public tenant profile (item 7).

``updateTenantSettings`` changes the request's tenant's own name, time zone,
language, currency, sender, branding and booking policy; plan, status,
limits and domains stay with super-admins (``updateTenant``). The public
``tenantProfile`` shows what a booking site needs and nothing of the
subscription, limits, usage or domains.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.collections import LOCATIONS, SERVICES
from domain.documents import LocationDocument, ServiceDocument
from graphql_api.schema import schema as served_schema
from tenancy.errors import AppError
from tenancy.models import Role, Tenant
from tenancy.runtime import Runtime
from tenancy.tenant_settings import check_color, check_https_url, check_language
from tests.conftest import GraphQLClient, error_codes

A, B = "west-nipt", "tromb-screening"

SETTINGS_FIELDS = """timezone language currency confirmationPrefix emailSender senderName
  branding { primaryColor secondaryColor logoUrl }
  bookingPolicy { cancellationWindowHours allowCustomerCancellation }"""
UPDATE = f"""mutation($input: UpdateTenantSettingsInput!) {{
  updateTenantSettings(input: $input) {{
    tenant {{ slug name status settings {{ {SETTINGS_FIELDS} }} }}
    userErrors {{ field code message }} }} }}"""
TENANT = f"{{ tenant {{ name settings {{ {SETTINGS_FIELDS} }} }} }}"
PROFILE = """{ tenantProfile { slug name timezone language currency
  branding { primaryColor secondaryColor logoUrl }
  bookingPolicy { cancellationWindowHours allowCustomerCancellation }
  services { code name } locations { name } } }"""

FULL_INPUT = {
    "name": "West NIPT Clinic",
    "timezone": "Europe/Berlin",
    "language": "EN-gb",
    "currency": "eur",
    "senderName": "West NIPT",
    "senderEmail": "Bookings@WestNipt.example.com",
    "primaryColor": "#1a73e8",
    "secondaryColor": "#FFFFFF",
    "logoUrl": "https://cdn.example.com/west/logo.png",
    "cancellationWindowHours": 48,
    "allowCustomerCancellation": False,
}


async def _record(runtime: Runtime, slug: str) -> Tenant:
    tenant = await runtime.store.tenant_by_slug(slug)
    assert tenant is not None
    return tenant


async def _update(
    gql: GraphQLClient, token: str, tenant: str | None = A, **fields: Any
) -> dict[str, Any]:
    return await gql(UPDATE, {"input": fields}, token=token, tenant=tenant)


# -- item 6: updateTenantSettings -----------------------------------------------


async def test_admin_updates_own_settings_and_reads_them_back_at_once(demo, gql: GraphQLClient):
    token = await gql.token(A)
    before = await _record(demo, A)
    # Cached by the registry on this read; the update must invalidate it.
    assert (await gql(TENANT, token=token, tenant=A))["data"]["tenant"][
        "name"
    ] != "West NIPT Clinic"

    payload = (await _update(gql, token, **FULL_INPUT))["data"]["updateTenantSettings"]
    assert payload["userErrors"] == []
    expected_settings = {
        "timezone": "Europe/Berlin",
        "language": "en-GB",
        "currency": "EUR",
        "confirmationPrefix": before.settings.confirmation_prefix,
        "emailSender": "Bookings@westnipt.example.com",
        "senderName": "West NIPT",
        "branding": {
            "primaryColor": "#1A73E8",
            "secondaryColor": "#FFFFFF",
            "logoUrl": "https://cdn.example.com/west/logo.png",
        },
        "bookingPolicy": {"cancellationWindowHours": 48, "allowCustomerCancellation": False},
    }
    assert payload["tenant"]["settings"] == expected_settings
    assert payload["tenant"]["name"] == "West NIPT Clinic"

    read = (await gql(TENANT, token=token, tenant=A))["data"]["tenant"]
    assert read == {"name": "West NIPT Clinic", "settings": expected_settings}
    after = await _record(demo, A)
    assert after.version == before.version + 1
    # Nothing else of the record moved.
    assert (after.status, after.subscription, after.limits, after.domains) == (
        before.status,
        before.subscription,
        before.limits,
        before.domains,
    )
    entry = await demo.store.db["audit_log"].find_one({"action": "tenant.settings.update"})
    assert entry is not None and entry["tenant"] == A
    assert "settings.branding.primary_color" in entry["details"]["fields"]
    assert entry["actor"] != "anonymous"


async def test_partial_update_leaves_omitted_fields_and_empty_text_clears(demo, gql: GraphQLClient):
    token = await gql.token(A)
    assert (await _update(gql, token, **FULL_INPUT))["data"]["updateTenantSettings"][
        "userErrors"
    ] == []
    payload = (await _update(gql, token, primaryColor="#000000", logoUrl="", senderName=""))[
        "data"
    ]["updateTenantSettings"]
    settings = payload["tenant"]["settings"]
    assert settings["branding"] == {
        "primaryColor": "#000000",
        "secondaryColor": "#FFFFFF",
        "logoUrl": None,
    }
    assert settings["senderName"] is None
    assert settings["timezone"] == "Europe/Berlin"
    assert settings["bookingPolicy"] == {
        "cancellationWindowHours": 48,
        "allowCustomerCancellation": False,
    }
    assert payload["tenant"]["name"] == "West NIPT Clinic"

    before = await _record(demo, A)
    nothing = (await _update(gql, token))["data"]["updateTenantSettings"]
    assert nothing["userErrors"] == []
    assert (await _record(demo, A)).version == before.version  # an empty update writes nothing


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Europe/Berlin\n"}, "timezone"),
        ({"language": "english"}, "language"),
        ({"language": "en_GB"}, "language"),
        ({"currency": "EURO"}, "currency"),
        ({"senderEmail": "not an email"}, "senderEmail"),
        ({"senderName": "West\r\nBcc: victim@example.com"}, "senderName"),
        ({"senderName": "x" * 101}, "senderName"),
        ({"primaryColor": "blue"}, "primaryColor"),
        ({"primaryColor": "#12345"}, "primaryColor"),
        ({"secondaryColor": "#1234567"}, "secondaryColor"),
        ({"secondaryColor": "#12345G"}, "secondaryColor"),
        ({"logoUrl": "http://cdn.example.com/logo.png"}, "logoUrl"),
        ({"logoUrl": "javascript:alert(1)"}, "logoUrl"),
        ({"logoUrl": "https://user:pw@cdn.example.com/logo.png"}, "logoUrl"),
        ({"logoUrl": "https:///logo.png"}, "logoUrl"),
        ({"logoUrl": "https://cdn.example.com/" + "a" * 2048}, "logoUrl"),
        ({"cancellationWindowHours": -1}, "cancellationWindowHours"),
        ({"cancellationWindowHours": 721}, "cancellationWindowHours"),
    ],
)
async def test_settings_values_are_checked(demo, gql: GraphQLClient, fields, path):
    token = await gql.token(A)
    before = await _record(demo, A)
    payload = (await _update(gql, token, **fields))["data"]["updateTenantSettings"]
    assert payload["tenant"] is None
    [error] = payload["userErrors"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["field"] == ["input", path]
    assert error["message"]
    assert (await _record(demo, A)).version == before.version


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("tr", "tr"),
        ("EN", "en"),
        ("en-gb", "en-GB"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
    ],
)
def test_language_tags_are_normalised(raw, stored):
    assert check_language(raw) == stored


def test_colour_and_logo_checks():
    assert check_color("#a1b2c3", "c") == "#A1B2C3"
    for bad in ("#a1b2c3\n", "a1b2c3", "#abc"):
        with pytest.raises(AppError):
            check_color(bad, "c")
    assert check_https_url("https://x.example/l.svg?v=2", "u") == "https://x.example/l.svg?v=2"
    for bad in ("https://x.example/a b.png", "HTTPS://", "ftp://x.example/l.png", "//x.example/l"):
        with pytest.raises(AppError):
            check_https_url(bad, "u")


@pytest.mark.parametrize("role", [Role.STAFF, Role.VIEWER])
async def test_staff_and_viewers_cannot_change_settings(demo, gql: GraphQLClient, role: Role):
    result = await _update(gql, await gql.token(A, role), name="Taken over")
    assert error_codes(result) == ["FORBIDDEN"]
    assert (await _record(demo, A)).name != "Taken over"


async def test_anonymous_callers_cannot_change_settings(demo, gql: GraphQLClient):
    result = await gql(UPDATE, {"input": {"name": "Taken over"}}, tenant=A)
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_super_admin_may_change_a_tenants_settings(demo, gql: GraphQLClient):
    root = await gql.token(None, Role.SUPER_ADMIN)
    payload = (await _update(gql, root, tenant=B, cancellationWindowHours=6))["data"][
        "updateTenantSettings"
    ]
    assert payload["userErrors"] == []
    assert payload["tenant"]["slug"] == B
    assert (await _record(demo, B)).settings.booking_policy.cancellation_window_hours == 6
    # Without a tenant there is nothing to change.
    assert error_codes(await _update(gql, root, tenant=None, name="x")) == ["TENANT_REQUIRED"]


async def test_admin_cannot_change_plan_status_limits_or_domains(demo, gql: GraphQLClient):
    token = await gql.token(A)
    before = await _record(demo, A)
    # Not through updateTenant (super-admin only) ...
    update_tenant = """mutation($input: UpdateTenantInput!) {
      updateTenant(slug: "west-nipt", input: $input) { tenant { slug } userErrors { code } } }"""
    for fields in ({"planKey": "enterprise"}, {"domains": ["mine.example.com"]}):
        result = await gql(update_tenant, {"input": fields}, token=token, tenant=A)
        assert error_codes(result) == ["FORBIDDEN"], fields
    suspend = 'mutation { suspendTenant(slug: "west-nipt", reason: "x") { tenant { slug } } }'
    assert error_codes(await gql(suspend, token=token, tenant=A)) == ["FORBIDDEN"]
    # ... and updateTenantSettings has no such fields.
    for field, value in (
        ("planKey", "enterprise"),
        ("status", "ACTIVE"),
        ("limits", {"maxUsers": 1000}),
        ("domains", ["mine.example.com"]),
        ("maxUsers", 1000),
    ):
        result = await _update(gql, token, **{field: value})
        assert error_codes(result) == ["GRAPHQL_VALIDATION_FAILED"], field
    after = await _record(demo, A)
    assert after.version == before.version
    assert (after.subscription, after.limits, after.domains, after.status) == (
        before.subscription,
        before.limits,
        before.domains,
        before.status,
    )


async def test_admin_of_one_tenant_cannot_update_another(demo, gql: GraphQLClient):
    token_a = await gql.token(A)
    token_b = await gql.token(B)
    before_a, before_b = await _record(demo, A), await _record(demo, B)
    attempts = [
        await _update(gql, token_a, tenant=B, name="Hijacked"),  # B in the path
        await gql(UPDATE, {"input": {"name": "Hijacked"}}, token=token_a, header_tenant=B),
        await gql(  # path and header disagree
            UPDATE, {"input": {"name": "Hijacked"}}, token=token_a, tenant=A, header_tenant=B
        ),
        await _update(gql, token_b, tenant=A, name="Hijacked"),  # and the other way round
    ]
    assert [error_codes(result) for result in attempts] == [["FORBIDDEN"]] * 4
    for result in attempts:
        assert result["data"] is None
    assert (await _record(demo, A)).version == before_a.version
    assert (await _record(demo, B)).version == before_b.version
    # A's own token without a path stays in A (the token's tenant).
    own = await gql(UPDATE, {"input": {"senderName": "A desk"}}, token=token_a)
    assert own["data"]["updateTenantSettings"]["tenant"]["slug"] == A
    assert (await _record(demo, B)).settings.sender_name is None


async def test_records_without_the_new_settings_read_with_defaults(demo, gql: GraphQLClient):
    tenant = await _record(demo, A)
    await demo.store.db["tenants"].update_one(
        {"_id": tenant.id},
        {
            "$unset": {
                "settings.branding": "",
                "settings.booking_policy": "",
                "settings.sender_name": "",
            }
        },
    )
    demo.registry.invalidate(A)
    settings = (await gql(TENANT, token=await gql.token(A), tenant=A))["data"]["tenant"]["settings"]
    assert settings["branding"] == {"primaryColor": None, "secondaryColor": None, "logoUrl": None}
    assert settings["bookingPolicy"] == {
        "cancellationWindowHours": 24,
        "allowCustomerCancellation": True,
    }
    # A partial write into the missing sub-document creates it.
    payload = (await _update(gql, await gql.token(A), logoUrl="https://x.example/l.png"))["data"][
        "updateTenantSettings"
    ]
    assert payload["tenant"]["settings"]["branding"]["logoUrl"] == "https://x.example/l.png"


# -- item 7: tenantProfile -----------------------------------------------------


async def test_anonymous_callers_read_the_public_profile(demo, gql: GraphQLClient):
    token = await gql.token(A)
    assert (await _update(gql, token, **FULL_INPUT))["data"]["updateTenantSettings"][
        "userErrors"
    ] == []
    tenant = await _record(demo, A)
    db = demo.tenant_database(tenant)
    hidden_service = ServiceDocument(
        code="retired",
        name="Retired test",
        duration_minutes=30,
        price_minor=100,
        currency="EUR",
        active=False,
    )
    hidden_location = LocationDocument(name="Closed branch", active=False)
    await db[SERVICES].insert_one(hidden_service.to_mongo())
    await db[LOCATIONS].insert_one(hidden_location.to_mongo())
    active_services = await db[SERVICES].count_documents({"active": True})
    assert active_services > 0

    profile = (await gql(PROFILE, tenant=A))["data"]["tenantProfile"]
    assert {k: profile[k] for k in ("slug", "name", "timezone", "language", "currency")} == {
        "slug": A,
        "name": "West NIPT Clinic",
        "timezone": "Europe/Berlin",
        "language": "en-GB",
        "currency": "EUR",
    }
    assert profile["branding"]["primaryColor"] == "#1A73E8"
    assert profile["bookingPolicy"] == {
        "cancellationWindowHours": 48,
        "allowCustomerCancellation": False,
    }
    codes = [s["code"] for s in profile["services"]]
    assert "retired" not in codes and len(codes) == active_services
    names = [loc["name"] for loc in profile["locations"]]
    assert names and "Closed branch" not in names
    # Another tenant's profile is its own.
    other = (await gql(PROFILE, tenant=B))["data"]["tenantProfile"]
    assert other["slug"] == B and other["name"] != "West NIPT Clinic"


async def test_profile_exposes_no_subscription_limits_usage_or_domains(demo, gql: GraphQLClient):
    profile_type = served_schema._schema.type_map["TenantProfile"]
    assert set(profile_type.fields) == {
        "slug",
        "name",
        "timezone",
        "language",
        "currency",
        "branding",
        "bookingPolicy",
        "services",
        "locations",
    }
    for field in (
        "subscription { planKey }",
        "limits { maxUsers }",
        "usage { users }",
        "domains",
        "statusReason",
        "settings { emailSender }",
        "id",
    ):
        result = await gql(f"{{ tenantProfile {{ {field} }} }}", tenant=A)
        assert error_codes(result) == ["GRAPHQL_VALIDATION_FAILED"], field
    # The full tenant type is not for anonymous callers.
    for field in ("subscription { planKey }", "limits { maxUsers }", "usage { users }", "domains"):
        result = await gql(f"{{ tenant {{ {field} }} }}", tenant=A)
        assert error_codes(result) == ["UNAUTHENTICATED"], field
        assert result["data"] == {"tenant": None}  # nullable root field (issue 12)
    assert error_codes(await gql(PROFILE)) == ["TENANT_REQUIRED"]
