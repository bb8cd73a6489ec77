"""Prometheus metrics (prometheus-client), served at ``/metrics``.

One registry per app (:class:`Metrics`), so several apps in one process
(tests) never share counters. Series:

- ``graphql_requests_total{plan,operation,status}``: GraphQL requests;
  ``status`` is ``OK`` or the first error's code.
- ``graphql_request_duration_seconds{plan,operation}``: latency histogram.
- ``graphql_rate_limited_total{plan}``: requests refused with ``RATE_LIMITED``
  (request count, query cost, logins, look-ups).
- ``graphql_database_round_trips{plan}``: database commands per request
  (histogram; counted by a PyMongo command listener, so a backend that sends
  no commands, such as the tests' in-process mock, counts none).
- ``graphql_query_cost{plan}``: requested query cost per executed operation.
- ``notification_outbox_due_tenants`` / ``notification_outbox_oldest_due_seconds``:
  tenants whose outbox holds messages due now, and how long the most overdue
  has waited, read from the platform's ``notification_due`` records at scrape
  time (two cheap queries; no tenant database is read).

**Labels and cardinality.** ``plan`` (a handful of plan keys) is on every
request series. The tenant slug is not, by default: one series per tenant
and operation grows with the fleet. ``APP_METRICS_TENANT_LABEL=true`` adds
``tenant`` to ``graphql_requests_total`` and ``graphql_rate_limited_total``
for fleets of bounded size. Operation names are chosen by clients: the
first ``APP_METRICS_MAX_OPERATION_NAMES`` distinct names get their own
label, later ones count as ``other`` (in safelist mode the names are the
registered documents', bounded anyway); an unnamed operation is
``anonymous``, a request refused before execution ``none``.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from pymongo import monitoring
from starlette.requests import Request
from starlette.responses import Response

from graphql_api.request_record import RequestRecord, current_record
from tenancy.errors import ErrorCode
from tenancy.models import utcnow
from tenancy.platform import PlatformStore
from tenancy.settings import Settings

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROUND_TRIP_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55)
COST_BUCKETS = (0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
NO_PLAN = "none"


class RoundTripCounter(monitoring.CommandListener):
    """Counts every database command into the current request's record.

    Registered once per process (:func:`install_round_trip_counter`) for every
    client created afterwards; outside a request it does nothing.
    """

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        record = current_record()
        if record is not None:
            record.round_trips += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


_installed = threading.Lock()
_listener: RoundTripCounter | None = None


def install_round_trip_counter() -> None:
    """Register :class:`RoundTripCounter` with PyMongo (once; clients made later use it)."""
    global _listener
    with _installed:
        if _listener is None:
            _listener = RoundTripCounter()
            monitoring.register(_listener)


install_round_trip_counter()  # at import: before the server opens any client


class OperationNames:
    """Bounds the ``operation`` label: the first ``limit`` names, then ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def label(self, record: RequestRecord) -> str:
        """The label of ``record``'s operation (``none``, ``anonymous``, a name, ``other``)."""
        if record.operation_type is None:
            return "none"
        name = record.operation
        if not name:
            return "anonymous"
        if name in self.seen:
            return name
        if len(self.seen) < self.limit:
            self.seen.add(name)
            return name
        return "other"


class Metrics:
    """The metrics of one app.

    Args:
        settings: ``metrics_tenant_label``, ``metrics_max_operation_names``.
        store: the platform store the outbox gauges are read from at scrape time.
    """

    def __init__(self, settings: Settings, store: PlatformStore) -> None:
        self.store = store
        self.tenant_label = settings.metrics_tenant_label
        self.operations = OperationNames(settings.metrics_max_operation_names)
        self.registry = CollectorRegistry()
        tenant = ["tenant"] if self.tenant_label else []
        self.requests = Counter(
            "graphql_requests_total",
            "GraphQL requests by plan, operation and outcome (OK or the first error code).",
            ["plan", "operation", "status", *tenant],
            registry=self.registry,
        )
        self.latency = Histogram(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL request, in seconds.",
            ["plan", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "graphql_rate_limited_total",
            "GraphQL requests refused with RATE_LIMITED.",
            ["plan", *tenant],
            registry=self.registry,
        )
        self.round_trips = Histogram(
            "graphql_database_round_trips",
            "Database commands sent while serving one GraphQL request.",
            ["plan"],
            buckets=ROUND_TRIP_BUCKETS,
            registry=self.registry,
        )
        self.query_cost = Histogram(
            "graphql_query_cost",
            "Requested query cost of each executed operation (points).",
            ["plan"],
            buckets=COST_BUCKETS,
            registry=self.registry,
        )
        self.outbox_due = Gauge(
            "notification_outbox_due_tenants",
            "Tenants whose notification outbox holds messages due now.",
            registry=self.registry,
        )
        self.outbox_age = Gauge(
            "notification_outbox_oldest_due_seconds",
            "How long the most overdue notification has been due, in seconds (0: none).",
            registry=self.registry,
        )

    def observe(self, record: RequestRecord) -> None:
        """Count a finished GraphQL request (others are not counted)."""
        if not record.graphql:
            return
        plan = record.plan or NO_PLAN
        operation = self.operations.label(record)
        tenant = [record.tenant or NO_PLAN] if self.tenant_label else []
        self.requests.labels(plan, operation, record.outcome, *tenant).inc()
        self.latency.labels(plan, operation).observe(record.duration)
        self.round_trips.labels(plan).observe(record.round_trips)
        if record.cost_requested is not None:
            self.query_cost.labels(plan).observe(record.cost_requested)
        if ErrorCode.RATE_LIMITED in record.error_codes:
            self.rate_limited.labels(plan, *tenant).inc()

    async def refresh_outbox(self, now: datetime | None = None) -> None:
        """Read the outbox gauges from the platform (a failure leaves them as they were)."""
        now = now or utcnow()
        try:
            due, oldest = await self.store.notification_due_summary(now)
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("outbox metrics not refreshed: %s", exc)
            return
        self.outbox_due.set(due)
        self.outbox_age.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: the registry in Prometheus' text format."""
        await self.refresh_outbox()
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
