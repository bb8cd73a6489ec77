"""Checkout and portal: one customer per tenant, never another tenant's, idempotency keys
stored before the first attempt; plan changes through Stripe with the limit check."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from billing import checkout
from billing.service import Billing
from tenancy import lifecycle
from tenancy.errors import AppError, ErrorCode
from tenancy.models import BillingCycle, Role, TenantStatus
from tenancy.runtime import Runtime
from tests.billing_support import (
    PASSWORD,
    billing,
    deliver,
    fake_stripe,
    make_tenant,
    owner_token,
    reload,
    settings,
)
from tests.conftest import GraphQLClient, error_codes
from tests.fake_stripe import FakeStripe

__all__ = ["billing", "fake_stripe", "settings"]

CHECKOUT = """mutation($plan: String!, $cycle: BillingCycle!) {
  startCheckout(planKey: $plan, billingCycle: $cycle) { url userErrors { field code message } } }"""
PORTAL = "mutation { billingPortalUrl { url userErrors { code message } } }"
CHANGE = """mutation($plan: String!) { changePlan(planKey: $plan) {
  stripeStatus tenant { subscription { planKey } } userErrors { field code message } } }"""


def _session(fake: FakeStripe, url: str) -> dict:
    return next(s for s in fake.sessions.values() if s["url"] == url)


async def test_checkout_is_a_subscription_session_of_the_tenants_own_customer(
    runtime: Runtime, gql: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    tenant = await make_tenant(runtime, "checkout-clinic")
    token = await owner_token(gql, runtime, tenant)
    result = await gql(
        CHECKOUT, {"plan": "professional", "cycle": "YEARLY"}, tenant=tenant.slug, token=token
    )
    payload = result["data"]["startCheckout"]
    assert payload["userErrors"] == [] and payload["url"].startswith("https://checkout.")
    session = _session(fake_stripe, payload["url"])
    assert session["mode"] == "subscription"
    assert session["client_reference_id"] == str(tenant.id)
    assert session["line_items"] == [{"price": "price_professional_y", "quantity": "1"}]
    assert session["subscription_data"]["metadata"]["tenant_id"] == str(tenant.id)
    assert int(session["subscription_data"]["trial_end"]) > 0  # the trial carries over
    customer = fake_stripe.customers[session["customer"]]
    assert customer["metadata"]["tenant_id"] == str(tenant.id)
    assert customer["email"] == "owner@checkout-clinic.example.com"
    stored = await reload(runtime, tenant)
    assert stored.subscription.stripe_customer_id == customer["id"]

    # A second checkout reuses the customer; the portal opens for it.
    again = await gql(
        CHECKOUT, {"plan": "starter", "cycle": "MONTHLY"}, tenant=tenant.slug, token=token
    )
    assert (
        _session(fake_stripe, again["data"]["startCheckout"]["url"])["customer"] == customer["id"]
    )
    portal = (await gql(PORTAL, tenant=tenant.slug, token=token))["data"]["billingPortalUrl"]
    assert portal["userErrors"] == [] and portal["url"].startswith("https://billing.")


async def test_every_stripe_post_carries_a_key_stored_before_it(
    runtime: Runtime, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant = await make_tenant(runtime, "keyed-clinic")
    before = len(fake_stripe.requests)
    await checkout.start_checkout(billing, tenant, "starter", BillingCycle.MONTHLY, "test")
    await checkout.billing_portal_url(billing, tenant)
    posts = [r for r in fake_stripe.requests[before:] if r.method == "POST"]
    assert [r.path for r in posts] == [
        "/v1/customers",
        "/v1/checkout/sessions",
        "/v1/billing_portal/sessions",
    ]
    stored = await billing.store.idempotency_keys()
    assert all(r.idempotency_key in stored.values() for r in posts)
    assert stored[f"customer:{tenant.id}"] == posts[0].idempotency_key


async def test_a_customer_created_but_not_recorded_is_not_created_twice(
    runtime: Runtime, fake_stripe: FakeStripe, billing: Billing
) -> None:
    """A crash after Stripe made the customer and before it was stored: the retry sends
    the same stored key, and Stripe answers with the same customer."""
    tenant = await make_tenant(runtime, "crashy-clinic")
    first = await checkout.ensure_customer(billing, tenant)
    await billing.store.set_account(tenant.id, {"customer_id": None})  # the lost write
    await runtime.store.update_tenant(tenant.id, {"subscription.stripe_customer_id": None})
    assert await checkout.ensure_customer(billing, await reload(runtime, tenant)) == first
    created = [
        c for c in fake_stripe.customers.values() if c["metadata"]["tenant_id"] == str(tenant.id)
    ]
    assert len(created) == 1


async def test_tenant_a_checkout_never_names_tenant_bs_customer(
    runtime: Runtime, fake_stripe: FakeStripe, billing: Billing
) -> None:
    a = await make_tenant(runtime, "tenant-a")
    b = await make_tenant(runtime, "tenant-b")
    urls = await asyncio.gather(
        *(
            checkout.start_checkout(billing, t, "starter", BillingCycle.MONTHLY, "test")
            for t in (a, b, a, b, a, b)
        )
    )
    for tenant, url in zip((a, b, a, b, a, b), urls, strict=True):
        session = _session(fake_stripe, url)
        assert session["client_reference_id"] == str(tenant.id)
        owner = fake_stripe.customers[session["customer"]]["metadata"]["tenant_id"]
        assert owner == str(tenant.id)
    customers = {_session(fake_stripe, url)["customer"] for url in urls}
    assert len(customers) == 2  # one each, however many concurrent checkouts


async def test_checkout_refusals(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant = await make_tenant(runtime, "refused-clinic")
    with pytest.raises(AppError) as unknown:
        await checkout.start_checkout(billing, tenant, "platinum", BillingCycle.MONTHLY, "t")
    assert (unknown.value.code, unknown.value.field) == (ErrorCode.VALIDATION_FAILED, ["planKey"])
    url = await checkout.start_checkout(billing, tenant, "starter", BillingCycle.MONTHLY, "t")
    sub = fake_stripe.complete_checkout(_session(fake_stripe, url)["id"])
    await deliver(client, fake_stripe.event("customer.subscription.created", sub))
    with pytest.raises(AppError) as twice:
        await checkout.start_checkout(billing, tenant, "starter", BillingCycle.MONTHLY, "t")
    assert twice.value.code == ErrorCode.INVALID_TRANSITION


async def test_staff_cannot_start_a_checkout(
    runtime: Runtime, gql: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    tenant = await make_tenant(runtime, "staff-clinic")
    staff = await lifecycle.create_user(
        runtime, tenant, email="staff@staff-clinic.example.com", name="Staff",
        role=Role.STAFF, password=PASSWORD, actor="test",
    )  # fmt: skip
    token = gql.tokens.issue(staff, tenant)[0]
    result = await gql(
        CHECKOUT, {"plan": "starter", "cycle": "MONTHLY"}, tenant=tenant.slug, token=token
    )
    assert error_codes(result) == ["FORBIDDEN"]


# -- plan changes -----------------------------------------------------------------


async def test_a_downgrade_below_current_usage_is_refused_naming_what_to_reduce(
    runtime: Runtime,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    billing: Billing,
) -> None:
    tenant = await make_tenant(runtime, "big-clinic", plan="professional")
    url = await checkout.start_checkout(billing, tenant, "professional", BillingCycle.MONTHLY, "t")
    sub = fake_stripe.complete_checkout(_session(fake_stripe, url)["id"])
    await deliver(client, fake_stripe.event("customer.subscription.created", sub))
    for n in range(3):  # 4 users; starter allows 3
        await lifecycle.create_user(
            runtime, tenant, email=f"u{n}@big-clinic.example.com", name=f"U{n}",
            role=Role.STAFF, password=PASSWORD, actor="test",
        )  # fmt: skip
    token = await owner_token(gql, runtime, tenant)
    refused = (await gql(CHANGE, {"plan": "starter"}, tenant=tenant.slug, token=token))["data"]
    [error] = refused["changePlan"]["userErrors"]
    assert error["code"] == "PLAN_LIMIT_EXCEEDED"
    assert "3 users (you have 4: deactivate 1)" in error["message"]
    item = fake_stripe.subscriptions[sub["id"]]["items"]["data"][0]
    assert item["price"]["id"] == "price_professional_m"  # nothing asked of Stripe

    # An upgrade goes to Stripe; limits follow only once Stripe's webhook confirms it.
    upgraded = (await gql(CHANGE, {"plan": "enterprise"}, tenant=tenant.slug, token=token))["data"]
    assert upgraded["changePlan"]["userErrors"] == []
    assert item["price"]["id"] == "price_enterprise_m"
    pending = await reload(runtime, tenant)
    assert (pending.subscription.plan_key, pending.limits.max_users) == ("professional", 10)
    await deliver(client, fake_stripe.event("customer.subscription.updated", sub))
    confirmed = await reload(runtime, tenant)
    assert (confirmed.subscription.plan_key, confirmed.limits.max_users) == ("enterprise", 100)
    assert confirmed.status == TenantStatus.TRIAL  # still in the trial that carried over


async def test_changing_the_plan_needs_a_subscription(
    runtime: Runtime, gql: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    tenant = await make_tenant(runtime, "nosub-clinic")
    token = await owner_token(gql, runtime, tenant)
    result = (await gql(CHANGE, {"plan": "enterprise"}, tenant=tenant.slug, token=token))["data"]
    assert [e["code"] for e in result["changePlan"]["userErrors"]] == ["BILLING_DISABLED"]


CANCEL = """mutation($end: Boolean!) { cancelSubscription(atPeriodEnd: $end) {
  cancelAtPeriodEnd stripeStatus userErrors { code message } } }"""


async def test_cancel_at_period_end_and_undo_through_the_api(
    runtime: Runtime,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    billing: Billing,
) -> None:
    tenant = await make_tenant(runtime, "undo-clinic")
    token = await owner_token(gql, runtime, tenant)
    portal = (await gql(PORTAL, tenant=tenant.slug, token=token))["data"]["billingPortalUrl"]
    assert [e["code"] for e in portal["userErrors"]] == ["BILLING_DISABLED"]  # no customer yet
    url = await checkout.start_checkout(billing, tenant, "starter", BillingCycle.MONTHLY, "t")
    sub = fake_stripe.complete_checkout(_session(fake_stripe, url)["id"])
    await deliver(client, fake_stripe.event("customer.subscription.created", sub))
    cancelled = await gql(CANCEL, {"end": True}, tenant=tenant.slug, token=token)
    assert cancelled["data"]["cancelSubscription"] == {
        "cancelAtPeriodEnd": True,
        "stripeStatus": "trialing",
        "userErrors": [],
    }
    undone = await gql(CANCEL, {"end": False}, tenant=tenant.slug, token=token)
    assert undone["data"]["cancelSubscription"]["cancelAtPeriodEnd"] is False
    assert fake_stripe.subscriptions[sub["id"]]["cancel_at_period_end"] is False
    assert (await reload(runtime, tenant)).status == TenantStatus.TRIAL
