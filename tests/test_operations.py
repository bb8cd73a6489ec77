"""Move, drop-old-database and delete of a tenant (tenancy.operations)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from graphql_api.demo import seed_demo
from migrations.runtime import build_runtime
from tenancy.databases.copy import copy_database
from tenancy.databases.verify import verify_database
from tenancy.errors import AppError, ErrorCode
from tenancy.models import utcnow
from tenancy.operations import delete_tenant, drop_old_database, move_tenant
from tenancy.platform import SERVER_INSTANCES, PlatformStore, ServerInstance
from tenancy.runtime import Runtime
from tests.backends import SECOND_CLUSTER, Backend
from tests.conftest import GraphQLClient, error_codes
from tests.snapshots import seeded


@pytest.fixture
async def two_clusters(settings, backend: Backend):
    settings = settings.model_copy(
        update={
            "extra_clusters": {SECOND_CLUSTER: backend.url(SECOND_CLUSTER)},
            "tenant_cache_ttl_seconds": 0,
        }
    )
    runtime = build_runtime(settings)
    await runtime.start()
    await seeded(runtime, "demo", lambda: seed_demo(runtime))
    yield runtime
    await runtime.close()


async def counts(db) -> dict[str, int]:
    return {n: await db[n].count_documents({}) for n in sorted(await db.list_collection_names())}


async def test_move_to_another_cluster_switches_the_record(two_clusters: Runtime):
    runtime = two_clusters
    before = await runtime.store.tenant_by_slug("west-nipt")
    source_counts = await counts(runtime.tenant_database(before))
    report = await move_tenant(
        runtime, "west-nipt", to_cluster="eu-2", actor="test", drain_seconds=0
    )
    assert report.ok, report.to_dict()
    after = await runtime.store.tenant_by_slug("west-nipt")
    assert (after.database.cluster, after.database.name) == ("eu-2", "t_west-nipt")
    assert after.maintenance is None
    assert [(p.cluster, p.name) for p in after.previous_databases] == [("default", "t_west-nipt")]
    moved = runtime.tenant_database(after)
    assert await counts(moved) == source_counts
    # The old database is kept until dropped explicitly.
    assert await counts(runtime.clients.database(before.database)) == source_counts
    assert report.data["copy"].ok


async def test_move_serves_the_api_from_the_new_database(two_clusters: Runtime, tmp_path):
    import httpx

    from graphql_api.app import create_app

    app = create_app(runtime=two_clusters)
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


async def test_failed_move_rolls_back(two_clusters: Runtime, monkeypatch):
    async def broken_copy(*args, **kwargs):
        raise ConnectionError("target cluster went away")

    monkeypatch.setattr("tenancy.operations.relocation.copy_database", broken_copy)
    report = await move_tenant(
        two_clusters, "west-nipt", to_cluster="eu-2", actor="t", drain_seconds=0
    )
    assert not report.ok
    assert "target cluster went away" in " ".join(s.detail for s in report.steps)
    tenant = await two_clusters.store.tenant_by_slug("west-nipt")
    assert (tenant.database.cluster, tenant.maintenance) == ("default", None)
    assert tenant.previous_databases == []


async def test_move_whose_verification_fails_rolls_back(two_clusters: Runtime, monkeypatch):
    real = copy_database

    async def tampering_copy(source, target, **kwargs):
        result = await real(source, target, verify=False, **kwargs)
        await target["customers"].update_one({}, {"$set": {"name": "tampered"}})
        check = await verify_database(source, target)
        result.collections = check.collections
        return result

    monkeypatch.setattr("tenancy.operations.relocation.copy_database", tampering_copy)
    report = await move_tenant(
        two_clusters, "west-nipt", to_cluster="eu-2", actor="t", drain_seconds=0
    )
    assert not report.ok
    assert "partial target eu-2/t_west-nipt was kept" in " ".join(s.detail for s in report.steps)
    tenant = await two_clusters.store.tenant_by_slug("west-nipt")
    assert tenant.database.cluster == "default" and tenant.maintenance is None


async def test_move_refusals(two_clusters: Runtime):
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
    two_clusters: Runtime, tmp_path: Path
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
    two_clusters: Runtime, tmp_path: Path
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
    assert "customers.bson" in {p.name for p in backup.iterdir()}


async def test_delete_refuses_an_unwritable_backup_dir_before_anything(
    two_clusters: Runtime, tmp_path: Path
):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    before = await two_clusters.store.tenant_by_slug("quattro-stand")
    for backup_dir in (blocker, blocker / "below"):
        with pytest.raises(AppError) as refused:
            await delete_tenant(
                two_clusters, "quattro-stand", backup_dir=backup_dir, actor="t", drain_seconds=0
            )
        assert refused.value.code == ErrorCode.BACKUP_FAILED
        assert f"backup directory {backup_dir} cannot be written" in refused.value.message
        assert "nothing was changed" in refused.value.message
    record = await two_clusters.store.tenant_by_slug("quattro-stand")
    assert record.version == before.version  # not even maintenance was entered
    db = two_clusters.tenant_database(record)
    assert await db["customers"].count_documents({}) == 3


async def test_delete_stops_when_the_backup_fails(
    two_clusters: Runtime, tmp_path: Path, monkeypatch
):
    async def failing_export(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tenancy.operations.deletion.export_database", failing_export)
    report = await delete_tenant(
        two_clusters, "quattro-stand", backup_dir=tmp_path, actor="t", drain_seconds=0
    )
    assert not report.ok
    assert "No space left on device" in report.to_dict()["steps"][1]["detail"]
    record = await two_clusters.store.tenant_by_slug("quattro-stand")
    assert record.status == "active" and record.maintenance is None
    db = two_clusters.tenant_database(record)
    assert await db["customers"].count_documents({}) == 3


async def test_deleted_tenant_is_refused_by_the_api(two_clusters: Runtime, tmp_path: Path):
    import httpx

    from graphql_api.app import create_app

    await delete_tenant(
        two_clusters, "quattro-stand", backup_dir=tmp_path, actor="t", drain_seconds=0
    )
    app = create_app(runtime=two_clusters)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        result = await GraphQLClient(http, two_clusters)(
            "{ services { name } }", tenant="quattro-stand"
        )
    assert error_codes(result) == ["TENANT_INACTIVE"]
    assert "deleted" in result["errors"][0]["message"]


# ---------------------------------------------------------------- waiting for caches


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits for caches, recorded instead of slept."""
    calls: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        calls.append(seconds)

    monkeypatch.setattr("tenancy.operations.maintenance._sleep", fake_sleep)
    return calls


@pytest.fixture
def cached(two_clusters: Runtime) -> Runtime:
    """Servers cache tenant records for 30 s (the default)."""
    two_clusters.settings = two_clusters.settings.model_copy(
        update={"tenant_cache_ttl_seconds": 30}
    )
    return two_clusters


async def another_server(runtime: Runtime) -> ServerInstance:
    """Register a server process other than this one, as its heartbeat would."""
    other = PlatformStore(runtime.store.db)
    await other.register_instance(lease_seconds=30)
    [instance] = [i for i in await runtime.store.live_instances() if i.id == other.instance_id]
    return instance


async def test_delete_without_other_servers_does_not_wait(
    cached: Runtime, tmp_path: Path, sleeps: list[float]
):
    await cached.store.register_instance(lease_seconds=30)  # the caller itself: no wait for it
    stale = PlatformStore(cached.store.db)
    await stale.register_instance(lease_seconds=30)
    await cached.store.db[SERVER_INSTANCES].update_one(  # a server that stopped beating
        {"_id": stale.instance_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    notices: list[str] = []
    report = await delete_tenant(
        cached, "quattro-stand", backup_dir=tmp_path, actor="t", on_notice=notices.append
    )
    assert report.ok, report.to_dict()
    assert sleeps == [] and notices == []
    assert "drain" not in [s.name for s in report.steps]
    assert "no other server is running" in report.steps[0].detail


async def test_delete_waits_for_running_servers_and_says_so(
    cached: Runtime, tmp_path: Path, sleeps: list[float]
):
    server = await another_server(cached)
    notices: list[str] = []
    report = await delete_tenant(
        cached, "quattro-stand", backup_dir=tmp_path, actor="t", on_notice=notices.append
    )
    assert report.ok, report.to_dict()
    assert sleeps == [30]
    expected = (
        f"waiting 30 s for 1 running server ({server.host}:{server.pid}) "
        "to drop cached tenant 'quattro-stand'"
    )
    assert notices == [expected]
    assert [s.name for s in report.steps][:2] == ["enter maintenance", "drain"]
    assert report.steps[1].detail == expected.replace("waiting", "waited")


async def test_move_waits_only_for_running_servers(cached: Runtime, sleeps: list[float]):
    report = await move_tenant(cached, "west-nipt", to_cluster="eu-2", actor="t")
    assert report.ok and sleeps == []
    await another_server(cached)
    await another_server(cached)
    notices: list[str] = []
    report = await move_tenant(
        cached,
        "west-nipt",
        to_cluster="default",
        to_database="t_wn",
        actor="t",
        on_notice=notices.append,
    )
    assert report.ok, report.to_dict()
    assert sleeps == [30]
    assert notices[0].startswith("waiting 30 s for 2 running servers (")


async def test_explicit_drain_seconds_wins(cached: Runtime, tmp_path: Path, sleeps: list[float]):
    notices: list[str] = []
    await delete_tenant(
        cached,
        "quattro-stand",
        backup_dir=tmp_path,
        actor="t",
        drain_seconds=2.5,
        on_notice=notices.append,
    )
    assert sleeps == [2.5]
    assert notices == [
        "waiting 2.5 s (as asked) for other processes to drop cached tenant 'quattro-stand'"
    ]


async def test_an_interrupted_wait_leaves_maintenance(
    cached: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    async def interrupted(seconds: float) -> None:
        raise RuntimeError("operator pressed Ctrl-C")

    monkeypatch.setattr("tenancy.operations.maintenance._sleep", interrupted)
    await another_server(cached)
    with pytest.raises(RuntimeError):
        await delete_tenant(cached, "quattro-stand", backup_dir=tmp_path, actor="t")
    with pytest.raises(RuntimeError):
        await move_tenant(cached, "west-nipt", to_cluster="eu-2", actor="t")
    for slug in ("quattro-stand", "west-nipt"):
        record = await cached.store.tenant_by_slug(slug)
        assert record.maintenance is None and record.status == "active"
        assert record.database.cluster == "default"
