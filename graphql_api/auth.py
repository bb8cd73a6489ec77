"""JWT access tokens (PyJWT) and the request principal.

Claims: ``sub`` (user id), ``tenant`` (slug, absent for super-admins),
``tid`` (tenant id, so a token outlives no re-created tenant of the same
slug), ``role``, ``iat``, ``exp``, ``iss``, ``tv`` (the user's token version:
a token stops working when it changes) and ``sid`` (the login session, whose
revocation ends it; ``accounts.sessions``). HS256 by default, RS256 with
configured keys. Only the configured algorithm is accepted, so ``alg: none``
and algorithm-confusion tokens are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from bson import ObjectId

from graphql_api.permissions_table import permissions_for
from tenancy.errors import AppError, ErrorCode
from tenancy.models import Role, Tenant, User, utcnow
from tenancy.settings import Settings


@dataclass(frozen=True)
class Principal:
    """Who makes the request. ``user_id`` is ``None`` for anonymous callers."""

    user_id: str | None = None
    role: Role | None = None
    tenant_slug: str | None = None
    tenant_id: str | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    token_version: int = 0
    session_id: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_super_admin(self) -> bool:
        return self.role == Role.SUPER_ADMIN

    @property
    def actor(self) -> str:
        """Name for audit entries and status history."""
        return f"user:{self.user_id}" if self.user_id else "anonymous"

    def can(self, permission: str) -> bool:
        return permission in self.permissions


ANONYMOUS = Principal(permissions=permissions_for(None))


class TokenService:
    """Issues and verifies access tokens with the configured algorithm and keys."""

    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.jwt_algorithm
        self.issuer = settings.jwt_issuer
        self.ttl = timedelta(seconds=settings.jwt_ttl_seconds)
        if self.algorithm == "RS256":
            self._sign_key = settings.jwt_private_key
            self._verify_key = settings.jwt_public_key
        else:
            self._sign_key = self._verify_key = settings.jwt_secret

    def issue(
        self, user: User, tenant: Tenant | None, session_id: str | None = None
    ) -> tuple[str, datetime]:
        """A signed token for ``user`` (of login session ``session_id``) and its expiry (UTC)."""
        if not self._sign_key:
            raise AppError(ErrorCode.INTERNAL_ERROR, "token signing key is not configured")
        now = utcnow()
        expires = now + self.ttl
        claims = {
            "sub": str(user.id),
            "role": str(user.role),
            "iat": now,
            "exp": expires,
            "iss": self.issuer,
            "tv": user.token_version,
        }
        if session_id is not None:
            claims["sid"] = session_id
        if tenant is not None:
            claims["tenant"] = tenant.slug
            claims["tid"] = str(tenant.id)
        return jwt.encode(claims, self._sign_key, algorithm=self.algorithm), expires

    def verify(self, token: str) -> Principal:
        """The principal a token names.

        Raises:
            AppError(UNAUTHENTICATED) for expired, tampered, wrongly signed or
            malformed tokens and any algorithm but the configured one.
        """
        try:
            claims = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                options={"require": ["sub", "role", "exp", "iat", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise AppError(ErrorCode.UNAUTHENTICATED, "token has expired; log in again") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise AppError(ErrorCode.UNAUTHENTICATED, _INVALID_TOKEN) from None
        return _principal(claims)


_INVALID_TOKEN = "token is not valid; log in again"


def _principal(claims: dict[str, Any]) -> Principal:
    """The principal of verified claims, checking each claim's type.

    A validly signed token can still carry claims of the wrong type (a
    list as ``role``, a number as ``tenant``); those are UNAUTHENTICATED,
    never a server error later on.
    """
    sub, role, tenant, tid = (claims.get(k) for k in ("sub", "role", "tenant", "tid"))
    if not (isinstance(sub, str) and ObjectId.is_valid(sub) and isinstance(role, str)):
        raise AppError(ErrorCode.UNAUTHENTICATED, _INVALID_TOKEN)
    if role not in Role._value2member_map_:
        raise AppError(ErrorCode.UNAUTHENTICATED, _INVALID_TOKEN)
    if not all(value is None or isinstance(value, str) for value in (tenant, tid)):
        raise AppError(ErrorCode.UNAUTHENTICATED, _INVALID_TOKEN)
    if (tenant is None) != (tid is None) or (tid is not None and not ObjectId.is_valid(tid)):
        raise AppError(ErrorCode.UNAUTHENTICATED, _INVALID_TOKEN)
    tv, sid = claims.get("tv", 0), claims.get("sid")
    if type(tv) is not int or not (sid is None or isinstance(sid, str)):
        raise AppError(ErrorCode.UNAUTHENTICATED, _INVALID_TOKEN)
    return Principal(
        user_id=sub,
        role=Role(role),
        tenant_slug=tenant,
        tenant_id=tid,
        permissions=permissions_for(Role(role)),
        token_version=tv,
        session_id=sid,
    )
