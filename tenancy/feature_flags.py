"""Feature flags (platform ``feature_flags``): the documents and their evaluation.

A flag document keeps the legacy CRM's shape, so imported flags
(``tenantctl import-legacy legacy-crm``) work as they are::

    {key, name, description, status: enabled | development | planned | disabled,
     enabled_for_roles: [role, ...],
     config: {rollout_percentage: 0-100, whitelist_tenants: [slug, ...],
              blacklist_tenants: [slug, ...], requires_package: plan key | null}}

Evaluation for a tenant and a caller (:func:`evaluate`), first rule that decides wins:

1. ``disabled``: off for everyone;
2. **deny list** (``blacklist_tenants``): off;
3. **allow list** (``whitelist_tenants``): on (also while ``development``/``planned``);
4. any status but ``enabled``: off;
5. **plan** (``requires_package``): off unless the tenant's plan is that plan
   or one above it (plans ordered by ``sort_order``);
6. **role** (``enabled_for_roles``, empty = every role): off unless the
   caller has one of them (anonymous callers have none);
7. **rollout**: on when the tenant's bucket (:func:`bucket`, a stable hash
   of flag key + tenant id, 0-9999) is below ``rollout_percentage`` x 100.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tenancy.audit import field_changes
from tenancy.errors import not_found, validation_error
from tenancy.models import Role, Tenant
from tenancy.runtime import Runtime

STATUSES = ("enabled", "development", "planned", "disabled")
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")


class FlagConfig(BaseModel):
    """Who gets a flag (legacy field names)."""

    model_config = ConfigDict(extra="allow")

    rollout_percentage: float = Field(default=0, ge=0, le=100)
    whitelist_tenants: list[str] = Field(default_factory=list)
    blacklist_tenants: list[str] = Field(default_factory=list)
    requires_package: str | None = None


class FeatureFlag(BaseModel):
    """A ``feature_flags`` document (extra legacy fields are kept)."""

    model_config = ConfigDict(extra="allow")

    key: str
    name: str = ""
    description: str = ""
    status: str = "disabled"
    enabled_for_roles: list[str] = Field(default_factory=list)
    config: FlagConfig = Field(default_factory=FlagConfig)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FeatureFlag:
        """A stored document (``_id`` dropped)."""
        return cls.model_validate({k: v for k, v in doc.items() if k != "_id"})


def bucket(flag_key: str, tenant_id: str) -> int:
    """The tenant's bucket for a flag: 0-9999, stable (SHA-256 of ``key:tenant_id``)."""
    digest = hashlib.sha256(f"{flag_key}:{tenant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000


def evaluate(
    flag: FeatureFlag,
    *,
    tenant_slug: str,
    tenant_id: str,
    plan_rank: int | None,
    required_rank: int | None,
    role: str | None,
) -> bool:
    """Whether ``flag`` is on for a tenant and caller (the module docstring's order).

    Args:
        plan_rank: the tenant's plan's ``sort_order`` (``None``: unknown plan).
        required_rank: the ``sort_order`` of ``requires_package`` (``None``:
            no such plan, the flag is then off for everyone who reaches rule 5).
        role: the caller's role (``None``: anonymous).
    """
    config = flag.config
    if flag.status == "disabled" or tenant_slug in config.blacklist_tenants:
        return False
    if tenant_slug in config.whitelist_tenants:
        return True
    if flag.status != "enabled":
        return False
    if config.requires_package is not None and (
        plan_rank is None or required_rank is None or plan_rank < required_rank
    ):
        return False
    if flag.enabled_for_roles and role not in flag.enabled_for_roles:
        return False
    return bucket(flag.key, tenant_id) < round(config.rollout_percentage * 100)


# -- administration and evaluation against the platform ---------------------

_IGNORED = frozenset({"_id", "created_at", "updated_at", "legacy_source"})


class FlagInput(BaseModel):
    """A flag as super-admins create or change it (``None``: keep, on update)."""

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: str | None = None
    enabled_for_roles: list[str] | None = None
    rollout_percentage: float | None = Field(default=None, ge=0, le=100)
    allow_tenants: list[str] | None = None
    deny_tenants: list[str] | None = None
    requires_plan: str | None = None
    clear_requires_plan: bool = False


def _changes(update: FlagInput) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if update.status is not None:
        if update.status not in STATUSES:
            raise validation_error(["input", "status"], f"status must be one of {STATUSES}")
        changes["status"] = update.status
    if update.enabled_for_roles is not None:
        roles = sorted({role.lower() for role in update.enabled_for_roles})
        unknown = [r for r in roles if r not in Role._value2member_map_]
        if unknown:
            raise validation_error(["input", "enabledForRoles"], f"unknown roles {unknown}")
        changes["enabled_for_roles"] = roles
    for field, path in (
        ("name", "name"),
        ("description", "description"),
        ("rollout_percentage", "config.rollout_percentage"),
        ("allow_tenants", "config.whitelist_tenants"),
        ("deny_tenants", "config.blacklist_tenants"),
        ("requires_plan", "config.requires_package"),
    ):
        value = getattr(update, field)
        if value is not None:
            changes[path] = sorted(set(value)) if isinstance(value, list) else value
    if update.clear_requires_plan:
        changes["config.requires_package"] = None
    return changes


async def create_flag(runtime: Runtime, key: str, data: FlagInput, actor: str) -> FeatureFlag:
    """Create a flag (off unless ``status`` says otherwise); audit-logged ``flag.create``.

    Raises:
        AppError: VALIDATION_FAILED, ALREADY_EXISTS.
    """
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise validation_error(["key"], "flag keys are 2-64 chars of a-z, 0-9, _ and -")
    flag = FeatureFlag(key=key, name=data.name or key)
    doc = flag.model_dump()
    for path, value in _changes(data).items():
        target = doc
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    flag = FeatureFlag.model_validate(doc)
    await runtime.store.insert_feature_flag(flag.model_dump())
    await runtime.store.append_audit(
        actor,
        "flag.create",
        None,
        {"key": key},
        target=f"flag:{key}",
        changes=field_changes({}, flag.model_dump(), ignore=_IGNORED),
    )
    return flag


async def update_flag(runtime: Runtime, key: str, data: FlagInput, actor: str) -> FeatureFlag:
    """Change a flag (imported ones too); audit-logged ``flag.update`` with before/after.

    Raises:
        AppError: NOT_FOUND, VALIDATION_FAILED.
    """
    before = await runtime.store.feature_flag(key)
    if before is None:
        raise not_found("flag", key)
    changes = _changes(data)
    if not changes:
        return FeatureFlag.from_doc(before)
    after = await runtime.store.update_feature_flag(key, changes)
    if after is None:
        raise not_found("flag", key)
    await runtime.store.append_audit(
        actor,
        "flag.update",
        None,
        {"key": key},
        target=f"flag:{key}",
        changes=field_changes(before, after, ignore=_IGNORED),
    )
    return FeatureFlag.from_doc(after)


async def list_flags(runtime: Runtime) -> list[FeatureFlag]:
    """Every flag, by key (unreadable documents skipped)."""
    flags = []
    for doc in await runtime.store.feature_flags():
        try:
            flags.append(FeatureFlag.from_doc(doc))
        except ValueError:
            continue
    return flags


async def evaluate_all(runtime: Runtime, tenant: Tenant, role: str | None) -> dict[str, bool]:
    """Every flag evaluated for ``tenant`` and a caller of ``role``: ``{key: enabled}``."""
    flags = await list_flags(runtime)
    keys = {tenant.subscription.plan_key} | {
        f.config.requires_package for f in flags if f.config.requires_package
    }
    plans = await runtime.store.plans_by_key(sorted(keys))
    plan = plans.get(tenant.subscription.plan_key)
    return {
        flag.key: evaluate(
            flag,
            tenant_slug=tenant.slug,
            tenant_id=str(tenant.id),
            plan_rank=plan.sort_order if plan else None,
            required_rank=(
                plans[flag.config.requires_package].sort_order
                if flag.config.requires_package in plans
                else None
            ),
            role=role,
        )
        for flag in flags
    }
