"""Limits on what an HTTP request may carry, and GraphQL-shaped answers to broken requests.

A request that is not a GraphQL request at all (a body over
``APP_MAX_BODY_BYTES``, invalid UTF-8, JSON that is not an object, JSON
nested deeper than ``APP_MAX_JSON_DEPTH``, an unsupported method or content
type) is answered with a 4xx status and a GraphQL error body carrying a
code (``PAYLOAD_TOO_LARGE``, ``BAD_REQUEST``), never with a 500 or plain
text, so that clients parse every answer the same way.
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql_api.errors import error_body
from tenancy.errors import ErrorCode, code_for_http_status, http_status_of

GRAPHQL_RESPONSE_MEDIA = "application/graphql-response+json"


def request_error_response(
    accept: str, status: int, message: str, code: ErrorCode | None = None
) -> JSONResponse:
    """The answer to a request that failed before GraphQL could run.

    Args:
        accept: the request's ``Accept`` header (chooses the media type).
        status: HTTP status (400 for malformed requests, 405, 413...).
        message: what was wrong, for a person.
        code: the error code (default: the one ``tenancy.errors`` declares for
            a refusal with this status, :func:`~tenancy.errors.code_for_http_status`).
    """
    code = code or code_for_http_status(status)
    media = GRAPHQL_RESPONSE_MEDIA if GRAPHQL_RESPONSE_MEDIA in accept else "application/json"
    return JSONResponse(error_body(code, message), status_code=status, media_type=media)


class RequestError(HTTPException):
    """An HTTP-level refusal with its own error code, answered with the code's HTTP status."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(http_status_of(code), reason)
        self.code = code


def json_depth(value: Any) -> int:
    """Nesting depth of decoded JSON (a scalar is 0, ``[]`` and ``{}`` are 1); iterative.

    Raises:
        RequestError(VALIDATION_FAILED) (400) when a string (a key or a value)
        holds a lone UTF-16 surrogate (``"\\ud800"`` is valid JSON but not
        Unicode: MongoDB could not store it).
    """
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_unicode(item)
            continue
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, str | dict | list)
        )
    return deepest


def _check_unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(
            ErrorCode.VALIDATION_FAILED,
            "request holds text with an unpaired UTF-16 surrogate (such as \\ud800), "
            "which is not valid Unicode",
        ) from None


def decode_request_json(data: str | bytes, max_depth: int) -> dict[str, Any] | list[Any]:
    """Decode a GraphQL request body (or GET ``variables``) strictly.

    Raises:
        HTTPException(400): invalid UTF-8, invalid JSON, nesting deeper than
        ``max_depth``, or a top-level value that is neither an object nor a
        list (a list is a batch, which the view then refuses or runs).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise HTTPException(400, "request body is not valid UTF-8") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise HTTPException(400, f"request JSON is nested deeper than {max_depth} levels") from None
    except ValueError:
        raise HTTPException(400, "request body is not valid JSON") from None
    if not isinstance(value, dict | list):
        raise HTTPException(400, 'request body must be a JSON object such as {"query": "..."}')
    if json_depth(value) > max_depth:
        raise HTTPException(400, f"request JSON is nested deeper than {max_depth} levels")
    return value


class BodySizeLimitMiddleware:
    """Refuses HTTP bodies over ``max_bytes`` with 413 ``PAYLOAD_TOO_LARGE``.

    A declared ``Content-Length`` over the limit is refused before reading;
    a chunked body is counted while it streams and refused once it passes
    the limit, so no more than ``max_bytes`` is ever buffered.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        accept = headers.get(b"accept", b"").decode("latin-1")
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(accept, scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(accept, scope, receive, send)

    async def _refuse(self, accept: str, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body is larger than {self.max_bytes} bytes (APP_MAX_BODY_BYTES)"
        await request_error_response(accept, 413, message)(scope, receive, send)


class _BodyTooLarge(Exception):
    """Raised inside the app's ``receive`` when the body passes the limit."""
