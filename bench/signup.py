"""Benchmark: self-service signup, from the request to a ready tenant (issue 11).

Runs the whole ASGI stack in-process (httpx ASGITransport) on the embedded
default (a local SecantusDB server in a temporary directory) or on the tests'
in-process mock. Each sample is one ``signup`` mutation (a new slug each
time: tenant database created and migrated, record, owner with an argon2id
hash at production parameters, verification email queued) followed by the
owner's first request in the new tenant (``me`` with the returned token):
"ready" means the owner is using it.

    python bench/signup.py                    # embedded SecantusDB, 30 signups
    python bench/signup.py --backend mock     # the tests' mock
    python bench/signup.py --signups 50 --interval 0.5
    python bench/signup.py --pool 0            # no pre-provisioned databases

Signups arrive one at a time, ``--interval`` seconds apart (the pool refills
in the background meanwhile; the pool is filled before the first one).

Prints p50 / p95 / max milliseconds of signup-to-ready, and of the signup alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIGNUP = """mutation($input: SignupInput!) {
  signup(input: $input) { token tenantSlug userErrors { code message } } }"""
ME = "{ me { id } }"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _run(url: str, signups: int, interval: float, pool: int) -> None:
    from graphql_api.app import create_app
    from migrations.runtime import build_runtime
    from tenancy.settings import Settings

    settings = Settings(
        _env_file=None,
        mongodb_url=url,
        seed_demo=False,
        environment="test",
        rate_limit_enabled=False,
        signup_rate_limit_enabled=False,
        relay_in_server=False,
        signup_database_pool_size=pool,
    )
    runtime = build_runtime(settings)
    await runtime.start()
    from accounts.signup import refills_done
    from tenancy.database_pool import fill

    await fill(runtime)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)), base_url="http://bench"
    )
    ready: list[float] = []
    alone: list[float] = []
    for i in range(signups + 1):  # the first one warms caches and is not counted
        started = time.perf_counter()
        variables = {
            "input": {
                "companyName": f"Bench Company {i}",
                "slug": f"bench-co-{i}",
                "ownerName": "Owner",
                "email": f"owner{i}@bench.example.com",
                "password": "a-long-enough-password",
            }
        }
        answer = await client.post("/graphql", json={"query": SIGNUP, "variables": variables})
        payload = answer.json()["data"]["signup"]
        assert payload["userErrors"] == [], payload
        signed = time.perf_counter()
        headers = {"authorization": f"Bearer {payload['token']}"}
        me = await client.post("/graphql", json={"query": ME}, headers=headers)
        assert me.json()["data"]["me"]["id"], me.text
        done = time.perf_counter()
        if i:
            ready.append((done - started) * 1000)
            alone.append((signed - started) * 1000)
        await asyncio.sleep(interval)
    await refills_done(runtime)
    await client.aclose()
    await runtime.close()
    for name, values in (("signup-to-ready", ready), ("signup alone", alone)):
        print(
            f"{name:16}: p50 {statistics.median(values):7.1f} ms   "
            f"p95 {_percentile(values, 0.95):7.1f} ms   max {max(values):7.1f} ms   "
            f"({len(values)} signups)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["embedded", "mock"], default="embedded")
    parser.add_argument("--signups", type=int, default=30)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between signups")
    parser.add_argument("--pool", type=int, default=3, help="APP_SIGNUP_DATABASE_POOL_SIZE")
    args = parser.parse_args()
    from bench.backends import bench_database

    with bench_database(args.backend) as url:
        print(f"backend          : {args.backend}, pool {args.pool}, interval {args.interval} s")
        asyncio.run(_run(url, args.signups, args.interval, args.pool))


if __name__ == "__main__":
    main()
