"""Demo seeding when several server workers start at once (``--workers 2``)."""

from __future__ import annotations

import asyncio

from graphql_api.demo import DEMO_TENANTS, seed_demo
from migrations.runtime import build_runtime
from tenancy.runtime import Runtime


async def test_concurrent_workers_seed_once_and_both_wait_for_the_demo(runtime: Runtime):
    second = build_runtime(runtime.settings)  # another worker process's platform
    seen_by_loser: list[int] = []

    async def loser() -> bool:
        seeded = await seed_demo(second)
        seen_by_loser.append(await second.store.db["tenants"].count_documents({}))
        return seeded

    results = await asyncio.gather(seed_demo(runtime), loser())
    await second.close()
    assert sorted(results) == [False, True]  # exactly one worker seeded
    # The worker that did not seed returned only once every demo tenant existed.
    assert seen_by_loser == [len(DEMO_TENANTS)]
    assert await runtime.store.db["users"].count_documents({}) == 1 + 3 * len(DEMO_TENANTS)
    assert await seed_demo(runtime) is False  # a later start leaves the data alone
