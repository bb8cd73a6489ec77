"""Accounts: signup, sessions (refresh, logout), verification, password reset, team.

Resolvers only parse, rate-limit, call ``accounts`` services and shape the
answer; the rules are in ``accounts/``.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from bson import ObjectId
from bson.errors import InvalidId
from strawberry.types import Info

from accounts import sessions, signup, team, verification
from accounts.sessions import OpenedSession
from graphql_api.context import Context, ascii_lower, load_served_tenant
from graphql_api.errors import mutation_payload
from graphql_api.permissions import requires
from graphql_api.types.accounts import (
    AccountOkPayload,
    InviteUserInput,
    SessionPayload,
    SignupInput,
    TeamMember,
    TeamMemberPayload,
)
from graphql_api.types.tenant import Role
from tenancy.errors import AppError, ErrorCode
from tenancy.models import User


async def _caller(context: Context) -> User:
    """The logged-in user (active), or UNAUTHENTICATED."""
    principal = context.principal
    if not principal.is_authenticated:
        raise AppError(ErrorCode.UNAUTHENTICATED, "log in first")
    try:
        user = await context.runtime.store.user_by_id(ObjectId(principal.user_id))
    except InvalidId:
        user = None
    if user is None or not user.active:
        raise AppError(ErrorCode.UNAUTHENTICATED, "this user no longer exists; log in again")
    return user


def _session_payload(context: Context, opened: OpenedSession) -> SessionPayload:
    token, expires = context.tokens.issue(opened.user, opened.tenant, opened.session_id)
    return SessionPayload(
        token=token,
        expires_at=expires,
        refresh_token=opened.refresh_token,
        user=TeamMember.from_model(opened.user),
        tenant_slug=opened.tenant.slug if opened.tenant else None,
    )


@strawberry.type
class AccountQueries:
    @strawberry.field(description="Whether a tenant slug is free for signup (public).")
    async def slug_available(self, info: Info, slug: str) -> bool:
        return await signup.slug_available(info.context.runtime, ascii_lower(slug) or "")

    @strawberry.field(description="The logged-in user's account (verified, pending...).")
    async def my_account(self, info: Info) -> TeamMember | None:
        return TeamMember.from_model(await _caller(info.context))

    @strawberry.field(
        description="Users of the current tenant (admins).", extensions=requires("users.write")
    )
    async def team_members(self, info: Info) -> list[TeamMember] | None:
        tenant, _ = info.context.require_tenant()
        users = await team.list_users(info.context.runtime, tenant)
        return [TeamMember.from_model(user) for user in users]


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Self-service signup on the platform endpoint: a new tenant in trial with "
        "the caller as its (unverified) admin; a verification email is sent. Rate-limited."
    )
    async def signup(self, info: Info, input: SignupInput) -> SessionPayload:
        context: Context = info.context

        async def run() -> SessionPayload:
            if not context.runtime.settings.signup_enabled:
                raise AppError(ErrorCode.FORBIDDEN, "self-service signup is switched off")
            if context.tenant is not None:
                raise AppError(
                    ErrorCode.FORBIDDEN,
                    "sign up on the platform endpoint (/graphql), not a tenant's",
                )
            if context.account_limiter is not None:
                await context.account_limiter.hit_signup(context.client_address, input.email)
            tenant, owner = await signup.signup(
                context.runtime,
                signup.SignupRequest(
                    company_name=input.company_name,
                    slug=ascii_lower(input.slug.strip()) or "",
                    owner_name=input.owner_name,
                    email=input.email,
                    password=input.password,
                    plan_key=input.plan_key,
                    language=input.language,
                    timezone=input.timezone,
                    currency=input.currency,
                ),
            )
            opened = await sessions.open_session(
                context.runtime, owner, tenant, context.client_address
            )
            return _session_payload(context, opened)

        return await mutation_payload(SessionPayload, run)

    @strawberry.mutation(
        description="Exchange a refresh token for a new access token and refresh token. "
        "A refresh token works once: presenting it again revokes its whole session."
    )
    async def refresh_session(self, info: Info, refresh_token: str) -> SessionPayload:
        context: Context = info.context

        async def run() -> SessionPayload:
            opened = await sessions.rotate(context.runtime, refresh_token)
            return _session_payload(context, opened)

        return await mutation_payload(SessionPayload, run)

    @strawberry.mutation(
        description="End the caller's session (the access token's, or the refresh token's): "
        "its refresh tokens and access tokens stop working at once."
    )
    async def logout(self, info: Info, refresh_token: str | None = None) -> AccountOkPayload:
        context: Context = info.context

        async def run() -> AccountOkPayload:
            session_id = context.principal.session_id
            done = await sessions.logout(context.runtime, session_id, refresh_token)
            return AccountOkPayload(ok=done)

        return await mutation_payload(AccountOkPayload, run)

    @strawberry.mutation(description="Verify an email address with the emailed link's token.")
    async def verify_email(self, info: Info, token: str) -> TeamMemberPayload:
        async def run() -> TeamMemberPayload:
            user = await verification.verify_email(info.context.runtime, token)
            return TeamMemberPayload(user=TeamMember.from_model(user))

        return await mutation_payload(TeamMemberPayload, run)

    @strawberry.mutation(description="Send the logged-in user a new verification link.")
    async def resend_verification(self, info: Info) -> AccountOkPayload:
        context: Context = info.context

        async def run() -> AccountOkPayload:
            user = await _caller(context)
            if context.account_limiter is not None:
                await context.account_limiter.hit_mail(context.client_address, user.email)
            return AccountOkPayload(
                ok=await verification.resend_verification(context.runtime, user)
            )

        return await mutation_payload(AccountOkPayload, run)

    @strawberry.mutation(
        description="Email a password reset link if the address has an account in the tenant "
        "(or on the platform). Answers ok either way. Rate-limited."
    )
    async def request_password_reset(
        self,
        info: Info,
        email: str,
        tenant: Annotated[
            str | None,
            strawberry.argument(description="Tenant slug; defaults to the request's tenant."),
        ] = None,
    ) -> AccountOkPayload:
        context: Context = info.context

        async def run() -> AccountOkPayload:
            if context.account_limiter is not None:
                await context.account_limiter.hit_mail(context.client_address, email)
            slug = ascii_lower(tenant.strip()) if tenant else None
            target = context.tenant
            if slug is not None and (target is None or target.slug != slug):
                try:
                    target = await load_served_tenant(context.runtime, slug)
                except AppError:
                    return AccountOkPayload(ok=True)  # no hint which tenants exist
            await verification.request_password_reset(context.runtime, target, email)
            return AccountOkPayload(ok=True)

        return await mutation_payload(AccountOkPayload, run)

    @strawberry.mutation(
        description="Set a new password with a reset link's token; ends every session."
    )
    async def reset_password(self, info: Info, token: str, new_password: str) -> AccountOkPayload:
        async def run() -> AccountOkPayload:
            await verification.reset_password(info.context.runtime, token, new_password)
            return AccountOkPayload(ok=True)

        return await mutation_payload(AccountOkPayload, run)

    @strawberry.mutation(
        description="Invite a user to the current tenant (admins whose email is verified; "
        "plan limit maxUsers). The invitation is emailed.",
        extensions=requires("users.write"),
    )
    async def invite_user(self, info: Info, input: InviteUserInput) -> TeamMemberPayload:
        context: Context = info.context

        async def run() -> TeamMemberPayload:
            tenant, _ = context.require_writable()
            inviter = await _caller(context)
            user = await team.invite(
                context.runtime,
                tenant,
                inviter,
                email=input.email,
                name=input.name,
                role=input.role,
            )
            return TeamMemberPayload(user=TeamMember.from_model(user))

        return await mutation_payload(TeamMemberPayload, run)

    @strawberry.mutation(
        description="Accept an invitation with its token and a password; returns a session."
    )
    async def accept_invitation(
        self, info: Info, token: str, password: str, name: str | None = None
    ) -> SessionPayload:
        context: Context = info.context

        async def run() -> SessionPayload:
            user, tenant = await team.accept_invitation(context.runtime, token, password, name)
            opened = await sessions.open_session(
                context.runtime, user, tenant, context.client_address
            )
            return _session_payload(context, opened)

        return await mutation_payload(SessionPayload, run)

    @strawberry.mutation(
        description="Give a user of the current tenant another role (its tokens are revoked). "
        "The last active admin cannot be demoted.",
        extensions=requires("users.write"),
    )
    async def change_user_role(
        self,
        info: Info,
        user_id: strawberry.ID,
        role: Role,  # type: ignore[valid-type]
    ) -> TeamMemberPayload:
        context: Context = info.context

        async def run() -> TeamMemberPayload:
            tenant, _ = context.require_writable()
            user = await team.change_role(
                context.runtime, tenant, str(user_id), role, context.principal.actor
            )
            return TeamMemberPayload(user=TeamMember.from_model(user))

        return await mutation_payload(TeamMemberPayload, run)

    @strawberry.mutation(
        description="Deactivate a user of the current tenant: its tokens stop working at once. "
        "The last active admin cannot be deactivated.",
        extensions=requires("users.write"),
    )
    async def deactivate_user(self, info: Info, user_id: strawberry.ID) -> TeamMemberPayload:
        context: Context = info.context

        async def run() -> TeamMemberPayload:
            tenant, _ = context.require_writable()
            user = await team.deactivate(
                context.runtime, tenant, str(user_id), context.principal.actor
            )
            return TeamMemberPayload(user=TeamMember.from_model(user))

        return await mutation_payload(TeamMemberPayload, run)

    @strawberry.mutation(
        description="Reactivate a deactivated user of the current tenant (plan limit maxUsers).",
        extensions=requires("users.write"),
    )
    async def reactivate_user(self, info: Info, user_id: strawberry.ID) -> TeamMemberPayload:
        context: Context = info.context

        async def run() -> TeamMemberPayload:
            tenant, _ = context.require_writable()
            user = await team.reactivate(
                context.runtime, tenant, str(user_id), context.principal.actor
            )
            return TeamMemberPayload(user=TeamMember.from_model(user))

        return await mutation_payload(TeamMemberPayload, run)

    @strawberry.mutation(
        description="Change the caller's password (needs the current one); every other "
        "session ends, and a new session is returned."
    )
    async def change_my_password(
        self, info: Info, current_password: str, new_password: str
    ) -> SessionPayload:
        context: Context = info.context

        async def run() -> SessionPayload:
            user = await _caller(context)
            updated = await team.change_own_password(
                context.runtime, user, current_password, new_password
            )
            await context.runtime.store.revoke_user_sessions(user.id, "password changed")
            tenant = context.tenant if updated.tenant_id is not None else None
            opened = await sessions.open_session(
                context.runtime, updated, tenant, context.client_address
            )
            return _session_payload(context, opened)

        return await mutation_payload(SessionPayload, run)

    @strawberry.mutation(description="Change the caller's display name.")
    async def update_my_profile(self, info: Info, name: str) -> TeamMemberPayload:
        context: Context = info.context

        async def run() -> TeamMemberPayload:
            user = await team.update_own_profile(context.runtime, await _caller(context), name)
            return TeamMemberPayload(user=TeamMember.from_model(user))

        return await mutation_payload(TeamMemberPayload, run)
