"""Keyset (cursor) pagination over MongoDB collections.

A cursor is opaque to clients: base64url of the sort name and the sort-key
values of the last row. Keyset pagination stays fast at any depth (no
``skip``) and a cursor only ever selects rows of the database it is used
on, so a cursor from another tenant reveals nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId, json_util
from bson.errors import BSONError

from tenancy.errors import validation_error
from tenancy.mongo_types import Collection

SortSpec = list[tuple[str, int]]
_JSON = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL, tz_aware=True)
# Types a sort key can hold; anything else in a cursor is forged (e.g. a query operator).
_CURSOR_VALUE_TYPES = (str, int, float, datetime, ObjectId, type(None))
_INVALID_CURSOR = "cursor is not valid; use an endCursor from a page"
MAX_CURSOR_LENGTH = 1024  # our cursors are < 200 characters
# What decoding a forged cursor can raise: bad base64, bad JSON, bad Extended
# JSON wrappers ({"$oid": "zz"}, {"$numberDecimal": "x"}, {"$date": 1e30}).
_DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    ArithmeticError,
    RecursionError,
    binascii.Error,
    BSONError,
)


@dataclass(frozen=True)
class Page:
    """One page of documents plus what a connection needs."""

    docs: list[dict[str, Any]]
    cursors: list[str]
    has_next_page: bool
    count: Callable[[], Awaitable[int]]
    # Issue 12: true when the page was asked for after a cursor (that cursor's row,
    # and any before it, precede this page); no extra query.
    has_previous_page: bool = False


def encode_cursor(sort_name: str, values: list[Any]) -> str:
    raw = json_util.dumps([sort_name, values], json_options=_JSON)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort_name: str) -> list[Any]:
    """Values stored in ``cursor``.

    Raises:
        AppError(VALIDATION_FAILED) on field ``after`` for a malformed cursor
        (including values that are not plain sort keys, such as query
        operators) or one made for another sort order.
    """
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise validation_error("after", _INVALID_CURSOR)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
        decoded = json_util.loads(raw, json_options=_JSON)
    except _DECODE_ERRORS:
        raise validation_error("after", _INVALID_CURSOR) from None
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[0], str)):
        raise validation_error("after", _INVALID_CURSOR)
    name, values = decoded
    if name != sort_name or not isinstance(values, list):
        raise validation_error("after", "cursor belongs to another sort order; start again")
    if not all(_is_sort_key(v) for v in values):
        raise validation_error("after", _INVALID_CURSOR)
    return values


def _is_sort_key(value: Any) -> bool:
    """A plain, BSON-encodable sort-key value (lone surrogates cannot be encoded)."""
    if isinstance(value, bool) or not isinstance(value, _CURSOR_VALUE_TYPES):
        return False
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
    return not (isinstance(value, int) and not -(2**63) <= value < 2**63)


def _value(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None  # type: ignore[assignment]
    return doc


def keyset_filter(sort: SortSpec, values: list[Any]) -> dict[str, Any]:
    """Rows strictly after ``values`` in ``sort`` order (lexicographic over the keys)."""
    if len(values) != len(sort):
        raise validation_error("after", _INVALID_CURSOR)
    branches = []
    for i, (field, direction) in enumerate(sort):
        branch = {f: v for (f, _), v in zip(sort[:i], values[:i], strict=True)}
        branch[field] = {"$gt" if direction > 0 else "$lt": values[i]}
        branches.append(branch)
    return {"$or": branches}


async def fetch_page(
    collection: Collection,
    query: dict[str, Any],
    *,
    sort_name: str,
    sort: SortSpec,
    first: int,
    after: str | None,
) -> Page:
    """Fetch ``first`` documents after the cursor, in one round-trip.

    ``sort`` must end with ``_id`` so that the order is total.
    """
    page_query = query
    if after:
        page_query = {"$and": [query, keyset_filter(sort, decode_cursor(after, sort_name))]}
    docs = await collection.find(page_query).sort(sort).limit(first + 1).to_list(first + 1)
    has_next = len(docs) > first
    docs = docs[:first]
    cursors = [encode_cursor(sort_name, [_value(d, f) for f, _ in sort]) for d in docs]

    async def count() -> int:
        return await collection.count_documents(query)

    return Page(
        docs=docs,
        cursors=cursors,
        has_next_page=has_next,
        count=count,
        has_previous_page=bool(after),
    )
