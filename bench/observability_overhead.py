"""Benchmark: the throughput cost of the access log, metrics and query-cost analysis.

Runs the same query in-process (httpx ASGITransport against ``create_app``) on
apps that differ only in those switches, on one runtime and one database:

- ``off``: ``APP_ACCESS_LOG=false``, ``APP_METRICS_ENABLED=false``,
  ``APP_QUERY_COST_ENABLED=false`` (rate limits off in every app);
- ``access log``, ``metrics``, ``query cost``: each alone;
- ``all on``: the three together (the development default; production
  turns the access log off).

Logging is configured as the server does (JSON lines, INFO), written to
``os.devnull``, so the cost of formatting each line is counted, not the
terminal's. Apps take turns (``--rounds``) so that drift spreads evenly;
the median of the rounds is printed, twice: by wall clock, and by this
process's CPU time per request (``time.process_time``), which other programs
on a busy machine disturb far less; the database server's own CPU (embedded
backend) is not in it, so it is the API process's capacity when it is the
bottleneck.

    python bench/observability_overhead.py                    # embedded SecantusDB
    python bench/observability_overhead.py --backend mock     # the tests' mock
    python bench/observability_overhead.py --requests 500 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

import httpx

QUERY = """query Bookings($first: Int) {
  bookings(first: $first) {
    edges { node { id confirmationNumber status startsAt
                   customer { id name } service { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
CHEAP = "query Catalog { services { code name } }"
LOGIN = """mutation { login(email: "admin@west-nipt.example.com", password: "demo-password",
  tenant: "west-nipt") { token } }"""
PATH = "/t/west-nipt/graphql"

CONFIGS: dict[str, dict[str, bool]] = {
    "off": {"access_log": False, "metrics_enabled": False, "query_cost_enabled": False},
    "access log": {"access_log": True, "metrics_enabled": False, "query_cost_enabled": False},
    "metrics": {"access_log": False, "metrics_enabled": True, "query_cost_enabled": False},
    "query cost": {"access_log": False, "metrics_enabled": False, "query_cost_enabled": True},
    "all on": {"access_log": True, "metrics_enabled": True, "query_cost_enabled": True},
}


async def _measure(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], requests: int
) -> tuple[float, float]:
    """Requests per second of ``requests`` sequential requests: by wall clock, by CPU time."""
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        response = await client.post(PATH, json=body, headers=headers)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    return (
        requests / (time.perf_counter() - started),
        requests / max(time.process_time() - cpu, 1e-9),
    )


async def run(args: argparse.Namespace) -> None:
    from graphql_api.app import create_app
    from graphql_api.demo import seed_demo
    from graphql_api.logging_setup import configure_logging
    from migrations.runtime import build_runtime
    from tenancy.settings import Settings

    base = Settings(
        _env_file=None,
        mongodb_url=args.database_url,
        seed_demo=False,
        environment="test",
        rate_limit_enabled=False,
        login_rate_limit_enabled=False,
        log_format="json",
    )
    sink = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    configure_logging(base, sink)
    runtime = build_runtime(base)
    await runtime.start()
    await seed_demo(runtime)
    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=create_app(base.model_copy(update=switches), runtime)
            ),
            base_url="http://bench",
        )
        for name, switches in CONFIGS.items()
    }
    login = await clients["off"].post(PATH, json={"query": LOGIN})
    headers = {"authorization": f"Bearer {login.json()['data']['login']['token']}"}
    queries = {
        "bookings(first: 20) with customer and service": {
            "query": QUERY,
            "variables": {"first": 20},
        },
        "services { code name } (cheap)": {"query": CHEAP},
    }
    print(f"backend: {args.backend}; {args.requests} sequential requests x {args.rounds} rounds")
    for label, body in queries.items():
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in CONFIGS}
        for client in clients.values():  # warm caches (parser, validation, tenant)
            await _measure(client, body, headers, args.warmup)
        for _ in range(args.rounds):
            for name, client in clients.items():
                results[name].append(await _measure(client, body, headers, args.requests))
        print(f"\n{label}")
        print(f"  {'':<11} {'wall req/s':>10} {'':>9}   {'CPU req/s':>10} {'':>9}")
        off = [statistics.median(v[i] for v in results["off"]) for i in (0, 1)]
        for name, values in results.items():
            cells = []
            for i in (0, 1):
                rate = statistics.median(v[i] for v in values)
                change = "" if name == "off" else f"{(rate - off[i]) / off[i] * 100:+.1f} %"
                cells.append(f"{rate:10,.0f} {change:>9}")
            print(f"  {name:<11} {cells[0]}   {cells[1]}")
    for client in clients.values():
        await client.aclose()
    await runtime.close()
    sink.close()


def main() -> None:
    from backends import bench_database  # bench/backends.py (scripts run from bench/)

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--backend", choices=["embedded", "mock"], default="embedded")
    args = parser.parse_args()
    with bench_database(args.backend) as url:
        args.database_url = url
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
