"""tenantctl end to end on the test backend, and a server started on the same data afterwards."""

from __future__ import annotations

import asyncio
import json
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2; httpx works as well
    from starlette.testclient import TestClient
from click.testing import Result
from typer.testing import CliRunner

from graphql_api.app import create_app
from scripts.cli import app
from scripts.runtime import operator_runtime
from tenancy.platform import PlatformStore, ServerInstance
from tenancy.settings import Settings
from tests.backends import Backend

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
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: Backend):
    """Runs tenantctl against the backend; returns click's Result (stdout, stderr)."""
    monkeypatch.setenv("APP_EMBEDDED_DIR", str(tmp_path / "embedded"))
    monkeypatch.setenv("APP_MONGODB_URL", backend.url())
    monkeypatch.setenv("APP_TENANT_CACHE_TTL_SECONDS", "0")
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return run


@pytest.fixture
def cli(invoke):
    def run(*args: str) -> tuple[int, str]:
        result = invoke(*args)
        return result.exit_code, result.output

    return run


def as_json(output: str):
    return json.loads(
        output[output.index("{") if output.lstrip()[0] == "{" else output.index("[") :]
    )


def _add_document(url: str, database: str) -> None:
    """A change made after an export (another process writing to the tenant)."""
    from tenancy.clients import open_client

    async def add() -> None:
        client = open_client(url)
        await client[database]["customers"].insert_one({"name": "added after the export"})
        await client.close()

    asyncio.run(add())


def test_provision_list_migrate_export_import(cli, tmp_path: Path, backend: Backend):
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
    code, out = cli("import", str(dump), "acme-dental", "--json")
    assert code == 0, out  # the tenant holds exactly this export: nothing to do
    assert [s["name"] for s in as_json(out)["steps"]][-1] == "already restored"
    _add_document(backend.url(), "t_acme-dental")
    code, out = cli("import", str(dump), "acme-dental")
    assert code == 1 and "TARGET_NOT_EMPTY" in out
    code, out = cli("import", str(dump), "acme-dental", "--overwrite", "--json")
    assert code == 0, out
    report = as_json(out)
    assert report["ok"] is True
    assert report["info"]["old_database"] == "default/t_acme-dental"
    assert report["import"]["ok"] is True
    code, out = cli("tenants", "list", "--json")
    [tenant] = as_json(out)
    assert tenant["database"] == {"cluster": "default", "name": "t_acme-dental_r1"}
    assert tenant["previous_databases"][0]["name"] == "t_acme-dental"
    assert tenant["maintenance"] is None


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


def test_import_legacy_then_the_server_serves_it(cli, tmp_path: Path, backend: Backend):
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

    settings = Settings(_env_file=None, mongodb_url=backend.url(), seed_demo=True)
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
        # Operator commands work while the server runs.
        code, out = cli("tenants", "list", "--json")
        assert code == 0 and [t["slug"] for t in as_json(out)] == ["quattro-stand"]
    # demo data is not seeded into a directory that already had tenants
    code, out = cli("tenants", "list", "--json")
    assert [t["slug"] for t in as_json(out)] == ["quattro-stand"]


# ---------------------------------------------------------------- restore


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]], ids=["new", "overwrite"])
def test_tampered_export_is_refused_and_the_tenant_untouched(
    cli, tmp_path: Path, overwrite: list[str]
):
    from tests.test_restore import tamper_consistently

    assert cli("tenants", "provision", "acme-dental", *OWNER)[0] == 0
    dump = tmp_path / "dump"
    assert cli("export", "acme-dental", str(dump))[0] == 0
    before = as_json(cli("tenants", "list", "--json")[1])
    tamper_consistently(dump, "_migrations")  # a new tenant's only documents: its ledger
    code, out = cli("import", str(dump), "acme-dental", *overwrite)
    assert code == 1
    assert "MANIFEST_INVALID" in out and "_migrations.bson: content hash differs" in out
    assert as_json(cli("tenants", "list", "--json")[1]) == before
    code, out = cli("migrate", "status", "--json")  # its database is as it was
    assert code == 0 and as_json(out)["up_to_date"] is True


# ---------------------------------------------------------------- failures read as one line


def one_error_line(result: Result, code: str) -> str:
    """The failure was one ``CODE: message`` line on stderr, no traceback, exit 1."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{code}: "), lines[0]
    return lines[0]


def test_unwritable_backup_dir_and_export_path(invoke, tmp_path: Path):
    assert invoke("tenants", "provision", "acme-dental", *OWNER).exit_code == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = one_error_line(
        invoke(
            "tenants",
            "delete",
            "acme-dental",
            "--backup-dir",
            str(blocker),
            "--confirm",
            "acme-dental",
        ),
        "BACKUP_FAILED",
    )
    assert f"backup directory {blocker} cannot be written" in line
    line = one_error_line(invoke("export", "acme-dental", str(blocker / "dump")), "BACKUP_FAILED")
    assert "a file is in the way" in line
    tenants = json.loads(invoke("tenants", "list", "--json").stdout)
    assert tenants[0]["status"] == "trial" and tenants[0]["maintenance"] is None


def test_missing_export_directory(invoke, tmp_path: Path):
    assert invoke("tenants", "provision", "acme-dental", *OWNER).exit_code == 0
    line = one_error_line(invoke("import", str(tmp_path / "nowhere"), "acme-dental"), "NOT_FOUND")
    assert "does not exist" in line


def test_unreachable_mongodb_fails_fast(invoke, monkeypatch: pytest.MonkeyPatch, backend):
    if backend.is_mock:
        pytest.skip("the mock answers any URL: this runs on the real driver (wire leg)")
    monkeypatch.setenv("APP_MONGODB_URL", "mongodb://127.0.0.1:1")
    monkeypatch.setenv("APP_CLI_SERVER_SELECTION_TIMEOUT_SECONDS", "0.2")
    line = one_error_line(invoke("tenants", "list"), "DATABASE_UNAVAILABLE")
    assert "127.0.0.1:1" in line and "APP_MONGODB_URL" in line
    assert "Topology" not in line

    result = invoke("tenants", "list", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "DATABASE_UNAVAILABLE" and "127.0.0.1:1" in error["message"]


def test_bad_setting_values(invoke, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("APP_CORS_ORIGINS", "http://localhost:5173")  # not JSON
    line = one_error_line(invoke("tenants", "list"), "VALIDATION_FAILED")
    assert "APP_CORS_ORIGINS" in line and "JSON" in line
    monkeypatch.delenv("APP_CORS_ORIGINS")
    monkeypatch.setenv("APP_JWT_TTL_SECONDS", "soon")
    line = one_error_line(invoke("migrate", "status"), "VALIDATION_FAILED")
    assert "APP_JWT_TTL_SECONDS" in line and "'soon'" in line


def test_json_error_object_and_debug_traceback(invoke, monkeypatch: pytest.MonkeyPatch):
    result = invoke("tenants", "suspend", "nobody-here", "--reason", "x", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "error": {"code": "TENANT_NOT_FOUND", "message": "tenant 'nobody-here' does not exist"}
    }
    refused = invoke("tenants", "delete", "nobody-here", "--backup-dir", "b", "--json")
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["error"]["code"] == "VALIDATION_FAILED"

    monkeypatch.setenv("APP_CORS_ORIGINS", "*")
    assert "Traceback" not in invoke("tenants", "list").output
    debug = invoke("--debug", "tenants", "list")
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr and "JSONDecodeError" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("VALIDATION_FAILED: ")


# ---------------------------------------------------------------- waiting for caches


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        calls.append(seconds)

    monkeypatch.setattr("tenancy.operations.maintenance._sleep", fake_sleep)
    monkeypatch.setenv("APP_TENANT_CACHE_TTL_SECONDS", "30")
    return calls


def test_delete_without_running_servers_does_not_wait(cli, tmp_path: Path, sleeps: list[float]):
    assert cli("tenants", "provision", "acme-dental", *OWNER)[0] == 0
    code, out = cli(
        "tenants",
        "delete",
        "acme-dental",
        "--backup-dir",
        str(tmp_path / "b"),
        "--confirm",
        "acme-dental",
    )
    assert code == 0, out
    assert sleeps == []
    assert "waiting" not in out and "no other server is running" in out


def test_delete_waits_for_a_running_server_and_says_so(invoke, tmp_path: Path, sleeps: list[float]):
    assert invoke("tenants", "provision", "acme-dental", *OWNER).exit_code == 0

    async def register_a_server() -> ServerInstance:
        async with operator_runtime() as runtime:
            server = PlatformStore(runtime.store.db)
            await server.register_instance(lease_seconds=600)
            [instance] = await runtime.store.live_instances()
            return instance

    server = asyncio.run(register_a_server())
    result = invoke(
        "tenants",
        "delete",
        "acme-dental",
        "--backup-dir",
        str(tmp_path / "b"),
        "--confirm",
        "acme-dental",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert sleeps == [30]
    notice = (
        f"waiting 30 s for 1 running server ({server.host}:{server.pid}) "
        "to drop cached tenant 'acme-dental'"
    )
    assert notice in result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert steps[1] == {
        "name": "drain",
        "status": "ok",
        "detail": notice.replace("waiting", "waited"),
        "error": None,
    }


# ---------------------------------------------------------------- migrate up progress


def test_migrate_up_progress_counts_databases(cli, monkeypatch: pytest.MonkeyPatch):
    assert cli("tenants", "provision", "acme-dental", *OWNER)[0] == 0
    seen: list[tuple[str, int, int | None]] = []

    @contextmanager
    def recording_progress(enabled: bool = True):
        yield lambda name, done, total: seen.append((name, done, total))

    monkeypatch.setattr("scripts.commands.migrate.progress", recording_progress)
    code, out = cli("migrate", "up")
    assert code == 0, out
    assert seen == [("databases", 1, None), ("databases", 2, None)]  # platform, acme-dental


def test_create_the_first_super_admin(invoke):
    command = ["platform", "create-admin", "ops@example.com", "--name", "Ops", "--password-stdin"]
    runner = CliRunner()
    short = runner.invoke(app, command, input="short\n")
    assert short.exit_code == 1 and "VALIDATION_FAILED" in short.output
    created = runner.invoke(app, [*command, "--json"], input="a-long-enough-password\n")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["role"] == "super_admin"
    again = runner.invoke(app, command, input="a-long-enough-password\n")
    assert again.exit_code == 1 and "ALREADY_EXISTS" in again.output
