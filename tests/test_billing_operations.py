"""Operators and super-admins: ``tenantctl billing sync-plans / reconcile / events``,
invoices (own for tenant admins, all for super-admins) and the revenue figures."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import tenancy.clients as clients_module
from billing import checkout
from billing.prices import sync_plans
from billing.reconcile import reconcile
from billing.service import Billing
from scripts.cli import app as cli_app
from tenancy import lifecycle
from tenancy.models import BillingCycle, Tenant, utcnow
from tenancy.runtime import Runtime
from tests.backends import Backend
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


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, backend: Backend, fake_stripe: FakeStripe, tmp_path: Any
) -> Any:
    monkeypatch.setenv("APP_EMBEDDED_DIR", str(tmp_path / "embedded"))
    monkeypatch.setenv("APP_MONGODB_URL", backend.url())
    monkeypatch.setenv("APP_STRIPE_SECRET_KEY", "sk_test_fake")
    monkeypatch.setenv("APP_STRIPE_API_BASE", fake_stripe.url)
    monkeypatch.setenv("APP_STRIPE_MAX_NETWORK_RETRIES", "0")

    def invoke(*args: str) -> Any:
        result = CliRunner().invoke(cli_app, ["billing", *args, "--json"])
        return result.exit_code, json.loads(result.stdout)

    return invoke


async def _subscribe(
    billing: Billing, fake: FakeStripe, tenant: Tenant, plan: str, cycle: BillingCycle
) -> dict[str, Any]:
    url = await checkout.start_checkout(billing, tenant, plan, cycle, "t")
    session = next(s for s in fake.sessions.values() if s["url"] == url)
    return fake.complete_checkout(session["id"])


def test_sync_plans_creates_each_price_once(cli: Any, fake_stripe: FakeStripe) -> None:
    code, report = cli("sync-plans")
    assert code == 0 and report["ok"], report
    names = [item["name"] for item in report["items"]]
    assert names == [f"{p}:{c}" for p in ("starter", "professional", "enterprise")
                     for c in ("monthly", "yearly")]  # fmt: skip
    created = len(fake_stripe.keys_of("/v1/prices"))
    code, again = cli("sync-plans")
    assert code == 0
    assert {item["detail"].split()[0] for item in again["items"]} == {"found"}
    assert len(fake_stripe.keys_of("/v1/prices")) == created  # nothing created twice
    price = next(p for p in fake_stripe.prices.values() if p["lookup_key"] == "professional_yearly")
    assert (price["unit_amount"], price["currency"], price["recurring"]["interval"]) == (
        299_000,
        "try",
        "year",
    )


async def test_sync_plans_stores_the_price_ids(
    runtime: Runtime, fake_stripe: FakeStripe, billing: Billing
) -> None:
    report = await sync_plans(runtime.store, billing.store, billing.require_gateway())
    assert report.ok
    by_lookup = {p["lookup_key"]: p["id"] for p in fake_stripe.prices.values()}
    plan = await runtime.store.plan("professional")
    assert plan is not None
    assert plan.stripe_price_id_yearly == by_lookup["professional_yearly"]
    assert plan.stripe_price_id_monthly == by_lookup["professional_monthly"]


def test_reconcile_and_events_commands(cli: Any, backend: Backend) -> None:
    code, report = cli("reconcile")
    assert (code, report["ok"], report["items"]) == (0, True, [])

    async def insert_failed_event() -> None:
        client = clients_module.open_client(backend.url())
        try:
            await client["platform"]["stripe_events"].insert_one(
                {
                    "_id": "evt_listed",
                    "type": "invoice.paid",
                    "status": "failed",
                    "attempts": 3,
                    "last_error": "Stripe could not read the invoice: timeout",
                    "received_at": utcnow(),
                    "next_attempt_at": utcnow(),
                    "payload": "{}",
                }
            )
        finally:
            await client.close()

    asyncio.run(insert_failed_event())
    code, rows = cli("events", "--status", "failed")
    assert code == 0
    assert [(r["id"], r["attempts"], r["last_error"]) for r in rows] == [
        ("evt_listed", 3, "Stripe could not read the invoice: timeout")
    ]
    assert cli("events", "--status", "processed")[1] == []


async def test_reconcile_applies_what_webhooks_missed(
    runtime: Runtime, fake_stripe: FakeStripe, billing: Billing
) -> None:
    paying = await make_tenant(runtime, "missed-hooks")
    sub = await _subscribe(billing, fake_stripe, paying, "professional", BillingCycle.MONTHLY)
    invoice = fake_stripe.invoice(sub["id"])
    fake_stripe.pay(invoice["id"])  # no webhook delivered at all
    await make_tenant(runtime, "no-stripe")
    report = await reconcile(billing)
    assert report.ok
    items = {item.name: item for item in report.items}
    assert items["missed-hooks"].detail == "trial/starter -> active/professional"
    assert items["no-stripe"].status == "skipped"
    fixed = await reload(runtime, paying)
    assert (fixed.status, fixed.limits.max_users) == ("active", 10)
    again = {item.name: item.detail for item in (await reconcile(billing)).items}
    assert again["missed-hooks"].startswith("unchanged")


# -- invoices and revenue (GraphQL) ------------------------------------------------

INVOICES = """query($slug: String, $status: String) { invoices(tenantSlug: $slug, status: $status) {
  totalCount nodes { id tenantSlug number status amountDue { amountMinor currency }
  hostedInvoiceUrl pdfUrl periodStart } } }"""
REVENUE = """query($since: DateTime!, $until: DateTime!) { revenue(since: $since, until: $until) {
  mrr { amountMinor currency } tenantsByStatus { key count } cancelledInPeriod
  tenantsAtPeriodStart churnRate newTenants } }"""


async def _root(runtime: Runtime, gql: GraphQLClient) -> str:
    user = await lifecycle.create_super_admin(
        runtime, email="root@platform.example.com", name="Root", password=PASSWORD, actor="t"
    )
    return str(gql.tokens.issue(user, None)[0])


async def test_invoices_for_tenant_admins_and_super_admins(
    runtime: Runtime,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    billing: Billing,
) -> None:
    tenants = [await make_tenant(runtime, slug) for slug in ("inv-a", "inv-b")]
    numbers = {}
    for tenant in tenants:
        sub = await _subscribe(billing, fake_stripe, tenant, "starter", BillingCycle.MONTHLY)
        invoice = fake_stripe.invoice(sub["id"])
        fake_stripe.pay(invoice["id"])
        await deliver(
            client, fake_stripe.event("invoice.paid", fake_stripe.invoices[invoice["id"]])
        )
        numbers[tenant.slug] = invoice["number"]
    a, _ = tenants
    own = await gql(INVOICES, tenant=a.slug, token=await owner_token(gql, runtime, a))
    [node] = own["data"]["invoices"]["nodes"]
    assert (node["tenantSlug"], node["number"], node["status"]) == (
        "inv-a",
        numbers["inv-a"],
        "paid",
    )
    assert node["amountDue"] == {"amountMinor": 9900, "currency": "TRY"}
    assert node["hostedInvoiceUrl"] and node["pdfUrl"] and node["periodStart"]
    other = await gql(
        INVOICES, {"slug": "inv-b"}, tenant=a.slug, token=await owner_token(gql, runtime, a)
    )
    assert error_codes(other) == ["FORBIDDEN"]

    root = await _root(runtime, gql)
    everything = await gql(INVOICES, token=root)
    assert everything["data"]["invoices"]["totalCount"] == 2
    only_b = await gql(INVOICES, {"slug": "inv-b", "status": "paid"}, token=root)
    assert [n["number"] for n in only_b["data"]["invoices"]["nodes"]] == [numbers["inv-b"]]


async def test_revenue_figures(
    runtime: Runtime,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    billing: Billing,
) -> None:
    since = utcnow() - timedelta(days=1)
    plans = [
        ("rev-monthly", "starter", BillingCycle.MONTHLY),
        ("rev-yearly", "professional", BillingCycle.YEARLY),
        ("rev-gone", "starter", BillingCycle.MONTHLY),
    ]
    subs = {}
    for slug, plan, cycle in plans:
        tenant = await make_tenant(runtime, slug)
        sub = await _subscribe(billing, fake_stripe, tenant, plan, cycle)
        invoice = fake_stripe.invoice(sub["id"])
        fake_stripe.pay(invoice["id"])
        await deliver(
            client, fake_stripe.event("invoice.paid", fake_stripe.invoices[invoice["id"]])
        )
        subs[slug] = sub
    await make_tenant(runtime, "rev-trial")
    fake_stripe.cancel(subs["rev-gone"]["id"])
    await deliver(client, fake_stripe.event("customer.subscription.deleted", subs["rev-gone"]))

    root = await _root(runtime, gql)
    until = utcnow() + timedelta(minutes=1)
    result = await gql(
        REVENUE, {"since": since.isoformat(), "until": until.isoformat()}, token=root
    )
    figures = result["data"]["revenue"]
    assert figures["mrr"] == [{"amountMinor": 9_900 + 24_917, "currency": "TRY"}]  # 299000/12
    counts = {row["key"]: row["count"] for row in figures["tenantsByStatus"]}
    assert (counts["active"], counts["trial"], counts["cancelled"]) == (2, 1, 1)
    assert figures["newTenants"] == 4
    assert figures["cancelledInPeriod"] == 1
    assert figures["tenantsAtPeriodStart"] == 0 and figures["churnRate"] == 0.0
