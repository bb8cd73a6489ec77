"""Revenue figures for super-admins: MRR, subscriptions by status, churn, new tenants.

- **MRR** (monthly recurring revenue): per currency, in minor units, over
  tenants whose subscription is active or past due (trials pay nothing yet):
  the plan's monthly price, or its yearly price / 12 (rounded half up).
- **Counts**: tenants per status (trial, active, past_due, suspended, cancelled).
- **Churn** over ``[since, until)``: subscriptions that ended in the period
  (``billing_accounts.cancelled_at``) divided by the tenants that were paying
  or trialing at its start (created before it, not cancelled before it).
- **New tenants**: created in the period.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from billing.store import BillingStore
from tenancy.models import BillingCycle, SubscriptionStatus, TenantStatus
from tenancy.runtime import Runtime

SHOWN = ("trial", "active", "past_due", "suspended", "cancelled")
PAYING = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


@dataclass(frozen=True)
class RevenueFigures:
    """See the module docstring. ``mrr_minor``: currency -> minor units per month."""

    mrr_minor: dict[str, int]
    by_status: dict[str, int]
    since: datetime
    until: datetime
    cancelled_in_period: int
    at_period_start: int
    new_tenants: int

    @property
    def churn_rate(self) -> float:
        """Cancelled in the period / tenants at its start (0.0 when there were none)."""
        return self.cancelled_in_period / self.at_period_start if self.at_period_start else 0.0


async def revenue(runtime: Runtime, since: datetime, until: datetime) -> RevenueFigures:
    """The figures of the whole platform (reads every tenant record and billing account)."""
    tenants = [t for t in await runtime.store.all_tenants() if t.status != TenantStatus.DELETED]
    plans = await runtime.store.plans_by_key(sorted({t.subscription.plan_key for t in tenants}))
    cancelled_at = await BillingStore(runtime.store).cancellations()
    mrr: Counter[str] = Counter()
    for tenant in tenants:
        sub = tenant.subscription
        plan = plans.get(sub.plan_key)
        if plan is None or sub.status not in PAYING or tenant.status == TenantStatus.CANCELLED:
            continue
        if sub.billing_cycle == BillingCycle.YEARLY:
            mrr[plan.currency] += (plan.price_yearly_minor * 2 + 12) // 24
        else:
            mrr[plan.currency] += plan.price_monthly_minor
    by_status = Counter(str(t.status) for t in tenants)
    ended = 0
    at_start = 0
    for tenant in tenants:
        when = cancelled_at.get(tenant.id)
        if tenant.status == TenantStatus.CANCELLED and when is None:
            when = tenant.updated_at
        if when is not None and since <= when < until:
            ended += 1
        if tenant.created_at < since and (when is None or when >= since):
            at_start += 1
    return RevenueFigures(
        mrr_minor=dict(sorted(mrr.items())),
        by_status={s.value: by_status.get(s.value, 0) for s in TenantStatus if s.value in SHOWN},
        since=since,
        until=until,
        cancelled_in_period=ended,
        at_period_start=at_start,
        new_tenants=sum(1 for t in tenants if since <= t.created_at < until),
    )
