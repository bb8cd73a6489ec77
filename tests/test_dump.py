"""export_database / import_database, the dump format, and the content hash."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import pytest
from bson import Binary, Decimal128, Int64, ObjectId

from tenancy.databases.bson_files import bson_file_stats
from tenancy.databases.copy import copy_database
from tenancy.databases.digests import ContentDigest, canonical_bson
from tenancy.databases.dump_format import MANIFEST_NAME, check_dump
from tenancy.databases.ejson_io import dumps_ejson, file_stats, loads_ejson, read_json_file
from tenancy.databases.indexes import compare_indexes, read_index_specs
from tenancy.databases.verify import verify_database
from tenancy.dump import export_database, import_database
from tenancy.errors import AppError, ErrorCode
from tenancy.reports import Status
from tests.backends import SECOND_CLUSTER, Backend
from tests.dump_tools import (
    edit_manifest,
    read_docs,
    rewrite_collection,
    to_version_1,
    write_docs,
)
from tests.test_copy import NOW, RecordingDatabase, docs_by_id, seed_tenant


@pytest.fixture
async def source(backend: Backend) -> Any:
    db = backend.client("default")["tenant_src"]
    await seed_tenant(db)
    return db


@pytest.fixture
def target(backend: Backend) -> Any:
    return backend.client(SECOND_CLUSTER)["tenant_dst"]


@pytest.fixture
async def dump_dir(source: Any, tmp_path: Path) -> Path:
    directory = tmp_path / "dump"
    result = await export_database(source, directory, batch_size=8)
    assert result.ok
    return directory


# ---------------------------------------------------------------- round trip


async def test_export_import_round_trip_preserves_types_and_indexes(
    source: Any, target: Any, dump_dir: Path
) -> None:
    seen: list[tuple[str, int, int | None]] = []
    result = await import_database(
        dump_dir, target, batch_size=8, on_progress=lambda *a: seen.append(a)
    )
    assert result.ok, result.to_dict()
    assert result.operation == "import"
    for item in result.collections:
        assert item.status is Status.OK
        assert item.checksum_match is True
        assert item.source_count == item.target_count
        # Byte-identical documents (values, BSON types and field order).
        assert await docs_by_id(target[item.name]) == await docs_by_id(source[item.name])
        problems, extras = compare_indexes(
            await read_index_specs(source[item.name]), await read_index_specs(target[item.name])
        )
        assert problems == [] and extras == []
    assert ("customers", 40, 40) in seen

    doc = await target["types"].find_one({})
    assert isinstance(doc["_id"], ObjectId)
    assert type(doc["int32"]) is int
    assert isinstance(doc["int64_small"], Int64) and doc["int64_small"] == 7
    assert isinstance(doc["int64_big"], Int64) and doc["int64_big"] == 2**53 + 1
    assert doc["double"] == 1.25 and isinstance(doc["double"], float)
    assert doc["decimal"] == Decimal128("1234567890.123456789")
    assert doc["date"] == NOW
    assert bytes(doc["binary"]) == b"\x00\xff\x10"
    assert doc["uuid"] == Binary(bytes(range(16)), 4) and doc["uuid"].subtype == 4
    assert doc["none"] is None
    assert list(doc["nested"]) == ["z", "a"] and isinstance(doc["nested"]["a"][1]["y"], Int64)

    indexes = {spec["name"]: spec for spec in await read_index_specs(target["customers"])}
    assert indexes["email_unique"]["unique"] is True
    assert indexes["email_unique"]["partialFilterExpression"] == {"email_key": {"$type": "string"}}
    sessions = {spec["name"]: spec for spec in await read_index_specs(target["sessions"])}
    assert sessions["ttl"]["expireAfterSeconds"] == 0 and sessions["device_sparse"]["sparse"]
    assert (await verify_database(source, target)).ok


async def test_dump_files_are_mongodump_style_bson(dump_dir: Path) -> None:
    manifest = json.loads((dump_dir / MANIFEST_NAME).read_text())
    assert manifest["format"] == "tenancy-dump" and manifest["format_version"] == 2
    assert manifest["database"] == "tenant_src"
    datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00"))
    entries = {e["name"]: e for e in manifest["collections"]}
    assert entries["customers"]["count"] == 40
    assert {"count", "sha256", "content_hash", "indexes", "options", "file"} <= set(
        entries["customers"]
    )
    assert {ix["name"] for ix in entries["customers"]["indexes"]} >= {"email_unique", "tags"}

    raw = (dump_dir / entries["types"]["file"]).read_bytes()
    (doc,) = bson.decode_all(raw)  # concatenated BSON documents, as mongodump writes
    assert isinstance(doc["_id"], ObjectId)
    assert type(doc["int32"]) is int and doc["int32"] == 7
    assert isinstance(doc["int64_small"], Int64) and doc["int64_small"] == 7
    assert doc["decimal"] == Decimal128("1234567890.123456789")
    assert doc["date"] == datetime(2026, 11, 21, 9, 30, 0, 123000)
    assert doc["double"] == 1.25
    assert entries["customers"]["sha256"] == bson_file_stats(dump_dir / "customers.bson").sha256
    assert entries["customers"]["file"] == "customers.bson"


@pytest.mark.parametrize("via", ["export-import", "copy"])
async def test_keys_that_look_like_extended_json_survive(
    source: Any, target: Any, tmp_path: Path, via: str
) -> None:
    """A document's own ``$``-keys are data, never type wrappers."""
    doc = {
        "_id": "saved-filter",
        "filter": {"$regex": "^A", "$options": "i"},
        "when": {"$date": 5},
        "n": {"$numberLong": "7"},
        "id": {"$oid": "not-an-object-id"},
        "nested": [{"$binary": {"base64": "AA==", "subType": "00"}}],
    }
    await source["saved_filters"].insert_one(dict(doc))
    if via == "copy":
        assert (await copy_database(source, target)).ok
    else:
        await export_database(source, tmp_path / "d", collections=["saved_filters"])
        assert (await import_database(tmp_path / "d", target)).ok
    assert await target["saved_filters"].find_one({"_id": "saved-filter"}) == doc


async def test_version_1_json_lines_dumps_are_still_imported(
    source: Any, target: Any, dump_dir: Path
) -> None:
    """Dumps written before format 2 (relaxed Extended JSON Lines) still restore."""
    to_version_1(dump_dir)
    result = await import_database(dump_dir, target)
    assert result.ok, result.to_dict()
    assert (await verify_database(source, target)).ok


async def test_empty_collection_and_batch_sizes_on_import(
    source: Any, target: Any, tmp_path: Path
) -> None:
    await source.create_collection("empty_one")
    await export_database(source, tmp_path / "d")
    recording = RecordingDatabase(target)
    result = await import_database(tmp_path / "d", recording, batch_size=6)
    assert result.ok, result.to_dict()
    assert result.collection("empty_one").target_count == 0
    assert "empty_one" in await target.list_collection_names()
    assert max(size for _, size in recording.batches) == 6


# ---------------------------------------------------------------- refusals


def _rename_first(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**docs[0], "name": "Kustomer"}, *docs[1:]]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (  # a value changed in one document, the file's checksum left as it was
            lambda d: rewrite_collection(d, "customers", _rename_first, cover_tracks=False),
            "customers.bson: checksum differs",
        ),
        (lambda d: (d / "bookings.bson").unlink(), "bookings.bson is missing"),
        (  # a document removed
            lambda d: rewrite_collection(d, "services", lambda ds: ds[:-1], cover_tracks=False),
            "services.bson: 4 documents, the manifest says 5",
        ),
        (  # the manifest's count edited
            lambda d: edit_manifest(d, "sessions", count=99),
            "sessions.bson: 23 documents, the manifest says 99",
        ),
        (lambda d: (d / MANIFEST_NAME).unlink(), "manifest.json is missing"),
        (lambda d: (d / MANIFEST_NAME).write_text("{not json"), "cannot be read"),
        (lambda d: edit_manifest(d, "types", file="../types.bson"), "not a plain file name"),
        (lambda d: (d / "extra.bson").write_bytes(b""), "files not in the manifest"),
    ],
    ids=[
        "changed-document",
        "missing-file",
        "removed-document",
        "wrong-count",
        "no-manifest",
        "bad-manifest",
        "path-escape",
        "stray-file",
    ],
)
async def test_tampered_dump_is_refused_before_any_write(
    dump_dir: Path, target: Any, tamper: Any, message: str
) -> None:
    tamper(dump_dir)
    with pytest.raises(AppError) as refused:
        await import_database(dump_dir, target)
    assert refused.value.code is ErrorCode.MANIFEST_INVALID
    assert message in refused.value.message
    assert "nothing was written" in refused.value.message
    assert await target.list_collection_names() == []


def _set_field(collection: str, field: str, value: Any) -> Any:
    """A tamper that sets ``field`` of the first document and hides it (file checksums)."""

    def tamper(directory: Path) -> None:
        rewrite_collection(directory, collection, lambda ds: [{**ds[0], field: value}, *ds[1:]])
        check_dump(directory, content=False)  # the file-level checks pass

    return tamper


@pytest.mark.parametrize(
    ("collection", "tamper"),
    [
        ("customers", _set_field("customers", "name", "Kustomer")),  # a value
        ("types", _set_field("types", "int64_small", 7)),  # a BSON type only (Int64 -> int32)
    ],
    ids=["value", "type"],
)
@pytest.mark.parametrize("overwrite", [False, True], ids=["new-target", "overwrite"])
async def test_consistently_edited_dump_is_refused_before_any_write(
    dump_dir: Path, target: Any, collection: str, tamper: Any, overwrite: bool
) -> None:
    """Documents are hashed before the first write: recomputed file checksums
    do not get an edited document past the manifest's content hash."""
    if overwrite:
        await target["customers"].insert_one({"_id": "kept", "name": "before"})
    before = await docs_by_id(target["customers"])
    tamper(dump_dir)

    with pytest.raises(AppError) as refused:
        await import_database(dump_dir, target, overwrite=overwrite)
    assert refused.value.code is ErrorCode.MANIFEST_INVALID
    assert f"{collection}.bson: content hash differs" in refused.value.message
    assert "nothing was written" in refused.value.message
    assert await target.list_collection_names() == (["customers"] if overwrite else [])
    assert await docs_by_id(target["customers"]) == before


async def test_change_after_the_check_is_caught_by_verification(
    dump_dir: Path, target: Any
) -> None:
    """A file changed between the check and the write (the checked documents are
    not kept in memory) fails the verification of what was written."""

    def tamper_after_check(label: str, done: int, total: int | None) -> None:
        if label == "check:types" and done == total:
            _set_field("types", "int64_small", 7)(dump_dir)

    result = await import_database(dump_dir, target, on_progress=tamper_after_check)
    assert not result.ok
    assert [c.name for c in result.failed] == ["types"]
    failed = result.collection("types")
    assert failed.error.code is ErrorCode.VERIFICATION_FAILED and failed.checksum_match is False
    assert "content hash differs" in failed.error.message


def _truncate_last_document(directory: Path, collection: str) -> None:
    """Cut the file's last document short; checksums recomputed, the count kept."""
    path = directory / f"{collection}.bson"
    path.write_bytes(path.read_bytes()[:-3])
    stats = file_stats(path)  # a JSON Lines reading, only for size and SHA-256
    edit_manifest(directory, collection, sha256=stats.sha256, size=stats.size)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda d: edit_manifest(d, "customers", indexes=[{"key": {"a": 0}, "name": "a"}]),
            "customers: index 'a': key 'a': 0 is not an index type",
        ),
        (
            lambda d: edit_manifest(
                d,
                "customers",
                indexes=[{"key": {"a": 1}, "name": "a"}, {"key": {"b": 1}, "name": "a"}],
            ),
            "customers: index 'a' is listed twice",
        ),
        (
            lambda d: edit_manifest(
                d, "customers", indexes=[{"key": {"a": 1}, "name": "a", "unique": "yes"}]
            ),
            "option unique has an invalid value 'yes'",
        ),
        (
            lambda d: edit_manifest(
                d, "sessions", indexes=[{"key": {"t": 1}, "name": "t", "expireAfterSeconds": -5}]
            ),
            "option expireAfterSeconds has an invalid value -5",
        ),
        (lambda d: edit_manifest(d, "services", name="system.js"), "is reserved (system.*)"),
        (
            lambda d: rewrite_collection(
                d, "services", lambda ds: [*ds, {"name": "no id"}], fix_count=True
            ),
            "services.bson: document 6 has no _id",
        ),
        (
            lambda d: _truncate_last_document(d, "services"),
            "services.bson: not whole BSON documents (truncated or damaged)",
        ),
    ],
    ids=["index-type", "index-twice", "index-option", "ttl", "system-name", "no-id", "cut-short"],
)
async def test_implausible_manifest_or_documents_are_refused(
    dump_dir: Path, target: Any, tamper: Any, message: str
) -> None:
    tamper(dump_dir)
    with pytest.raises(AppError) as refused:
        await import_database(dump_dir, target)
    assert refused.value.code is ErrorCode.MANIFEST_INVALID
    assert message in refused.value.message
    assert await target.list_collection_names() == []


async def test_missing_dump_directory_is_not_found(tmp_path: Path, target: Any) -> None:
    with pytest.raises(AppError) as missing:
        await import_database(tmp_path / "nowhere", target)
    assert missing.value.code is ErrorCode.NOT_FOUND
    assert "does not exist" in missing.value.message
    (tmp_path / "file").write_text("x")
    with pytest.raises(AppError) as not_dir:
        await import_database(tmp_path / "file", target)
    assert "is not a directory" in not_dir.value.message


async def test_non_empty_target_refused_unless_overwrite(dump_dir: Path, target: Any) -> None:
    await target["customers"].insert_one({"_id": "stale"})
    await target["unrelated"].insert_one({"_id": 1})
    with pytest.raises(AppError) as refused:
        await import_database(dump_dir, target)
    assert refused.value.code is ErrorCode.TARGET_NOT_EMPTY
    assert sorted(await target.list_collection_names()) == ["customers", "unrelated"]

    result = await import_database(dump_dir, target, overwrite=True)
    assert result.ok, result.to_dict()
    assert await target["customers"].find_one({"_id": "stale"}) is None
    assert await target["customers"].count_documents({}) == 40
    assert await target["unrelated"].count_documents({}) == 1


# ---------------------------------------------------------------- export atomicity


async def test_failed_export_leaves_no_directory(source: Any, tmp_path: Path) -> None:
    def explode(collection: str, done: int, total: int | None) -> None:
        if collection == "customers":
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await export_database(source, tmp_path / "dump", on_progress=explode)
    assert list(tmp_path.iterdir()) == []


async def test_existing_export_is_replaced_only_when_told(source: Any, tmp_path: Path) -> None:
    directory = tmp_path / "dump"
    directory.mkdir()
    (directory / "old.txt").write_text("old")
    with pytest.raises(AppError) as refused:
        await export_database(source, directory)
    assert refused.value.code is ErrorCode.ALREADY_EXISTS

    result = await export_database(source, directory, overwrite=True, collections=["services"])
    assert result.ok and [c.name for c in result.collections] == ["services"]
    assert sorted(p.name for p in directory.iterdir()) == [MANIFEST_NAME, "services.bson"]
    assert [p.name for p in tmp_path.iterdir()] == ["dump"]  # no temp or old dirs left
    check_dump(directory)


async def test_collection_names_become_safe_file_names(tmp_path: Path, backend: Backend) -> None:
    db = backend.client("default")["odd"]
    await db["a/b"].insert_one({"x": 1})
    await db["A/B"].insert_one({"x": 2})
    await export_database(db, tmp_path / "d")
    files = {
        e["name"]: e["file"] for e in read_json_file(tmp_path / "d" / MANIFEST_NAME)["collections"]
    }
    # "/" escaped; names equal but for case get distinct files (case-insensitive disks).
    assert files == {"A/B": "A%2FB.bson", "a/b": "a%2Fb~2.bson"}
    target = backend.client(SECOND_CLUSTER)["odd"]
    assert (await import_database(tmp_path / "d", target)).ok
    assert await target["a/b"].count_documents({"x": 1}) == 1


# ---------------------------------------------------------------- Extended JSON and hashing


def test_extended_json_round_trip_of_each_type() -> None:
    doc = {
        "_id": ObjectId(),
        "decimal": Decimal128("-0.000001"),
        "date": datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC),
        "binary": Binary(b"\x01\x02", 5),
        "bytes": b"\x00",
        "long_small": Int64(-3),
        "long_big": Int64(-(2**63)),
        "int": 2**31 - 1,
        "nan": float("nan"),
    }
    back = loads_ejson(dumps_ejson(doc))
    assert canonical_bson(back) == canonical_bson(doc)
    assert isinstance(back["long_small"], Int64) and type(back["int"]) is int
    assert back["date"].tzinfo is not None


def test_content_digest_definition() -> None:
    docs = [{"_id": i, "v": {"a": 1, "b": [i, "x"]}} for i in range(50)]
    shuffled = docs[:]
    random.Random(1).shuffle(shuffled)
    forward, backward = ContentDigest(), ContentDigest()
    forward.add_many(docs)
    for doc in shuffled:
        backward.add(doc)
    assert forward == backward and len(forward.hexdigest) == 64  # order-independent
    assert ContentDigest(forward.count, forward.hexdigest) == forward  # resumable state

    def digest(*items: dict[str, Any]) -> ContentDigest:
        d = ContentDigest()
        d.add_many(items)
        return d

    # Top-level _id position does not matter (bson.encode writes it first) ...
    assert digest({"a": 1, "_id": 1}) == digest({"_id": 1, "a": 1})
    # ... field order elsewhere does (MongoDB compares embedded documents in order),
    assert digest({"_id": 1, "v": {"a": 1, "b": 2}}) != digest({"_id": 1, "v": {"b": 2, "a": 1}})
    # BSON types count, and a document twice does not cancel out (unlike XOR).
    assert digest({"_id": 1, "n": 5}) != digest({"_id": 1, "n": Int64(5)})
    assert digest({"_id": 1, "n": 5}) != digest({"_id": 1, "n": 5.0})
    twice = digest({"_id": 1}, {"_id": 1})
    assert twice != digest() and twice.count == 2


def test_bson_file_stats_counts_documents(tmp_path: Path) -> None:
    path = tmp_path / "f.bson"
    docs = [{"_id": i, "pad": "x" * (i * 700_000)} for i in range(4)]  # spans read chunks
    write_docs(path, docs)
    stats = bson_file_stats(path)
    assert stats.lines == 4 and stats.size == path.stat().st_size
    assert [d["_id"] for d in read_docs(path)] == [0, 1, 2, 3]
    path.write_bytes(path.read_bytes()[:-1])
    assert bson_file_stats(path).lines == -1  # not whole documents


def test_file_stats_counts_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a":1}\n\n{"a":2}')
    stats = file_stats(path)
    assert stats.lines == 2 and stats.size == 16
