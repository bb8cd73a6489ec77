"""Done-when of issue 10: a trial tenant through checkout, a failed payment, suspension
and recovery, with the local fake Stripe API and signed webhooks, the API refusing then
serving the tenant."""

from __future__ import annotations

from datetime import timedelta

import httpx

from billing import worker
from billing.service import Billing
from tenancy.models import TenantStatus, utcnow
from tenancy.runtime import Runtime
from tests.billing_support import (
    billing,
    deliver,
    fake_stripe,
    make_tenant,
    outbox,
    owner_token,
    reload,
    settings,
)
from tests.conftest import GraphQLClient, error_codes
from tests.fake_stripe import FakeStripe

__all__ = ["billing", "fake_stripe", "settings"]

CHECKOUT = """mutation { startCheckout(planKey: "professional", billingCycle: MONTHLY) {
  url userErrors { code message } } }"""
TENANT = "{ tenant { status statusReason subscription { planKey status } limits { maxUsers } } }"


async def test_trial_checkout_failure_suspension_and_recovery(
    runtime: Runtime,
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    fake_stripe: FakeStripe,
    billing: Billing,
) -> None:
    tenant = await make_tenant(runtime, "e2e-clinic")
    token = await owner_token(gql, runtime, tenant)
    assert tenant.status == TenantStatus.TRIAL

    # Checkout: a Stripe Checkout URL for the tenant's own customer.
    started = await gql(CHECKOUT, tenant=tenant.slug, token=token)
    url = started["data"]["startCheckout"]["url"]
    assert started["data"]["startCheckout"]["userErrors"] == []
    session = next(s for s in fake_stripe.sessions.values() if s["url"] == url)
    assert session["client_reference_id"] == str(tenant.id)
    assert session["mode"] == "subscription"

    # The customer pays: Stripe's events arrive (checkout completed, invoice paid).
    sub = fake_stripe.complete_checkout(session["id"])
    first = fake_stripe.invoice(sub["id"], amount=29_900)
    fake_stripe.pay(first["id"])
    for event in (
        fake_stripe.event("checkout.session.completed", {**session, "subscription": sub["id"]}),
        fake_stripe.event("invoice.paid", fake_stripe.invoices[first["id"]]),
    ):
        assert (await deliver(client, event)).status_code == 200
    served = await gql(TENANT, tenant=tenant.slug, token=token)
    assert served["data"]["tenant"]["status"] == "ACTIVE"
    assert served["data"]["tenant"]["subscription"]["planKey"] == "professional"
    assert served["data"]["tenant"]["limits"]["maxUsers"] == 10

    # The next invoice's payment fails: past due, still served, one dunning email.
    second = fake_stripe.invoice(sub["id"], amount=29_900)
    fake_stripe.fail_payment(second["id"])
    failed = fake_stripe.event("invoice.payment_failed", fake_stripe.invoices[second["id"]])
    assert (await deliver(client, failed)).status_code == 200
    past_due = await gql(TENANT, tenant=tenant.slug, token=token)
    assert past_due["data"]["tenant"]["status"] == "PAST_DUE"
    assert len(await outbox(runtime, tenant, "billing_payment_failed")) == 1

    # Grace over (the billing loop, 8 days later): suspended, the API refuses the tenant.
    await worker.run_once(billing, utcnow() + timedelta(days=8))
    suspended = await reload(runtime, tenant)
    assert suspended.status == TenantStatus.SUSPENDED
    assert suspended.status_reason == "payment overdue"
    runtime.registry.invalidate(tenant.slug)
    refused = await gql(TENANT, tenant=tenant.slug, token=token)
    assert error_codes(refused) == ["TENANT_INACTIVE"]
    assert "payment overdue" in refused["errors"][0]["message"]

    # The invoice is paid: active again, served again.
    fake_stripe.pay(second["id"])
    paid = fake_stripe.event("invoice.paid", fake_stripe.invoices[second["id"]])
    assert (await deliver(client, paid)).status_code == 200
    recovered = await gql(TENANT, tenant=tenant.slug, token=token)
    assert "errors" not in recovered, recovered
    assert recovered["data"]["tenant"]["status"] == "ACTIVE"
    assert recovered["data"]["tenant"]["statusReason"] is None

    # Each transition is in the audit log, by "stripe".
    actions = [
        entry["action"]
        async for entry in runtime.store.db["audit_log"]
        .find({"tenant": tenant.slug, "actor": "stripe"})
        .sort("_id", 1)
    ]
    assert actions == [
        "billing.plan_changed",
        "tenant.active",
        "tenant.past_due",
        "tenant.suspended",
        "tenant.active",
    ]
