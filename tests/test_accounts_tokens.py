"""Email verification and password reset links (issue 11, item 2): signed, expiring,
single-use, bound to the user's state; an expired, reused or altered token is refused."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from accounts import tokens
from tenancy.models import utcnow
from tenancy.runtime import Runtime
from tests.accounts_support import (
    LOGIN,
    PASSWORD,
    REQUEST_RESET,
    RESET,
    SIGNUP,
    VERIFY,
    outbox_links,
    signup_input,
)
from tests.conftest import GraphQLClient, error_codes


async def _signed_up(gql: GraphQLClient, slug: str) -> str:
    result = await gql(SIGNUP, {"input": signup_input(slug)})
    assert result["data"]["signup"]["userErrors"] == [], result
    return str(result["data"]["signup"]["token"])


def _codes(result: dict, name: str) -> list[str]:
    return [e["code"] for e in result["data"][name]["userErrors"]]


async def test_verification_link_works_once(runtime: Runtime, gql: GraphQLClient):
    await _signed_up(gql, "once")
    [token] = await outbox_links(runtime, "once", "account_verification")
    first = await gql(VERIFY, {"t": token})
    assert first["data"]["verifyEmail"]["user"] == {"emailVerified": True}
    assert _codes(await gql(VERIFY, {"t": token}), "verifyEmail") == ["TOKEN_INVALID"]


async def test_altered_expired_and_wrong_purpose_tokens_are_refused(
    runtime: Runtime, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
):
    await _signed_up(gql, "altered")
    [token] = await outbox_links(runtime, "altered", "account_verification")
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "sub": claims["sub"]}, "a-guessed-secret-of-thirty-two-bytes!", algorithm="HS256"
    )
    tenant = await runtime.store.tenant_by_slug("altered")
    assert tenant is not None and tenant.owner_user_id is not None
    owner = await runtime.store.user_by_id(tenant.owner_user_id)
    assert owner is not None
    # Issued 25 hours ago: expired (verification links live at most 24 hours).
    monkeypatch.setattr(tokens, "utcnow", lambda: utcnow() - timedelta(hours=25))
    expired = tokens.issue(runtime.settings, tokens.Purpose.VERIFY_EMAIL, owner)
    monkeypatch.undo()
    reset_purpose = tokens.issue(runtime.settings, tokens.Purpose.RESET_PASSWORD, owner)
    for bad in (f"{head}.{body}.{flipped}", forged, expired, reset_purpose, "garbage"):
        assert _codes(await gql(VERIFY, {"t": bad}), "verifyEmail") == ["TOKEN_INVALID"], bad
    # The genuine one still works.
    assert (await gql(VERIFY, {"t": token}))["data"]["verifyEmail"]["userErrors"] == []


async def test_password_reset_is_single_use_and_ends_sessions(runtime: Runtime, gql: GraphQLClient):
    access = await _signed_up(gql, "reset")
    email = "ada@reset.example.com"
    asked = await gql(REQUEST_RESET, {"e": email, "t": "reset"})
    assert asked["data"]["requestPasswordReset"] == {"ok": True, "userErrors": []}
    [token] = await outbox_links(runtime, "reset", "account_password_reset")
    done = await gql(RESET, {"t": token, "p": "a-new-long-password"})
    assert done["data"]["resetPassword"] == {"ok": True, "userErrors": []}
    assert error_codes(await gql("{ me { id } }", token=access)) == ["UNAUTHENTICATED"]
    # Used: refused (the password hash it was bound to changed).
    again = await gql(RESET, {"t": token, "p": "yet-another-password"})
    assert _codes(again, "resetPassword") == ["TOKEN_INVALID"]
    login = await gql(LOGIN, {"e": email, "p": "a-new-long-password", "t": "reset"})
    assert login["data"]["login"]["token"]
    old = await gql(LOGIN, {"e": email, "p": PASSWORD, "t": "reset"})
    assert _codes(old, "login") == ["INVALID_CREDENTIALS"]


async def test_a_reset_link_dies_when_the_password_changes_otherwise(
    runtime: Runtime, gql: GraphQLClient
):
    await _signed_up(gql, "bound")
    await gql(REQUEST_RESET, {"e": "ada@bound.example.com", "t": "bound"})
    await gql(REQUEST_RESET, {"e": "ada@bound.example.com", "t": "bound"})
    first, second = await outbox_links(runtime, "bound", "account_password_reset")
    assert (await gql(RESET, {"t": second, "p": "a-new-long-password"}))["data"]["resetPassword"][
        "ok"
    ]
    assert _codes(await gql(RESET, {"t": first, "p": "other-long-password"}), "resetPassword") == [
        "TOKEN_INVALID"
    ]


async def test_reset_requests_answer_alike_for_unknown_emails(runtime: Runtime, gql: GraphQLClient):
    await _signed_up(gql, "alike")
    known = await gql(REQUEST_RESET, {"e": "ada@alike.example.com", "t": "alike"})
    unknown = await gql(REQUEST_RESET, {"e": "nobody@alike.example.com", "t": "alike"})
    no_tenant = await gql(REQUEST_RESET, {"e": "nobody@alike.example.com", "t": "no-such"})
    assert known == unknown == no_tenant
    assert len(await outbox_links(runtime, "alike", "account_password_reset")) == 1


async def test_account_email_requests_are_rate_limited(runtime: Runtime, gql: GraphQLClient):
    await _signed_up(gql, "limited")
    results = [
        await gql(REQUEST_RESET, {"e": "ada@limited.example.com", "t": "limited"}) for _ in range(4)
    ]
    assert [error_codes(r) for r in results] == [[], [], [], ["RATE_LIMITED"]]
    assert results[-1]["errors"][0]["extensions"]["retryAfter"] > 0


async def test_resend_verification_sends_a_new_link_until_verified(
    runtime: Runtime, gql: GraphQLClient
):
    resend = "mutation { resendVerification { ok userErrors { code } } }"
    access = await _signed_up(gql, "resend")
    assert (await gql(resend, token=access))["data"]["resendVerification"]["ok"] is True
    first, second = await outbox_links(runtime, "resend", "account_verification")  # two emails
    assert (await gql(VERIFY, {"t": second}))["data"]["verifyEmail"]["userErrors"] == []
    # Verified: the older link no longer matches, and nothing more is sent.
    assert _codes(await gql(VERIFY, {"t": first}), "verifyEmail") == ["TOKEN_INVALID"]
    assert (await gql(resend, token=access))["data"]["resendVerification"]["ok"] is False
    assert error_codes(await gql(resend)) == ["UNAUTHENTICATED"]
