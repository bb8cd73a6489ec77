"""Embedded mode: the local SecantusDB server of APP_EMBEDDED_DIR (always real, never the mock).

Covers sharing and stopping the server between processes, the one-time
import of an old snapshot directory, and crash safety: every acknowledged
write survives a SIGKILL of the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo.errors import PyMongoError

from tenancy.clients import ClientRegistry, open_client
from tenancy.dump import export_database
from tenancy.embedded import IMPORTED_MARKER, embedded_database
from tenancy.errors import AppError, ErrorCode
from tenancy.local_server import LocalServer, ServerInfo, answers
from tests.dump_tools import to_version_1

ROOT = Path(__file__).resolve().parent.parent


def test_processes_share_one_server_and_the_last_one_stops_it(tmp_path: Path):
    first, second = LocalServer(tmp_path), LocalServer(tmp_path)
    url = first.acquire()
    assert second.acquire() == url  # found through server.json, not started twice
    info = ServerInfo.read(tmp_path / "server.json")
    assert info is not None and info.url == url and "127.0.0.1" in url
    first.release()
    assert answers(url)  # the second user still needs it
    second.release()
    assert not answers(url, 0.5)
    assert not (tmp_path / "server.json").exists()
    second.release()  # idempotent


def test_a_server_left_by_a_killed_process_is_reused_then_stopped(tmp_path: Path):
    code = (
        "import os, sys; from pathlib import Path; from tenancy.local_server import LocalServer;"
        f"print(LocalServer(Path({str(tmp_path)!r})).acquire(), flush=True); os._exit(0)"
    )
    url = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert answers(url)  # the process died without leaving; its server lives on
    again = LocalServer(tmp_path)
    assert again.acquire() == url
    assert again.live_users() == [os.getpid()]  # the dead user's entry was dropped
    again.release()
    assert not answers(url, 0.5)


def test_a_server_that_cannot_start_is_a_clear_error(tmp_path: Path):
    (tmp_path / "db").write_text("a file where the data directory belongs")
    with pytest.raises(AppError) as failed:
        LocalServer(tmp_path, startup_timeout=10).acquire()
    assert failed.value.code == ErrorCode.DATABASE_UNAVAILABLE
    assert "APP_EMBEDDED_DIR" in failed.value.message and str(tmp_path) in failed.value.message


def test_a_server_that_exits_at_start_is_a_clear_error(tmp_path: Path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "WiredTiger.turtle").write_text("damaged")  # not a WiredTiger home
    with pytest.raises(AppError) as failed:
        LocalServer(tmp_path, startup_timeout=10).acquire()
    assert failed.value.code == ErrorCode.DATABASE_UNAVAILABLE
    assert "server.log" in failed.value.message


async def test_a_command_and_a_server_use_the_directory_at_the_same_time(tmp_path: Path):
    server_clients = ClientRegistry({"default": ""})
    command_clients = ClientRegistry({"default": ""})
    async with embedded_database(tmp_path, server_clients) as url:
        async with embedded_database(tmp_path, command_clients) as same_url:
            assert same_url == url
            await command_clients.client("default")["app"]["things"].insert_one({"_id": 1})
        # The command left; the server's connection still works and sees the write.
        assert await server_clients.client("default")["app"]["things"].count_documents({}) == 1
    assert not answers(url, 0.5)
    async with embedded_database(tmp_path, ClientRegistry({"default": ""})) as url:
        again = open_client(url)
        assert await again["app"]["things"].count_documents({}) == 1  # kept on disk
        await again.close()


async def _old_snapshot(directory: Path, url: str) -> None:
    """An embedded directory as versions before 2026-12 left it (v1 dumps)."""
    client = open_client(url)
    source = client["scratch_source"]
    await source["customers"].insert_many([{"_id": i, "name": f"c{i}"} for i in range(30)])
    await source["customers"].create_index("name", name="name")
    snapshot = directory / "snapshots" / "20261120T101010000000Z"
    await export_database(source, snapshot / "default" / "t_old-clinic")
    to_version_1(snapshot / "default" / "t_old-clinic")
    await client.drop_database("scratch_source")
    await client.close()
    (directory / "CURRENT").write_text(snapshot.name)
    (directory / "LOCK").write_text("")


async def test_an_old_snapshot_directory_is_imported_once(tmp_path: Path, capsys):
    with LocalServer(tmp_path / "elsewhere") as url:
        await _old_snapshot(tmp_path, url)
    old_files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    clients = ClientRegistry({"default": ""})
    async with embedded_database(tmp_path, clients):
        db = clients.client("default")["t_old-clinic"]
        assert await db["customers"].count_documents({}) == 30
        assert "name" in await db["customers"].index_information()
        await db["customers"].insert_one({"_id": 99, "name": "new"})
    assert "imported the old snapshot" in capsys.readouterr().err
    assert (tmp_path / IMPORTED_MARKER).exists()
    still = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert set(old_files) <= set(still)  # the old files are left untouched
    clients = ClientRegistry({"default": ""})
    async with embedded_database(tmp_path, clients):  # no second import over newer data
        db = clients.client("default")["t_old-clinic"]
        assert await db["customers"].count_documents({}) == 31
    assert "imported the old snapshot" not in capsys.readouterr().err


async def test_a_damaged_old_snapshot_is_refused_and_kept(tmp_path: Path):
    with LocalServer(tmp_path / "elsewhere") as url:
        await _old_snapshot(tmp_path, url)
    data = next(tmp_path.glob("snapshots/*/default/t_old-clinic/customers.jsonl"))
    data.write_bytes(data.read_bytes()[:-40])
    with pytest.raises(AppError) as refused:
        async with embedded_database(tmp_path, ClientRegistry({"default": ""})):
            raise AssertionError("must not run on a damaged snapshot")
    assert refused.value.code == ErrorCode.MANIFEST_INVALID
    assert not (tmp_path / IMPORTED_MARKER).exists()  # the next start tries again
    assert data.exists()
    assert not (tmp_path / "server.json").exists()  # the server was stopped on the way out


async def test_acknowledged_writes_survive_sigkill_of_the_server(tmp_path: Path):
    """Kill the embedded server (SIGKILL) in the middle of a stream of acknowledged
    writes, twice; after each restart every acknowledged write is there."""
    acknowledged: list[int] = []
    for round_number in range(2):
        server = LocalServer(tmp_path)
        url = server.acquire()
        pid = json.loads((tmp_path / "server.json").read_text())["pid"]
        client = open_client(url, serverSelectionTimeoutMS=1000, retryWrites=False)
        collection = client["app"]["writes"]

        async def stream(collection=collection, start=round_number * 100_000) -> None:
            for n in range(start, start + 100_000):
                try:
                    await collection.insert_one({"_id": n, "payload": "x" * 200})
                except PyMongoError:
                    return
                acknowledged.append(n)

        writer = asyncio.create_task(stream())
        while len(acknowledged) < 50 * (round_number + 1):
            await asyncio.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(writer, 30)
        await client.close()
        server.release()  # finds the server dead; forgets it

    with LocalServer(tmp_path) as url:
        client = open_client(url)
        stored = {doc["_id"] async for doc in client["app"]["writes"].find({}, {"_id": 1})}
        await client.close()
    assert len(acknowledged) >= 100
    assert set(acknowledged) <= stored, f"lost {len(set(acknowledged) - stored)} writes"
