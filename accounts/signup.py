"""Self-service signup: a company creates its own tenant, in trial, with its owner as admin.

The tenant is made by the same provisioning as ``createTenant``
(``tenancy.lifecycle.provision_tenant``): the unique slug index decides a
race for one slug (exactly one signup wins, the other gets ALREADY_EXISTS).
The owner is an admin whose email is not verified yet: a verification email
is queued in the new tenant's outbox, and until the link is followed the
owner may use the tenant but not invite users (``accounts.team``).

Signup reveals nothing about existing accounts: users belong to one tenant,
so an email that already has an account elsewhere signs up like any other
and the answer is the same. Rate limits (per client address and per email)
are applied by the API before this is called.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from accounts import mail, tokens
from tenancy import lifecycle
from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant, User
from tenancy.naming import validate_slug
from tenancy.runtime import Runtime


class SignupRequest(BaseModel):
    """What a company gives at signup (``signup`` mutation)."""

    company_name: str = Field(min_length=1, max_length=200)
    slug: str
    owner_name: str = Field(min_length=1, max_length=200)
    email: str
    password: str
    plan_key: str = "starter"
    language: str = "tr"
    timezone: str = "Europe/Istanbul"
    currency: str = "TRY"


async def slug_available(runtime: Runtime, slug: str) -> bool:
    """True when ``slug`` is well-formed and no tenant (not even a deleted one) has it.

    A later signup may still lose a race for it; the signup's answer decides.
    """
    try:
        checked = validate_slug(slug, ["slug"])
    except AppError:
        return False
    return await runtime.store.tenant_by_slug(checked) is None


async def signup(runtime: Runtime, request: SignupRequest) -> tuple[Tenant, User]:
    """Provision the tenant (trial), its unverified owner admin, and queue the verification.

    Returns:
        The tenant and its owner.

    Raises:
        AppError: VALIDATION_FAILED (slug, email, password, plan, time zone...),
        ALREADY_EXISTS (the slug is taken, also when a concurrent signup took it).
    """
    try:
        tenant = await _provision(runtime, request)
    except AppError as error:
        if error.code != ErrorCode.MIGRATION_LOCKED:
            raise
        # A concurrent signup for the same slug holds the new database's
        # migration lock: that one wins the slug.
        raise AppError(
            ErrorCode.ALREADY_EXISTS, f"tenant {request.slug!r} is being created", ["input", "slug"]
        ) from None
    assert tenant.owner_user_id is not None
    owner = await runtime.store.user_by_id(tenant.owner_user_id)
    if owner is None:  # provisioning inserted it; only a concurrent delete removes it
        raise AppError(ErrorCode.INTERNAL_ERROR, "the new tenant's owner was not found")
    token = tokens.issue(runtime.settings, tokens.Purpose.VERIFY_EMAIL, owner)
    await mail.send(runtime, tenant, owner, mail.VERIFICATION, token)
    return tenant, owner


async def _provision(runtime: Runtime, request: SignupRequest) -> Tenant:
    return await lifecycle.provision_tenant(
        runtime,
        lifecycle.ProvisionRequest(
            slug=request.slug,
            name=request.company_name,
            plan_key=request.plan_key,
            owner_email=request.email,
            owner_name=request.owner_name,
            owner_password=request.password,
            language=request.language,
            timezone=request.timezone,
            currency=request.currency,
            owner_email_verified=False,
        ),
        actor=f"signup:{request.slug.strip().lower()}",
    )
