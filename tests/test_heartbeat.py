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
from tenancy.runtime import Runtime


def observer(runtime: Runtime) -> PlatformStore:
    """The platform database as another process (an operator command) sees it."""
    return PlatformStore(runtime.store.db)


async def test_register_renew_unregister(runtime: Runtime) -> None:
    store = runtime.store
    instance_id = await store.register_instance(lease_seconds=30)
    [seen] = await observer(runtime).live_instances()
    assert (seen.id, seen.host, seen.pid) == (instance_id, socket.gethostname(), os.getpid())
    assert seen.label == f"{socket.gethostname()}:{os.getpid()}"
    assert await store.live_instances() == []  # never itself

    await store.db[SERVER_INSTANCES].update_one(
        {"_id": instance_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    assert await observer(runtime).live_instances() == []  # lease over: not running
    await store.renew_instance(lease_seconds=30)
    [renewed] = await observer(runtime).live_instances()
    assert renewed.expires_at > utcnow() + timedelta(seconds=25)

    await store.db[SERVER_INSTANCES].delete_one({"_id": instance_id})  # removed by the TTL index
    await store.renew_instance(lease_seconds=30)
    assert [i.id for i in await observer(runtime).live_instances()] == [instance_id]

    await store.unregister_instance()
    assert store.instance_id is None
    assert await observer(runtime).live_instances() == []


async def test_heartbeat_task_renews_and_stops(runtime: Runtime) -> None:
    heartbeat = ServerHeartbeat(runtime.store, interval=0.001, lease=30)
    instance_id = await heartbeat.start()
    first = await runtime.store.db[SERVER_INSTANCES].find_one({"_id": instance_id})
    deadline = asyncio.get_running_loop().time() + 30  # a bound for a loaded machine, not a timing
    while True:  # until the task has renewed once (BSON times have millisecond steps)
        await asyncio.sleep(0.005)
        doc = await runtime.store.db[SERVER_INSTANCES].find_one({"_id": instance_id})
        if doc["heartbeat_at"] > first["heartbeat_at"]:
            break
        if asyncio.get_running_loop().time() > deadline:
            break
    assert doc["heartbeat_at"] > first["heartbeat_at"]
    await heartbeat.stop()
    assert await runtime.store.db[SERVER_INSTANCES].count_documents({}) == 0


def test_lease_must_outlast_the_interval(runtime: Runtime) -> None:
    with pytest.raises(ValueError):
        ServerHeartbeat(runtime.store, interval=10, lease=10)


async def test_server_lifespan_registers_while_it_runs(runtime: Runtime, backend) -> None:
    app = create_app(runtime=runtime)
    # Another process's view, on its own client (the lifespan closes the server's).
    other = PlatformStore(backend.client()[runtime.settings.platform_db])
    async with app.router.lifespan_context(app):
        [running] = await other.live_instances()
        assert running.pid == os.getpid()
        assert runtime.store.instance_id == running.id
    assert await other.live_instances() == []
