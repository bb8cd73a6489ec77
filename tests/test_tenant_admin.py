"""Super-admin tenant lifecycle over GraphQL, provisioning and plan limits for users."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.collections import TENANT_INDEXES
from tenancy.errors import AppError, ErrorCode
from tenancy.models import Role
from tests.conftest import GraphQLClient, error_codes

CREATE = """
mutation($input: CreateTenantInput!) {
  createTenant(input: $input) {
    tenant { slug name status domains subscription { planKey status trialEndsAt currentPeriodStart }
             limits { maxUsers maxCustomers } settings { timezone confirmationPrefix } }
    userErrors { field code message }
  }
}"""


def new_tenant(**overrides) -> dict:
    return {
        "slug": "acme-dental",
        "name": "Acme Dental",
        "ownerEmail": "owner@acme-dental.com",
        "ownerName": "Ada Owner",
        "ownerPassword": "correct horse battery",
        "planKey": "starter",
        "domains": ["booking.acme-dental.com"],
        **overrides,
    }


async def root(gql: GraphQLClient) -> str:
    return await gql.token(None, Role.SUPER_ADMIN)


async def test_create_tenant_provisions_everything(demo, gql: GraphQLClient):
    result = await gql(CREATE, {"input": new_tenant()}, token=await root(gql))
    payload = result["data"]["createTenant"]
    assert payload["userErrors"] == []
    tenant = payload["tenant"]
    assert tenant["status"] == "TRIAL"
    assert tenant["limits"] == {"maxUsers": 3, "maxCustomers": 200}
    assert tenant["settings"] == {"timezone": "Europe/Istanbul", "confirmationPrefix": "AC"}
    assert tenant["subscription"]["planKey"] == "starter"
    assert tenant["subscription"]["status"] == "TRIALING"

    record = await demo.store.tenant_by_slug("acme-dental")
    assert record.database.name == "t_acme-dental"
    assert record.subscription.trial_ends_at - record.created_at >= timedelta(days=14) - timedelta(
        seconds=5
    )
    db = demo.tenant_database(record)
    names = set(await db.list_collection_names())
    assert set(TENANT_INDEXES) <= names
    indexes = await db["customers"].index_information()
    assert indexes["email_unique"]["unique"] is True

    login = await gql(
        'mutation { login(email: "owner@acme-dental.com", password: "correct horse battery", '
        'tenant: "acme-dental") { token user { role } } }'
    )
    assert login["data"]["login"]["user"] == {"role": "ADMIN"}
    by_domain = await gql("{ services { code } }", headers={"host": "booking.acme-dental.com"})
    assert by_domain["data"] == {"services": []}  # (extensions.cost: issue 12)
    assert "errors" not in by_domain


async def test_create_tenant_validation(demo, gql: GraphQLClient):
    token = await root(gql)
    cases = [
        ({"slug": "admin"}, ["input", "slug"], "VALIDATION_FAILED"),
        ({"slug": "Bad_Slug"}, ["input", "slug"], "VALIDATION_FAILED"),
        ({"slug": "west-nipt"}, ["input", "slug"], "ALREADY_EXISTS"),
        ({"ownerEmail": "not-an-email"}, ["input", "ownerEmail"], "VALIDATION_FAILED"),
        ({"ownerPassword": "short"}, ["input", "ownerPassword"], "VALIDATION_FAILED"),
        ({"planKey": "gold"}, ["input", "planKey"], "VALIDATION_FAILED"),
        ({"timezone": "Mars/Olympus"}, ["input", "timezone"], "VALIDATION_FAILED"),
        ({"domains": ["westesti.com"]}, ["input", "domains"], "ALREADY_EXISTS"),
        ({"domains": ["x.example.test"]}, ["input", "domains"], "VALIDATION_FAILED"),
    ]
    for overrides, field, code in cases:
        result = await gql(CREATE, {"input": new_tenant(**overrides)}, token=token)
        errors = result["data"]["createTenant"]["userErrors"]
        assert [(e["field"], e["code"]) for e in errors] == [(field, code)], overrides
        assert errors[0]["message"]
    assert await demo.store.tenant_by_slug("acme-dental") is None
    assert await demo.store.slug_for_domain("westesti.com") == "west-nipt"


async def test_tenant_admin_cannot_create_tenants(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")
    result = await gql(CREATE, {"input": new_tenant()}, token=token)
    assert error_codes(result) == ["FORBIDDEN"]


async def test_tenants_connection_filters_and_pages(demo, gql: GraphQLClient):
    token = await root(gql)
    query = """query($first: Int, $after: String, $filter: TenantFilter) {
      tenants(first: $first, after: $after, filter: $filter) {
        totalCount edges { node { slug status } } pageInfo { hasNextPage endCursor } } }"""
    suspended = await gql(query, {"filter": {"status": "SUSPENDED"}}, token=token)
    assert [e["node"]["slug"] for e in suspended["data"]["tenants"]["edges"]] == ["omega-nipt"]
    pro = await gql(query, {"filter": {"planKey": "professional"}}, token=token)
    assert pro["data"]["tenants"]["totalCount"] == 2
    seen, after = [], None
    while True:
        page = (await gql(query, {"first": 1, "after": after}, token=token))["data"]["tenants"]
        seen += [e["node"]["slug"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == ["omega-nipt", "quattro-stand", "tromb-screening", "west-nipt"]


async def test_update_tenant_changes_plan_and_limits(demo, gql: GraphQLClient):
    token = await root(gql)
    result = await gql(
        'mutation { updateTenant(slug: "tromb-screening", input: {planKey: "enterprise", '
        'name: "Omega Trombofili A.Ş.", domains: ["trombofili.com", "www.trombofili.com"]}) '
        "{ tenant { name subscription { planKey } limits { maxUsers } domains } "
        "userErrors { code } } }",
        token=token,
    )
    assert result["data"]["updateTenant"]["tenant"] == {
        "name": "Omega Trombofili A.Ş.",
        "subscription": {"planKey": "enterprise"},
        "limits": {"maxUsers": 100},
        "domains": ["trombofili.com", "www.trombofili.com"],
    }
    assert await demo.store.slug_for_domain("www.trombofili.com") == "tromb-screening"


async def test_reactivate_only_from_suspended(demo, gql: GraphQLClient):
    result = await gql(
        'mutation { reactivateTenant(slug: "west-nipt") '
        "{ tenant { status } userErrors { code message } } }",
        token=await root(gql),
    )
    errors = result["data"]["reactivateTenant"]["userErrors"]
    assert [e["code"] for e in errors] == ["INVALID_TRANSITION"]


CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { email role } userErrors { field code message } } }"""


async def test_user_plan_limit(demo, gql: GraphQLClient):
    # tromb-screening is on starter: 3 users, and the demo already has admin, staff, viewer.
    token = await gql.token("tromb-screening")
    result = await gql(
        CREATE_USER,
        {
            "input": {
                "email": "fourth@trombofili.com",
                "name": "Four",
                "role": "STAFF",
                "password": "long enough pw",
            }
        },
        token=token,
    )
    errors = result["data"]["createUser"]["userErrors"]
    assert [e["code"] for e in errors] == ["PLAN_LIMIT_EXCEEDED"]
    assert "3 users" in errors[0]["message"]
    tenant = await demo.store.tenant_by_slug("tromb-screening")
    assert await demo.store.count_users(tenant.id) == 3


async def test_create_user_within_limit_and_duplicate(demo, gql: GraphQLClient):
    token = await gql.token("west-nipt")  # professional: 10 users
    variables = {
        "input": {
            "email": "New@westesti.com",
            "name": "New",
            "role": "VIEWER",
            "password": "long enough pw",
        }
    }
    first = await gql(CREATE_USER, variables, token=token)
    assert first["data"]["createUser"]["user"] == {"email": "New@westesti.com", "role": "VIEWER"}
    variables["input"]["email"] = "new@WESTESTI.com"
    again = await gql(CREATE_USER, variables, token=token)
    assert [e["code"] for e in again["data"]["createUser"]["userErrors"]] == ["ALREADY_EXISTS"]


async def test_tenant_query_shows_usage(demo, gql: GraphQLClient):
    token = await gql.token("quattro-stand", Role.VIEWER)
    result = await gql(
        "{ tenant { slug usage { users customers } limits { maxCustomers } } }", token=token
    )
    assert result["data"]["tenant"] == {
        "slug": "quattro-stand",
        "usage": {"users": 3, "customers": 3},
        "limits": {"maxCustomers": 50000},
    }


async def test_user_plan_limit_holds_under_concurrency(demo, gql: GraphQLClient, monkeypatch):
    """Twelve concurrent createUser calls against a limit of 10 (3 users exist): exactly 7 win."""
    import asyncio

    from tenancy.platform import PlatformStore

    real_count = PlatformStore.count_users

    async def count_with_round_trip(self, tenant_id):
        n = await real_count(self, tenant_id)
        await asyncio.sleep(0.001)  # a network round-trip: lets the requests interleave
        return n

    monkeypatch.setattr(PlatformStore, "count_users", count_with_round_trip)
    token = await gql.token("west-nipt")  # professional: 10 users
    results = await asyncio.gather(
        *[
            gql(
                CREATE_USER,
                {
                    "input": {
                        "email": f"user{i}@westesti.com",
                        "name": "U",
                        "role": "STAFF",
                        "password": "long enough pw",
                    }
                },
                token=token,
            )
            for i in range(12)
        ]
    )
    payloads = [r["data"]["createUser"] for r in results]
    assert sum(1 for p in payloads if p["user"]) == 7
    assert {e["code"] for p in payloads for e in p["userErrors"]} == {"PLAN_LIMIT_EXCEEDED"}
    tenant = await demo.store.tenant_by_slug("west-nipt")
    assert await real_count(demo.store, tenant.id) == 10


async def test_platform_stats(demo, gql: GraphQLClient):
    result = await gql(
        "{ platformStats { tenants tenantsByStatus { key count } tenantsByPlan { key count } "
        "activeUsers } }",
        token=await root(gql),
    )
    assert result["data"]["platformStats"] == {
        "tenants": 4,
        "tenantsByStatus": [{"key": "active", "count": 3}, {"key": "suspended", "count": 1}],
        "tenantsByPlan": [
            {"key": "enterprise", "count": 1},
            {"key": "professional", "count": 2},
            {"key": "starter", "count": 1},
        ],
        "activeUsers": 12,
    }
    staff = await gql("{ platformStats { tenants } }", token=await gql.token("west-nipt"))
    assert error_codes(staff) == ["FORBIDDEN"]


DELETE = """mutation($slug: String!, $confirm: String!) {
  deleteTenant(slug: $slug, confirmSlug: $confirm) {
    tenant { status } steps { name status } userErrors { field code message } } }"""


async def test_delete_tenant_mutation(demo, gql: GraphQLClient, tmp_path):
    demo.settings = demo.settings.model_copy(
        update={"backup_dir": tmp_path, "tenant_cache_ttl_seconds": 0}
    )
    token = await root(gql)
    refused = await gql(DELETE, {"slug": "quattro-stand", "confirm": "quattro"}, token=token)
    payload = refused["data"]["deleteTenant"]
    assert [e["code"] for e in payload["userErrors"]] == ["VALIDATION_FAILED"]
    assert (await demo.store.tenant_by_slug("quattro-stand")).status == "active"

    done = await gql(DELETE, {"slug": "quattro-stand", "confirm": "quattro-stand"}, token=token)
    payload = done["data"]["deleteTenant"]
    assert payload["userErrors"] == []
    assert payload["tenant"] == {"status": "DELETED"}
    assert [s["name"] for s in payload["steps"]] == [
        "enter maintenance",
        "backup",
        "mark deleted",
        "drop database",
    ]
    assert len(list(tmp_path.iterdir())) == 1  # the backup export
    gone = await gql("{ services { name } }", tenant="quattro-stand")
    assert error_codes(gone) == ["TENANT_INACTIVE"]


async def test_activation_that_ends_a_trial_is_the_reactivation_service(demo):
    """The legacy importer activates an existing customer's tenant through the same
    service as reactivateTenant; only with end_trial does a trial become active."""
    from tenancy import lifecycle
    from tenancy.models import SubscriptionStatus, TenantStatus

    tenant = await lifecycle.provision_tenant(
        demo,
        lifecycle.ProvisionRequest(
            slug="imported-clinic",
            name="Imported",
            owner_email="o@imported.example",
            owner_name="O",
            owner_password="owner-pass-123",
        ),
        actor="t",
    )
    assert tenant.status == TenantStatus.TRIAL
    with pytest.raises(AppError) as refused:  # plain reactivation needs a suspended tenant
        await lifecycle.set_tenant_status(demo, tenant.slug, TenantStatus.ACTIVE, None, "t")
    assert refused.value.code == ErrorCode.INVALID_TRANSITION
    active = await lifecycle.set_tenant_status(
        demo, tenant.slug, TenantStatus.ACTIVE, "existing customer", "t", end_trial=True
    )
    assert active.status == TenantStatus.ACTIVE
    assert active.subscription.status == SubscriptionStatus.ACTIVE
    entry = await demo.store.has_audit_entry("tenant.active", tenant.slug, "t")
    assert entry
