"""Ctrl-C and re-runs: a long command stops promptly, resumes, and knows when it is done.

The interrupted command runs as a real ``tenantctl`` process (SIGINT, as a
terminal's Ctrl-C sends it), so this needs a real server: the wire leg.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tenancy.databases.copy import copy_database
from tenancy.databases.specs import STATE_COLLECTION
from tenancy.dump import export_database
from tenancy.operations import restore_tenant
from tests.backends import Backend

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = 30_000


def tenantctl(url: str, *args: str) -> subprocess.Popen[str]:
    """``tenantctl`` as a separate process, with Ctrl-C (SIGINT) delivered as in a terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", *args],
        cwd=ROOT,
        env={**os.environ, "APP_MONGODB_URL": url, "APP_ENVIRONMENT": "test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


async def test_ctrl_c_stops_a_copy_promptly_and_the_same_command_resumes(backend: Backend):
    if backend.is_mock:
        pytest.skip("a separate tenantctl process needs a real server (wire leg)")
    client = backend.client()
    source = client["big_src"]
    for start in range(0, DOCUMENTS, 5_000):
        await source["items"].insert_many(
            [{"_id": n, "v": "x" * 100} for n in range(start, start + 5_000)]
        )
    target = client["big_dst"]
    command = ("copy", "big_src", "big_dst", "--batch-size", "100", "--json")

    process = tenantctl(backend.url(), *command)
    while await target["items"].estimated_document_count() < 500:
        assert process.poll() is None, process.communicate()[0]
        await asyncio.sleep(0.05)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    assert time.monotonic() - started < 5  # promptly
    assert process.returncode != 0
    assert "Traceback" not in output and "run it again to resume" in output
    copied = await target["items"].count_documents({})
    assert 0 < copied < DOCUMENTS
    assert await target[STATE_COLLECTION].find_one({"_id": "c:items"}) is not None

    rerun = tenantctl(backend.url(), *command)
    output, _ = await asyncio.to_thread(rerun.communicate, timeout=300)
    assert rerun.returncode == 0, output
    items = next(c for c in json.loads(output)["collections"] if c["name"] == "items")
    assert items["action"] == "resume" and items["resumed"] > 0
    assert items["resumed"] + items["written"] == DOCUMENTS
    assert await target["items"].count_documents({}) == DOCUMENTS

    third = tenantctl(backend.url(), *command)
    output, _ = await asyncio.to_thread(third.communicate, timeout=300)
    assert third.returncode == 0, output  # already done, not TARGET_NOT_EMPTY
    assert json.loads(output)["collections"][0]["action"] == "already-copied"


async def test_a_finished_copy_run_again_is_already_done(backend: Backend):
    client = backend.client()
    source, target = client["src_db"], client["dst_db"]
    await source["things"].insert_many([{"_id": n} for n in range(50)])
    assert (await copy_database(source, target)).ok
    again = await copy_database(source, target)
    assert again.ok and [c.action for c in again.collections] == ["already-copied"]
    assert again.written == 0
    await target["things"].insert_one({"_id": "extra"})  # no longer a copy: refused
    with pytest.raises(Exception, match="not a copy of the source"):
        await copy_database(source, target)


async def test_a_finished_restore_run_again_is_already_done(demo, tmp_path: Path):
    tenant = await demo.store.tenant_by_slug("west-nipt")
    await export_database(demo.tenant_database(tenant), tmp_path / "export")
    first = await restore_tenant(
        demo, "west-nipt", tmp_path / "export", overwrite=True, actor="t", drain_seconds=0
    )
    assert first.ok
    moved = await demo.store.tenant_by_slug("west-nipt")
    again = await restore_tenant(demo, "west-nipt", tmp_path / "export", actor="t", drain_seconds=0)
    assert again.ok, again.to_dict()
    assert [s.name for s in again.steps] == ["check export", "already restored"]
    assert (await demo.store.tenant_by_slug("west-nipt")).database == moved.database
