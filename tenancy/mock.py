"""The in-process MongoDB mock (pymongo-async-mock over mongomock).

Only the mock path imports this module. Production runs on real MongoDB,
and where the mock differs from a server, the server's behaviour wins.
"""

from __future__ import annotations

import itertools
from typing import Any

from pymongo_async_mock import AsyncMongoMockClient

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


_fix_bulk_update_patch()
_linear_cursor_iteration()
