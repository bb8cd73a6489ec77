"""The id of the request (or operator command) being served, for logs and the audit log.

A ``ContextVar`` is per asyncio task, so concurrent requests never see each
other's id. The HTTP middleware (``graphql_api.request_id``) sets it for a
request; anything below (error formatting, the audit log, log lines) reads
it with :func:`current_request_id`. It carries no tenant and no database.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

#: What a client-supplied ``X-Request-ID`` may look like: 1-128 characters of
#: letters, digits and ``._:/+=-`` (a UUID, a trace id, a load balancer's id).
#: Anything else is replaced by a generated id, so logs never carry raw input.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def new_request_id() -> str:
    """A fresh id: 32 lowercase hex characters (a random UUID)."""
    return uuid.uuid4().hex


def accepted_request_id(supplied: str | None) -> str:
    """``supplied`` when it matches :data:`REQUEST_ID_PATTERN`, else a new id."""
    if supplied and REQUEST_ID_PATTERN.fullmatch(supplied):
        return supplied
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request this task serves, or None outside any request."""
    return _request_id.get()


@contextmanager
def request_id_scope(request_id: str) -> Iterator[str]:
    """Make ``request_id`` current inside the ``with`` block; yields it."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
