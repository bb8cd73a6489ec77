"""Reading a collection in batches, in ``_id`` order, with progress callbacks.

Every database operation (copy, export, import, verify) reads and writes in
batches of at most ``batch_size`` documents, so memory stays bounded by one
batch plus the driver's cursor batch, never a whole collection.

Progress: long operations call ``on_progress(label, done, total)`` where
``label`` is the collection name while data moves, ``"verify:<name>"`` while
a collection is hashed for verification and ``"check:<name>"`` while a dump
file is checked; ``done`` counts documents and ``total`` is the expected
number of documents (an estimate) or ``None``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from bson import ObjectId, Timestamp
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.regex import Regex
from pymongo.errors import PyMongoError

from tenancy.errors import AppError, ErrorCode
from tenancy.mongo_types import Collection

DEFAULT_BATCH_SIZE = 1000

#: ``on_progress(label, done, total)``: see the module docstring.
ProgressCallback = Callable[[str, int, int | None], None]


def check_batch_size(batch_size: int) -> None:
    """Raise AppError(VALIDATION_FAILED) unless ``batch_size`` is an int >= 1."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"batch_size must be >= 1, got {batch_size!r}")


async def iter_batches(
    collection: Collection,
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


async def after_id_filter(collection: Collection, last_id: Any) -> dict[str, Any]:
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
