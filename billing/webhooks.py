"""Stripe webhooks: verify, store in the ``stripe_events`` inbox, process idempotently.

:func:`receive` is what ``POST /webhooks/stripe`` calls. A request whose
``Stripe-Signature`` does not verify with ``APP_STRIPE_WEBHOOK_SECRET``
within ``APP_STRIPE_WEBHOOK_TOLERANCE_SECONDS`` is refused and nothing is
stored. A verified event is inserted under its event id (a unique ``_id``:
of two deliveries, even concurrent ones, one insert wins; the other is a
duplicate, acknowledged and not processed again), then processed inline.

Processing (:func:`process_event`) never trusts the payload's state, order
or ``created``: it re-reads the subscription or invoice the event names from
the Stripe API and applies that current state (``billing.sync``), holding
the tenant's processing lock so two events of one tenant apply one after
the other. A failure is recorded on the event (``status: failed``,
``attempts``, ``last_error``, ``next_attempt_at`` with backoff) and the
billing loop (``billing.worker``) retries it; after
``APP_BILLING_MAX_EVENT_ATTEMPTS`` it stays failed for an operator
(``tenantctl billing events --status failed``, ``tenantctl billing reconcile``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from billing import sync
from billing.service import Billing
from billing.stripe_gateway import SignatureInvalid, verify_event
from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant, utcnow

log = logging.getLogger(__name__)

#: Seconds one process may hold an event (its lease) or a tenant's lock.
LEASE_SECONDS = 60.0
#: How long an inline delivery waits for another event of its tenant to finish.
LOCK_WAIT_SECONDS = 2.0
_LOCK_POLL_SECONDS = 0.02

__all__ = ["SignatureInvalid", "process_event", "receive"]


async def receive(billing: Billing, payload: bytes, signature: str | None) -> bool:
    """Verify, store and process one delivery.

    Returns:
        True when the event was new (stored now), False for a duplicate.

    Raises:
        SignatureInvalid: refused, nothing stored.
        AppError(BILLING_DISABLED): no webhook secret configured.
    """
    settings = billing.runtime.settings
    secret = settings.stripe_webhook_secret.get_secret_value()
    if not secret:
        raise AppError(
            ErrorCode.BILLING_DISABLED,
            "webhooks are not configured on this server: set APP_STRIPE_WEBHOOK_SECRET",
        )
    event = verify_event(payload, signature, secret, settings.stripe_webhook_tolerance_seconds)
    if not await billing.store.store_event(event, payload.decode("utf-8")):
        return False
    await process_event(billing, event["id"])
    return True


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the ``attempts``-th failure: 30 s doubling, at most one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def process_event(billing: Billing, event_id: str, now: datetime | None = None) -> str:
    """Process one stored event once; returns ``processed``, ``failed``, ``busy`` or ``skipped``.

    ``skipped``: already processed, or another process holds it now.
    ``busy``: its tenant's lock stayed taken; it is left due for the loop.
    """
    store = billing.store
    owner = billing.owner
    claimed = await store.claim_event(event_id, owner, LEASE_SECONDS)
    if claimed is None:
        return "skipped"
    now = now or utcnow()
    event: dict[str, Any] = json.loads(claimed["payload"])
    tenant_id = None
    try:
        tenant = await _tenant_of(billing, event)
        if tenant is not None:
            tenant_id = tenant.id
            if not await _lock(billing, tenant):
                await store.release_event(event_id, owner, now)
                return "busy"
            try:
                fresh = await billing.runtime.store.tenant_by_id(tenant.id)
                if fresh is not None:
                    await _apply(billing, fresh, event, now)
            finally:
                await store.unlock_tenant(tenant.id, owner)
    except Exception as exc:
        attempts = int(claimed.get("attempts", 0)) + 1
        final = attempts >= billing.runtime.settings.billing_max_event_attempts
        message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
        await store.fail_event(event_id, owner, message, now + retry_delay(attempts), final=final)
        log.warning(
            "stripe event %s (%s, tenant %s) failed, attempt %d: %s",
            event_id,
            event.get("type"),
            tenant_id,
            attempts,
            message,
            exc_info=not isinstance(exc, AppError),
        )
        return "failed"
    await store.finish_event(event_id, owner)
    return "processed"


async def _lock(billing: Billing, tenant: Tenant) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOCK_WAIT_SECONDS
    while True:
        if await billing.store.lock_tenant(tenant.id, billing.owner, LEASE_SECONDS):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_LOCK_POLL_SECONDS)


def _object(event: dict[str, Any]) -> dict[str, Any]:
    return dict((event.get("data") or {}).get("object") or {})


async def _tenant_of(billing: Billing, event: dict[str, Any]) -> Tenant | None:
    obj = _object(event)
    tenant_id = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("tenant_id")
    return await sync.tenant_for(billing, tenant_id=tenant_id, customer=obj.get("customer"))


async def _apply(billing: Billing, tenant: Tenant, event: dict[str, Any], now: datetime) -> None:
    gateway = billing.require_gateway()
    kind = str(event.get("type") or "")
    obj = _object(event)
    if kind == "checkout.session.completed":
        if obj.get("subscription"):
            sub = await gateway.retrieve_subscription(str(obj["subscription"]))
            await sync.apply_subscription(billing, tenant, sub, now)
    elif kind.startswith("customer.subscription."):
        sub = await gateway.retrieve_subscription(str(obj["id"]))
        tenant = await sync.apply_subscription(billing, tenant, sub, now)
        if kind == "customer.subscription.trial_will_end":
            await sync.remind_trial_end(billing, tenant, sub)
    elif kind.startswith("invoice.") and obj.get("id"):  # invoice.upcoming has no id
        invoice = await gateway.retrieve_invoice(str(obj["id"]))
        await sync.apply_invoice(billing, tenant, invoice)
        subscription_id = sync.invoice_subscription(invoice)
        if subscription_id:
            sub = await gateway.retrieve_subscription(subscription_id)
            await sync.apply_subscription(billing, tenant, sub, now)
    # Other event types are stored and acknowledged; nothing to apply.
