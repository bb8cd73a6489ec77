"""Helpers of the accounts tests: GraphQL documents, links read from emails and outboxes."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.collections import NOTIFICATION_OUTBOX
from tenancy.runtime import Runtime

SIGNUP = """
mutation($input: SignupInput!) {
  signup(input: $input) {
    token refreshToken tenantSlug
    user { id email role emailVerified }
    userErrors { field code message }
  }
}"""
REFRESH = """
mutation($r: String!) {
  refreshSession(refreshToken: $r) { token refreshToken userErrors { code message } }
}"""
LOGOUT = """mutation($r: String) { logout(refreshToken: $r) { ok userErrors { code } } }"""
LOGIN = """
mutation($e: String!, $p: String!, $t: String) {
  login(email: $e, password: $p, tenant: $t) {
    token refreshToken userErrors { code message }
  }
}"""
ME = "{ me { id email } }"
MY_ACCOUNT = "{ myAccount { id email emailVerified role } }"
VERIFY = """
mutation($t: String!) {
  verifyEmail(token: $t) { user { emailVerified } userErrors { field code message } }
}"""
INVITE = """
mutation($input: InviteUserInput!) {
  inviteUser(input: $input) {
    user { id email role invitationPending } userErrors { field code message }
  }
}"""
ACCEPT = """
mutation($t: String!, $p: String!) {
  acceptInvitation(token: $t, password: $p) {
    token refreshToken user { id email role } userErrors { code message }
  }
}"""
DEACTIVATE = """
mutation($id: ID!) {
  deactivateUser(userId: $id) { user { active } userErrors { code message } }
}"""
REACTIVATE = """
mutation($id: ID!) {
  reactivateUser(userId: $id) { user { active } userErrors { code message } }
}"""
CHANGE_ROLE = """
mutation($id: ID!, $role: Role!) {
  changeUserRole(userId: $id, role: $role) { user { role } userErrors { code message } }
}"""
REQUEST_RESET = """
mutation($e: String!, $t: String) {
  requestPasswordReset(email: $e, tenant: $t) { ok userErrors { code message } }
}"""
RESET = """
mutation($t: String!, $p: String!) {
  resetPassword(token: $t, newPassword: $p) { ok userErrors { field code message } }
}"""
TEAM = "{ teamMembers { id email role active invitationPending emailVerified } }"
PASSWORD = "a-long-enough-password"


def signup_input(slug: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
    """A signup input for company ``slug``."""
    return {
        "companyName": slug.replace("-", " ").title(),
        "slug": slug,
        "ownerName": "Ada Owner",
        "email": email or f"ada@{slug}.example.com",
        "password": PASSWORD,
        **extra,
    }


def token_in(text: str) -> str:
    """The ``token`` query parameter of the first link in ``text``."""
    match = re.search(r"https?://\S+", text)
    assert match, text
    return parse_qs(urlsplit(match.group(0)).query)["token"][0]


async def outbox_links(runtime: Runtime, slug: str, kind: str) -> list[str]:
    """Tokens of the account emails of ``kind`` queued in ``slug``'s outbox, oldest first."""
    tenant = await runtime.store.tenant_by_slug(slug)
    assert tenant is not None
    cursor = (
        runtime.tenant_database(tenant)[NOTIFICATION_OUTBOX].find({"kind": kind}).sort("_id", 1)
    )
    return [token_in(doc["data"]["action_url"]) async for doc in cursor]


async def tenant_with_admin(runtime: Runtime, slug: str) -> Any:
    """A provisioned tenant (trial) whose owner ``admin@<slug>.example.com`` is verified."""
    from tenancy import lifecycle

    return await lifecycle.provision_tenant(
        runtime,
        lifecycle.ProvisionRequest(
            slug=slug,
            name=slug.title(),
            owner_email=f"admin@{slug}.example.com",
            owner_name="Admin",
            owner_password=PASSWORD,
        ),
        actor="test",
    )


async def login(gql: Any, email: str, slug: str | None) -> tuple[str, str]:
    """(access token, refresh token) of a real login."""
    result = await gql(LOGIN, {"e": email, "p": PASSWORD, "t": slug})
    payload = result["data"]["login"]
    assert payload["userErrors"] == [], payload
    return payload["token"], payload["refreshToken"]
