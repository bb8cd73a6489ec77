"""Plans and billing cycles <-> Stripe price ids.

A plan's price for a cycle is, in this order: ``APP_STRIPE_PRICES``
(``{"starter:monthly": "price_..."}``), else the plan record's
``stripe_price_id_monthly`` / ``stripe_price_id_yearly``, which
``tenantctl billing sync-plans`` fills: it looks each price up in Stripe by
its lookup key ``<plan>_<cycle>`` and creates it (with its product) when
missing, so running it twice changes nothing.
"""

from __future__ import annotations

from billing.reports import BillingItem, BillingReport
from billing.store import BillingStore
from billing.stripe_gateway import StripeGateway
from tenancy.errors import ErrorCode
from tenancy.models import BillingCycle, Plan
from tenancy.platform import PlatformStore
from tenancy.reports import ReportError, Status
from tenancy.settings import Settings


def lookup_key(plan_key: str, cycle: BillingCycle) -> str:
    """The Stripe ``lookup_key`` of a plan's price for a cycle: ``starter_monthly``."""
    return f"{plan_key}_{cycle}"


def price_id(settings: Settings, plan: Plan, cycle: BillingCycle) -> str | None:
    """The Stripe price id of ``plan`` billed per ``cycle`` (settings first, then the plan)."""
    configured = settings.stripe_prices.get(f"{plan.key}:{cycle}")
    if configured:
        return configured
    if cycle == BillingCycle.MONTHLY:
        return plan.stripe_price_id_monthly
    return plan.stripe_price_id_yearly


async def plan_for_price(
    store: PlatformStore, settings: Settings, price: str
) -> tuple[Plan, BillingCycle] | None:
    """The plan and cycle a Stripe price id stands for, or ``None`` (a price we do not sell)."""
    for plan in await store.plans(include_inactive=True):
        for cycle in BillingCycle:
            if price_id(settings, plan, cycle) == price:
                return plan, cycle
    return None


def amount_of(plan: Plan, cycle: BillingCycle) -> int:
    """The plan's price per cycle, in minor units."""
    return plan.price_monthly_minor if cycle == BillingCycle.MONTHLY else plan.price_yearly_minor


async def sync_plans(
    store: PlatformStore, billing: BillingStore, gateway: StripeGateway
) -> BillingReport:
    """Find or create the Stripe price of every plan and cycle; store the ids on the plans.

    Idempotent: prices are found by lookup key; a creation carries a persisted
    idempotency key naming plan, cycle, amount and currency.
    """
    report = BillingReport("billing sync-plans")
    for plan in await store.plans(include_inactive=True):
        changed = False
        for cycle in BillingCycle:
            item = BillingItem(f"{plan.key}:{cycle}")
            report.items.append(item)
            key = lookup_key(plan.key, cycle)
            amount = amount_of(plan, cycle)
            try:
                price = await gateway.find_price(key)
                if price is None:
                    purpose = f"price:{key}:{amount}:{plan.currency}"
                    price = await gateway.create_price(
                        {
                            "currency": plan.currency.lower(),
                            "unit_amount": amount,
                            "recurring": {
                                "interval": "month" if cycle == BillingCycle.MONTHLY else "year"
                            },
                            "lookup_key": key,
                            "product_data": {"name": plan.name},
                            "metadata": {"plan_key": plan.key, "billing_cycle": str(cycle)},
                        },
                        await billing.idempotency_key(purpose),
                    )
                    item.detail = f"created {price['id']}"
                else:
                    item.detail = f"found {price['id']}"
            except Exception as exc:
                item.status = Status.FAILED
                item.error = ReportError.from_exception(exc, ErrorCode.BILLING_PROVIDER_FAILED)
                continue
            field = (
                "stripe_price_id_monthly"
                if cycle == BillingCycle.MONTHLY
                else "stripe_price_id_yearly"
            )
            if getattr(plan, field) != price["id"]:
                setattr(plan, field, price["id"])
                changed = True
        if changed:
            await store.upsert_plan(plan)
    return report
