"""Signed, expiring, single-use account links: email verification, password reset, invitation.

A token is a JWT (PyJWT, HS256) with the user's id (``sub``), its purpose
(``aud``: ``verify-email``, ``reset-password``, ``accept-invitation``),
``iat``/``exp`` (at most 24 hours, ``APP_*_TTL_SECONDS``) and ``fp``, an
HMAC-SHA256 over the user's id, email, password hash, verified and pending
flags and token version. No token table is needed: using a token changes
what ``fp`` covers (verifying flips ``email_verified``; a reset or an
accepted invitation changes the password hash), so a used token no longer
matches, nor does one issued before the email or password changed.

The key is ``APP_ACCOUNT_TOKEN_SECRET`` (default: ``APP_JWT_SECRET``), and
each purpose gets its own derived key, so a token of one purpose is never
accepted for another (nor as an access token).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from enum import StrEnum

import jwt
from bson import ObjectId

from tenancy.errors import AppError, ErrorCode
from tenancy.models import User, utcnow
from tenancy.runtime import Runtime
from tenancy.settings import Settings


class Purpose(StrEnum):
    """What a link may be used for (the token's audience)."""

    VERIFY_EMAIL = "verify-email"
    RESET_PASSWORD = "reset-password"
    ACCEPT_INVITATION = "accept-invitation"


_INVALID = {
    Purpose.VERIFY_EMAIL: "this verification link is invalid, expired or already used; "
    "ask for a new one (resendVerification)",
    Purpose.RESET_PASSWORD: "this password reset link is invalid, expired or already used; "
    "ask for a new one (requestPasswordReset)",
    Purpose.ACCEPT_INVITATION: "this invitation link is invalid, expired or already used; "
    "ask an admin of the tenant to invite you again",
}


def _key(settings: Settings, purpose: Purpose) -> bytes:
    secret = settings.account_token_secret.get_secret_value() or settings.jwt_secret
    return hmac.new(secret.encode(), f"account-link:{purpose}".encode(), hashlib.sha256).digest()


def _ttl(settings: Settings, purpose: Purpose) -> int:
    return {
        Purpose.VERIFY_EMAIL: settings.email_verification_ttl_seconds,
        Purpose.RESET_PASSWORD: settings.password_reset_ttl_seconds,
        Purpose.ACCEPT_INVITATION: settings.invitation_ttl_seconds,
    }[purpose]


def fingerprint(settings: Settings, purpose: Purpose, user: User) -> str:
    """HMAC over the user's state that a use of the token changes (hex)."""
    state = "|".join(
        [
            str(user.id),
            user.email_key,
            user.password_hash,
            str(user.email_verified),
            str(user.invitation_pending),
            str(user.token_version),
        ]
    )
    return hmac.new(_key(settings, purpose), state.encode(), hashlib.sha256).hexdigest()


def issue(settings: Settings, purpose: Purpose, user: User) -> str:
    """A token for ``purpose`` bound to the user's current state."""
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "aud": str(purpose),
        "iat": now,
        "exp": now + timedelta(seconds=_ttl(settings, purpose)),
        "fp": fingerprint(settings, purpose, user),
    }
    return jwt.encode(claims, _key(settings, purpose), algorithm="HS256")


async def redeem(runtime: Runtime, purpose: Purpose, token: str) -> User:
    """The user a token names, if it is intact, unexpired and matches the user's state.

    Does not change anything: the caller's change (verify, new password)
    is what makes the token unusable afterwards.

    Raises:
        AppError(TOKEN_INVALID): altered, expired, of another purpose, or used
        (the user's state no longer matches), or the user is gone or deactivated.
    """
    settings = runtime.settings
    refused = AppError(ErrorCode.TOKEN_INVALID, _INVALID[purpose], ["token"])
    try:
        claims = jwt.decode(
            token.strip(),
            _key(settings, purpose),
            algorithms=["HS256"],
            audience=str(purpose),
            options={"require": ["sub", "aud", "exp", "iat", "fp"]},
        )
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise refused from None
    sub, fp = claims.get("sub"), claims.get("fp")
    if not (isinstance(sub, str) and ObjectId.is_valid(sub) and isinstance(fp, str)):
        raise refused
    user = await runtime.store.user_by_id(ObjectId(sub))
    if user is None or not user.active:
        raise refused
    if not hmac.compare_digest(fp, fingerprint(settings, purpose, user)):
        raise refused
    return user
