"""``X-Request-ID``: accepted from the client (or generated) and returned on every response.

The id is made current (``tenancy.request_context``) for the whole request,
so error ``extensions.requestId``, log lines and audit entries carry it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenancy.request_context import accepted_request_id, request_id_scope

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Pure ASGI middleware: one id per HTTP request, echoed in ``X-Request-ID``.

    A client's id is kept when it matches
    ``tenancy.request_context.REQUEST_ID_PATTERN``; otherwise a new one is
    generated (a bad id is never an error: the header is advisory).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                supplied = value.decode("latin-1")
                break
        request_id = accepted_request_id(supplied)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with request_id_scope(request_id):
            await self.app(scope, receive, send_with_id)
