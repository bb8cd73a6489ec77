"""``/webhooks/stripe``: signatures, the inbox (duplicates, concurrent deliveries),
order-safety (every order of one subscription's events), failures retried and visible."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from billing import checkout, worker
from billing.service import Billing
from graphql_api.app import create_app
from tenancy.models import BillingCycle, Tenant, TenantStatus, utcnow
from tenancy.runtime import Runtime
from tests.billing_support import (
    WEBHOOK_SECRET,
    billing,
    deliver,
    fake_stripe,
    make_tenant,
    outbox,
    reload,
    settings,
    signed,
)
from tests.fake_stripe import FakeStripe

__all__ = ["billing", "fake_stripe", "settings"]


async def _subscribed(
    billing: Billing, fake: FakeStripe, slug: str, plan: str = "professional"
) -> tuple[Tenant, dict[str, Any], dict[str, Any]]:
    """A tenant whose checkout Stripe completed (no event delivered yet)."""
    tenant = await make_tenant(billing.runtime, slug)
    url = await checkout.start_checkout(billing, tenant, plan, BillingCycle.MONTHLY, "test")
    session = next(s for s in fake.sessions.values() if s["url"] == url)
    sub = fake.complete_checkout(session["id"])
    return tenant, session, sub


async def _stored(runtime: Runtime) -> list[dict[str, Any]]:
    return [doc async for doc in runtime.store.db["stripe_events"].find({})]


# -- signatures ---------------------------------------------------------------


async def test_a_forged_signature_is_refused_and_nothing_stored(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    event = fake_stripe.event("invoice.paid", {"id": "in_forged"})
    forged = await deliver(client, event, secret="whsec_not_the_configured_one")
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "BAD_REQUEST"
    body, headers = signed(event)
    tampered = body.replace(b"in_forged", b"in_other_1")  # signed body changed on the way
    assert (
        await client.post("/webhooks/stripe", content=tampered, headers=headers)
    ).status_code == 400
    unsigned = await client.post("/webhooks/stripe", content=body)
    assert unsigned.status_code == 400
    assert await _stored(runtime) == []


async def test_a_stale_timestamp_is_refused(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    tolerance = runtime.settings.stripe_webhook_tolerance_seconds
    event = fake_stripe.event("invoice.paid", {"id": "in_stale"})
    stale = await deliver(client, event, timestamp=int(time.time()) - tolerance - 5)
    assert stale.status_code == 400
    assert "tolerance" in stale.json()["error"]["message"]
    assert await _stored(runtime) == []
    fresh = await deliver(client, event, timestamp=int(time.time()) - tolerance + 30)
    assert fresh.status_code == 200


async def test_without_a_webhook_secret_deliveries_are_refused_as_disabled(
    runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    plain = runtime.settings.model_copy(
        update={"stripe_webhook_secret": type(runtime.settings.stripe_webhook_secret)("")}
    )
    transport = httpx.ASGITransport(app=create_app(settings=plain, runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as http:
        response = await deliver(http, fake_stripe.event("invoice.paid", {"id": "in_x"}))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "BILLING_DISABLED"
    assert await _stored(runtime) == []


# -- the inbox -----------------------------------------------------------------


async def test_the_same_event_twice_is_acknowledged_twice_and_applied_once(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, _, sub = await _subscribed(billing, fake_stripe, "twice-clinic")
    invoice = fake_stripe.invoice(sub["id"])
    fake_stripe.fail_payment(invoice["id"])
    event = fake_stripe.event("invoice.payment_failed", fake_stripe.invoices[invoice["id"]])
    first = await deliver(client, event)
    again = await deliver(client, event)
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    [stored] = await _stored(runtime)
    assert (stored["_id"], stored["status"], stored["attempts"]) == (event["id"], "processed", 1)
    assert (await reload(runtime, tenant)).status == TenantStatus.PAST_DUE
    assert len(await outbox(runtime, tenant, "billing_payment_failed")) == 1


async def test_concurrent_deliveries_of_one_event_apply_it_once(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, _, sub = await _subscribed(billing, fake_stripe, "race-clinic")
    invoice = fake_stripe.invoice(sub["id"])
    fake_stripe.fail_payment(invoice["id"])
    event = fake_stripe.event("invoice.payment_failed", fake_stripe.invoices[invoice["id"]])
    responses = await asyncio.gather(*(deliver(client, event) for _ in range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * 5
    assert len(await _stored(runtime)) == 1
    assert len(await outbox(runtime, tenant, "billing_payment_failed")) == 1
    transitions = await runtime.store.db["audit_log"].count_documents(
        {"tenant": tenant.slug, "action": "tenant.past_due"}
    )
    assert transitions == 1


async def test_a_processing_failure_is_recorded_and_retried_by_the_loop(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, session, sub = await _subscribed(billing, fake_stripe, "retry-clinic")
    event = fake_stripe.event("checkout.session.completed", {**session, "subscription": sub["id"]})
    fake_stripe.fail_next.append(500)  # Stripe fails the re-read of the subscription
    response = await deliver(client, event)
    assert response.status_code == 200  # stored: Stripe need not deliver it again
    [stored] = await _stored(runtime)
    assert (stored["status"], stored["attempts"]) == ("failed", 1)
    assert "Stripe could not read the subscription" in stored["last_error"]
    assert (await reload(runtime, tenant)).subscription.stripe_subscription_id is None
    # Not retried before its backoff is over; then the loop processes it.
    assert (await worker.run_once(billing, utcnow()))["events"] == 0
    assert (await worker.run_once(billing, utcnow() + timedelta(minutes=5)))["events"] == 1
    [stored] = await _stored(runtime)
    assert (stored["status"], stored["attempts"], stored["last_error"]) == ("processed", 2, None)
    applied = await reload(runtime, tenant)
    assert applied.subscription.stripe_subscription_id == sub["id"]  # the trial carried over
    assert (applied.status, applied.subscription.status) == (TenantStatus.TRIAL, "trialing")


# -- order-safety ----------------------------------------------------------------


def _state(tenant: Tenant) -> tuple[Any, ...]:
    sub = tenant.subscription
    return (
        tenant.status,
        tenant.status_reason,
        sub.status,
        sub.plan_key,
        sub.billing_cycle,
        sub.stripe_subscription_id is not None,
        tenant.limits.max_users,
    )


async def test_one_subscriptions_events_in_every_order_reach_the_same_state(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    """Checkout completed, subscription updated, a payment failed, the invoice paid: Stripe's
    state is active on professional; whatever order the four events arrive in (and each
    one twice), the tenant ends active on professional with its limits."""
    finals = set()
    for n, order in enumerate(itertools.permutations(range(4))):
        tenant, session, sub = await _subscribed(billing, fake_stripe, f"order-clinic-{n}")
        invoice = fake_stripe.invoice(sub["id"])
        events = [
            fake_stripe.event("checkout.session.completed", {**session, "subscription": sub["id"]})
        ]
        fake_stripe.fail_payment(invoice["id"])
        events.append(fake_stripe.event("customer.subscription.updated", sub))
        events.append(
            fake_stripe.event("invoice.payment_failed", fake_stripe.invoices[invoice["id"]])
        )
        fake_stripe.pay(invoice["id"])
        events.append(fake_stripe.event("invoice.paid", fake_stripe.invoices[invoice["id"]]))
        for index in [*order, *order]:
            assert (await deliver(client, events[index])).status_code == 200
        final = await reload(runtime, tenant)
        finals.add(_state(final))
        assert await billing.store.account(tenant.id) is not None
        assert (await billing.store.account(tenant.id) or {}).get("grace_until") is None
    assert finals == {(TenantStatus.ACTIVE, None, "active", "professional", "monthly", True, 10)}


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
async def test_a_cancelled_subscriptions_events_in_any_order_cancel_the_tenant(
    runtime: Runtime,
    client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    billing: Billing,
    order: tuple[int, ...],
) -> None:
    tenant, _, sub = await _subscribed(billing, fake_stripe, "cancel-order")
    events = [fake_stripe.event("customer.subscription.created", sub)]
    invoice = fake_stripe.invoice(sub["id"])
    fake_stripe.fail_payment(invoice["id"])
    events.append(fake_stripe.event("customer.subscription.updated", sub))
    fake_stripe.cancel(sub["id"])
    events.append(fake_stripe.event("customer.subscription.deleted", sub))
    for index in order:
        assert (await deliver(client, events[index])).status_code == 200
    final = await reload(runtime, tenant)
    assert (final.status, final.subscription.status) == (TenantStatus.CANCELLED, "cancelled")
    assert json.dumps(final.status_reason) == '"subscription cancelled"'
    assert WEBHOOK_SECRET not in str(await _stored(runtime))


async def test_events_without_a_stripe_object_to_read_are_acknowledged_and_ignored(
    runtime: Runtime, client: httpx.AsyncClient, fake_stripe: FakeStripe, billing: Billing
) -> None:
    tenant, _, sub = await _subscribed(billing, fake_stripe, "upcoming-clinic")
    upcoming = {"object": "invoice", "customer": sub["customer"], "amount_due": 9900}
    for event in (
        fake_stripe.event("invoice.upcoming", upcoming),  # a preview: no invoice id
        fake_stripe.event("customer.created", {"id": sub["customer"], "object": "customer"}),
    ):
        assert (await deliver(client, event)).status_code == 200
    assert {e["status"] for e in await _stored(runtime)} == {"processed"}
    assert (await reload(runtime, tenant)).status == TenantStatus.TRIAL
