"""Export one database to a directory, and import such a directory into a database.

Directory layout (format version 2)::

    <directory>/
        manifest.json        what the dump holds (below)
        customers.bson       one file per collection, as mongodump writes them
        bookings.bson        (concatenated BSON documents, see tenancy.bson_files)
        ...

Each ``.bson`` file can also be read with ``bsondump`` or loaded by hand with
``mongorestore --db X --collection customers customers.bson``. BSON is
typed, so a document's own keys are never reinterpreted: a stored filter
``{"$regex": "^A", "$options": "i"}`` or a field ``{"$date": 5}`` comes back
exactly as it was. Version 1 dumps (relaxed Extended JSON Lines, ``.jsonl``,
written before 2026-12) are still read; in those, such keys were already
ambiguous when they were written.

``manifest.json`` (Extended JSON, indented)::

    {
      "format": "tenancy-dump",
      "format_version": 2,
      "database": "tenant_acme",            # name of the exported database
      "created_at": "2026-11-21T05:14:36Z", # UTC, ISO 8601
      "content_hash_algorithm": "...",      # see tenancy.ejson_io
      "collections": [
        {
          "name": "customers",
          "type": "collection",              # or "view" (no file)
          "file": "customers.bson",          # relative to the directory
          "count": 120,                      # documents in the file
          "sha256": "<64 hex>",              # SHA-256 of the file's bytes
          "size": 48213,                     # bytes
          "content_hash": "<64 hex>",        # order-independent hash of the documents
          "indexes": [{"key": {...}, "name": "...", "unique": true, ...}],
          "options": {...},                  # create_collection options
          "options_known": true              # false: the server did not list options
        }
      ]
    }

Export writes everything into a hidden temporary directory beside the
destination and renames it into place at the end, so a failed or interrupted
export never leaves a directory that looks complete. Import checks the
manifest (structure, collection names, index definitions) and every file
(count of lines and SHA-256) before it writes anything, then parses every
document and recomputes each collection's count and order-independent content
hash, so a dump whose documents were edited and whose file checksums were
recomputed to match is still refused before the first write. After writing it
verifies each imported collection against the manifest's count, content hash
and indexes (which catches any change of type on the way).
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from tenancy.bson_files import BsonWriter, bson_file_stats, iter_bson
from tenancy.copier import (
    DEFAULT_BATCH_SIZE,
    RECOVERABLE_ERRORS,
    CollectionResult,
    CollectionSpec,
    OperationResult,
    ProgressCallback,
    Status,
    build_indexes,
    collection_digest,
    compare_indexes,
    create_collection_from_spec,
    describe_mismatch,
    iter_batches,
    list_collection_specs,
    non_empty_collections,
    read_index_specs,
    select_specs,
)
from tenancy.ejson_io import (
    CONTENT_HASH_ALGORITHM,
    ContentDigest,
    FileStats,
    batched,
    file_stats,
    iter_jsonl,
    read_json_file,
    write_json_file,
)
from tenancy.errors import AppError, ErrorCode
from tenancy.models import utcnow
from tenancy.naming import check_no_case_twin

FORMAT = "tenancy-dump"
FORMAT_VERSION = 2
READABLE_VERSIONS = frozenset({1, 2})  # 1: JSON Lines files
DATA_SUFFIXES = (".bson", ".jsonl")
MANIFEST_NAME = "manifest.json"

_SAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def _file_name(collection: str, taken: set[str]) -> str:
    """A portable file name for ``collection`` (unsafe characters %-escaped,
    unique even on case-insensitive file systems)."""
    stem = _SAFE_FILE_CHARS.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), collection)
    stem = "_" + stem if stem.startswith(".") else stem
    name, n = f"{stem}.bson", 1
    while name.casefold() in taken:
        n += 1
        name = f"{stem}~{n}.bson"
    taken.add(name.casefold())
    return name


def data_file_stats(path: Path) -> FileStats:
    """Documents, size and SHA-256 of a data file (``.bson``; ``.jsonl`` of version 1)."""
    return bson_file_stats(path) if path.suffix == ".bson" else file_stats(path)


def iter_data_file(path: Path) -> Iterator[dict[str, Any]]:
    """Documents of a data file, one at a time. Raises ``ValueError`` naming where it broke."""
    return iter_bson(path) if path.suffix == ".bson" else iter_jsonl(path)


def iter_data_batches(path: Path, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Documents of a data file in lists of at most ``batch_size``."""
    return batched(iter_data_file(path), batch_size)


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
    db: AsyncDatabase,
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
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"batch_size must be >= 1, got {batch_size!r}")
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
    db: AsyncDatabase,
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
    file_name = _file_name(spec.name, taken)
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


# ---------------------------------------------------------------- manifest


def _invalid(directory: Path, problems: list[str]) -> AppError:
    listed = "; ".join(problems[:20]) + (
        f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
    )
    return AppError(
        ErrorCode.MANIFEST_INVALID,
        f"dump {directory} failed verification, nothing was written: {listed}",
    )


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check the structure of ``<directory>/manifest.json``.

    Returns:
        The manifest (see module docstring).
    Raises:
        AppError(MANIFEST_INVALID): missing, unparsable, another format or
            version, or malformed entries (unsafe file names included).
    """
    root = Path(directory)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise _invalid(root, [f"{MANIFEST_NAME} is missing"])
    try:
        manifest = read_json_file(path)
    except (ValueError, OSError) as exc:
        raise _invalid(root, [f"{MANIFEST_NAME} cannot be read: {exc}"]) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _invalid(root, [f"{MANIFEST_NAME} is not a {FORMAT} manifest"])
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise _invalid(
            root,
            [f"format_version {manifest.get('format_version')!r} is not one of 1, 2"],
        )
    entries = manifest.get("collections")
    if not isinstance(entries, list):
        raise _invalid(root, ["collections must be a list"])
    problems: list[str] = []
    names: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"collections[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(f"{where} has no name")
            continue
        name = entry["name"]
        if (problem := _collection_name_problem(name)) is not None:
            problems.append(problem)
        if name in names:
            problems.append(f"collection {name} is listed twice")
        names.add(name)
        if not isinstance(entry.get("options", {}), dict):
            problems.append(f"{name}: options must be an object")
        if entry.get("type", "collection") == "view":
            continue
        file_name = entry.get("file")
        if (
            not isinstance(file_name, str)
            or not file_name
            or file_name != Path(file_name).name
            or file_name in (".", "..", MANIFEST_NAME)
            or not file_name.endswith(DATA_SUFFIXES)
        ):
            problems.append(f"{name}: file {file_name!r} is not a plain file name")
        for key in ("count", "size"):
            if not isinstance(entry.get(key), int) or entry[key] < 0:
                problems.append(f"{name}: {key} must be a non-negative integer")
        for key in ("sha256", "content_hash"):
            if not re.fullmatch(r"[0-9a-f]{64}", str(entry.get(key, ""))):
                problems.append(f"{name}: {key} must be 64 hex digits")
        problems.extend(_index_problems(name, entry.get("indexes")))
    algorithm = manifest.get("content_hash_algorithm", CONTENT_HASH_ALGORITHM)
    if algorithm != CONTENT_HASH_ALGORITHM:
        problems.append(f"content_hash_algorithm {algorithm!r} is not the one this version uses")
    if problems:
        raise _invalid(root, problems)
    return manifest


#: Index key values a server accepts besides a non-zero number (1, -1).
_INDEX_KEY_TYPES = frozenset({"text", "2d", "2dsphere", "hashed", "geoHaystack"})
#: Index options whose value must have this type when present.
_INDEX_OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "unique": bool,
    "sparse": bool,
    "hidden": bool,
    "expireAfterSeconds": int,
    "partialFilterExpression": dict,
    "collation": dict,
    "weights": dict,
    "wildcardProjection": dict,
}


def _collection_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a collection name (MongoDB naming restrictions), or None."""
    if not name or "\0" in name or "$" in name:
        return f"collection name {name!r} is empty or contains '$' or NUL"
    if name.startswith("system."):
        return f"collection name {name!r} is reserved (system.*)"
    return None


def _index_problems(collection: str, indexes: Any) -> list[str]:
    """Sanity of a manifest's index list: shape, key values, unique names, option types."""
    if not isinstance(indexes, list):
        return [f"{collection}: indexes must be a list of {{key, name, ...}}"]
    problems: list[str] = []
    names: set[str] = set()
    for i, spec in enumerate(indexes):
        where = f"{collection}: index {i}"
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), dict) or not spec["key"]:
            problems.append(f"{where} must be an object with a non-empty key")
            continue
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{where} has no name")
            continue
        where = f"{collection}: index {name!r}"
        if name == "_id_":
            problems.append(f"{where} is the implicit _id index and must not be listed")
        if name in names:
            problems.append(f"{where} is listed twice")
        names.add(name)
        for field_name, kind in spec["key"].items():
            number = isinstance(kind, int | float) and not isinstance(kind, bool) and kind != 0
            if not (field_name and (number or kind in _INDEX_KEY_TYPES)):
                problems.append(f"{where}: key {field_name!r}: {kind!r} is not an index type")
        for option, expected in _INDEX_OPTION_TYPES.items():
            value = spec.get(option)
            wrong = not isinstance(value, expected) or (
                expected is int and (isinstance(value, bool) or value < 0)
            )
            if option in spec and wrong:
                problems.append(f"{where}: option {option} has an invalid value {value!r}")
    return problems


def check_dump(
    directory: str | os.PathLike[str],
    *,
    content: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Check a dump without writing anything.

    Always: the manifest (:func:`read_manifest`: structure, collection names,
    index definitions), and for every collection file that it exists, has
    ``count`` lines, ``size`` bytes and the recorded SHA-256, and that no
    other ``.jsonl`` file lies beside them. With ``content``: every document
    of every file is parsed (bounded memory: ``batch_size`` at a time); each
    must be a JSON object with an ``_id``, and each collection's document
    count and order-independent content hash (:class:`ContentDigest`) must
    equal the manifest's. File checksums alone can be recomputed after an
    edit; the content hash of the documents then still differs.

    Args:
        directory: the dump directory.
        content: also parse and hash every document (default).
        batch_size: documents hashed at a time (>= 1).
        on_progress: ``("check:<collection>", documents_done, count)``.
    Returns:
        The manifest.
    Raises:
        AppError(NOT_FOUND): ``directory`` does not exist or is not a directory.
        AppError(MANIFEST_INVALID) listing every problem found.
    """
    root = Path(directory)
    if not root.is_dir():
        state = "is not a directory" if root.exists() else "does not exist"
        raise AppError(ErrorCode.NOT_FOUND, f"dump directory {root} {state}")
    manifest = read_manifest(root)
    problems: list[str] = []
    intact: list[dict[str, Any]] = []
    for entry in manifest["collections"]:
        if entry.get("type", "collection") == "view":
            continue
        path = root / entry["file"]
        if not path.is_file():
            problems.append(f"{entry['file']} is missing")
            continue
        stats = data_file_stats(path)
        if stats.lines < 0:
            problems.append(f"{entry['file']}: not whole BSON documents (truncated or damaged)")
        elif stats.lines != entry["count"]:
            problems.append(
                f"{entry['file']}: {stats.lines} documents, the manifest says {entry['count']}"
            )
        elif stats.size != entry["size"] or stats.sha256 != entry["sha256"]:
            problems.append(f"{entry['file']}: checksum differs from the manifest (file changed)")
        else:
            intact.append(entry)
    listed = {entry.get("file") for entry in manifest["collections"]}
    strays = sorted(
        p.name for p in root.iterdir() if p.suffix in DATA_SUFFIXES and p.name not in listed
    )
    if strays:
        problems.append(f"files not in the manifest: {', '.join(strays)}")
    if content and not problems:
        for entry in intact:
            problems.extend(_content_problems(root, entry, batch_size, on_progress))
    if problems:
        raise _invalid(root, problems)
    return manifest


def _content_problems(
    root: Path, entry: dict[str, Any], batch_size: int, on_progress: ProgressCallback | None
) -> list[str]:
    """Parse one collection file; compare its documents' count and content hash
    with the manifest entry. Returns the problems found (empty: it checks out)."""
    file_name = entry["file"]
    label = f"check:{entry['name']}"
    digest = ContentDigest()
    batch: list[dict[str, Any]] = []
    try:
        for doc in iter_data_file(root / file_name):
            if "_id" not in doc:
                return [f"{file_name}: document {digest.count + len(batch) + 1} has no _id"]
            batch.append(doc)
            if len(batch) >= batch_size:
                digest.add_many(batch)
                batch = []
                if on_progress:
                    on_progress(label, digest.count, entry["count"])
        digest.add_many(batch)
    except ValueError as exc:  # names the file and line
        return [str(exc)]
    if on_progress:
        on_progress(label, digest.count, entry["count"])
    expected = ContentDigest(entry["count"], entry["content_hash"])
    mismatch = describe_mismatch(expected, digest, "the manifest", "the file")
    return [f"{file_name}: {mismatch}"] if mismatch else []


# ---------------------------------------------------------------- import


async def holds_dump(
    manifest: dict[str, Any],
    db: AsyncDatabase,
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
    db: AsyncDatabase,
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
    :func:`tenancy.operations.restore_tenant`, which imports into a staging
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
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"batch_size must be >= 1, got {batch_size!r}")
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
                    error=f"not run: the import stopped at {stopped_at}",
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
        except (*RECOVERABLE_ERRORS, ValueError) as exc:
            item.fail(f"{type(exc).__name__}: {exc}")
            stopped_at = name
        finally:
            item.seconds = time.perf_counter() - t0
    result.seconds = time.perf_counter() - started
    return result


async def _import_collection(
    root: Path,
    entry: dict[str, Any],
    db: AsyncDatabase,
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
            item.fail("this server cannot create views")
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
    db: AsyncDatabase,
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
        item.fail(mismatch, ErrorCode.VERIFICATION_FAILED)
    problems, extras = compare_indexes(entry["indexes"], await read_index_specs(db[name]))
    for problem in problems:
        item.fail(problem, ErrorCode.VERIFICATION_FAILED)
    item.warnings.extend(extras)
