"""What one HTTP request did, gathered while it runs and read once when it ends.

The observation middleware (``graphql_api.observe``) makes a
:class:`RequestRecord` current for the request; the GraphQL view fills in
the tenant, the operation, the error codes and the query cost, the database
listener (``graphql_api.metrics``) counts round-trips. The access log line
and the metrics are written from it when the response has been sent.
A ``ContextVar`` keeps concurrent requests apart.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

_current: ContextVar[RequestRecord | None] = ContextVar("request_record", default=None)


@dataclass
class RequestRecord:
    """One request's facts.

    Attributes:
        method, path: of the HTTP request.
        started: ``time.perf_counter()`` at its start (seconds).
        status: the HTTP status sent (0 until the response starts).
        graphql: True when the GraphQL view served it.
        tenant, plan: the resolved tenant's slug and plan key (None: no tenant).
        operation: the operation name (``None``: anonymous or not parsed).
        operation_type: ``query``/``mutation`` when known.
        error_codes: ``extensions.code`` of each GraphQL error, in order.
        round_trips: database commands sent while serving it.
        cost_requested, cost_actual: the query cost (``graphql_api.query_cost``).
        persisted: ``hit``/``registered``/``miss`` for a persisted-query request.
    """

    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    status: int = 0
    graphql: bool = False
    tenant: str | None = None
    plan: str | None = None
    operation: str | None = None
    operation_type: str | None = None
    error_codes: list[str] = field(default_factory=list)
    round_trips: int = 0
    cost_requested: int | None = None
    cost_actual: int | None = None
    persisted: str | None = None
    duration: float = 0.0

    @property
    def outcome(self) -> str:
        """``OK`` or the first error's code: the bounded ``status`` label of the metrics."""
        return self.error_codes[0] if self.error_codes else "OK"


def current_record() -> RequestRecord | None:
    """The record of the request this task serves, or None outside any request."""
    return _current.get()


def set_current_record(record: RequestRecord | None) -> object:
    """Make ``record`` current; returns the token for :func:`reset_current_record`."""
    return _current.set(record)


def reset_current_record(token: object) -> None:
    """Undo :func:`set_current_record`."""
    _current.reset(token)  # type: ignore[arg-type]


def note_tenant(slug: str, plan: str) -> None:
    """Record the request's tenant as soon as it is resolved (before any refusal of it)."""
    record = _current.get()
    if record is not None:
        record.tenant = slug
        record.plan = plan
