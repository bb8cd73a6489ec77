"""The one place that declares error codes: each code once, with its level,
its HTTP status and a line describing it.

- **request** level: the whole operation is refused. Clients get a GraphQL
  error with ``extensions.code`` (never a ``userErrors`` entry); when it
  fails the request before execution (tenant, token, rate limit, parse,
  validation, broken HTTP body), clients of GraphQL over HTTP
  (``Accept: application/graphql-response+json``) get the code's
  ``http_status``.
- **payload** level: an expected failure of a mutation, returned in its
  payload as ``userErrors { field code message }`` (``mutation_payload``);
  raised by a query it is a GraphQL error with the code.
- **operator** level: reported by ``tenantctl`` (one ``CODE: message`` line,
  or the code in a report), not by the API's own operations.

Consumers read this declaration: ``graphql_api.errors`` (request-level
codes, ``format_error``), ``graphql_api.app`` (HTTP status of a refused
request), ``graphql_api.http_limits`` (code of an HTTP-level refusal), the
``ErrorCode`` enum of the GraphQL schema, and README's error table
(``python -m tenancy.errors`` prints it; a test keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """How a failure with a code reaches whoever caused it (see the module docstring)."""

    REQUEST = "request"
    PAYLOAD = "payload"
    OPERATOR = "operator"


@dataclass(frozen=True)
class CodeInfo:
    """What is declared about one code.

    Attributes:
        level: request, payload or operator (see :class:`Level`).
        http_status: the status GraphQL-over-HTTP clients get when this code
            refuses a request before execution; ``None`` for a code that never
            does (raised while resolving a field, HTTP 200 with the error at
            its path; a ``userErrors`` entry, 200; or an operator code).
        description: one line for documentation (README, schema).
        http_refusal: this code also answers HTTP-level refusals that come
            with nothing but their status (Strawberry's own 404, the body
            limit's 413); any other such status is ``BAD_REQUEST``.
    """

    level: Level
    http_status: int | None
    description: str
    http_refusal: bool = False


_REQUEST, _PAYLOAD, _OPERATOR = Level.REQUEST, Level.PAYLOAD, Level.OPERATOR


class ErrorCode(StrEnum):
    """Stable machine-readable error codes (a public contract: never rename).

    Each member is declared once, with its :class:`CodeInfo` (``code.info``),
    like :class:`http.HTTPStatus` declares its phrases.
    """

    info: CodeInfo

    def __new__(cls, value: str, info: CodeInfo) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.info = info
        return member

    # The order is the GraphQL enum's (schema.graphql): append new codes at the end.
    TENANT_REQUIRED = (
        "TENANT_REQUIRED",
        CodeInfo(
            _REQUEST,
            None,
            "The operation needs a tenant: `/t/{slug}/graphql`, `X-Tenant`, the tenant's domain "
            "or a token issued for a tenant.",
        ),
    )
    TENANT_NOT_FOUND = (
        "TENANT_NOT_FOUND",
        CodeInfo(_REQUEST, 404, "No tenant has the slug the request names."),
    )
    TENANT_INACTIVE = (
        "TENANT_INACTIVE",
        CodeInfo(
            _REQUEST,
            403,
            "The tenant is suspended, cancelled or deleted; the message says which and why.",
        ),
    )
    TENANT_MAINTENANCE = (
        "TENANT_MAINTENANCE",
        CodeInfo(
            _REQUEST,
            None,
            "The tenant is read-only during an operator's copy or move; retry later.",
        ),
    )
    UNAUTHENTICATED = (
        "UNAUTHENTICATED",
        CodeInfo(
            _REQUEST,
            401,
            "Login missing, or the token is expired, tampered, malformed or of another algorithm.",
        ),
    )
    INVALID_CREDENTIALS = (
        "INVALID_CREDENTIALS",
        CodeInfo(_PAYLOAD, None, "Email or password is wrong (an unknown user answers the same)."),
    )
    FORBIDDEN = (
        "FORBIDDEN",
        CodeInfo(
            _REQUEST,
            403,
            "The role lacks a permission, or the token, path and X-Tenant name different tenants.",
        ),
    )
    VALIDATION_FAILED = (
        "VALIDATION_FAILED",
        CodeInfo(
            _PAYLOAD,
            400,
            "An input value is refused (field gives its path); 400 for a request body holding "
            "text that is not valid Unicode.",
        ),
    )
    NOT_FOUND = (
        "NOT_FOUND",
        CodeInfo(
            _PAYLOAD,
            404,
            "No such record in the request's tenant (ids of other tenants included); 404 for "
            "a GraphiQL page that is switched off.",
            http_refusal=True,
        ),
    )
    ALREADY_EXISTS = (
        "ALREADY_EXISTS",
        CodeInfo(_PAYLOAD, None, "A unique value (slug, email, code, path) is taken."),
    )
    PLAN_LIMIT_EXCEEDED = (
        "PLAN_LIMIT_EXCEEDED",
        CodeInfo(_PAYLOAD, None, "The tenant's plan allows no more; the message gives the limit."),
    )
    INVALID_TRANSITION = (
        "INVALID_TRANSITION",
        CodeInfo(_PAYLOAD, None, "The record's current state does not allow this change."),
    )
    SLOT_TAKEN = (
        "SLOT_TAKEN",
        CodeInfo(_PAYLOAD, None, "Another booking holds this location at this time."),
    )
    IDEMPOTENCY_KEY_REUSED = (
        "IDEMPOTENCY_KEY_REUSED",
        CodeInfo(_PAYLOAD, None, "This idempotency key was used for a different request."),
    )
    TARGET_NOT_EMPTY = (
        "TARGET_NOT_EMPTY",
        CodeInfo(
            _OPERATOR,
            None,
            "The target database of an import, copy or move holds documents (`--overwrite`).",
        ),
    )
    MANIFEST_INVALID = (
        "MANIFEST_INVALID",
        CodeInfo(
            _OPERATOR,
            None,
            "A dump's manifest is missing or malformed, or its files do not match it.",
        ),
    )
    VERIFICATION_FAILED = (
        "VERIFICATION_FAILED",
        CodeInfo(
            _OPERATOR,
            None,
            "A copy or restore differs from its source (counts, hashes, indexes); "
            "the source is untouched.",
        ),
    )
    LOCKED = (
        "LOCKED",
        CodeInfo(
            _PAYLOAD,
            None,
            "Another operation holds the tenant (maintenance) or the embedded server's start-up; "
            "wait, or clear it.",
        ),
    )
    DATABASE_UNAVAILABLE = (
        "DATABASE_UNAVAILABLE",
        CodeInfo(_REQUEST, 503, "MongoDB did not answer in time; retry shortly."),
    )
    BACKUP_FAILED = (
        "BACKUP_FAILED",
        CodeInfo(
            _PAYLOAD,
            None,
            "An export or the backup before a deletion could not be written; nothing was deleted.",
        ),
    )
    RATE_LIMITED = (
        "RATE_LIMITED",
        CodeInfo(
            _REQUEST,
            429,
            "The tenant's requests per minute, or the login attempts or booking look-ups of an "
            "address, account or number, are used up; `extensions.retryAfter` and `Retry-After` "
            "give the seconds to wait.",
        ),
    )
    BAD_REQUEST = (
        "BAD_REQUEST",
        CodeInfo(
            _REQUEST,
            400,
            "Not a GraphQL request: body not UTF-8, JSON or an object, JSON nested deeper than "
            "`APP_MAX_JSON_DEPTH`, a batch, an unsupported method (405) or content type.",
            http_refusal=True,
        ),
    )
    PAYLOAD_TOO_LARGE = (
        "PAYLOAD_TOO_LARGE",
        CodeInfo(
            _PAYLOAD,
            413,
            "A record would pass MongoDB's 16 MiB document limit; 413 for a request body over "
            "`APP_MAX_BODY_BYTES`.",
            http_refusal=True,
        ),
    )
    GRAPHQL_PARSE_FAILED = (
        "GRAPHQL_PARSE_FAILED",
        CodeInfo(
            _REQUEST, 400, "The document is not valid GraphQL syntax, or has too many tokens."
        ),
    )
    GRAPHQL_VALIDATION_FAILED = (
        "GRAPHQL_VALIDATION_FAILED",
        CodeInfo(
            _REQUEST,
            400,
            "The schema refuses the document or its variables: unknown fields, bad variables, "
            "depth or alias limits, introspection switched off.",
        ),
    )
    INTERNAL_ERROR = (
        "INTERNAL_ERROR",
        CodeInfo(
            _REQUEST,
            500,
            "Anything unexpected: logged with its traceback, never shown to clients.",
        ),
    )
    MIGRATION_LOCKED = (
        "MIGRATION_LOCKED",
        CodeInfo(_OPERATOR, None, "Another runner holds this database's migration lock."),
    )
    MIGRATION_FAILED = (
        "MIGRATION_FAILED",
        CodeInfo(
            _OPERATOR,
            None,
            "A migration raised; its database stays at the last version applied.",
        ),
    )
    MIGRATION_INVALID = (
        "MIGRATION_INVALID",
        CodeInfo(
            _OPERATOR,
            None,
            "A migration module is malformed (name, id, number, `DESCRIPTION` or `up`).",
        ),
    )
    MIGRATION_UNKNOWN = (
        "MIGRATION_UNKNOWN",
        CodeInfo(
            _OPERATOR,
            None,
            "The ledger lists a migration this code does not have (a newer version ran).",
        ),
    )
    MIGRATION_IRREVERSIBLE = (
        "MIGRATION_IRREVERSIBLE",
        CodeInfo(_OPERATOR, None, "A rollback would pass a migration that has no down step."),
    )
    CHECKSUM_MISMATCH = (
        "CHECKSUM_MISMATCH",
        CodeInfo(_OPERATOR, None, "The code of an applied migration changed after it ran."),
    )
    OUTSIDE_AVAILABILITY = (
        "OUTSIDE_AVAILABILITY",
        CodeInfo(
            _PAYLOAD,
            None,
            "The time is outside the location's or staff member's working hours (or not one of "
            "the service's start times); `availableSlots` lists the free ones.",
        ),
    )
    TOO_SOON = (
        "TOO_SOON",
        CodeInfo(_PAYLOAD, None, "The time is in the past or inside the service's minimum notice."),
    )
    TOO_FAR = (
        "TOO_FAR",
        CodeInfo(_PAYLOAD, None, "The time is beyond how far ahead the service can be booked."),
    )
    CANCELLATION_WINDOW_CLOSED = (
        "CANCELLATION_WINDOW_CLOSED",
        CodeInfo(
            _PAYLOAD,
            None,
            "The customer can no longer cancel this booking themselves: it starts within the "
            "tenant's cancellation window, or the tenant takes no online cancellations.",
        ),
    )
    BILLING_DISABLED = (
        "BILLING_DISABLED",
        CodeInfo(
            _PAYLOAD,
            None,
            "Billing is not configured on this server (no `APP_STRIPE_SECRET_KEY`), or the "
            "tenant has no Stripe subscription for this change yet.",
        ),
    )
    BILLING_PROVIDER_FAILED = (
        "BILLING_PROVIDER_FAILED",
        CodeInfo(
            _PAYLOAD,
            None,
            "Stripe refused the request or did not answer; nothing was changed, retry later.",
        ),
    )
    # Issue 12: query cost and persisted queries.
    QUERY_TOO_COSTLY = (
        "QUERY_TOO_COSTLY",
        CodeInfo(
            _REQUEST,
            400,
            "The operation's requested cost is over `APP_MAX_QUERY_COST` (connections count "
            "`first` times their nodes); `extensions.requestedQueryCost` gives it.",
        ),
    )
    PERSISTED_QUERY_NOT_FOUND = (
        "PERSISTED_QUERY_NOT_FOUND",
        CodeInfo(
            _REQUEST,
            404,
            "The request sent only a persisted query's hash and the server does not know it: "
            "send the hash with the full query (Apollo's link does so itself); 200 for "
            "`application/json` clients.",
        ),
    )
    PERSISTED_QUERY_NOT_ALLOWED = (
        "PERSISTED_QUERY_NOT_ALLOWED",
        CodeInfo(
            _REQUEST,
            403,
            "Safelist mode (`APP_PERSISTED_QUERIES_SAFELIST`): the document is not registered "
            "(`tenantctl persisted-queries register`).",
        ),
    )
    # Accounts (issue 11).
    TOKEN_INVALID = (
        "TOKEN_INVALID",
        CodeInfo(
            _PAYLOAD,
            None,
            "A verification, password reset or invitation link is altered, expired or "
            "already used; ask for a new one.",
        ),
    )
    EMAIL_NOT_VERIFIED = (
        "EMAIL_NOT_VERIFIED",
        CodeInfo(
            _PAYLOAD,
            None,
            "The caller has not verified their email address yet; follow the emailed link "
            "(or resendVerification) first.",
        ),
    )
    LAST_ADMIN = (
        "LAST_ADMIN",
        CodeInfo(
            _PAYLOAD,
            None,
            "The change would leave the tenant without an active admin; make another user "
            "admin first.",
        ),
    )


def http_status_of(code: str | None) -> int:
    """The HTTP status of a request refused before execution with ``code``.

    Args:
        code: an ``extensions.code`` value (``None`` or an unknown string allowed).

    Returns:
        The code's declared ``http_status``; 400 when it has none (or is not a code).
    """
    known = ErrorCode._value2member_map_.get(code) if code is not None else None
    status = known.info.http_status if isinstance(known, ErrorCode) else None
    return status or 400


def code_for_http_status(status: int) -> ErrorCode:
    """The code of an HTTP-level refusal that carries only ``status``.

    The code declared with ``http_refusal`` and that status (404 ``NOT_FOUND``,
    413 ``PAYLOAD_TOO_LARGE``), else ``BAD_REQUEST`` (400, 405, 415...).
    """
    return _CODE_BY_REFUSAL_STATUS.get(status, ErrorCode.BAD_REQUEST)


_CODE_BY_REFUSAL_STATUS = {
    code.info.http_status: code
    for code in ErrorCode
    if code.info.http_refusal and code.info.http_status is not None
}


def error_table() -> str:
    """README's error table (Markdown) from the declaration: by level, then declaration order.

    The HTTP column is ``-`` for codes that never refuse a request before execution.
    """
    rows = ["| Code | Level | HTTP | Meaning |", "| --- | --- | --- | --- |"]
    levels = list(Level)
    for code in sorted(ErrorCode, key=lambda code: levels.index(code.info.level)):
        status = str(code.info.http_status) if code.info.http_status else "-"
        rows.append(f"| `{code}` | {code.info.level} | {status} | {code.info.description} |")
    return "\n".join(rows)


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


if __name__ == "__main__":  # python -m tenancy.errors: the table for README.md
    print(error_table())
