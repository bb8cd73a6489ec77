"""Process settings, read from the environment (prefix ``APP_``) and ``.env``.

Shared by the server and the operator CLI. Every field is documented in the
README's configuration table.
"""

from __future__ import annotations

import ipaddress
import math
import re
import zlib
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CLUSTER = "default"
_DB_PREFIX_RE = re.compile(r"[a-z][a-z0-9_]{0,9}")  # used with fullmatch


class CostBucket(BaseModel):
    """A query-cost bucket: ``capacity`` points, ``restore_per_second`` points back a second."""

    capacity: int = Field(ge=1)
    restore_per_second: int = Field(ge=1)


class Settings(BaseSettings):
    """All configuration of one process.

    ``mongodb_url`` empty means the embedded default: a local SecantusDB
    server for ``embedded_dir``, started on demand (``tenancy.embedded``).
    """

    model_config = SettingsConfigDict(env_prefix="APP_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    mongodb_url: str = ""
    extra_clusters: dict[str, str] = Field(
        default_factory=dict,
        description='Other MongoDB clusters by name, as JSON: {"eu-2": "mongodb://..."}.',
    )
    platform_db: str = "platform"
    tenant_db_prefix: str = "t_"
    embedded_dir: Path = Field(
        default=Path(".embedded"),
        description="Embedded mode: the local SecantusDB server's directory (data, log, pid).",
    )
    backup_dir: Path = Field(
        default=Path("backups"),
        description="Where the deleteTenant mutation writes the backup export first.",
    )
    seed_demo: bool | None = Field(
        default=None,
        description="Seed demo data at start; default: only in embedded mode (no APP_MONGODB_URL).",
    )

    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: str = "dev-insecure-secret-change-me-please-32b"
    jwt_private_key: str = ""
    jwt_public_key: str = ""
    jwt_issuer: str = "tenant-graphql"
    jwt_ttl_seconds: int = Field(default=3600, ge=60, le=86400 * 30)

    base_domain: str = "localhost"
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:5173"])

    rate_limit_enabled: bool = True
    rate_limit_storage: str = Field(
        default="async+memory://",
        description="limits storage URI for per-tenant rate limits (memory: per process).",
    )
    tenant_cache_ttl_seconds: float = Field(default=30.0, ge=0)
    login_rate_limit_enabled: bool = True
    login_attempts_per_account: str = Field(
        default="10/15 minutes",
        description="login attempts per (tenant or platform, email); a limits rate string",
    )
    login_attempts_per_address: str = Field(
        default="50/15 minutes", description="login attempts per client address"
    )
    discount_code_checks_per_address: str = Field(
        default="30/15 minutes",
        description="validateDiscountCode calls (and anonymous bookings naming a code) per "
        "client address; on with the login limit",
    )
    booking_lookup_rate_limit_enabled: bool = True
    booking_lookup_attempts_per_address: str = Field(
        default="30/15 minutes",
        description="bookingLookup / cancelBookingByCustomer attempts per client address",
    )
    booking_lookup_attempts_per_number: str = Field(
        default="10/15 minutes",
        description="bookingLookup / cancelBookingByCustomer attempts per confirmation number",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses/CIDRs whose X-Forwarded-For is believed; others' is ignored.",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="HTTP body size limit")
    max_json_depth: int = Field(default=32, ge=2, description="nesting limit of request JSON")
    graphiql: bool | None = None
    introspection: bool | None = Field(default=None, description="default: off in production")
    field_suggestions: bool | None = Field(
        default=None, description='"Did you mean ...?" in errors; default: off in production'
    )
    max_query_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_page_size: int = 100
    default_page_size: int = 20
    trial_days: int = 14
    cli_server_selection_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="tenantctl: how long to look for a reachable MongoDB server before "
        "failing with DATABASE_UNAVAILABLE.",
    )

    # Notifications (issue 9): SMTP, the outbox relay, reminders, SMS.
    smtp_host: str = Field(default="", description="SMTP server; empty: mail is only logged.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    smtp_pool_size: int = Field(default=4, ge=1, le=64, description="SMTP connections per process")
    mail_from_address: str = Field(
        default="no-reply@localhost", description="Platform default sender address."
    )
    mail_from_name: str = Field(default="", description="Default sender name (else the tenant's).")
    relay_in_server: bool = Field(default=True, description="Run the outbox relay in the server.")
    relay_max_attempts: int = Field(default=8, ge=1, le=100)
    relay_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    relay_backoff_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    relay_backoff_cap_seconds: float = Field(default=900.0, gt=0, le=86400)
    relay_poll_seconds: float = Field(default=1.0, gt=0, le=300)
    relay_concurrency: int = Field(default=8, ge=1, le=256, description="tenants served at once")
    reminder_before_minutes: int = Field(default=1440, ge=0, le=30 * 1440)
    sms_enabled: bool = True
    sms_provider: Literal["log"] = "log"

    # Billing (issue 10): Stripe. No secret key: billing is off (BILLING_DISABLED).
    stripe_secret_key: SecretStr = Field(
        default=SecretStr(""), description="Stripe secret key (sk_test_... in test mode)."
    )
    stripe_webhook_secret: SecretStr = Field(
        default=SecretStr(""), description="Signing secret of the webhook endpoint (whsec_...)."
    )
    stripe_webhook_tolerance_seconds: int = Field(
        default=300, ge=1, le=86400, description="Oldest accepted webhook signature timestamp."
    )
    stripe_api_base: str = Field(
        default="", description="Stripe API address; empty: https://api.stripe.com."
    )
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    stripe_prices: dict[str, str] = Field(
        default_factory=dict,
        description='Price ids by plan and cycle, as JSON: {"starter:monthly": "price_..."}; '
        "else the plan record's (tenantctl billing sync-plans).",
    )
    billing_grace_days: int = Field(default=7, ge=0, le=90)
    billing_success_url: str = "http://localhost:5173/billing/success"
    billing_cancel_url: str = "http://localhost:5173/billing/cancel"
    billing_portal_return_url: str = "http://localhost:5173/billing"
    billing_in_server: bool = Field(
        default=True, description="Run the billing loop (grace, retries) in the server."
    )
    billing_poll_seconds: float = Field(default=60.0, gt=0, le=3600)
    billing_max_event_attempts: int = Field(default=10, ge=1, le=100)
    # Accounts (issue 11): sessions, account emails, signup.
    refresh_token_ttl_seconds: int = Field(
        default=30 * 86400, ge=300, le=365 * 86400, description="lifetime of a login session"
    )
    token_state_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="how long a server process trusts its cached token version / session "
        "state; another process's revocation takes effect here within this time",
    )
    account_token_secret: SecretStr = Field(
        default=SecretStr(""),
        description="key of verification, reset and invitation links; empty: APP_JWT_SECRET",
    )
    email_verification_ttl_seconds: int = Field(default=86400, ge=60, le=86400)
    password_reset_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    invitation_ttl_seconds: int = Field(default=86400, ge=60, le=86400)
    app_url: str = Field(
        default="http://localhost:5173",
        description="base URL of the web app; account emails link to <app_url>/verify-email, "
        "/reset-password, /accept-invitation",
    )
    signup_enabled: bool = True
    signup_rate_limit_enabled: bool = True
    signup_attempts_per_address: str = Field(
        default="10/hour", description="signup attempts per client address"
    )
    signup_attempts_per_email: str = Field(
        default="3/hour", description="signup attempts per owner email"
    )
    account_email_requests_per_address: str = Field(
        default="20/hour",
        description="resendVerification / requestPasswordReset calls per client address",
    )
    account_email_requests_per_email: str = Field(
        default="3/15 minutes",
        description="resendVerification / requestPasswordReset calls per email",
    )
    signup_database_pool_size: int = Field(
        default=3,
        ge=0,
        le=100,
        description="migrated empty tenant databases kept ready for signups (0: none)",
    )

    @field_validator("tenant_db_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _DB_PREFIX_RE.fullmatch(value):
            raise ValueError("tenant_db_prefix must be 1-10 chars of [a-z0-9_], starting a-z")
        return value

    @field_validator(
        "login_attempts_per_account",
        "login_attempts_per_address",
        "discount_code_checks_per_address",
        "booking_lookup_attempts_per_address",
        "booking_lookup_attempts_per_number",
        "signup_attempts_per_address",
        "signup_attempts_per_email",
        "account_email_requests_per_address",
        "account_email_requests_per_email",
    )
    @classmethod
    def _check_rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as '10/15 minutes'") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.platform_db.lower().startswith(self.tenant_db_prefix):
            raise ValueError("platform_db must not start with tenant_db_prefix")
        if self.is_production:
            if self.seed_demo:
                raise ValueError("APP_SEED_DEMO cannot be on in production: demo logins are public")
            if self.jwt_algorithm == "HS256":
                _check_production_secret(self.jwt_secret)
        if self.relay_lease_seconds <= 2 * self.smtp_timeout_seconds:
            raise ValueError(
                "APP_RELAY_LEASE_SECONDS must exceed twice APP_SMTP_TIMEOUT_SECONDS "
                "(a send must end before another relay may take the message over)"
            )
        if self.jwt_algorithm == "RS256" and not self.jwt_public_key:
            raise ValueError("RS256 needs APP_JWT_PUBLIC_KEY (and a private key to sign)")
        return self

    @property
    def is_embedded(self) -> bool:
        """True when no MongoDB URL is configured: a local SecantusDB server keeps
        ``embedded_dir`` (``tenancy.embedded``)."""
        return not self.mongodb_url

    @property
    def billing_enabled(self) -> bool:
        """True when a Stripe secret key is configured (billing issue 10)."""
        return bool(self.stripe_secret_key.get_secret_value())

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def should_seed_demo(self) -> bool:
        """Seed demo tenants into an empty platform: never in production."""
        if self.is_production:
            return False
        return self.is_embedded if self.seed_demo is None else self.seed_demo

    @property
    def graphiql_enabled(self) -> bool:
        return self.environment == "development" if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return not self.is_production if self.introspection is None else self.introspection

    @property
    def field_suggestions_enabled(self) -> bool:
        return not self.is_production if self.field_suggestions is None else self.field_suggestions

    def cluster_urls(self) -> dict[str, str]:
        """Cluster name -> MongoDB URL (``""``: the embedded server, not started yet)."""
        return {DEFAULT_CLUSTER: self.mongodb_url, **self.extra_clusters}

    # Observability and cost limits (issue 12): logs, metrics, tracing, query cost,
    # persisted queries. README, "Operations".
    log_format: Literal["json", "console"] | None = Field(
        default=None,
        description="json (one object a line) or console; default: console in "
        "development, else json",
    )
    log_level: str = Field(default="INFO", description="root log level (DEBUG, INFO, WARNING...)")
    access_log: bool | None = Field(
        default=None,
        description="one log line per request; default: off in production (it costs 12-30 % "
        "of throughput)",
    )
    metrics_enabled: bool = Field(default=True, description="serve /metrics (Prometheus)")
    metrics_tenant_label: bool = Field(
        default=False,
        description="label request and rate-limit metrics with the tenant slug (one series per "
        "tenant: only for fleets of bounded size)",
    )
    metrics_max_operation_names: int = Field(
        default=200, ge=0, description="distinct operation-name labels kept; others: 'other'"
    )
    tracing_enabled: bool = Field(
        default=False, description="OpenTelemetry spans (needs `pip install .[tracing]`)"
    )
    query_cost_enabled: bool = Field(
        default=True, description="compute each operation's cost (extensions.cost)"
    )
    max_query_cost: int = Field(
        default=1000, ge=1, description="operations costing more are refused (QUERY_TOO_COSTLY)"
    )
    query_cost_buckets: dict[str, CostBucket] = Field(
        default_factory=lambda: {
            "starter": CostBucket(capacity=1000, restore_per_second=50),
            "professional": CostBucket(capacity=2000, restore_per_second=100),
            "enterprise": CostBucket(capacity=5000, restore_per_second=250),
        },
        description="query-cost bucket per plan key, as JSON",
    )
    query_cost_default_bucket: CostBucket = Field(
        default_factory=lambda: CostBucket(capacity=1000, restore_per_second=50),
        description="the bucket of plans not in APP_QUERY_COST_BUCKETS",
    )
    persisted_queries_enabled: bool = Field(
        default=True, description="automatic persisted queries (Apollo's protocol)"
    )
    persisted_queries_cache_size: int = Field(
        default=1000, ge=1, description="documents kept in each process's persisted-query cache"
    )
    persisted_queries_safelist: bool = Field(
        default=False,
        description="run only documents registered with `tenantctl persisted-queries register`",
    )

    @property
    def log_format_used(self) -> str:
        """``APP_LOG_FORMAT``, defaulted: console in development, else json."""
        if self.log_format is not None:
            return self.log_format
        return "console" if self.environment == "development" else "json"

    @property
    def access_log_enabled(self) -> bool:
        """``APP_ACCESS_LOG``, defaulted: off in production."""
        return not self.is_production if self.access_log is None else self.access_log


MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 100  # estimated; 32 random hex characters measure about 113


def _check_production_secret(secret: str) -> None:
    """Refuse an HS256 secret that is short, the development default, or of low entropy.

    Entropy is estimated from the secret's own character frequencies
    (Shannon), so ``"a" * 64`` (0 bits) or ``"abab..."`` (1 bit a character)
    fail, while 32 random hex characters (about 113 bits by this estimate) or
    43 base64 characters (about 215) pass.
    A secret that zlib can compress (``"0123456789" * 4``) repeats itself and
    fails too. ``openssl rand -base64 48`` makes a good one.
    """
    hint = "set APP_JWT_SECRET to a random value, e.g. `openssl rand -base64 48`"
    if secret.startswith("dev-insecure") or len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"production needs APP_JWT_SECRET of >= {MIN_SECRET_LENGTH} chars; {hint}")
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    repetitive = len(zlib.compress(secret.encode(), 9)) < len(secret.encode())
    if per_char * len(secret) < MIN_SECRET_BITS or repetitive:
        raise ValueError(f"APP_JWT_SECRET is too predictable (repeated characters); {hint}")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
