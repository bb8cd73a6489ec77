"""Move, drop-old-database and delete of a tenant (tenancy.operations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphql_api.demo import seed_demo
from tenancy import copier
from tenancy.errors import AppError, ErrorCode
from tenancy.operations import delete_tenant, drop_old_database, move_tenant
from tenancy.runtime import Platform
from tests.conftest import GraphQLClient, error_codes


@pytest.fixture
async def two_clusters(settings):
    settings = settings.model_copy(
        update={"extra_clusters": {"eu-2": ""}, "tenant_cache_ttl_seconds": 0}
    )
    platform = Platform.build(settings)
    await platform.start()
    await seed_demo(platform)
    yield platform
    await platform.close()


async def counts(db) -> dict[str, int]:
    return {n: await db[n].count_documents({}) for n in sorted(await db.list_collection_names())}


async def test_move_to_another_cluster_switches_the_record(two_clusters: Platform):
    platform = two_clusters
    before = await platform.store.tenant_by_slug("west-nipt")
    source_counts = await counts(platform.tenant_database(before))
    report = await move_tenant(
        platform, "west-nipt", to_cluster="eu-2", actor="test", drain_seconds=0
    )
    assert report.ok, report.to_dict()
    after = await platform.store.tenant_by_slug("west-nipt")
    assert (after.database.cluster, after.database.name) == ("eu-2", "t_west-nipt")
    assert after.maintenance is None
    assert [(p.cluster, p.name) for p in after.previous_databases] == [("default", "t_west-nipt")]
    moved = platform.tenant_database(after)
    assert await counts(moved) == source_counts
    # The old database is kept until dropped explicitly.
    assert await counts(platform.clients.database(before.database)) == source_counts
    assert report.data["copy"].ok


async def test_move_serves_the_api_from_the_new_database(two_clusters: Platform, tmp_path):
    import httpx

    from graphql_api.app import create_app

    app = create_app(platform=two_clusters)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        gql = GraphQLClient(http, two_clusters)
        token = await gql.token("west-nipt")
        await move_tenant(two_clusters, "west-nipt", to_cluster="eu-2", actor="t", drain_seconds=0)
        created = await gql(
            'mutation { createCustomer(input: {name: "After Move"}) { customer { id } } }',
            tenant="west-nipt",
            token=token,
        )
        assert created["data"]["createCustomer"]["customer"]["id"]
    new = two_clusters.clients.client("eu-2")["t_west-nipt"]
    old = two_clusters.clients.client("default")["t_west-nipt"]
    assert await new["customers"].count_documents({"name": "After Move"}) == 1
    assert await old["customers"].count_documents({"name": "After Move"}) == 0


async def test_failed_move_rolls_back(two_clusters: Platform, monkeypatch):
    async def broken_copy(*args, **kwargs):
        raise ConnectionError("target cluster went away")

    monkeypatch.setattr("tenancy.operations.copy_database", broken_copy)
    report = await move_tenant(
        two_clusters, "west-nipt", to_cluster="eu-2", actor="t", drain_seconds=0
    )
    assert not report.ok
    assert "target cluster went away" in " ".join(s.detail for s in report.steps)
    tenant = await two_clusters.store.tenant_by_slug("west-nipt")
    assert (tenant.database.cluster, tenant.maintenance) == ("default", None)
    assert tenant.previous_databases == []


async def test_move_whose_verification_fails_rolls_back(two_clusters: Platform, monkeypatch):
    real = copier.copy_database

    async def tampering_copy(source, target, **kwargs):
        result = await real(source, target, verify=False, **kwargs)
        await target["customers"].update_one({}, {"$set": {"name": "tampered"}})
        check = await copier.verify_database(source, target)
        result.collections = check.collections
        return result

    monkeypatch.setattr("tenancy.operations.copy_database", tampering_copy)
    report = await move_tenant(
        two_clusters, "west-nipt", to_cluster="eu-2", actor="t", drain_seconds=0
    )
    assert not report.ok
    assert "partial target eu-2/t_west-nipt was kept" in " ".join(s.detail for s in report.steps)
    tenant = await two_clusters.store.tenant_by_slug("west-nipt")
    assert tenant.database.cluster == "default" and tenant.maintenance is None


async def test_move_refusals(two_clusters: Platform):
    with pytest.raises(AppError) as same:
        await move_tenant(two_clusters, "west-nipt", actor="t", drain_seconds=0)
    assert same.value.code == ErrorCode.VALIDATION_FAILED
    with pytest.raises(AppError) as taken:
        await move_tenant(two_clusters, "west-nipt", to_database="t_quattro-stand", actor="t")
    assert taken.value.code == ErrorCode.ALREADY_EXISTS
    with pytest.raises(AppError) as unknown:
        await move_tenant(two_clusters, "west-nipt", to_cluster="mars", actor="t")
    assert unknown.value.code == ErrorCode.NOT_FOUND
    assert (await two_clusters.store.tenant_by_slug("west-nipt")).maintenance is None


async def test_drop_old_database_needs_backup_and_a_previous_location(
    two_clusters: Platform, tmp_path: Path
):
    with pytest.raises(AppError):
        await drop_old_database(
            two_clusters,
            "west-nipt",
            cluster="default",
            name="t_west-nipt",
            backup_dir=tmp_path,
            actor="t",
        )
    await move_tenant(two_clusters, "west-nipt", to_cluster="eu-2", actor="t", drain_seconds=0)
    report = await drop_old_database(
        two_clusters,
        "west-nipt",
        cluster="default",
        name="t_west-nipt",
        backup_dir=tmp_path,
        actor="t",
    )
    assert report.ok, report.to_dict()
    assert "t_west-nipt" not in await two_clusters.clients.client("default").list_database_names()
    backups = list(tmp_path.iterdir())
    assert len(backups) == 1 and (backups[0] / "manifest.json").exists()
    assert (await two_clusters.store.tenant_by_slug("west-nipt")).previous_databases == []


async def test_delete_backs_up_then_drops_and_keeps_the_record(
    two_clusters: Platform, tmp_path: Path
):
    tenant = await two_clusters.store.tenant_by_slug("quattro-stand")
    report = await delete_tenant(
        two_clusters, "quattro-stand", backup_dir=tmp_path, actor="t", drain_seconds=0
    )
    assert report.ok, report.to_dict()
    record = await two_clusters.store.tenant_by_slug("quattro-stand")
    assert record.status == "deleted" and record.deleted_at is not None
    assert (
        "t_quattro-stand" not in await two_clusters.clients.client("default").list_database_names()
    )
    assert await two_clusters.store.slug_for_domain("quattrostand.com") is None
    assert await two_clusters.store.count_users(tenant.id) == 0
    backup = next(tmp_path.iterdir())
    assert "customers.jsonl" in {p.name for p in backup.iterdir()}


async def test_delete_refuses_when_backup_fails(two_clusters: Platform, tmp_path: Path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    report = await delete_tenant(
        two_clusters, "quattro-stand", backup_dir=blocker, actor="t", drain_seconds=0
    )
    assert not report.ok
    record = await two_clusters.store.tenant_by_slug("quattro-stand")
    assert record.status == "active" and record.maintenance is None
    db = two_clusters.tenant_database(record)
    assert await db["customers"].count_documents({}) == 3


async def test_deleted_tenant_is_refused_by_the_api(two_clusters: Platform, tmp_path: Path):
    import httpx

    from graphql_api.app import create_app

    await delete_tenant(
        two_clusters, "quattro-stand", backup_dir=tmp_path, actor="t", drain_seconds=0
    )
    app = create_app(platform=two_clusters)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        result = await GraphQLClient(http, two_clusters)(
            "{ services { name } }", tenant="quattro-stand"
        )
    assert error_codes(result) == ["TENANT_INACTIVE"]
    assert "deleted" in result["errors"][0]["message"]
