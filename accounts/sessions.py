"""Login sessions: refresh tokens rotated on use, reuse detection, immediate revocation.

A login opens a **session** (a refresh-token family, platform ``sessions``)
and gives the client a short access token (JWT, ``APP_JWT_TTL_SECONDS``)
plus an opaque refresh token (32 random bytes, URL-safe). Only the token's
SHA-256 digest is stored (``refresh_tokens``), so a leaked database does not
leak usable tokens.

- **Rotation**: ``refreshSession`` marks the presented refresh token used
  with one conditional write (of two concurrent uses exactly one wins) and
  returns a new access token and a new refresh token of the same session.
- **Reuse detection**: a refresh token presented after it was used means a
  copy exists somewhere: the whole session is revoked (every refresh token
  of it, and the access tokens naming it in ``sid``).
- **Revocation**: access tokens carry the user's ``token_version`` (``tv``)
  and their session (``sid``); :func:`check_access` refuses a token whose
  version is no longer current (deactivation, role or password change bump
  it) or whose session was revoked (logout, reuse). The state is cached per
  process for ``APP_TOKEN_STATE_CACHE_SECONDS`` (``tenancy.token_state``):
  changes made by this process apply at once, another process's within
  that time.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant, User, utcnow
from tenancy.runtime import Runtime

_REVOKED = "this token was revoked (logged out, or the account changed); log in again"
_BAD_REFRESH = "this refresh token is not valid; log in again"


@dataclass(frozen=True)
class OpenedSession:
    """A session as the client receives it.

    Attributes:
        session_id: goes into the access token's ``sid``.
        refresh_token: the opaque secret (shown once; only its digest is stored).
        user: the user, as the session's access token must describe it.
        tenant: the user's tenant (``None`` for super-admins).
    """

    session_id: str
    refresh_token: str
    user: User
    tenant: Tenant | None


def digest(refresh_token: str) -> str:
    """The stored form of a refresh token: its SHA-256, hex."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()


async def _new_refresh_token(runtime: Runtime, session_id: str, user: User) -> str:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=runtime.settings.refresh_token_ttl_seconds)
    await runtime.store.store_refresh_token(digest(token), session_id, user.id, expires)
    return token


async def open_session(
    runtime: Runtime, user: User, tenant: Tenant | None, client: str | None = None
) -> OpenedSession:
    """Start a session for a user who just proved who they are (login, signup, reset).

    Args:
        client: the client's address, kept on the session record.
    """
    session_id = uuid.uuid4().hex
    expires = utcnow() + timedelta(seconds=runtime.settings.refresh_token_ttl_seconds)
    await runtime.store.create_session(session_id, user, expires, client)
    token = await _new_refresh_token(runtime, session_id, user)
    return OpenedSession(session_id, token, user, tenant)


async def rotate(runtime: Runtime, refresh_token: str) -> OpenedSession:
    """Exchange a refresh token for a new one of the same session.

    Raises:
        AppError(UNAUTHENTICATED): unknown, expired or reused token (a reuse
        revokes the session first), revoked or expired session, deactivated
        user, or a user whose tokens were revoked since the session began.
    """
    outcome, record = await runtime.store.use_refresh_token(digest(refresh_token.strip()))
    if record is None:
        raise AppError(ErrorCode.UNAUTHENTICATED, _BAD_REFRESH)
    session_id = str(record["session_id"])
    if outcome == "reused":
        await runtime.store.revoke_session(session_id, "refresh token reused")
        await runtime.store.append_audit(
            f"user:{record['user_id']}",
            "session.reuse_detected",
            None,
            {"session": session_id},
            target=f"user:{record['user_id']}",
        )
        raise AppError(
            ErrorCode.UNAUTHENTICATED,
            "this refresh token was already used: the session is revoked; log in again",
        )
    session = await runtime.store.session(session_id)
    expires = record["expires_at"]
    if session is None or session.get("revoked_at") is not None or _expired(expires):
        raise AppError(ErrorCode.UNAUTHENTICATED, _BAD_REFRESH)
    user = await runtime.store.user_by_id(record["user_id"])
    if user is None or not user.active or _revoked_since(user, session):
        await runtime.store.revoke_session(session_id, "account changed")
        raise AppError(ErrorCode.UNAUTHENTICATED, _REVOKED)
    tenant = None
    if user.tenant_id is not None:
        tenant = await runtime.store.tenant_by_id(user.tenant_id)
        if tenant is None or not tenant.is_served:
            raise AppError(ErrorCode.UNAUTHENTICATED, "this account's tenant is not served")
    await runtime.store.touch_session(session_id)
    token = await _new_refresh_token(runtime, session_id, user)
    return OpenedSession(session_id, token, user, tenant)


def _expired(expires: object) -> bool:
    if not isinstance(expires, datetime):
        return True
    aware = expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires
    return aware <= utcnow()


def _revoked_since(user: User, session: dict[str, object]) -> bool:
    """True when the user's tokens were revoked after the session began (its version moved)."""
    return session.get("token_version") != user.token_version


async def logout(runtime: Runtime, session_id: str | None, refresh_token: str | None) -> bool:
    """End a session: the one named by the access token's ``sid``, or the refresh token's.

    Returns whether a session was revoked by this call.
    """
    if session_id is None and refresh_token:
        _, record = await runtime.store.use_refresh_token(digest(refresh_token.strip()))
        session_id = str(record["session_id"]) if record is not None else None
    if session_id is None:
        return False
    return await runtime.store.revoke_session(session_id, "logout")


async def check_access(
    runtime: Runtime, user_id: str, token_version: int, session_id: str | None
) -> None:
    """Refuse an access token whose user or session no longer allows it.

    Raises:
        AppError(UNAUTHENTICATED): the user is unknown or deactivated, its
        token version moved on, or the token's session was revoked.
    """
    ttl = runtime.settings.token_state_cache_seconds
    state = await runtime.store.user_token_state(ObjectId(user_id), ttl)
    if state is None or not state.active or state.token_version != token_version:
        raise AppError(ErrorCode.UNAUTHENTICATED, _REVOKED)
    if session_id is not None and not await runtime.store.session_is_live(session_id, ttl):
        raise AppError(ErrorCode.UNAUTHENTICATED, _REVOKED)
