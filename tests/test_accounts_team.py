"""Team management (issue 11, item 3): invite with a role, accept, list, change roles,
deactivate and reactivate; the last active admin stays; the plan's user limit holds;
tenant A's admins never see tenant B's users or audit entries."""

from __future__ import annotations

from typing import Any

from tenancy import lifecycle
from tenancy.runtime import Runtime
from tests.accounts_support import (
    ACCEPT,
    CHANGE_ROLE,
    DEACTIVATE,
    INVITE,
    PASSWORD,
    REACTIVATE,
    TEAM,
    login,
    outbox_links,
    tenant_with_admin,
)
from tests.conftest import GraphQLClient, error_codes

AUDIT = """
query($filter: AuditFilter) {
  auditLog(first: 50, filter: $filter) { edges { node { action tenant actor } } }
}"""
PROFILE = """
mutation($n: String!) { updateMyProfile(name: $n) { user { name } userErrors { code } } }"""


def _errors(result: dict[str, Any], name: str) -> list[str]:
    return [e["code"] for e in result["data"][name]["userErrors"]]


async def _invite_and_accept(
    runtime: Runtime, gql: GraphQLClient, admin: str, slug: str, email: str, role: str
) -> str:
    invited = await gql(
        INVITE, {"input": {"email": email, "name": "Colleague", "role": role}}, token=admin
    )
    assert _errors(invited, "inviteUser") == [], invited
    token = (await outbox_links(runtime, slug, "account_invitation"))[-1]
    accepted = await gql(ACCEPT, {"t": token, "p": PASSWORD})
    assert _errors(accepted, "acceptInvitation") == []
    return str(invited["data"]["inviteUser"]["user"]["id"])


async def test_invite_list_change_role_and_the_last_admin(runtime: Runtime, gql: GraphQLClient):
    tenant = await tenant_with_admin(runtime, "team-a")
    admin, _ = await login(gql, "admin@team-a.example.com", "team-a")
    owner_id = str(tenant.owner_user_id)
    # The only admin can be neither demoted nor deactivated.
    demote = await gql(CHANGE_ROLE, {"id": owner_id, "role": "STAFF"}, token=admin)
    assert _errors(demote, "changeUserRole") == ["LAST_ADMIN"]
    assert _errors(await gql(DEACTIVATE, {"id": owner_id}, token=admin), "deactivateUser") == [
        "LAST_ADMIN"
    ]
    # A pending invitation cannot log in and is listed as pending.
    invited = await gql(
        INVITE, {"input": {"email": "eve@x.com", "name": "Eve", "role": "ADMIN"}}, token=admin
    )
    eve_id = invited["data"]["inviteUser"]["user"]["id"]
    team = (await gql(TEAM, token=admin))["data"]["teamMembers"]
    assert [(m["email"], m["invitationPending"]) for m in team] == [
        ("admin@team-a.example.com", False),
        ("eve@x.com", True),
    ]
    assert _errors(await gql(DEACTIVATE, {"id": owner_id}, token=admin), "deactivateUser") == [
        "LAST_ADMIN"  # a pending admin does not count
    ]
    token = (await outbox_links(runtime, "team-a", "account_invitation"))[-1]
    assert _errors(await gql(ACCEPT, {"t": token, "p": PASSWORD}), "acceptInvitation") == []
    assert _errors(await gql(ACCEPT, {"t": token, "p": PASSWORD}), "acceptInvitation") == [
        "TOKEN_INVALID"  # used
    ]
    # Two admins now: the owner may step down; Eve is then the last one.
    eve, _ = await login(gql, "eve@x.com", "team-a")
    stepped = await gql(CHANGE_ROLE, {"id": owner_id, "role": "VIEWER"}, token=eve)
    assert stepped["data"]["changeUserRole"]["user"] == {"role": "VIEWER"}
    assert _errors(
        await gql(CHANGE_ROLE, {"id": eve_id, "role": "STAFF"}, token=eve), "changeUserRole"
    ) == ["LAST_ADMIN"]


async def test_deactivate_and_reactivate_respect_the_plan_limit(
    runtime: Runtime, gql: GraphQLClient
):
    tenant = await tenant_with_admin(runtime, "limits")
    await runtime.store.update_tenant(tenant.id, {"limits.max_users": 2})
    admin, _ = await login(gql, "admin@limits.example.com", "limits")
    bob = await _invite_and_accept(runtime, gql, admin, "limits", "bob@x.com", "STAFF")
    full = await gql(
        INVITE, {"input": {"email": "c@x.com", "name": "C", "role": "VIEWER"}}, token=admin
    )
    assert _errors(full, "inviteUser") == ["PLAN_LIMIT_EXCEEDED"]
    assert (await gql(DEACTIVATE, {"id": bob}, token=admin))["data"]["deactivateUser"]["user"] == {
        "active": False
    }
    carol = await _invite_and_accept(runtime, gql, admin, "limits", "c@x.com", "VIEWER")
    assert carol
    again = await gql(REACTIVATE, {"id": bob}, token=admin)
    assert _errors(again, "reactivateUser") == ["PLAN_LIMIT_EXCEEDED"]


async def test_staff_cannot_manage_the_team_and_users_edit_their_profile(
    runtime: Runtime, gql: GraphQLClient
):
    await tenant_with_admin(runtime, "perm")
    admin, _ = await login(gql, "admin@perm.example.com", "perm")
    await _invite_and_accept(runtime, gql, admin, "perm", "staff@x.com", "STAFF")
    staff, _ = await login(gql, "staff@x.com", "perm")
    assert error_codes(await gql(TEAM, token=staff)) == ["FORBIDDEN"]
    renamed = await gql(PROFILE, {"n": "Stella"}, token=staff)
    assert renamed["data"]["updateMyProfile"] == {"user": {"name": "Stella"}, "userErrors": []}


async def test_tenant_admins_never_see_another_tenants_users_or_audit_entries(
    runtime: Runtime, gql: GraphQLClient
):
    await tenant_with_admin(runtime, "alpha")
    await tenant_with_admin(runtime, "beta")
    alpha, _ = await login(gql, "admin@alpha.example.com", "alpha")
    beta, _ = await login(gql, "admin@beta.example.com", "beta")
    await _invite_and_accept(runtime, gql, alpha, "alpha", "a1@x.com", "STAFF")
    await _invite_and_accept(runtime, gql, beta, "beta", "b1@x.com", "STAFF")
    beta_user = (await gql(TEAM, token=beta))["data"]["teamMembers"][-1]["id"]
    for filter_ in (None, {"tenant": "beta"}, {"action": "user."}):
        entries = (await gql(AUDIT, {"filter": filter_}, token=alpha))["data"]["auditLog"]["edges"]
        assert entries and {e["node"]["tenant"] for e in entries} == {"alpha"}, filter_
    # Another tenant's user id is NOT_FOUND, as if it did not exist.
    other = await gql(DEACTIVATE, {"id": beta_user}, token=alpha)
    assert _errors(other, "deactivateUser") == ["NOT_FOUND"]
    # A super-admin reads every tenant's entries (or one tenant's).
    await lifecycle.create_super_admin(
        runtime, email="root@platform.example.com", name="Root", password=PASSWORD, actor="test"
    )
    root, _ = await login(gql, "root@platform.example.com", None)
    entries = (await gql(AUDIT, {"filter": None}, token=root))["data"]["auditLog"]["edges"]
    assert {"alpha", "beta"} <= {e["node"]["tenant"] for e in entries}
    only = await gql(AUDIT, {"filter": {"tenant": "beta"}}, token=root)
    assert {e["node"]["tenant"] for e in only["data"]["auditLog"]["edges"]} == {"beta"}
