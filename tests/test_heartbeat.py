"""Server heartbeats in the platform database (tenancy.heartbeat, PlatformStore instances)."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta

import pytest

from graphql_api.app import create_app
from tenancy.heartbeat import ServerHeartbeat
from tenancy.models import utcnow
from tenancy.platform import SERVER_INSTANCES, PlatformStore
from tenancy.runtime import Platform


def observer(platform: Platform) -> PlatformStore:
    """The platform database as another process (an operator command) sees it."""
    return PlatformStore(platform.store.db)


async def test_register_renew_unregister(platform: Platform) -> None:
    store = platform.store
    instance_id = await store.register_instance(lease_seconds=30)
    [seen] = await observer(platform).live_instances()
    assert (seen.id, seen.host, seen.pid) == (instance_id, socket.gethostname(), os.getpid())
    assert seen.label == f"{socket.gethostname()}:{os.getpid()}"
    assert await store.live_instances() == []  # never itself

    await store.db[SERVER_INSTANCES].update_one(
        {"_id": instance_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    assert await observer(platform).live_instances() == []  # lease over: not running
    await store.renew_instance(lease_seconds=30)
    [renewed] = await observer(platform).live_instances()
    assert renewed.expires_at > utcnow() + timedelta(seconds=25)

    await store.db[SERVER_INSTANCES].delete_one({"_id": instance_id})  # removed by the TTL index
    await store.renew_instance(lease_seconds=30)
    assert [i.id for i in await observer(platform).live_instances()] == [instance_id]

    await store.unregister_instance()
    assert store.instance_id is None
    assert await observer(platform).live_instances() == []


async def test_heartbeat_task_renews_and_stops(platform: Platform) -> None:
    heartbeat = ServerHeartbeat(platform.store, interval=0.001, lease=30)
    instance_id = await heartbeat.start()
    first = await platform.store.db[SERVER_INSTANCES].find_one({"_id": instance_id})
    for _ in range(1000):  # until the task has renewed once (no fixed sleep)
        await asyncio.sleep(0)
        doc = await platform.store.db[SERVER_INSTANCES].find_one({"_id": instance_id})
        if doc["heartbeat_at"] > first["heartbeat_at"]:
            break
    assert doc["heartbeat_at"] > first["heartbeat_at"]
    await heartbeat.stop()
    assert await platform.store.db[SERVER_INSTANCES].count_documents({}) == 0


def test_lease_must_outlast_the_interval(platform: Platform) -> None:
    with pytest.raises(ValueError):
        ServerHeartbeat(platform.store, interval=10, lease=10)


async def test_server_lifespan_registers_while_it_runs(platform: Platform, backend) -> None:
    app = create_app(platform=platform)
    # Another process's view, on its own client (the lifespan closes the server's).
    other = PlatformStore(backend.client()[platform.settings.platform_db])
    async with app.router.lifespan_context(app):
        [running] = await other.live_instances()
        assert running.pid == os.getpid()
        assert platform.store.instance_id == running.id
    assert await other.live_instances() == []
