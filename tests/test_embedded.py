"""Embedded mode that persists: snapshots, atomic switch, and the directory lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphql_api.demo import seed_demo
from tenancy.clients import ClientRegistry
from tenancy.embedded import EmbeddedStore, embedded_session
from tenancy.errors import AppError, ErrorCode
from tenancy.runtime import Platform


def persisted(settings, directory: Path):
    return settings.model_copy(update={"embedded_persist": True, "embedded_dir": directory})


async def test_data_survives_a_restart(settings, tmp_path: Path):
    settings = persisted(settings, tmp_path)
    first = Platform.build(settings)
    async with embedded_session(tmp_path, first.clients, "test one"):
        await first.start()
        await seed_demo(first)
        tenant = await first.store.tenant_by_slug("west-nipt")
        await first.tenant_database(tenant)["customers"].insert_one(
            {"name": "Kept", "status": "active"}
        )
    await first.close()

    second = Platform.build(settings)
    async with embedded_session(tmp_path, second.clients, "test two"):
        await second.start()
        tenant = await second.store.tenant_by_slug("west-nipt")
        db = second.tenant_database(tenant)
        assert await db["customers"].count_documents({"name": "Kept"}) == 1
        # indexes come back with their options (the partial unique email index)
        info = await db["customers"].index_information()
        assert info["email_unique"]["partialFilterExpression"] == {"email_key": {"$type": "string"}}
        assert not await seed_demo(second)  # already there: nothing seeded twice
    await second.close()


async def test_second_user_of_the_directory_is_refused(tmp_path: Path):
    holder = EmbeddedStore(tmp_path, "server http://127.0.0.1:8000")
    holder.acquire()
    try:
        with pytest.raises(AppError) as refused:
            EmbeddedStore(tmp_path, "tenantctl migrate up").acquire()
        assert refused.value.code == ErrorCode.LOCKED
        assert "server http://127.0.0.1:8000" in refused.value.message
    finally:
        holder.release()
    again = EmbeddedStore(tmp_path, "tenantctl migrate up")
    again.acquire()  # free once released
    again.release()


async def test_a_failed_save_keeps_the_previous_snapshot(tmp_path: Path, monkeypatch):
    clients = ClientRegistry({"default": ""})
    await clients.client("default")["app"]["things"].insert_one({"_id": 1, "v": "first"})
    store = EmbeddedStore(tmp_path, "test")
    store.acquire()
    first = await store.save(clients)
    await clients.client("default")["app"]["things"].update_one(
        {"_id": 1}, {"$set": {"v": "second"}}
    )

    async def broken_export(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("tenancy.embedded.export_database", broken_export)
    with pytest.raises(OSError):
        await store.save(clients)
    store.release()
    assert (tmp_path / "CURRENT").read_text() == first.name
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == [first.name]

    fresh = ClientRegistry({"default": ""})
    loader = EmbeddedStore(tmp_path, "test")
    assert await loader.load(fresh) == 1
    assert await fresh.client("default")["app"]["things"].find_one({"_id": 1}) == {
        "_id": 1,
        "v": "first",
    }


async def test_a_damaged_snapshot_is_refused_and_never_saved_over(settings, tmp_path: Path):
    clients = ClientRegistry({"default": ""})
    await clients.client("default")["app"]["things"].insert_many([{"_id": i} for i in range(50)])
    store = EmbeddedStore(tmp_path, "test")
    store.acquire()
    snapshot = await store.save(clients)
    store.release()
    damaged = snapshot / "default" / "app" / "things.bson"
    damaged.write_bytes(damaged.read_bytes()[:-40])

    with pytest.raises(AppError) as refused:
        async with embedded_session(tmp_path, ClientRegistry({"default": ""}), "test"):
            raise AssertionError("the body must not run on a damaged snapshot")
    assert refused.value.code == ErrorCode.MANIFEST_INVALID
    assert (tmp_path / "CURRENT").read_text() == snapshot.name
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == [snapshot.name]
    EmbeddedStore(tmp_path, "after").acquire()  # the lock was released
