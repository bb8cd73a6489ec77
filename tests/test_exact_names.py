"""Names are exact (hardening item 4): full-match validation, IDNA domains, ASCII slugs."""

from __future__ import annotations

import pytest

from migrations.platform import m0003_ascii_custom_domains
from tenancy import lifecycle
from tenancy.errors import AppError, ErrorCode
from tenancy.hostnames import check_custom_domain, host_from_header
from tenancy.naming import validate_slug
from tenancy.settings import Settings
from tenancy.validation import check_email
from tests.conftest import GraphQLClient, error_codes

BASE = "example.test"
SERVICES = "{ services { code } }"


@pytest.mark.parametrize("slug", ["west-nipt\n", "west-nipt\r\n", "\nwest-nipt", "west-nipt "])
def test_slug_with_trailing_newline_is_refused(slug: str):
    with pytest.raises(AppError) as caught:
        validate_slug(slug)
    assert caught.value.code == ErrorCode.VALIDATION_FAILED


@pytest.mark.parametrize("email", ["admin@west-nipt.example.com\n", "a@b.co\r", "a\t@b.co"])
def test_email_with_control_characters_is_refused(email: str):
    with pytest.raises(AppError) as caught:
        check_email(email)
    assert caught.value.code == ErrorCode.VALIDATION_FAILED


def test_email_surrounding_spaces_are_trimmed():
    assert check_email("  a@b.co ") == "a@b.co"


def test_db_prefix_with_trailing_newline_is_refused():
    with pytest.raises(ValueError, match="tenant_db_prefix"):
        Settings(_env_file=None, tenant_db_prefix="t_\n")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Bücher.Example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("WWW.Clinic.COM.", "www.clinic.com"),
        ("müller-klinik.de", "xn--mller-klinik-dlb.de"),
    ],
)
def test_custom_domains_are_stored_as_punycode(raw: str, stored: str):
    assert check_custom_domain(raw, BASE, ["domains"]) == stored


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("127.0.0.1", "IP address"),
        ("10.1.2.3", "IP address"),
        ("::1", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("localhost", "local name"),
        ("app.localhost", "local name"),
        ("intranet", "two labels"),
        ("clinic.com\n", "not a valid hostname"),
        ("clinic .com", "not a valid hostname"),
        ("under_score.com", "not a valid hostname"),
        ("-bad.com", "not a valid hostname"),
        ("a" * 64 + ".com", "not a valid hostname"),
        ("west.example.test", "platform domain"),
        ("EXAMPLE.test", "platform domain"),
    ],
)
def test_bad_custom_domains_are_refused(raw: str, reason: str):
    with pytest.raises(AppError) as caught:
        check_custom_domain(raw, BASE, ["input", "domains"])
    assert caught.value.code == ErrorCode.VALIDATION_FAILED
    assert caught.value.field == ["input", "domains"]
    assert reason in caught.value.message


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("xn--bcher-kva.example:8443", "xn--bcher-kva.example"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("Clinic.COM.", "clinic.com"),
        ("[::1]:8000", "::1"),
        ("bad host", None),
    ],
)
def test_host_header_normalisation(header: str, host: str | None):
    assert host_from_header(header) == host


async def test_unicode_domain_matches_the_browsers_punycode_host(demo, gql: GraphQLClient):
    await lifecycle.update_tenant(
        demo,
        "west-nipt",
        lifecycle.TenantUpdate(domains=["westesti.com", "Bücher-Klinik.example"]),
        "test",
    )
    tenant = await demo.store.tenant_by_slug("west-nipt")
    assert tenant.domains == ["westesti.com", "xn--bcher-klinik-dlb.example"]
    result = await gql(SERVICES, headers={"host": "xn--bcher-klinik-dlb.example"})
    assert sorted(s["code"] for s in result["data"]["services"]) == ["momguard", "verifi"]


async def test_ip_and_localhost_domains_are_refused_through_the_api(demo, gql: GraphQLClient):
    token = await gql.token(None)
    for domain in ("192.168.1.10", "localhost"):
        result = await gql(
            'mutation($d: [String!]!) { updateTenant(slug: "west-nipt", input: {domains: $d}) '
            "{ userErrors { field code message } } }",
            {"d": [domain]},
            token=token,
        )
        errors = result["data"]["updateTenant"]["userErrors"]
        assert [e["code"] for e in errors] == ["VALIDATION_FAILED"], domain
    assert await demo.store.slug_for_domain("westesti.com") == "west-nipt"


@pytest.mark.parametrize("slug", ["west-nip\u212a", "WEST-NIP\u212a", "west-nıpt"])
async def test_non_ascii_path_slugs_never_fold_into_a_tenant(demo, gql: GraphQLClient, slug):
    # U+212A KELVIN SIGN lowercases to "k"; the dotless i is a different letter.
    result = await gql(SERVICES, tenant=slug)
    assert error_codes(result) == ["TENANT_NOT_FOUND"]
    header = await gql(SERVICES, headers={"x-tenant": slug.encode()})  # type: ignore[dict-item]
    assert error_codes(header) == ["TENANT_NOT_FOUND"]


async def test_non_ascii_login_tenant_argument_is_not_folded(demo, gql: GraphQLClient):
    result = await gql(
        'mutation { login(email: "admin@west-nipt.example.com", password: "demo-password", '
        'tenant: "west-nip\u212a") { token userErrors { code } } }'
    )
    assert error_codes(result) == ["TENANT_NOT_FOUND"]


async def test_uppercase_ascii_path_slug_still_resolves(demo, gql: GraphQLClient):
    result = await gql(SERVICES, tenant="West-NIPT")
    assert sorted(s["code"] for s in result["data"]["services"]) == ["momguard", "verifi"]


async def test_migration_0003_converts_stored_unicode_domains(runtime):
    db = runtime.store.db
    await db["tenant_domains"].insert_many(
        [
            {"_id": "bücher.example", "slug": "alpha"},
            {"_id": "plain.example", "slug": "alpha"},
        ]
    )
    tenant_id = (
        await db["tenants"].insert_one(
            {"slug": "alpha", "domains": ["plain.example", "bücher.example"]}
        )
    ).inserted_id
    await m0003_ascii_custom_domains.up(db)
    await m0003_ascii_custom_domains.up(db)  # idempotent
    ids = sorted(d["_id"] for d in await db["tenant_domains"].find({}).to_list(None))
    assert ids == ["plain.example", "xn--bcher-kva.example"]
    doc = await db["tenants"].find_one({"_id": tenant_id})
    assert doc["domains"] == ["plain.example", "xn--bcher-kva.example"]
