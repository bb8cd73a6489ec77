"""copy_database / verify_database across two clusters of the test backend."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import Binary, Decimal128, Int64, ObjectId
from pymongo import ASCENDING
from pymongo.errors import AutoReconnect

from domain.collections import ensure_tenant_schema
from tenancy.databases.copy import copy_database
from tenancy.databases.digests import canonical_bson
from tenancy.databases.indexes import compare_indexes, read_index_specs
from tenancy.databases.specs import STATE_COLLECTION
from tenancy.databases.verify import verify_database
from tenancy.errors import AppError, ErrorCode
from tenancy.reports import Status
from tests.backends import SECOND_CLUSTER, Backend

# ---------------------------------------------------------------- helpers


class RecordingCollection:
    """Delegates to a collection; ``insert_many`` goes through the owner's hooks."""

    def __init__(self, owner: RecordingDatabase, collection: Any, name: str) -> None:
        self._owner = owner
        self._collection = collection
        self._name = name

    async def insert_many(self, documents: Any, *args: Any, **kwargs: Any) -> Any:
        docs = list(documents)
        owner = self._owner
        index = sum(1 for name, _ in owner.batches if name == self._name)
        if owner.fail_when and owner.fail_when(self._name, index):
            # A connection lost mid-batch: part of the batch landed.
            half = docs[: len(docs) // 2]
            if half:
                await self._collection.insert_many(half, *args, **kwargs)
            raise AutoReconnect(f"simulated connection loss in {self._name} batch {index}")
        owner.batches.append((self._name, len(docs)))
        if owner.tamper:
            docs = owner.tamper(self._name, docs)
        return await self._collection.insert_many(docs, *args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._collection, attr)


class RecordingDatabase:
    """Wraps a database: records ``insert_many`` batch sizes per collection, and
    can fail (``fail_when(name, batch_index)``) or alter batches (``tamper``)."""

    def __init__(
        self,
        db: Any,
        *,
        fail_when: Callable[[str, int], bool] | None = None,
        tamper: Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> None:
        self._db = db
        self.batches: list[tuple[str, int]] = []
        self.fail_when = fail_when
        self.tamper = tamper

    def __getitem__(self, name: str) -> RecordingCollection:
        return RecordingCollection(self, self._db[name], name)

    def get_collection(self, name: str, **_: Any) -> RecordingCollection:
        return self[name]

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._db, attr)


NOW = datetime(2026, 11, 21, 9, 30, 0, 123000, tzinfo=UTC)


async def seed_tenant(db: Any, *, customers: int = 40, bookings: int = 90) -> dict[str, int]:
    """A small realistic tenant database; returns collection -> document count."""
    await ensure_tenant_schema(db)
    rnd = random.Random(7)
    customer_docs = []
    for i in range(customers):
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "name": f"Customer {i}",
            "name_key": f"customer {i}",
            "email": f"c{i}@example.com",
            "email_key": f"c{i}@example.com",
            "status": "active",
            "tags": ["vip"] if i % 5 == 0 else [],
            "created_at": NOW - timedelta(days=i),
            "balance_minor": Int64(rnd.randint(0, 10**6)),
            "address": {"city": "Istanbul", "zip": f"34{i:03d}"},
        }
        if i % 7 == 0:  # soft-deleted: email_key removed, which the partial index allows
            del doc["email_key"]
            doc["status"] = "deleted"
        customer_docs.append(doc)
    await db["customers"].insert_many(customer_docs)
    services = [
        {
            "_id": ObjectId(),
            "code": f"S{i}",
            "name": f"Service {i}",
            "active": True,
            "price_minor": 15000 + i,
            "currency": "TRY",
            "duration_minutes": 30,
            "price_decimal": Decimal128(f"{150 + i}.50"),
        }
        for i in range(5)
    ]
    await db["services"].insert_many(services)
    booking_docs = []
    for i in range(bookings):
        doc = {
            "_id": ObjectId(),
            "confirmation_number": f"BK-{i:05d}",
            "customer_id": customer_docs[i % customers]["_id"],
            "service_id": services[i % 5]["_id"],
            "starts_at": NOW + timedelta(hours=i),
            "created_at": NOW,
            "status": "confirmed",
            "price_minor": 15000,
        }
        if i % 3 == 0:
            doc["idempotency_key"] = f"idem-{i}"
        booking_docs.append(doc)
    await db["bookings"].insert_many(booking_docs)
    # TTL and sparse indexes; expiry in the future (the mock applies TTL on read).
    await db["sessions"].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")
    await db["sessions"].create_index([("device", ASCENDING)], sparse=True, name="device_sparse")
    await db["sessions"].insert_many(
        [
            {
                "_id": f"s{i:03d}",
                "expires_at": NOW + timedelta(days=3650),
                **({"device": f"d{i}"} if i % 2 else {}),
            }
            for i in range(23)
        ]
    )
    # _ids of several BSON types, in one collection.
    await db["mixed_ids"].insert_many(
        [{"_id": i, "v": i} for i in range(10)]
        + [{"_id": float(i) + 0.5, "v": i} for i in range(3)]
        + [{"_id": f"key-{i}", "v": i} for i in range(6)]
        + [{"_id": ObjectId(), "v": i} for i in range(4)]
    )
    await db["types"].insert_one(
        {
            "_id": ObjectId(),
            "int32": 7,
            "int64_small": Int64(7),
            "int64_big": Int64(2**53 + 1),
            "double": 1.25,
            "decimal": Decimal128("1234567890.123456789"),
            "date": NOW,
            "binary": b"\x00\xff\x10",
            "uuid": Binary(bytes(range(16)), 4),
            "none": None,
            "nested": {"z": 1, "a": [1, {"y": Int64(2)}]},
        }
    )
    names = [n for n in await db.list_collection_names() if not n.startswith("system.")]
    return {name: await db[name].count_documents({}) for name in names}


async def docs_by_id(collection: Any) -> dict[Any, bytes]:
    """``_id`` -> canonical BSON bytes of every document."""
    return {repr(d["_id"]): canonical_bson(d) async for d in collection.find({})}


@pytest.fixture
def source_client(backend: Backend) -> Any:
    return backend.client("default")


@pytest.fixture
def target_client(backend: Backend) -> Any:
    return backend.client(SECOND_CLUSTER)


@pytest.fixture
async def source(source_client: Any) -> Any:
    db = source_client["tenant_src"]
    await seed_tenant(db)
    return db


# ---------------------------------------------------------------- copy


async def test_copy_across_clusters_preserves_documents_indexes_and_verifies(
    source: Any, target_client: Any, backend: Backend
) -> None:
    target = target_client["tenant_dst"]
    progress: dict[str, tuple[int, int | None]] = {}
    result = await copy_database(
        source, target, batch_size=16, on_progress=lambda c, d, t: progress.update({c: (d, t)})
    )

    assert result.ok, result.to_dict()
    assert result.operation == "copy"
    assert STATE_COLLECTION not in await target.list_collection_names()
    for item in result.collections:
        assert item.status is Status.OK
        assert item.checksum_match is True
        assert item.source_count == item.target_count == item.written
        src_docs = await docs_by_id(source[item.name])
        assert await docs_by_id(target[item.name]) == src_docs
        problems, extras = compare_indexes(
            await read_index_specs(source[item.name]), await read_index_specs(target[item.name])
        )
        assert problems == [] and extras == []
        if item.source_count:
            assert progress[item.name][0] == item.source_count

    by_name = {spec["name"]: spec for spec in await read_index_specs(target["customers"])}
    assert by_name["email_unique"]["unique"] is True
    assert by_name["email_unique"]["partialFilterExpression"] == {"email_key": {"$type": "string"}}
    sessions = {spec["name"]: spec for spec in await read_index_specs(target["sessions"])}
    assert sessions["ttl"]["expireAfterSeconds"] == 0
    assert sessions["device_sparse"]["sparse"] is True
    # The unique indexes work in the target.
    with pytest.raises(Exception, match="E11000"):
        await target["bookings"].insert_one({"confirmation_number": "BK-00001"})

    verified = await verify_database(source, target)
    assert verified.ok, verified.to_dict()
    # The mock cannot list collection options: said, not failed. A server lists them.
    assert any("collection options" in w for w in result.warnings) == backend.is_mock
    # Ready for a CLI: JSON-safe dict.
    as_dict = result.to_dict()
    assert as_dict["status"] == "ok" and as_dict["collections"][0]["status"] == "ok"


async def test_batches_never_exceed_batch_size(source: Any, target_client: Any) -> None:
    target = RecordingDatabase(target_client["tenant_dst"])
    result = await copy_database(source, target, batch_size=7)
    assert result.ok, result.to_dict()
    assert target.batches and max(size for _, size in target.batches) == 7
    for item in result.collections:
        sizes = [size for name, size in target.batches if name == item.name]
        assert all(0 < size <= 7 for size in sizes)
        assert len(sizes) == math.ceil(item.source_count / 7)


async def test_interrupted_copy_resumes_skips_done_collections_without_duplicates(
    source: Any, target_client: Any
) -> None:
    plain_target = target_client["tenant_dst"]
    flaky = RecordingDatabase(plain_target, fail_when=lambda name, i: name == "sessions" and i == 2)
    first = await copy_database(source, flaky, batch_size=5)

    assert not first.ok
    failed = first.collection("sessions")
    assert failed.status is Status.FAILED and "AutoReconnect" in failed.error.message
    assert first.collection("customers").status is Status.OK  # before sessions
    assert first.collection("types").status is Status.NOT_RUN  # after sessions
    assert [c.name for c in first.failed] == ["sessions", "staff", "types"]  # it, and all after
    assert first.to_dict()["status"] == "failed"
    assert STATE_COLLECTION in await plain_target.list_collection_names()
    # 2 full batches plus half of the third landed before the "connection loss".
    assert await plain_target["sessions"].count_documents({}) == 12

    recorder = RecordingDatabase(plain_target)
    second = await copy_database(source, recorder, batch_size=5)
    assert second.ok, second.to_dict()
    for name in ("bookings", "customers", "services"):
        assert second.collection(name).action == "skip"
        assert second.collection(name).written == 0
        assert second.collection(name).checksum_match is True  # verified again
    resumed = second.collection("sessions")
    assert resumed.action == "resume"
    assert resumed.resumed == 10 and resumed.written == 13
    assert {name for name, _ in recorder.batches} == {"sessions", "types"}
    assert STATE_COLLECTION not in await plain_target.list_collection_names()
    # No duplicates, nothing missing.
    for item in second.collections:
        assert await docs_by_id(plain_target[item.name]) == await docs_by_id(source[item.name])
    assert (await verify_database(source, plain_target)).ok


async def test_resume_after_mixed_type_ids(source: Any, target_client: Any) -> None:
    """Range queries match one BSON type only: resuming after a numeric _id
    must still copy the string and ObjectId _ids that sort after it."""
    plain_target = target_client["tenant_dst"]
    flaky = RecordingDatabase(
        plain_target, fail_when=lambda name, i: name == "mixed_ids" and i == 1
    )
    first = await copy_database(source, flaky, batch_size=4, collections=["mixed_ids"])
    assert first.collection("mixed_ids").status is Status.FAILED

    second = await copy_database(source, plain_target, batch_size=4, collections=["mixed_ids"])
    assert second.ok, second.to_dict()
    item = second.collection("mixed_ids")
    assert item.action == "resume" and item.resumed == 4 and item.written == 19
    assert await docs_by_id(plain_target["mixed_ids"]) == await docs_by_id(source["mixed_ids"])


async def test_verification_failure_is_reported_and_recopied_next_run(
    source: Any, target_client: Any
) -> None:
    def corrupt(name: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if name == "services":
            docs = [dict(d) for d in docs]
            docs[0]["price_minor"] += 1  # a corrupting transport
        return docs

    plain_target = target_client["tenant_dst"]
    result = await copy_database(source, RecordingDatabase(plain_target, tamper=corrupt))
    assert not result.ok
    bad = result.collection("services")
    assert bad.status is Status.FAILED and bad.error.code is ErrorCode.VERIFICATION_FAILED
    assert bad.checksum_match is False and bad.source_count == bad.target_count == 5
    assert "content hash differs" in bad.error.message
    assert [c.name for c in result.failed] == ["services"]
    assert result.collection("customers").status is Status.OK  # the run went on
    assert STATE_COLLECTION in await plain_target.list_collection_names()

    again = await copy_database(source, plain_target)
    assert again.ok, again.to_dict()
    assert again.collection("services").action == "copy"
    assert again.collection("services").written == 5
    assert again.collection("customers").action == "skip"


async def test_verify_database_reports_what_differs(source: Any, target_client: Any) -> None:
    target = target_client["tenant_dst"]
    assert (await copy_database(source, target)).ok

    await target["types"].update_one({}, {"$set": {"int32": Int64(7)}})  # same value, other type
    await target["sessions"].delete_one({"_id": "s005"})
    await target["bookings"].drop_index("customer")
    result = await verify_database(source, target)

    assert not result.ok
    failed = {c.name: c for c in result.failed}
    assert set(failed) == {"types", "sessions", "bookings"}
    assert "content hash differs" in failed["types"].error.message
    assert "count differs: source has 23 documents, target 22" in failed["sessions"].error.message
    assert "index 'customer' is missing" in failed["bookings"].error.message
    assert all(c.error.code is ErrorCode.VERIFICATION_FAILED for c in failed.values())


async def test_dry_run_writes_nothing(source: Any, target_client: Any) -> None:
    target = target_client["tenant_dst"]
    result = await copy_database(source, target, dry_run=True)
    assert result.dry_run and result.ok
    assert await target.list_collection_names() == []
    customers = result.collection("customers")
    assert customers.status is Status.PLANNED and customers.action == "copy"
    assert customers.source_count == 40 and customers.written == 40
    assert customers.indexes == 5


async def test_non_empty_target_refused_unless_overwrite(source: Any, target_client: Any) -> None:
    target = target_client["tenant_dst"]
    await target["customers"].insert_one({"_id": "stale", "name": "old"})
    await target["keep_me"].insert_one({"x": 1})

    with pytest.raises(AppError) as refused:
        await copy_database(source, target)
    assert refused.value.code is ErrorCode.TARGET_NOT_EMPTY
    assert "customers" in refused.value.message
    assert sorted(await target.list_collection_names()) == ["customers", "keep_me"]
    with pytest.raises(AppError):
        await copy_database(source, target, dry_run=True)

    result = await copy_database(source, target, overwrite=True)
    assert result.ok, result.to_dict()
    assert result.collection("customers").action == "replace"
    assert await target["customers"].find_one({"_id": "stale"}) is None
    assert await target["keep_me"].count_documents({}) == 1


async def test_selected_collections_only_need_an_empty_target_for_themselves(
    source: Any, target_client: Any
) -> None:
    target = target_client["tenant_dst"]
    await target["keep_me"].insert_one({"x": 1})
    result = await copy_database(source, target, collections=["services", "locations"])
    assert result.ok, result.to_dict()
    assert [c.name for c in result.collections] == ["locations", "services"]
    assert await target["keep_me"].count_documents({}) == 1
    again = await copy_database(source, target, collections=["services"])
    assert [c.action for c in again.collections] == ["already-copied"]  # verified, unchanged
    await target["services"].insert_one({"_id": "local change"})
    with pytest.raises(AppError) as refused:
        await copy_database(source, target, collections=["services"])
    assert refused.value.code is ErrorCode.TARGET_NOT_EMPTY


async def test_start_over_instead_of_resuming(source: Any, target_client: Any) -> None:
    plain_target = target_client["tenant_dst"]
    flaky = RecordingDatabase(plain_target, fail_when=lambda name, i: name == "sessions" and i == 1)
    assert not (await copy_database(source, flaky, batch_size=5)).ok

    with pytest.raises(AppError) as refused:
        await copy_database(source, plain_target, resume=False)
    assert refused.value.code is ErrorCode.TARGET_NOT_EMPTY
    again = await copy_database(source, plain_target, resume=False, overwrite=True)
    assert again.ok, again.to_dict()
    assert again.collection("sessions").action == "replace"
    assert again.collection("sessions").resumed == 0
    assert again.collection("customers").action == "replace"


async def test_empty_provisioned_target_is_accepted(source: Any, target_client: Any) -> None:
    target = target_client["tenant_dst"]
    await ensure_tenant_schema(target)
    result = await copy_database(source, target)
    assert result.ok, result.to_dict()


async def test_refusals(source: Any, source_client: Any, target_client: Any) -> None:
    with pytest.raises(AppError) as same:
        await copy_database(source, source_client["tenant_src"])
    assert same.value.code is ErrorCode.VALIDATION_FAILED
    with pytest.raises(AppError) as bad_batch:
        await copy_database(source, target_client["t"], batch_size=0)
    assert bad_batch.value.code is ErrorCode.VALIDATION_FAILED
    with pytest.raises(AppError) as unknown:
        await copy_database(source, target_client["t"], collections=["nope"])
    assert unknown.value.code is ErrorCode.NOT_FOUND
    # An unfinished copy of another source in the target.
    await target_client["t"][STATE_COLLECTION].insert_one({"_id": "run", "source": "other_db"})
    with pytest.raises(AppError) as foreign:
        await copy_database(source, target_client["t"])
    assert foreign.value.code is ErrorCode.TARGET_NOT_EMPTY


# ---------------------------------------------------------------- server-like options


class _ListCursor:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = iter(items)

    def __aiter__(self) -> _ListCursor:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            return next(self._items)
        except StopIteration:
            raise StopAsyncIteration from None


class ServerLikeCollection:
    """Keeps index options the mock drops (collation), as a server would."""

    def __init__(self, owner: ServerLikeDatabase, collection: Any, name: str) -> None:
        self._owner, self._collection, self._name = owner, collection, name

    async def create_index(self, keys: Any, **options: Any) -> str:
        collation = options.pop("collation", None)
        name = await self._collection.create_index(keys, **options)
        if collation is not None:
            self._owner.index_collations[(self._name, name)] = collation
        return name

    async def list_indexes(self) -> _ListCursor:
        cursor = await self._collection.list_indexes()
        items = []
        async for info in cursor:
            extra = self._owner.index_collations.get((self._name, info["name"]))
            items.append({**info, **({"collation": extra} if extra else {})})
        return _ListCursor(items)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._collection, attr)


class ServerLikeDatabase:
    """A mock database that lists and applies collection options like a server."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.options: dict[str, dict[str, Any]] = {}
        self.index_collations: dict[tuple[str, str], dict[str, Any]] = {}

    def __getitem__(self, name: str) -> ServerLikeCollection:
        return ServerLikeCollection(self, self._db[name], name)

    async def create_collection(self, name: str, **options: Any) -> Any:
        self.options[name] = options
        return await self._db.create_collection(name)

    async def list_collections(self) -> _ListCursor:
        names = await self._db.list_collection_names()
        return _ListCursor(
            [{"name": n, "type": "collection", "options": self.options.get(n, {})} for n in names]
        )

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._db, attr)


async def _options(db: Any, name: str) -> dict[str, Any]:
    if isinstance(db, ServerLikeDatabase):
        return db.options[name]
    async for info in await db.list_collections(filter={"name": name}):
        return info.get("options", {})
    raise AssertionError(name)


async def test_collection_options_and_collation_reach_the_target(
    source_client: Any, target_client: Any, backend: Backend
) -> None:
    """On the mock, a wrapper lists options as a server would; on servers, the real thing."""
    source = ServerLikeDatabase(source_client["src"]) if backend.is_mock else source_client["src"]
    validator = {"$jsonSchema": {"bsonType": "object", "required": ["name"]}}
    await source.create_collection("customers", validator=validator, validationLevel="moderate")
    await source["customers"].create_index(
        [("name", ASCENDING)], name="name_ci", collation={"locale": "tr", "strength": 2}
    )
    await source["customers"].insert_many([{"name": f"n{i}"} for i in range(5)])
    target = ServerLikeDatabase(target_client["dst"]) if backend.is_mock else target_client["dst"]

    result = await copy_database(source, target)
    assert result.ok, result.to_dict()
    assert result.warnings == []
    options = await _options(target, "customers")
    assert options["validator"] == validator and options["validationLevel"] == "moderate"
    index = {spec["name"]: spec for spec in await read_index_specs(target["customers"])}
    assert index["name_ci"]["collation"]["locale"] == "tr"
    assert index["name_ci"]["collation"]["strength"] == 2
    assert (await verify_database(source, target)).ok

    if isinstance(target, ServerLikeDatabase):
        target.options["customers"] = {}
        drifted = await verify_database(source, target)
        assert "collection options differ" in drifted.collection("customers").error.message


async def test_options_degrade_cleanly_on_a_server_without_them(
    source_client: Any, target_client: Any, backend: Backend
) -> None:
    if not backend.is_mock:
        pytest.skip("mock only: real servers apply collection options (tested above)")
    source = ServerLikeDatabase(source_client["src"])
    await source.create_collection("audit", capped=True, size=4096)
    await source["audit"].insert_one({"x": 1})
    target = target_client["dst"]  # the plain mock: create_collection(**options) unsupported
    result = await copy_database(source, target, verify=False)
    assert result.ok, result.to_dict()
    assert any(
        "cannot create collections with options" in w for w in result.collection("audit").warnings
    )
    assert await target["audit"].count_documents({}) == 1
