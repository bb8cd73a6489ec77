"""The one place that owns error codes.

Request-level failures (tenant, authentication, permission) reach GraphQL
clients as errors with ``extensions.code``; expected mutation failures reach
them as ``userErrors { field code message }`` in the payload. Both use the
codes below, and operator commands print them too.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable machine-readable error codes (a public contract: never rename)."""

    TENANT_REQUIRED = "TENANT_REQUIRED"
    TENANT_NOT_FOUND = "TENANT_NOT_FOUND"
    TENANT_INACTIVE = "TENANT_INACTIVE"
    TENANT_MAINTENANCE = "TENANT_MAINTENANCE"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    FORBIDDEN = "FORBIDDEN"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    PLAN_LIMIT_EXCEEDED = "PLAN_LIMIT_EXCEEDED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    SLOT_TAKEN = "SLOT_TAKEN"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    TARGET_NOT_EMPTY = "TARGET_NOT_EMPTY"
    MANIFEST_INVALID = "MANIFEST_INVALID"
    VERIFICATION_FAILED = "VERIFICATION_FAILED"
    LOCKED = "LOCKED"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    BACKUP_FAILED = "BACKUP_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    BAD_REQUEST = "BAD_REQUEST"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Versioned migrations (migrations/, operator commands).
    MIGRATION_LOCKED = "MIGRATION_LOCKED"
    MIGRATION_FAILED = "MIGRATION_FAILED"
    MIGRATION_INVALID = "MIGRATION_INVALID"
    MIGRATION_UNKNOWN = "MIGRATION_UNKNOWN"
    MIGRATION_IRREVERSIBLE = "MIGRATION_IRREVERSIBLE"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"


class AppError(Exception):
    """A failure with a code and a message a person can act on.

    Args:
        code: the stable code.
        message: what went wrong and what to do about it.
        field: the input field at fault, as a path (``["input", "email"]``), if any.
        details: machine-readable facts for clients, copied into a GraphQL
            error's ``extensions`` (e.g. ``{"retryAfter": 30}``, seconds).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        field: list[str] | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}

    def __repr__(self) -> str:
        return f"AppError({self.code}, {self.message!r}, field={self.field!r})"


def validation_error(field: str | list[str], message: str) -> AppError:
    """Shorthand for a ``VALIDATION_FAILED`` error on one input field."""
    path = [field] if isinstance(field, str) else field
    return AppError(ErrorCode.VALIDATION_FAILED, message, path)


def not_found(kind: str, ident: object) -> AppError:
    """Shorthand for ``NOT_FOUND`` (also used for another tenant's ids: no hint they exist)."""
    return AppError(ErrorCode.NOT_FOUND, f"{kind} {ident} was not found")


def from_database_error(exc: BaseException) -> AppError | None:
    """The coded error for a failure that MongoDB or BSON encoding reports, if it has one.

    - the server unreachable, or too slow (``ConnectionFailure``,
      ``ExecutionTimeout``, ``WTimeoutError``): DATABASE_UNAVAILABLE;
    - a unique index refused the write (``DuplicateKeyError``): ALREADY_EXISTS;
    - a document over MongoDB's 16 MiB limit (``DocumentTooLarge``): PAYLOAD_TOO_LARGE;
    - a value BSON cannot hold (a string with a lone surrogate, an integer
      beyond 64 bits, an unsupported type): VALIDATION_FAILED;
    - a value the server refuses (``BadValue``, an invalid regular expression):
      VALIDATION_FAILED.

    Returns ``None`` for anything else (a bug: INTERNAL_ERROR, logged).
    """
    from bson.errors import InvalidDocument, InvalidStringData
    from pymongo.errors import (
        ConnectionFailure,
        DocumentTooLarge,
        DuplicateKeyError,
        ExecutionTimeout,
        InvalidName,
        OperationFailure,
        WTimeoutError,
    )

    if isinstance(exc, InvalidName):
        return AppError(ErrorCode.VALIDATION_FAILED, f"invalid name: {exc}")

    if isinstance(exc, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return AppError(
            ErrorCode.DATABASE_UNAVAILABLE,
            "the database did not answer in time; retry shortly",
        )
    if isinstance(exc, DuplicateKeyError):
        return AppError(ErrorCode.ALREADY_EXISTS, "this conflicts with an existing record")
    if isinstance(exc, DocumentTooLarge):
        return AppError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            "the record would exceed MongoDB's 16 MiB document limit; store less in it",
        )
    if isinstance(exc, InvalidStringData | InvalidDocument | UnicodeEncodeError | OverflowError):
        return AppError(
            ErrorCode.VALIDATION_FAILED,
            "a value cannot be stored: text must be valid Unicode and integers at most 64 bits",
        )
    if isinstance(exc, OperationFailure) and exc.code in _REFUSED_VALUE_CODES:
        return AppError(ErrorCode.VALIDATION_FAILED, "the database refused a value of this request")
    return None


# MongoDB server error codes for a refused value: BadValue, InvalidOptions,
# a regular expression that does not compile (51091) or is too long (51090).
_REFUSED_VALUE_CODES = frozenset({2, 72, 51090, 51091})
