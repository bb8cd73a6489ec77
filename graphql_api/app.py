"""The ASGI application: Starlette routes, lifespan, CORS, health checks.

Routes: ``/graphql`` and ``/t/{tenant}/graphql`` (GraphQL over HTTP,
GraphiQL in development), ``/healthz`` (process up), ``/readyz`` (platform
database answers), ``/webhooks/stripe`` (Stripe's webhooks: ``graphql_api.webhooks``),
``/graphiql/static/`` (GraphiQL's packaged files, where GraphiQL is served).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from billing.service import Billing
from graphql_api.account_limits import AccountRateLimiter
from graphql_api.auth import TokenService
from graphql_api.context import Context, build_context
from graphql_api.errors import format_error, unexpected_request_failure
from graphql_api.http_limits import (
    GRAPHQL_RESPONSE_MEDIA,
    BodySizeLimitMiddleware,
    RequestError,
    decode_request_json,
    request_error_response,
)
from graphql_api.logging_setup import log_graphql_errors
from graphql_api.observability import Observability
from graphql_api.persisted_queries import PersistedQueries, PersistedQueryError
from graphql_api.rate_limit import (
    BookingLookupRateLimiter,
    LoginRateLimiter,
    TenantRateLimiter,
)
from graphql_api.request_id import RequestIdMiddleware
from graphql_api.request_record import current_record
from graphql_api.schema import build_schema
from graphql_api.webhooks import stripe_webhook
from migrations.runtime import build_runtime
from tenancy.embedded import embedded_database
from tenancy.errors import ErrorCode, http_status_of
from tenancy.heartbeat import ServerHeartbeat
from tenancy.runtime import Runtime
from tenancy.settings import Settings

log = logging.getLogger("graphql_api")
PUBLIC_URL_ENV = "GRAPHQL_API_PUBLIC_URL"  # set by `python -m graphql_api` for the banner


# Chosen in process_result, applied in create_response (same request task).
_response_shape: ContextVar[_ResponseShape | None] = ContextVar("response_shape", default=None)


@dataclass
class _ResponseShape:
    """What ``process_result`` decided about the HTTP response beyond its body."""

    media: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _request_error_status(errors: list[Any]) -> int:
    """HTTP status of a request that failed before execution: its first error's code's
    declared status (``tenancy.errors``), 400 when the code declares none."""
    return http_status_of((errors[0].extensions or {}).get("code"))


def _retry_after(errors: list[Any]) -> int | None:
    """Seconds to wait from the first ``RATE_LIMITED`` error, if any."""
    for error in errors:
        extensions = error.extensions or {}
        if extensions.get("code") == ErrorCode.RATE_LIMITED and "retryAfter" in extensions:
            return int(extensions["retryAfter"])
    return None


class TenantGraphQL(GraphQL):
    """Strawberry's ASGI view with our per-request context and request limits."""

    #: Resolves persisted-query hashes (``graphql_api.persisted_queries``); set by create_app.
    persisted: PersistedQueries | None = None

    def __init__(self, runtime: Runtime, settings: Settings, **kwargs: Any) -> None:
        super().__init__(build_schema(settings), **kwargs)
        self.runtime = runtime
        self.billing: Billing | None = None  # set by create_app
        self.tokens = TokenService(settings)
        self.max_json_depth = settings.max_json_depth
        self.rate_limiter = (
            TenantRateLimiter(settings.rate_limit_storage) if settings.rate_limit_enabled else None
        )
        self.login_limiter = (
            LoginRateLimiter(
                settings.rate_limit_storage,
                settings.login_attempts_per_account,
                settings.login_attempts_per_address,
                settings.discount_code_checks_per_address,
            )
            if settings.login_rate_limit_enabled
            else None
        )
        self.lookup_limiter = (
            BookingLookupRateLimiter(
                settings.rate_limit_storage,
                settings.booking_lookup_attempts_per_address,
                settings.booking_lookup_attempts_per_number,
            )
            if settings.booking_lookup_rate_limit_enabled
            else None
        )
        self.account_limiter = (
            AccountRateLimiter(settings) if settings.signup_rate_limit_enabled else None
        )

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        """``build_context``; an exception escaping it (a bug, the rate limit's storage
        down) becomes the request's coded failure, answered by ``RequestGuard``
        like any other, never a plain-text 500."""
        try:
            context = await build_context(
                self.runtime, self.tokens, request, self.rate_limiter, self.login_limiter
            )
        except Exception as exc:
            failure = unexpected_request_failure(exc)
            context = Context(
                runtime=self.runtime, tokens=self.tokens, request=request, failure=failure
            )
        context.response = response
        context.lookup_limiter = self.lookup_limiter
        context.billing = self.billing
        record = current_record()
        if record is not None:
            record.graphql = True  # its tenant: noted by build_context
        context.account_limiter = self.account_limiter
        return context

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Strawberry's ``run``; its plain-text HTTP errors become GraphQL-shaped JSON."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            accept = request.headers.get("accept", "") if isinstance(request, Request) else ""
            code = exc.code if isinstance(exc, RequestError) else None
            status = exc.status_code
            if isinstance(exc, PersistedQueryError) and GRAPHQL_RESPONSE_MEDIA not in accept:
                status = 200  # a GraphQL error: application/json clients always get 200
            record = current_record()
            if record is not None and code is not None:
                record.error_codes = [str(code)]
            return request_error_response(accept, status, exc.reason, code)

    async def parse_http_body(self, request: Any) -> Any:
        """Strawberry's parsing, then the persisted-query protocol
        (``graphql_api.persisted_queries``) for a single operation."""
        data = await super().parse_http_body(request)
        if self.persisted is not None and not isinstance(data, list):
            data.query = await self.persisted.resolve(data.query, data.extensions)
        return data

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Not for a GET that sends a persisted query's hash and no query."""
        if "extensions" in request.query_params:
            return False
        return super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """Our GraphiQL page from packaged assets (``graphql_api.graphiql``), with the
        tenant of the URL preselected; only reached where GraphiQL is on."""
        from graphql_api.graphiql import page_config, render_page

        config = await page_config(self.runtime, request.path_params.get("tenant"))
        return HTMLResponse(render_page(config))

    def decode_json(self, data: str | bytes) -> object:
        """Strict request JSON: UTF-8, an object (or a batch list), bounded nesting."""
        return decode_request_json(data, self.max_json_depth)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Every error leaves with ``extensions.code`` and nothing internal (``format_error``).

        Clients that accept ``application/graphql-response+json`` (GraphQL over
        HTTP) get that media type, and a request that failed before execution
        (parse, validation, variables, tenant or token) gets a 4xx status and
        no ``data`` entry. ``application/json`` clients always get 200.
        ``RATE_LIMITED`` answers carry ``Retry-After`` (seconds).
        """
        if result.errors:
            result.errors = [format_error(error) for error in result.errors]
        response = process_result(result)
        if result.errors:
            record = current_record()
            if record is not None:
                record.error_codes = [str((e.extensions or {}).get("code")) for e in result.errors]
            log_graphql_errors(response.get("errors") or [])
        shape = _ResponseShape()
        if GRAPHQL_RESPONSE_MEDIA in request.headers.get("accept", ""):
            shape.media = GRAPHQL_RESPONSE_MEDIA
            if result.errors and result.data is None and all(e.path is None for e in result.errors):
                response.pop("data", None)
                shape.status = _request_error_status(result.errors)
        retry = _retry_after(result.errors or [])
        if retry is not None:
            shape.headers["Retry-After"] = str(retry)
        _response_shape.set(shape)
        return response

    def create_response(self, response_data: Any, sub_response: Any) -> Any:
        response = super().create_response(response_data, sub_response)
        shape = _response_shape.get()
        if shape is not None:
            if shape.media is not None:
                response.headers["content-type"] = f"{shape.media}; charset=utf-8"
                response.status_code = shape.status
            response.headers.update(shape.headers)
        return response


def _with(runtime: Runtime, settings: Settings) -> Runtime:
    """``runtime`` seen with other ``settings`` (an app built with settings of its own)."""
    return dataclasses.replace(runtime, settings=settings)


def _graphiql_routes(settings: Settings) -> list[Mount]:
    """The packaged GraphiQL files (issue 12), only where GraphiQL is served."""
    if not settings.graphiql_enabled:
        return []
    from graphql_api.graphiql import ASSETS_PATH, assets_app

    return [Mount(ASSETS_PATH, assets_app(), name="graphiql-assets")]


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    """Build the ASGI app. ``runtime`` lets tests and tools inject a wired runtime."""
    settings = settings or (runtime.settings if runtime else Settings())
    runtime = runtime or build_runtime(settings)
    view = TenantGraphQL(
        runtime, settings, graphql_ide="graphiql" if settings.graphiql_enabled else None
    )
    billing = Billing.build(runtime if runtime.settings is settings else _with(runtime, settings))
    view.billing = billing
    observability = Observability(settings, runtime)  # issue 12: logs, metrics, APQ, tracing
    view.persisted = observability.persisted

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        public_url = os.environ.get(PUBLIC_URL_ENV, "http://127.0.0.1:8000")
        async with contextlib.AsyncExitStack() as stack:
            embedded_url = None
            if settings.is_embedded:
                embedded_url = await stack.enter_async_context(
                    embedded_database(settings.embedded_dir, runtime.clients)
                )
            stack.push_async_callback(runtime.close)
            await runtime.start()
            # Lets operators' move/delete know this process caches tenant records.
            heartbeat = ServerHeartbeat(runtime.store)
            await heartbeat.start()
            stack.push_async_callback(heartbeat.stop)
            if settings.relay_in_server:  # the notification outbox relay (notifications.worker)
                from notifications.worker import RelayWorker

                relay = RelayWorker(runtime)
                await relay.start()
                stack.push_async_callback(relay.stop)
            stack.push_async_callback(billing.close)
            if billing.enabled and settings.billing_in_server:  # grace, retries (billing.worker)
                from billing.worker import BillingWorker

                billing_loop = BillingWorker(billing)
                await billing_loop.start()
                stack.push_async_callback(billing_loop.stop)
            if settings.signup_enabled and settings.signup_database_pool_size > 0:
                from accounts.signup import refill_soon, stop_refills

                refill_soon(runtime)  # pre-provisioned databases for signups
                stack.push_async_callback(stop_refills, runtime)
            if settings.should_seed_demo:
                from graphql_api.demo import seed_demo

                await seed_demo(runtime)
            if settings.is_production:
                from graphql_api.demo import disable_demo_logins

                for email in await disable_demo_logins(runtime):
                    log.warning("deactivated demo login %s: its password is public", email)
            if embedded_url is not None:
                from graphql_api.banner import print_embedded_banner
                from graphql_api.demo import SUPER_ADMIN_EMAIL

                demo = await runtime.store.user_by_email(None, SUPER_ADMIN_EMAIL) is not None
                print_embedded_banner(settings, public_url, embedded_url, demo_present=demo)
            yield

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            await runtime.store.ping()
        except Exception as exc:  # any driver failure means "not ready"
            log.warning("readiness check failed: %s", exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready", "embedded": settings.is_embedded})

    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/t/{tenant}/graphql", view, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
            *observability.routes(),  # /metrics
            *_graphiql_routes(settings),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),  # outermost: every answer carries the id
            observability.middleware(),  # access log, metrics, span attributes
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "x-tenant", "x-request-id"],
                expose_headers=["x-request-id"],
                max_age=600,
            ),
            # X-Forwarded-For is applied only when the peer is a configured proxy.
            Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.billing = billing
    observability.instrument(app)  # OpenTelemetry, when APP_TRACING_ENABLED
    return app
