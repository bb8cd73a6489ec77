"""Structured logs: every line one JSON object (or a readable console line), with the request id.

:func:`configure_logging` routes the standard library's logging (ours,
uvicorn's, pymongo's) through structlog's ``ProcessorFormatter``: each line
carries ``timestamp``, ``level``, ``logger``, ``event``, the fields passed
with ``extra=`` and ``request_id`` when it is written while serving a
request (``tenancy.request_context``). The server calls it at start
(``graphql_api.asgi``); tests and tools that never call it keep plain
standard-library logging.

What is logged per request (:func:`log_request`, the access line): method,
path, HTTP status, duration, tenant, plan, operation, error codes, database
round-trips and query cost, in one line (``APP_ACCESS_LOG``; off by default in
production: it costs 12-30 % of throughput). GraphQL errors are logged with
their code (:func:`log_graphql_errors`); only ``INTERNAL_ERROR`` carries a
traceback (``graphql_api.schema.Schema.process_errors``,
``graphql_api.errors.unexpected_request_failure``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import IO, Any

import structlog

from graphql_api.request_record import RequestRecord
from tenancy.errors import ErrorCode
from tenancy.request_context import current_request_id
from tenancy.settings import Settings

ACCESS_LOGGER = "graphql_api.access"
ERROR_LOGGER = "graphql_api.graphql_errors"
access_log = logging.getLogger(ACCESS_LOGGER)
error_log = logging.getLogger(ERROR_LOGGER)

#: The handler :func:`configure_logging` installs on the root logger (replaced on a new call).
_HANDLER_NAME = "graphql_api.structured"


def add_request_id(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``request_id`` of the request being served, when there is one."""
    request_id = current_request_id()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def drop_color_message(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: uvicorn's ``color_message`` extra (ANSI codes) is not kept."""
    event.pop("color_message", None)
    return event


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every standard-library log record through structlog's formatter.

    Args:
        settings: ``log_format`` (json/console), ``log_level``.
        stream: where lines go (default: standard error).

    Returns the handler installed on the root logger; a second call replaces it.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_request_id,
        drop_color_message,
    ]
    renderer: Any
    if settings.log_format_used == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    return handler


#: Probes and scrapes are not worth a line each.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def log_request(record: RequestRecord) -> None:
    """Write the access line of a finished request (``event="request"``)."""
    if record.path in QUIET_PATHS:
        return
    fields: dict[str, Any] = {
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "duration_ms": round(record.duration * 1000, 2),
    }
    if record.graphql:
        fields.update(
            tenant=record.tenant,
            plan=record.plan,
            operation=record.operation,
            operation_type=record.operation_type,
            outcome=record.outcome,
            error_codes=record.error_codes,
            round_trips=record.round_trips,
            cost_requested=record.cost_requested,
            cost_actual=record.cost_actual,
        )
        if record.persisted is not None:
            fields["persisted_query"] = record.persisted
    access_log.info("request", extra=fields)


def log_graphql_errors(errors: Iterable[Any]) -> None:
    """Log each formatted GraphQL error with its code (not ``INTERNAL_ERROR``: that one is
    logged where it happens, with its traceback)."""
    for error in errors:
        extensions = error.get("extensions") or {}
        code = extensions.get("code")
        if code == ErrorCode.INTERNAL_ERROR:
            continue
        error_log.info(
            "graphql error",
            extra={"code": code, "error": error.get("message"), "error_path": error.get("path")},
        )
