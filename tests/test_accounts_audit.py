"""The audit log (issue 11, item 7): administrative changes with who, tenant, action, target,
before/after of changed fields (secrets never), request id; filters; operator commands."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrations.runtime import build_runtime
from scripts.cli import app as cli_app
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.accounts_support import login, tenant_with_admin
from tests.backends import Backend
from tests.conftest import GraphQLClient

AUDIT = """
query($filter: AuditFilter, $first: Int, $after: String) {
  auditLog(first: $first, after: $after, filter: $filter) {
    edges { node { at action actor actorKind tenant target requestId
                   changes { field before after } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
CREATE_SERVICE = """
mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } } }"""
UPDATE_SERVICE = """
mutation($id: ID!, $input: UpdateServiceInput!) {
  updateService(id: $id, input: $input) { service { id } userErrors { code } } }"""
SETTINGS = """
mutation($input: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $input) { userErrors { code message } } }"""
CHANGE_PASSWORD = """
mutation($c: String!, $n: String!) {
  changeMyPassword(currentPassword: $c, newPassword: $n) { userErrors { code } } }"""


async def _entries(gql: GraphQLClient, token: str, **filter_: object) -> list[dict]:
    result = await gql(AUDIT, {"filter": filter_ or None, "first": 50}, token=token)
    assert "errors" not in result, result
    return [edge["node"] for edge in result["data"]["auditLog"]["edges"]]


async def test_catalog_and_settings_changes_are_logged_with_before_and_after(
    runtime: Runtime, gql: GraphQLClient
):
    tenant = await tenant_with_admin(runtime, "audited")
    admin, _ = await login(gql, "admin@audited.example.com", "audited")
    service = {"name": "Scan", "durationMinutes": 30, "priceMinor": 1000, "currency": "TRY"}
    made = await gql(CREATE_SERVICE, {"input": service}, token=admin)
    service_id = made["data"]["createService"]["service"]["id"]
    changed = await gql(
        UPDATE_SERVICE,
        {"id": service_id, "input": {"priceMinor": 1500}},
        token=admin,
        headers={"x-request-id": "req-audit-1"},
    )
    assert changed["data"]["updateService"]["userErrors"] == []
    await gql(SETTINGS, {"input": {"timezone": "Europe/London"}}, token=admin)

    [update] = await _entries(gql, admin, action="service.update")
    assert update["actor"] == f"user:{tenant.owner_user_id}" and update["actorKind"] == "user"
    assert update["tenant"] == "audited" and update["target"] == f"service:{service_id}"
    assert update["changes"] == [{"field": "price_minor", "before": 1000, "after": 1500}]
    assert update["requestId"] == "req-audit-1"
    [created] = await _entries(gql, admin, action="service.create")
    assert {"field": "name", "before": None, "after": "Scan"} in created["changes"]
    [settings] = await _entries(gql, admin, action="tenant.settings.update")
    assert settings["changes"] == [
        {"field": "settings.timezone", "before": "Europe/Istanbul", "after": "Europe/London"}
    ]
    # Filters: a prefix of actions, an actor, a date range.
    assert {e["action"] for e in await _entries(gql, admin, action="service.")} == {
        "service.create",
        "service.update",
    }
    mine = await _entries(gql, admin, actor=f"user:{tenant.owner_user_id}")
    assert len(mine) == 3
    assert await _entries(gql, admin, since="2999-01-01T00:00:00Z") == []
    assert len(await _entries(gql, admin, until="2999-01-01T00:00:00Z")) >= 4
    # Pagination: newest first, one page after another.
    first = await gql(AUDIT, {"first": 2}, token=admin)
    page = first["data"]["auditLog"]
    assert page["pageInfo"]["hasNextPage"]
    rest = await gql(AUDIT, {"first": 50, "after": page["pageInfo"]["endCursor"]}, token=admin)
    ats = [e["node"]["at"] for e in page["edges"] + rest["data"]["auditLog"]["edges"]]
    assert ats == sorted(ats, reverse=True)


async def test_secrets_never_reach_the_log(runtime: Runtime, gql: GraphQLClient):
    await tenant_with_admin(runtime, "secrets")
    admin, _ = await login(gql, "admin@secrets.example.com", "secrets")
    new_password = "a-new-secret-password"
    await gql(CHANGE_PASSWORD, {"c": "a-long-enough-password", "n": new_password}, token=admin)
    raw = [doc async for doc in runtime.store.db["audit_log"].find({})]
    text = json.dumps(raw, default=str)
    assert new_password not in text and "a-long-enough-password" not in text
    assert "argon2" not in text  # no password hash either
    [entry] = [doc for doc in raw if doc["action"] == "user.change_password"]
    assert entry["changes"] == {"password": {"before": "[redacted]", "after": "[redacted]"}}


async def test_staff_and_viewers_cannot_read_the_log(runtime: Runtime, gql: GraphQLClient):
    from tenancy import lifecycle
    from tenancy.models import Role

    tenant = await tenant_with_admin(runtime, "readers")
    await lifecycle.create_user(
        runtime,
        tenant,
        email="s@readers.example.com",
        name="S",
        role=Role.STAFF,
        password="a-long-enough-password",
        actor="test",
    )
    staff, _ = await login(gql, "s@readers.example.com", "readers")
    result = await gql(AUDIT, {"first": 5}, token=staff)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_operator_commands_are_logged_as_the_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: Backend
):
    monkeypatch.setenv("APP_EMBEDDED_DIR", str(tmp_path / "embedded"))
    monkeypatch.setenv("APP_MONGODB_URL", backend.url())
    monkeypatch.setenv("APP_TENANT_CACHE_TTL_SECONDS", "0")
    owner = [
        "--name",
        "Op Co",
        "--owner-email",
        "owner@op-co.example.com",
        "--owner-name",
        "O",
        "--owner-password",
        "a-long-enough-password",
    ]
    runner = CliRunner()
    provisioned = runner.invoke(cli_app, ["tenants", "provision", "op-co", *owner])
    assert provisioned.exit_code == 0, provisioned.output
    suspended = runner.invoke(cli_app, ["tenants", "suspend", "op-co", "--reason", "unpaid"])
    assert suspended.exit_code == 0, suspended.output

    async def entries() -> list[dict]:
        runtime = build_runtime(Settings(_env_file=None, mongodb_url=backend.url()))
        try:
            cursor = runtime.store.db["audit_log"].find({"tenant": "op-co"}).sort("_id", 1)
            return [doc async for doc in cursor]
        finally:
            await runtime.close()

    import asyncio

    found = asyncio.run(entries())
    assert [(e["action"], e["actor"], e["actor_kind"]) for e in found] == [
        ("tenant.provision", f"operator:{getpass.getuser()}", "operator"),
        ("tenant.suspended", f"operator:{getpass.getuser()}", "operator"),
    ]
    assert found[1]["changes"]["status"] == {"before": "trial", "after": "suspended"}
    assert found[1]["request_id"]  # the command's id
