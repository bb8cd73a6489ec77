"""Unique-index checks of the in-process mock: load N customers, time each way.

Inserts N customer documents into a ``customers`` collection carrying the
tenant schema's indexes (among them the partial unique ``email_unique``),
through the async mock client the application uses, and prints seconds for:

1. ``insert_one`` per document;
2. one ``insert_many`` of all documents;
3. ``create_index`` of ``email_unique`` over the N documents already there.

once for customers WITHOUT an email (soft-deleted or never given: no
``email_key``, outside the partial filter) and once WITH distinct emails.

    python bench/mock_partial_index.py [--docs 4000] [--baseline]

``--baseline`` measures mongomock's own unique-index checks (the
``tests.mock_shims`` shims of ``Collection._ensure_uniques`` and
``Collection.create_index`` undone): one scan of the collection per
inserted document, and an index build that ignores the partial filter.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from mongomock.collection import Collection
from pymongo.errors import DuplicateKeyError

# mongomock's own methods, captured before tests.mock_shims replaces them.
ORIGINAL = {
    "_ensure_uniques": Collection._ensure_uniques,
    "create_index": Collection.create_index,
}

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.collections import CUSTOMERS, TENANT_INDEXES  # noqa: E402
from tenancy.indexes import apply_indexes  # noqa: E402
from tests.mock_shims import new_mock_client  # noqa: E402

BASE = datetime(2026, 1, 1, tzinfo=UTC)
EMAIL_INDEX = next(m for m in TENANT_INDEXES[CUSTOMERS] if m.document["name"] == "email_unique")


def customers(n: int, *, emails: bool) -> list[dict[str, Any]]:
    """``n`` customer documents; ``email_key`` only when ``emails``."""
    docs = []
    for i in range(n):
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "name": f"Customer {i}",
            "name_key": f"customer {i}",
            "status": "active",
            "tags": [],
            "created_at": BASE + timedelta(minutes=i),
        }
        if emails:
            doc["email"] = doc["email_key"] = f"customer{i}@example.com"
        docs.append(doc)
    return docs


async def timed(label: str, action: Awaitable[Any]) -> None:
    """Await ``action`` and print its wall time (and a DuplicateKeyError, if raised)."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        await action
    except DuplicateKeyError:
        outcome = "DuplicateKeyError"
    print(f"  {label:<44} {time.perf_counter() - started:8.2f} s  {outcome}", flush=True)


async def one_by_one(docs: list[dict[str, Any]]) -> None:
    collection = new_mock_client()["bench"][CUSTOMERS]
    await apply_indexes(collection, TENANT_INDEXES[CUSTOMERS])
    for doc in docs:
        await collection.insert_one(dict(doc))


async def in_one_insert_many(docs: list[dict[str, Any]]) -> None:
    collection = new_mock_client()["bench"][CUSTOMERS]
    await apply_indexes(collection, TENANT_INDEXES[CUSTOMERS])
    await collection.insert_many([dict(doc) for doc in docs])


async def run(n: int) -> None:
    for emails in (False, True):
        print(f"{n} customers {'with distinct emails' if emails else 'without emails'}:")
        docs = customers(n, emails=emails)
        await timed("insert_one x N (schema indexes)", one_by_one(docs))
        await timed("insert_many of N (schema indexes)", in_one_insert_many(docs))
        filled = new_mock_client()["bench"][CUSTOMERS]
        await filled.insert_many([dict(doc) for doc in docs])
        options = dict(EMAIL_INDEX.document)
        keys = list(options.pop("key").items())
        await timed("create_index email_unique over N", filled.create_index(keys, **options))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=4000, help="customers per run (4000)")
    parser.add_argument(
        "--baseline", action="store_true", help="mongomock's own checks (shims undone)"
    )
    args = parser.parse_args()
    if args.baseline:
        for name, method in ORIGINAL.items():
            setattr(Collection, name, method)
    print("mongomock's own unique checks" if args.baseline else "with the tests.mock_shims shims")
    asyncio.run(run(args.docs))


if __name__ == "__main__":
    main()
