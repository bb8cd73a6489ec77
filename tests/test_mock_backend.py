"""The in-process mock (tests.mock_shims shims over mongomock and pymongo-async-mock).

Uniqueness must behave like a server: duplicates rejected on insert, update,
insert_many and index builds over existing documents; documents outside a
partial filter never conflict; sparse indexes skip documents without the
fields. The checks must also cost O(1) filter evaluations per document
(counted, not timed). The other shims each have a test below that fails
without them: bulk updates after many collection handles, cursor iteration
in O(N) (counted), an awaitable ``close``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import mongomock
import pytest
from bson import Decimal128, ObjectId
from mongomock import filtering
from pymongo import ASCENDING, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from domain.collections import CUSTOMERS, TENANT_INDEXES
from tenancy.databases.indexes import read_index_specs
from tenancy.indexes import apply_indexes
from tests.mock_shims import new_mock_client

IS_STRING = {"$type": "string"}


@pytest.fixture
def db() -> Any:
    return new_mock_client()["t"]


async def index_names(collection: Any) -> set[str]:
    return {spec["name"] for spec in await read_index_specs(collection)}


# ------------------------------------------------------------ plain unique


async def test_duplicate_on_insert_is_rejected_and_not_stored(db: Any) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True, name="k_unique")
    await db.c.insert_one({"_id": 1, "k": "a"})
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"_id": 2, "k": "a"})
    assert await db.c.find_one({"_id": 2}) is None
    await db.c.insert_one({"_id": 3, "k": "b"})
    with pytest.raises(DuplicateKeyError):  # the _id index, unchanged
        await db.c.insert_one({"_id": 3, "k": "c"})


async def test_duplicate_on_update_is_rejected_and_rolled_back(db: Any) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True)
    await db.c.insert_many([{"_id": 1, "k": "a"}, {"_id": 2, "k": "b"}])
    with pytest.raises(DuplicateKeyError):
        await db.c.update_one({"_id": 2}, {"$set": {"k": "a"}})
    assert await db.c.find_one({"_id": 2}) == {"_id": 2, "k": "b"}
    with pytest.raises(DuplicateKeyError):
        await db.c.replace_one({"_id": 2}, {"k": "a"})
    with pytest.raises(DuplicateKeyError):  # upsert inserts a duplicate
        await db.c.update_one({"_id": 9}, {"$set": {"k": "a"}}, upsert=True)

    # An update moves the key: the old value is free, the new one taken.
    await db.c.update_one({"_id": 2}, {"$set": {"k": "c"}})
    await db.c.insert_one({"_id": 3, "k": "b"})
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"_id": 4, "k": "c"})
    # update_many stops at the first duplicate it makes.
    with pytest.raises(DuplicateKeyError):
        await db.c.update_many({}, {"$set": {"k": "same"}})
    assert sorted([d["k"] async for d in db.c.find({})]) == ["b", "c", "same"]


async def test_duplicate_in_insert_many_reports_the_inserted_count(db: Any) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True)
    await db.c.insert_one({"k": "x"})
    with pytest.raises(BulkWriteError) as ordered:
        await db.c.insert_many([{"k": "a"}, {"k": "b"}, {"k": "a"}, {"k": "c"}])
    assert ordered.value.details["nInserted"] == 2
    assert ordered.value.details["writeErrors"][0]["code"] == 11000
    with pytest.raises(BulkWriteError) as unordered:
        await db.c.insert_many([{"k": "x"}, {"k": "d"}], ordered=False)
    assert unordered.value.details["nInserted"] == 1
    assert sorted([d["k"] async for d in db.c.find({})]) == ["a", "b", "d", "x"]


async def test_deleted_and_dropped_documents_free_their_keys(db: Any) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True)
    await db.c.insert_one({"_id": 1, "k": "a"})
    await db.c.delete_one({"_id": 1})
    await db.c.insert_one({"_id": 2, "k": "a"})
    await db.drop_collection("c")
    await db.c.insert_many([{"k": "a"}, {"k": "a"}])  # no index any more
    with pytest.raises(DuplicateKeyError):
        await db.c.create_index([("k", ASCENDING)], unique=True)


async def test_dropped_or_redefined_index_stops_enforcing_the_old_rule(db: Any) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True, name="k_unique")
    await db.c.insert_many([{"k": 1}, {"k": "a"}])
    await db.c.drop_index("k_unique")
    await db.c.create_index(
        [("k", ASCENDING)], unique=True, partialFilterExpression={"k": IS_STRING}, name="k_unique"
    )
    await db.c.insert_one({"k": 1})  # outside the new filter
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"k": "a"})
    await db.c.drop_indexes()
    await db.c.insert_one({"k": "a"})


async def test_failed_update_after_a_regrouping_keeps_the_old_key_taken(db: Any) -> None:
    """Many deletions make the shim regroup the index during a check; when
    that check fails, the rolled-back document must still hold its key."""
    await db.c.create_index([("k", ASCENDING)], unique=True)
    await db.c.insert_many([{"_id": i, "k": i} for i in range(200)])
    await db.c.delete_many({"_id": {"$gte": 2}})
    with pytest.raises(DuplicateKeyError):
        await db.c.update_one({"_id": 1}, {"$set": {"k": 0}})
    assert await db.c.find_one({"_id": 1}) == {"_id": 1, "k": 1}
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"k": 1})


# ------------------------------------------------------------ index builds


async def test_create_index_over_existing_duplicates_fails_like_a_server(db: Any) -> None:
    await db.c.insert_many([{"k": "a"}, {"k": "b"}, {"k": "a"}])
    with pytest.raises(DuplicateKeyError):
        await db.c.create_index([("k", ASCENDING)], unique=True, name="k_unique")
    assert "k_unique" not in await index_names(db.c)
    await db.c.insert_one({"k": "a"})  # no index was left behind

    await db.c.delete_many({"k": "a"})
    await db.c.create_index([("k", ASCENDING)], unique=True, name="k_unique")
    with pytest.raises(DuplicateKeyError):  # the index built over existing documents works
        await db.c.insert_one({"k": "b"})


async def test_partial_unique_index_builds_over_documents_outside_the_filter(db: Any) -> None:
    await db.c.insert_many(
        [
            {"n": 1},
            {"n": 2},
            {"n": 3, "e": None},
            {"n": 4, "e": 7},
            {"n": 5, "e": 7},
            {"n": 6, "e": "a@x"},
            {"n": 7, "e": "b@x"},
        ]
    )
    await db.c.create_index(
        [("e", ASCENDING)], unique=True, partialFilterExpression={"e": IS_STRING}, name="e_unique"
    )
    assert "e_unique" in await index_names(db.c)
    # Identical definition again: a no-op, as on a server.
    await db.c.create_index(
        [("e", ASCENDING)], unique=True, partialFilterExpression={"e": IS_STRING}, name="e_unique"
    )
    await db.c.insert_many([{"n": 8}, {"n": 9, "e": None}, {"n": 10, "e": 7}])
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"n": 11, "e": "a@x"})

    other = db["d"]
    await other.insert_many([{"e": "dup"}, {"e": "dup"}, {}])
    with pytest.raises(DuplicateKeyError):  # a real duplicate inside the filter
        await other.create_index(
            [("e", ASCENDING)], unique=True, partialFilterExpression={"e": IS_STRING}
        )


# ------------------------------------------------------------ partial filters


async def test_documents_outside_the_partial_filter_never_conflict(db: Any) -> None:
    await apply_indexes(db[CUSTOMERS], TENANT_INDEXES[CUSTOMERS])
    customers = db[CUSTOMERS]
    await customers.insert_many([{"_id": i, "name": f"c{i}"} for i in range(5)])
    await customers.insert_one({"_id": 10, "email_key": None})
    await customers.insert_one({"_id": 11, "email_key": None})
    await customers.insert_one({"_id": 12, "email_key": "a@x"})
    with pytest.raises(DuplicateKeyError):
        await customers.insert_one({"_id": 13, "email_key": "a@x"})
    # Into the filter with a taken key: refused; with a free one: accepted.
    with pytest.raises(DuplicateKeyError):
        await customers.update_one({"_id": 1}, {"$set": {"email_key": "a@x"}})
    await customers.update_one({"_id": 1}, {"$set": {"email_key": "b@x"}})
    # Out of the filter (soft delete drops email_key): the address is free.
    await customers.update_one({"_id": 12}, {"$unset": {"email_key": ""}})
    await customers.insert_one({"_id": 14, "email_key": "a@x"})
    # A document moved out of the filter no longer conflicts with anything.
    await customers.update_one({"_id": 14}, {"$set": {"email_key": 5}})
    await customers.insert_one({"_id": 15, "email_key": 5})
    await customers.insert_one({"_id": 16, "email_key": "a@x"})


# ------------------------------------------------------------ null, missing, sparse


async def test_null_and_missing_collide_in_a_non_sparse_index(db: Any) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True)
    await db.c.insert_one({"_id": 1})
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"_id": 2})
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"_id": 3, "k": None})


async def test_sparse_index_skips_documents_without_the_field(db: Any) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True, sparse=True)
    await db.c.insert_many([{"_id": 1}, {"_id": 2}, {"_id": 3, "k": None}])
    # A server indexes an explicit null in a sparse index: a second one collides.
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"_id": 4, "k": None})
    await db.c.insert_one({"_id": 5})
    await db.c.insert_one({"_id": 6, "k": 1})
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"_id": 7, "k": 1})


async def test_sparse_compound_index_keys_missing_fields_as_null(db: Any) -> None:
    await db.c.create_index([("a", ASCENDING), ("b", ASCENDING)], unique=True, sparse=True)
    await db.c.insert_many([{"a": 1}, {"b": 1}, {}, {}])  # (1, null), (null, 1), none, none
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"a": 1, "b": None})
    # The same documents, indexed afterwards: the same verdict.
    other = db["d"]
    await other.insert_many([{"a": 1}, {"b": 1}, {}, {}])
    await other.create_index([("a", ASCENDING), ("b", ASCENDING)], unique=True, sparse=True)


# ------------------------------------------------------------ compound, types


async def test_compound_unique_index(db: Any) -> None:
    await db.c.create_index([("resource", ASCENDING), ("slot", ASCENDING)], unique=True)
    slot = datetime(2026, 3, 1, 9, tzinfo=UTC)
    await db.c.insert_many(
        [{"resource": "r1", "slot": slot}, {"resource": "r2", "slot": slot}, {"resource": "r1"}]
    )
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"resource": "r1", "slot": slot})
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"resource": "r1", "slot": None})  # (r1, null) again


@pytest.mark.parametrize(
    ("first", "second", "collide"),
    [
        (1, 1.0, True),  # numbers compare by value
        (ObjectId("0123456789ab0123456789ab"), ObjectId("0123456789ab0123456789ab"), True),
        (Decimal128("1.5"), Decimal128("1.5"), True),
        (Decimal128("1.5"), Decimal128("2.5"), False),
        ({"x": 1}, {"x": 1}, True),
        ({"x": 1}, {"x": 2}, False),
        ([1, 2], 2, True),  # an array is indexed by its elements
        ([1, 2], [1, 2], True),
        ([1, 2], 3, False),
        ("a", "A", False),  # no collation: case matters
    ],
)
async def test_unique_values_of_every_type(db: Any, first: Any, second: Any, collide: bool) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True)
    await db.c.insert_one({"k": first})
    if collide:
        with pytest.raises(DuplicateKeyError):
            await db.c.insert_one({"k": second})
    else:
        await db.c.insert_one({"k": second})


class Tag(str):
    """A ``str`` subclass (as ODMs and enums store): equal to the plain string."""

    __slots__ = ()


@pytest.mark.parametrize(("first", "second"), [(Tag("x"), "x"), ("x", Tag("x"))])
async def test_string_subclasses_collide_with_equal_strings(
    db: Any, first: str, second: str
) -> None:
    await db.c.create_index([("k", ASCENDING)], unique=True)
    await db.c.insert_one({"k": first})
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"k": second})


async def test_unique_index_on_a_dotted_path(db: Any) -> None:
    await db.c.create_index([("a.b", ASCENDING)], unique=True)
    await db.c.insert_many([{"a": {"b": "x"}}, {"a": {"b": "y"}}])
    with pytest.raises(DuplicateKeyError):
        await db.c.insert_one({"a": {"b": "x", "c": 1}})


# ------------------------------------------------------------ cost (counted)


N = 2000


class FilterCounter:
    """Counts mongomock's document-filter evaluations (``_Filterer.apply``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = filtering._Filterer.apply

        def counting(filterer: Any, search_filter: Any, document: Any) -> bool:
            self.calls += 1
            return original(filterer, search_filter, document)  # type: ignore[no-any-return]

        monkeypatch.setattr(filtering._Filterer, "apply", counting)


def customers(emails: bool) -> list[dict[str, Any]]:
    return [{"name": f"c{i}", **({"email_key": f"c{i}@x"} if emails else {})} for i in range(N)]


@pytest.mark.parametrize("emails", [False, True], ids=["without-emails", "with-emails"])
async def test_inserting_n_customers_costs_o_n_filter_evaluations(
    db: Any, monkeypatch: pytest.MonkeyPatch, emails: bool
) -> None:
    one_by_one, many = db["one_by_one"], db["many"]
    for collection in (one_by_one, many):
        await apply_indexes(collection, TENANT_INDEXES[CUSTOMERS])
    counter = FilterCounter(monkeypatch)

    for doc in customers(emails):
        await one_by_one.insert_one(doc)
    assert counter.calls <= 5 * N  # was about N^2 / 2 * 3

    counter.calls = 0
    await many.insert_many(customers(emails))
    assert counter.calls <= 5 * N


@pytest.mark.parametrize("emails", [False, True], ids=["without-emails", "with-emails"])
async def test_building_a_partial_unique_index_costs_o_n(
    db: Any, monkeypatch: pytest.MonkeyPatch, emails: bool
) -> None:
    await db[CUSTOMERS].insert_many(customers(emails))
    counter = FilterCounter(monkeypatch)
    await db[CUSTOMERS].create_index(
        [("email_key", ASCENDING)], unique=True, partialFilterExpression={"email_key": IS_STRING}
    )
    assert counter.calls <= 5 * N
    counter.calls = 0
    await db[CUSTOMERS].insert_one({"email_key": "new@x"})  # the build's grouping is reused
    assert counter.calls <= 5


# ------------------------------------------------------------ bulk updates (_fix_bulk_update_patch)


async def test_bulk_updates_work_after_many_collection_handles(db: Any) -> None:
    """pymongo-async-mock wraps ``add_update`` again for every collection it
    hands out (a test suite opens thousands): without the shim, ``bulk_write``
    nests past the recursion limit after about a thousand."""
    await db.c.insert_many([{"_id": 1, "k": "a"}, {"_id": 2, "k": "b"}])
    for i in range(1500):
        db[f"other_{i}"]
    result = await db["c"].bulk_write(
        [
            UpdateOne({"_id": 1}, {"$set": {"k": "x"}}),
            UpdateOne({"_id": 3}, {"$set": {"k": "y"}}, upsert=True),
        ]
    )
    assert (result.matched_count, result.modified_count, result.upserted_count) == (1, 1, 1)
    assert await db.c.find({}).sort("_id", ASCENDING).to_list(None) == [
        {"_id": 1, "k": "x"},
        {"_id": 2, "k": "b"},
        {"_id": 3, "k": "y"},
    ]


# ------------------------------------------------------------ cursors (_linear_cursor_iteration)


class SliceCounter(list[Any]):
    """A cursor's computed results that count the elements their slices copy."""

    copied = 0

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        if isinstance(index, slice):
            self.copied += len(item)
        return item


def counted_cursor(cursor: Any) -> SliceCounter:
    """Compute ``cursor``'s results once and swap in a counting copy (same content,
    so mongomock does not compute them again)."""
    cursor._compute_results()
    counter = SliceCounter(cursor._results)
    cursor._results = counter
    return counter


def test_iterating_a_cursor_copies_o_n_elements() -> None:
    """As shipped, each ``next`` slices the remaining results: N^2 / 2 copies."""
    collection = mongomock.MongoClient()["t"]["c"]
    collection.insert_many([{"_id": i} for i in range(N)])
    cursor = collection.find({}).sort("_id", ASCENDING)
    counter = counted_cursor(cursor)
    assert [doc["_id"] for doc in cursor] == list(range(N))
    assert counter.copied <= N


@pytest.mark.parametrize(
    ("skip", "limit", "expected"),
    [
        (0, 0, list(range(10))),
        (3, 0, list(range(3, 10))),
        (3, 4, [3, 4, 5, 6]),
        (3, -4, [3, 4, 5, 6]),  # a negative limit: one batch of |limit|
        (8, 5, [8, 9]),
        (12, 2, []),
    ],
)
async def test_cursor_skip_and_limit_select_the_same_documents(
    db: Any, skip: int, limit: int, expected: list[int]
) -> None:
    await db.c.insert_many([{"_id": i} for i in range(10)])
    docs = await db.c.find({}).sort("_id", ASCENDING).skip(skip).limit(limit).to_list(None)
    assert [doc["_id"] for doc in docs] == expected


# ------------------------------------------------------------ close (_awaitable_close)


async def test_client_close_is_awaitable_like_async_mongo_client() -> None:
    """``AsyncMongoClient.close`` is a coroutine; the mock's was a plain method
    returning None (``await`` raised TypeError)."""
    client = new_mock_client()
    await client["t"].c.insert_one({"_id": 1})
    await client.close()
    assert await client["t"].c.find_one({"_id": 1}) == {"_id": 1}
