"""Feature flags (issue 11, item 6): deterministic bucketing, the evaluation order (deny list,
allow list, plan, role, rollout), super-admins manage flags, any caller of a tenant reads
its evaluated flags, imported legacy flags evaluate as they are."""

from __future__ import annotations

from bson import ObjectId

from tenancy import feature_flags
from tenancy.feature_flags import FeatureFlag, FlagConfig, bucket, evaluate
from tenancy.runtime import Runtime
from tests.accounts_support import PASSWORD, login, tenant_with_admin
from tests.conftest import GraphQLClient, error_codes

FEATURES = "{ features { key enabled } }"
CREATE = """
mutation($key: String!, $input: FeatureFlagInput!) {
  createFeatureFlag(key: $key, input: $input) {
    flag { key status rolloutPercentage allowTenants } userErrors { field code message }
  }
}"""
UPDATE = """
mutation($key: String!, $input: FeatureFlagInput!) {
  updateFeatureFlag(key: $key, input: $input) { flag { key status } userErrors { code } }
}"""
AUDIT = """{ auditLog(first: 5, filter: { action: "flag." }) {
  edges { node { action target changes { field before after } } } } }"""


def test_bucketing_is_stable_and_close_to_the_percentage_over_10000_tenants():
    tenants = [str(ObjectId()) for _ in range(10_000)]
    assert [bucket("new_ui", t) for t in tenants[:100]] == [
        bucket("new_ui", t) for t in tenants[:100]
    ]
    assert bucket("new_ui", "65f000000000000000000001") == bucket(
        "new_ui", "65f000000000000000000001"
    )  # a pure function of key + tenant id: the same in every process
    for percentage in (1, 10, 25, 50, 90):
        flag = FeatureFlag(
            key="new_ui", status="enabled", config=FlagConfig(rollout_percentage=percentage)
        )
        on = sum(
            evaluate(flag, tenant_slug="t", tenant_id=t, plan_rank=0, required_rank=None, role=None)
            for t in tenants
        )
        assert abs(on / 100 - percentage) < 1.5, (percentage, on)
    # Raising the percentage only adds tenants (a bucket below 10% stays below 25%).
    ten = {t for t in tenants if bucket("new_ui", t) < 1000}
    quarter = {t for t in tenants if bucket("new_ui", t) < 2500}
    assert ten < quarter
    # Another flag buckets the same tenants differently.
    assert {t for t in tenants if bucket("other", t) < 1000} != ten


def test_the_evaluation_order():
    def on(
        flag: FeatureFlag, slug: str = "acme", plan: int = 1, role: str | None = "admin"
    ) -> bool:
        return evaluate(
            flag,
            tenant_slug=slug,
            tenant_id="65f000000000000000000001",
            plan_rank=plan,
            required_rank=1,
            role=role,
        )

    everyone = FlagConfig(rollout_percentage=100)
    flag = FeatureFlag(key="f", status="enabled", config=everyone)
    assert on(flag)
    denied = everyone.model_copy(
        update={"blacklist_tenants": ["acme"], "whitelist_tenants": ["acme"]}
    )
    assert not on(flag.model_copy(update={"config": denied}))  # deny beats allow
    allowed = FlagConfig(rollout_percentage=0, whitelist_tenants=["acme"], requires_package="pro")
    dev = FeatureFlag(key="f", status="development", enabled_for_roles=["admin"], config=allowed)
    assert on(dev, plan=0, role=None)  # allow beats status, plan, role and rollout
    assert not on(dev, slug="other")
    assert not on(FeatureFlag(key="f", status="disabled", config=allowed))  # disabled: nobody
    planned = everyone.model_copy(update={"requires_package": "pro"})
    assert not on(flag.model_copy(update={"config": planned}), plan=0)
    assert on(flag.model_copy(update={"config": planned}), plan=2)  # a higher plan
    roles = flag.model_copy(update={"enabled_for_roles": ["admin"]})
    assert on(roles) and not on(roles, role="staff") and not on(roles, role=None)


async def test_super_admins_manage_flags_and_tenants_read_them(
    runtime: Runtime, gql: GraphQLClient
):
    from tenancy import lifecycle

    await tenant_with_admin(runtime, "flagged")
    await lifecycle.create_super_admin(
        runtime, email="root@platform.example.com", name="Root", password=PASSWORD, actor="t"
    )
    root, _ = await login(gql, "root@platform.example.com", None)
    admin, _ = await login(gql, "admin@flagged.example.com", "flagged")
    made = await gql(
        CREATE,
        {"key": "beta_reports", "input": {"status": "enabled", "allowTenants": ["flagged"]}},
        token=root,
    )
    assert made["data"]["createFeatureFlag"]["userErrors"] == []
    bad = await gql(CREATE, {"key": "x y", "input": {}}, token=root)
    assert [e["code"] for e in bad["data"]["createFeatureFlag"]["userErrors"]] == [
        "VALIDATION_FAILED"
    ]
    # Tenant admins may not manage flags, but read theirs; so may anonymous callers.
    assert error_codes(await gql(CREATE, {"key": "mine", "input": {}}, token=admin)) == [
        "FORBIDDEN"
    ]
    assert (await gql(FEATURES, token=admin))["data"]["features"] == [
        {"key": "beta_reports", "enabled": True}
    ]
    anonymous = await gql(FEATURES, tenant="flagged")
    assert anonymous["data"]["features"] == [{"key": "beta_reports", "enabled": True}]
    changed = await gql(
        UPDATE, {"key": "beta_reports", "input": {"denyTenants": ["flagged"]}}, token=root
    )
    assert changed["data"]["updateFeatureFlag"]["userErrors"] == []
    assert (await gql(FEATURES, token=admin))["data"]["features"][0]["enabled"] is False
    log = (await gql(AUDIT, token=root))["data"]["auditLog"]["edges"]
    assert log[0]["node"]["action"] == "flag.update"
    assert log[0]["node"]["changes"] == [
        {"field": "config.blacklist_tenants", "before": [], "after": ["flagged"]}
    ]
    missing = await gql(UPDATE, {"key": "nope", "input": {"status": "enabled"}}, token=root)
    assert missing["data"]["updateFeatureFlag"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_imported_legacy_flags_evaluate_as_they_are(runtime: Runtime):
    tenant = await tenant_with_admin(runtime, "quattro-stand")
    legacy = {
        "_id": ObjectId(),
        "key": "demo_module",
        "name": "Demo Modülü",
        "status": "development",
        "enabled_for_roles": ["super_admin", "admin"],
        "config": {
            "rollout_percentage": 0,
            "whitelist_tenants": ["quattro-stand"],
            "blacklist_tenants": [],
            "requires_package": None,
        },
        "legacy_source": "crm_db.feature_flags",
    }
    pro_only = {
        **legacy,
        "_id": ObjectId(),
        "key": "customer_module_v2",
        "status": "enabled",
        "config": {
            **legacy["config"],
            "whitelist_tenants": [],
            "rollout_percentage": 100,
            "requires_package": "professional",
        },
    }
    await runtime.store.db["feature_flags"].insert_many([legacy, pro_only])
    assert await feature_flags.evaluate_all(runtime, tenant, "admin") == {
        "customer_module_v2": False,  # starter is below professional
        "demo_module": True,  # allow-listed while in development
    }
    upgraded = await runtime.store.update_tenant(tenant.id, {"subscription.plan_key": "enterprise"})
    assert await feature_flags.evaluate_all(runtime, upgraded, "admin") == {
        "customer_module_v2": True,
        "demo_module": True,
    }
    assert (await feature_flags.evaluate_all(runtime, upgraded, "staff"))[
        "customer_module_v2"
    ] is False
