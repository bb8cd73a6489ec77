"""The billing collections: indexes of platform migration 0005, the inbox's unique ids,
idempotency keys stored before use."""

from __future__ import annotations

import asyncio

from billing.store import BILLING_INDEXES, BillingStore
from migrations.platform import m0005_billing
from tenancy.runtime import Runtime


def _spec(indexes):
    return {name: [i.document for i in models] for name, models in indexes.items()}


def test_the_migration_creates_the_indexes_the_store_declares() -> None:
    assert _spec(m0005_billing.BILLING_INDEXES) == _spec(BILLING_INDEXES)


async def test_a_new_platform_has_the_billing_indexes(runtime: Runtime) -> None:
    db = runtime.store.billing_collections()
    for name, indexes in BILLING_INDEXES.items():
        existing = await db[name].index_information()
        assert {i.document["name"] for i in indexes} <= set(existing), name


async def test_concurrent_stores_of_one_event_insert_it_once(runtime: Runtime) -> None:
    store = BillingStore(runtime.store)
    event = {"id": "evt_same", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}
    results = await asyncio.gather(*(store.store_event(event, "{}") for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert len(await store.events()) == 1


async def test_an_idempotency_key_is_stored_and_reused_for_its_purpose(runtime: Runtime) -> None:
    store = BillingStore(runtime.store)
    first, again = await asyncio.gather(
        store.idempotency_key("customer:t1"), store.idempotency_key("customer:t1")
    )
    assert first == again
    assert (await store.idempotency_keys())["customer:t1"] == first
    assert await store.idempotency_key("customer:t2") != first
