"""Apply Stripe's current subscription and invoice state to a tenant.

Never the event's payload: callers re-read the subscription or invoice from
the Stripe API first (``billing.webhooks``), so events applied in any order,
or twice, leave the tenant where Stripe's current state puts it.

Subscription status -> tenant status: ``trialing`` -> trial; ``active`` ->
active; ``past_due``, ``unpaid``, ``paused`` -> past due (a grace period of
``APP_BILLING_GRACE_DAYS`` starts; when it is over the tenant is suspended
with the reason "payment overdue"); ``canceled``, ``incomplete_expired`` ->
cancelled; ``incomplete`` (a first payment not made yet) changes nothing.
A tenant suspended for an overdue payment is reactivated when Stripe says
it is paid (active or trialing); one suspended by an operator for another
reason stays suspended (only its subscription fields follow Stripe); a
cancelled or deleted tenant stays as it is. Every status change goes through
``tenancy.lifecycle.set_tenant_status`` (suspend, reactivate, cancel) or is
written here with its audit entry (trial, active, past due: all served).
The plan's limits follow the subscription's price once Stripe reports it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from billing import emails
from billing.prices import plan_for_price
from billing.service import ACTOR, OVERDUE_REASON, Billing
from tenancy import lifecycle
from tenancy.models import SubscriptionStatus, Tenant, TenantStatus

log = logging.getLogger(__name__)

TARGET_STATUS: dict[str, TenantStatus] = {
    "trialing": TenantStatus.TRIAL,
    "active": TenantStatus.ACTIVE,
    "past_due": TenantStatus.PAST_DUE,
    "unpaid": TenantStatus.PAST_DUE,
    "paused": TenantStatus.PAST_DUE,
    "canceled": TenantStatus.CANCELLED,
    "incomplete_expired": TenantStatus.CANCELLED,
}
SUBSCRIPTION_STATUS: dict[TenantStatus, SubscriptionStatus] = {
    TenantStatus.TRIAL: SubscriptionStatus.TRIALING,
    TenantStatus.ACTIVE: SubscriptionStatus.ACTIVE,
    TenantStatus.PAST_DUE: SubscriptionStatus.PAST_DUE,
    TenantStatus.CANCELLED: SubscriptionStatus.CANCELLED,
}
_ENDED = ("canceled", "incomplete_expired")


def timestamp(value: Any) -> datetime | None:
    """A Stripe Unix timestamp (seconds) as UTC, or ``None``."""
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _items(sub: dict[str, Any]) -> list[dict[str, Any]]:
    return list((sub.get("items") or {}).get("data") or [])


def subscription_price(sub: dict[str, Any]) -> str | None:
    """The price id of a subscription's (first) item."""
    items = _items(sub)
    return (items[0].get("price") or {}).get("id") if items else None


def _period(sub: dict[str, Any], name: str) -> datetime | None:
    items = _items(sub)
    value = sub.get(name) or (items[0].get(name) if items else None)
    return timestamp(value)


def invoice_subscription(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice bills (``parent.subscription_details`` or the older field)."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    found = details.get("subscription") or invoice.get("subscription")
    return found if isinstance(found, str) else (found or {}).get("id")


def _object_id(value: Any) -> ObjectId | None:
    try:
        return ObjectId(str(value)) if value else None
    except (InvalidId, TypeError):
        return None


async def tenant_for(
    billing: Billing, *, tenant_id: Any = None, customer: Any = None
) -> Tenant | None:
    """The tenant a Stripe object belongs to: by the tenant id it carries
    (``metadata.tenant_id``, ``client_reference_id``), else by its customer."""
    store = billing.runtime.store
    oid = _object_id(tenant_id)
    if oid is not None:
        tenant = await store.tenant_by_id(oid)
        if tenant is not None:
            return tenant
    customer_id = customer if isinstance(customer, str) else (customer or {}).get("id")
    if customer_id:
        account = await billing.store.account_by_customer(customer_id)
        if account is not None:
            return await store.tenant_by_id(account["_id"])
    return None


async def apply_subscription(
    billing: Billing, tenant: Tenant, sub: dict[str, Any], now: datetime
) -> Tenant:
    """Make ``tenant`` follow Stripe's current ``sub`` (see the module docstring).

    A subscription other than the one the tenant's account records is
    applied only when it is live (a new checkout replaces an ended one; an
    old subscription's late events do not cancel the new one).

    Returns:
        The tenant record afterwards.
    """
    runtime = billing.runtime
    status = str(sub.get("status"))
    account = await billing.store.account(tenant.id) or {}
    recorded = account.get("subscription_id") or tenant.subscription.stripe_subscription_id
    if recorded and recorded != sub["id"] and status in _ENDED:
        return tenant
    target = TARGET_STATUS.get(status)
    customer = sub.get("customer")
    customer_id = customer if isinstance(customer, str) else (customer or {}).get("id")
    account_fields: dict[str, Any] = {
        "subscription_id": sub["id"],
        "subscription_status": status,
        "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
        "cancel_at": timestamp(sub.get("cancel_at")),
    }
    if customer_id:
        account_fields["customer_id"] = customer_id
    if status in _ENDED:
        account_fields["cancelled_at"] = timestamp(sub.get("ended_at") or sub.get("canceled_at"))
    await billing.store.set_account(tenant.id, account_fields)
    if target is None:  # incomplete: the first payment is not made yet
        return tenant
    changes: dict[str, Any] = {
        "subscription.status": SUBSCRIPTION_STATUS[target].value,
        "subscription.current_period_start": _period(sub, "current_period_start"),
        "subscription.current_period_end": _period(sub, "current_period_end"),
        "subscription.trial_ends_at": timestamp(sub.get("trial_end")),
        "subscription.stripe_subscription_id": sub["id"],
    }
    if customer_id:
        changes["subscription.stripe_customer_id"] = customer_id
    price = subscription_price(sub)
    found = await plan_for_price(runtime.store, runtime.settings, price) if price else None
    if found is not None:
        plan, cycle = found
        changes["subscription.plan_key"] = plan.key
        changes["subscription.billing_cycle"] = cycle.value
        changes["limits"] = plan.limits.model_dump()
    updated = await runtime.store.update_tenant(tenant.id, changes)
    runtime.registry.invalidate(tenant.slug)
    if found is not None and (
        found[0].key != tenant.subscription.plan_key
        or found[1] != tenant.subscription.billing_cycle
    ):
        await runtime.store.append_audit(
            ACTOR,
            "billing.plan_changed",
            tenant.slug,
            {
                "from": f"{tenant.subscription.plan_key}:{tenant.subscription.billing_cycle}",
                "to": f"{found[0].key}:{found[1]}",
                "subscription": sub["id"],
            },
        )
    return await move_status(billing, updated, target, now)


async def move_status(
    billing: Billing, tenant: Tenant, target: TenantStatus, now: datetime
) -> Tenant:
    """Move a tenant towards ``target`` (the status Stripe's state gives it) at ``now``.

    Past due starts (or continues) the grace period and suspends once it is
    over; any other target ends it. Each change is audit-logged.
    """
    runtime = billing.runtime
    current = TenantStatus(tenant.status)
    if current in (TenantStatus.DELETED, TenantStatus.CANCELLED):
        return tenant
    grace_until = None
    if target == TenantStatus.PAST_DUE:
        grace_until = await billing.store.start_grace(tenant.id, now, billing.grace)
    else:
        await billing.store.end_grace(tenant.id)
    if current == TenantStatus.SUSPENDED:
        if tenant.status_reason != OVERDUE_REASON:
            return tenant  # an operator's suspension stands
        if target in (TenantStatus.ACTIVE, TenantStatus.TRIAL):
            return await lifecycle.set_tenant_status(
                runtime, tenant.slug, TenantStatus.ACTIVE, None, ACTOR
            )
        if target == TenantStatus.CANCELLED:
            return await lifecycle.set_tenant_status(
                runtime, tenant.slug, target, "subscription cancelled", ACTOR
            )
        return tenant
    if target == TenantStatus.CANCELLED:
        return await lifecycle.set_tenant_status(
            runtime, tenant.slug, target, "subscription cancelled", ACTOR
        )
    if target != current:
        reason = "payment failed" if target == TenantStatus.PAST_DUE else None
        tenant = await runtime.store.update_tenant(
            tenant.id, {"status": target.value, "status_reason": reason}
        )
        runtime.registry.invalidate(tenant.slug)
        await runtime.store.append_audit(
            ACTOR,
            f"tenant.{target}",
            tenant.slug,
            {"from": str(current), "reason": reason, "grace_until": grace_until},
        )
    if grace_until is not None and grace_until <= now:
        return await suspend_overdue_tenant(billing, tenant)
    return tenant


async def suspend_overdue_tenant(billing: Billing, tenant: Tenant) -> Tenant:
    """Suspend a past-due tenant whose grace period is over ("payment overdue")."""
    if tenant.status != TenantStatus.PAST_DUE:
        return tenant
    log.info("suspending %s: grace period over", tenant.slug)
    return await lifecycle.set_tenant_status(
        billing.runtime, tenant.slug, TenantStatus.SUSPENDED, OVERDUE_REASON, ACTOR
    )


def invoice_document(invoice: dict[str, Any], tenant: Tenant) -> dict[str, Any]:
    """The ``invoices`` document of a Stripe invoice (amounts in minor units)."""
    lines = list((invoice.get("lines") or {}).get("data") or [])
    period = (lines[0].get("period") if lines else None) or {}
    return {
        "_id": invoice["id"],
        "tenant_id": tenant.id,
        "tenant_slug": tenant.slug,
        "customer_id": invoice.get("customer"),
        "subscription_id": invoice_subscription(invoice),
        "number": invoice.get("number"),
        "status": invoice.get("status"),
        "currency": str(invoice.get("currency") or "").upper(),
        "amount_due": int(invoice.get("amount_due") or 0),
        "amount_paid": int(invoice.get("amount_paid") or 0),
        "total": int(invoice.get("total") or 0),
        "period_start": timestamp(period.get("start") or invoice.get("period_start")),
        "period_end": timestamp(period.get("end") or invoice.get("period_end")),
        "hosted_invoice_url": invoice.get("hosted_invoice_url"),
        "invoice_pdf": invoice.get("invoice_pdf"),
        "attempt_count": int(invoice.get("attempt_count") or 0),
        "next_payment_attempt": timestamp(invoice.get("next_payment_attempt")),
        "created": timestamp(invoice.get("created")),
    }


async def apply_invoice(billing: Billing, tenant: Tenant, invoice: dict[str, Any]) -> None:
    """Keep Stripe's current invoice and send the dunning email of a failed attempt.

    The dunning email is keyed by invoice and attempt count, so each failed
    attempt mails the admins once; an invoice paid meanwhile mails nothing.
    """
    await billing.store.upsert_invoice(invoice_document(invoice, tenant))
    attempts = int(invoice.get("attempt_count") or 0)
    if invoice.get("status") == "open" and attempts > 0 and not invoice.get("paid"):
        await emails.email_admins(
            billing.runtime,
            tenant,
            emails.PAYMENT_FAILED,
            f"{invoice['id']}:{attempts}",
            {
                "invoice_number": invoice.get("number"),
                "amount_minor": int(invoice.get("amount_due") or 0),
                "currency": str(invoice.get("currency") or "").upper(),
                "hosted_invoice_url": invoice.get("hosted_invoice_url"),
                "attempt": attempts,
                "grace_days": billing.runtime.settings.billing_grace_days,
            },
        )


async def remind_trial_end(billing: Billing, tenant: Tenant, sub: dict[str, Any]) -> None:
    """The trial-ends-soon email, once per subscription and trial end (still trialing only)."""
    if sub.get("status") != "trialing" or not sub.get("trial_end"):
        return
    trial_end = timestamp(sub["trial_end"])
    await emails.email_admins(
        billing.runtime,
        tenant,
        emails.TRIAL_WILL_END,
        f"{sub['id']}:{sub['trial_end']}",
        {"trial_ends_at": trial_end},
    )
