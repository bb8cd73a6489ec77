"""Tenant, plan and subscription types."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from billing.usage import figures as usage_figures
from graphql_api.types.catalog import Location, Service
from graphql_api.types.common import Connection, Money, UserError
from graphql_api.types.node import Node
from tenancy import models

TenantStatus = strawberry.enum(models.TenantStatus, name="TenantStatus")
SubscriptionStatus = strawberry.enum(models.SubscriptionStatus, name="SubscriptionStatus")
BillingCycle = strawberry.enum(models.BillingCycle, name="BillingCycle")
Role = strawberry.enum(models.Role, name="Role")


@strawberry.type(description="Plan limits; null means unlimited.")
class PlanLimits:
    max_users: int | None
    max_customers: int | None
    api_rate_limit_per_minute: int | None

    @classmethod
    def from_model(cls, limits_: models.PlanLimits) -> PlanLimits:
        return cls(
            max_users=limits_.max_users,
            max_customers=limits_.max_customers,
            api_rate_limit_per_minute=limits_.api_rate_limit_per_minute,
        )


@strawberry.type(description="A subscription plan (the legacy CRM's packages).")
class Plan(Node):
    id: strawberry.ID
    key: str
    name: str
    description: str
    monthly_price: Money
    yearly_price: Money
    limits: PlanLimits
    features: list[str]

    @classmethod
    def from_model(cls, plan: models.Plan) -> Plan:
        return cls(
            id=strawberry.ID(str(plan.id)),
            key=plan.key,
            name=plan.name,
            description=plan.description,
            monthly_price=Money(amount_minor=plan.price_monthly_minor, currency=plan.currency),
            yearly_price=Money(amount_minor=plan.price_yearly_minor, currency=plan.currency),
            limits=PlanLimits.from_model(plan.limits),
            features=plan.features,
        )


@strawberry.type(description="A tenant's subscription to a plan (billing).")
class TenantSubscription:
    plan_key: str
    status: SubscriptionStatus  # type: ignore[valid-type]
    billing_cycle: BillingCycle  # type: ignore[valid-type]
    current_period_start: datetime | None
    current_period_end: datetime | None
    trial_ends_at: datetime | None

    @strawberry.field
    async def plan(self, info: Info) -> Plan | None:
        plan = await info.context.platform_loaders.plan.load(self.plan_key)
        return Plan.from_model(plan) if plan else None


@strawberry.type(description="How the tenant's public booking site looks.")
class Branding:
    primary_color: str | None = strawberry.field(description="#RRGGBB, or null (not set).")
    secondary_color: str | None = strawberry.field(description="#RRGGBB, or null (not set).")
    logo_url: str | None = strawberry.field(description="An https:// URL, or null.")

    @classmethod
    def from_model(cls, branding: models.Branding) -> Branding:
        return cls(
            primary_color=branding.primary_color,
            secondary_color=branding.secondary_color,
            logo_url=branding.logo_url,
        )


@strawberry.type(description="What customers may do with their own bookings.")
class BookingPolicy:
    cancellation_window_hours: int = strawberry.field(
        description="A customer may cancel a booking themselves only while its start is more "
        "than this many hours away."
    )
    allow_customer_cancellation: bool = strawberry.field(
        description="False: customers cannot cancel online at all."
    )

    @classmethod
    def from_model(cls, policy: models.BookingPolicy) -> BookingPolicy:
        return cls(
            cancellation_window_hours=policy.cancellation_window_hours,
            allow_customer_cancellation=policy.allow_customer_cancellation,
        )


@strawberry.type
class TenantSettings:
    timezone: str = strawberry.field(description="IANA time zone of appointment times.")
    language: str = strawberry.field(description="BCP 47 language tag, e.g. tr or en-GB.")
    currency: str
    confirmation_prefix: str
    email_sender: str | None = strawberry.field(description="Sender address of emails.")
    sender_name: str | None = strawberry.field(description="Sender name shown with it.")
    branding: Branding
    booking_policy: BookingPolicy

    @classmethod
    def from_model(cls, settings: models.TenantSettings) -> TenantSettings:
        return cls(
            timezone=settings.timezone,
            language=settings.language,
            currency=settings.currency,
            confirmation_prefix=settings.confirmation_prefix,
            email_sender=settings.email_sender,
            sender_name=settings.sender_name,
            branding=Branding.from_model(settings.branding),
            booking_policy=BookingPolicy.from_model(settings.booking_policy),
        )


@strawberry.type(description="One plan limit: what is used of it (billing usage alerts).")
class UsageMetric:
    metric: str = strawberry.field(description="users or customers.")
    used: int
    limit: int | None = strawberry.field(description="null: unlimited.")
    percentage: int | None = strawberry.field(
        description="used * 100 / limit, rounded down; null when unlimited. Admins are emailed "
        "at 80 and 100 once per billing period."
    )


@strawberry.type(description="What the tenant uses of its plan limits.")
class Usage:
    users: int
    customers: int
    metrics: list[UsageMetric] = strawberry.field(
        default_factory=list, description="Each limit with its use and percentage."
    )


@strawberry.type
class Tenant(Node):
    id: strawberry.ID
    slug: str
    name: str
    status: TenantStatus  # type: ignore[valid-type]
    status_reason: str | None
    in_maintenance: bool
    domains: list[str]
    settings: TenantSettings
    subscription: TenantSubscription
    limits: PlanLimits
    created_at: datetime
    updated_at: datetime
    record: strawberry.Private[models.Tenant]

    @strawberry.field(description="Current usage; reads the tenant database.")
    async def usage(self, info: Info) -> Usage:
        usage = await info.context.platform_loaders.usage.load(self.record)
        metrics = [
            UsageMetric(metric=f.metric, used=f.used, limit=f.limit, percentage=f.percentage)
            for f in usage_figures(self.record, usage)
        ]
        return Usage(users=usage.users, customers=usage.customers, metrics=metrics)

    @classmethod
    def from_model(cls, tenant: models.Tenant) -> Tenant:
        sub = tenant.subscription
        return cls(
            id=strawberry.ID(str(tenant.id)),
            slug=tenant.slug,
            name=tenant.name,
            status=tenant.status,
            status_reason=tenant.status_reason,
            in_maintenance=tenant.maintenance is not None,
            domains=tenant.domains,
            settings=TenantSettings.from_model(tenant.settings),
            subscription=TenantSubscription(
                plan_key=sub.plan_key,
                status=sub.status,
                billing_cycle=sub.billing_cycle,
                current_period_start=sub.current_period_start,
                current_period_end=sub.current_period_end,
                trial_ends_at=sub.trial_ends_at,
            ),
            limits=PlanLimits.from_model(tenant.limits),
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
            record=tenant,
        )


@strawberry.type
class User(Node):
    id: strawberry.ID
    email: str
    name: str
    role: Role  # type: ignore[valid-type]

    @classmethod
    def from_model(cls, user: models.User) -> User:
        return cls(id=strawberry.ID(str(user.id)), email=user.email, name=user.name, role=user.role)


TenantConnection = Connection[Tenant]


@strawberry.input
class TenantFilter:
    status: TenantStatus | None = None  # type: ignore[valid-type]
    plan_key: str | None = None


@strawberry.input
class CreateTenantInput:
    slug: str = strawberry.field(description="3-40 chars: a-z, 0-9, inner hyphens.")
    name: str
    owner_email: str
    owner_name: str
    owner_password: str
    plan_key: str = "starter"
    timezone: str = "Europe/Istanbul"
    language: str = "tr"
    currency: str = "TRY"
    confirmation_prefix: str | None = None
    domains: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateTenantInput:
    name: str | None = None
    timezone: str | None = None
    language: str | None = None
    currency: str | None = None
    email_sender: str | None = None
    domains: list[str] | None = None
    plan_key: str | None = strawberry.field(default=None, description="Upgrade or downgrade.")


@strawberry.input(
    description="A tenant's own settings (tenant admins). Omitted fields stay as they are; "
    "an empty string clears an optional text (sender, colours, logo)."
)
class UpdateTenantSettingsInput:
    name: str | None = None
    timezone: str | None = strawberry.field(default=None, description="IANA, e.g. Europe/Berlin.")
    language: str | None = strawberry.field(default=None, description="BCP 47, e.g. tr, en-GB.")
    currency: str | None = strawberry.field(default=None, description="ISO 4217, e.g. TRY.")
    sender_name: str | None = strawberry.field(default=None, description="1-100 characters.")
    sender_email: str | None = None
    primary_color: str | None = strawberry.field(default=None, description="#RRGGBB.")
    secondary_color: str | None = strawberry.field(default=None, description="#RRGGBB.")
    logo_url: str | None = strawberry.field(
        default=None, description="https:// only, at most 2048 characters."
    )
    cancellation_window_hours: int | None = strawberry.field(
        default=None, description="0-720 hours."
    )
    allow_customer_cancellation: bool | None = None


@strawberry.type(
    description="What anyone may read about a tenant: no subscription, limits, usage or domains."
)
class TenantProfile:
    slug: str
    name: str
    timezone: str
    language: str
    currency: str
    branding: Branding
    booking_policy: BookingPolicy
    services: list[Service] = strawberry.field(description="Active services, by name.")
    locations: list[Location] = strawberry.field(description="Active locations, by name.")


@strawberry.type
class TenantPayload:
    tenant: Tenant | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OperationStep:
    """One step of an operator operation (``deleteTenant``)."""

    name: str
    status: str = strawberry.field(description="ok, failed or skipped")
    detail: str


@strawberry.type
class DeleteTenantPayload:
    tenant: Tenant | None = None
    steps: list[OperationStep] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CountByKey:
    key: str
    count: int


@strawberry.type(description="Platform-wide figures for super-admins.")
class PlatformStats:
    tenants: int
    tenants_by_status: list[CountByKey]
    tenants_by_plan: list[CountByKey]
    active_users: int
