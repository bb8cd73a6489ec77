"""Billing types (issue 10): checkout and portal links, invoices, revenue, usage figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graphql_api.types.common import Connection, Money, UserError
from graphql_api.types.tenant import CountByKey, Tenant


@strawberry.type(description="A link to Stripe (checkout or billing portal).")
class BillingLinkPayload:
    url: str | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(
    description="A subscription change asked of Stripe. The tenant's plan, status and limits "
    "change when Stripe confirms it (its webhook)."
)
class SubscriptionChangePayload:
    tenant: Tenant | None = None
    stripe_status: str | None = strawberry.field(
        default=None, description="The subscription's status as Stripe answered."
    )
    cancel_at_period_end: bool | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="A Stripe invoice of a tenant, as its webhooks reported it.")
class Invoice:
    id: strawberry.ID = strawberry.field(description="Stripe's invoice id (in_...).")
    tenant_slug: str
    number: str | None
    status: str | None = strawberry.field(description="draft, open, paid, void, uncollectible.")
    amount_due: Money
    amount_paid: Money
    period_start: datetime | None
    period_end: datetime | None
    hosted_invoice_url: str | None
    pdf_url: str | None
    attempt_count: int
    created_at: datetime | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Invoice:
        currency = doc.get("currency") or "USD"
        return cls(
            id=strawberry.ID(str(doc["_id"])),
            tenant_slug=str(doc.get("tenant_slug") or ""),
            number=doc.get("number"),
            status=doc.get("status"),
            amount_due=Money(amount_minor=int(doc.get("amount_due") or 0), currency=currency),
            amount_paid=Money(amount_minor=int(doc.get("amount_paid") or 0), currency=currency),
            period_start=doc.get("period_start"),
            period_end=doc.get("period_end"),
            hosted_invoice_url=doc.get("hosted_invoice_url"),
            pdf_url=doc.get("invoice_pdf"),
            attempt_count=int(doc.get("attempt_count") or 0),
            created_at=doc.get("created"),
        )


InvoiceConnection = Connection[Invoice]


@strawberry.type(description="Platform revenue figures (super-admins).")
class RevenueFigures:
    mrr: list[Money] = strawberry.field(
        description="Monthly recurring revenue per currency (yearly prices / 12), active and "
        "past-due subscriptions."
    )
    tenants_by_status: list[CountByKey]
    since: datetime
    until: datetime
    cancelled_in_period: int
    tenants_at_period_start: int
    churn_rate: float = strawberry.field(
        description="cancelledInPeriod / tenantsAtPeriodStart (0 when none)."
    )
    new_tenants: int = strawberry.field(description="Tenants created in the period.")
