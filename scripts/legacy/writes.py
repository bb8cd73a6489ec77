"""What a mapper returns and how one of its writes is applied.

A mapper turns source records into :class:`MapResult` values: each holds the
idempotent upserts (:class:`Mapped`) made from one record, or why the record
is skipped (:class:`Skip`). :func:`write_one` applies one upsert and names its
outcome; :func:`insert_once` and :func:`per_doc` build the common cases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import WriteError

from scripts.legacy.convert import ConversionError
from scripts.legacy.report import CollectionReport
from tenancy.mongo_types import Database

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

    db: Database
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
        return (self.db.name, self.collection, freeze(self.key))


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


def freeze(value: Any) -> Any:
    """``value`` made hashable (dicts and lists as sorted / ordered tuples), for write idents."""
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
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
        return ERROR_PREFIX + f"no document {key_label(write.key)} to update (removed meanwhile?)"
    return "updated" if result.modified_count else "already_present"


def write_error_reason(write: Mapped, outcome: str) -> str:
    """The "skipped" reason of a refused write (``outcome`` from :func:`write_one`)."""
    return f"not written to {write.collection}: {outcome[len(ERROR_PREFIX) :]}"


def insert_once(
    db: Database,
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


def key_label(key: dict[str, Any]) -> str:
    """A write's key as shown in reports: the ``_id``, or ``field=value,...``."""
    if set(key) == {"_id"}:
        return str(key["_id"])
    return ",".join(f"{k}={v}" for k, v in key.items())


__all__ = [
    "ERROR_PREFIX",
    "NO_ID_REASON",
    "BatchMapper",
    "DocMapper",
    "MapResult",
    "Mapped",
    "Skip",
    "describe_write_error",
    "freeze",
    "insert_once",
    "key_label",
    "per_doc",
    "source_id",
    "write_error_reason",
    "write_one",
]
