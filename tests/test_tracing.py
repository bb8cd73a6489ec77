"""OpenTelemetry hooks (issue 12, item 5): with ``APP_TRACING_ENABLED`` and the ``tracing`` extra
installed, a server span per request carries the tenant and the operation, and PyMongo commands
get client spans; without the packages the server runs on, without spans."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.instrumentation.starlette")

from opentelemetry import trace
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind

from graphql_api.app import create_app
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from graphql_api.tracing import instrument
from migrations.runtime import build_runtime
from tenancy.settings import Settings
from tests.backends import Backend

SLUG = "west-nipt"
_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished spans of this test, from the process's SDK tracer provider."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    if not getattr(provider, "_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        provider._test_exporter = True  # type: ignore[attr-defined]
    _exporter.clear()
    yield _exporter
    _exporter.clear()


async def test_request_spans_carry_tenant_and_operation(
    settings: Settings, backend: Backend, spans: InMemorySpanExporter
):
    traced = settings.model_copy(update={"tracing_enabled": True})
    runtime = build_runtime(traced)
    app = create_app(settings=traced, runtime=runtime)  # instruments before clients open
    await runtime.start()
    try:
        await _seed_tenant(runtime, DEMO_TENANTS[0])
        spans.clear()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
            response = await c.post(
                f"/t/{SLUG}/graphql",
                json={"query": "query Catalog { services { code } }"},
                headers={"X-Request-ID": "req-trace"},
            )
    finally:
        await runtime.close()
        PymongoInstrumentor().uninstrument()  # the instrumentation is process-wide
    assert response.status_code == 200
    finished = spans.get_finished_spans()
    [server] = [s for s in finished if s.kind is SpanKind.SERVER]
    attributes = dict(server.attributes or {})
    assert attributes["tenant.slug"] == SLUG
    assert attributes["tenant.plan"] == "professional"
    assert attributes["graphql.operation.name"] == "Catalog"
    assert attributes["graphql.operation.type"] == "query"
    assert attributes["graphql.outcome"] == "OK"
    assert attributes["app.request_id"] == "req-trace"
    database = [s for s in finished if s.kind is SpanKind.CLIENT]
    if backend.is_mock:
        assert database == []  # the in-process mock sends no commands
    else:
        assert database, "PyMongo commands get client spans"
        tenant_spans = [s for s in database if (s.attributes or {}).get("tenant.slug") == SLUG]
        assert tenant_spans


def test_tracing_is_off_by_default_and_harmless_without_the_packages(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    assert not Settings(_env_file=None).tracing_enabled
    assert instrument(object(), Settings(_env_file=None)) is False
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.starlette", None)
    with caplog.at_level(logging.WARNING, logger="graphql_api.tracing"):
        assert instrument(object(), Settings(_env_file=None, tracing_enabled=True)) is False
    assert "pip install '.[tracing]'" in caplog.text
