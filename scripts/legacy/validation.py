"""The validation of an import: re-read the source, re-map it, compare with the target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scripts.legacy.report import CollectionReport, Issue, Validation
from scripts.legacy.sources import Source
from scripts.legacy.writes import BatchMapper, Mapped, freeze, key_label
from tenancy.mongo_types import Database

MAX_MISMATCHES = 1000

ExtraCheck = Callable[[dict[str, Any], dict[str, Any]], list[str]]


async def validate_collection(
    source: Source,
    collection: str,
    entry: CollectionReport,
    mapper: BatchMapper,
    *,
    batch_size: int,
    extra_checks: dict[int, ExtraCheck] | None = None,
) -> None:
    """Re-read the source, re-map it and compare with the target.

    Sets ``validation`` on ``entry`` and on every derived report the mapper
    writes to: expected documents found, ``check`` fields equal, no extra
    documents with the same ``legacy_source``, and ``extra_checks[id(report)]
    (source_doc, target_doc) -> [problem, ...]`` for independent checks
    (e.g. final price against the legacy ``final_price``). The source is
    re-read ``batch_size`` records at a time.
    """
    extra_checks = extra_checks or {}
    states: dict[int, tuple[CollectionReport, Validation, set[Any]]] = {}
    markers: dict[tuple[int, str, str, str], Database] = {}

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
                    markers[(id(report), write.db.name, write.collection, write.marker)] = write.db
                by_collection.setdefault((write.db.name, write.collection), []).append(
                    (write, result.doc)
                )
        for writes in by_collection.values():
            await _compare(writes, entry, state_of, extra_checks)

    async for doc in source.iterate(collection, on_error=lambda rid, msg: None):
        batch.append(doc)
        if len(batch) >= batch_size:
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
        lookup = {freeze({"_id": d["_id"]}): d for d in found}
    else:
        lookup = {}
        for write, _ in writes:
            doc = await collection.find_one(write.key)
            if doc is not None:
                lookup[freeze(write.key)] = doc
    for write, source_doc in writes:
        report, validation, _seen = state_of(write.report or entry)
        target_doc = lookup.get(freeze(write.key))
        label = f"{write.target}:{write.collection}:{key_label(write.key)}"
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


__all__ = ["MAX_MISMATCHES", "ExtraCheck", "lookup_path", "validate_collection"]
