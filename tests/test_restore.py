"""restore_tenant (``tenantctl import``): verify first, import into staging, switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.errors import AutoReconnect

from graphql_api.app import create_app
from tenancy import dump, lifecycle
from tenancy.databases.dump_format import MANIFEST_NAME, check_dump
from tenancy.databases.ejson_io import read_json_file
from tenancy.dump import export_database
from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant
from tenancy.operations.relocation import RESTORE_MARKER, restore_tenant
from tenancy.runtime import Runtime
from tests.backends import SYSTEM_DATABASES
from tests.conftest import GraphQLClient
from tests.dump_tools import rewrite_collection
from tests.test_copy import docs_by_id

SLUG = "west-nipt"


async def snapshot(runtime: Runtime) -> dict[str, Any]:
    """Everything a restore could change: every database of the cluster, the tenant record."""
    client = runtime.clients.client("default")
    databases = {}
    for name in sorted(await client.list_database_names()):
        if name == runtime.settings.platform_db or name in SYSTEM_DATABASES:
            continue
        db = client[name]
        databases[name] = {
            c: await docs_by_id(db[c]) for c in sorted(await db.list_collection_names())
        }
    tenant = await runtime.store.tenant_by_slug(SLUG)
    return {"databases": databases, "tenant": tenant.model_dump()}


async def tenant(runtime: Runtime) -> Tenant:
    record = await runtime.store.tenant_by_slug(SLUG)
    assert record is not None
    return record


@pytest.fixture
async def exported(demo: Runtime, tmp_path: Path) -> Path:
    """An export of west-nipt; afterwards its live database changes (one more customer)."""
    directory = tmp_path / "export"
    assert (await export_database(demo.tenant_database(await tenant(demo)), directory)).ok
    db = demo.tenant_database(await tenant(demo))
    await db["customers"].insert_one({"name": "Added after the export"})
    return directory


def tamper_consistently(directory: Path, collection: str = "customers") -> None:
    """Edit the first document of ``collection`` and recompute the file's SHA-256
    and size in the manifest, so that only the content hash can tell."""
    rewrite_collection(directory, collection, lambda ds: [{**ds[0], "tampered": True}, *ds[1:]])


async def test_overwrite_switches_to_a_verified_staging_database(
    demo: Runtime, exported: Path
) -> None:
    before = await tenant(demo)
    report = await restore_tenant(demo, SLUG, exported, overwrite=True, actor="t")
    assert report.ok, report.to_dict()
    assert [s.name for s in report.steps] == [
        "check export",
        "enter maintenance",
        "staging database",
        "import and verify",
        "switch record",
        "leave maintenance",
    ]
    after = await tenant(demo)
    assert (after.database.cluster, after.database.name) == ("default", "t_west-nipt_r1")
    assert after.maintenance is None
    assert [(p.cluster, p.name) for p in after.previous_databases] == [("default", "t_west-nipt")]
    assert report.info == {
        "staging_database": "default/t_west-nipt_r1",
        "database": "default/t_west-nipt_r1",
        "old_database": "default/t_west-nipt",
    }
    assert "the old database default/t_west-nipt is kept" in report.steps[4].detail

    restored = demo.tenant_database(after)
    assert RESTORE_MARKER not in await restored.list_collection_names()
    assert await restored["customers"].count_documents({"name": "Added after the export"}) == 0
    old = demo.tenant_database(before)
    assert await old["customers"].count_documents({"name": "Added after the export"}) == 1
    imported = report.data["import"]
    assert imported.ok and all(c.checksum_match for c in imported.collections if c.source_hash)

    # The API serves the restored data at once (this process's cache was invalidated).
    app = create_app(runtime=demo)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        gql = GraphQLClient(http, demo)
        token = await gql.token(SLUG)
        result = await gql("{ customers { totalCount } }", tenant=SLUG, token=token)
    assert result["data"]["customers"]["totalCount"] == await restored["customers"].count_documents(
        {}
    )


@pytest.mark.parametrize("overwrite", [False, True], ids=["no-overwrite", "overwrite"])
async def test_tampered_export_is_refused_before_anything_changes(
    demo: Runtime, exported: Path, overwrite: bool
) -> None:
    tamper_consistently(exported)
    check_dump(exported, content=False)  # sizes and file hashes were made to match
    before = await snapshot(demo)
    with pytest.raises(AppError) as refused:
        await restore_tenant(demo, SLUG, exported, overwrite=overwrite, actor="t")
    assert refused.value.code is ErrorCode.MANIFEST_INVALID
    assert "customers.bson: content hash differs" in refused.value.message
    assert await snapshot(demo) == before  # no staging database, no maintenance, no write


@pytest.mark.parametrize(
    "failure",
    [AutoReconnect("connection to the cluster lost"), RuntimeError("the importer crashed")],
    ids=["driver-error", "exception"],
)
async def test_failure_midway_leaves_the_tenant_as_it_was_and_a_rerun_resumes(
    demo: Runtime, exported: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    real_import = dump.import_database

    async def failing_import(*args: Any, **kwargs: Any) -> Any:
        def explode(label: str, done: int, total: int | None) -> None:
            if label == "customers":  # a few documents are in the staging database
                raise failure

        return await real_import(*args, **{**kwargs, "on_progress": explode})

    before = await snapshot(demo)
    monkeypatch.setattr("tenancy.operations.relocation.import_database", failing_import)
    report = await restore_tenant(demo, SLUG, exported, overwrite=True, actor="t")
    assert not report.ok
    failed = next(s for s in report.steps if s.status == "failed")
    assert failed.name == "import and verify"
    assert str(failure) in failed.detail
    assert "the staging database default/t_west-nipt_r1 was kept" in failed.detail
    assert report.steps[-1].name == "rollback"
    assert report.info == {"staging_database": "default/t_west-nipt_r1"}

    after = await snapshot(demo)
    assert after["tenant"]["database"] == before["tenant"]["database"]
    assert after["tenant"]["maintenance"] is None
    assert after["tenant"]["previous_databases"] == []
    assert after["databases"]["t_west-nipt"] == before["databases"]["t_west-nipt"]
    assert RESTORE_MARKER in after["databases"]["t_west-nipt_r1"]  # the partial staging

    monkeypatch.setattr("tenancy.operations.relocation.import_database", real_import)
    again = await restore_tenant(demo, SLUG, exported, overwrite=True, actor="t")
    assert again.ok, again.to_dict()
    assert "leftover of an earlier failed restore" in again.steps[2].detail
    assert (await tenant(demo)).database.name == "t_west-nipt_r1"


async def test_non_empty_tenant_needs_overwrite(demo: Runtime, exported: Path) -> None:
    before = await snapshot(demo)
    with pytest.raises(AppError) as refused:
        await restore_tenant(demo, SLUG, exported, actor="t")
    assert refused.value.code is ErrorCode.TARGET_NOT_EMPTY
    assert "pass --overwrite" in refused.value.message
    assert await snapshot(demo) == before


async def test_restore_into_an_empty_tenant_database(demo: Runtime, exported: Path) -> None:
    record = await tenant(demo)
    await demo.clients.client("default").drop_database(record.database.name)
    report = await restore_tenant(demo, SLUG, exported, actor="t")
    assert report.ok, report.to_dict()
    restored = demo.tenant_database(await tenant(demo))
    assert await restored["customers"].count_documents({}) == read_count(exported, "customers")


def read_count(directory: Path, collection: str) -> int:
    manifest = read_json_file(directory / MANIFEST_NAME)
    return next(e["count"] for e in manifest["collections"] if e["name"] == collection)


async def test_staging_names_skip_databases_in_use(demo: Runtime, exported: Path) -> None:
    client = demo.clients.client("default")
    await client["t_west-nipt_r1"]["notes"].insert_one({"not": "ours"})  # someone else's data
    first = await restore_tenant(demo, SLUG, exported, overwrite=True, actor="t")
    assert first.info["database"] == "default/t_west-nipt_r2"
    await demo.tenant_database(await tenant(demo))["customers"].insert_one({"name": "changed"})
    second = await restore_tenant(demo, SLUG, exported, overwrite=True, actor="t")
    # _r1 is not ours, _r2 is the current database, t_west-nipt a previous one.
    assert second.info == {
        "staging_database": "default/t_west-nipt_r3",
        "database": "default/t_west-nipt_r3",
        "old_database": "default/t_west-nipt_r2",
    }
    assert await client["t_west-nipt_r1"]["notes"].count_documents({}) == 1
    previous = [p.name for p in (await tenant(demo)).previous_databases]
    assert previous == ["t_west-nipt", "t_west-nipt_r2"]


async def test_restore_of_a_tenant_in_maintenance_is_locked(demo: Runtime, exported: Path) -> None:
    await lifecycle.enter_maintenance(demo, SLUG, "another operation", "t")
    before = await snapshot(demo)
    with pytest.raises(AppError) as locked:
        await restore_tenant(demo, SLUG, exported, overwrite=True, actor="t")
    assert locked.value.code is ErrorCode.LOCKED
    assert await snapshot(demo) == before
