"""Where the relay runs (issue 9, item 3): ``tenantctl worker`` (once, and until Ctrl-C,
stopping gracefully) and the server's lifespan."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.collections import NOTIFICATION_OUTBOX
from graphql_api.app import create_app
from notifications.worker import build_relay
from scripts.cli import app
from scripts.commands.worker import _run_until_stopped
from scripts.runtime import operator_runtime
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.backends import Backend
from tests.notify_support import SmtpCatcher, book, provision


def test_tenantctl_worker_once_sends_what_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: Backend, catcher: SmtpCatcher
) -> None:
    for name, value in {
        "APP_EMBEDDED_DIR": str(tmp_path / "embedded"),
        "APP_MONGODB_URL": backend.url(),
        "APP_SMTP_HOST": "127.0.0.1",
        "APP_SMTP_PORT": str(catcher.port),
        "APP_SMTP_SECURITY": "none",
        "APP_MAIL_FROM_ADDRESS": "no-reply@platform.example.com",
    }.items():
        monkeypatch.setenv(name, value)

    async def prepare() -> None:
        async with operator_runtime() as runtime:
            tenant = await provision(runtime, "west-clinic")
            await book(runtime, tenant, starts_in=timedelta(hours=3))

    asyncio.run(prepare())
    result = CliRunner().invoke(app, ["worker", "--once", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sent"] == 1 and summary["dead"] == 0
    [received] = catcher.received
    assert received.message["From"] == "West Clinic <no-reply@platform.example.com>"


async def test_ctrl_c_stops_the_worker_gracefully(
    runtime: Runtime, catcher: SmtpCatcher, settings: Settings
) -> None:
    tenant = await provision(runtime, "west-clinic")
    await book(runtime, tenant, starts_in=timedelta(hours=3))
    runtime.settings = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": catcher.port, "smtp_security": "none"}
    )
    relay = build_relay(runtime)
    running = asyncio.create_task(_run_until_stopped(runtime, relay, heartbeat=1.0))
    for _ in range(500):  # bounded: at most 5 s
        if catcher.received:
            break
        await asyncio.sleep(0.01)
    assert len(catcher.received) == 1
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends
    await asyncio.wait_for(running, 10)
    await relay.delivery.close()
    assert relay.stats.sent == 1
    doc = await runtime.tenant_database(tenant)[NOTIFICATION_OUTBOX].find_one({})
    assert doc["status"] == "sent"


async def test_the_server_lifespan_runs_a_relay(
    runtime: Runtime, catcher: SmtpCatcher, settings: Settings
) -> None:
    tenant = await provision(runtime, "west-clinic")
    await book(runtime, tenant, starts_in=timedelta(hours=3))
    runtime.settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": catcher.port,
            "smtp_security": "none",
            "relay_poll_seconds": 0.05,
        }
    )
    server = create_app(runtime=runtime)
    async with server.router.lifespan_context(server):
        for _ in range(500):
            if catcher.received:
                break
            await asyncio.sleep(0.01)
    assert len(catcher.received) == 1
