"""Create (or find again) the tenant a legacy import writes into.

Tenants are provisioned through :func:`tenancy.lifecycle.provision_tenant`,
the code path of the API's ``createTenant``; the legacy id is then stored
on the tenant record (``legacy_id``) so a re-run recognises its tenant and
never imports into a same-named tenant it did not create (unless told to
adopt it).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from scripts.legacy.report import TenantOutcome
from tenancy import lifecycle
from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant, TenantStatus
from tenancy.naming import validate_slug
from tenancy.runtime import Runtime
from tenancy.settings import DEFAULT_CLUSTER

log = logging.getLogger(__name__)

GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters


@dataclass
class TenantSpec:
    """The tenant a legacy source maps to.

    Attributes:
        slug: product slug (``slugify(legacy tenant_id)``).
        legacy_id: the legacy tenant id, stored as ``Tenant.legacy_id``.
        owner_email / owner_name: the owner admin user created with the tenant.
        confirmation_prefix: prefix of booking confirmation numbers (``"WE"``).
        email_sender: the tenant's notification sender address.
        legacy_active: ``False`` suspends the tenant after provisioning.
    """

    slug: str
    name: str
    legacy_id: str
    owner_email: str
    owner_name: str
    plan_key: str = "professional"
    timezone: str = "Europe/Istanbul"
    language: str = "tr"
    currency: str = "TRY"
    confirmation_prefix: str | None = None
    domains: list[str] = field(default_factory=list)
    email_sender: str | None = None
    legacy_active: bool = True
    cluster: str = DEFAULT_CLUSTER


async def ensure_tenant(
    runtime: Runtime,
    spec: TenantSpec,
    *,
    owner_password: str | None,
    adopt_existing: bool,
    activate: bool,
    actor: str,
) -> tuple[TenantOutcome, Tenant | None]:
    """Provision the tenant of ``spec``, or reuse the one an earlier run made.

    Args:
        owner_password: the owner's password; ``None`` generates a random one,
            returned once in the outcome.
        adopt_existing: import into an existing tenant of that slug that this
            import did not create (sets its ``legacy_id``); otherwise refuse it.
        activate: mark a newly provisioned tenant (and its subscription)
            active instead of trial: legacy tenants are existing customers.
        actor: audit-log actor.

    Returns:
        The outcome for the report and the tenant record (``None`` when the
        outcome is ``refused`` or ``failed``; those carry a message).

    Never raises for tenant problems (``AppError`` becomes a ``failed`` outcome).
    """
    outcome = TenantOutcome(
        slug=spec.slug,
        legacy_id=spec.legacy_id,
        action="failed",
        name=spec.name,
        owner_email=spec.owner_email,
    )
    try:
        validate_slug(spec.slug)
    except AppError as exc:
        outcome.fail(
            exc.code,
            f"slug {spec.slug!r} derived from {spec.legacy_id!r} is unusable: {exc.message}",
        )
        return outcome, None
    existing = await runtime.store.tenant_by_slug(spec.slug)
    if existing is not None:
        return await _existing(runtime, spec, existing, outcome, adopt_existing, actor)

    password = owner_password or secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    request = lifecycle.ProvisionRequest(
        slug=spec.slug,
        name=spec.name,
        plan_key=spec.plan_key,
        owner_email=spec.owner_email,
        owner_name=spec.owner_name,
        owner_password=password,
        timezone=spec.timezone,
        language=spec.language,
        currency=spec.currency,
        confirmation_prefix=spec.confirmation_prefix,
        domains=spec.domains,
        cluster=spec.cluster,
    )
    try:
        tenant = await lifecycle.provision_tenant(runtime, request, actor)
        # Right after provisioning, so a re-run recognises the tenant as this import's.
        tenant = await runtime.store.update_tenant(tenant.id, {"legacy_id": spec.legacy_id})
        if spec.email_sender:
            tenant = await lifecycle.update_tenant(
                runtime,
                spec.slug,
                lifecycle.TenantUpdate(email_sender=spec.email_sender),
                actor,
            )
        if not spec.legacy_active:
            tenant = await lifecycle.set_tenant_status(
                runtime, spec.slug, TenantStatus.SUSPENDED, "inactive in the legacy system", actor
            )
        elif activate:
            tenant = await lifecycle.set_tenant_status(
                runtime,
                spec.slug,
                TenantStatus.ACTIVE,
                "imported legacy tenant (existing customer)",
                actor,
                end_trial=True,
            )
    except AppError as exc:
        outcome.fail(exc.code, exc.message)
        return outcome, None
    outcome.action = "provisioned"
    outcome.database = tenant.database.name
    if owner_password is None:
        outcome.owner_password = password
    log.info("legacy import provisioned tenant %s (%s)", spec.slug, spec.legacy_id)
    return outcome, tenant


async def _existing(
    runtime: Runtime,
    spec: TenantSpec,
    tenant: Tenant,
    outcome: TenantOutcome,
    adopt_existing: bool,
    actor: str,
) -> tuple[TenantOutcome, Tenant | None]:
    outcome.database = tenant.database.name
    owner = await runtime.store.user_by_id(tenant.owner_user_id) if tenant.owner_user_id else None
    outcome.owner_email = owner.email if owner else None
    if tenant.status == TenantStatus.DELETED:
        outcome.fail(
            ErrorCode.INVALID_TRANSITION, f"tenant {spec.slug!r} exists and is deleted", "refused"
        )
        return outcome, None
    if tenant.legacy_id == spec.legacy_id:
        outcome.action = "reused"
        return outcome, tenant
    ours = tenant.legacy_id is None and await runtime.store.has_audit_entry(
        "tenant.provision", spec.slug, actor
    )
    if ours or (adopt_existing and tenant.legacy_id is None):
        tenant = await runtime.store.update_tenant(tenant.id, {"legacy_id": spec.legacy_id})
        runtime.registry.invalidate(spec.slug)
        outcome.action = "reused" if ours else "adopted"
        if not ours:
            await lifecycle.audit(
                runtime, actor, "tenant.adopt_legacy", spec.slug, {"legacy_id": spec.legacy_id}
            )
        return outcome, tenant
    if tenant.legacy_id is None:
        reason = (
            f"tenant {spec.slug!r} already exists and was not created by this import; "
            "import into it only with adopt_existing (--adopt-existing)"
        )
    else:
        reason = (
            f"tenant {spec.slug!r} already holds legacy tenant {tenant.legacy_id!r}, "
            f"not {spec.legacy_id!r}"
        )
    outcome.fail(ErrorCode.ALREADY_EXISTS, reason, "refused")
    return outcome, None
