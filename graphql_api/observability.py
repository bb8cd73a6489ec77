"""Wiring of issue 12's operations features into the app and the schema.

- :func:`observability_extensions`: the schema extensions that record the
  operation (``graphql_api.observe``) and compute its cost
  (``graphql_api.query_cost``).
- :class:`Observability`: what ``create_app`` adds: the observation
  middleware (access log, metrics, span attributes), the ``/metrics``
  route, the persisted-query resolver and tracing.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware
from starlette.routing import Route

from graphql_api.metrics import Metrics
from graphql_api.observe import ObservationMiddleware, OperationRecorder
from graphql_api.persisted_queries import PersistedQueries
from graphql_api.query_cost import query_cost_extension
from graphql_api.rate_limit import limits_storage
from tenancy.runtime import Runtime
from tenancy.settings import Settings


def observability_extensions(settings: Settings) -> list[Any]:
    """Extensions for ``build_schema``: the operation recorder, then query cost (if on).

    The cost buckets use ``APP_RATE_LIMIT_STORAGE`` when rate limits are on
    (``APP_RATE_LIMIT_ENABLED``); otherwise cost is reported and capped only.
    """
    storage = limits_storage(settings.rate_limit_storage) if settings.rate_limit_enabled else None
    cost = query_cost_extension(settings, storage)
    return [OperationRecorder] + ([cost] if cost is not None else [])


class Observability:
    """The app's metrics, persisted queries and tracing switch, built from the settings."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.metrics = Metrics(settings, runtime.store) if settings.metrics_enabled else None
        self.persisted = (
            PersistedQueries(
                runtime.store,
                settings.persisted_queries_cache_size,
                settings.persisted_queries_safelist,
            )
            if settings.persisted_queries_enabled or settings.persisted_queries_safelist
            else None
        )

    def middleware(self) -> Middleware:
        """The observation middleware (placed just inside the request-id middleware)."""
        return Middleware(
            ObservationMiddleware,
            metrics=self.metrics,
            access_log=self.settings.access_log_enabled,
            tracing=self.settings.tracing_enabled,
        )

    def routes(self) -> list[Route]:
        """``/metrics`` when metrics are on."""
        if self.metrics is None:
            return []
        return [Route("/metrics", self.metrics.endpoint, methods=["GET"])]

    def instrument(self, app: Any) -> None:
        """OpenTelemetry for ``app`` when ``APP_TRACING_ENABLED`` (``graphql_api.tracing``)."""
        if self.settings.tracing_enabled:
            from graphql_api.tracing import instrument

            instrument(app, self.settings)
