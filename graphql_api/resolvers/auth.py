"""``login``, ``me`` and tenant user management."""

from __future__ import annotations

from typing import Annotated

import strawberry
from bson import ObjectId
from bson.errors import InvalidId
from strawberry.types import Info

from accounts.sessions import open_session
from graphql_api.context import ascii_lower, load_served_tenant
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.rate_limit import PLATFORM_SCOPE
from graphql_api.types.auth import CreateUserInput, LoginPayload, UserPayload
from graphql_api.types.tenant import User
from tenancy import lifecycle
from tenancy.errors import AppError, ErrorCode
from tenancy.passwords import verify_password

_BAD_CREDENTIALS = "email or password is wrong"


@strawberry.type
class AuthQueries:
    @strawberry.field(description="The logged-in user.")
    async def me(self, info: Info) -> User | None:
        principal = info.context.principal
        if not principal.is_authenticated:
            raise AppError(ErrorCode.UNAUTHENTICATED, "log in first")
        try:
            user = await info.context.runtime.store.user_by_id(ObjectId(principal.user_id))
        except InvalidId:
            user = None
        if user is None or not user.active:
            raise AppError(ErrorCode.UNAUTHENTICATED, "this user no longer exists; log in again")
        return User.from_model(user)


@strawberry.type
class AuthMutations:
    @strawberry.mutation
    async def login(
        self,
        info: Info,
        email: str,
        password: str,
        tenant: Annotated[
            str | None,
            strawberry.argument(
                description="Tenant slug; defaults to the request's tenant. "
                "Omit both for a platform super-admin login."
            ),
        ] = None,
    ) -> LoginPayload:
        """Exchange email and password for a JWT. Unknown user and wrong password answer alike."""
        context = info.context
        runtime = context.runtime

        async def run() -> LoginPayload:
            limiter = context.login_limiter
            if limiter is not None:  # every attempt counts, also each alias in one document
                await limiter.hit_address(context.client_address)
            slug = ascii_lower(tenant.strip()) if tenant else None
            if slug and context.tenant and slug != context.tenant.slug:
                raise AppError(
                    ErrorCode.FORBIDDEN,
                    f"the request names tenant {context.tenant.slug!r}, the login {slug!r}",
                )
            target = context.tenant if slug is None else await load_served_tenant(runtime, slug)
            if limiter is not None:
                await limiter.hit_account(target.slug if target else PLATFORM_SCOPE, email)
            user = await runtime.store.user_by_email(target.id if target else None, email)
            ok = await verify_password(user.password_hash if user else None, password)
            if user is None or not ok or not user.active:
                raise AppError(ErrorCode.INVALID_CREDENTIALS, _BAD_CREDENTIALS)
            session = await open_session(runtime, user, target, context.client_address)
            token, expires = context.tokens.issue(user, target, session.session_id)
            await runtime.store.touch_login(user.id)
            return LoginPayload(
                token=token,
                expires_at=expires,
                user=User.from_model(user),
                refresh_token=session.refresh_token,
            )

        return await mutation_payload(LoginPayload, run)

    @strawberry.mutation(extensions=requires("users.write"))
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        """Add a user to the current tenant (plan limit: maxUsers)."""

        async def run() -> UserPayload:
            tenant, _ = info.context.require_writable()
            user = await lifecycle.create_user(
                info.context.runtime,
                tenant,
                email=input.email,
                name=input.name,
                role=input.role,
                password=input.password,
                actor=info.context.principal.actor,
            )
            return UserPayload(user=User.from_model(user))

        return await mutation_payload(UserPayload, run)
