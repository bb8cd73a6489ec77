"""The dump command: export one database to a directory, and import such a
directory into a database. The format (directory layout, ``manifest.json``,
data files) and the checks a dump passes before anything is imported are in
:mod:`tenancy.databases.dump_format`.

Export writes everything into a hidden temporary directory beside the
destination and renames it into place at the end, so a failed or interrupted
export never leaves a directory that looks complete. Import checks the whole
dump first (:func:`~tenancy.databases.dump_format.check_dump`: manifest,
files, every document's count and content hash) before it writes anything.
After writing it verifies each imported collection against the manifest's
count, content hash and indexes (which catches any change of type on the way).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError

from tenancy.databases.batches import (
    DEFAULT_BATCH_SIZE,
    ProgressCallback,
    check_batch_size,
    iter_batches,
)
from tenancy.databases.bson_files import BsonWriter
from tenancy.databases.digests import (
    CONTENT_HASH_ALGORITHM,
    ContentDigest,
    collection_digest,
    describe_mismatch,
)
from tenancy.databases.dump_format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    check_dump,
    data_file_name,
    iter_data_batches,
)
from tenancy.databases.ejson_io import write_json_file
from tenancy.databases.indexes import build_indexes, compare_indexes, read_index_specs
from tenancy.databases.results import CollectionResult, OperationResult
from tenancy.databases.specs import (
    CollectionSpec,
    create_collection_from_spec,
    list_collection_specs,
    non_empty_collections,
    select_specs,
)
from tenancy.errors import AppError, ErrorCode
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.naming import check_no_case_twin
from tenancy.reports import Status


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------- export


async def export_database(
    db: Database,
    directory: str | os.PathLike[str],
    *,
    collections: Sequence[str] | None = None,
    overwrite: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> OperationResult:
    """Export ``db`` into ``directory`` (created; see the module docstring).

    Args:
        db: database to read (not modified).
        directory: destination directory; its parent is created if needed.
        collections: names to export (default: all but ``system.*`` and the
            copy checkpoint).
        overwrite: replace an existing ``directory`` (swapped in only once
            the new export is complete).
        batch_size: documents per cursor batch and per file write (>= 1).
        on_progress: ``(collection, documents_done, estimated_total)``.
    Returns:
        ``OperationResult(operation="export")``: per collection ``written``
        (= ``source_count``, documents in the file), ``source_hash``
        (content hash recorded in the manifest) and ``indexes``.
    Raises:
        AppError(ALREADY_EXISTS): ``directory`` exists and ``overwrite`` is False.
        AppError(NOT_FOUND): a name in ``collections`` is not in ``db``.
        AppError(VALIDATION_FAILED): ``batch_size`` < 1.
        Database and file errors propagate; the temporary directory is removed.
    """
    started = time.perf_counter()
    check_batch_size(batch_size)
    dest = Path(directory).absolute()
    if dest.exists() and not overwrite:
        raise AppError(
            ErrorCode.ALREADY_EXISTS, f"{dest} exists; pass overwrite=True to replace it"
        )
    specs = select_specs(await list_collection_specs(db), collections, f"database {db.name}")
    result = OperationResult("export", f"database {db.name}", str(dest))
    if specs and not specs[0].options_known:
        result.warnings.append("the server does not list collection options; none recorded")

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        entries = []
        taken: set[str] = set()
        for spec in specs:
            t0 = time.perf_counter()
            entry, item = await _export_collection(
                db, spec, tmp, taken, batch_size=batch_size, on_progress=on_progress
            )
            item.seconds = time.perf_counter() - t0
            entries.append(entry)
            result.collections.append(item)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "database": db.name,
            "created_at": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "content_hash_algorithm": CONTENT_HASH_ALGORITHM,
            "collections": entries,
        }
        write_json_file(tmp / MANIFEST_NAME, manifest)
        _fsync_dir(tmp)
        _swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.seconds = time.perf_counter() - started
    return result


def _swap_into_place(tmp: Path, dest: Path) -> None:
    """Rename the finished ``tmp`` to ``dest``; an old ``dest`` is moved aside
    first and removed after."""
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:12]}"
        dest.rename(old)
    try:
        tmp.rename(dest)
    except BaseException:
        if old is not None:
            old.rename(dest)
        raise
    _fsync_dir(dest.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


async def _export_collection(
    db: Database,
    spec: CollectionSpec,
    tmp: Path,
    taken: set[str],
    *,
    batch_size: int,
    on_progress: ProgressCallback | None,
) -> tuple[dict[str, Any], CollectionResult]:
    entry: dict[str, Any] = {
        "name": spec.name,
        "type": spec.kind,
        "options": spec.options,
        "options_known": spec.options_known,
    }
    item = CollectionResult(spec.name, action="export")
    if spec.kind == "view":
        item.action = "view"
        return entry, item
    collection = db[spec.name]
    total = await collection.estimated_document_count()
    digest = ContentDigest()
    file_name = data_file_name(spec.name, taken)
    with open(tmp / file_name, "wb") as fh:
        writer = BsonWriter(fh)
        async for batch in iter_batches(collection, batch_size):
            writer.write_many(batch)
            digest.add_many(batch)
            if on_progress:
                on_progress(spec.name, writer.count, total)
        fh.flush()
        os.fsync(fh.fileno())
    indexes = await read_index_specs(collection)
    entry.update(
        file=file_name,
        count=writer.count,
        sha256=writer.sha256,
        size=writer.size,
        content_hash=digest.hexdigest,
        indexes=indexes,
    )
    item.source_count = item.written = item.target_count = writer.count
    item.source_hash = digest.hexdigest
    item.indexes = len(indexes)
    return entry, item


# ---------------------------------------------------------------- import


async def holds_dump(
    manifest: dict[str, Any],
    db: Database,
    *,
    ignore: Sequence[str] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> bool:
    """True when ``db`` holds exactly the documents of a checked dump.

    Every collection of the manifest must have its count and content hash,
    and no other collection (but those in ``ignore``) may hold documents. A
    restore that was killed after it finished, or is run twice, is then
    recognised as done.
    """
    wanted = {e["name"]: e for e in manifest["collections"] if e.get("type") != "view"}
    others = set(await non_empty_collections(db)) - set(wanted) - set(ignore)
    if others:
        return False
    for name, entry in wanted.items():
        actual = await collection_digest(db[name], batch_size=batch_size)
        if actual != ContentDigest(entry["count"], entry["content_hash"]):
            return False
    return True


async def import_database(
    directory: str | os.PathLike[str],
    db: Database,
    *,
    overwrite: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    verify: bool = True,
    on_progress: ProgressCallback | None = None,
) -> OperationResult:
    """Import a dump made by :func:`export_database` into ``db``.

    Everything is checked before the first write (:func:`check_dump`, with
    every document parsed and hashed when ``verify``, and the target's
    emptiness). Then each collection is created with its options, filled with
    ``insert_many`` per batch of at most ``batch_size`` documents (bounded
    memory), indexed with every option, and verified against the manifest
    (count and content hash of the documents now in ``db``, indexes).

    This writes into ``db`` in place: with ``overwrite``, a failure part-way
    leaves ``db`` partly replaced. To replace a tenant's data safely, use
    :func:`tenancy.operations.relocation.restore_tenant`, which imports into a staging
    database and switches the tenant to it only once it is verified.

    Args:
        directory: the dump directory.
        db: target database (may be on any cluster).
        overwrite: allow a target that holds documents; the collections of
            the dump are dropped and replaced, other collections are kept.
        batch_size: documents per ``insert_many`` (>= 1).
        verify: check every document against the manifest before writing
            (count and content hash per collection) and each imported
            collection after (count, content hash, index definitions).
            ``False`` only for trusted dumps (the embedded snapshots).
        on_progress: ``("check:<name>", done, total)`` while the dump is
            checked, ``(collection, documents_done, total)`` while writing
            and ``("verify:<name>", done, total)``.
    Returns:
        ``OperationResult(operation="import")``; a collection whose count or
        hash differs from the manifest is ``failed`` (``VERIFICATION_FAILED``).
        A database error stops the import: that collection is ``failed``,
        later ones ``not_run`` (import again with ``overwrite=True``).
    Raises:
        AppError(NOT_FOUND): ``directory`` is missing.
        AppError(MANIFEST_INVALID): the manifest, a file or a document does
            not check out; nothing was written.
        AppError(TARGET_NOT_EMPTY): ``db`` holds documents and not ``overwrite``.
        AppError(VALIDATION_FAILED): ``batch_size`` < 1.
    """
    started = time.perf_counter()
    check_batch_size(batch_size)
    root = Path(directory).absolute()
    manifest = check_dump(root, content=verify, batch_size=batch_size, on_progress=on_progress)
    await check_no_case_twin(db)
    occupied = await non_empty_collections(db)
    if occupied and not overwrite:
        raise AppError(
            ErrorCode.TARGET_NOT_EMPTY,
            f"target database {db.name} is not empty ({', '.join(occupied)} hold documents); "
            "pass overwrite=True to replace the dump's collections",
        )
    result = OperationResult("import", str(root), f"database {db.name}")
    entries = sorted(manifest["collections"], key=lambda e: e.get("type") == "view")
    existing = set(await db.list_collection_names())
    stopped_at: str | None = None
    for entry in entries:
        name = entry["name"]
        if stopped_at is not None:
            result.collections.append(
                CollectionResult(
                    name,
                    Status.NOT_RUN,
                    action="import",
                    detail=f"not run: the import stopped at {stopped_at}",
                )
            )
            continue
        item = CollectionResult(name, action="import", source_count=entry.get("count"))
        result.collections.append(item)
        t0 = time.perf_counter()
        try:
            await _import_collection(
                root, entry, db, item, existing, batch_size=batch_size, on_progress=on_progress
            )
            if verify and entry.get("type", "collection") != "view":
                await _verify_import(db, entry, item, batch_size, on_progress)
        except PyMongoError as exc:
            item.fail_with(exc, ErrorCode.DATABASE_UNAVAILABLE)
            stopped_at = name
        except (OSError, ValueError) as exc:  # a data file that no longer reads (changed?)
            item.fail_with(exc, ErrorCode.MANIFEST_INVALID)
            stopped_at = name
        finally:
            item.seconds = time.perf_counter() - t0
    result.seconds = time.perf_counter() - started
    return result


async def _import_collection(
    root: Path,
    entry: dict[str, Any],
    db: Database,
    item: CollectionResult,
    existing: set[str],
    *,
    batch_size: int,
    on_progress: ProgressCallback | None,
) -> None:
    name = entry["name"]
    spec = CollectionSpec(
        name,
        entry.get("type", "collection"),
        dict(entry.get("options") or {}),
        bool(entry.get("options_known", True)),
    )
    if spec.kind == "view":
        item.action = "view"
        if name in existing:
            await db.drop_collection(name)
        try:
            item.warnings.extend(await create_collection_from_spec(db, spec))
        except NotImplementedError:
            item.fail(ErrorCode.DATABASE_UNAVAILABLE, "this server cannot create views")
        return

    path = root / entry["file"]
    total = entry["count"]
    collection = db[name]

    if name in existing:
        await db.drop_collection(name)
    item.warnings.extend(await create_collection_from_spec(db, spec))
    existing.add(name)
    item.written = 0
    for batch in iter_data_batches(path, batch_size):
        await collection.insert_many(batch, ordered=True, bypass_document_validation=True)
        item.written += len(batch)
        if on_progress:
            on_progress(name, item.written, total)
    item.indexes = len(entry["indexes"])
    item.warnings.extend(await build_indexes(collection, entry["indexes"]))


async def _verify_import(
    db: Database,
    entry: dict[str, Any],
    item: CollectionResult,
    batch_size: int,
    on_progress: ProgressCallback | None,
) -> None:
    name = entry["name"]
    expected = ContentDigest(entry["count"], entry["content_hash"])
    actual = await collection_digest(
        db[name],
        batch_size=batch_size,
        label=f"verify:{name}",
        total=entry["count"],
        on_progress=on_progress,
    )
    item.target_count = actual.count
    item.source_hash, item.target_hash = expected.hexdigest, actual.hexdigest
    item.checksum_match = expected == actual
    mismatch = describe_mismatch(expected, actual, "the dump", "the database")
    if mismatch:
        item.fail(ErrorCode.VERIFICATION_FAILED, mismatch)
    problems, extras = compare_indexes(entry["indexes"], await read_index_specs(db[name]))
    for problem in problems:
        item.fail(ErrorCode.VERIFICATION_FAILED, problem)
    item.warnings.extend(extras)
