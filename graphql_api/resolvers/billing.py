"""Billing queries and mutations (issue 10): they call ``billing`` services only.

Tenant admins (``billing.manage``) start a checkout, open the billing
portal, change or cancel their subscription and read their invoices;
super-admins (``platform.read``) read every tenant's invoices and the
revenue figures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import strawberry
from strawberry.types import Info

from billing import checkout
from billing.revenue import revenue
from billing.service import Billing
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.resolvers.common import page_size
from graphql_api.types.billing import (
    BillingLinkPayload,
    Invoice,
    InvoiceConnection,
    RevenueFigures,
    SubscriptionChangePayload,
)
from graphql_api.types.common import Money
from graphql_api.types.tenant import BillingCycle, CountByKey, Tenant
from tenancy import models
from tenancy.errors import AppError, ErrorCode, validation_error


def _billing(info: Info) -> Billing:
    billing = info.context.billing
    if billing is None:  # a context built without the app (never in the server)
        raise AppError(ErrorCode.BILLING_DISABLED, "billing is not available here")
    return billing


@strawberry.type
class BillingQueries:
    @strawberry.field(extensions=requires("billing.manage"))
    async def invoices(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: str | None = None,
        tenant_slug: str | None = None,
    ) -> InvoiceConnection | None:
        """Invoices, newest first: a tenant admin's own tenant's; a super-admin's of
        every tenant (``tenantSlug`` narrows them)."""
        context = info.context
        store = _billing(info).store
        if context.principal.can("platform.read"):
            tenant_id = None
            if tenant_slug:
                found = await context.runtime.store.tenant_by_slug(tenant_slug)
                if found is None:
                    raise AppError(
                        ErrorCode.TENANT_NOT_FOUND, f"tenant {tenant_slug!r} does not exist"
                    )
                tenant_id = found.id
        else:
            tenant, _ = context.require_tenant()
            if tenant_slug and tenant_slug != tenant.slug:
                raise AppError(ErrorCode.FORBIDDEN, "tenant admins see their own invoices only")
            tenant_id = tenant.id
        page = await store.invoices_page(
            tenant_id=tenant_id, status=status, first=page_size(info, first), after=after
        )
        return InvoiceConnection.from_page(page, Invoice.from_doc)

    @strawberry.field(extensions=requires("platform.read"))
    async def revenue(
        self, info: Info, since: datetime | None = None, until: datetime | None = None
    ) -> RevenueFigures | None:
        """MRR, tenants by status, churn and new tenants over ``[since, until)``
        (default: the last 30 days)."""
        until = until or datetime.now(UTC)
        since = since or until - timedelta(days=30)
        if since.tzinfo is None or until.tzinfo is None:
            raise validation_error("since", "give since and until with a time zone offset")
        if since >= until:
            raise validation_error("since", "since must be before until")
        figures = await revenue(info.context.runtime, since, until)
        return RevenueFigures(
            mrr=[Money(amount_minor=n, currency=c) for c, n in figures.mrr_minor.items()],
            tenants_by_status=[CountByKey(key=k, count=n) for k, n in figures.by_status.items()],
            since=since,
            until=until,
            cancelled_in_period=figures.cancelled_in_period,
            tenants_at_period_start=figures.at_period_start,
            churn_rate=figures.churn_rate,
            new_tenants=figures.new_tenants,
        )


def _actor(info: Info) -> str:
    return str(info.context.principal.actor)


def _cycle(value: models.BillingCycle | str) -> models.BillingCycle:
    return models.BillingCycle(value)


@strawberry.type
class BillingMutations:
    @strawberry.mutation(extensions=requires("billing.manage"))
    async def start_checkout(
        self,
        info: Info,
        plan_key: str,
        billing_cycle: BillingCycle = models.BillingCycle.MONTHLY,  # type: ignore[valid-type]
    ) -> BillingLinkPayload:
        """A Stripe Checkout URL subscribing the request's tenant to a plan."""

        async def run() -> BillingLinkPayload:
            tenant, _ = info.context.require_writable()
            url = await checkout.start_checkout(
                _billing(info), tenant, plan_key, _cycle(billing_cycle), _actor(info)
            )
            return BillingLinkPayload(url=url)

        return await mutation_payload(BillingLinkPayload, run)

    @strawberry.mutation(extensions=requires("billing.manage"))
    async def billing_portal_url(self, info: Info) -> BillingLinkPayload:
        """A Stripe billing portal URL (payment methods, invoices, plan and cancellation)."""

        async def run() -> BillingLinkPayload:
            tenant, _ = info.context.require_tenant()
            return BillingLinkPayload(url=await checkout.billing_portal_url(_billing(info), tenant))

        return await mutation_payload(BillingLinkPayload, run)

    @strawberry.mutation(extensions=requires("billing.manage"))
    async def change_plan(
        self,
        info: Info,
        plan_key: str,
        billing_cycle: BillingCycle = models.BillingCycle.MONTHLY,  # type: ignore[valid-type]
    ) -> SubscriptionChangePayload:
        """Upgrade or downgrade through Stripe (prorated by Stripe); PLAN_LIMIT_EXCEEDED when
        the tenant uses more than the new plan allows."""

        async def run() -> SubscriptionChangePayload:
            tenant, _ = info.context.require_writable()
            sub = await checkout.change_plan(
                _billing(info), tenant, plan_key, _cycle(billing_cycle), _actor(info)
            )
            return SubscriptionChangePayload(
                tenant=Tenant.from_model(tenant),
                stripe_status=sub.get("status"),
                cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
            )

        return await mutation_payload(SubscriptionChangePayload, run)

    @strawberry.mutation(extensions=requires("billing.manage"))
    async def cancel_subscription(
        self, info: Info, at_period_end: bool = True
    ) -> SubscriptionChangePayload:
        """Cancel at the end of the paid period; ``atPeriodEnd: false`` undoes that."""

        async def run() -> SubscriptionChangePayload:
            tenant, _ = info.context.require_writable()
            sub = await checkout.cancel_subscription(
                _billing(info), tenant, info.context.principal.actor, at_period_end=at_period_end
            )
            return SubscriptionChangePayload(
                tenant=Tenant.from_model(tenant),
                stripe_status=sub.get("status"),
                cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
            )

        return await mutation_payload(SubscriptionChangePayload, run)
