"""Tenant lifecycle: provision, update, change plan, suspend, reactivate; tenant users.

The GraphQL mutations and the operator CLI call these same functions.
Each change is written to the platform ``audit_log`` and invalidates the
registry cache for the tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field

from tenancy.audit import field_changes
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.hostnames import check_custom_domain
from tenancy.models import (
    DatabaseLocation,
    Maintenance,
    Plan,
    Role,
    Subscription,
    SubscriptionStatus,
    Tenant,
    TenantSettings,
    TenantStatus,
    User,
    utcnow,
)
from tenancy.naming import (
    check_no_case_twin,
    database_key,
    tenant_database_name,
    validate_slug,
)
from tenancy.pagination import Page
from tenancy.passwords import MIN_PASSWORD_LENGTH, hash_password
from tenancy.platform import email_key
from tenancy.runtime import Runtime
from tenancy.settings import DEFAULT_CLUSTER
from tenancy.tenant_settings import TenantSettingsUpdate, check_language, settings_changes
from tenancy.validation import check_currency, check_email, check_timezone

log = logging.getLogger(__name__)


class ProvisionRequest(BaseModel):
    """What a new tenant needs. ``domains`` are custom hostnames (lowercased)."""

    slug: str
    name: str = Field(min_length=1, max_length=200)
    plan_key: str = "starter"
    owner_email: str
    owner_name: str = Field(min_length=1, max_length=200)
    owner_password: str
    timezone: str = "Europe/Istanbul"
    language: str = "tr"
    currency: str = "TRY"
    confirmation_prefix: str | None = None
    domains: list[str] = Field(default_factory=list)
    cluster: str = DEFAULT_CLUSTER
    #: False for a self-service signup: the owner verifies the address first (``accounts``).
    owner_email_verified: bool = True
    #: A pre-provisioned database of ``cluster`` to use (``tenancy.database_pool``);
    #: ``None``: the database named after the slug.
    database_name: str | None = None


class TenantUpdate(BaseModel):
    """Changes to a tenant; ``None`` leaves a field as it is."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    language: str | None = None
    currency: str | None = None
    email_sender: str | None = None
    domains: list[str] | None = None
    plan_key: str | None = None


async def audit(
    runtime: Runtime,
    actor: str,
    action: str,
    tenant: str | None,
    details: dict[str, Any],
    *,
    target: str | None = None,
    changes: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Append one entry to the platform audit log (``target`` and ``changes``: see
    ``PlatformStore.append_audit``)."""
    await runtime.store.append_audit(actor, action, tenant, details, target=target, changes=changes)


def _tenant_changes(before: Tenant, after: Tenant) -> dict[str, dict[str, Any]]:
    """The tenant record's changed fields, before and after (``tenancy.audit``)."""
    return field_changes(before.to_mongo(), after.to_mongo(), ignore=_BOOKKEEPING)


_BOOKKEEPING = frozenset({"updated_at", "version"})


def _check_domains(domains: list[str], base_domain: str) -> list[str]:
    """Custom domains in their stored ASCII form, deduplicated, sorted (``tenancy.hostnames``)."""
    field = ["input", "domains"]
    return sorted({check_custom_domain(raw, base_domain, field) for raw in domains})


def _check_password(password: str, field: list[str]) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise validation_error(field, f"password must be at least {MIN_PASSWORD_LENGTH} characters")


async def provision_tenant(runtime: Runtime, request: ProvisionRequest, actor: str) -> Tenant:
    """Create a tenant: its database (collections, indexes), record, owner admin, trial.

    Order makes a failure leave nothing half-made: the database is brought
    to the latest migration first (idempotent), then the record (the unique slug index
    decides races), then the owner; if the owner cannot be created the
    record is removed again.

    Raises:
        AppError: VALIDATION_FAILED (bad slug, email, password, time zone,
        currency, domain, unknown plan), ALREADY_EXISTS (slug, database or
        domain taken), NOT_FOUND (unknown cluster).
    """
    slug = validate_slug(request.slug, ["input", "slug"])
    plan = await runtime.store.plan(request.plan_key)
    if plan is None or not plan.active:
        raise validation_error(["input", "planKey"], f"plan {request.plan_key!r} does not exist")
    owner_email = check_email(request.owner_email, ["input", "ownerEmail"])
    _check_password(request.owner_password, ["input", "ownerPassword"])
    # The owner's argon2 hash (the slowest step) runs in a thread while the
    # database work below goes on; it is awaited when the owner is built.
    hashing = asyncio.ensure_future(hash_password(request.owner_password))
    try:
        return await _provision(runtime, request, actor, slug, plan, owner_email, hashing)
    finally:
        if not hashing.done():
            hashing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hashing


async def _provision(
    runtime: Runtime,
    request: ProvisionRequest,
    actor: str,
    slug: str,
    plan: Plan,
    owner_email: str,
    hashing: asyncio.Future[str],
) -> Tenant:
    settings = TenantSettings(
        timezone=check_timezone(request.timezone, ["input", "timezone"]),
        language=check_language(request.language, ["input", "language"]),
        currency=check_currency(request.currency, ["input", "currency"]),
        confirmation_prefix=(request.confirmation_prefix or slug[:2]).upper(),
    )
    domains = _check_domains(request.domains, runtime.settings.base_domain)
    if await runtime.store.tenant_by_slug(slug):
        raise AppError(
            ErrorCode.ALREADY_EXISTS, f"tenant {slug!r} already exists", ["input", "slug"]
        )

    db_name = request.database_name or tenant_database_name(slug, runtime.settings.tenant_db_prefix)
    location = DatabaseLocation(cluster=request.cluster, name=db_name)
    database = runtime.clients.database(location)
    if request.database_name is None:  # a pool database was checked when it was made
        await check_no_case_twin(database)
    # Born at the latest version: every tenant migration applied, with ledger entries.
    await runtime.upgrade_schema(database, "tenant", actor)

    now = utcnow()
    trial_end = now + timedelta(days=runtime.settings.trial_days)
    tenant = Tenant(
        slug=slug,
        name=request.name,
        status=TenantStatus.TRIAL,
        database=location,
        database_key=database_key(location.cluster, location.name),
        domains=domains,
        settings=settings,
        subscription=Subscription(
            plan_key=plan.key,
            status=SubscriptionStatus.TRIALING,
            current_period_start=now,
            current_period_end=trial_end,
            trial_ends_at=trial_end,
        ),
        limits=plan.limits,
    )
    owner = User(
        tenant_id=tenant.id,
        email=owner_email,
        email_key=email_key(owner_email),
        name=request.owner_name,
        role=Role.ADMIN,
        password_hash=await hashing,
        email_verified=request.owner_email_verified,
    )
    tenant.owner_user_id = owner.id
    await runtime.store.insert_tenant(tenant)
    try:
        await runtime.store.insert_user(owner)
    except Exception:
        await runtime.store.release_domains(slug, domains)
        await runtime.store.delete_tenant_record(tenant.id)
        raise
    runtime.registry.invalidate(slug)
    await audit(runtime, actor, "tenant.provision", slug, {"plan": plan.key, "db": db_name})
    log.info("provisioned tenant %s in %s/%s", slug, location.cluster, db_name)
    return tenant


async def list_tenants(
    runtime: Runtime,
    *,
    status: str | None = None,
    plan_key: str | None = None,
    first: int,
    after: str | None = None,
) -> Page:
    """A page of tenants, newest first: GraphQL ``tenants`` and ``tenantctl tenants list``.

    Raises:
        AppError(VALIDATION_FAILED) for a forged ``after`` cursor.
    """
    return await runtime.store.tenants_page(
        status=status, plan_key=plan_key, first=first, after=after
    )


async def get_tenant(runtime: Runtime, slug: str) -> Tenant:
    """The tenant record (uncached), or AppError(TENANT_NOT_FOUND)."""
    tenant = await runtime.store.tenant_by_slug(slug)
    if tenant is None:
        raise AppError(ErrorCode.TENANT_NOT_FOUND, f"tenant {slug!r} does not exist")
    return tenant


async def update_tenant(runtime: Runtime, slug: str, update: TenantUpdate, actor: str) -> Tenant:
    """Change name, settings, domains or plan (upgrade/downgrade copies the plan's limits).

    Raises:
        AppError: TENANT_NOT_FOUND, VALIDATION_FAILED, ALREADY_EXISTS (domain taken).
    """
    tenant = await get_tenant(runtime, slug)
    changes: dict[str, Any] = {}
    if update.name is not None:
        changes["name"] = update.name
    if update.timezone is not None:
        changes["settings.timezone"] = check_timezone(update.timezone, ["input", "timezone"])
    if update.language is not None:
        changes["settings.language"] = check_language(update.language, ["input", "language"])
    if update.currency is not None:
        changes["settings.currency"] = check_currency(update.currency, ["input", "currency"])
    if update.email_sender is not None:
        changes["settings.email_sender"] = check_email(
            update.email_sender, ["input", "emailSender"]
        )
    if update.plan_key is not None and update.plan_key != tenant.subscription.plan_key:
        plan = await runtime.store.plan(update.plan_key)
        if plan is None or not plan.active:
            raise validation_error(["input", "planKey"], f"plan {update.plan_key!r} does not exist")
        changes["subscription.plan_key"] = plan.key
        changes["limits"] = plan.limits.model_dump()
    if update.domains is not None:
        domains = _check_domains(update.domains, runtime.settings.base_domain)
        await runtime.store.claim_domains(slug, domains)
        await runtime.store.release_domains(slug, sorted(set(tenant.domains) - set(domains)))
        changes["domains"] = domains
    if not changes:
        return tenant
    updated = await runtime.store.update_tenant(tenant.id, changes)
    runtime.registry.invalidate(slug)
    await audit(
        runtime,
        actor,
        "tenant.update",
        slug,
        {"fields": sorted(changes)},
        target=f"tenant:{slug}",
        changes=_tenant_changes(tenant, updated),
    )
    return updated


async def update_tenant_settings(
    runtime: Runtime, slug: str, update: TenantSettingsUpdate, actor: str
) -> Tenant:
    """Change a tenant's own settings (``updateTenantSettings``: its admins, super-admins).

    Only the fields of ``TenantSettingsUpdate`` (name, time zone, language,
    currency, sender, branding, booking policy); plan, status, limits and
    domains are not reachable here. Omitted fields stay as they are. The
    change is one ``$set`` of the named paths, audit-logged as
    ``tenant.settings.update`` with the fields it changed, and the registry
    cache of the tenant is invalidated.

    Raises:
        AppError: TENANT_NOT_FOUND, VALIDATION_FAILED (the field at fault).
    """
    tenant = await get_tenant(runtime, slug)
    changes = settings_changes(update)
    if not changes:
        return tenant
    updated = await runtime.store.update_tenant(tenant.id, changes)
    runtime.registry.invalidate(slug)
    await audit(
        runtime,
        actor,
        "tenant.settings.update",
        slug,
        {"fields": sorted(changes)},
        target=f"tenant:{slug}",
        changes=_tenant_changes(tenant, updated),
    )
    return updated


async def set_tenant_status(
    runtime: Runtime,
    slug: str,
    status: TenantStatus,
    reason: str | None,
    actor: str,
    *,
    end_trial: bool = False,
) -> Tenant:
    """Suspend, reactivate, activate or cancel a tenant (``suspendTenant``,
    ``reactivateTenant``, ``tenantctl tenants ...`` and the legacy importer).

    Allowed: served (trial/active/past_due) -> suspended or cancelled;
    suspended -> active/trial (reactivation: a trial stays a trial). With
    ``end_trial``, activation also ends a trial: trial -> active with an
    active subscription (an existing customer imported from a legacy
    system). Deleted tenants never change.

    Raises:
        AppError: TENANT_NOT_FOUND, INVALID_TRANSITION.
    """
    tenant = await get_tenant(runtime, slug)
    current = TenantStatus(tenant.status)
    activating = status in (TenantStatus.ACTIVE, TenantStatus.TRIAL)
    if not activating:
        allowed = tenant.is_served or (
            status == TenantStatus.CANCELLED and current == TenantStatus.SUSPENDED
        )
    else:
        allowed = current == TenantStatus.SUSPENDED or (end_trial and current == TenantStatus.TRIAL)
    if not allowed:
        raise AppError(
            ErrorCode.INVALID_TRANSITION,
            f"tenant {slug!r} is {current}; it cannot become {status}",
        )
    changes: dict[str, Any] = {"status_reason": reason}
    if activating:
        trialing = tenant.subscription.status == SubscriptionStatus.TRIALING
        status = TenantStatus.TRIAL if trialing and not end_trial else TenantStatus.ACTIVE
        if end_trial:
            changes["subscription.status"] = SubscriptionStatus.ACTIVE.value
    changes["status"] = str(status)
    updated = await runtime.store.update_tenant(tenant.id, changes)
    runtime.registry.invalidate(slug)
    await audit(
        runtime,
        actor,
        f"tenant.{status}",
        slug,
        {"reason": reason, "from": str(current)},
        target=f"tenant:{slug}",
        changes=_tenant_changes(tenant, updated),
    )
    return updated


async def create_user(
    runtime: Runtime,
    tenant: Tenant,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    actor: str,
) -> User:
    """Add a user to a tenant, enforcing the plan's ``max_users``.

    The limit is an atomic counter reservation (``tenancy.quota``), so
    concurrent creates cannot pass it.

    Raises:
        AppError: VALIDATION_FAILED, ALREADY_EXISTS, PLAN_LIMIT_EXCEEDED.
    """
    if role == Role.SUPER_ADMIN:
        raise validation_error(
            ["input", "role"], "super_admin is a platform role, not a tenant role"
        )
    email = check_email(email, ["input", "email"])
    _check_password(password, ["input", "password"])
    limit = tenant.limits.max_users
    if not await runtime.store.reserve_user_seat(tenant.id, limit):
        raise AppError(
            ErrorCode.PLAN_LIMIT_EXCEEDED,
            f"the {tenant.subscription.plan_key} plan allows {limit} users; "
            "upgrade the plan or deactivate a user first",
        )
    user = User(
        tenant_id=tenant.id,
        email=email,
        email_key=email_key(email),
        name=name,
        role=role,
        password_hash=await hash_password(password),
    )
    try:
        await runtime.store.insert_user(user)
    except BaseException:
        await runtime.store.release_user_seat(tenant.id)
        raise
    await audit(
        runtime,
        actor,
        "user.create",
        tenant.slug,
        {"email": email, "role": str(role)},
        target=f"user:{user.id}",
        changes={
            "email": {"before": None, "after": email},
            "role": {"before": None, "after": role},
        },
    )
    return user


async def deactivate_user(runtime: Runtime, user: User, reason: str, actor: str) -> bool:
    """Deactivate a user (kept for audit, can be reactivated); frees its plan-limit unit.

    Returns:
        True when the user was active and is now deactivated, False when it
        already was inactive (idempotent).
    """
    if not await runtime.store.set_user_active(user.id, False):
        return False
    if user.tenant_id is not None:
        await runtime.store.release_user_seat(user.tenant_id)
    tenant = await runtime.store.tenant_by_id(user.tenant_id) if user.tenant_id else None
    await audit(
        runtime,
        actor,
        "user.deactivate",
        tenant.slug if tenant else None,
        {"email": user.email, "reason": reason},
        target=f"user:{user.id}",
        changes={"active": {"before": True, "after": False}},
    )
    return True


async def create_super_admin(
    runtime: Runtime, *, email: str, name: str, password: str, actor: str
) -> User:
    """Add a platform super-admin (no tenant).

    Raises:
        AppError: VALIDATION_FAILED, ALREADY_EXISTS.
    """
    email = check_email(email, "email")
    _check_password(password, ["input", "password"])
    user = User(
        tenant_id=None,
        email=email,
        email_key=email_key(email),
        name=name,
        role=Role.SUPER_ADMIN,
        password_hash=await hash_password(password),
    )
    await runtime.store.insert_user(user)
    await audit(runtime, actor, "user.create_super_admin", None, {"email": email})
    return user


async def enter_maintenance(runtime: Runtime, slug: str, reason: str, actor: str) -> Tenant:
    """Put a served tenant into maintenance: the API keeps serving reads, refuses writes.

    One conditional write, so two operators cannot both hold maintenance.

    Raises:
        AppError: TENANT_NOT_FOUND, INVALID_TRANSITION (deleted), LOCKED (already in maintenance).
    """
    tenant = await get_tenant(runtime, slug)
    if tenant.status == TenantStatus.DELETED:
        raise AppError(ErrorCode.INVALID_TRANSITION, f"tenant {slug!r} is deleted")
    updated = await runtime.store.enter_maintenance(tenant.id, Maintenance(reason=reason))
    if updated is None:
        current = await get_tenant(runtime, slug)
        held = current.maintenance.reason if current.maintenance else "unknown"
        raise AppError(
            ErrorCode.LOCKED,
            f"tenant {slug!r} is already in maintenance ({held}); wait or clear it",
        )
    runtime.registry.invalidate(slug)
    await audit(runtime, actor, "tenant.maintenance.enter", slug, {"reason": reason})
    return updated


async def leave_maintenance(runtime: Runtime, slug: str, actor: str) -> Tenant:
    """End maintenance (idempotent)."""
    tenant = await get_tenant(runtime, slug)
    updated = await runtime.store.update_tenant(tenant.id, {"maintenance": None})
    runtime.registry.invalidate(slug)
    await audit(runtime, actor, "tenant.maintenance.leave", slug, {})
    return updated
