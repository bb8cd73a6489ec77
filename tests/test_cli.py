"""tenantctl end to end on an embedded data directory, and a server started on it afterwards."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2; httpx works as well
    from starlette.testclient import TestClient
from typer.testing import CliRunner

from graphql_api.app import create_app
from scripts.cli import app
from tenancy.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
OWNER = [
    "--name",
    "Acme Dental",
    "--owner-email",
    "owner@acme-dental.com",
    "--owner-name",
    "Ada",
    "--owner-password",
    "correct horse battery",
]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("APP_EMBEDDED_DIR", str(tmp_path / "embedded"))
    monkeypatch.setenv("APP_MONGODB_URL", "")
    monkeypatch.setenv("APP_TENANT_CACHE_TTL_SECONDS", "0")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


def as_json(output: str):
    return json.loads(
        output[output.index("{") if output.lstrip()[0] == "{" else output.index("[") :]
    )


def test_provision_list_migrate_export_import(cli, tmp_path: Path):
    code, out = cli("tenants", "provision", "acme-dental", *OWNER, "--plan", "professional")
    assert code == 0, out
    code, out = cli("tenants", "list", "--json")
    assert [t["slug"] for t in as_json(out)] == ["acme-dental"]
    code, out = cli("migrate", "status", "--json")
    assert code == 0, out
    status = as_json(out)
    assert status["up_to_date"] is True
    assert {d["target"] for d in status["databases"]} == {"platform", "acme-dental"}

    dump = tmp_path / "dump"
    code, out = cli("export", "acme-dental", str(dump), "--json")
    assert code == 0, out
    assert (dump / "manifest.json").exists()
    code, out = cli("import", str(dump), "acme-dental")
    assert code == 1 and "TARGET_NOT_EMPTY" in out
    code, out = cli("import", str(dump), "acme-dental", "--overwrite", "--json")
    assert code == 0, out
    assert as_json(out)["ok"] is True


def test_delete_needs_confirmation_and_a_backup(cli, tmp_path: Path):
    assert cli("tenants", "provision", "acme-dental", *OWNER)[0] == 0
    code, out = cli("tenants", "delete", "acme-dental", "--backup-dir", str(tmp_path / "b"))
    assert code == 2 and "--confirm acme-dental" in out
    code, out = cli("tenants", "list", "--json")
    assert as_json(out)[0]["status"] == "trial"
    code, out = cli(
        "tenants",
        "delete",
        "acme-dental",
        "--backup-dir",
        str(tmp_path / "b"),
        "--confirm",
        "acme-dental",
        "--drain-seconds",
        "0",
        "--json",
    )
    assert code == 0, out
    assert [s["name"] for s in as_json(out)["steps"]] == [
        "enter maintenance",
        "backup",
        "mark deleted",
        "drop database",
    ]
    assert as_json(cli("tenants", "list", "--json")[1])[0]["status"] == "deleted"


def test_unknown_tenant_is_a_clear_error(cli):
    code, out = cli("tenants", "suspend", "nobody-here", "--reason", "x")
    assert code == 1
    assert "TENANT_NOT_FOUND" in out and "nobody-here" in out


def test_import_legacy_then_the_server_serves_it(cli, tmp_path: Path):
    code, out = cli(
        "import-legacy",
        "legacy-crm",
        "--dir",
        str(FIXTURES / "legacy-crm"),
        "--owner-password",
        "owner-pass-123",
        "--json",
    )
    assert code == 0, out
    report = as_json(out)
    assert report["tenants"][0]["slug"] == "quattro-stand"
    code, out = cli("import-legacy", "legacy-crm", "--dir", str(FIXTURES / "legacy-crm"), "--json")
    assert code == 0, out  # re-run: nothing new
    assert sum(c["written"] for c in as_json(out)["collections"]) == 0

    settings = Settings(_env_file=None, embedded_dir=tmp_path / "embedded", seed_demo=True)
    with TestClient(create_app(settings=settings), base_url="http://api.localhost") as client:
        login = client.post(
            "/t/quattro-stand/graphql",
            json={
                "query": (
                    'mutation { login(email: "owner@quattro.com", '
                    'password: "owner-pass-123") { token } }'
                )
            },
        ).json()
        token = login["data"]["login"]["token"]
        customers = client.post(
            "/t/quattro-stand/graphql",
            json={"query": "{ customers { totalCount } tenants: tenant { slug } }"},
            headers={"authorization": f"Bearer {token}"},
        ).json()
        assert customers["data"]["customers"]["totalCount"] == 6  # the fixture's customers
        # The server holds the directory: an operator command is refused meanwhile.
        code, out = cli("tenants", "list")
        assert code == 1 and "LOCKED" in out and "in use by server" in out
    # demo data is not seeded into a directory that already had tenants
    code, out = cli("tenants", "list", "--json")
    assert [t["slug"] for t in as_json(out)] == ["quattro-stand"]
