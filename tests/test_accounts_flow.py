"""Issue 11's "Done when", over HTTP with the server's lifespan (its relay) and an SMTP catcher:
a company signs up, receives the verification email, verifies, invites a colleague who
accepts and logs in; the admin sees both in the audit log; a deactivated colleague's token
is refused on the next request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from graphql_api.app import create_app
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.accounts_support import (
    ACCEPT,
    DEACTIVATE,
    INVITE,
    LOGIN,
    ME,
    PASSWORD,
    SIGNUP,
    VERIFY,
    signup_input,
    token_in,
)
from tests.notify_support import SmtpCatcher
from tests.test_notifications_flow import eventually

AUDIT = """
query($action: String) {
  auditLog(first: 20, filter: { action: $action }) {
    edges { node { action actor tenant target requestId changes { field before after } } }
  }
}"""


@pytest.fixture
async def server(
    runtime: Runtime, settings: Settings, catcher: SmtpCatcher
) -> AsyncIterator[httpx.AsyncClient]:
    runtime.settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": catcher.port,
            "smtp_security": "none",
            "smtp_timeout_seconds": 2.0,
            "mail_from_address": "no-reply@platform.example.com",
            "relay_in_server": True,
            "relay_poll_seconds": 0.02,
            "sms_enabled": False,
            "app_url": "https://app.example.test",
        }
    )
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
            yield c


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_signup_verify_invite_accept_audit_and_deactivate_over_http(
    server: httpx.AsyncClient, catcher: SmtpCatcher
) -> None:
    # A new company signs up on the platform endpoint: usable at once.
    result = await post(server, SIGNUP, {"input": signup_input("acme-clinic")})
    signed = result["data"]["signup"]
    assert signed["userErrors"] == [] and signed["tenantSlug"] == "acme-clinic"
    assert signed["user"]["emailVerified"] is False and signed["user"]["role"] == "ADMIN"
    admin = signed["token"]

    # Unverified: inviting is refused.
    colleague = {"email": "bob@acme-clinic.example.com", "name": "Bob", "role": "STAFF"}
    refused = await post(server, INVITE, {"input": colleague}, admin)
    assert refused["data"]["inviteUser"]["userErrors"][0]["code"] == "EMAIL_NOT_VERIFIED"

    # The verification email arrives through the outbox relay and SMTP.
    mail = await eventually(lambda: catcher.received, "the verification email")
    assert mail[0].rcpt_tos == ["ada@acme-clinic.example.com"]
    assert "https://app.example.test/verify-email?token=" in mail[0].text
    verified = await post(server, VERIFY, {"t": token_in(mail[0].text)})
    assert verified["data"]["verifyEmail"] == {"user": {"emailVerified": True}, "userErrors": []}

    # Invites a colleague, who accepts with a password and logs in.
    invited = await post(server, INVITE, {"input": colleague}, admin)
    assert invited["data"]["inviteUser"]["user"]["invitationPending"] is True
    bob_id = invited["data"]["inviteUser"]["user"]["id"]
    invitation = await eventually(
        lambda: [m for m in catcher.received if m.rcpt_tos == [colleague["email"]]],
        "the invitation email",
    )
    accepted = await post(server, ACCEPT, {"t": token_in(invitation[0].text), "p": PASSWORD})
    assert accepted["data"]["acceptInvitation"]["userErrors"] == []
    login = await post(server, LOGIN, {"e": colleague["email"], "p": PASSWORD, "t": "acme-clinic"})
    bob = login["data"]["login"]["token"]
    assert (await post(server, ME, {}, bob))["data"]["me"]["id"] == bob_id

    # The admin sees both actions in the tenant's audit log.
    log = await post(server, AUDIT, {"action": None}, admin)
    actions = [edge["node"]["action"] for edge in log["data"]["auditLog"]["edges"]]
    assert "user.invite" in actions and "user.accept_invitation" in actions
    invite_entry = next(
        e["node"] for e in log["data"]["auditLog"]["edges"] if e["node"]["action"] == "user.invite"
    )
    assert invite_entry["tenant"] == "acme-clinic" and invite_entry["target"] == f"user:{bob_id}"
    assert invite_entry["requestId"]

    # Deactivated: the colleague's token is refused on the very next request.
    done = await post(server, DEACTIVATE, {"id": bob_id}, admin)
    assert done["data"]["deactivateUser"] == {"user": {"active": False}, "userErrors": []}
    after = await post(server, ME, {}, bob)
    assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
