"""Billing emails reach the admins through the outbox relay (real SMTP catcher), in the
tenant's language; usage alerts once per limit, threshold and period; the usage field."""

from __future__ import annotations

from typing import Any

import httpx

from billing import checkout, worker
from billing.service import Billing
from tenancy import lifecycle
from tenancy.models import BillingCycle, Role, Tenant
from tenancy.runtime import Runtime
from tests.billing_support import (
    PASSWORD,
    billing,
    deliver,
    fake_stripe,
    make_tenant,
    outbox,
    owner_token,
    settings,
)
from tests.conftest import GraphQLClient
from tests.fake_stripe import FakeStripe
from tests.notify_support import SmtpCatcher, relay

__all__ = ["billing", "fake_stripe", "settings"]


async def _send(runtime: Runtime, catcher: SmtpCatcher) -> None:
    delivery = catcher.delivery()
    try:
        await relay(runtime, delivery).run_once()
    finally:
        await delivery.close()


async def _failed_payment(
    billing: Billing, fake: FakeStripe, client: httpx.AsyncClient, tenant: Tenant
) -> dict[str, Any]:
    url = await checkout.start_checkout(billing, tenant, "starter", BillingCycle.MONTHLY, "t")
    session = next(s for s in fake.sessions.values() if s["url"] == url)
    sub = fake.complete_checkout(session["id"])
    invoice = fake.invoice(sub["id"], amount=9_900)
    fake.fail_payment(invoice["id"])
    await deliver(client, fake.event("invoice.payment_failed", fake.invoices[invoice["id"]]))
    return invoice


async def test_a_dunning_email_is_delivered_in_the_tenants_language(
    runtime: Runtime,
    client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    billing: Billing,
    catcher: SmtpCatcher,
) -> None:
    tenant = await make_tenant(runtime, "mail-clinic")  # Turkish by default
    invoice = await _failed_payment(billing, fake_stripe, client, tenant)
    await _send(runtime, catcher)
    [mail] = [m for m in catcher.received if invoice["number"] in str(m.message["Subject"])]
    assert mail.message["To"] == "Owner <owner@mail-clinic.example.com>"
    assert "ödemesi alınamadı" in str(mail.message["Subject"])
    assert invoice["hosted_invoice_url"] in mail.text
    assert "99,00" in mail.text  # 9 900 kuruş
    assert "Onay numarası" not in mail.text  # no booking table in billing mail
    [message] = await outbox(runtime, tenant, "billing_payment_failed")
    assert message["status"] == "sent"


async def test_a_trial_reminder_in_english(
    runtime: Runtime,
    client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    billing: Billing,
    catcher: SmtpCatcher,
) -> None:
    tenant = await make_tenant(runtime, "english-clinic")
    await runtime.store.update_tenant(tenant.id, {"settings.language": "en"})
    url = await checkout.start_checkout(billing, tenant, "starter", BillingCycle.MONTHLY, "t")
    session = next(s for s in fake_stripe.sessions.values() if s["url"] == url)
    sub = fake_stripe.complete_checkout(session["id"])
    await deliver(client, fake_stripe.event("customer.subscription.trial_will_end", sub))
    await _send(runtime, catcher)
    [mail] = [
        m for m in catcher.received if "owner@english-clinic.example.com" in str(m.message["To"])
    ]
    assert str(mail.message["Subject"]) == "Your English-Clinic trial ends soon"
    assert "Your free trial ends on" in mail.text


USAGE = "{ tenant { usage { users metrics { metric used limit percentage } } } }"


async def test_usage_alerts_once_per_threshold_and_the_usage_field(
    runtime: Runtime, gql: GraphQLClient, billing: Billing
) -> None:
    tenant = await make_tenant(runtime, "busy-clinic")
    await runtime.store.update_tenant(tenant.id, {"limits.max_users": 5})
    runtime.registry.invalidate(tenant.slug)
    tenant = await runtime.store.tenant_by_id(tenant.id) or tenant

    async def add(n: int) -> None:
        await lifecycle.create_user(
            runtime, tenant, email=f"u{n}@busy-clinic.example.com", name=f"U{n}",
            role=Role.STAFF, password=PASSWORD, actor="test",
        )  # fmt: skip

    for n in range(2):
        await add(n)
    await worker.run_once(billing)
    assert await outbox(runtime, tenant, "billing_usage_alert") == []  # 3 of 5: 60 %
    await add(2)  # 4 of 5: 80 %
    await worker.run_once(billing)
    await worker.run_once(billing)
    [eighty] = await outbox(runtime, tenant, "billing_usage_alert")
    assert (eighty["data"]["threshold"], eighty["data"]["metric"]) == (80, "users")
    await add(3)  # 5 of 5: 100 %
    await worker.run_once(billing)
    alerts = await outbox(runtime, tenant, "billing_usage_alert")
    assert sorted(a["data"]["threshold"] for a in alerts) == [80, 100]

    token = await owner_token(gql, runtime, tenant)
    result = await gql(USAGE, tenant=tenant.slug, token=token)
    metrics = result["data"]["tenant"]["usage"]["metrics"]
    assert metrics[0] == {"metric": "users", "used": 5, "limit": 5, "percentage": 100}
    assert metrics[1]["metric"] == "customers" and metrics[1]["limit"] == 200
