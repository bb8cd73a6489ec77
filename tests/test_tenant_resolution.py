"""Each way of resolving a tenant, and each resolution error code."""

from __future__ import annotations

import pytest

from tenancy import lifecycle
from tenancy.models import Role, TenantStatus
from tests.conftest import GraphQLClient, error_codes

SERVICES = "{ services { code } }"
WEST_CODES = ["momguard", "verifi"]


def codes(result: dict) -> list[str]:
    return sorted(s["code"] for s in result["data"]["services"])


async def test_path_prefix(demo, gql: GraphQLClient):
    assert codes(await gql(SERVICES, tenant="west-nipt")) == WEST_CODES


async def test_header(demo, gql: GraphQLClient):
    assert codes(await gql(SERVICES, header_tenant="west-nipt")) == WEST_CODES


async def test_subdomain_host(demo, gql: GraphQLClient):
    result = await gql(SERVICES, headers={"host": "west-nipt.example.test"})
    assert codes(result) == WEST_CODES


async def test_custom_domain_host(demo, gql: GraphQLClient):
    result = await gql(SERVICES, headers={"host": "westesti.com:443"})
    assert codes(result) == WEST_CODES


async def test_jwt_tenant_claim(demo, gql: GraphQLClient):
    token = await gql.token("tromb-screening", Role.VIEWER)
    result = await gql(SERVICES, token=token)
    assert codes(result) == ["f5l", "mthfr", "panel"]


async def test_no_tenant_where_one_is_needed(demo, gql: GraphQLClient):
    result = await gql(SERVICES)
    assert error_codes(result) == ["TENANT_REQUIRED"]


async def test_platform_queries_need_no_tenant(demo, gql: GraphQLClient):
    result = await gql("{ plans { key monthlyPrice { amountMinor currency amount } } }")
    assert result["data"]["plans"][0] == {
        "key": "starter",
        "monthlyPrice": {"amountMinor": 9900, "currency": "TRY", "amount": "99.00"},
    }


@pytest.mark.parametrize("how", ["path", "header", "host"])
async def test_unknown_tenant(demo, gql: GraphQLClient, how: str):
    kwargs = {
        "path": {"tenant": "no-such-tenant"},
        "header": {"header_tenant": "no-such-tenant"},
        "host": {"headers": {"host": "no-such-tenant.example.test"}},
    }[how]
    result = await gql(SERVICES, **kwargs)
    assert error_codes(result) == ["TENANT_NOT_FOUND"]
    assert result["data"] is None


async def test_unknown_custom_domain_is_no_tenant(demo, gql: GraphQLClient):
    result = await gql(SERVICES, headers={"host": "unknown-shop.com"})
    assert error_codes(result) == ["TENANT_REQUIRED"]


async def test_suspended_tenant_is_inactive_with_reason(demo, gql: GraphQLClient):
    result = await gql(SERVICES, tenant="omega-nipt")
    assert error_codes(result) == ["TENANT_INACTIVE"]
    assert "suspended" in result["errors"][0]["message"]
    assert "payment failed" in result["errors"][0]["message"]


async def test_cancelled_tenant_is_inactive(demo, gql: GraphQLClient):
    await lifecycle.set_tenant_status(
        demo, "tromb-screening", TenantStatus.CANCELLED, "closed", "t"
    )
    result = await gql(SERVICES, tenant="tromb-screening")
    assert error_codes(result) == ["TENANT_INACTIVE"]
    assert "cancelled" in result["errors"][0]["message"]


async def test_jwt_for_another_tenant_is_forbidden(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")
    for kwargs in ({"tenant": "quattro-stand"}, {"header_tenant": "quattro-stand"}):
        result = await gql(SERVICES, token=token, **kwargs)
        assert error_codes(result) == ["FORBIDDEN"], kwargs
        assert result["data"] is None


async def test_path_and_header_disagree(demo, gql: GraphQLClient):
    result = await gql(SERVICES, tenant="west-nipt", header_tenant="quattro-stand")
    assert error_codes(result) == ["FORBIDDEN"]


async def test_super_admin_token_may_act_in_any_tenant(demo, gql: GraphQLClient):
    token = await gql.token(None, Role.SUPER_ADMIN)
    result = await gql(
        "{ tenant { slug } customers { totalCount } }", token=token, tenant="quattro-stand"
    )
    assert result["data"] == {"tenant": {"slug": "quattro-stand"}, "customers": {"totalCount": 3}}


async def test_suspension_is_seen_at_once_despite_the_cache(demo, gql: GraphQLClient):
    assert codes(await gql(SERVICES, tenant="west-nipt")) == WEST_CODES  # now cached
    admin = await gql.token(None, Role.SUPER_ADMIN)
    result = await gql(
        'mutation { suspendTenant(slug: "west-nipt", reason: "fraud check") '
        "{ tenant { status statusReason } userErrors { code } } }",
        token=admin,
    )
    assert result["data"]["suspendTenant"]["tenant"] == {
        "status": "SUSPENDED",
        "statusReason": "fraud check",
    }
    refused = await gql(SERVICES, tenant="west-nipt")
    assert error_codes(refused) == ["TENANT_INACTIVE"]
    await gql('mutation { reactivateTenant(slug: "west-nipt") { tenant { status } } }', token=admin)
    assert codes(await gql(SERVICES, tenant="west-nipt")) == WEST_CODES


async def test_maintenance_refuses_writes_and_serves_reads(demo, gql: GraphQLClient):
    tenant = await demo.store.tenant_by_slug("west-nipt")
    await demo.store.update_tenant(tenant.id, {"maintenance": {"reason": "moving to eu-2"}})
    demo.registry.invalidate("west-nipt")
    token = await gql.token("west-nipt")
    read = await gql("{ customers { totalCount } }", tenant="west-nipt", token=token)
    assert read["data"]["customers"]["totalCount"] == 4
    write = await gql(
        'mutation { createCustomer(input: {name: "X"}) { customer { id } } }',
        tenant="west-nipt",
        token=token,
    )
    assert error_codes(write) == ["TENANT_MAINTENANCE"]
    assert await demo.tenant_database(tenant)["customers"].count_documents({"name": "X"}) == 0
