"""The copy command: copy a database to another database (same or another
cluster), resumably, verifying each collection.

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
4. verifies count, content hash and indexes on both sides
   (:func:`tenancy.databases.verify.verify_collection`).

Checkpoint (resumability): the progress record lives in the TARGET database,
collection ``_copy_state`` (``state_collection``): one ``{"_id": "run"}``
document naming the source database, and one ``{"_id": "c:<collection>"}``
document per collection with its state (``copying``, ``copied``, ``done``,
``failed``), the ``_id`` of the last document written (``last_id``,
``has_last``) and the number written. It is updated after every batch. It
lives beside the data it describes (drop the target and the checkpoint goes
with it), needs nothing from the caller, is never copied (the copy skips it
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

Progress: ``on_progress`` as described in :mod:`tenancy.databases.batches`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tenancy.databases.batches import (
    DEFAULT_BATCH_SIZE,
    ProgressCallback,
    after_id_filter,
    check_batch_size,
    iter_batches,
)
from tenancy.databases.indexes import build_indexes, read_index_specs
from tenancy.databases.results import (
    RECOVERABLE_ERRORS,
    CollectionResult,
    OperationResult,
    describe,
)
from tenancy.databases.specs import (
    STATE_COLLECTION,
    CollectionSpec,
    create_collection_from_spec,
    list_collection_specs,
    non_empty_collections,
    select_specs,
)
from tenancy.databases.verify import verify_collection, verify_database
from tenancy.errors import AppError, ErrorCode
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.naming import check_no_case_twin
from tenancy.reports import Status

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- checkpoint


class CopyCheckpoint:
    """The progress record of a copy, kept in the target database (see module docstring)."""

    RUN_ID = "run"

    def __init__(self, target: Database, collection: str) -> None:
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
        """Record (or refresh) the run: which source, with which batch size."""
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
        """The record of collection ``name`` (empty when it has none)."""
        return self.collections.get(name) or {}

    async def save(self, name: str, **fields: Any) -> None:
        """Merge ``fields`` into the record of collection ``name``."""
        fields["updated_at"] = utcnow()
        record = self.collections.setdefault(name, {"_id": self._key(name)})
        record.update(fields)
        await self._coll.update_one({"_id": self._key(name)}, {"$set": fields}, upsert=True)

    async def drop(self) -> None:
        """Remove the whole record (the copy is finished, or starts over)."""
        await self._coll.drop()
        self.run = None
        self.collections = {}


# ---------------------------------------------------------------- copy


@dataclass
class _CopyJob:
    source: Database
    target: Database
    batch_size: int
    checkpoint: CopyCheckpoint
    on_progress: ProgressCallback | None

    def progress(self, label: str, done: int, total: int | None) -> None:
        if self.on_progress:
            self.on_progress(label, done, total)


async def copy_database(
    source: Database,
    target: Database,
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
    check_batch_size(batch_size)
    if source.name == target.name and getattr(source, "client", None) == getattr(
        target, "client", None
    ):
        raise AppError(ErrorCode.VALIDATION_FAILED, "source and target are the same database")

    result = OperationResult("copy", describe(source), describe(target), dry_run=dry_run)
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
                    detail=f"not run: the copy stopped at {stopped_at}; run it again to resume",
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
            item.fail_with(exc, ErrorCode.DATABASE_UNAVAILABLE)
            stopped_at = spec.name
            log.warning("copy of %s stopped: %s", spec.name, exc)
        finally:
            item.seconds = time.perf_counter() - t0

    if result.ok and all(r.get("state") == "done" for r in checkpoint.collections.values()):
        await checkpoint.drop()
    result.seconds = time.perf_counter() - started
    return result


async def _already_copied(
    source: Database,
    target: Database,
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
    result = OperationResult("copy", describe(source), describe(target))
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
        item.action, item.resumed = "skip", int(state.get("copied", 0))
    elif state.get("state") == "copying" and state.get("has_last"):
        item.action, item.resumed = "resume", int(state.get("copied", 0))
        item.written = max(item.source_count - item.resumed, 0)
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
        item.fail(ErrorCode.DATABASE_UNAVAILABLE, "this server cannot create views")


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
        item.resumed = int(state.get("copied", 0))
        job.progress(name, item.resumed, total)
        return

    if state.get("state") == "copying" and state.get("has_last"):
        item.action = "resume"
        item.resumed = int(state.get("copied", 0))
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

    item.written = await _copy_documents(job, name, query=query, done=item.resumed, total=total)

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
    if outcome.error is not None:
        item.fail(outcome.error.code, outcome.error.message)
