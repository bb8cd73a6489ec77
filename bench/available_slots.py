"""Benchmark: ``availableSlots`` for a 31-day range at one location with 2,000 bookings in it.

Runs the whole ASGI stack in-process (httpx ASGITransport), anonymously as a
public booking site does, on the embedded default (a local SecantusDB server
in a temporary directory) or on the tests' in-process mock. The demo tenant
west-nipt is seeded with its schedule (Mon-Sat 08:00-17:00 Europe/Istanbul,
15-minute step, 2 h notice, 90-day horizon); ``--bookings`` 5-minute bookings
are written at its first location over the month (direct inserts of
``BookingDocument``s: the benchmark measures the read, not the writes).

    python bench/available_slots.py                    # embedded SecantusDB
    python bench/available_slots.py --backend mock     # the tests' mock
    python bench/available_slots.py --calls 50 --bookings 2000

Prints the tenant-database round-trips per call and the median (and p90)
milliseconds per call over ``--calls`` calls, plus the pure computation alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SLOTS = """query($s: ID!, $l: ID, $from: DateTime!, $to: DateTime!) {
  availableSlots(serviceId: $s, locationId: $l, from: $from, to: $to) {
    timezone slots { startsAt startsAtLocal } } }"""
ISTANBUL = ZoneInfo("Europe/Istanbul")


async def _setup(url: str, bookings: int) -> tuple[Any, Any, dict[str, Any], Counter[str]]:
    from bson import ObjectId

    from domain.documents import BookingDocument
    from graphql_api.app import create_app
    from graphql_api.demo import DEMO_TENANTS, _seed_tenant
    from migrations.runtime import build_runtime
    from tenancy.settings import Settings

    settings = Settings(
        _env_file=None,
        mongodb_url=url,
        seed_demo=False,
        environment="test",
        rate_limit_enabled=False,
        login_rate_limit_enabled=False,
    )
    runtime = build_runtime(settings)
    await runtime.start()
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    tenant = await runtime.store.tenant_by_slug("west-nipt")
    db = runtime.tenant_database(tenant)
    service = await db["services"].find_one({"code": "verifi"})
    location = (await db["locations"].find({}).sort("name", 1).to_list(None))[0]
    customer = await db["customers"].find_one({})
    today = datetime.now(UTC).astimezone(ISTANBUL).date() + timedelta(days=7)
    first = datetime(today.year, today.month, today.day, tzinfo=ISTANBUL)
    docs = []
    per_day = -(-bookings // 31)
    for i in range(bookings):
        begins = (first + timedelta(days=i % 31, hours=8, minutes=5 * (i // 31))).astimezone(UTC)
        docs.append(
            BookingDocument(
                customer_id=customer["_id"],
                service_id=service["_id"],
                location_id=location["_id"],
                starts_at=begins,
                ends_at=begins + timedelta(minutes=5),
                duration_minutes=5,
                timezone="Europe/Istanbul",
                currency="TRY",
                price_minor=0,
                discount_minor=0,
                final_price_minor=0,
                resources=[f"location:{location['_id']}"],
                confirmation_number=f"BENCH-{i:05d}-{ObjectId()}",
                created_by="bench",
            ).to_mongo()
        )
    await db["bookings"].insert_many(docs)

    calls: Counter[str] = Counter()
    real = runtime.clients.database

    class Collection:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            if name in {"find", "find_one", "aggregate", "count_documents"}:
                calls[f"{self._inner.name}.{name}"] += 1
            return getattr(self._inner, name)

    class Database:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getitem__(self, name: str) -> Collection:
            return Collection(self._inner[name])

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    def counting(where: Any) -> Any:
        found = real(where)
        return found if where.name == settings.platform_db else Database(found)

    runtime.clients.database = counting
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)), base_url="http://bench"
    )
    variables = {
        "s": str(service["_id"]),
        "l": str(location["_id"]),
        "from": first.isoformat(),
        "to": (first + timedelta(days=31)).isoformat(),
    }
    print(f"bookings in range : {bookings} ({per_day} a day, 5 minutes each, from 08:00)")
    return runtime, client, variables, calls


async def run(args: argparse.Namespace) -> None:
    runtime, client, variables, calls = await _setup(args.database_url, args.bookings)
    body = {"query": SLOTS, "variables": variables}
    path = "/t/west-nipt/graphql"
    first = await client.post(path, json=body)
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    slots = first.json()["data"]["availableSlots"]["slots"]
    calls.clear()
    await client.post(path, json=body)
    trips = dict(calls)
    timings = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        response = await client.post(path, json=body)
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    await client.aclose()
    await runtime.close()
    timings.sort()
    print(f"target            : in-process ASGI on {args.backend}")
    print(f"range             : {variables['from']} .. {variables['to']} (31 days)")
    print(f"free slots        : {len(slots)}")
    print(f"round-trips/call  : {sum(trips.values())} {trips}")
    print(
        f"ms per call       : median {statistics.median(timings):.1f}, "
        f"p90 {timings[int(len(timings) * 0.9) - 1]:.1f} (over {len(timings)} calls)"
    )
    _pure(args.bookings)


def _pure(bookings: int) -> None:
    """The computation alone (no database, no HTTP) on the same shape of data."""
    from domain.availability import Held, Schedule, ServiceTiming, free_slots
    from domain.documents import AvailabilityRules

    rules = AvailabilityRules.model_validate(
        {
            "weekly_hours": {
                d: [{"start": "08:00", "end": "17:00"}]
                for d in ("mon", "tue", "wed", "thu", "fri", "sat")
            }
        }
    )
    start = datetime(2027, 3, 1, tzinfo=ISTANBUL).astimezone(UTC)
    held = [
        Held(
            start + timedelta(days=i % 31, hours=8, minutes=5 * (i // 31)),
            start + timedelta(days=i % 31, hours=8, minutes=5 * (i // 31) + 5),
        )
        for i in range(bookings)
    ]
    timing = ServiceTiming(30, 5, 10, 120, 90, 15)
    runs = []
    for _ in range(20):
        t0 = time.perf_counter()
        free_slots(
            schedules=[Schedule(rules, ISTANBUL)],
            zone=ISTANBUL,
            timing=timing,
            now=start - timedelta(days=1),
            start=start,
            end=start + timedelta(days=31),
            held={"location:x": held},
        )
        runs.append((time.perf_counter() - t0) * 1000)
    print(f"pure computation  : median {statistics.median(runs):.1f} ms")


def main() -> None:
    from backends import bench_database  # bench/backends.py (scripts run from bench/)

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--backend", choices=["embedded", "mock"], default="embedded")
    args = parser.parse_args()
    with bench_database(args.backend) as url:
        args.database_url = url
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
