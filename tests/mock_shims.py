"""The in-process MongoDB mock (pymongo-async-mock over mongomock) of the fast test leg.

Only the test backend (``tests/backends.py``) imports this module; the
product never does. Where the mock differs from a server, the server's
behaviour wins: these shims make the mock behave like one where the suite
depends on it (linear cursors and unique-index checks, bulk updates, an
awaitable ``close``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bson import Int64, ObjectId
from mongomock import DuplicateKeyError, OperationFailure, filtering, helpers
from mongomock.not_implemented import raise_for_feature
from pymongo_async_mock import AsyncMongoMockClient
from sentinels import NOTHING

_serial = itertools.count(1)


def new_mock_client(name: str | None = None) -> Any:
    """A fresh, empty in-process mock server with timezone-aware datetimes (like our real client).

    Each mock gets its own host name: mongomock compares clients by address,
    and two distinct mock "clusters" must not look like one server.
    """
    host = f"{name or 'mock'}-{next(_serial)}.mock.invalid"
    return AsyncMongoMockClient(host=host, port=27017, tz_aware=True)


def _fix_bulk_update_patch() -> None:
    """Install pymongo-async-mock's ``sort``-dropping bulk-update shim once.

    Version 0.1.3 wraps ``BulkOperationBuilder.add_update`` again for every
    collection handle (its guard looks for a name that ``functools.wraps``
    overwrites), so ``bulk_write`` hits ``RecursionError`` after about a
    thousand handles. A wrapper named ``add_update_compat`` satisfies the guard.
    """
    from mongomock.collection import BulkOperationBuilder

    original = BulkOperationBuilder.add_update
    if getattr(original, "__name__", "") == "add_update_compat":
        return

    def add_update_compat(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("sort", None)
        return original(*args, **kwargs)

    BulkOperationBuilder.add_update = add_update_compat  # type: ignore[method-assign]


def _linear_cursor_iteration() -> None:
    """Make mongomock's ``Cursor.__next__`` O(1).

    As shipped, every ``next`` slices the whole result list, so iterating N
    documents costs O(N^2) (a 110,000-document collection takes minutes to
    copy or export). This applies skip/limit by index instead: same results.
    """
    from mongomock.collection import Cursor

    def __next__(self: Any) -> Any:
        results = self._compute_results(with_limit_and_skip=False)
        stop = len(results)
        if self._limit:
            stop = min(stop, self._skip + abs(self._limit))
        position = self._skip + self._emitted
        if position >= stop:
            raise StopIteration
        self._emitted += 1
        return results[position]

    Cursor.__next__ = __next__  # type: ignore[method-assign]
    Cursor.next = __next__  # type: ignore[method-assign]


# ------------------------------------------------------------ unique indexes
#
# mongomock checks a unique index on every insert/update by running the
# query ``{field: value, ...}`` (and the partialFilterExpression) over the
# whole collection: N inserts cost O(N^2) filter evaluations. The shim keeps,
# per unique index, the documents grouped by a hashable token of their key,
# so a check evaluates the same query only on the few documents whose token
# could match (and on every indexed document when the new key has no token).

_NULL = object()  # token of a missing field and of null (``{f: None}`` matches both)
#: Exact types whose equal values hash equally (1 == 1.0 == True share a token).
_TOKEN_TYPES = frozenset({str, int, bool, float, Int64, ObjectId, datetime})
#: A document with more index keys than this (arrays) is checked against every insert.
_MAX_KEYS_PER_DOCUMENT = 64
_WILDCARD = None  # registered keys of a document that may match any token
_ATTRIBUTE = "_tenancy_unique_keys"


def _stored_tokens(value: Any) -> set[Any] | None:
    """Tokens of every query value ``value`` (one stored candidate) can equal.

    Mirrors mongomock's equality for a plain query value: a stored array
    matches its elements, a missing field or null matches ``None``. Returns
    None (wildcard) for a type whose equality is not known to follow its hash.
    """
    tokens: set[Any] = set()
    elements = value if isinstance(value, (list, tuple)) else [value]
    for element in elements:
        if element is None or element is NOTHING:
            tokens.add(_NULL)
        elif type(element) in _TOKEN_TYPES:
            tokens.add(element)
        elif not isinstance(element, (dict, list, tuple)):
            return _WILDCARD  # documents and arrays never equal a scalar; others may
    return tokens


def _query_tokens(value: Any) -> tuple[Any, ...] | None:
    """Tokens a stored value must carry to match the query value ``value``; None: any."""
    if value is None:
        return (_NULL,)
    if type(value) not in _TOKEN_TYPES or value != value:  # NaN
        return None
    if type(value) is ObjectId:
        return (value, str(value))  # mongomock also matches str(oid) inside an array
    return (value,)


class _UniqueKeys:
    """The indexed documents of one unique index, grouped by key token.

    Built from (and valid for) one ``CollectionStore._documents`` mapping and
    one index definition. Documents are registered after their checks pass;
    a deleted document stays registered until a check meets it (candidates
    are always read again from the store and matched with mongomock's filter,
    so a stale entry never causes a false duplicate).
    """

    def __init__(self, documents: Any, index: dict[str, Any]) -> None:
        self.documents = documents
        self.index = index
        self.fields = [field for field, _ in index["key"]]
        self.sparse = bool(index.get("sparse"))
        self.partial = index.get("partialFilterExpression")
        self.buckets: dict[tuple[Any, ...], set[Any]] = {}
        self.wildcard: set[Any] = set()
        self.keys_of: dict[Any, list[tuple[Any, ...]] | None] = {}

    def indexed(self, doc: dict[str, Any]) -> bool:
        """Whether the index holds ``doc``, as on a server.

        Sparse: at least one key field present (null counts as present).
        Partial: ``doc`` matches the partialFilterExpression.
        """
        if self.sparse and not any(_has_field(doc, field) for field in self.fields):
            return False
        return self.partial is None or filtering.filter_applies(self.partial, doc)

    def query(self, doc: dict[str, Any]) -> dict[str, Any]:
        """mongomock's uniqueness query for ``doc``: ``{field: value or None}``."""
        return {field: _value_or_none(doc, field) for field in self.fields}

    def keys(self, doc: dict[str, Any]) -> list[tuple[Any, ...]] | None:
        """Token tuples under which ``doc`` is found (None: wildcard)."""
        per_field: list[set[Any]] = []
        size = 1
        for field in self.fields:
            tokens: set[Any] = set()
            for value in filtering.iter_key_candidates(field, doc):
                found = _stored_tokens(value)
                if found is _WILDCARD:
                    return _WILDCARD
                tokens |= found
            size *= len(tokens)
            per_field.append(tokens)
        if size > _MAX_KEYS_PER_DOCUMENT:
            return _WILDCARD
        return list(itertools.product(*per_field))

    def candidates(self, query: dict[str, Any]) -> Iterable[Any]:
        """Ids of registered documents that may match ``query``."""
        per_field = [_query_tokens(value) for value in query.values()]
        if any(tokens is None for tokens in per_field):
            return list(self.keys_of)
        found = set(self.wildcard)
        for key in itertools.product(*per_field):  # type: ignore[arg-type]
            found |= self.buckets.get(key, set())
        return found

    def register(self, doc_id: Any, doc: dict[str, Any] | None) -> None:
        """Record ``doc`` (None or not indexed: forget ``doc_id``)."""
        self.forget(doc_id)
        if doc is None or not self.indexed(doc):
            return
        keys = self.keys(doc)
        self.keys_of[doc_id] = keys
        if keys is _WILDCARD:
            self.wildcard.add(doc_id)
            return
        for key in keys:
            self.buckets.setdefault(key, set()).add(doc_id)

    def forget(self, doc_id: Any) -> None:
        if doc_id not in self.keys_of:
            return
        keys = self.keys_of.pop(doc_id)
        if keys is _WILDCARD:
            self.wildcard.discard(doc_id)
            return
        for key in keys:
            bucket = self.buckets.get(key)
            if bucket is not None:
                bucket.discard(doc_id)
                if not bucket:
                    del self.buckets[key]

    def conflict(self, doc_id: Any, doc: dict[str, Any]) -> bool:
        """Whether stored ``doc`` (already in the store under ``doc_id``) breaks the index.

        mongomock's rule: more than one indexed document matches ``doc``'s
        query (``doc`` itself counts when it matches its own query). A
        document the index does not hold never conflicts.
        """
        if not self.indexed(doc):
            return False
        query = self.query(doc)
        matches = 1 if filtering.filter_applies(query, doc) else 0
        for other_id in self.candidates(query):
            if other_id == doc_id:
                continue
            other = self.documents.get(other_id)
            if other is None:
                self.forget(other_id)  # deleted since it was registered
                continue
            if self.indexed(other) and filtering.filter_applies(query, other):
                matches += 1
                if matches > 1:
                    return True
        return False


def _has_field(doc: dict[str, Any], field: str) -> bool:
    try:
        helpers.get_value_by_dot(doc, field)
    except KeyError:
        return False
    return True


def _value_or_none(doc: dict[str, Any], field: str) -> Any:
    try:
        return helpers.get_value_by_dot(doc, field)
    except KeyError:
        return None


def _store_id(doc: dict[str, Any]) -> Any:
    """The key of ``doc`` in ``CollectionStore._documents`` (dict ids are hashed)."""
    doc_id = doc["_id"]
    return helpers.hashdict(doc_id) if isinstance(doc_id, dict) else doc_id


def _duplicate() -> DuplicateKeyError:
    return DuplicateKeyError("E11000 Duplicate Key Error", 11000)


def _caches(store: Any) -> dict[str, _UniqueKeys]:
    """Groupings of ``store``'s unique indexes by name (kept on the store itself)."""
    return store.__dict__.setdefault(_ATTRIBUTE, {})  # type: ignore[no-any-return]


def _unique_keys(store: Any, name: str, index: dict[str, Any]) -> tuple[_UniqueKeys, bool]:
    """The grouping of index ``name`` of ``store`` and whether it was (re)built now."""
    keys = _caches(store).get(name)
    if (
        keys is not None
        and keys.documents is store._documents  # else: collection dropped since
        and keys.index is index  # else: index dropped and created again
        and len(keys.keys_of) <= 2 * len(store._documents) + 64  # else: many deletions
    ):
        return keys, False
    keys = _UniqueKeys(store._documents, index)
    for doc_id, doc in list(store._documents.items()):
        keys.register(doc_id, doc)
    _caches(store)[name] = keys
    return keys, True


def _linear_unique_indexes() -> None:
    """Make the mock's unique-index checks cost O(1) per document, like a server.

    As shipped, mongomock checks every unique index on each insert or update
    by matching a query against the whole collection (loading 4,000
    customers without an email took 16-30 s, quadratic), and builds a unique
    index over existing documents ignoring ``partialFilterExpression`` (two
    documents outside the filter "collide"). Now:

    - ``Collection._ensure_uniques`` matches mongomock's same query only
      against documents whose key could be equal (see ``_UniqueKeys``); a
      document outside a partial filter never conflicts;
    - ``Collection.create_index`` builds a unique index as if the existing
      documents were inserted one by one in natural order (partial filter
      honoured; a real duplicate raises ``DuplicateKeyError``), and an
      identical existing index is a no-op, as on a server;
    - a sparse index holds a document with at least one key field present,
      null included (as on a server: two explicit nulls collide).
    """
    from mongomock.collection import Collection

    def _ensure_uniques(self: Any, new_data: dict[str, Any]) -> None:
        store = self._store
        if store._ttl_indexes:
            store._remove_expired_documents()  # as mongomock's scan did first
        caches = _caches(store)
        for gone in [name for name in caches if name not in store.indexes]:
            del caches[gone]  # index dropped
        doc_id = _store_id(new_data)
        checked: list[_UniqueKeys] = []
        built_now: list[str] = []
        for name, index in list(store.indexes.items()):
            if not index.get("unique"):
                continue
            keys, fresh = _unique_keys(store, name, index)
            if fresh:
                built_now.append(name)
            if keys.conflict(doc_id, new_data):
                # The caller rolls new_data back; a grouping built just now
                # holds new_data as it is: drop it (rebuilt at the next check).
                for stale in built_now:
                    _caches(store).pop(stale, None)
                raise _duplicate()
            checked.append(keys)
        for keys in checked:  # only once every index accepted the document
            keys.register(doc_id, store._documents.get(doc_id))

    def create_index(
        self: Any, key_or_list: Any, cache_for: int = 300, session: Any = None, **kwargs: Any
    ) -> str:
        # mongomock 4.3's create_index, with the uniqueness build replaced.
        if session:
            raise_for_feature("session", "Mongomock does not handle sessions yet")
        index_list = helpers.create_index_list(key_or_list)
        is_unique = kwargs.pop("unique", False)
        is_sparse = kwargs.pop("sparse", False)
        index_name = kwargs.pop("name", helpers.gen_index_name(index_list))
        index_dict: dict[str, Any] = {"key": index_list}
        if is_sparse:
            index_dict["sparse"] = True
        if is_unique:
            index_dict["unique"] = True
        if kwargs.get("expireAfterSeconds") is not None:
            index_dict["expireAfterSeconds"] = kwargs.pop("expireAfterSeconds")
        if kwargs.get("partialFilterExpression") is not None:
            index_dict["partialFilterExpression"] = kwargs.pop("partialFilterExpression")

        store = self._store
        existing_index = store.indexes.get(index_name)
        if existing_index and index_dict != existing_index:
            raise OperationFailure(
                f"Index with name: {index_name} already exists with different options"
            )
        if existing_index:
            return index_name  # a server does nothing for an identical index

        built: _UniqueKeys | None = None
        if is_unique:
            store._remove_expired_documents()
            built = _UniqueKeys(store._documents, index_dict)
            for doc_id, doc in list(store._documents.items()):
                if built.conflict(doc_id, doc):  # against the documents before it
                    raise _duplicate()
                built.register(doc_id, doc)
        store.create_index(index_name, index_dict)
        if built is not None:
            _caches(store)[index_name] = built
        return index_name

    def create_indexes(self: Any, indexes: list[Any], session: Any = None) -> list[str]:
        # mongomock's drops partialFilterExpression; a server keeps every option.
        names = []
        for index in indexes:
            options = {k: v for k, v in index.document.items() if k != "key"}
            names.append(self.create_index(list(index.document["key"].items()), **options))
        return names

    Collection._ensure_uniques = _ensure_uniques  # type: ignore[method-assign]
    Collection.create_index = create_index  # type: ignore[method-assign]
    Collection.create_indexes = create_indexes  # type: ignore[method-assign]


def _awaitable_close() -> None:
    """``await client.close()`` as on ``AsyncMongoClient``; the mock's data stays."""

    async def close(self: Any) -> None:
        return None

    AsyncMongoMockClient.close = close  # type: ignore[attr-defined]


_fix_bulk_update_patch()
_awaitable_close()
_linear_cursor_iteration()
_linear_unique_indexes()
