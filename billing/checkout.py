"""What tenant admins do with their subscription: checkout, portal, plan change, cancel.

Every Stripe POST carries an idempotency key stored in ``billing_requests``
before the first attempt (``BillingStore.idempotency_key``). The customer
key is one per tenant (``customer:<tenant id>``), so however often or
concurrently a tenant starts a checkout, Stripe makes one customer for it;
the customer id is then stored on the tenant's account and record. Each
checkout, portal session, plan change or cancellation is a new request with
its own key.

A plan change is asked of Stripe (proration as Stripe computes it); the
tenant's plan and limits change only when Stripe confirms it (the
subscription's webhook, ``billing.sync``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from billing.prices import price_id
from billing.service import Billing
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import BillingCycle, Plan, Tenant, TenantStatus, utcnow
from tenancy.usage import usage_of

#: Subscription states in which a tenant already pays (or trials) through Stripe.
LIVE = ("trialing", "active", "past_due", "unpaid", "paused")
#: Stripe needs a checkout's ``trial_end`` at least 48 hours ahead.
_MIN_TRIAL_LEFT = timedelta(hours=48)


async def _plan(billing: Billing, plan_key: str, cycle: BillingCycle) -> tuple[Plan, str]:
    plan = await billing.runtime.store.plan(plan_key)
    if plan is None or not plan.active:
        raise validation_error(["planKey"], f"plan {plan_key!r} does not exist")
    price = price_id(billing.runtime.settings, plan, cycle)
    if not price:
        raise validation_error(
            ["planKey"],
            f"plan {plan_key!r} has no Stripe price for {cycle} billing: "
            "run `tenantctl billing sync-plans` or set APP_STRIPE_PRICES",
        )
    return plan, price


async def check_limits(billing: Billing, tenant: Tenant, plan: Plan) -> None:
    """Refuse a plan whose limits the tenant's current usage exceeds.

    Raises:
        AppError(PLAN_LIMIT_EXCEEDED) naming each count to reduce and by how much.
    """
    usage = (await usage_of(billing.runtime, [tenant]))[tenant.id]
    over = []
    limits = plan.limits
    if limits.max_users is not None and usage.users > limits.max_users:
        over.append(
            f"{limits.max_users} users (you have {usage.users}: deactivate "
            f"{usage.users - limits.max_users})"
        )
    if limits.max_customers is not None and usage.customers > limits.max_customers:
        over.append(
            f"{limits.max_customers} customers (you have {usage.customers}: delete "
            f"{usage.customers - limits.max_customers})"
        )
    if over:
        raise AppError(
            ErrorCode.PLAN_LIMIT_EXCEEDED,
            f"the {plan.key} plan allows " + " and ".join(over) + "; reduce them first",
            ["planKey"],
            {"users": usage.users, "customers": usage.customers},
        )


async def ensure_customer(billing: Billing, tenant: Tenant) -> str:
    """The tenant's Stripe customer id, created once (one persisted key per tenant)."""
    account = await billing.store.account(tenant.id) or {}
    existing = account.get("customer_id") or tenant.subscription.stripe_customer_id
    if existing:
        return str(existing)
    gateway = billing.require_gateway()
    owner = (
        await billing.runtime.store.user_by_id(tenant.owner_user_id)
        if tenant.owner_user_id
        else None
    )
    params: dict[str, Any] = {
        "name": tenant.name,
        "metadata": {"tenant_id": str(tenant.id), "tenant_slug": tenant.slug},
    }
    if owner is not None:
        params["email"] = owner.email
    key = await billing.store.idempotency_key(f"customer:{tenant.id}")
    customer = await gateway.create_customer(params, key)
    await billing.store.set_account(tenant.id, {"customer_id": customer["id"]})
    await billing.runtime.store.update_tenant(
        tenant.id, {"subscription.stripe_customer_id": customer["id"]}
    )
    billing.runtime.registry.invalidate(tenant.slug)
    return str(customer["id"])


async def start_checkout(
    billing: Billing, tenant: Tenant, plan_key: str, cycle: BillingCycle, actor: str
) -> str:
    """A Stripe Checkout Session URL subscribing ``tenant`` to ``plan_key`` per ``cycle``.

    Subscription mode, ``client_reference_id`` = the tenant id, the tenant's
    own customer; a trial still running (over 48 hours left) carries over.

    Raises:
        AppError: BILLING_DISABLED, VALIDATION_FAILED (unknown plan, no price),
        INVALID_TRANSITION (already subscribed: use changePlan or the portal),
        PLAN_LIMIT_EXCEEDED, BILLING_PROVIDER_FAILED.
    """
    gateway = billing.require_gateway()
    plan, price = await _plan(billing, plan_key, cycle)
    account = await billing.store.account(tenant.id) or {}
    if account.get("subscription_status") in LIVE:
        raise AppError(
            ErrorCode.INVALID_TRANSITION,
            "the tenant already has a subscription: change it with changePlan or the "
            "billing portal (billingPortalUrl)",
        )
    await check_limits(billing, tenant, plan)
    customer = await ensure_customer(billing, tenant)
    settings = billing.runtime.settings
    metadata = {"tenant_id": str(tenant.id), "tenant_slug": tenant.slug}
    subscription_data: dict[str, Any] = {"metadata": metadata}
    trial_end = tenant.subscription.trial_ends_at
    if tenant.status == TenantStatus.TRIAL and trial_end and trial_end - utcnow() > _MIN_TRIAL_LEFT:
        subscription_data["trial_end"] = int(trial_end.timestamp())
    params = {
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": str(tenant.id),
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": settings.billing_success_url,
        "cancel_url": settings.billing_cancel_url,
        "subscription_data": subscription_data,
        "metadata": metadata,
    }
    key = await billing.store.idempotency_key(f"checkout:{tenant.id}:{uuid.uuid4().hex}")
    session = await gateway.create_checkout_session(params, key)
    await billing.runtime.store.append_audit(
        actor,
        "billing.checkout_started",
        tenant.slug,
        {"plan": plan.key, "cycle": str(cycle), "session": session.get("id")},
    )
    return str(session["url"])


async def billing_portal_url(billing: Billing, tenant: Tenant) -> str:
    """A Stripe billing portal URL for the tenant's own customer.

    Raises:
        AppError: BILLING_DISABLED (billing off, or no customer yet: start a checkout),
        BILLING_PROVIDER_FAILED.
    """
    gateway = billing.require_gateway()
    account = await billing.store.account(tenant.id) or {}
    customer = account.get("customer_id") or tenant.subscription.stripe_customer_id
    if not customer:
        raise AppError(
            ErrorCode.BILLING_DISABLED, "the tenant has no Stripe customer yet: start a checkout"
        )
    key = await billing.store.idempotency_key(f"portal:{tenant.id}:{uuid.uuid4().hex}")
    session = await gateway.create_portal_session(
        {"customer": customer, "return_url": billing.runtime.settings.billing_portal_return_url},
        key,
    )
    return str(session["url"])


async def _live_subscription(billing: Billing, tenant: Tenant) -> dict[str, Any]:
    account = await billing.store.account(tenant.id) or {}
    sub_id = account.get("subscription_id") or tenant.subscription.stripe_subscription_id
    if not sub_id:
        raise AppError(
            ErrorCode.BILLING_DISABLED,
            "the tenant has no Stripe subscription yet: start a checkout (startCheckout)",
        )
    sub = await billing.require_gateway().retrieve_subscription(str(sub_id))
    if sub.get("status") not in LIVE:
        raise AppError(
            ErrorCode.INVALID_TRANSITION,
            f"the subscription is {sub.get('status')}: start a new checkout instead",
        )
    return sub


async def change_plan(
    billing: Billing, tenant: Tenant, plan_key: str, cycle: BillingCycle, actor: str
) -> dict[str, Any]:
    """Ask Stripe to move the subscription to ``plan_key`` per ``cycle`` (prorated by Stripe).

    The tenant's plan and limits change when Stripe's webhook confirms it.

    Returns:
        The subscription as Stripe returned it.

    Raises:
        AppError: BILLING_DISABLED (no subscription), VALIDATION_FAILED,
        PLAN_LIMIT_EXCEEDED (a downgrade below current usage), INVALID_TRANSITION,
        BILLING_PROVIDER_FAILED.
    """
    gateway = billing.require_gateway()
    plan, price = await _plan(billing, plan_key, cycle)
    await check_limits(billing, tenant, plan)
    sub = await _live_subscription(billing, tenant)
    items = list((sub.get("items") or {}).get("data") or [])
    if not items:
        raise AppError(ErrorCode.INVALID_TRANSITION, "the subscription has no item to change")
    key = await billing.store.idempotency_key(f"change:{tenant.id}:{uuid.uuid4().hex}")
    updated = await gateway.update_subscription(
        str(sub["id"]),
        {
            "items": [{"id": items[0]["id"], "price": price}],
            "proration_behavior": "create_prorations",
        },
        key,
    )
    await billing.runtime.store.append_audit(
        actor,
        "billing.plan_change_requested",
        tenant.slug,
        {"plan": plan.key, "cycle": str(cycle), "subscription": sub["id"]},
    )
    return updated


async def cancel_subscription(
    billing: Billing, tenant: Tenant, actor: str, *, at_period_end: bool = True
) -> dict[str, Any]:
    """Cancel at the end of the paid period (``at_period_end=False``: undo that).

    The tenant stays served until Stripe ends the subscription
    (``customer.subscription.deleted`` -> cancelled).

    Raises:
        AppError: BILLING_DISABLED, INVALID_TRANSITION, BILLING_PROVIDER_FAILED.
    """
    gateway = billing.require_gateway()
    sub = await _live_subscription(billing, tenant)
    key = await billing.store.idempotency_key(f"cancel:{tenant.id}:{uuid.uuid4().hex}")
    updated = await gateway.update_subscription(
        str(sub["id"]), {"cancel_at_period_end": at_period_end}, key
    )
    await billing.store.set_account(tenant.id, {"cancel_at_period_end": at_period_end})
    action = "billing.cancel_at_period_end" if at_period_end else "billing.cancel_undone"
    details = {"subscription": sub["id"]}
    await billing.runtime.store.append_audit(actor, action, tenant.slug, details)
    return updated
