"""Per-request context: tenant, tenant database handle, principal, DataLoaders.

Tenant resolution, in order of precedence:

1. path prefix ``/t/{slug}/graphql``
2. ``X-Tenant`` header
3. Host: ``<slug>.<base domain>`` or a tenant's custom domain
4. the JWT's ``tenant`` claim

A request that names one tenant in the path and another in the header is
refused (FORBIDDEN), and so is a JWT naming another tenant than the request
(super-admin tokens name none and may act in any tenant). A resolution
failure does not raise here: it is kept in ``failure`` and the
``RequestGuard`` extension answers it as a GraphQL error with its code, so
clients always receive GraphQL JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pymongo.errors import ConnectionFailure
from starlette.requests import Request

from accounts.sessions import check_access
from domain.booking_outbox import OutboxSetup
from graphql_api.account_limits import AccountRateLimiter
from graphql_api.auth import ANONYMOUS, Principal, TokenService
from graphql_api.errors import unavailable
from graphql_api.loaders import Loaders, PlatformLoaders
from graphql_api.rate_limit import (
    BookingLookupRateLimiter,
    LoginRateLimiter,
    TenantRateLimiter,
)
from graphql_api.request_record import note_tenant
from notifications.wiring import outbox_setup
from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant
from tenancy.mongo_types import Database
from tenancy.runtime import Runtime

TENANT_HEADER = "x-tenant"


@dataclass
class Context:
    """What every resolver receives as ``info.context``."""

    runtime: Runtime
    tokens: TokenService
    request: Request | None = None
    response: Any = None
    principal: Principal = ANONYMOUS
    tenant: Tenant | None = None
    db: Database | None = None
    failure: AppError | None = None
    login_limiter: LoginRateLimiter | None = None
    lookup_limiter: BookingLookupRateLimiter | None = None
    client_address: str = "unknown"
    billing: Any = None  # billing.service.Billing of the app (issue 10)
    account_limiter: AccountRateLimiter | None = None
    _loaders: Loaders | None = field(default=None, repr=False)

    def require_tenant(self) -> tuple[Tenant, Database]:
        """The request's tenant and its database handle.

        Raises:
            AppError(TENANT_REQUIRED) when the request names no tenant.
        """
        if self.tenant is None or self.db is None:
            raise AppError(
                ErrorCode.TENANT_REQUIRED,
                "this operation needs a tenant: use /t/{slug}/graphql, the X-Tenant header, "
                "the tenant's domain, or a token issued for a tenant",
            )
        return self.tenant, self.db

    def require_writable(self) -> tuple[Tenant, Database]:
        """As ``require_tenant``, refusing writes while the tenant is in maintenance.

        Raises:
            AppError(TENANT_MAINTENANCE) during an operator's copy or move.
        """
        tenant, db = self.require_tenant()
        if tenant.maintenance is not None:
            raise AppError(
                ErrorCode.TENANT_MAINTENANCE,
                f"tenant {tenant.slug!r} is read-only during maintenance "
                f"({tenant.maintenance.reason}); retry later",
            )
        return tenant, db

    @cached_property
    def outbox_setup(self) -> OutboxSetup:
        """How booking operations queue messages: the platform's due marker, the policy."""
        return outbox_setup(self.runtime)

    @cached_property
    def platform_loaders(self) -> PlatformLoaders:
        """DataLoaders of this request over the platform database (plans, tenant usage)."""
        return PlatformLoaders(self.runtime)

    @cached_property
    def loaders(self) -> Loaders:
        """DataLoaders of this request, bound to the tenant database."""
        _, db = self.require_tenant()
        return Loaders(db)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AppError(ErrorCode.UNAUTHENTICATED, "Authorization must be 'Bearer <token>'")
    return token.strip()


def ascii_lower(text: str | None) -> str | None:
    """Lowercase ASCII text; non-ASCII text is kept as it is, so it never becomes a slug.

    ``str.lower`` folds some non-ASCII letters to ASCII ones (the Kelvin sign
    to ``k``), which would let two different paths name one tenant.
    """
    if not text:
        return None
    return text.lower() if text.isascii() else text


async def _requested_slug(runtime: Runtime, request: Request) -> str | None:
    path_slug = ascii_lower(request.path_params.get("tenant"))
    header_slug = ascii_lower((request.headers.get(TENANT_HEADER) or "").strip())
    if path_slug and header_slug and path_slug != header_slug:
        raise AppError(
            ErrorCode.FORBIDDEN,
            f"the path names tenant {path_slug!r} but X-Tenant names {header_slug!r}",
        )
    if path_slug or header_slug:
        return path_slug or header_slug
    host = request.headers.get("host")
    return await runtime.registry.slug_for_host(host) if host else None


async def load_served_tenant(runtime: Runtime, slug: str) -> Tenant:
    """The tenant if the API serves it.

    Raises:
        AppError: TENANT_NOT_FOUND (unknown or malformed slug), TENANT_INACTIVE
        (suspended, cancelled or deleted; the message says which and why).
    """
    tenant = await runtime.registry.by_slug(slug)
    if tenant is None:
        raise AppError(ErrorCode.TENANT_NOT_FOUND, f"tenant {slug!r} does not exist")
    if not tenant.is_served:
        reason = f": {tenant.status_reason}" if tenant.status_reason else ""
        raise AppError(ErrorCode.TENANT_INACTIVE, f"tenant {slug!r} is {tenant.status}{reason}")
    return tenant


def client_address(request: Request) -> str:
    """The caller's IP address.

    ``X-Forwarded-For`` has already been applied by uvicorn's proxy-headers
    middleware when (and only when) the direct peer is one of
    ``APP_TRUSTED_PROXIES`` (see ``graphql_api.app``); otherwise this is the
    TCP peer, so a client cannot choose its own address.
    """
    return request.client.host if request.client else "unknown"


async def build_context(
    runtime: Runtime,
    tokens: TokenService,
    request: Request,
    rate_limiter: TenantRateLimiter | None = None,
    login_limiter: LoginRateLimiter | None = None,
) -> Context:
    """Resolve principal and tenant for one HTTP request; never raises for client mistakes.

    With ``rate_limiter``, the request counts against the tenant's plan rate
    limit; ``login_limiter`` is handed to the ``login`` resolver.
    """
    context = Context(
        runtime=runtime,
        tokens=tokens,
        request=request,
        login_limiter=login_limiter,
        client_address=client_address(request),
    )
    try:
        token = _bearer(request)
        if token:
            context.principal = tokens.verify(token)
            await check_access(  # revoked tokens stop at once (accounts.sessions)
                runtime,
                str(context.principal.user_id),
                context.principal.token_version,
                context.principal.session_id,
            )
        principal = context.principal
        slug = await _requested_slug(runtime, request) or principal.tenant_slug
        if slug is None:
            return context
        tenant = await load_served_tenant(runtime, slug)
        note_tenant(tenant.slug, tenant.subscription.plan_key)  # logs and metrics
        if (
            principal.is_authenticated
            and not principal.is_super_admin
            and (principal.tenant_slug != tenant.slug or principal.tenant_id != str(tenant.id))
        ):
            raise AppError(
                ErrorCode.FORBIDDEN,
                f"this token was issued for tenant {principal.tenant_slug!r}, "
                f"not {tenant.slug!r}; log in to {tenant.slug!r}",
            )
        if rate_limiter is not None:
            anonymous = None if principal.is_authenticated else context.client_address
            await rate_limiter.hit(tenant, anonymous)
        context.tenant = tenant
        context.db = runtime.tenant_database(tenant)
    except AppError as exc:
        context.failure = exc
    except ConnectionFailure as exc:
        context.failure = unavailable(exc)
    return context
