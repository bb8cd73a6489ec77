"""Check a legacy source before anything is written: files present, every record readable,
the fields the importer interprets of the expected type.

An export that fails here is refused as a whole with one :class:`SourceError`
naming the file and line (or collection and ``_id``) and the field, and
nothing is written: a broken export is fixed and imported again, not
imported in part. Records that are well-formed but cannot be imported for a
reason of content (an unknown status, a price with fractions of a cent, a
``tenant_id`` naming no tenant) are not refused here; the import skips them
and reports them with their reason.

The field types are those of the legacy exports (``../shared/data``): what
each mapper in :mod:`scripts.legacy.crm_mapping` and
:mod:`scripts.legacy.clinics_mapping` reads and converts (the expected types:
``EXPECTED`` in :mod:`scripts.legacy.crm` and :mod:`scripts.legacy.clinics_spec`).
``None`` (JSON ``null``) and missing fields are always accepted here; the
mappers decide what a missing value means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from bson.decimal128 import Decimal128

from scripts.legacy.sources import NOTHING_WRITTEN, DirectorySource, Source, SourceError
from tenancy.errors import ErrorCode

# kind -> (accepts(value), description used in messages)
KINDS: dict[str, tuple[Any, str]] = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "number": (
        lambda v: isinstance(v, int | float | Decimal128) and not isinstance(v, bool),
        'a number (JSON number or {"$numberDecimal": ...})',
    ),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "datetime": (lambda v: isinstance(v, datetime), 'a date ({"$date": ...})'),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
}

FieldTypes = Mapping[str, str]
"""Field path (``"features.max_users"``) -> kind (a key of :data:`KINDS`)."""

Expected = Mapping[str, Mapping[str, FieldTypes]]
"""Legacy database -> collection -> field types: the collections an import needs."""


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, int | float | Decimal128):
        return f"a number ({value})"
    if isinstance(value, datetime):
        return "a date"
    return f"a {type(value).__name__}"


def _lookup(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def field_problem(doc: dict[str, Any], types: FieldTypes) -> str | None:
    """The first field of ``doc`` whose value is not of its kind, as
    ``"field 'unitPrice' is a string ('12,50'), expected a number"``; ``None`` if all fit."""
    for path, kind in types.items():
        value = _lookup(doc, path)
        if value is None:
            continue
        accepts, wanted = KINDS[kind]
        if not accepts(value):
            return f"field {path!r} is {_type_name(value)}, expected {wanted}"
    return None


async def _records(
    source: Source, collection: str
) -> AsyncIterator[tuple[str, dict[str, Any] | None, str | None]]:
    located = getattr(source, "located", None)
    if located is not None:
        async for item in located(collection):
            yield item
        return
    position = 0  # a source without locations (e.g. a wrapper in tests): positions
    async for doc in source.iterate(collection):
        position += 1
        yield f"{source.name}.{collection} record {position}", doc, None


async def check_sources(kind: str, sources: Mapping[str, Source], expected: Expected) -> int:
    """Refuse a legacy source that cannot be imported as it is; nothing is written.

    Checks, in order:

    1. a directory source has a ``<collection>.jsonl`` file for every expected
       collection (mongoexport writes an empty file for an empty collection;
       a live database may simply not have an empty collection);
    2. every record of every collection (expected or not) is a readable JSON
       object;
    3. the fields listed in ``expected`` have the listed kind (or are null/missing);
    4. the expected collections hold at least one record in all.

    Args:
        kind: ``"legacy-crm"`` / ``"legacy-clinics"`` (for messages).
        sources: legacy database -> source.
        expected: see :data:`Expected`.

    Returns:
        The number of records in the expected collections.

    Raises:
        SourceError: ``NOT_FOUND`` for missing files, ``VALIDATION_FAILED``
        otherwise; one line naming file and line (or collection and ``_id``)
        and field, ending in "nothing was imported".
    """
    for database, collections in expected.items():
        source = sources[database]
        if isinstance(source, DirectorySource):
            missing = [c for c in collections if not source.file(c).is_file()]
            if missing:
                files = ", ".join(f"{c}.jsonl" for c in missing)
                raise SourceError(
                    f"{source.path} has no {files} ({kind} needs one file per collection, "
                    f"an empty file for an empty collection); {NOTHING_WRITTEN}",
                    ErrorCode.NOT_FOUND,
                )
    total = 0
    for database, collections in expected.items():
        source = sources[database]
        for collection in await source.collection_names():
            types = collections.get(collection, {})
            async for where, doc, problem in _records(source, collection):
                if doc is None:
                    raise SourceError(f"{where}: {problem}; {NOTHING_WRITTEN}")
                wrong = field_problem(doc, types)
                if wrong is not None:
                    raise SourceError(f"{where}: {wrong}; {NOTHING_WRITTEN}")
                if collection in collections:
                    total += 1
    if total == 0:
        places = ", ".join(_place(sources[d]) for d in expected)
        raise SourceError(
            f"{kind}: no records to import in {places} (every expected collection is empty "
            f"or missing); {NOTHING_WRITTEN}"
        )
    return total


def _place(source: Source) -> str:
    return str(source.path) if isinstance(source, DirectorySource) else source.name


__all__ = ["KINDS", "Expected", "FieldTypes", "check_sources", "field_problem"]
