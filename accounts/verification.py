"""Email verification and password reset with signed single-use links (``accounts.tokens``).

- ``verify_email``: the link's token flips ``email_verified`` in one
  conditional write (the token no longer matches afterwards).
- ``resend_verification``: a new link to the logged-in, unverified user.
- ``request_password_reset``: answers the same whether or not the email has
  an account (the caller never learns which); a link is queued only for an
  active, non-pending user.
- ``reset_password``: sets the new password (the token no longer matches),
  marks the email verified (the link proved it) and revokes every token of
  the user (``token_version``), so other sessions end.

Rate limits (per client address, per email) are applied by the API.
"""

from __future__ import annotations

from accounts import mail, tokens
from tenancy.errors import AppError, ErrorCode, validation_error
from tenancy.models import Tenant, User
from tenancy.passwords import MIN_PASSWORD_LENGTH, hash_password
from tenancy.runtime import Runtime


def check_new_password(password: str, field: str) -> None:
    """Raises VALIDATION_FAILED for a password shorter than ``MIN_PASSWORD_LENGTH``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise validation_error(field, f"password must be at least {MIN_PASSWORD_LENGTH} characters")


async def _tenant_of(runtime: Runtime, user: User) -> Tenant | None:
    return await runtime.store.tenant_by_id(user.tenant_id) if user.tenant_id else None


async def verify_email(runtime: Runtime, token: str) -> User:
    """Mark the token's user verified.

    Raises:
        AppError(TOKEN_INVALID): altered, expired or used token.
    """
    user = await tokens.redeem(runtime, tokens.Purpose.VERIFY_EMAIL, token)
    updated = await runtime.store.change_user(
        user.id,
        {"email_verified": True},
        expect={"email_verified": False, "password_hash": user.password_hash},
    )
    if updated is None:  # a concurrent use won
        raise AppError(
            ErrorCode.TOKEN_INVALID, "this verification link was already used", ["token"]
        )
    tenant = await _tenant_of(runtime, updated)
    await runtime.store.append_audit(
        f"user:{user.id}",
        "user.verify_email",
        tenant.slug if tenant else None,
        {"email": user.email},
        target=f"user:{user.id}",
        changes={"email_verified": {"before": False, "after": True}},
    )
    return updated


async def resend_verification(runtime: Runtime, user: User) -> bool:
    """Queue a new verification link for ``user``; False (nothing sent) when verified already."""
    if user.email_verified or user.invitation_pending:
        return False
    tenant = await _tenant_of(runtime, user)
    token = tokens.issue(runtime.settings, tokens.Purpose.VERIFY_EMAIL, user)
    await mail.send(runtime, tenant, user, mail.VERIFICATION, token)
    return True


async def request_password_reset(runtime: Runtime, tenant: Tenant | None, email: str) -> None:
    """Queue a reset link if ``email`` is an active user of ``tenant``; silent otherwise."""
    user = await runtime.store.user_by_email(tenant.id if tenant else None, email)
    if user is None or not user.active or user.invitation_pending:
        return
    token = tokens.issue(runtime.settings, tokens.Purpose.RESET_PASSWORD, user)
    await mail.send(runtime, tenant, user, mail.PASSWORD_RESET, token)


async def reset_password(runtime: Runtime, token: str, new_password: str) -> User:
    """Set a new password with a reset link; every earlier token of the user stops working.

    Raises:
        AppError: TOKEN_INVALID (altered, expired or used link), VALIDATION_FAILED (password).
    """
    user = await tokens.redeem(runtime, tokens.Purpose.RESET_PASSWORD, token)
    check_new_password(new_password, "newPassword")
    updated = await runtime.store.change_user(
        user.id,
        {"password_hash": await hash_password(new_password), "email_verified": True},
        expect={"password_hash": user.password_hash},
        revoke_tokens=True,
    )
    if updated is None:
        raise AppError(ErrorCode.TOKEN_INVALID, "this reset link was already used", ["token"])
    tenant = await _tenant_of(runtime, updated)
    await runtime.store.append_audit(
        f"user:{user.id}",
        "user.reset_password",
        tenant.slug if tenant else None,
        {"email": user.email},
        target=f"user:{user.id}",
        changes={"password": {"before": "[redacted]", "after": "[redacted]"}},
    )
    return updated
