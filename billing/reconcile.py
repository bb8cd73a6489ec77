"""``tenantctl billing reconcile``: re-sync every tenant's subscription from Stripe.

For each tenant with a Stripe customer: its recorded subscription (or, when
none is recorded, the customer's newest one) is read from the Stripe API
and applied as a webhook would (``billing.sync``), under the tenant's
processing lock. Repairs what lost or failed webhooks left behind; running
it twice changes nothing more.
"""

from __future__ import annotations

from billing import sync
from billing.reports import BillingItem, BillingReport
from billing.service import Billing
from tenancy.errors import ErrorCode
from tenancy.models import Tenant, TenantStatus, utcnow
from tenancy.reports import ReportError, Status


async def reconcile_tenant(billing: Billing, tenant: Tenant) -> BillingItem:
    """Re-sync one tenant; its report line (``skipped`` without a Stripe customer)."""
    item = BillingItem(tenant.slug)
    gateway = billing.require_gateway()
    account = await billing.store.account(tenant.id) or {}
    customer = account.get("customer_id") or tenant.subscription.stripe_customer_id
    sub_id = account.get("subscription_id") or tenant.subscription.stripe_subscription_id
    if not customer and not sub_id:
        item.status = Status.SKIPPED
        item.detail = "no Stripe customer"
        return item
    if not await billing.store.lock_tenant(tenant.id, billing.owner, 60.0):
        item.status = Status.SKIPPED
        item.detail = "busy: an event of this tenant is being processed; run again"
        return item
    try:
        if sub_id:
            sub = await gateway.retrieve_subscription(str(sub_id))
        else:
            subs = await gateway.list_subscriptions(str(customer))
            if not subs:
                item.status = Status.SKIPPED
                item.detail = "no subscription"
                return item
            sub = max(subs, key=lambda s: (s.get("status") in sync.TARGET_STATUS, s["created"]))
        before = f"{tenant.status}/{tenant.subscription.plan_key}"
        after_tenant = await sync.apply_subscription(billing, tenant, sub, utcnow())
        after = f"{after_tenant.status}/{after_tenant.subscription.plan_key}"
        item.detail = f"{before} -> {after}" if before != after else f"unchanged ({after})"
    finally:
        await billing.store.unlock_tenant(tenant.id, billing.owner)
    return item


async def reconcile(billing: Billing) -> BillingReport:
    """Re-sync every tenant that is not deleted (see the module docstring)."""
    report = BillingReport("billing reconcile")
    billing.require_gateway()
    for tenant in await billing.runtime.store.all_tenants():
        if tenant.status == TenantStatus.DELETED:
            continue
        try:
            report.items.append(await reconcile_tenant(billing, tenant))
        except Exception as exc:
            report.items.append(
                BillingItem(
                    tenant.slug,
                    Status.FAILED,
                    error=ReportError.from_exception(exc, ErrorCode.BILLING_PROVIDER_FAILED),
                )
            )
    return report
