"""Account types: signup, sessions, team members."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.types.common import UserError
from graphql_api.types.tenant import Role
from tenancy import models


@strawberry.type(description="A user of a tenant as its admins see it.")
class TeamMember:
    id: strawberry.ID
    email: str
    name: str
    role: Role  # type: ignore[valid-type]
    active: bool
    email_verified: bool
    invitation_pending: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_model(cls, user: models.User) -> TeamMember:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            name=user.name,
            role=user.role,
            active=user.active,
            email_verified=user.email_verified,
            invitation_pending=user.invitation_pending,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


@strawberry.input
class SignupInput:
    company_name: str
    slug: str = strawberry.field(description="3-40 chars: a-z, 0-9, inner hyphens.")
    owner_name: str
    email: str
    password: str
    plan_key: str = "starter"
    language: str = "tr"
    timezone: str = "Europe/Istanbul"
    currency: str = "TRY"


@strawberry.type(description="A login session: a short access token and a refresh token.")
class SessionPayload:
    token: str | None = strawberry.field(default=None, description="Bearer JWT (short-lived).")
    expires_at: datetime | None = None
    refresh_token: str | None = strawberry.field(
        default=None, description="Opaque; rotated on each refreshSession."
    )
    user: TeamMember | None = None
    tenant_slug: str | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TeamMemberPayload:
    user: TeamMember | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Done (or, where the answer must not reveal it, accepted).")
class AccountOkPayload:
    ok: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class InviteUserInput:
    email: str
    name: str
    role: Role  # type: ignore[valid-type]
