"""Platform-database models (pydantic v2).

Documents map 1:1 to the platform collections ``tenants``, ``users`` and
``plans``. Money is integer minor units plus an ISO 4217 currency code;
datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from bson import ObjectId
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, field_validator


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
# Stored as a BSON ObjectId; a hex string in JSON dumps (reports, --json).
ObjectIdField = Annotated[ObjectId, PlainSerializer(str, return_type=str, when_used="json")]


def utcnow() -> datetime:
    """Current time, timezone-aware UTC, at the precision MongoDB stores (milliseconds).

    A document returned right after its insert then equals what later reads
    return (a create response and an idempotent replay agree on ``createdAt``).
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


class Document(BaseModel):
    """Base of stored documents: ``id`` is the MongoDB ``_id``."""

    model_config = ConfigDict(
        arbitrary_types_allowed=True, populate_by_name=True, use_enum_values=True
    )

    id: ObjectIdField = Field(default_factory=ObjectId, alias="_id")

    def to_mongo(self) -> dict[str, Any]:
        """The document as stored (``_id`` key, enums as strings)."""
        return self.model_dump(by_alias=True)


class Role(StrEnum):
    """User roles, from the seeds' RBAC (platform super_admin, tenant roles)."""

    SUPER_ADMIN = "super_admin"
    ADMIN = "admin"
    STAFF = "staff"
    VIEWER = "viewer"


class TenantStatus(StrEnum):
    """Lifecycle status of a tenant (seed 001 tenant statuses)."""

    TRIAL = "trial"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    DELETED = "deleted"


#: Upper bound of ``BookingPolicy.cancellation_window_hours`` (30 days).
MAX_CANCELLATION_WINDOW_HOURS = 720

SERVED_STATUSES = frozenset({TenantStatus.TRIAL, TenantStatus.ACTIVE, TenantStatus.PAST_DUE})


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELLED = "cancelled"


class BillingCycle(StrEnum):
    MONTHLY = "monthly"
    YEARLY = "yearly"


class PlanLimits(BaseModel):
    """Plan limits. ``None`` means unlimited. Rate limit is requests per minute."""

    max_users: int | None = None
    max_customers: int | None = None
    api_rate_limit_per_minute: int | None = None


class Plan(Document):
    """A subscription plan (the legacy CRM's "packages")."""

    key: str
    name: str
    description: str = ""
    currency: str = "TRY"
    price_monthly_minor: int
    price_yearly_minor: int
    limits: PlanLimits = Field(default_factory=PlanLimits)
    features: list[str] = Field(default_factory=list)
    active: bool = True
    sort_order: int = 0
    stripe_price_id_monthly: str | None = None
    stripe_price_id_yearly: str | None = None


class Branding(BaseModel):
    """How a tenant's public booking site looks: colours ``#RRGGBB``, an https logo URL.

    ``None`` means "not set" (the site's own default).
    """

    primary_color: str | None = None
    secondary_color: str | None = None
    logo_url: str | None = None


class BookingPolicy(BaseModel):
    """Rules a tenant sets for its customers' own actions on their bookings.

    Attributes:
        cancellation_window_hours: a customer may cancel a booking themselves
            (``cancelBookingByCustomer``) only while its start is MORE than
            this many hours away; 0 allows it until the start.
        allow_customer_cancellation: ``False`` switches cancelling by the
            customer off (staff still cancel).
    """

    cancellation_window_hours: int = Field(default=24, ge=0, le=MAX_CANCELLATION_WINDOW_HOURS)
    allow_customer_cancellation: bool = True


class TenantSettings(BaseModel):
    """Per-tenant preferences. ``timezone`` is an IANA zone name.

    Records written before branding, sender name and booking policy existed
    read with these defaults (24-hour cancellation window, nothing branded).
    ``email_sender`` is the sender address of the tenant's emails,
    ``sender_name`` the name shown with it.
    """

    timezone: str = "Europe/Istanbul"
    language: str = "tr"
    currency: str = "TRY"
    confirmation_prefix: str = "BK"
    email_sender: str | None = None
    sender_name: str | None = None
    branding: Branding = Field(default_factory=Branding)
    booking_policy: BookingPolicy = Field(default_factory=BookingPolicy)


class Subscription(BaseModel):
    plan_key: str
    status: SubscriptionStatus = SubscriptionStatus.TRIALING
    billing_cycle: BillingCycle = BillingCycle.MONTHLY
    current_period_start: UtcDatetime | None = None
    current_period_end: UtcDatetime | None = None
    trial_ends_at: UtcDatetime | None = None
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None


class DatabaseLocation(BaseModel):
    """Where a tenant's database lives: a cluster name from settings and a database name.

    The name is checked against MongoDB's naming rules when the location is
    made (``tenancy.naming.validate_database_name``), so a path-like or
    otherwise invalid name never reaches a client: AppError(VALIDATION_FAILED).
    """

    cluster: str
    name: str

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        from tenancy.naming import validate_database_name

        return validate_database_name(name)


class Maintenance(BaseModel):
    """Set while an operator copies or moves the tenant: reads served, writes refused."""

    reason: str
    since: UtcDatetime = Field(default_factory=utcnow)


class PreviousDatabase(BaseModel):
    """A database the tenant was moved away from; dropped only by an explicit command."""

    cluster: str
    name: str
    moved_at: UtcDatetime = Field(default_factory=utcnow)


class Tenant(Document):
    """A tenant record in the platform database."""

    slug: str
    name: str
    status: TenantStatus = TenantStatus.TRIAL
    status_reason: str | None = None
    database: DatabaseLocation
    database_key: str
    domains: list[str] = Field(default_factory=list)
    settings: TenantSettings = Field(default_factory=TenantSettings)
    subscription: Subscription
    limits: PlanLimits = Field(default_factory=PlanLimits)
    owner_user_id: ObjectIdField | None = None
    maintenance: Maintenance | None = None
    previous_databases: list[PreviousDatabase] = Field(default_factory=list)
    deleted_at: UtcDatetime | None = None
    legacy_id: str | None = None
    version: int = 1
    created_at: UtcDatetime = Field(default_factory=utcnow)
    updated_at: UtcDatetime = Field(default_factory=utcnow)

    @property
    def is_served(self) -> bool:
        """True when the API serves this tenant's data."""
        return self.status in SERVED_STATUSES


class User(Document):
    """A login. ``tenant_id`` is ``None`` only for platform super-admins."""

    tenant_id: ObjectIdField | None
    email: str
    email_key: str
    name: str
    role: Role
    password_hash: str
    active: bool = True
    created_at: UtcDatetime = Field(default_factory=utcnow)
    last_login_at: UtcDatetime | None = None
    # Accounts (issue 11): access tokens carry ``token_version`` and stop working
    # when it changes (deactivation, role or password change); an owner who
    # signed up is unverified until the emailed link is followed; an invited
    # user is pending (no usable password) until the invitation is accepted.
    token_version: int = 0
    email_verified: bool = True
    invitation_pending: bool = False
