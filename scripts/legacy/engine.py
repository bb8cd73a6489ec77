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

The parts it drives have their own modules: what a mapper returns and how one
write is applied (:mod:`scripts.legacy.writes`), the checkpoint store
(:mod:`scripts.legacy.checkpoints`), the validation (:mod:`scripts.legacy.validation`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from scripts.legacy.checkpoints import Checkpoint, Progress
from scripts.legacy.report import CollectionReport, ImportReport, Issue
from scripts.legacy.sources import Source
from scripts.legacy.validation import ExtraCheck, validate_collection
from scripts.legacy.writes import (
    ERROR_PREFIX,
    BatchMapper,
    Mapped,
    MapResult,
    freeze,
    source_id,
    write_error_reason,
    write_one,
)
from tenancy.models import utcnow
from tenancy.runtime import Runtime

# Upserts of one batch in flight at once. One ``update_one`` per document rather than
# ``bulk_write``: each document gets its exact outcome (inserted, changed, unchanged,
# or its own duplicate-key error) without decoding bulk error indices.
WRITE_CONCURRENCY = 32
AfterBatch = Callable[[list[MapResult], set[tuple[str, str, Any]]], Awaitable[None]]


class Engine:
    """Runs collections of one import.

    Args:
        runtime: the target runtime (its platform database holds the checkpoints).
        run: the import's name (``"legacy-clinics"``), part of checkpoint keys.
        report: the report entries are added to.
        batch_size: records per batch (one checkpoint per batch).
        now: the run's reference time (UTC).
        on_progress: ``(source collection, records done, total)`` after each batch.
    """

    def __init__(
        self,
        runtime: Runtime,
        run: str,
        report: ImportReport,
        *,
        batch_size: int = 500,
        now: datetime | None = None,
        on_progress: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.runtime = runtime
        self.run = run
        self.report = report
        self.batch_size = batch_size
        self.now = now or utcnow()
        self.progress = Progress(runtime.store.db)
        self.on_progress = on_progress

    def key(self, source: Source, collection: str) -> str:
        """The checkpoint key of a source collection: ``"<run>:<database>.<collection>"``."""
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
                r for r in write.requires if (write.db.name, r[0], freeze({"_id": r[1]})) in failed
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
        """Validate one collection in batches of ``batch_size``; see
        :func:`scripts.legacy.validation.validate_collection`."""
        await validate_collection(
            source,
            collection,
            entry,
            mapper,
            batch_size=self.batch_size,
            extra_checks=extra_checks,
        )


__all__ = ["WRITE_CONCURRENCY", "AfterBatch", "Engine"]
