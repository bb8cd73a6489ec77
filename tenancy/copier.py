"""Copy a database to another database (same or another cluster) and verify copies.

``copy_database(source, target)`` takes two ``AsyncDatabase`` handles, possibly
from two clients (two clusters). For every collection it:

1. creates the target collection with the source's collection options
   (``list_collections``/``create_collection(**options)``; on a server that
   cannot list or apply options it continues without them and says so in
   the result's warnings);
2. copies the documents in ``_id`` order, ``insert_many`` per batch of at most
   ``batch_size`` documents (bounded memory: one batch plus the driver's
   cursor batch, never a whole collection), with
   ``bypass_document_validation`` so documents that predate a validator are
   copied as they are;
3. builds the source's indexes with all their options (one ``create_index``
   per index, after the data: one bulk build instead of index upkeep on
   every insert);
4. verifies count and content hash on both sides (:func:`verify_database`).

Checkpoint (resumability): the progress record lives in the TARGET database,
collection ``_copy_state`` (``state_collection``): one ``{"_id": "run"}``
document naming the source database, and one ``{"_id": "c:<collection>"}``
document per collection with its state (``copying``, ``copied``, ``done``,
``failed``), the ``_id`` of the last document written (``last_id``,
``has_last``) and the number written. It is updated after every batch. It
lives beside the data it describes (drop the target and the checkpoint goes
with it), needs nothing from the caller, is never copied (the copier skips it
in every source) and is dropped when a copy finishes with every collection
verified. A second run with the same target: skips ``done`` collections
(they are still verified again), resumes a ``copying`` collection after its
``last_id`` (first deleting target documents after ``last_id`` that a failed
batch may have left, so nothing is duplicated), and restarts ``failed`` ones.

Known limits: copies do not run in a transaction or on a snapshot: put the
tenant in maintenance (no writes) while it is copied. A TTL index on the
target may delete expired documents after the copy, and then verification
reports a count difference. Time series collections have no ``_id`` index,
so sorting them by ``_id`` needs a server-side sort.

Progress: long operations call ``on_progress(label, done, total)`` where
``label`` is the collection name while data moves and ``"verify:<name>"``
while a collection is hashed for verification, ``done`` counts documents and
``total`` is the expected number of documents (an estimate) or ``None``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId, Timestamp
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.regex import Regex
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from tenancy.ejson_io import ContentDigest, stable_json
from tenancy.errors import AppError, ErrorCode
from tenancy.models import utcnow
from tenancy.naming import check_no_case_twin

log = logging.getLogger(__name__)

STATE_COLLECTION = "_copy_state"
DEFAULT_BATCH_SIZE = 1000

#: ``on_progress(label, done, total)``: see the module docstring.
ProgressCallback = Callable[[str, int, int | None], None]

#: Failures that stop a run and leave a resumable state (network, server, disk).
RECOVERABLE_ERRORS: tuple[type[BaseException], ...] = (PyMongoError, OSError)


# ---------------------------------------------------------------- results


class Status(StrEnum):
    """Outcome of one collection."""

    OK = "ok"
    FAILED = "failed"
    PLANNED = "planned"  # dry run: what a real run would do
    NOT_RUN = "not_run"  # the run stopped at an earlier collection


@dataclass
class CollectionResult:
    """What happened to one collection.

    Attributes:
        name: collection name.
        status: see :class:`Status`.
        action: what the run did or (dry run) would do: ``copy``, ``replace``
            (target collection dropped first), ``resume``, ``skip`` (copied
            by an earlier run), ``export``, ``import``, ``verify``, ``view``.
        source_count: documents in the source (database, or dump manifest).
        target_count: documents counted in the target after the operation.
        written: documents written by this run (copied, imported, exported).
        skipped: documents not written by this run because an earlier run
            had written them (resume).
        indexes: secondary indexes (``_id`` excluded) created or checked.
        checksum_match: content hashes equal (``None``: not checked).
        source_hash / target_hash: content hashes (64 hex digits) or ``None``.
        error: why it failed, for a person; ``None`` when it did not.
        code: machine code of the failure, if any.
        warnings: things that did not fail the collection but lost fidelity
            or deserve a look (options a server could not apply...).
        seconds: wall time spent on the collection.
    """

    name: str
    status: Status = Status.OK
    action: str = "copy"
    source_count: int | None = None
    target_count: int | None = None
    written: int = 0
    skipped: int = 0
    indexes: int = 0
    checksum_match: bool | None = None
    source_hash: str | None = None
    target_hash: str | None = None
    error: str | None = None
    code: ErrorCode | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, message: str, code: ErrorCode | None = None) -> None:
        self.status = Status.FAILED
        self.error = message if not self.error else f"{self.error}; {message}"
        self.code = self.code or code

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (enums as strings)."""
        data = asdict(self)
        data["status"] = str(self.status)
        data["code"] = str(self.code) if self.code else None
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class OperationResult:
    """Outcome of an export, import, copy or verification.

    Attributes:
        operation: ``export``, ``import``, ``copy`` or ``verify``.
        source / target: human descriptions (database names, directories).
        dry_run: nothing was written.
        collections: one :class:`CollectionResult` per collection, in order.
        warnings: run-level warnings.
        started_at: UTC start time.
        seconds: wall time of the whole operation.
    """

    operation: str
    source: str
    target: str
    dry_run: bool = False
    collections: list[CollectionResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=utcnow)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no collection failed or was left out."""
        return all(c.status in (Status.OK, Status.PLANNED) for c in self.collections)

    @property
    def failed(self) -> list[CollectionResult]:
        """The collections that failed or did not run."""
        return [c for c in self.collections if c.status in (Status.FAILED, Status.NOT_RUN)]

    @property
    def documents_written(self) -> int:
        return sum(c.written for c in self.collections)

    def collection(self, name: str) -> CollectionResult:
        """The result of collection ``name`` (``KeyError`` if absent)."""
        for result in self.collections:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``ok``, ``status`` and every field, datetimes ISO 8601."""
        return {
            "operation": self.operation,
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "status": "ok" if self.ok else "failed",
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "documents_written": self.documents_written,
            "warnings": list(self.warnings),
            "collections": [c.to_dict() for c in self.collections],
        }


# ---------------------------------------------------------------- metadata helpers


@dataclass
class CollectionSpec:
    """A collection as ``list_collections`` describes it.

    Attributes:
        name: collection name.
        kind: ``collection``, ``view`` or ``timeseries``.
        options: ``create_collection`` keyword options (validator, collation,
            capped/size, timeseries, viewOn/pipeline...).
        options_known: False when the server could not list options;
            ``options`` is then empty.
    """

    name: str
    kind: str = "collection"
    options: dict[str, Any] = field(default_factory=dict)
    options_known: bool = True


def _is_internal(name: str, state_collection: str) -> bool:
    return name.startswith("system.") or name == state_collection


async def list_collection_specs(
    db: AsyncDatabase, *, state_collection: str = STATE_COLLECTION
) -> list[CollectionSpec]:
    """The collections of ``db`` with their options, sorted by name; views last.

    ``system.*`` collections and the copy checkpoint collection are left out.
    Falls back to ``list_collection_names`` (options unknown) on a server
    that does not implement ``listCollections`` with options (the mock).
    """
    specs: list[CollectionSpec] = []
    try:
        cursor = db.list_collections()
        if isinstance(cursor, Awaitable):
            cursor = await cursor
        async for info in cursor:
            name = info["name"]
            if _is_internal(name, state_collection):
                continue
            options = _creatable_options(dict(info.get("options") or {}))
            specs.append(CollectionSpec(name, info.get("type", "collection"), options, True))
    except NotImplementedError:
        names = await db.list_collection_names()
        specs = [
            CollectionSpec(name, "collection", {}, False)
            for name in names
            if not _is_internal(name, state_collection)
        ]
    specs.sort(key=lambda s: (s.kind == "view", s.name))
    return specs


def _creatable_options(options: dict[str, Any]) -> dict[str, Any]:
    """``listCollections`` options as ``create`` accepts them."""
    clustered = options.get("clusteredIndex")
    if isinstance(clustered, dict):
        options["clusteredIndex"] = {k: v for k, v in clustered.items() if k != "v"}
    return options


async def create_collection_from_spec(db: AsyncDatabase, spec: CollectionSpec) -> list[str]:
    """Create ``spec.name`` in ``db`` with ``spec.options``.

    Returns warnings (options the server could not apply). An existing
    collection is left as it is (its options are not changed).
    """
    if spec.name in await db.list_collection_names():
        if spec.options:
            return [f"{spec.name}: collection existed in the target; its options were kept"]
        return []
    if not spec.options:
        await db.create_collection(spec.name)
        return []
    try:
        await db.create_collection(spec.name, **spec.options)
    except NotImplementedError:
        # A server without support for these options ("Special options not supported").
        if spec.kind == "view":
            raise
        await db.create_collection(spec.name)
        return [
            f"{spec.name}: this server cannot create collections with options "
            f"({', '.join(sorted(spec.options))}); created without them"
        ]
    return []


_INDEX_METADATA = frozenset({"v", "ns", "background"})


def _normalise_index(info: dict[str, Any]) -> dict[str, Any]:
    spec = {k: v for k, v in info.items() if k not in _INDEX_METADATA}
    spec["key"] = dict(spec["key"])
    return spec


async def read_index_specs(collection: AsyncCollection) -> list[dict[str, Any]]:
    """Secondary index definitions of ``collection`` (the ``_id`` index excluded).

    Returns:
        ``listIndexes`` documents: ``key`` (ordered dict field -> direction or
        type), ``name`` and every option (``unique``, ``sparse``,
        ``partialFilterExpression``, ``expireAfterSeconds``, ``collation``,
        ``weights``...), without the server's ``v``/``ns``/``background``.
    """
    cursor = await collection.list_indexes()
    specs = [_normalise_index(dict(info)) async for info in cursor]
    # The _id index and a clustered index come with the collection itself.
    return [spec for spec in specs if spec.get("name") != "_id_" and not spec.get("clustered")]


def _index_keys(spec: dict[str, Any]) -> list[tuple[str, Any]]:
    """``create_index`` keys for a listed index (text indexes list ``_fts``/``_ftsx``)."""
    keys: list[tuple[str, Any]] = []
    for name, direction in spec["key"].items():
        if name == "_fts":
            keys.extend((field_name, "text") for field_name in spec.get("weights", {}))
        elif name != "_ftsx":
            keys.append((name, direction))
    return keys


async def build_index(collection: AsyncCollection, spec: dict[str, Any]) -> None:
    """Create one index with every option of ``spec`` (idempotent for equal specs)."""
    options = {k: v for k, v in spec.items() if k not in _INDEX_METADATA and k != "key"}
    await collection.create_index(_index_keys(spec), **options)


async def build_indexes(collection: AsyncCollection, specs: Sequence[dict[str, Any]]) -> list[str]:
    """Create every index of ``specs`` on a filled ``collection`` (one build each).

    Indexes already present with the same definition are left alone.
    Returns warnings (none today; kept for callers that report them).

    Raises:
        DuplicateKeyError: the documents break a unique index.
    """
    present = {index_fingerprint(spec) for spec in await read_index_specs(collection)}
    for spec in specs:
        if index_fingerprint(spec) not in present:
            await build_index(collection, spec)
    return []


def index_fingerprint(spec: dict[str, Any]) -> str:
    """Comparable text of an index definition (key order kept, option order not)."""
    options = {k: v for k, v in spec.items() if k not in _INDEX_METADATA and k != "key"}
    keys = [[name, direction] for name, direction in spec["key"].items()]
    return stable_json({"key": keys, "options": options})


def compare_indexes(
    expected: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """Compare two index lists by name.

    Returns:
        (problems, extras): missing or different indexes in ``actual``, and
        indexes only ``actual`` has.
    """
    wanted = {spec["name"]: index_fingerprint(spec) for spec in expected}
    found = {spec["name"]: index_fingerprint(spec) for spec in actual}
    problems = []
    for name, fingerprint in wanted.items():
        if name not in found:
            problems.append(f"index {name!r} is missing")
        elif found[name] != fingerprint:
            problems.append(f"index {name!r} differs: expected {fingerprint}, found {found[name]}")
    extras = [f"extra index {name!r}" for name in found if name not in wanted]
    return problems, extras


# ---------------------------------------------------------------- _id order helpers

# BSON comparison order of the types an _id can have (arrays cannot be _ids),
# and the $type alias that selects each group.
_ID_TYPE_GROUPS = [
    "minKey",
    "null",
    "number",
    "string",
    "object",
    "binData",
    "objectId",
    "bool",
    "date",
    "timestamp",
    "regex",
    "maxKey",
]


def _id_type_group(value: Any) -> int:
    checks: list[tuple[type | tuple[type, ...], str]] = [
        (MinKey, "minKey"),
        (type(None), "null"),
        (bool, "bool"),  # before numbers: bool is an int
        ((int, float), "number"),
        (str, "string"),
        (dict, "object"),
        (ObjectId, "objectId"),
        (datetime, "date"),
        (Timestamp, "timestamp"),
        (Regex, "regex"),
        (MaxKey, "maxKey"),
    ]
    for kind, group in checks:
        if isinstance(value, kind):
            return _ID_TYPE_GROUPS.index(group)
    type_name = type(value).__name__
    if type_name == "Decimal128":
        return _ID_TYPE_GROUPS.index("number")
    if isinstance(value, bytes) or type_name in {"Binary", "UUID"}:
        return _ID_TYPE_GROUPS.index("binData")
    return _ID_TYPE_GROUPS.index("object")


async def after_id_filter(collection: AsyncCollection, last_id: Any) -> dict[str, Any]:
    """A filter for the documents after ``last_id`` in ascending ``_id`` order.

    Range operators only match values of the same BSON type group, so ``_id``
    values of later type groups (a string ``_id`` after numeric ones...) are
    added with ``$type`` clauses, for the groups present in ``collection``.
    """
    clauses: list[dict[str, Any]] = [{"_id": {"$gt": last_id}}]
    for alias in _ID_TYPE_GROUPS[_id_type_group(last_id) + 1 :]:
        try:
            present = await collection.find_one({"_id": {"$type": alias}}, {"_id": 1})
        except (NotImplementedError, PyMongoError):
            # A server that cannot select some rare types (timestamp, regex...)
            # cannot hold such _ids in a resumable way either.
            continue
        if present is not None:
            clauses.append({"_id": {"$type": alias}})
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


async def iter_batches(
    collection: AsyncCollection,
    batch_size: int,
    *,
    query: dict[str, Any] | None = None,
    sort_by_id: bool = True,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Documents of ``collection`` (matching ``query``) in lists of at most
    ``batch_size``, ascending ``_id`` unless ``sort_by_id`` is False.

    Memory: one list plus the driver's cursor batch (``batch_size`` too).
    """
    cursor = collection.find(query or {})
    if sort_by_id:
        cursor = cursor.sort("_id", 1)
    cursor = cursor.batch_size(batch_size)
    batch: list[dict[str, Any]] = []
    async for doc in cursor:
        batch.append(doc)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


async def collection_digest(
    collection: AsyncCollection,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    label: str | None = None,
    total: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> ContentDigest:
    """Count and content hash of every document of ``collection`` (one pass,
    any order, bounded memory)."""
    digest = ContentDigest()
    async for batch in iter_batches(collection, batch_size, sort_by_id=False):
        digest.add_many(batch)
        if on_progress and label:
            on_progress(label, digest.count, total)
    return digest


async def non_empty_collections(
    db: AsyncDatabase, *, state_collection: str = STATE_COLLECTION
) -> list[str]:
    """Names of the collections of ``db`` that hold at least one document
    (``system.*`` and the checkpoint collection left out)."""
    names = []
    for name in sorted(await db.list_collection_names()):
        if _is_internal(name, state_collection):
            continue
        if await db[name].find_one({}, {"_id": 1}) is not None:
            names.append(name)
    return names


def _describe(db: AsyncDatabase) -> str:
    return f"database {db.name}"


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"batch_size must be >= 1, got {batch_size!r}")


def select_specs(
    specs: list[CollectionSpec], collections: Sequence[str] | None, where: str
) -> list[CollectionSpec]:
    """``specs`` limited to ``collections`` (all when ``None``).

    Raises:
        AppError(NOT_FOUND) naming the collections ``where`` lacks.
    """
    if collections is None:
        return specs
    known = {spec.name for spec in specs}
    missing = [name for name in collections if name not in known]
    if missing:
        raise AppError(ErrorCode.NOT_FOUND, f"{where} has no collection {', '.join(missing)}")
    wanted = set(collections)
    return [spec for spec in specs if spec.name in wanted]


# ---------------------------------------------------------------- checkpoint


class CopyCheckpoint:
    """The progress record of a copy, kept in the target database (see module docstring)."""

    RUN_ID = "run"

    def __init__(self, target: AsyncDatabase, collection: str) -> None:
        self._coll = target[collection]
        self.run: dict[str, Any] | None = None
        self.collections: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _key(name: str) -> str:
        return f"c:{name}"

    async def load(self) -> None:
        """Read the record (``run`` stays ``None`` when there is none)."""
        self.run = None
        self.collections = {}
        async for doc in self._coll.find({}):
            if doc["_id"] == self.RUN_ID:
                self.run = doc
            elif isinstance(doc["_id"], str) and doc["_id"].startswith("c:"):
                self.collections[doc["_id"][2:]] = doc

    async def start(self, source_name: str, batch_size: int) -> None:
        now = utcnow()
        await self._coll.update_one(
            {"_id": self.RUN_ID},
            {
                "$set": {"source": source_name, "batch_size": batch_size, "updated_at": now},
                "$setOnInsert": {"started_at": now},
            },
            upsert=True,
        )

    def state(self, name: str) -> dict[str, Any]:
        return self.collections.get(name) or {}

    async def save(self, name: str, **fields: Any) -> None:
        """Merge ``fields`` into the record of collection ``name``."""
        fields["updated_at"] = utcnow()
        record = self.collections.setdefault(name, {"_id": self._key(name)})
        record.update(fields)
        await self._coll.update_one({"_id": self._key(name)}, {"$set": fields}, upsert=True)

    async def drop(self) -> None:
        await self._coll.drop()
        self.run = None
        self.collections = {}


# ---------------------------------------------------------------- copy


@dataclass
class _CopyJob:
    source: AsyncDatabase
    target: AsyncDatabase
    batch_size: int
    checkpoint: CopyCheckpoint
    on_progress: ProgressCallback | None

    def progress(self, label: str, done: int, total: int | None) -> None:
        if self.on_progress:
            self.on_progress(label, done, total)


async def copy_database(
    source: AsyncDatabase,
    target: AsyncDatabase,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    collections: Sequence[str] | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    verify: bool = True,
    resume: bool = True,
    state_collection: str = STATE_COLLECTION,
    on_progress: ProgressCallback | None = None,
) -> OperationResult:
    """Copy every collection of ``source`` into ``target`` (see module docstring).

    Args:
        source: database to read (not modified).
        target: database to write; may belong to another client/cluster.
        batch_size: documents per read batch and per ``insert_many`` (>= 1).
        collections: names to copy (default: all but ``system.*``). With a
            selection, only the selected collections must be empty in the target.
        overwrite: allow a target whose collections hold documents; the
            copied collections are dropped and rewritten, others are kept
            (collections an unfinished earlier copy recorded are resumed,
            not rewritten: pass ``resume=False`` to start over).
        dry_run: check and report what would be done; write nothing.
        verify: verify count, content hash and indexes of each collection.
        resume: continue an unfinished copy recorded in the target.
        state_collection: name of the checkpoint collection in ``target``.
        on_progress: ``(label, done, total)`` callback (documents).
    Returns:
        An :class:`OperationResult` (``operation="copy"``). A failure while
        writing (network, server) stops the run: that collection is
        ``failed``, later ones ``not_run``, and the checkpoint is kept so a
        second run resumes. A verification failure marks the collection
        ``failed`` (code ``VERIFICATION_FAILED``) and the next run recopies
        it. The checkpoint is dropped when every collection is ok (and it
        records no unfinished collection outside ``collections``).
    Raises:
        AppError(VALIDATION_FAILED): bad ``batch_size``, or source and
            target are the same database.
        AppError(NOT_FOUND): a name in ``collections`` is not in the source.
        AppError(TARGET_NOT_EMPTY): the target holds documents and
            ``overwrite`` is False, or holds an unfinished copy of another
            source (or ``resume`` is False and ``overwrite`` too).
    """
    started = time.perf_counter()
    _check_batch_size(batch_size)
    if source.name == target.name and getattr(source, "client", None) == getattr(
        target, "client", None
    ):
        raise AppError(ErrorCode.VALIDATION_FAILED, "source and target are the same database")

    result = OperationResult("copy", _describe(source), _describe(target), dry_run=dry_run)
    specs = select_specs(
        await list_collection_specs(source, state_collection=state_collection),
        collections,
        f"source database {source.name}",
    )
    if specs and not specs[0].options_known:
        result.warnings.append(
            "the source server does not list collection options; collections are created "
            "without options (validators, collation...)"
        )

    if not dry_run:
        await check_no_case_twin(target)
    checkpoint = CopyCheckpoint(target, state_collection)
    await checkpoint.load()
    if checkpoint.run is not None:
        previous = checkpoint.run.get("source")
        if previous != source.name:
            raise AppError(
                ErrorCode.TARGET_NOT_EMPTY,
                f"target database {target.name} holds an unfinished copy of {previous!r}, "
                f"not {source.name!r}; drop the target database (or its {state_collection} "
                "collection) first",
            )
        if not resume:
            if not overwrite:
                raise AppError(
                    ErrorCode.TARGET_NOT_EMPTY,
                    f"target database {target.name} holds an unfinished copy; resume it, or "
                    "pass overwrite=True to start over",
                )
            if not dry_run:
                await checkpoint.drop()
            checkpoint.collections = {}

    owned = set(checkpoint.collections)
    selected = {spec.name for spec in specs} if collections is not None else None
    occupied = [
        n
        for n in await non_empty_collections(target, state_collection=state_collection)
        if n not in owned and (selected is None or n in selected)
    ]
    if occupied and not overwrite:
        done = await _already_copied(source, target, collections, batch_size, on_progress)
        if done is not None:
            done.dry_run = dry_run
            done.seconds = time.perf_counter() - started
            return done
        raise AppError(
            ErrorCode.TARGET_NOT_EMPTY,
            f"target database {target.name} is not empty ({', '.join(occupied)} hold "
            "documents) and is not a copy of the source; pass overwrite=True to replace "
            "the copied collections",
        )
    existing = set(await target.list_collection_names())

    job = _CopyJob(source, target, batch_size, checkpoint, on_progress)
    if dry_run:
        for spec in specs:
            result.collections.append(await _plan_collection(job, spec, existing, overwrite))
        result.seconds = time.perf_counter() - started
        return result

    await checkpoint.start(source.name, batch_size)
    stopped_at: str | None = None
    for spec in specs:
        if stopped_at is not None:
            result.collections.append(
                CollectionResult(
                    spec.name,
                    Status.NOT_RUN,
                    action="copy",
                    error=f"not run: the copy stopped at {stopped_at}; run it again to resume",
                )
            )
            continue
        item = CollectionResult(spec.name)
        result.collections.append(item)
        t0 = time.perf_counter()
        try:
            if spec.kind == "view":
                await _copy_view(job, spec, item, existing)
            else:
                await _copy_collection(job, spec, item, existing, overwrite)
                if verify:
                    await _verify_into(job, spec.name, item)
                if item.status is Status.OK:
                    await checkpoint.save(spec.name, state="done")
                else:
                    await checkpoint.save(spec.name, state="failed")
        except RECOVERABLE_ERRORS as exc:
            item.fail(f"{type(exc).__name__}: {exc}")
            stopped_at = spec.name
            log.warning("copy of %s stopped: %s", spec.name, exc)
        finally:
            item.seconds = time.perf_counter() - t0

    if result.ok and all(r.get("state") == "done" for r in checkpoint.collections.values()):
        await checkpoint.drop()
    result.seconds = time.perf_counter() - started
    return result


async def _already_copied(
    source: AsyncDatabase,
    target: AsyncDatabase,
    collections: Sequence[str] | None,
    batch_size: int,
    on_progress: ProgressCallback | None,
) -> OperationResult | None:
    """The result of a copy that an earlier run finished (its checkpoint is gone),
    or ``None`` when ``target`` is not a verified copy of ``source``.

    A copy killed after its last write, or run twice, then reports every
    collection as already there (``action="already-copied"``, verified
    again) instead of refusing a target that holds exactly the source.
    """
    verified = await verify_database(
        source, target, collections=collections, batch_size=batch_size, on_progress=on_progress
    )
    if not verified.ok:
        return None
    result = OperationResult("copy", _describe(source), _describe(target))
    for item in verified.collections:
        item.action = "already-copied"
        item.written = 0
        result.collections.append(item)
    result.warnings = [
        "the target already holds a verified copy of the source; nothing was written",
        *verified.warnings,
    ]
    return result


async def _plan_collection(
    job: _CopyJob, spec: CollectionSpec, existing: set[str], overwrite: bool
) -> CollectionResult:
    item = CollectionResult(spec.name, Status.PLANNED)
    if spec.kind == "view":
        item.action = "view"
        return item
    source = job.source[spec.name]
    item.source_count = await source.count_documents({})
    item.indexes = len(await read_index_specs(source))
    state = job.checkpoint.state(spec.name)
    if state.get("state") in ("done", "copied"):
        item.action, item.skipped = "skip", int(state.get("copied", 0))
    elif state.get("state") == "copying" and state.get("has_last"):
        item.action, item.skipped = "resume", int(state.get("copied", 0))
        item.written = max(item.source_count - item.skipped, 0)
    else:
        item.action = "replace" if spec.name in existing and overwrite else "copy"
        item.written = item.source_count
    if spec.options and not spec.options_known:
        item.warnings.append("collection options unknown")
    return item


async def _copy_view(
    job: _CopyJob, spec: CollectionSpec, item: CollectionResult, existing: set[str]
) -> None:
    item.action = "view"
    if spec.name in existing:
        item.warnings.append("a view or collection of this name existed in the target; kept")
        return
    try:
        item.warnings.extend(await create_collection_from_spec(job.target, spec))
    except NotImplementedError:
        item.fail("this server cannot create views")


async def _start_fresh(
    job: _CopyJob, spec: CollectionSpec, item: CollectionResult, existing: set[str], drop: bool
) -> None:
    """Empty target collection with the source's options, checkpoint at zero."""
    if drop and spec.name in existing:
        await job.target.drop_collection(spec.name)
        existing.discard(spec.name)
    item.warnings.extend(await create_collection_from_spec(job.target, spec))
    existing.add(spec.name)
    await job.checkpoint.save(spec.name, state="copying", has_last=False, last_id=None, copied=0)


async def _copy_documents(
    job: _CopyJob, name: str, *, query: dict[str, Any] | None, done: int, total: int | None
) -> int:
    """Copy documents of ``name`` matching ``query`` in ``_id`` order, saving
    the checkpoint after each batch. Returns the number written."""
    source, target = job.source[name], job.target[name]
    written = 0
    async for batch in iter_batches(source, job.batch_size, query=query):
        await target.insert_many(batch, ordered=True, bypass_document_validation=True)
        written += len(batch)
        await job.checkpoint.save(
            name, state="copying", has_last=True, last_id=batch[-1]["_id"], copied=done + written
        )
        job.progress(name, done + written, total)
    return written


async def _copy_collection(
    job: _CopyJob,
    spec: CollectionSpec,
    item: CollectionResult,
    existing: set[str],
    overwrite: bool,
) -> None:
    name = spec.name
    state = job.checkpoint.state(name)
    source = job.source[name]
    total = await source.estimated_document_count()
    index_specs = await read_index_specs(source)
    item.indexes = len(index_specs)

    if state.get("state") in ("done", "copied"):
        # Copied (and indexed) by an earlier run; verification runs again.
        item.action = "skip"
        item.skipped = int(state.get("copied", 0))
        job.progress(name, item.skipped, total)
        return

    if state.get("state") == "copying" and state.get("has_last"):
        item.action = "resume"
        item.skipped = int(state.get("copied", 0))
        after = await after_id_filter(source, state["last_id"])
        # A batch that failed part-way may have left documents after last_id.
        await job.target[name].delete_many(after)
        query: dict[str, Any] | None = after
    else:
        # New, restarted after a failed verification, or interrupted before its
        # first batch. An existing target collection is empty, was written by
        # an earlier run, or overwrite=True: it is dropped and created anew.
        replacing = name in existing and name not in job.checkpoint.collections and overwrite
        item.action = "replace" if replacing else "copy"
        await _start_fresh(job, spec, item, existing, drop=name in existing)
        query = None

    item.written = await _copy_documents(job, name, query=query, done=item.skipped, total=total)

    item.warnings.extend(await build_indexes(job.target[name], index_specs))
    await job.checkpoint.save(name, state="copied")


async def _verify_into(job: _CopyJob, name: str, item: CollectionResult) -> None:
    outcome = await verify_collection(
        job.source, job.target, name, batch_size=job.batch_size, on_progress=job.on_progress
    )
    item.source_count = outcome.source_count
    item.target_count = outcome.target_count
    item.source_hash = outcome.source_hash
    item.target_hash = outcome.target_hash
    item.checksum_match = outcome.checksum_match
    item.warnings.extend(outcome.warnings)
    if outcome.status is Status.FAILED:
        item.fail(outcome.error or "verification failed", ErrorCode.VERIFICATION_FAILED)


# ---------------------------------------------------------------- verification


def describe_mismatch(
    expected: ContentDigest, actual: ContentDigest, expected_side: str, actual_side: str
) -> str | None:
    """Why two digests differ, for a person (``None`` when they are equal)."""
    if expected.count != actual.count:
        return (
            f"count differs: {expected_side} has {expected.count} documents, "
            f"{actual_side} {actual.count}"
        )
    if expected != actual:
        return (
            f"content hash differs with equal counts ({expected.count}): at least one "
            f"document differs in a value, a BSON type or a field order"
        )
    return None


async def verify_collection(
    source: AsyncDatabase,
    target: AsyncDatabase,
    name: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    check_indexes: bool = True,
    on_progress: ProgressCallback | None = None,
) -> CollectionResult:
    """Compare collection ``name`` in ``source`` and ``target``: document count
    and content hash (each side hashed in one streaming pass) and, when
    ``check_indexes``, the index definitions.

    Returns:
        A :class:`CollectionResult` with ``action="verify"``, both counts and
        hashes, ``checksum_match``, and ``status`` ``failed`` (code
        ``VERIFICATION_FAILED``) with the reason when they differ. Extra
        target indexes are warnings, not failures.
    """
    item = CollectionResult(name, action="verify")
    t0 = time.perf_counter()
    src, dst = source[name], target[name]
    if name not in await target.list_collection_names():
        item.fail(f"collection {name} is missing in the target", ErrorCode.VERIFICATION_FAILED)
        return item
    total = await src.estimated_document_count()
    label = f"verify:{name}"
    expected = await collection_digest(
        src, batch_size=batch_size, label=label, total=total * 2, on_progress=on_progress
    )
    actual = await collection_digest(
        dst,
        batch_size=batch_size,
        label=label,
        total=total * 2,
        on_progress=(lambda lbl, done, tot: on_progress(lbl, expected.count + done, tot))
        if on_progress
        else None,
    )
    item.source_count, item.target_count = expected.count, actual.count
    item.source_hash, item.target_hash = expected.hexdigest, actual.hexdigest
    item.checksum_match = expected == actual
    mismatch = describe_mismatch(expected, actual, "source", "target")
    if mismatch:
        item.fail(mismatch, ErrorCode.VERIFICATION_FAILED)
    if check_indexes:
        source_indexes = await read_index_specs(src)
        problems, extras = compare_indexes(source_indexes, await read_index_specs(dst))
        item.indexes = len(source_indexes)
        for problem in problems:
            item.fail(problem, ErrorCode.VERIFICATION_FAILED)
        item.warnings.extend(extras)
    item.seconds = time.perf_counter() - t0
    return item


async def verify_database(
    source: AsyncDatabase,
    target: AsyncDatabase,
    *,
    collections: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    check_indexes: bool = True,
    state_collection: str = STATE_COLLECTION,
    on_progress: ProgressCallback | None = None,
) -> OperationResult:
    """Verify that ``target`` holds the same collections, documents and indexes
    as ``source`` (read only, both sides streamed; see :func:`verify_collection`).

    Args:
        source / target: the two databases (any clients).
        collections: names to verify (default: every source collection).
        batch_size: cursor batch size (documents).
        check_indexes: also compare index definitions.
        state_collection: checkpoint collection name, ignored on both sides.
        on_progress: ``("verify:<name>", done, total)`` callback.
    Returns:
        ``OperationResult(operation="verify")``; ``ok`` is False when any
        collection differs. Collections only the target has are warnings;
        collection options are compared when both servers list them.
    """
    started = time.perf_counter()
    _check_batch_size(batch_size)
    result = OperationResult("verify", _describe(source), _describe(target))
    source_specs = select_specs(
        await list_collection_specs(source, state_collection=state_collection),
        collections,
        f"source database {source.name}",
    )
    target_specs = {
        spec.name: spec
        for spec in await list_collection_specs(target, state_collection=state_collection)
    }
    for spec in source_specs:
        if spec.kind == "view":
            item = CollectionResult(spec.name, action="verify")
            if spec.name not in target_specs:
                item.fail("view is missing in the target", ErrorCode.VERIFICATION_FAILED)
        else:
            item = await verify_collection(
                source,
                target,
                spec.name,
                batch_size=batch_size,
                check_indexes=check_indexes,
                on_progress=on_progress,
            )
        other = target_specs.get(spec.name)
        if (
            other is not None
            and spec.options_known
            and other.options_known
            and stable_json(spec.options) != stable_json(other.options)
        ):
            item.fail(
                f"collection options differ: source {stable_json(spec.options)}, "
                f"target {stable_json(other.options)}",
                ErrorCode.VERIFICATION_FAILED,
            )
        result.collections.append(item)
    if collections is None:
        extra = sorted(set(target_specs) - {spec.name for spec in source_specs})
        if extra:
            result.warnings.append(f"collections only in the target: {', '.join(extra)}")
    result.seconds = time.perf_counter() - started
    return result
