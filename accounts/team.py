"""Team management for tenant admins, and each user's own password and profile.

- **invite**: a pending user (no usable password) with a role, holding one
  of the plan's ``max_users`` seats (the same atomic counter as
  ``createUser``), and an invitation email; only admins whose own email is
  verified may invite (EMAIL_NOT_VERIFIED otherwise).
- **accept**: the invitation link plus a password makes the user active and
  verified (the link no longer matches afterwards).
- **role change, deactivate, reactivate**: a role change or a deactivation
  revokes the user's tokens at once (``token_version``); the last active admin
  of a tenant can be neither demoted nor deactivated (LAST_ADMIN). The check
  is repeated after the write and the write undone if two admins were
  removed concurrently, so a tenant never stays without one.
- **own password and profile**: a password change needs the current one and
  revokes every other token of the user.

Every change is written to the platform audit log with before/after values
(passwords never).
"""

from __future__ import annotations

import secrets

from bson import ObjectId
from bson.errors import InvalidId

from accounts import mail, tokens
from accounts.verification import check_new_password
from tenancy import lifecycle
from tenancy.errors import AppError, ErrorCode, not_found, validation_error
from tenancy.models import Role, Tenant, User
from tenancy.passwords import hash_password, verify_password
from tenancy.platform import email_key
from tenancy.runtime import Runtime
from tenancy.validation import check_email

#: Prefix of a pending user's password hash: never a valid argon2 hash, so no login matches.
PENDING_HASH_PREFIX = "!invited:"
_REDACTED = "[redacted]"
_LAST_ADMIN = "{email} is the last active admin of {slug}; make another user admin first"


async def user_of_tenant(runtime: Runtime, tenant: Tenant, user_id: str) -> User:
    """The user ``user_id`` of ``tenant``.

    Raises:
        AppError(NOT_FOUND): unknown id, or a user of another tenant (no hint it exists).
    """
    try:
        user = await runtime.store.user_by_id(ObjectId(user_id))
    except (InvalidId, TypeError):
        user = None
    if user is None or user.tenant_id != tenant.id:
        raise not_found("user", user_id)
    return user


async def invite(
    runtime: Runtime,
    tenant: Tenant,
    inviter: User,
    *,
    email: str,
    name: str,
    role: Role,
) -> User:
    """Invite ``email`` into ``tenant`` with ``role``; queues the invitation email.

    Raises:
        AppError: EMAIL_NOT_VERIFIED (the inviter), VALIDATION_FAILED,
        ALREADY_EXISTS (a user or invitation with that email),
        PLAN_LIMIT_EXCEEDED (``max_users``).
    """
    if not inviter.email_verified:
        raise AppError(
            ErrorCode.EMAIL_NOT_VERIFIED,
            "verify your email address before inviting users (see the email we sent, "
            "or resendVerification)",
        )
    if role == Role.SUPER_ADMIN:
        raise validation_error(["input", "role"], "super_admin is a platform role")
    email = check_email(email, ["input", "email"])
    if not name.strip():
        raise validation_error(["input", "name"], "name must not be empty")
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
        name=name.strip(),
        role=role,
        password_hash=PENDING_HASH_PREFIX + secrets.token_hex(16),
        email_verified=False,
        invitation_pending=True,
    )
    try:
        await runtime.store.insert_user(user)
    except BaseException:
        await runtime.store.release_user_seat(tenant.id)
        raise
    token = tokens.issue(runtime.settings, tokens.Purpose.ACCEPT_INVITATION, user)
    await mail.send(runtime, tenant, user, mail.INVITATION, token)
    await runtime.store.append_audit(
        f"user:{inviter.id}",
        "user.invite",
        tenant.slug,
        {"email": email},
        target=f"user:{user.id}",
        changes={
            "email": {"before": None, "after": email},
            "role": {"before": None, "after": role},
        },
    )
    return user


async def accept_invitation(
    runtime: Runtime, token: str, password: str, name: str | None = None
) -> tuple[User, Tenant]:
    """Accept an invitation: set the password (and optionally the name); the user is verified.

    Raises:
        AppError: TOKEN_INVALID (altered, expired or used link; or the tenant
        is no longer served), VALIDATION_FAILED (password).
    """
    user = await tokens.redeem(runtime, tokens.Purpose.ACCEPT_INVITATION, token)
    check_new_password(password, "password")
    refused = AppError(ErrorCode.TOKEN_INVALID, "this invitation was already accepted", ["token"])
    if not user.invitation_pending or user.tenant_id is None:
        raise refused
    tenant = await runtime.store.tenant_by_id(user.tenant_id)
    if tenant is None or not tenant.is_served:
        raise AppError(ErrorCode.TOKEN_INVALID, "the inviting tenant is not active", ["token"])
    changes: dict[str, object] = {
        "password_hash": await hash_password(password),
        "invitation_pending": False,
        "email_verified": True,
    }
    if name and name.strip():
        changes["name"] = name.strip()
    updated = await runtime.store.change_user(
        user.id,
        changes,
        expect={"invitation_pending": True, "password_hash": user.password_hash},
        revoke_tokens=True,
    )
    if updated is None:
        raise refused
    await runtime.store.append_audit(
        f"user:{user.id}",
        "user.accept_invitation",
        tenant.slug,
        {"email": user.email},
        target=f"user:{user.id}",
        changes={"invitation_pending": {"before": True, "after": False}},
    )
    return updated, tenant


async def list_users(runtime: Runtime, tenant: Tenant) -> list[User]:
    """Every user of the tenant (active, deactivated and pending), oldest first."""
    return await runtime.store.users_of_tenant(tenant.id)


async def _guard_last_admin(runtime: Runtime, tenant: Tenant, user: User) -> None:
    if not (user.role == Role.ADMIN and user.active and not user.invitation_pending):
        return
    if await runtime.store.count_active_admins(tenant.id) <= 1:
        raise AppError(ErrorCode.LAST_ADMIN, _LAST_ADMIN.format(email=user.email, slug=tenant.slug))


async def change_role(
    runtime: Runtime, tenant: Tenant, user_id: str, role: Role, actor: str
) -> User:
    """Give a user of ``tenant`` another role; the user's tokens are revoked at once.

    Raises:
        AppError: NOT_FOUND, VALIDATION_FAILED (super_admin), LAST_ADMIN.
    """
    if role == Role.SUPER_ADMIN:
        raise validation_error(["role"], "super_admin is a platform role")
    user = await user_of_tenant(runtime, tenant, user_id)
    if user.role == role:
        return user
    if role != Role.ADMIN:
        await _guard_last_admin(runtime, tenant, user)
    updated = await runtime.store.change_user(
        user.id, {"role": str(role)}, expect={"role": str(user.role)}, revoke_tokens=True
    )
    if updated is None:
        raise AppError(ErrorCode.LOCKED, "the user changed meanwhile; reload and retry")
    if user.role == Role.ADMIN and await runtime.store.count_active_admins(tenant.id) == 0:
        await runtime.store.change_user(user.id, {"role": str(user.role)}, revoke_tokens=True)
        raise AppError(ErrorCode.LAST_ADMIN, _LAST_ADMIN.format(email=user.email, slug=tenant.slug))
    await runtime.store.append_audit(
        actor,
        "user.change_role",
        tenant.slug,
        {"email": user.email},
        target=f"user:{user.id}",
        changes={"role": {"before": str(user.role), "after": str(role)}},
    )
    return updated


async def deactivate(runtime: Runtime, tenant: Tenant, user_id: str, actor: str) -> User:
    """Deactivate a user of ``tenant`` (idempotent); its tokens stop working at once.

    Raises:
        AppError: NOT_FOUND, LAST_ADMIN.
    """
    user = await user_of_tenant(runtime, tenant, user_id)
    if not user.active:
        return user
    await _guard_last_admin(runtime, tenant, user)
    changed = await lifecycle.deactivate_user(runtime, user, "deactivated by an admin", actor)
    was_admin = changed and user.role == Role.ADMIN and not user.invitation_pending
    if was_admin and await runtime.store.count_active_admins(tenant.id) == 0:
        # A concurrent removal of the other admin: undo this one.
        await reactivate(runtime, tenant, user_id, "system:last-admin-guard")
        raise AppError(ErrorCode.LAST_ADMIN, _LAST_ADMIN.format(email=user.email, slug=tenant.slug))
    await runtime.store.revoke_user_sessions(user.id, "deactivated")
    return await user_of_tenant(runtime, tenant, user_id)


async def reactivate(runtime: Runtime, tenant: Tenant, user_id: str, actor: str) -> User:
    """Reactivate a deactivated user of ``tenant`` (idempotent), taking a plan seat.

    Raises:
        AppError: NOT_FOUND, PLAN_LIMIT_EXCEEDED.
    """
    user = await user_of_tenant(runtime, tenant, user_id)
    if user.active:
        return user
    limit = tenant.limits.max_users
    if not await runtime.store.reserve_user_seat(tenant.id, limit):
        raise AppError(
            ErrorCode.PLAN_LIMIT_EXCEEDED,
            f"the {tenant.subscription.plan_key} plan allows {limit} users; "
            "upgrade the plan or deactivate a user first",
        )
    if not await runtime.store.set_user_active(user.id, True):
        await runtime.store.release_user_seat(tenant.id)
    else:
        await runtime.store.append_audit(
            actor,
            "user.reactivate",
            tenant.slug,
            {"email": user.email},
            target=f"user:{user.id}",
            changes={"active": {"before": False, "after": True}},
        )
    return await user_of_tenant(runtime, tenant, user_id)


async def change_own_password(
    runtime: Runtime, user: User, current_password: str, new_password: str
) -> User:
    """Change the caller's password; every token of the user issued before stops working.

    Raises:
        AppError: INVALID_CREDENTIALS (wrong current password), VALIDATION_FAILED.
    """
    if not await verify_password(user.password_hash, current_password):
        raise AppError(
            ErrorCode.INVALID_CREDENTIALS, "the current password is wrong", ["currentPassword"]
        )
    check_new_password(new_password, "newPassword")
    updated = await runtime.store.change_user(
        user.id,
        {"password_hash": await hash_password(new_password)},
        expect={"password_hash": user.password_hash},
        revoke_tokens=True,
    )
    if updated is None:
        raise AppError(ErrorCode.LOCKED, "the password changed meanwhile; log in again")
    tenant = await runtime.store.tenant_by_id(user.tenant_id) if user.tenant_id else None
    await runtime.store.append_audit(
        f"user:{user.id}",
        "user.change_password",
        tenant.slug if tenant else None,
        {},
        target=f"user:{user.id}",
        changes={"password": {"before": _REDACTED, "after": _REDACTED}},
    )
    return updated


async def update_own_profile(runtime: Runtime, user: User, name: str) -> User:
    """Change the caller's display name.

    Raises:
        AppError(VALIDATION_FAILED): empty or longer than 200 characters.
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise validation_error(["name"], "name must be 1-200 characters")
    updated = await runtime.store.change_user(user.id, {"name": name})
    if updated is None:
        raise not_found("user", user.id)
    tenant = await runtime.store.tenant_by_id(user.tenant_id) if user.tenant_id else None
    await runtime.store.append_audit(
        f"user:{user.id}",
        "user.update_profile",
        tenant.slug if tenant else None,
        {},
        target=f"user:{user.id}",
        changes={"name": {"before": user.name, "after": name}},
    )
    return updated
