"""How failures reach GraphQL clients.

- ``RequestGuard`` answers a request whose tenant or token failed to
  resolve with that error, before any resolver runs.
- ``format_error`` (applied to every response by the HTTP view) gives each
  error ``extensions.code``: an ``AppError``'s own code;
  ``GRAPHQL_PARSE_FAILED`` / ``GRAPHQL_VALIDATION_FAILED`` for documents and
  variables the schema refuses; anything unexpected is logged with its
  traceback (``Schema.process_errors``) and reaches the client only as
  ``INTERNAL_ERROR``.
- ``mutation_payload`` turns expected mutation failures into ``userErrors``.
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
from tenancy.errors import AppError, ErrorCode, from_database_error

log = logging.getLogger("graphql_api.errors")

# Failures of the request itself: GraphQL errors, never userErrors.
REQUEST_LEVEL_CODES = frozenset(
    {
        ErrorCode.TENANT_REQUIRED,
        ErrorCode.TENANT_NOT_FOUND,
        ErrorCode.TENANT_INACTIVE,
        ErrorCode.TENANT_MAINTENANCE,
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.FORBIDDEN,
        ErrorCode.RATE_LIMITED,
        ErrorCode.DATABASE_UNAVAILABLE,
        ErrorCode.INTERNAL_ERROR,
    }
)

P = TypeVar("P")


async def mutation_payload(payload: Callable[..., P], action: Callable[[], Awaitable[P]]) -> P:
    """Run a mutation; expected failures become ``payload(user_errors=[...])``."""
    try:
        return await action()
    except AppError as error:
        if error.code in REQUEST_LEVEL_CODES:
            raise
        return payload(user_errors=[UserError.from_app_error(error)])
    except Exception as exc:
        error = from_database_error(exc)
        if error is None or error.code in REQUEST_LEVEL_CODES:
            raise
        log.warning("mutation refused by the database: %s: %s", type(exc).__name__, exc)
        return payload(user_errors=[UserError.from_app_error(error)])


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
    """A client-safe copy of ``error`` with ``extensions.code``."""
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
        message = "Internal server error; it has been logged"
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors that are bugs, not client mistakes or coded database refusals."""
    original = error.original_error
    if error.path is None or isinstance(original, AppError):
        return False
    return original is None or from_database_error(original) is None


def unavailable(exc: ConnectionFailure) -> AppError:
    """A database outage as the error clients see (``DATABASE_UNAVAILABLE``)."""
    log.error("database unavailable: %s", exc)
    return AppError(
        ErrorCode.DATABASE_UNAVAILABLE, "the database is not reachable right now; retry shortly"
    )
