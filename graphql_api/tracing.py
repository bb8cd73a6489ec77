"""OpenTelemetry tracing, when switched on and installed (``pip install '.[tracing]'``).

``APP_TRACING_ENABLED=true`` instruments the app with
``opentelemetry-instrumentation-starlette`` (a server span per request) and
PyMongo with ``opentelemetry-instrumentation-pymongo`` (a client span per
database command). Each request's span gets ``tenant.slug``, ``tenant.plan``,
``graphql.operation.name``, ``graphql.operation.type``, ``graphql.outcome``
and ``app.request_id``; database spans get ``tenant.slug``.

Spans go to the global tracer provider. When the process has none yet (not
started under ``opentelemetry-instrument``), one is made with the SDK,
``service.name`` from ``OTEL_SERVICE_NAME`` (default ``tenant-graphql``), and
an OTLP/HTTP exporter when ``opentelemetry-exporter-otlp-proto-http`` is
installed (it reads ``OTEL_EXPORTER_OTLP_ENDPOINT``).

Without the packages, switching it on logs one warning and serves without
spans; nothing here is imported unless tracing is on.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from graphql_api.request_record import RequestRecord, current_record
from tenancy.request_context import current_request_id
from tenancy.settings import Settings

log = logging.getLogger(__name__)
SERVICE_NAME = "tenant-graphql"


def _database_hook(span: Any, event: Any) -> None:
    record = current_record()
    if span is not None and span.is_recording() and record is not None and record.tenant:
        span.set_attribute("tenant.slug", record.tenant)


def _ensure_provider() -> None:
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return  # configured already (opentelemetry-instrument, the host application)
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return
    name = os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.info("tracing: no OTLP exporter installed; spans stay in this process")
    else:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def instrument(app: Any, settings: Settings) -> bool:
    """Instrument ``app`` (Starlette) and PyMongo when ``APP_TRACING_ENABLED`` is on.

    Returns True when spans are produced; False when tracing is off or the
    packages are not installed (one warning).
    """
    if not settings.tracing_enabled:
        return False
    try:
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
        from opentelemetry.instrumentation.starlette import StarletteInstrumentor
    except ImportError:
        log.warning(
            "APP_TRACING_ENABLED is on but OpenTelemetry is not installed: "
            "pip install '.[tracing]'; serving without spans"
        )
        return False
    _ensure_provider()
    StarletteInstrumentor.instrument_app(app)
    instrumentor = PymongoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(request_hook=_database_hook)
    return True


def annotate_span(record: RequestRecord) -> None:
    """Put the request's tenant, operation and outcome on the current (server) span."""
    try:
        from opentelemetry import trace
    except ImportError:  # switched on without the packages (instrument warned)
        return

    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes: dict[str, str] = {"graphql.outcome": record.outcome}
    if record.tenant:
        attributes["tenant.slug"] = record.tenant
    if record.plan:
        attributes["tenant.plan"] = record.plan
    if record.operation:
        attributes["graphql.operation.name"] = record.operation
    if record.operation_type:
        attributes["graphql.operation.type"] = record.operation_type
    request_id = current_request_id()
    if request_id:
        attributes["app.request_id"] = request_id
    span.set_attributes(attributes)
