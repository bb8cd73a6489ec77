"""Login and user-management types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.types.common import UserError
from graphql_api.types.tenant import Role, User


@strawberry.type
class LoginPayload:
    token: str | None = strawberry.field(default=None, description="Bearer JWT.")
    expires_at: datetime | None = None
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    refresh_token: str | None = strawberry.field(
        default=None,
        description="Opaque refresh token of this login session: exchange it with "
        "refreshSession (it is rotated on each use; a reused one revokes the session).",
    )


@strawberry.input
class CreateUserInput:
    email: str
    name: str
    role: Role  # type: ignore[valid-type]
    password: str


@strawberry.type
class UserPayload:
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
