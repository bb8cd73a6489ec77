"""Sessions (issue 11, item 4): refresh tokens rotate, a reused one revokes its family,
logout, and revocation that takes effect on the next request (deactivation, role and
password change)."""

from __future__ import annotations

import asyncio
from typing import Any

from accounts import sessions
from tenancy import lifecycle
from tenancy.models import Role
from tenancy.runtime import Runtime
from tests.accounts_support import (
    CHANGE_ROLE,
    DEACTIVATE,
    LOGOUT,
    ME,
    PASSWORD,
    REFRESH,
    login,
    tenant_with_admin,
)
from tests.conftest import GraphQLClient, error_codes

CHANGE_PASSWORD = """
mutation($c: String!, $n: String!) {
  changeMyPassword(currentPassword: $c, newPassword: $n) { token userErrors { code } }
}"""


async def _staff(runtime: Runtime, slug: str) -> tuple[Any, str]:
    tenant = await tenant_with_admin(runtime, slug)
    user = await lifecycle.create_user(
        runtime,
        tenant,
        email=f"staff@{slug}.example.com",
        name="Staff",
        role=Role.STAFF,
        password=PASSWORD,
        actor="test",
    )
    return tenant, str(user.id)


async def test_refresh_rotates_and_the_new_tokens_work(runtime: Runtime, gql: GraphQLClient):
    await tenant_with_admin(runtime, "rot")
    _, refresh = await login(gql, "admin@rot.example.com", "rot")
    first = (await gql(REFRESH, {"r": refresh}))["data"]["refreshSession"]
    assert first["userErrors"] == [] and first["refreshToken"] != refresh
    assert (await gql(ME, token=first["token"]))["data"]["me"]["id"]
    second = (await gql(REFRESH, {"r": first["refreshToken"]}))["data"]["refreshSession"]
    assert second["userErrors"] == [] and second["token"]


async def test_a_refresh_token_reused_after_rotation_revokes_the_family(
    runtime: Runtime, gql: GraphQLClient
):
    await tenant_with_admin(runtime, "reuse")
    access, refresh = await login(gql, "admin@reuse.example.com", "reuse")
    rotated = (await gql(REFRESH, {"r": refresh}))["data"]["refreshSession"]
    # The old one again (a stolen copy): refused, and the whole session is revoked.
    again = await gql(REFRESH, {"r": refresh})
    assert error_codes(again) == ["UNAUTHENTICATED"]
    assert "already used" in again["errors"][0]["message"]
    assert error_codes(await gql(REFRESH, {"r": rotated["refreshToken"]})) == ["UNAUTHENTICATED"]
    for token in (access, rotated["token"]):
        assert error_codes(await gql(ME, token=token)) == ["UNAUTHENTICATED"]
    # Another login of the same user is a new family, unaffected.
    other, _ = await login(gql, "admin@reuse.example.com", "reuse")
    assert (await gql(ME, token=other))["data"]["me"]


async def test_concurrent_uses_of_one_refresh_token_have_exactly_one_winner(runtime: Runtime):
    tenant = await tenant_with_admin(runtime, "race")
    owner = await runtime.store.user_by_email(tenant.id, "admin@race.example.com")
    assert owner is not None
    opened = await sessions.open_session(runtime, owner, tenant)
    digest = sessions.digest(opened.refresh_token)
    outcomes = await asyncio.gather(*(runtime.store.use_refresh_token(digest) for _ in range(5)))
    assert sorted(o for o, _ in outcomes) == ["fresh", "reused", "reused", "reused", "reused"]


async def test_a_deactivated_users_access_and_refresh_tokens_stop_at_once(
    runtime: Runtime, gql: GraphQLClient
):
    _, staff_id = await _staff(runtime, "deact")
    admin, _ = await login(gql, "admin@deact.example.com", "deact")
    access, refresh = await login(gql, "staff@deact.example.com", "deact")
    assert (await gql(ME, token=access))["data"]["me"]["id"] == staff_id  # cached as valid
    done = await gql(DEACTIVATE, {"id": staff_id}, token=admin)
    assert done["data"]["deactivateUser"]["userErrors"] == []
    assert error_codes(await gql(ME, token=access)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(REFRESH, {"r": refresh})) == ["UNAUTHENTICATED"]


async def test_a_role_change_revokes_the_users_tokens(runtime: Runtime, gql: GraphQLClient):
    _, staff_id = await _staff(runtime, "roles")
    admin, _ = await login(gql, "admin@roles.example.com", "roles")
    access, refresh = await login(gql, "staff@roles.example.com", "roles")
    assert (await gql(ME, token=access))["data"]["me"]
    changed = await gql(CHANGE_ROLE, {"id": staff_id, "role": "VIEWER"}, token=admin)
    assert changed["data"]["changeUserRole"] == {"user": {"role": "VIEWER"}, "userErrors": []}
    assert error_codes(await gql(ME, token=access)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(REFRESH, {"r": refresh})) == ["UNAUTHENTICATED"]
    fresh, _ = await login(gql, "staff@roles.example.com", "roles")  # a new login works
    assert (await gql(ME, token=fresh))["data"]["me"]


async def test_a_password_change_ends_other_sessions_and_returns_a_new_one(
    runtime: Runtime, gql: GraphQLClient
):
    await tenant_with_admin(runtime, "pwd")
    first, refresh = await login(gql, "admin@pwd.example.com", "pwd")
    second, _ = await login(gql, "admin@pwd.example.com", "pwd")
    changed = await gql(
        CHANGE_PASSWORD, {"c": PASSWORD, "n": "another-long-password"}, token=second
    )
    new_token = changed["data"]["changeMyPassword"]["token"]
    assert changed["data"]["changeMyPassword"]["userErrors"] == []
    for token in (first, second):
        assert error_codes(await gql(ME, token=token)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(REFRESH, {"r": refresh})) == ["UNAUTHENTICATED"]
    assert (await gql(ME, token=new_token))["data"]["me"]
    wrong = await gql(CHANGE_PASSWORD, {"c": "wrong-password!", "n": "x" * 12}, token=new_token)
    assert wrong["data"]["changeMyPassword"]["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]


async def test_logout_ends_the_session_at_once(runtime: Runtime, gql: GraphQLClient):
    await tenant_with_admin(runtime, "bye")
    access, refresh = await login(gql, "admin@bye.example.com", "bye")
    assert (await gql(ME, token=access))["data"]["me"]
    out = await gql(LOGOUT, {"r": None}, token=access)
    assert out["data"]["logout"] == {"ok": True, "userErrors": []}
    assert error_codes(await gql(ME, token=access)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(REFRESH, {"r": refresh})) == ["UNAUTHENTICATED"]


async def test_another_process_sees_a_revocation_within_the_cache_time(runtime: Runtime):
    """The documented bound: a process's cached state lives ``token_state_cache_seconds``;
    a change made by another process (another store) is seen once the entry is gone."""
    tenant, _ = await _staff(runtime, "bound")
    user = await runtime.store.user_by_email(tenant.id, "staff@bound.example.com")
    assert user is not None
    other = type(runtime.store)(runtime.store.db)  # a second server process's store
    state = await other.user_token_state(user.id, ttl=60)
    assert state is not None and state.active
    await runtime.store.set_user_active(user.id, False)  # this process: evicted at once
    assert (await runtime.store.user_token_state(user.id, ttl=60)).active is False  # type: ignore[union-attr]
    cached = await other.user_token_state(user.id, ttl=60)
    assert cached is not None and cached.active  # still cached over there...
    other.token_states.evict(str(user.id))  # ...until its entry expires
    assert (await other.user_token_state(user.id, ttl=60)).active is False  # type: ignore[union-attr]
