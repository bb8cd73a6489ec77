"""The middleware that observes each HTTP request: its record, access line and metrics.

It sits just inside ``RequestIdMiddleware`` (so the access line carries the
request id) and outside everything else (so refusals of the body limit are
timed and counted too). The GraphQL view and the database listener fill the
record in (``graphql_api.request_record``); when the response is sent, the
record goes to the metrics and, with ``APP_ACCESS_LOG``, to the access log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from graphql_api.logging_setup import log_request
from graphql_api.metrics import Metrics
from graphql_api.request_record import (
    RequestRecord,
    current_record,
    reset_current_record,
    set_current_record,
)


class ObservationMiddleware:
    """Pure ASGI middleware: a :class:`RequestRecord` per HTTP request.

    Args:
        app: the wrapped app.
        metrics: where finished GraphQL requests are counted (``None``: metrics off).
        access_log: write one line per request.
        tracing: put the record's tenant and operation on the request's span.
    """

    def __init__(
        self, app: ASGIApp, metrics: Metrics | None, access_log: bool, tracing: bool = False
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.metrics or self.access_log or self.tracing):
            await self.app(scope, receive, send)
            return
        record = RequestRecord(method=scope["method"], path=scope["path"])
        token = set_current_record(record)

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                if self.tracing:  # while the request's span is open
                    from graphql_api.tracing import annotate_span

                    annotate_span(record)
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            reset_current_record(token)
            record.duration = time.perf_counter() - record.started
            if self.metrics is not None:
                self.metrics.observe(record)
            if self.access_log:
                log_request(record)


class OperationRecorder(SchemaExtension):
    """Writes the executed operation's name and type into the request's record."""

    def on_execute(self) -> Iterator[None]:
        record = current_record()
        if record is not None:
            ctx = self.execution_context
            record.operation = ctx.operation_name
            record.operation_type = ctx.operation_type.value
        yield
