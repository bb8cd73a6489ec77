"""Benchmark: requests per second of one booking-list query.

Runs the whole ASGI stack in-process (httpx ASGITransport: context, tenant
resolution, JWT, parser/validation caches, DataLoaders) on the embedded
default (a local SecantusDB server started in a temporary directory, synced
commits, as ``make serve`` runs it) or on the tests' in-process mock, or,
with ``--url``, against a running server on this machine.

    python bench/booking_list.py                       # in-process, embedded SecantusDB
    python bench/booking_list.py --backend mock        # in-process, the tests' mock
    python bench/booking_list.py --requests 2000 --concurrency 8
    python bench/booking_list.py --url http://127.0.0.1:8000   # a live `make serve`

Prints requests/s, latency percentiles and tenant-database round-trips per request.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import httpx

QUERY = """query Bookings($first: Int) {
  bookings(first: $first) {
    edges { node { id confirmationNumber status startsAt finalPrice { amount currency }
                   customer { id name email } service { id name durationMinutes } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
LOGIN = """mutation { login(email: "admin@west-nipt.example.com", password: "demo-password",
  tenant: "west-nipt") { token } }"""


class RoundTrips:
    """Counts calls that reach a (mock) tenant database."""

    OPS = frozenset(
        {
            "find",
            "find_one",
            "aggregate",
            "count_documents",
            "insert_one",
            "insert_many",
            "update_one",
            "update_many",
            "find_one_and_update",
        }
    )

    def __init__(self) -> None:
        self.count = 0


def _count_round_trips(runtime: Any, counter: RoundTrips) -> None:
    real_database = runtime.clients.database

    class Collection:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self._inner, name)
            if name in RoundTrips.OPS:
                counter.count += 1
            return attr

    class Database:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getitem__(self, name: str) -> Collection:
            return Collection(self._inner[name])

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    runtime.clients.database = lambda location: Database(real_database(location))


async def _in_process_client(page: int, url: str) -> tuple[httpx.AsyncClient, RoundTrips, Any]:
    from graphql_api.app import create_app
    from graphql_api.demo import seed_demo
    from migrations.runtime import build_runtime
    from tenancy.settings import Settings

    settings = Settings(
        _env_file=None,
        mongodb_url=url,
        seed_demo=False,
        environment="test",
        rate_limit_enabled=False,  # measure the stack, not the plan limit
        login_rate_limit_enabled=False,
    )
    runtime = build_runtime(settings)
    await runtime.start()
    await seed_demo(runtime)
    await _add_bookings(runtime, page)
    counter = RoundTrips()
    _count_round_trips(runtime, counter)
    app = create_app(runtime=runtime)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    return client, counter, runtime


async def _add_bookings(runtime: Any, total: int) -> None:
    """Top west-nipt up to ``total`` bookings so a full page exists."""
    from datetime import UTC, datetime, timedelta

    from domain.bookings import BookingRequest, BookingService
    from domain.customers import CustomerFields, CustomerService
    from notifications.wiring import outbox_setup

    tenant = await runtime.store.tenant_by_slug("west-nipt")
    db = runtime.tenant_database(tenant)
    have = await db["bookings"].count_documents({})
    services = await db["services"].find({}).to_list(None)
    customers = CustomerService(db, tenant)
    bookings = BookingService(db, tenant, "bench", outbox_setup(runtime))
    start = datetime(2030, 1, 1, 8, tzinfo=UTC)
    for i in range(max(0, total - have)):
        person = await customers.create(
            CustomerFields(name=f"Bench Customer {i}", email=f"bench{i}@example.com")
        )
        await bookings.create(
            BookingRequest(
                service_id=str(services[i % len(services)]["_id"]),
                customer_id=str(person["_id"]),
                starts_at=start + timedelta(hours=i),
            ),
            allow_customer_id=True,
        )


async def run(args: argparse.Namespace) -> None:
    counter = None
    if args.url:
        client = httpx.AsyncClient(base_url=args.url, timeout=30)
        path = "/t/west-nipt/graphql"
    else:
        client, counter, _ = await _in_process_client(args.first, args.database_url)
        path = "/t/west-nipt/graphql"
    login = await client.post(path, json={"query": LOGIN})
    token = login.json()["data"]["login"]["token"]
    headers = {"authorization": f"Bearer {token}"}
    body = {"query": QUERY, "variables": {"first": args.first}}

    first = await client.post(path, json=body, headers=headers)
    edges = first.json()["data"]["bookings"]["edges"]
    if counter:
        counter.count = 0
        await client.post(path, json=body, headers=headers)
        trips = counter.count
    for _ in range(args.warmup):
        await client.post(path, json=body, headers=headers)

    latencies: list[float] = []
    remaining = args.requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            response = await client.post(path, json=body, headers=headers)
            latencies.append(time.perf_counter() - t0)
            assert response.status_code == 200 and "errors" not in response.json()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    await client.aclose()

    latencies.sort()
    ms = [x * 1000 for x in latencies]
    print(f"target            : {args.url or 'in-process ASGI on ' + args.backend}")
    print(
        f"query             : bookings(first: {args.first}) with customer and service "
        f"({len(edges)} rows)"
    )
    print(f"requests          : {len(latencies)} (concurrency {args.concurrency})")
    print(f"requests/second   : {len(latencies) / elapsed:,.0f}")
    print(
        f"latency ms p50/p95/p99: {statistics.median(ms):.2f} / "
        f"{ms[int(len(ms) * 0.95) - 1]:.2f} / {ms[int(len(ms) * 0.99) - 1]:.2f}"
    )
    if counter:
        print(f"tenant-db round-trips per request: {trips}")


def main() -> None:
    from backends import bench_database  # bench/backends.py (scripts run from bench/)

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", help="a running server, e.g. http://127.0.0.1:8000 (default: in-process)"
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--first", type=int, default=20, help="page size")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--backend",
        choices=["embedded", "mock"],
        default="embedded",
        help="in-process database: the embedded SecantusDB server, or the tests' mock",
    )
    args = parser.parse_args()
    if args.url:
        asyncio.run(run(args))
    else:
        with bench_database(args.backend) as url:
            args.database_url = url
            asyncio.run(run(args))


if __name__ == "__main__":
    main()
