"""How failures reach GraphQL clients: the one place that formats them.

Codes, their levels and HTTP statuses are declared in ``tenancy.errors``.

- ``RequestGuard`` answers a request whose tenant or token failed to
  resolve with that error, before any resolver runs.
- ``format_error`` (applied to every response by the HTTP view) gives each
  error ``extensions.code``: an ``AppError``'s own code;
  ``GRAPHQL_PARSE_FAILED`` / ``GRAPHQL_VALIDATION_FAILED`` for documents and
  variables the schema refuses; anything unexpected is logged with its
  traceback (``Schema.process_errors``) and reaches the client only as
  ``INTERNAL_ERROR``.
- ``error_body`` is the body of a request refused before GraphQL runs
  (HTTP-level refusals), made by ``format_error`` as well.
- ``mutation_payload`` turns expected mutation failures into ``userErrors``:
  every code but the request-level ones.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from pymongo.errors import ConnectionFailure
from strawberry.extensions import SchemaExtension

from graphql_api.types.common import UserError
from tenancy.errors import AppError, ErrorCode, Level, from_database_error
from tenancy.request_context import current_request_id

log = logging.getLogger("graphql_api.errors")

#: Failures of the request itself: GraphQL errors, never userErrors.
REQUEST_LEVEL_CODES = frozenset(code for code in ErrorCode if code.info.level is Level.REQUEST)

#: What clients read of an unexpected failure (the traceback goes to the log).
INTERNAL_MESSAGE = "Internal server error; it has been logged"

P = TypeVar("P")


async def mutation_payload(payload: Callable[..., P], action: Callable[[], Awaitable[P]]) -> P:
    """Run a mutation; expected failures become ``payload(user_errors=[...])``.

    An ``AppError`` (or a database failure that ``from_database_error`` codes)
    of any level but ``request`` becomes one ``UserError``; request-level
    codes and uncoded exceptions are raised on (a GraphQL error at the
    mutation's path; uncoded ones reach clients as ``INTERNAL_ERROR``).
    """
    try:
        return await action()
    except AppError as error:
        if error.code in REQUEST_LEVEL_CODES:
            raise
        return payload(user_errors=[UserError.from_app_error(error)])
    except Exception as exc:
        coded = from_database_error(exc)
        if coded is None or coded.code in REQUEST_LEVEL_CODES:
            raise
        log.warning("mutation refused by the database: %s: %s", type(exc).__name__, exc)
        return payload(user_errors=[UserError.from_app_error(coded)])


class RequestGuard(SchemaExtension):
    """Refuses the whole operation when the context recorded a tenant/auth failure."""

    def on_execute(self) -> Iterator[None]:
        failure = getattr(self.execution_context.context, "failure", None)
        if failure is not None:
            self.execution_context.result = GraphQLExecutionResult(
                data=None, errors=[GraphQLError(failure.message, original_error=failure)]
            )
        yield


def format_error(error: GraphQLError) -> GraphQLError:
    """A client-safe copy of ``error`` with ``extensions.code`` (and ``requestId``)."""
    original = error.original_error
    extensions: dict[str, Any] = dict(error.extensions or {})
    message = error.message
    if original is not None and not isinstance(original, AppError):
        original = from_database_error(original) or original
    if isinstance(original, AppError):
        extensions["code"] = str(original.code)
        if original.field:
            extensions["field"] = original.field
        extensions.update(original.details)
        message = original.message
    elif error.path is None:
        # Raised before execution: syntax, schema validation, variable coercion, limits.
        parse = message.startswith("Syntax Error") or "tokens" in message
        extensions["code"] = str(
            ErrorCode.GRAPHQL_PARSE_FAILED if parse else ErrorCode.GRAPHQL_VALIDATION_FAILED
        )
    else:
        extensions = {"code": str(ErrorCode.INTERNAL_ERROR)}
        message = INTERNAL_MESSAGE
    request_id = current_request_id()
    if request_id is not None:
        extensions["requestId"] = request_id
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def error_body(code: ErrorCode, message: str, **details: Any) -> dict[str, Any]:
    """A GraphQL response body with one request-level error and no ``data``.

    For requests refused before GraphQL runs; the error is made by
    :func:`format_error` like every other (``details`` go to ``extensions``).
    """
    error = GraphQLError(message, original_error=AppError(code, message, details=details))
    return {"errors": [format_error(error).formatted]}


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors that are bugs, not client mistakes or coded database refusals."""
    original = error.original_error
    if error.path is None or isinstance(original, AppError):
        return False
    return original is None or from_database_error(original) is None


def unexpected_request_failure(exc: Exception) -> AppError:
    """The coded error for an exception that escaped the handling of a request
    outside any resolver (a bug, or a dependency such as the rate limit's
    storage failing): its database code if it has one, else ``INTERNAL_ERROR``
    (logged here with the traceback)."""
    coded = from_database_error(exc)
    if coded is not None:
        log.warning("request refused by the database: %s: %s", type(exc).__name__, exc)
        return coded
    log.error("unexpected failure before execution", exc_info=exc)
    return AppError(ErrorCode.INTERNAL_ERROR, INTERNAL_MESSAGE)


def unavailable(exc: ConnectionFailure) -> AppError:
    """A database outage as the error clients see (``DATABASE_UNAVAILABLE``)."""
    log.error("database unavailable: %s", exc)
    return AppError(
        ErrorCode.DATABASE_UNAVAILABLE, "the database is not reachable right now; retry shortly"
    )
