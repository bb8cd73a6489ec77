"""The default plan catalog, from the legacy CRM's packages (seed 001, ``crm_db.packages``).

Prices are integer minor units (kuruş): the legacy 99 TRY is 9900.
"""

from __future__ import annotations

from tenancy.models import Plan, PlanLimits
from tenancy.platform import PlatformStore

DEFAULT_PLANS = (
    Plan(
        key="starter",
        name="Starter",
        description="For a single practice getting started.",
        currency="TRY",
        price_monthly_minor=9_900,
        price_yearly_minor=99_000,
        limits=PlanLimits(max_users=3, max_customers=200, api_rate_limit_per_minute=60),
        features=[],
        sort_order=1,
        stripe_price_id_monthly="price_starter_m",
        stripe_price_id_yearly="price_starter_y",
    ),
    Plan(
        key="professional",
        name="Professional",
        description="Custom domain, API access and the v2 modules.",
        currency="TRY",
        price_monthly_minor=29_900,
        price_yearly_minor=299_000,
        limits=PlanLimits(max_users=10, max_customers=1_000, api_rate_limit_per_minute=300),
        features=["custom_domain", "api_access", "customer_module_v2", "dashboard_v2"],
        sort_order=2,
        stripe_price_id_monthly="price_professional_m",
        stripe_price_id_yearly="price_professional_y",
    ),
    Plan(
        key="enterprise",
        name="Enterprise",
        description="Large organisations with priority support.",
        currency="TRY",
        price_monthly_minor=89_900,
        price_yearly_minor=899_000,
        limits=PlanLimits(max_users=100, max_customers=50_000, api_rate_limit_per_minute=1_200),
        features=[
            "custom_domain",
            "api_access",
            "priority_support",
            "customer_module_v2",
            "dashboard_v2",
        ],
        sort_order=3,
        stripe_price_id_monthly="price_enterprise_m",
        stripe_price_id_yearly="price_enterprise_y",
    ),
)


async def ensure_default_plans(store: PlatformStore) -> int:
    """Insert the default plans when the catalog is empty; returns how many were added."""
    if await store.plans(include_inactive=True):
        return 0
    for plan in DEFAULT_PLANS:
        await store.upsert_plan(plan)
    return len(DEFAULT_PLANS)
