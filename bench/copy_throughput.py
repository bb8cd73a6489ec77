"""Copy throughput and memory of tenancy.databases.copy on the in-process mock.

Fills a mock tenant database with small realistic documents (customers,
bookings, activity log, notification outbox, services, locations; the tenant
schema's indexes), copies it to a database of ANOTHER mock client (another
"cluster"), and prints documents per second and peak memory.

    python bench/copy_throughput.py [--docs 200000] [--batch-size 1000] [--no-tracemalloc]

Three runs on fresh targets:

1. ``copy_database(verify=False)``: the copy alone (documents, indexes).
2. ``verify_database``: hashing both sides (count + content hash + indexes).
3. ``copy_database(verify=True)`` under ``tracemalloc``: peak of traced
   Python memory during the copy, and what is still allocated at the end
   (the target's documents, which the mock keeps in the same process).
   tracemalloc slows Python down, so run 3 is not timed for throughput.

On the mock, the source, the target and the "server side" of every cursor
live in this process (tests.mock_shims makes mongomock's cursor iteration
linear; as shipped it is O(N^2) in the size of a result). mongomock
also materialises (deep-copies) the whole result of a ``find`` when it is
first iterated, so the peak includes one copy of the largest collection,
which a real server would stream in batches. All documents carry the fields
of the partial unique indexes (``email_key``, ``idempotency_key``), because
mongomock cannot build a partial unique index over documents that lack the
field (see tenancy.databases.indexes.build_indexes).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import Int64, ObjectId

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.collections import TENANT_INDEXES
from tenancy.databases.copy import copy_database
from tenancy.databases.verify import verify_database
from tenancy.indexes import apply_indexes
from tests.mock_shims import new_mock_client

SHARES = {  # fraction of the documents per collection
    "bookings": 0.55,
    "activity_log": 0.22,
    "customers": 0.15,
    "notification_outbox": 0.08,
}
BASE = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ["pending", "confirmed", "scheduled", "in_progress", "completed", "cancelled"]


def _customers(n: int, rnd: random.Random) -> list[dict[str, Any]]:
    docs = []
    for i in range(n):
        email = f"customer{i}@example.com"
        docs.append(
            {
                "_id": ObjectId(),
                "name": f"Customer {i}",
                "name_key": f"customer {i}",
                "email": email,
                "email_key": email,
                "phone": f"+90 555 {i:07d}",
                "status": "active",
                "tags": rnd.sample(["vip", "new", "referral", "corporate"], k=rnd.randint(0, 2)),
                "created_at": BASE + timedelta(minutes=i),
                "notes": "",
            }
        )
    return docs


def _bookings(
    n: int, rnd: random.Random, customers: list[Any], services: list[Any], locations: list[Any]
) -> list[dict[str, Any]]:
    docs = []
    for i in range(n):
        price = rnd.choice([15000, 25000, 42000])
        docs.append(
            {
                "_id": ObjectId(),
                "confirmation_number": f"BK-{i:08d}",
                "idempotency_key": f"idem-{i:08d}",
                "customer_id": rnd.choice(customers),
                "service_id": rnd.choice(services),
                "location_id": rnd.choice(locations),
                "starts_at": BASE + timedelta(minutes=30 * i),
                "duration_minutes": 30,
                "status": rnd.choice(STATUSES),
                "price_minor": price,
                "final_price_minor": Int64(price - rnd.choice([0, 0, 1000])),
                "currency": "TRY",
                "payment_status": rnd.choice(["unpaid", "paid"]),
                "created_at": BASE + timedelta(minutes=i),
            }
        )
    return docs


def _activity(n: int, rnd: random.Random, customers: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "_id": ObjectId(),
            "at": BASE + timedelta(seconds=37 * i),
            "actor": rnd.choice(customers),
            "action": rnd.choice(["booking.created", "booking.confirmed", "customer.updated"]),
            "details": {"ip": f"10.0.{i % 256}.{i % 200}", "via": "web"},
        }
        for i in range(n)
    ]


def _outbox(n: int, rnd: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "_id": ObjectId(),
            "status": rnd.choice(["pending", "sent", "failed"]),
            "next_attempt_at": BASE + timedelta(minutes=i),
            "attempts": rnd.randint(0, 3),
            "template": "booking_confirmation",
            "to": f"customer{i}@example.com",
        }
        for i in range(n)
    ]


async def fill(db: Any, total: int, seed: int = 42) -> dict[str, int]:
    """Insert about ``total`` documents into ``db``; returns collection -> count."""
    rnd = random.Random(seed)
    services = [
        {
            "_id": ObjectId(),
            "code": f"S{i:03d}",
            "name": f"Service {i}",
            "active": True,
            "price_minor": 15000 + 100 * i,
            "currency": "TRY",
            "duration_minutes": 30,
        }
        for i in range(200)
    ]
    locations = [{"_id": ObjectId(), "name": f"Room {i}"} for i in range(50)]
    rest = total - len(services) - len(locations)
    counts = {name: int(rest * share) for name, share in SHARES.items()}
    counts["bookings"] += rest - sum(counts.values())
    customers = _customers(counts["customers"], rnd)
    customer_ids = [c["_id"] for c in customers]
    data = {
        "services": services,
        "locations": locations,
        "customers": customers,
        "bookings": _bookings(
            counts["bookings"],
            rnd,
            customer_ids,
            [s["_id"] for s in services],
            [x["_id"] for x in locations],
        ),
        "activity_log": _activity(counts["activity_log"], rnd, customer_ids),
        "notification_outbox": _outbox(counts["notification_outbox"], rnd),
    }
    for name, docs in data.items():
        for start in range(0, len(docs), 5000):
            await db[name].insert_many(docs[start : start + 5000])
        # Indexes after the data: mongomock's unique indexes scan the collection per insert.
        await apply_indexes(db[name], TENANT_INDEXES.get(name, []))
    return {name: len(docs) for name, docs in data.items()}


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip run 3")
    args = parser.parse_args()

    source = new_mock_client()["tenant_bench"]
    t0 = time.perf_counter()
    counts = await fill(source, args.docs)
    total = sum(counts.values())
    print(
        f"source: {total:,} documents in {len(counts)} collections "
        f"({', '.join(f'{k} {v:,}' for k, v in counts.items())}), "
        f"filled in {time.perf_counter() - t0:.1f}s"
    )
    print(f"batch size: {args.batch_size}")

    target_client = new_mock_client()
    t0 = time.perf_counter()
    copied = await copy_database(
        source, target_client["copy1"], batch_size=args.batch_size, verify=False
    )
    copy_s = time.perf_counter() - t0
    assert copied.ok, copied.to_dict()
    print(f"1. copy (no verify):  {copy_s:6.2f}s  {total / copy_s:>10,.0f} docs/s")

    t0 = time.perf_counter()
    verified = await verify_database(source, target_client["copy1"], batch_size=args.batch_size)
    verify_s = time.perf_counter() - t0
    assert verified.ok, verified.to_dict()
    print(
        f"2. verify (2 sides):  {verify_s:6.2f}s  {total / verify_s:>10,.0f} docs/s "
        "(every document read and hashed on both sides)"
    )
    print(
        f"   copy + verify:     {copy_s + verify_s:6.2f}s  "
        f"{total / (copy_s + verify_s):>10,.0f} docs/s"
    )

    if args.no_tracemalloc:
        return
    other = new_mock_client()
    tracemalloc.start()
    baseline, _ = tracemalloc.get_traced_memory()
    t0 = time.perf_counter()
    traced = await copy_database(source, other["copy2"], batch_size=args.batch_size)
    traced_s = time.perf_counter() - t0
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert traced.ok, traced.to_dict()
    largest = max(counts.values())
    print(f"3. copy + verify under tracemalloc: {traced_s:.2f}s (slowed by tracing)")
    print(f"   traced peak during the copy:          {_mib(peak - baseline)}")
    print(f"   still allocated after (target data):  {_mib(current - baseline)}")
    print(
        f"   transient working set (peak - after): {_mib(peak - current)} "
        f"(includes mongomock's materialised cursor: up to {largest:,} documents)"
    )
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"process max RSS: {_mib(rss_kib * 1024)} (source + 3 mock targets in one process)")


if __name__ == "__main__":
    asyncio.run(main())
