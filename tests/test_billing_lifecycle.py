"""The tenant lifecycle Stripe drives: trial reminder, past due with grace and dunning,
suspension, recovery, cancellation (also at period end), a trial ending unpaid."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from billing import checkout, sync, worker
from billing.service import Billing
from tenancy import lifecycle
from tenancy.models import BillingCycle, Role, Tenant, TenantStatus, utcnow
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.billing_support import (
    PASSWORD,
    billing,
    deliver,
    fake_stripe,
    make_tenant,
    outbox,
    reload,
    settings,
)
from tests.fake_stripe import FakeStripe

__all__ = ["billing", "fake_stripe", "settings"]


async def _subscribed(
    billing: Billing, fake: FakeStripe, slug: str
) -> tuple[Tenant, dict[str, Any], dict[str, Any]]:
    tenant = await make_tenant(billing.runtime, slug)
    url = await checkout.start_checkout(billing, tenant, "starter", BillingCycle.MONTHLY, "test")
    session = next(s for s in fake.sessions.values() if s["url"] == url)
    return tenant, session, fake.complete_checkout(session["id"])


async def _active(
    billing: Billing, fake: FakeStripe, client: httpx.AsyncClient, slug: str
) -> tuple[Tenant, dict[str, Any]]:
    """A tenant that paid its first invoice (active)."""
    tenant, _, sub = await _subscribed(billing, fake, slug)
    invoice = fake.invoice(sub["id"])
    fake.pay(invoice["id"])
    await deliver(client, fake.event("invoice.paid", fake.invoices[invoice["id"]]))
    tenant = await reload(billing.runtime, tenant)
    assert tenant.status == TenantStatus.ACTIVE
    return tenant, sub


async def _fail(client: httpx.AsyncClient, fake: FakeStripe, invoice_id: str) -> None:
    fake.fail_payment(invoice_id)
    await deliver(client, fake.event("invoice.payment_failed", fake.invoices[invoice_id]))


async def test_trial_will_end_emails_each_admin_once(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, _, sub = await _subscribed(billing, fake_stripe, "trial-reminder")
    await lifecycle.create_user(
        runtime, tenant, email="second@trial-reminder.example.com", name="Second",
        role=Role.ADMIN, password=PASSWORD, actor="test",
    )  # fmt: skip
    await lifecycle.create_user(
        runtime, tenant, email="staff@trial-reminder.example.com", name="Staff",
        role=Role.STAFF, password=PASSWORD, actor="test",
    )  # fmt: skip
    assert sub["status"] == "trialing"
    for _ in range(2):  # Stripe sends a new event; the fact is the same
        event = fake_stripe.event("customer.subscription.trial_will_end", sub)
        assert (await deliver(client, event)).status_code == 200
    messages = await outbox(runtime, tenant, "billing_trial_will_end")
    assert sorted(m["recipient"] for m in messages) == [
        "owner@trial-reminder.example.com",
        "second@trial-reminder.example.com",
    ]
    assert {m["status"] for m in messages} == {"pending"}
    due = await runtime.store.db["notification_due"].find_one({"_id": tenant.id})
    assert due is not None  # the relay will look at this tenant


async def test_a_failed_payment_then_a_paid_invoice_returns_the_tenant_to_active(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, sub = await _active(billing, fake_stripe, client, "dunning-clinic")
    invoice = fake_stripe.invoice(sub["id"])
    await _fail(client, fake_stripe, invoice["id"])
    past_due = await reload(runtime, tenant)
    assert (past_due.status, past_due.subscription.status) == (TenantStatus.PAST_DUE, "past_due")
    account = await billing.store.account(tenant.id)
    assert account is not None
    assert account["grace_until"] - account["past_due_since"] == timedelta(days=7)
    # The same attempt announced again mails nobody; the next attempt mails again.
    again = fake_stripe.event("invoice.payment_failed", fake_stripe.invoices[invoice["id"]])
    await deliver(client, again)
    assert len(await outbox(runtime, tenant, "billing_payment_failed")) == 1
    await _fail(client, fake_stripe, invoice["id"])
    dunning = await outbox(runtime, tenant, "billing_payment_failed")
    assert sorted(m["data"]["attempt"] for m in dunning) == [1, 2]
    assert dunning[0]["data"]["hosted_invoice_url"] == invoice["hosted_invoice_url"]

    fake_stripe.pay(invoice["id"])
    await deliver(client, fake_stripe.event("invoice.paid", fake_stripe.invoices[invoice["id"]]))
    recovered = await reload(runtime, tenant)
    assert (recovered.status, recovered.subscription.status) == (TenantStatus.ACTIVE, "active")
    assert (await billing.store.account(tenant.id) or {})["grace_until"] is None
    stored = await runtime.store.db["invoices"].find_one({"_id": invoice["id"]})
    assert stored is not None
    assert (stored["status"], stored["amount_paid"], stored["currency"]) == ("paid", 9900, "TRY")


async def test_the_grace_period_ends_in_suspension_and_payment_reactivates(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, sub = await _active(billing, fake_stripe, client, "grace-clinic")
    invoice = fake_stripe.invoice(sub["id"])
    await _fail(client, fake_stripe, invoice["id"])
    now = utcnow()
    assert (await worker.run_once(billing, now + timedelta(days=6)))["suspended"] == 0
    assert (await reload(runtime, tenant)).status == TenantStatus.PAST_DUE
    assert (await worker.run_once(billing, now + timedelta(days=7, hours=1)))["suspended"] == 1
    suspended = await reload(runtime, tenant)
    assert (suspended.status, suspended.status_reason) == ("suspended", "payment overdue")
    assert (await worker.run_once(billing, now + timedelta(days=9)))["suspended"] == 0
    # A later failed attempt keeps it suspended; the payment reactivates it.
    await _fail(client, fake_stripe, invoice["id"])
    assert (await reload(runtime, tenant)).status == TenantStatus.SUSPENDED
    fake_stripe.pay(invoice["id"])
    await deliver(client, fake_stripe.event("invoice.paid", fake_stripe.invoices[invoice["id"]]))
    assert (await reload(runtime, tenant)).status == TenantStatus.ACTIVE
    actions = [
        e["action"]
        async for e in runtime.store.db["audit_log"]
        .find({"tenant": tenant.slug, "actor": "stripe", "action": {"$regex": "^tenant"}})
        .sort("_id", 1)
    ]
    assert actions == ["tenant.active", "tenant.past_due", "tenant.suspended", "tenant.active"]


async def test_the_grace_period_is_configurable(
    settings: Settings, client: httpx.AsyncClient, fake_stripe: FakeStripe, runtime: Runtime
) -> None:
    two_days = settings.model_copy(update={"billing_grace_days": 2})
    short = Billing.build(dataclasses.replace(runtime, settings=two_days))
    try:
        tenant, sub = await _active(short, fake_stripe, client, "short-grace")
        invoice = fake_stripe.invoice(sub["id"])
        fake_stripe.fail_payment(invoice["id"])
        await sync.apply_subscription(short, tenant, fake_stripe.subscriptions[sub["id"]], utcnow())
        later = utcnow() + timedelta(days=2, minutes=1)
        assert (await worker.run_once(short, later))["suspended"] == 1
    finally:
        await short.close()


async def test_an_operators_suspension_is_not_lifted_by_a_payment(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, sub = await _active(billing, fake_stripe, client, "abuse-clinic")
    await lifecycle.set_tenant_status(
        runtime, tenant.slug, TenantStatus.SUSPENDED, "terms of service", "root"
    )
    invoice = fake_stripe.invoice(sub["id"])
    fake_stripe.pay(invoice["id"])
    await deliver(client, fake_stripe.event("invoice.paid", fake_stripe.invoices[invoice["id"]]))
    kept = await reload(runtime, tenant)
    assert (kept.status, kept.status_reason) == ("suspended", "terms of service")


async def test_cancel_at_period_end_keeps_serving_until_stripe_ends_it(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, sub = await _active(billing, fake_stripe, client, "leaving-clinic")
    answered = await checkout.cancel_subscription(billing, tenant, "owner")
    assert answered["cancel_at_period_end"] is True
    assert fake_stripe.subscriptions[sub["id"]]["cancel_at_period_end"] is True
    await deliver(client, fake_stripe.event("customer.subscription.updated", sub))
    assert (await reload(runtime, tenant)).status == TenantStatus.ACTIVE
    assert (await billing.store.account(tenant.id) or {})["cancel_at_period_end"] is True
    fake_stripe.cancel(sub["id"])
    await deliver(client, fake_stripe.event("customer.subscription.deleted", sub))
    cancelled = await reload(runtime, tenant)
    assert (cancelled.status, cancelled.subscription.status) == ("cancelled", "cancelled")
    entries = await runtime.store.db["audit_log"].count_documents(
        {
            "tenant": tenant.slug,
            "action": {"$in": ["billing.cancel_at_period_end", "tenant.cancelled"]},
        }
    )
    assert entries == 2


async def test_a_trial_ended_without_payment_becomes_past_due_then_suspended(
    runtime: Runtime, billing: Billing
) -> None:
    tenant = await make_tenant(runtime, "unpaid-trial")
    now = utcnow()
    assert (await worker.run_once(billing, now + timedelta(days=13)))["trials_ended"] == 0
    assert (await worker.run_once(billing, now + timedelta(days=14, hours=1)))["trials_ended"] == 1
    ended = await reload(runtime, tenant)
    assert (ended.status, ended.subscription.status) == ("past_due", "past_due")
    assert (await worker.run_once(billing, now + timedelta(days=15)))["trials_ended"] == 0
    await worker.run_once(billing, now + timedelta(days=22))
    assert (await reload(runtime, tenant)).status == TenantStatus.SUSPENDED


async def test_the_server_starts_and_serves_without_stripe_settings(
    runtime: Runtime, settings: Settings
) -> None:
    from graphql_api.app import create_app

    plain = settings.model_copy(update={"stripe_secret_key": SecretStr("")})
    app = create_app(settings=plain, runtime=runtime)
    assert not app.state.billing.enabled
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_the_loop_does_not_suspend_while_an_event_of_the_tenant_is_processed(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    """The loop takes the tenant's processing lock and re-reads the grace period under
    it: a payment being applied by a webhook meanwhile is never undone by a suspension."""
    tenant, sub = await _active(billing, fake_stripe, client, "locked-clinic")
    invoice = fake_stripe.invoice(sub["id"])
    await _fail(client, fake_stripe, invoice["id"])
    later = utcnow() + timedelta(days=8)
    assert await billing.store.lock_tenant(tenant.id, "a-webhook-delivery", 60)
    assert (await worker.run_once(billing, later))["suspended"] == 0
    assert (await reload(runtime, tenant)).status == TenantStatus.PAST_DUE
    # The webhook's work: the invoice paid, applied; then it lets go.
    fake_stripe.pay(invoice["id"])
    await sync.apply_subscription(billing, tenant, fake_stripe.subscriptions[sub["id"]], utcnow())
    await billing.store.unlock_tenant(tenant.id, "a-webhook-delivery")
    assert (await worker.run_once(billing, later))["suspended"] == 0
    assert (await reload(runtime, tenant)).status == TenantStatus.ACTIVE
