"""Seed once per test process, restore per test: the demo data without reseeding it each time.

Seeding the demo through the services costs about 2,200 database
round-trips (3-5 s per test on the wire leg); restoring what it wrote costs
three per collection. :func:`seeded` runs a seed function the first time a
test process meets a (seed name, settings) pair, records every database of
the default cluster (documents and indexes), and restores
that record for later tests. The record is keyed by the settings (the
backend's URL included), so a test with other settings seeds afresh.

Only for seeds that start from a freshly started runtime (the ``runtime``
fixture): the restore replaces every database the record holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo import IndexModel

from tenancy.runtime import Runtime

SYSTEM_DATABASES = frozenset({"admin", "config", "local"})


@dataclass
class CollectionRecord:
    """One collection as seeded: its secondary indexes and documents (the product creates
    no collection with options)."""

    indexes: list[IndexModel]
    documents: list[dict[str, Any]]


@dataclass
class ClusterRecord:
    """Every non-system database of one cluster: database -> collection -> record."""

    databases: dict[str, dict[str, CollectionRecord]] = field(default_factory=dict)


_RECORDS: dict[tuple[str, str], ClusterRecord] = {}


async def _record(client: Any) -> ClusterRecord:
    record = ClusterRecord()
    for name in await client.list_database_names():
        if name in SYSTEM_DATABASES:
            continue
        db = client[name]
        collections: dict[str, CollectionRecord] = {}
        for coll_name in await db.list_collection_names():
            coll = db[coll_name]
            indexes = []
            async for spec in await coll.list_indexes():
                if spec["name"] == "_id_":
                    continue
                options = {k: v for k, v in spec.items() if k not in ("v", "key", "ns")}
                indexes.append(IndexModel(list(spec["key"].items()), **options))
            documents = await coll.find().to_list(None)
            collections[coll_name] = CollectionRecord(indexes, documents)
        record.databases[name] = collections
    return record


async def _restore(client: Any, record: ClusterRecord) -> None:
    for name, collections in record.databases.items():
        await client.drop_database(name)
        db = client[name]
        for coll_name, coll in collections.items():
            if not coll.indexes and not coll.documents:
                await db.create_collection(coll_name)  # else created by the writes below
            if coll.indexes:
                await db[coll_name].create_indexes(coll.indexes)
            if coll.documents:
                await db[coll_name].insert_many([dict(d) for d in coll.documents])


async def seeded(runtime: Runtime, name: str, seed: Callable[[], Awaitable[Any]]) -> None:
    """Bring ``runtime``'s default cluster to the state ``seed()`` leaves it in.

    Args:
        runtime: a freshly started runtime (nothing seeded yet).
        name: the seed's name; with the runtime's settings, the record's key.
        seed: writes the data through the services (run once per process and key).
    """
    key = (name, runtime.settings.model_dump_json())
    client = runtime.clients.client("default")
    record = _RECORDS.get(key)
    if record is None:
        await seed()
        record = _RECORDS[key] = await _record(client)
    # restored even right after seeding, so every test sees the same restored state
    await _restore(client, record)
