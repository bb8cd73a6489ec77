"""Outbox relay throughput to a local SMTP server, and delivery with 1,000 tenants with due mail.

Runs on a local SecantusDB server (the embedded default, started in a
temporary directory) or on the tests' in-process mock, with an aiosmtpd
server on a local port as the mail server. Two parts:

1. **Throughput**: ``--messages`` emails staged and promoted in one tenant's
   outbox (as booking operations write them), then one relay sends them all
   (``Relay.run_once``): messages per second, SMTP connections opened.
2. **Many tenants**: ``--tenants`` tenants, ``--per-tenant`` due emails each,
   and as many idle tenants with no due message; one relay drains them
   (``--concurrency`` tenants at once): messages and tenants per second,
   database commands per tenant pass, and which databases were read (only
   those with due messages: the relay finds them in the platform record
   ``notification_due``, it never polls every database). Then an idle poll:
   commands sent when nothing is due.

    python bench/relay_throughput.py [--backend embedded|mock | --url MONGODB_URL]
        [--messages 2000] [--tenants 1000] [--per-tenant 2] [--concurrency 8] [--pool 4]

``--url`` runs on any MongoDB (e.g. ``docker compose up -d mongo``:
``mongodb://localhost:27017/?directConnection=true``); it writes databases
``bench_platform`` and ``t_*`` there, so use a throw-away server.

Tenants of part 2 are inserted directly (record + outbox index), not
provisioned (provisioning runs every migration: minutes for 2,000 tenants,
and not what is measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import monitoring

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.booking_messages import MessageKind, NotificationPolicy, Related, booking_messages
from domain.collections import NOTIFICATION_OUTBOX, TENANT_INDEXES
from domain.outbox import Outbox
from migrations.runtime import build_runtime
from notifications.relay import Relay, RelayConfig
from tenancy.clients import ClientRegistry
from tenancy.indexes import apply_indexes
from tenancy.models import DatabaseLocation, Subscription, Tenant, TenantStatus, utcnow
from tenancy.naming import database_key
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.notify_support import SmtpCatcher

RELATED = Related(
    customer={"name": "Ayşe Demir", "email": "ayse@example.com"},
    service={"name": "Verifi NIPT"},
    location={"name": "İzmir Alsancak"},
)


class Commands(monitoring.CommandListener):
    """Counts commands per database (wire only: the mock sends no events)."""

    def __init__(self) -> None:
        self.by_database: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.by_database[event.database_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def add_tenant(runtime: Runtime, slug: str) -> Tenant:
    """A tenant record and its outbox collection (no provisioning: see the docstring)."""
    location = DatabaseLocation(cluster="default", name=f"t_{slug.replace('-', '_')}")
    tenant = Tenant(
        slug=slug,
        name=slug.title(),
        status=TenantStatus.ACTIVE,
        database=location,
        database_key=database_key(location.cluster, location.name),
        subscription=Subscription(plan_key="starter"),
    )
    await runtime.store.insert_tenant(tenant)
    db = runtime.tenant_database(tenant)
    await apply_indexes(db[NOTIFICATION_OUTBOX], TENANT_INDEXES[NOTIFICATION_OUTBOX])
    return tenant


async def enqueue(runtime: Runtime, tenant: Tenant, count: int) -> None:
    """``count`` confirmation emails, staged and promoted as an operation does."""
    outbox = Outbox(
        runtime.tenant_database(tenant), tenant.id, runtime.store.mark_notifications_due
    )
    starts = utcnow() + timedelta(hours=3)
    for i in range(count):
        booking = {
            "_id": ObjectId(),
            "confirmation_number": f"BK-2611-{i:05d}",
            "starts_at": starts,
            "timezone": "Europe/Istanbul",
            "final_price_minor": 185_000,
            "currency": "TRY",
        }
        messages = booking_messages(
            MessageKind.BOOKING_CONFIRMATION, booking, 1, RELATED, NotificationPolicy(sms=False)
        )
        staged = await outbox.stage(booking["_id"], messages)
        await outbox.promote(staged)


async def run(args: argparse.Namespace, url: str) -> None:
    catcher = SmtpCatcher()
    catcher.start()
    listener = Commands()
    settings = Settings(
        _env_file=None,
        environment="test",
        mongodb_url=url,
        platform_db="bench_platform",
        smtp_host="127.0.0.1",
        smtp_port=catcher.port,
        smtp_security="none",
        smtp_pool_size=args.pool,
    )
    runtime = build_runtime(
        settings, ClientRegistry(settings.cluster_urls(), {"event_listeners": [listener]})
    )
    await runtime.start()
    try:
        config = RelayConfig(concurrency=args.concurrency, poll_seconds=0.05)

        # 1. throughput, one tenant
        tenant = await add_tenant(runtime, "throughput")
        await enqueue(runtime, tenant, args.messages)
        delivery = catcher.delivery(pool_size=args.pool)
        relay = Relay(runtime, delivery, config)
        started = time.perf_counter()
        await relay.run_once()
        elapsed = time.perf_counter() - started
        assert relay.stats.sent == args.messages == len(catcher.received), relay.stats
        print(f"1. throughput: {args.messages} emails to a local SMTP server (aiosmtpd)")
        print(
            f"   {elapsed:.2f} s, {args.messages / elapsed:,.0f} messages/s, "
            f"SMTP connections opened: {delivery.mail.connections_opened}"
        )  # type: ignore[attr-defined]

        # 2. many tenants
        received_before = len(catcher.received)
        busy = [await add_tenant(runtime, f"busy-{i:04d}") for i in range(args.tenants)]
        idle = [await add_tenant(runtime, f"idle-{i:04d}") for i in range(args.tenants)]
        for tenant in busy:
            await enqueue(runtime, tenant, args.per_tenant)
        opened: Counter[str] = Counter()
        original = runtime.tenant_database

        def tenant_database(tenant: Tenant) -> Any:
            opened[tenant.slug] += 1
            return original(tenant)

        runtime.tenant_database = tenant_database  # type: ignore[method-assign]
        listener.by_database.clear()
        relay = Relay(runtime, catcher.delivery(pool_size=args.pool), config)
        started = time.perf_counter()
        passes = await relay.run_once()
        elapsed = time.perf_counter() - started
        sent = len(catcher.received) - received_before
        total = args.tenants * args.per_tenant
        assert sent == total == relay.stats.sent, (sent, total, relay.stats)
        # (The throughput tenant may be read again: its record is re-checked once
        # quiet_seconds after its last mark.)
        assert {t.slug for t in busy} <= set(opened), "a tenant with due mail was not served"
        assert not {t.slug for t in idle} & set(opened), "an idle tenant's database was read"
        tenant_commands = sum(
            n for name, n in listener.by_database.items() if name != settings.platform_db
        )
        platform_commands = listener.by_database[settings.platform_db]
        print(
            f"2. {args.tenants} tenants with {args.per_tenant} due emails each "
            f"(+ {len(idle)} tenants with none), concurrency {args.concurrency}"
        )
        print(
            f"   {elapsed:.2f} s: {total / elapsed:,.0f} messages/s, "
            f"{args.tenants / elapsed:,.0f} tenants/s, {passes} tenant passes"
        )
        if listener.by_database:
            print(
                f"   database commands per tenant pass: platform "
                f"{platform_commands / passes:.1f}, tenant {tenant_commands / passes:.1f}; "
                f"databases read: {len(listener.by_database) - 1} (idle tenants: 0)"
            )
        else:
            print(
                "   (mock: no command counts; databases opened: "
                f"{len(opened)} of {2 * args.tenants}, idle tenants: 0)"
            )
        listener.by_database.clear()
        opened.clear()
        started = time.perf_counter()
        for _ in range(10):
            assert await relay.run_once() == 0
        idle_elapsed = (time.perf_counter() - started) / 10
        commands = sum(listener.by_database.values())
        print(
            f"   an idle poll (nothing due, {2 * args.tenants + 1} tenants): "
            f"{idle_elapsed * 1000:.1f} ms, "
            f"{commands / 10 if listener.by_database else 'n/a'} commands, "
            f"tenant databases read: {len(opened)}"
        )
        await relay.delivery.close()
        await delivery.close()
    finally:
        catcher.stop()
        await runtime.close()


def main() -> None:
    from backends import bench_database  # bench/backends.py (scripts run from bench/)

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["embedded", "mock"], default="embedded")
    parser.add_argument("--url", help="a MongoDB server to use instead (throw-away)")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--per-tenant", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pool", type=int, default=4, help="SMTP connections")
    args = parser.parse_args()
    if args.url:
        asyncio.run(run(args, args.url))
    else:
        with bench_database(args.backend) as url:
            asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
