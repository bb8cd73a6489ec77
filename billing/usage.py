"""Usage against plan limits: figures (limit, used, percentage) and the 80 % / 100 % alerts.

One alert email to the tenant's admins per limit, threshold and billing
period (keyed by the period's start), through the outbox (``billing.emails``).
The billing loop checks the served tenants on each pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing import emails
from tenancy.models import Tenant
from tenancy.runtime import Runtime
from tenancy.usage import TenantUsage, usage_of

THRESHOLDS = (80, 100)


@dataclass(frozen=True)
class UsageFigure:
    """One limit of a tenant: ``used`` of ``limit`` (``None``: unlimited), ``percentage``
    rounded down (``None`` when unlimited)."""

    metric: str
    used: int
    limit: int | None

    @property
    def percentage(self) -> int | None:
        if self.limit is None:
            return None
        if self.limit <= 0:
            return 100
        return self.used * 100 // self.limit


def figures(tenant: Tenant, usage: TenantUsage) -> list[UsageFigure]:
    """Users and customers of ``tenant`` against its limits."""
    return [
        UsageFigure("users", usage.users, tenant.limits.max_users),
        UsageFigure("customers", usage.customers, tenant.limits.max_customers),
    ]


def _period_key(tenant: Tenant) -> str:
    start = tenant.subscription.current_period_start or tenant.created_at
    return start.strftime("%Y%m%d")


async def send_usage_alerts(runtime: Runtime, tenants: list[Tenant]) -> int:
    """Queue the alerts the tenants' usage reached; returns how many messages were new."""
    if not tenants:
        return 0
    usages = await usage_of(runtime, tenants)
    sent = 0
    for tenant in tenants:
        for figure in figures(tenant, usages[tenant.id]):
            percentage = figure.percentage
            if percentage is None:
                continue
            reached = [t for t in THRESHOLDS if percentage >= t]
            if not reached:
                continue
            threshold = max(reached)
            sent += await emails.email_admins(
                runtime,
                tenant,
                emails.USAGE_ALERT,
                f"{figure.metric}:{threshold}:{_period_key(tenant)}",
                {
                    "metric": figure.metric,
                    "threshold": threshold,
                    "used": figure.used,
                    "limit": figure.limit,
                    "plan_key": tenant.subscription.plan_key,
                },
            )
    return sent
