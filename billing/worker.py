"""The billing loop: retries of failed webhook events, trial ends, grace periods, usage alerts.

:func:`run_once` is one pass; :class:`BillingWorker` runs passes every
``APP_BILLING_POLL_SECONDS`` in the background of the server (when
``APP_BILLING_IN_SERVER`` is on) and of ``tenantctl worker``. Every step is
idempotent and safe with several processes running it (event leases,
tenant locks, conditional writes, deterministic outbox keys).

One pass:

1. processes the inbox events that are due (new ones a crash left, failed
   ones whose backoff is over);
2. moves tenants whose local trial ended without a Stripe subscription to
   past due (their grace period starts);
3. suspends past-due tenants whose grace period is over ("payment overdue");
4. queues the usage alerts of served tenants (80 % / 100 % of a limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bson import ObjectId

from billing import sync, usage, webhooks
from billing.service import Billing
from tenancy.models import SubscriptionStatus, Tenant, TenantStatus, utcnow

log = logging.getLogger(__name__)


def _trial_over(tenant: Tenant, account: dict[str, Any], now: datetime) -> bool:
    sub = tenant.subscription
    return (
        tenant.status == TenantStatus.TRIAL
        and not sub.stripe_subscription_id
        and not account.get("subscription_id")
        and sub.trial_ends_at is not None
        and sub.trial_ends_at <= now
    )


async def _locked(
    billing: Billing,
    tenant_id: ObjectId,
    change: Callable[[Tenant, dict[str, Any]], Awaitable[bool]],
) -> bool:
    """Run ``change`` on the freshly read tenant and account under the tenant's lock
    (webhook processing holds the same lock), so a payment applied meanwhile is seen."""
    if not await billing.store.lock_tenant(tenant_id, billing.owner, webhooks.LEASE_SECONDS):
        return False  # an event of this tenant is being processed: next pass
    try:
        tenant = await billing.runtime.store.tenant_by_id(tenant_id)
        if tenant is None:
            return False
        return await change(tenant, await billing.store.account(tenant_id) or {})
    finally:
        await billing.store.unlock_tenant(tenant_id, billing.owner)


async def expire_trials(billing: Billing, now: datetime) -> int:
    """Trials that ended without a Stripe subscription become past due; returns how many."""

    async def expire(tenant: Tenant, account: dict[str, Any]) -> bool:
        if not _trial_over(tenant, account, now):
            return False
        tenant = await store.update_tenant(
            tenant.id, {"subscription.status": SubscriptionStatus.PAST_DUE.value}
        )
        billing.runtime.registry.invalidate(tenant.slug)
        await sync.move_status(billing, tenant, TenantStatus.PAST_DUE, now)
        return True

    moved = 0
    store = billing.runtime.store
    for tenant in await store.all_tenants(status=TenantStatus.TRIAL.value):
        if _trial_over(tenant, {}, now):
            moved += await _locked(billing, tenant.id, expire)
    return moved


async def suspend_overdue(billing: Billing, now: datetime) -> int:
    """Suspend past-due tenants whose grace period ended; returns how many."""

    async def suspend(tenant: Tenant, account: dict[str, Any]) -> bool:
        grace_until = account.get("grace_until")
        if tenant.status != TenantStatus.PAST_DUE or grace_until is None or grace_until > now:
            return False  # paid (or changed) meanwhile
        await sync.suspend_overdue_tenant(billing, tenant)
        return True

    suspended = 0
    for tenant_id in await billing.store.grace_expired(now):
        suspended += await _locked(billing, tenant_id, suspend)
    return suspended


async def run_once(billing: Billing, now: datetime | None = None) -> dict[str, int]:
    """One pass of the loop (see the module docstring); counts of what it did."""
    now = now or utcnow()
    counts = {"events": 0, "trials_ended": 0, "suspended": 0, "usage_alerts": 0}
    if billing.enabled:
        for event_id in await billing.store.due_events(now):
            if await webhooks.process_event(billing, event_id, now) == "processed":
                counts["events"] += 1
    counts["trials_ended"] = await expire_trials(billing, now)
    counts["suspended"] = await suspend_overdue(billing, now)
    served = [
        t
        for t in await billing.runtime.store.all_tenants()
        if t.is_served and t.maintenance is None
    ]
    counts["usage_alerts"] = await usage.send_usage_alerts(billing.runtime, served)
    return counts


class BillingWorker:
    """:func:`run_once` every ``APP_BILLING_POLL_SECONDS`` in a background task."""

    def __init__(self, billing: Billing) -> None:
        self.billing = billing
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="billing-loop")

    async def _run(self) -> None:
        every = self.billing.runtime.settings.billing_poll_seconds
        while not self._stop.is_set():
            try:
                await run_once(self.billing)
            except Exception:  # the platform database is down: try again next pass
                log.exception("billing pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), every)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
