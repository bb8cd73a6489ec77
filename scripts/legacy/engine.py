"""The import engine: stream a source in batches, write idempotently, checkpoint, validate.

How a re-run stays free of duplicates: every target document has a stable
key (the legacy ``_id`` where it is unique, a natural key such as a plan's
``key``, or a deterministic derived id), and every write is an upsert on
that key, mostly ``$setOnInsert``, so an existing document is matched and
left alone. How an interrupted run resumes: after each batch is written,
the position and last id of the source stream are stored in the platform
collection ``legacy_import_state``; the next run of that collection skips
the records before the checkpoint (after checking that the record at the
checkpoint still has the recorded id, else it re-reads everything, which is
safe because the writes are idempotent). A collection that finished is read
in full again on the next run, so records added to a live source since are
picked up.

No multi-document transactions are used (the brief); an interruption between
a batch's writes and its checkpoint only means that batch is matched again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import WriteError

from scripts.legacy.convert import ConversionError
from scripts.legacy.report import CollectionReport, ImportReport, Issue, Validation
from scripts.legacy.sources import Source
from tenancy.models import utcnow
from tenancy.runtime import Platform

STATE_COLLECTION = "legacy_import_state"
MAX_MISMATCHES = 1000
MAX_STORED_SKIPS = 10_000  # skipped records kept in a checkpoint, re-reported on resume
# Upserts of one batch in flight at once. One ``update_one`` per document rather than
# ``bulk_write``: each document gets its exact outcome (inserted, changed, unchanged,
# or its own duplicate-key error) without decoding bulk error indices.
WRITE_CONCURRENCY = 32
NO_ID_REASON = "record has no _id"
ERROR_PREFIX = "error:"


class Skip(Exception):
    """Raised by a mapper: this source record is not imported, for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Mapped:
    """One idempotent upsert produced from a source record.

    Attributes:
        db: the target database.
        target: report label of the target (tenant slug or ``"platform"``).
        collection: target collection name.
        key: filter that identifies the document (``{"_id": ...}`` or a natural key).
        update: the upsert's update document (``{"$setOnInsert": doc}`` usually).
        check: expected field values, compared by the validation.
        report: the report this write is counted in; ``None`` means the
            source collection's own report.
        merged: the record folds into a document already counted in this run.
        stage: writes of a batch run in ascending stage (customers before bookings).
        requires: ``(collection, _id)`` of writes in the same batch that must have
            succeeded (a booking requires its customer).
        marker: the document's ``legacy_source``, for the validation's duplicate count.
        upsert: create the document when ``key`` matches none; ``False`` for writes
            into a document that must already exist (a legacy record merged into a
            customer the tenant already has): no match is then an error, never a stub.
    """

    db: AsyncDatabase
    target: str
    collection: str
    key: dict[str, Any]
    update: dict[str, Any]
    check: dict[str, Any]
    report: CollectionReport | None = None
    merged: bool = False
    stage: int = 0
    requires: tuple[tuple[str, Any], ...] = ()
    marker: str | None = None
    upsert: bool = True

    @property
    def ident(self) -> tuple[str, str, Any]:
        return (self.db.name, self.collection, _freeze(self.key))


@dataclass
class MapResult:
    """What a mapper made of one source record."""

    source_id: str
    doc: dict[str, Any]
    writes: list[Mapped] = field(default_factory=list)
    skip: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Accounting for records that need no write: (report, target, outcome).
    tallies: list[tuple[CollectionReport, str, str]] = field(default_factory=list)


BatchMapper = Callable[[list[dict[str, Any]]], Awaitable[list[MapResult]]]
DocMapper = Callable[[dict[str, Any], Callable[[str], None]], list[Mapped]]
AfterBatch = Callable[[list[MapResult], set[tuple[str, str, Any]]], Awaitable[None]]
ExtraCheck = Callable[[dict[str, Any], dict[str, Any]], list[str]]


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def source_id(doc: dict[str, Any]) -> str:
    """The record's id as reported (``str(_id)``; ``"?"`` when it has none)."""
    value = doc.get("_id")
    return "?" if value is None else str(value)


async def write_one(write: Mapped) -> str:
    """Apply one :class:`Mapped` write.

    Returns:
        ``"written"`` (inserted), ``"updated"`` (changed), ``"already_present"``
        (matched, unchanged), or ``"error:<why>"`` for a refused write (duplicate
        key, or no document to update when ``upsert`` is off); other database
        errors propagate.
    """
    try:
        result = await write.db[write.collection].update_one(
            write.key, write.update, upsert=write.upsert
        )
    except WriteError as exc:
        return ERROR_PREFIX + describe_write_error(exc)
    if result.upserted_id is not None:
        return "written"
    if not write.upsert and result.matched_count == 0:
        return ERROR_PREFIX + f"no document {_key_label(write.key)} to update (removed meanwhile?)"
    return "updated" if result.modified_count else "already_present"


def write_error_reason(write: Mapped, outcome: str) -> str:
    """The "skipped" reason of a refused write (``outcome`` from :func:`write_one`)."""
    return f"not written to {write.collection}: {outcome[len(ERROR_PREFIX) :]}"


def insert_once(
    db: AsyncDatabase,
    target: str,
    collection: str,
    doc: dict[str, Any],
    check_fields: tuple[str, ...] | None = None,
    **extra: Any,
) -> Mapped:
    """A write that inserts ``doc`` under its ``_id`` once and never changes it afterwards.

    Args:
        check_fields: fields the validation compares (default: all of ``doc``).
        extra: further :class:`Mapped` attributes (``report``, ``stage``...).
    """
    fields = check_fields if check_fields is not None else tuple(doc)
    return Mapped(
        db=db,
        target=target,
        collection=collection,
        key={"_id": doc["_id"]},
        update={"$setOnInsert": doc},
        check={f: doc.get(f) for f in fields},
        marker=doc.get("legacy_source"),
        **extra,
    )


def per_doc(fn: DocMapper) -> BatchMapper:
    """Lift a per-record mapper ``fn(doc, warn) -> [Mapped]`` (raising Skip or
    ConversionError) into a batch mapper."""

    async def run(docs: list[dict[str, Any]]) -> list[MapResult]:
        results = []
        for doc in docs:
            result = MapResult(source_id(doc), doc)
            if doc.get("_id") is None:
                result.skip = NO_ID_REASON
                results.append(result)
                continue
            try:
                result.writes = fn(doc, result.warnings.append)
            except (Skip, ConversionError) as exc:
                result.skip = exc.reason if isinstance(exc, Skip) else str(exc)
                result.warnings.clear()
            results.append(result)
        return results

    return run


@dataclass
class Checkpoint:
    """Where an unfinished run stopped: records read, the last one's id, and
    the records before it that were skipped (re-reported by the resumed run)."""

    position: int
    last_id: str | None
    skipped: list[Issue] = field(default_factory=list)
    skipped_count: int = 0


class Progress:
    """Resume checkpoints, one document per source collection in ``legacy_import_state``.

    Document: ``{_id: "<run>:<db>.<collection>", status: "running"|"done",
    position: int, last_id: str, skipped: [{id, reason}], skipped_count: int,
    started_at, updated_at, finished_at, summary}``.
    """

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[STATE_COLLECTION]

    async def begin(self, key: str) -> Checkpoint | None:
        """Mark ``key`` running; the checkpoint of an unfinished earlier run, if any."""
        doc = await self.collection.find_one({"_id": key})
        resume = None
        if doc and doc.get("status") == "running" and int(doc.get("position") or 0) > 0:
            resume = Checkpoint(
                int(doc["position"]),
                doc.get("last_id"),
                [Issue(s["id"], s["reason"]) for s in doc.get("skipped") or []],
                int(doc.get("skipped_count") or 0),
            )
        changes: dict[str, Any] = {"status": "running", "updated_at": utcnow()}
        if resume is None:
            changes.update(
                position=0,
                last_id=None,
                skipped=[],
                skipped_count=0,
                started_at=utcnow(),
                finished_at=None,
            )
        await self.collection.update_one({"_id": key}, {"$set": changes}, upsert=True)
        return resume

    async def advance(
        self, key: str, position: int, last_id: str, skipped: list[Issue] | None = None
    ) -> None:
        """Record a completed batch: ``position`` records read, and the batch's skipped records."""
        update: dict[str, Any] = {
            "$set": {"position": position, "last_id": last_id, "updated_at": utcnow()}
        }
        if skipped:
            update["$push"] = {
                "skipped": {
                    "$each": [{"id": i.id, "reason": i.reason} for i in skipped],
                    "$slice": MAX_STORED_SKIPS,
                }
            }
            update["$inc"] = {"skipped_count": len(skipped)}
        await self.collection.update_one({"_id": key}, update)

    async def finish(self, key: str, summary: dict[str, Any]) -> None:
        await self.collection.update_one(
            {"_id": key},
            {
                "$set": {
                    "status": "done",
                    "finished_at": utcnow(),
                    "updated_at": utcnow(),
                    "summary": summary,
                }
            },
        )

    async def state(self, key: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": key})


class Engine:
    """Runs collections of one import.

    Args:
        platform: the target platform (its database holds the checkpoints).
        run: the import's name (``"legacy-clinics"``), part of checkpoint keys.
        report: the report entries are added to.
        batch_size: records per batch (one checkpoint per batch).
        now: the run's reference time (UTC).
        on_progress: ``(source collection, records done, total)`` after each batch.
    """

    def __init__(
        self,
        platform: Platform,
        run: str,
        report: ImportReport,
        *,
        batch_size: int = 500,
        now: datetime | None = None,
        on_progress: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.platform = platform
        self.run = run
        self.report = report
        self.batch_size = batch_size
        self.now = now or utcnow()
        self.progress = Progress(platform.store.db)
        self.on_progress = on_progress

    def key(self, source: Source, collection: str) -> str:
        return f"{self.run}:{source.name}.{collection}"

    # -- reading -----------------------------------------------------------

    async def _records(
        self,
        source: Source,
        collection: str,
        entry: CollectionReport,
        checkpoint: Checkpoint | None,
    ) -> AsyncIterator[tuple[int, dict[str, Any]]]:
        """``(position, doc)`` after the checkpoint (1-based positions); sets ``entry.resumed``."""
        if checkpoint is not None:
            # Unreadable records met while skipping count only if the resume is confirmed.
            held: list[Issue] = []
            holding = [True]

            def on_error(record_id: str, message: str) -> None:
                if holding[0]:
                    held.append(Issue(record_id, message))
                else:
                    entry.skip(record_id, message)

            iterator = source.iterate(collection, on_error=on_error).__aiter__()
            position, verified = 0, False
            async for doc in iterator:
                position += 1
                if position == checkpoint.position:
                    verified = source_id(doc) == checkpoint.last_id
                    break
            if verified:
                entry.skipped.extend(held)
                holding[0] = False
                # Skipped records before the checkpoint are reported again; the rest were written.
                entry.skipped.extend(checkpoint.skipped)
                entry.resumed = position - checkpoint.skipped_count
                if checkpoint.skipped_count > len(checkpoint.skipped):
                    entry.notes.append(
                        f"{checkpoint.skipped_count - len(checkpoint.skipped)} records skipped "
                        "before the checkpoint are not listed again (too many to keep)"
                    )
                entry.read += position
                entry.notes.append(
                    f"resumed after record {position} (an earlier run stopped there)"
                )
                current = position
                async for doc in iterator:
                    current += 1
                    yield current, doc
                return
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                await closer()
            entry.notes.append(
                f"checkpoint at record {checkpoint.position} ({checkpoint.last_id}) does not "
                "match the source any more; read everything again (writes are idempotent)"
            )
        position = 0
        async for doc in source.iterate(collection, on_error=entry.skip):
            position += 1
            yield position, doc

    # -- writing -----------------------------------------------------------

    async def run_collection(
        self,
        source: Source,
        collection: str,
        entry: CollectionReport,
        mapper: BatchMapper,
        *,
        after_batch: AfterBatch | None = None,
    ) -> None:
        """Import one source collection into ``entry`` (counts, skips, warnings).

        Raises:
            Whatever the source or the target raises (the checkpoint keeps the
            last completed batch, so the next run resumes there).
        """
        entry.source_count = await source.count(collection)
        key = self.key(source, collection)
        checkpoint = await self.progress.begin(key)
        batch: list[dict[str, Any]] = []
        last: tuple[int, str] | None = None
        async for position, doc in self._records(source, collection, entry, checkpoint):
            entry.read += 1
            batch.append(doc)
            last = (position, source_id(doc))
            if len(batch) >= self.batch_size:
                skipped = await self._process(batch, entry, mapper, after_batch)
                await self.progress.advance(key, *last, skipped)
                batch = []
                if self.on_progress:
                    self.on_progress(entry.source, position, entry.source_count)
        if batch:
            skipped = await self._process(batch, entry, mapper, after_batch)
            assert last is not None
            await self.progress.advance(key, *last, skipped)
        if self.on_progress and last is not None:
            self.on_progress(entry.source, last[0], entry.source_count)
        await self.progress.finish(
            key, {k: v for k, v in entry.to_dict(0).items() if isinstance(v, int)}
        )

    async def skip_collection(
        self, source: Source, collection: str, entry: CollectionReport, reason: str
    ) -> None:
        """Account for a collection that is deliberately not carried over (every record skipped)."""
        entry.source_count = await source.count(collection)
        async for doc in source.iterate(collection, on_error=entry.skip):
            entry.read += 1
            entry.skip(source_id(doc), reason)

    async def _process(
        self,
        docs: list[dict[str, Any]],
        entry: CollectionReport,
        mapper: BatchMapper,
        after_batch: AfterBatch | None,
    ) -> list[Issue]:
        """Map and write one batch; the batch's records ``entry`` skipped."""
        before = len(entry.skipped)
        results = await mapper(docs)
        groups: dict[tuple[Any, ...], list[tuple[Mapped, MapResult]]] = {}
        for result in results:
            if result.skip is not None:
                entry.skip(result.source_id, result.skip)
                continue
            for warning in result.warnings:
                entry.warn(result.source_id, warning)
            for report, target, outcome in result.tallies:
                report.tally(target, outcome)
            for write in result.writes:
                report = write.report or entry
                group = (write.stage, write.db.name, write.collection, id(report))
                groups.setdefault(group, []).append((write, result))
        failed: set[tuple[str, str, Any]] = set()
        for group in sorted(groups, key=lambda g: g[0]):
            await self._write_group(groups[group], entry, failed)
        if after_batch is not None:
            await after_batch([r for r in results if r.skip is None], failed)
        return entry.skipped[before:]

    async def _write_group(
        self,
        items: list[tuple[Mapped, MapResult]],
        entry: CollectionReport,
        failed: set[tuple[str, str, Any]],
    ) -> None:
        first = items[0][0]
        report = first.report or entry
        runnable: list[tuple[Mapped, MapResult]] = []
        for write, result in items:
            missing = [
                r for r in write.requires if (write.db.name, r[0], _freeze({"_id": r[1]})) in failed
            ]
            if missing:
                failed.add(write.ident)
                report.skip(
                    result.source_id,
                    f"not written: its {missing[0][0]} document "
                    f"{missing[0][1]} could not be written",
                )
            else:
                runnable.append((write, result))
        if not runnable:
            return
        gate = asyncio.Semaphore(WRITE_CONCURRENCY)

        async def upsert(write: Mapped) -> str:
            async with gate:
                return await write_one(write)

        outcomes = await asyncio.gather(*(upsert(write) for write, _ in runnable))
        for (write, result), outcome in zip(runnable, outcomes, strict=True):
            if outcome.startswith(ERROR_PREFIX):
                failed.add(write.ident)
                report.skip(result.source_id, write_error_reason(write, outcome))
            elif write.merged and outcome != "written":
                report.tally(write.target, "merged")
            else:
                report.tally(write.target, outcome)

    # -- validation ----------------------------------------------------------

    async def validate_collection(
        self,
        source: Source,
        collection: str,
        entry: CollectionReport,
        mapper: BatchMapper,
        *,
        extra_checks: dict[int, ExtraCheck] | None = None,
    ) -> None:
        """Re-read the source, re-map it and compare with the target.

        Sets ``validation`` on ``entry`` and on every derived report the mapper
        writes to: expected documents found, ``check`` fields equal, no extra
        documents with the same ``legacy_source``, and ``extra_checks[id(report)]
        (source_doc, target_doc) -> [problem, ...]`` for independent checks
        (e.g. final price against the legacy ``final_price``).
        """
        extra_checks = extra_checks or {}
        states: dict[int, tuple[CollectionReport, Validation, set[Any]]] = {}
        markers: dict[tuple[int, str, str, str], AsyncDatabase] = {}

        def state_of(report: CollectionReport) -> tuple[CollectionReport, Validation, set[Any]]:
            if id(report) not in states:
                states[id(report)] = (report, Validation(), set())
            return states[id(report)]

        state_of(entry)
        batch: list[dict[str, Any]] = []

        async def check(docs: list[dict[str, Any]]) -> None:
            results = await mapper(docs)
            by_collection: dict[tuple[str, str], list[tuple[Mapped, dict[str, Any]]]] = {}
            for result in results:
                if result.skip is not None:
                    continue
                for write in result.writes:
                    report, validation, seen = state_of(write.report or entry)
                    if write.ident in seen:
                        continue
                    seen.add(write.ident)
                    validation.expected += 1
                    if write.marker:
                        markers[(id(report), write.db.name, write.collection, write.marker)] = (
                            write.db
                        )
                    by_collection.setdefault((write.db.name, write.collection), []).append(
                        (write, result.doc)
                    )
            for writes in by_collection.values():
                await self._compare(writes, entry, state_of, extra_checks)

        async for doc in source.iterate(collection, on_error=lambda rid, msg: None):
            batch.append(doc)
            if len(batch) >= self.batch_size:
                await check(batch)
                batch = []
        if batch:
            await check(batch)
        for (report_id, _db, coll, marker), db in markers.items():
            validation = states[report_id][1]
            count = await db[coll].count_documents({"legacy_source": marker})
            validation.in_target = (validation.in_target or 0) + count
        for report, validation, _seen in states.values():
            report.validation = validation

    async def _compare(
        self,
        writes: list[tuple[Mapped, dict[str, Any]]],
        entry: CollectionReport,
        state_of: Callable[[CollectionReport], tuple[CollectionReport, Validation, set[Any]]],
        extra_checks: dict[int, ExtraCheck],
    ) -> None:
        first = writes[0][0]
        collection = first.db[first.collection]
        by_id = all(set(w.key) == {"_id"} for w, _ in writes)
        if by_id:
            ids = [w.key["_id"] for w, _ in writes]
            found = await collection.find({"_id": {"$in": ids}}).to_list(None)
            lookup = {_freeze({"_id": d["_id"]}): d for d in found}
        else:
            lookup = {}
            for write, _ in writes:
                doc = await collection.find_one(write.key)
                if doc is not None:
                    lookup[_freeze(write.key)] = doc
        for write, source_doc in writes:
            report, validation, _seen = state_of(write.report or entry)
            target_doc = lookup.get(_freeze(write.key))
            label = f"{write.target}:{write.collection}:{_key_label(write.key)}"
            if target_doc is None:
                _add_mismatch(validation, label, "missing in the target")
                continue
            validation.found += 1
            validation.checked += 1
            problems = [
                f"{name}: target {lookup_path(target_doc, name)!r} != expected {expected!r}"
                for name, expected in write.check.items()
                if lookup_path(target_doc, name) != expected
            ]
            extra = extra_checks.get(id(report))
            if extra is not None:
                problems.extend(extra(source_doc, target_doc))
            for problem in problems:
                _add_mismatch(validation, label, problem)


def lookup_path(doc: dict[str, Any], path: str) -> Any:
    """``doc["a"]["b"]`` for ``"a.b"``; ``None`` when a part is missing."""
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _add_mismatch(validation: Validation, label: str, problem: str) -> None:
    if len(validation.mismatches) < MAX_MISMATCHES:
        validation.mismatches.append(Issue(label, problem))


def _key_label(key: dict[str, Any]) -> str:
    if set(key) == {"_id"}:
        return str(key["_id"])
    return ",".join(f"{k}={v}" for k, v in key.items())


def describe_write_error(exc: WriteError) -> str:
    """A duplicate-key or other write error in words (the key value that collided)."""
    details = exc.details or {}
    if exc.code == 11000:
        value = details.get("keyValue")
        if not value:  # the in-process mock only puts it in the message
            message = str(exc)
            start = message.find("{'keyValue'")
            value = message[start:] if start >= 0 else ""
        return f"duplicate key {value} (another document already holds it)".replace("  ", " ")
    return str(details.get("errmsg") or exc)


__all__ = [
    "STATE_COLLECTION",
    "Engine",
    "MapResult",
    "Mapped",
    "Progress",
    "Skip",
    "describe_write_error",
    "insert_once",
    "per_doc",
    "source_id",
    "write_one",
]
