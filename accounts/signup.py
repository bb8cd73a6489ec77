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

import asyncio
import contextlib
import logging

from pydantic import BaseModel, Field

from accounts import mail, tokens
from tenancy import database_pool, lifecycle
from tenancy.errors import AppError, ErrorCode
from tenancy.models import DatabaseLocation, Tenant, User
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
    slug = request.slug.strip().lower()
    pooled = await database_pool.claim(runtime, slug)
    try:
        tenant = await _provision(runtime, request, pooled)
    except BaseException as error:
        if pooled is not None:
            await runtime.store.pool_release(pooled)
        if not isinstance(error, AppError) or error.code != ErrorCode.MIGRATION_LOCKED:
            raise
        # A concurrent signup for the same slug holds the new database's
        # migration lock: that one wins the slug.
        raise AppError(
            ErrorCode.ALREADY_EXISTS, f"tenant {request.slug!r} is being created", ["input", "slug"]
        ) from None
    if pooled is not None:
        await runtime.store.pool_remove(pooled)
        refill_soon(runtime)
    assert tenant.owner_user_id is not None
    owner = await runtime.store.user_by_id(tenant.owner_user_id)
    if owner is None:  # provisioning inserted it; only a concurrent delete removes it
        raise AppError(ErrorCode.INTERNAL_ERROR, "the new tenant's owner was not found")
    token = tokens.issue(runtime.settings, tokens.Purpose.VERIFY_EMAIL, owner)
    await mail.send(runtime, tenant, owner, mail.VERIFICATION, token)
    return tenant, owner


async def _provision(
    runtime: Runtime, request: SignupRequest, pooled: DatabaseLocation | None
) -> Tenant:
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
            database_name=pooled.name if pooled else None,
        ),
        actor=f"signup:{request.slug.strip().lower()}",
    )


# -- the pool of pre-provisioned databases (``tenancy.database_pool``) ---------

log = logging.getLogger(__name__)
#: Refill task per runtime (by id): at most one fill runs per process and platform.
_refills: dict[int, asyncio.Task[int]] = {}


def refill_soon(runtime: Runtime) -> None:
    """Start filling the database pool in the background unless a fill is running."""
    running = _refills.get(id(runtime))
    if running is not None and not running.done():
        return
    _refills[id(runtime)] = asyncio.create_task(_fill(runtime))


async def _fill(runtime: Runtime) -> int:
    try:
        return await database_pool.fill(runtime)
    except Exception:  # the pool only speeds signups up; a failed fill is retried later
        log.exception("filling the signup database pool failed")
        return 0


async def refills_done(runtime: Runtime) -> None:
    """Wait for a running fill to end (tests, benchmarks)."""
    task = _refills.get(id(runtime))
    if task is not None:
        await asyncio.shield(task)


async def stop_refills(runtime: Runtime) -> None:
    """Cancel a running fill (shutdown); the database it was making is finished by the
    next fill (``tenancy.database_pool``: it is recorded before it is made)."""
    task = _refills.pop(id(runtime), None)
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
