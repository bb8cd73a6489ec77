"""Prometheus metrics (issue 12, item 4): ``/metrics`` shows requests by plan, operation and
status, latency, rate-limit refusals, database round-trips and the outbox, after a few requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from graphql_api.app import create_app
from graphql_api.demo import DEMO_TENANTS, _seed_tenant
from tenancy.models import utcnow
from tenancy.runtime import Runtime
from tests.backends import Backend

SLUG = "west-nipt"


@asynccontextmanager
async def _http(runtime: Runtime, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings=runtime.settings.model_copy(update=settings), runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
        yield c


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_show_the_counters_after_a_few_requests(runtime: Runtime, backend: Backend):
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    async with _http(runtime) as http:
        for _ in range(3):
            await http.post(
                f"/t/{SLUG}/graphql", json={"query": "query Catalog { services { code } }"}
            )
        await http.post(f"/t/{SLUG}/graphql", json={"query": "{ nope }"})
        await http.post("/graphql", json={"query": "{ plans { key } }"})
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    scrape = samples(response.text)
    ok = {"plan": "professional", "operation": "Catalog", "status": "OK"}
    assert value(scrape, "graphql_requests_total", **ok) == 3
    refused = {"plan": "professional", "operation": "none", "status": "GRAPHQL_VALIDATION_FAILED"}
    assert value(scrape, "graphql_requests_total", **refused) == 1
    no_tenant = {"plan": "none", "operation": "anonymous", "status": "OK"}
    assert value(scrape, "graphql_requests_total", **no_tenant) == 1
    latency = {"plan": "professional", "operation": "Catalog"}
    assert value(scrape, "graphql_request_duration_seconds_count", **latency) == 3
    assert value(scrape, "graphql_query_cost_sum", plan="professional") == 3
    trips = value(scrape, "graphql_database_round_trips_sum", plan="professional")
    if backend.name == "mock":
        assert trips == 0  # the in-process mock sends no commands to count
    else:
        assert trips >= 3  # one query of the services per request at least
    assert value(scrape, "graphql_database_round_trips_count", plan="professional") == 4


async def test_rate_limit_refusals_are_counted(runtime: Runtime):
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    tenant = await runtime.store.tenant_by_slug(SLUG)
    assert tenant is not None
    await runtime.store.update_tenant(tenant.id, {"limits.api_rate_limit_per_minute": 1})
    runtime.registry.invalidate(SLUG)
    async with _http(runtime, rate_limit_enabled=True) as http:
        for _ in range(3):
            await http.post(f"/t/{SLUG}/graphql", json={"query": "{ services { code } }"})
        scrape = samples((await http.get("/metrics")).text)
    assert value(scrape, "graphql_rate_limited_total", plan="professional") == 2
    limited = {"plan": "professional", "operation": "anonymous", "status": "RATE_LIMITED"}
    assert value(scrape, "graphql_requests_total", **limited) == 2


async def test_outbox_depth_and_age_are_read_at_scrape_time(runtime: Runtime):
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    tenant = await runtime.store.tenant_by_slug(SLUG)
    assert tenant is not None
    async with _http(runtime) as http:
        await runtime.store.forget_due_tenant(tenant.id)
        empty = samples((await http.get("/metrics")).text)
        await runtime.store.mark_notifications_due(tenant.id, utcnow() - timedelta(minutes=5))
        due = samples((await http.get("/metrics")).text)
    assert value(empty, "notification_outbox_due_tenants") == 0
    assert value(empty, "notification_outbox_oldest_due_seconds") == 0
    assert value(due, "notification_outbox_due_tenants") == 1
    assert 300 <= value(due, "notification_outbox_oldest_due_seconds") < 3600


async def test_operation_names_are_bounded_and_tenants_are_no_label_by_default(runtime: Runtime):
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    async with _http(runtime, metrics_max_operation_names=1) as http:
        for name in ("First", "Second", "Third"):
            await http.post(
                f"/t/{SLUG}/graphql", json={"query": f"query {name} {{ plans {{ key }} }}"}
            )
        scrape = samples((await http.get("/metrics")).text)
    operations = {
        dict(labels)["operation"]: v
        for (name, labels), v in scrape.items()
        if name == "graphql_requests_total"
    }
    assert operations == {"First": 1, "other": 2}
    assert not any("tenant" in dict(labels) for _, labels in scrape)


async def test_the_tenant_label_when_switched_on(runtime: Runtime):
    await _seed_tenant(runtime, DEMO_TENANTS[0])
    async with _http(runtime, metrics_tenant_label=True) as http:
        await http.post(f"/t/{SLUG}/graphql", json={"query": "{ services { code } }"})
        scrape = samples((await http.get("/metrics")).text)
    labels = {"plan": "professional", "operation": "anonymous", "status": "OK", "tenant": SLUG}
    assert value(scrape, "graphql_requests_total", **labels) == 1


async def test_metrics_can_be_switched_off(runtime: Runtime):
    async with _http(runtime, metrics_enabled=False) as http:
        response = await http.get("/metrics")
    assert response.status_code == 404
