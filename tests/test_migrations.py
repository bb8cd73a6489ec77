"""Versioned per-database migrations: registry, ledger, lock, runner, provisioning hook.

Most runner tests use a small test registry whose migrations record their
calls (and can be told to fail or to sleep), so "ran once", "stopped" and
"at most N at once" are observed directly. Tests that need "not migrated
yet" tenants drop the ledger after provisioning, so they hold whether or not
provisioning already brings new tenants to the latest version.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from migrations.base import Migration, MigrationScope, compute_checksum
from migrations.database import (
    bring_to_latest,
    migrate_database,
    repair_checksums,
    rollback_database,
)
from migrations.fleet import migrate_all, resolve_targets, status_all
from migrations.ledger import LEDGER_COLLECTION, LOCK_COLLECTION, MigrationLock
from migrations.progress import ProgressEvent
from migrations.registry import MigrationRegistry, default_registry
from migrations.reports import MigrationState, Outcome
from migrations.status import database_status
from tenancy.errors import AppError, ErrorCode
from tenancy.lifecycle import ProvisionRequest, provision_tenant
from tenancy.models import DatabaseLocation, utcnow
from tenancy.runtime import Runtime
from tenancy.settings import DEFAULT_CLUSTER

ACTOR = "test:operator"
PLATFORM_MIGRATIONS = [
    "0001_initial_schema",
    "0002_reference_data_indexes",
    "0003_ascii_custom_domains",
    "0004_notification_due",
    "0005_billing",
    "0006_accounts_sessions",
]
# The real tenant migrations, in order (a new migration adds its id here).
TENANT_MIGRATIONS = [
    "0001_initial_schema",
    "0002_backfill_customer_name_key",
    "0003_staff_and_booking_resources",
    "0004_discount_code_keys",
    "0005_notification_outbox_indexes",
]

# -- a test registry whose migrations record what they do ----------------------

CALLS: list[tuple[str, str]] = []
ACTIVE: dict[str, int] = {"now": 0, "max": 0}


async def _should_fail(db: AsyncDatabase, step: str) -> bool:
    return await db["flags"].find_one({"_id": f"fail-{step}"}) is not None


async def platform_a_up(db: AsyncDatabase) -> None:
    CALLS.append((db.name, "p1"))
    if await _should_fail(db, "p1"):
        raise RuntimeError("platform step failed")


async def tenant_a_up(db: AsyncDatabase) -> None:
    CALLS.append((db.name, "t1"))
    await db["things"].insert_one({"step": 1})


async def tenant_a_down(db: AsyncDatabase) -> None:
    CALLS.append((db.name, "t1-down"))
    await db["things"].delete_many({"step": 1})


async def tenant_b_up(db: AsyncDatabase) -> None:
    CALLS.append((db.name, "t2"))
    if await _should_fail(db, "t2"):
        raise RuntimeError("boom in the middle")
    await db["things"].insert_one({"step": 2})


async def tenant_c_up(db: AsyncDatabase) -> None:
    CALLS.append((db.name, "t3"))


async def tenant_c_down(db: AsyncDatabase) -> None:
    CALLS.append((db.name, "t3-down"))


async def slow_up(db: AsyncDatabase) -> None:
    ACTIVE["now"] += 1
    ACTIVE["max"] = max(ACTIVE["max"], ACTIVE["now"])
    CALLS.append((db.name, "slow"))
    await asyncio.sleep(0.02)
    ACTIVE["now"] -= 1


STEPS = MigrationRegistry(
    [
        Migration("0001_p", "platform step", MigrationScope.PLATFORM, platform_a_up),
        Migration("0001_a", "first", MigrationScope.TENANT, tenant_a_up, tenant_a_down),
        Migration("0002_b", "second (irreversible)", MigrationScope.TENANT, tenant_b_up),
        Migration("0003_c", "third", MigrationScope.TENANT, tenant_c_up, tenant_c_down),
    ]
)
SLOW = MigrationRegistry([Migration("0001_slow", "sleeps", MigrationScope.TENANT, slow_up)])


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()
    ACTIVE.update(now=0, max=0)


# -- helpers -----------------------------------------------------------------


def scratch_db(runtime: Runtime, name: str) -> AsyncDatabase:
    """A brand-new database on the test cluster (tests may name one; runtime code never does)."""
    return runtime.clients.database(DatabaseLocation(cluster=DEFAULT_CLUSTER, name=name))


async def forget_ledger(db: AsyncDatabase) -> None:
    """Make a database look as if it had never been migrated."""
    await db.drop_collection(LEDGER_COLLECTION)
    await db.drop_collection(LOCK_COLLECTION)


async def provision(runtime: Runtime, *slugs: str) -> dict[str, AsyncDatabase]:
    """Provision tenants and drop their ledgers; returns slug -> tenant database."""
    out = {}
    for slug in slugs:
        tenant = await provision_tenant(
            runtime,
            ProvisionRequest(
                slug=slug,
                name=slug.title(),
                owner_email=f"owner@{slug}.example.com",
                owner_name="Owner",
                owner_password="correct-horse-battery",
            ),
            actor=ACTOR,
        )
        db = runtime.tenant_database(tenant)
        await forget_ledger(db)
        out[slug] = db
    await forget_ledger(runtime.store.db)
    return out


async def ledger_docs(db: AsyncDatabase) -> list[dict[str, Any]]:
    return await db[LEDGER_COLLECTION].find({}).sort("_id", 1).to_list()


def by_target(results: list[Any]) -> dict[str, Any]:
    return {r.target: r for r in results}


# -- registry and checksums ------------------------------------------------------


def test_registry_discovers_the_real_migrations_in_order() -> None:
    registry = default_registry()
    assert [m.id for m in registry.for_scope("platform")] == PLATFORM_MIGRATIONS
    tenant = registry.for_scope(MigrationScope.TENANT)
    assert [m.id for m in tenant] == TENANT_MIGRATIONS
    assert registry.latest("tenant") == TENANT_MIGRATIONS[-1]
    for migration in (*registry.for_scope("platform"), *tenant):
        assert len(migration.checksum) == 64
        assert migration.description
    assert not tenant[0].reversible and tenant[1].reversible and not tenant[2].reversible


def test_registry_refuses_duplicate_numbers_and_bad_ids() -> None:
    with pytest.raises(AppError) as exc:
        MigrationRegistry(
            [
                Migration("0001_a", "a", MigrationScope.TENANT, tenant_a_up),
                Migration("0001_b", "b", MigrationScope.TENANT, tenant_c_up),
            ]
        )
    assert exc.value.code == ErrorCode.MIGRATION_INVALID
    with pytest.raises(AppError) as exc:
        Migration("1_bad", "x", MigrationScope.TENANT, tenant_a_up)
    assert exc.value.code == ErrorCode.MIGRATION_INVALID


def _load_up(tmp_path: Path, name: str, source: str) -> Any:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.up


def test_checksum_ignores_formatting_and_comments_but_not_code(tmp_path: Path) -> None:
    original = _load_up(tmp_path, "v1", "async def up(db):\n    await db.x.insert_one({'a': 1})\n")
    reformatted = _load_up(
        tmp_path,
        "v2",
        "async def up( db ):\n\n        # a comment\n"
        "        await db.x.insert_one( {'a' : 1} )  # another\n",
    )
    changed = _load_up(tmp_path, "v3", "async def up(db):\n    await db.x.insert_one({'a': 2})\n")
    assert compute_checksum(original, None) == compute_checksum(reformatted, None)
    assert compute_checksum(original, None) != compute_checksum(changed, None)
    assert compute_checksum(original, None) != compute_checksum(original, original)


# -- one database ----------------------------------------------------------------


async def test_status_on_a_fresh_database_is_all_pending(runtime: Runtime) -> None:
    status = await database_status(scratch_db(runtime, "t_fresh"), "tenant")
    assert status.current is None
    assert status.latest == TENANT_MIGRATIONS[-1]
    assert status.pending == TENANT_MIGRATIONS
    assert not status.up_to_date and status.locked_by is None
    platform_status = await database_status(scratch_db(runtime, "fresh_platform"), "platform")
    assert platform_status.pending == PLATFORM_MIGRATIONS
    assert platform_status.target == "platform"


async def test_up_applies_in_order_and_writes_the_ledger(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_new")
    before = utcnow() - timedelta(seconds=1)
    result = await migrate_database(db, "tenant", actor=ACTOR)
    assert result.ok and result.outcome == Outcome.APPLIED, result.error
    assert result.applied == TENANT_MIGRATIONS
    assert result.version_before is None
    assert result.version_after == TENANT_MIGRATIONS[-1]

    registry = default_registry()
    docs = await ledger_docs(db)
    assert [d["_id"] for d in docs] == result.applied
    for doc in docs:
        assert doc["checksum"] == registry.get("tenant", doc["_id"]).checksum
        assert isinstance(doc["applied_at"], datetime) and doc["applied_at"] >= before
        assert isinstance(doc["duration_ms"], int) and doc["duration_ms"] >= 0
        assert doc["by"] == ACTOR
        assert doc["owner"].startswith(ACTOR + "@")
    assert "customers" in await db.list_collection_names()
    assert "email_unique" in await db["customers"].index_information()
    assert await db[LOCK_COLLECTION].count_documents({}) == 0  # released
    assert (await database_status(db, "tenant")).up_to_date


async def test_rerunning_does_nothing(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_rerun")
    await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    first = await ledger_docs(db)
    CALLS.clear()
    again = await migrate_database(db, "tenant", actor="someone-else", registry=STEPS)
    assert again.ok and again.outcome == Outcome.UNCHANGED
    assert again.applied == [] and again.planned == []
    assert CALLS == []
    assert await ledger_docs(db) == first


async def test_up_to_a_given_version_then_the_rest(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_to")
    first = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS, to="0002_b")
    assert first.applied == ["0001_a", "0002_b"]
    rest = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    assert rest.applied == ["0003_c"]
    bad = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS, to="0009_nope")
    assert bad.outcome == Outcome.FAILED and bad.error.code == ErrorCode.VALIDATION_FAILED


async def test_backfill_migration_sets_name_key_and_recounts(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_backfill")
    await migrate_database(db, "tenant", actor=ACTOR, to="0001_initial_schema")
    await db["customers"].insert_many(
        [
            {"name": "  Ömer ÇELİK ", "status": "active"},
            {"name": "Straße", "name_key": None, "status": "inactive"},
            {"name": "Kept", "name_key": "custom", "status": "active"},
            {"name": "Gone", "status": "deleted"},
        ]
    )
    await db["counters"].insert_one({"_id": "customers", "value": 42})

    result = await migrate_database(
        db, "tenant", actor=ACTOR, to="0002_backfill_customer_name_key"
    )  # (0003 has no down step: stop before it, to roll 0002 back below)
    assert result.applied == ["0002_backfill_customer_name_key"], result.error
    keys = {d["name"]: d.get("name_key") async for d in db["customers"].find({})}
    assert keys["  Ömer ÇELİK "] == "  Ömer ÇELİK ".strip().casefold()
    assert keys["Straße"] == "strasse"
    assert keys["Kept"] == "custom"
    assert keys["Gone"] == "gone"
    assert (await db["counters"].find_one({"_id": "customers"}))["value"] == 3

    # its down is harmless, and it can be applied again
    down = await rollback_database(db, "tenant", actor=ACTOR)
    assert down.outcome == Outcome.ROLLED_BACK and down.applied == [
        "0002_backfill_customer_name_key"
    ]
    assert (await database_status(db, "tenant")).pending == TENANT_MIGRATIONS[1:]
    assert (await migrate_database(db, "tenant", actor=ACTOR)).outcome == Outcome.APPLIED


async def test_changed_checksum_is_reported_and_not_rerun(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_drift")
    await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS, to="0001_a")
    await db[LEDGER_COLLECTION].update_one({"_id": "0001_a"}, {"$set": {"checksum": "0" * 64}})
    CALLS.clear()

    status = await database_status(db, "tenant", registry=STEPS)
    row = next(m for m in status.migrations if m.id == "0001_a")
    assert row.state == MigrationState.CHECKSUM_MISMATCH
    assert row.recorded_checksum == "0" * 64
    assert row.checksum == STEPS.get("tenant", "0001_a").checksum
    assert status.mismatched == ["0001_a"]
    assert "0001_a" not in status.pending and not status.up_to_date

    result = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    assert result.outcome == Outcome.FAILED
    assert result.error.code == ErrorCode.CHECKSUM_MISMATCH and "0001_a" in result.error.message
    assert result.applied == [] and CALLS == []  # neither re-run nor anything else run

    # after review, an operator accepts the new checksum; then the rest runs
    assert await repair_checksums(db, "tenant", actor=ACTOR, registry=STEPS) == ["0001_a"]
    entry = await db[LEDGER_COLLECTION].find_one({"_id": "0001_a"})
    assert entry["previous_checksums"] == ["0" * 64]
    result = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    assert result.applied == ["0002_b", "0003_c"]


async def test_ledger_entries_unknown_to_the_code_are_refused(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_future")
    await db[LEDGER_COLLECTION].insert_one(
        {"_id": "0099_future", "checksum": "x", "applied_at": utcnow(), "by": "newer code"}
    )
    status = await database_status(db, "tenant", registry=STEPS)
    assert status.unknown == ["0099_future"] and status.current == "0099_future"
    result = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    assert result.error.code == ErrorCode.MIGRATION_UNKNOWN and CALLS == []


async def test_a_failure_in_the_middle_stops_that_database(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_fail")
    await db["flags"].insert_one({"_id": "fail-t2"})
    result = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    assert result.outcome == Outcome.FAILED and not result.ok
    assert result.error.code == ErrorCode.MIGRATION_FAILED
    assert result.failed_migration == "0002_b"
    assert "boom in the middle" in result.error.message
    assert result.applied == ["0001_a"]
    assert [d["_id"] for d in await ledger_docs(db)] == ["0001_a"]
    assert [c for _, c in CALLS] == ["t1", "t2"]  # 0003 never started
    assert await db[LOCK_COLLECTION].count_documents({}) == 0  # released on failure too

    await db["flags"].delete_many({})
    CALLS.clear()
    resumed = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    assert resumed.applied == ["0002_b", "0003_c"]
    assert [c for _, c in CALLS] == ["t2", "t3"]


async def test_rollback_runs_down_and_refuses_irreversible_steps(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_down")
    await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    CALLS.clear()
    dry = await rollback_database(db, "tenant", actor=ACTOR, registry=STEPS, dry_run=True)
    assert dry.outcome == Outcome.PLANNED and dry.planned == ["0003_c"] and CALLS == []

    one = await rollback_database(db, "tenant", actor=ACTOR, registry=STEPS)
    assert one.outcome == Outcome.ROLLED_BACK and one.applied == ["0003_c"]
    assert one.version_after == "0002_b"
    assert [d["_id"] for d in await ledger_docs(db)] == ["0001_a", "0002_b"]

    refused = await rollback_database(db, "tenant", actor=ACTOR, registry=STEPS, to="0001_a")
    assert refused.error.code == ErrorCode.MIGRATION_IRREVERSIBLE
    assert refused.applied == []
    assert [d["_id"] for d in await ledger_docs(db)] == ["0001_a", "0002_b"]
    assert [c for _, c in CALLS] == ["t3-down"]


async def test_progress_events(runtime: Runtime) -> None:
    events: list[ProgressEvent] = []

    async def on_progress(event: ProgressEvent) -> None:
        events.append(event)

    await migrate_database(
        scratch_db(runtime, "t_progress"),
        "tenant",
        actor=ACTOR,
        registry=STEPS,
        on_progress=on_progress,
    )
    kinds = [(e.kind, e.migration_id) for e in events]
    assert kinds[0] == ("database_started", None)
    assert kinds[1:3] == [("migration_started", "0001_a"), ("migration_finished", "0001_a")]
    assert kinds[-1] == ("database_finished", None)
    assert events[-1].result is not None and events[-1].result.outcome == Outcome.APPLIED


# -- many databases ----------------------------------------------------------


async def test_status_all_reports_every_database(runtime: Runtime) -> None:
    await provision(runtime, "alpha", "bravo")
    report = await status_all(runtime)
    assert [d.target for d in report.databases] == ["platform", "alpha", "bravo"]
    assert report.databases[0].pending == PLATFORM_MIGRATIONS
    for tenant in report.databases[1:]:
        assert tenant.pending == TENANT_MIGRATIONS
        assert tenant.current is None
    assert not report.up_to_date
    json.dumps(report.to_dict())  # a CLI can print --json

    assert (await migrate_all(runtime, actor=ACTOR)).ok
    assert (await status_all(runtime)).up_to_date


async def test_migrate_all_platform_first_and_stop_on_first_error(runtime: Runtime) -> None:
    dbs = await provision(runtime, "alpha", "bravo", "charlie")
    await dbs["bravo"]["flags"].insert_one({"_id": "fail-t2"})
    report = await migrate_all(runtime, actor=ACTOR, registry=STEPS, concurrency=1)
    assert [r.target for r in report.results] == ["platform", "alpha", "bravo", "charlie"]
    assert CALLS[0] == (runtime.store.db.name, "p1")  # platform first
    results = by_target(report.results)
    assert results["platform"].outcome == Outcome.APPLIED
    assert results["alpha"].outcome == Outcome.APPLIED
    assert results["bravo"].outcome == Outcome.FAILED
    assert results["bravo"].error.code == ErrorCode.MIGRATION_FAILED
    assert results["charlie"].outcome == Outcome.SKIPPED
    assert not report.ok
    assert report.counts()["failed"] == 1 and report.counts()["skipped"] == 1
    assert await ledger_docs(dbs["charlie"]) == []
    json.dumps(report.to_dict())


async def test_continue_on_error_still_migrates_the_others(runtime: Runtime) -> None:
    dbs = await provision(runtime, "alpha", "bravo", "charlie")
    await dbs["bravo"]["flags"].insert_one({"_id": "fail-t2"})
    report = await migrate_all(
        runtime, actor=ACTOR, registry=STEPS, concurrency=1, continue_on_error=True
    )
    results = by_target(report.results)
    assert results["bravo"].outcome == Outcome.FAILED
    assert results["alpha"].outcome == results["charlie"].outcome == Outcome.APPLIED
    assert [d["_id"] for d in await ledger_docs(dbs["charlie"])] == ["0001_a", "0002_b", "0003_c"]
    assert not report.ok


async def test_a_failed_platform_database_stops_the_run(runtime: Runtime) -> None:
    await provision(runtime, "alpha")
    await runtime.store.db["flags"].insert_one({"_id": "fail-p1"})
    report = await migrate_all(runtime, actor=ACTOR, registry=STEPS, continue_on_error=True)
    results = by_target(report.results)
    assert results["platform"].outcome == Outcome.FAILED
    assert results["alpha"].outcome == Outcome.SKIPPED


async def test_dry_run_writes_nothing(runtime: Runtime) -> None:
    dbs = await provision(runtime, "alpha", "bravo")
    all_dbs = [runtime.store.db, *dbs.values()]
    before = [sorted(await db.list_collection_names()) for db in all_dbs]

    report = await migrate_all(runtime, actor=ACTOR, registry=STEPS, dry_run=True)
    assert report.dry_run and report.ok
    results = by_target(report.results)
    assert results["platform"].planned == ["0001_p"]
    assert results["alpha"].outcome == Outcome.PLANNED
    assert results["alpha"].planned == ["0001_a", "0002_b", "0003_c"]
    assert results["alpha"].applied == []
    assert CALLS == []
    assert [sorted(await db.list_collection_names()) for db in all_dbs] == before
    for db in all_dbs:
        assert LEDGER_COLLECTION not in await db.list_collection_names()
        assert LOCK_COLLECTION not in await db.list_collection_names()

    real = await migrate_all(runtime, actor=ACTOR, dry_run=True)
    assert by_target(real.results)["bravo"].planned == TENANT_MIGRATIONS


async def test_single_tenant_selection(runtime: Runtime) -> None:
    dbs = await provision(runtime, "alpha", "bravo")
    report = await migrate_all(runtime, actor=ACTOR, tenants=["bravo"], registry=STEPS)
    assert [r.target for r in report.results] == ["bravo"]  # no platform unless asked
    assert await ledger_docs(dbs["alpha"]) == []
    assert len(await ledger_docs(dbs["bravo"])) == 3

    with_platform = await migrate_all(
        runtime, actor=ACTOR, tenants=["alpha"], include_platform=True, registry=STEPS
    )
    assert [r.target for r in with_platform.results] == ["platform", "alpha"]

    with pytest.raises(AppError) as exc:
        await migrate_all(runtime, actor=ACTOR, tenants=["nope"], registry=STEPS)
    assert exc.value.code == ErrorCode.TENANT_NOT_FOUND


async def test_deleted_tenants_are_left_out_and_maintenance_is_skipped(
    runtime: Runtime,
) -> None:
    await provision(runtime, "alpha", "bravo", "charlie")
    tenants = runtime.store.db["tenants"]
    await tenants.update_one({"slug": "alpha"}, {"$set": {"status": "deleted"}})
    await tenants.update_one(
        {"slug": "bravo"}, {"$set": {"maintenance": {"reason": "moving", "since": utcnow()}}}
    )
    targets = await resolve_targets(runtime)
    assert [t.label for t in targets] == ["platform", "bravo", "charlie"]
    with pytest.raises(AppError) as exc:
        await resolve_targets(runtime, tenants=["alpha"])
    assert exc.value.code == ErrorCode.TENANT_NOT_FOUND

    report = await migrate_all(runtime, actor=ACTOR, registry=STEPS)
    results = by_target(report.results)
    assert results["bravo"].outcome == Outcome.SKIPPED
    assert results["bravo"].error.code == ErrorCode.TENANT_MAINTENANCE
    assert results["charlie"].outcome == Outcome.APPLIED
    assert report.ok


async def test_concurrency_is_bounded(runtime: Runtime) -> None:
    await provision(runtime, "alpha", "bravo", "charlie", "delta", "echo")
    report = await migrate_all(runtime, actor=ACTOR, registry=SLOW, concurrency=2)
    assert report.ok
    assert len(CALLS) == 5
    assert ACTIVE["max"] == 2  # parallel, and never more than 2

    with pytest.raises(AppError) as exc:
        await migrate_all(runtime, actor=ACTOR, registry=SLOW, concurrency=0)
    assert exc.value.code == ErrorCode.VALIDATION_FAILED


# -- the lock ----------------------------------------------------------------


async def test_lock_acquire_refuse_takeover_release(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_lock")
    now = utcnow()
    ttl = timedelta(minutes=5)
    a = MigrationLock(db, "runner-a", ttl=ttl, clock=lambda: now)
    b = MigrationLock(db, "runner-b", ttl=ttl, clock=lambda: now + timedelta(minutes=1))
    b_later = MigrationLock(db, "runner-b", ttl=ttl, clock=lambda: now + ttl + timedelta(seconds=1))

    held = await a.acquire()
    assert held.owner == "runner-a"
    assert (await b.holder()).owner == "runner-a"
    with pytest.raises(AppError) as exc:
        await b.acquire()
    assert exc.value.code == ErrorCode.MIGRATION_LOCKED and "runner-a" in exc.value.message
    assert not await b.release()  # only the owner releases
    assert (await a.renew()).owner == "runner-a"  # the owner can renew
    await a.acquire()  # and re-acquire

    a_later = MigrationLock(db, "runner-a", ttl=ttl, clock=lambda: now + ttl + timedelta(seconds=1))
    await a.acquire()
    assert (await b_later.acquire()).owner == "runner-b"  # expired: taken over
    with pytest.raises(AppError) as exc:
        await a_later.renew()
    assert exc.value.code == ErrorCode.MIGRATION_LOCKED
    assert not await a.release()
    assert await b_later.release()
    assert await b_later.holder() is None
    assert await db[LOCK_COLLECTION].count_documents({}) == 0


async def test_a_locked_database_is_reported_not_migrated(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_busy")
    await MigrationLock(db, "someone-else").acquire()
    result = await migrate_database(db, "tenant", actor=ACTOR, registry=STEPS)
    assert result.outcome == Outcome.FAILED
    assert result.error.code == ErrorCode.MIGRATION_LOCKED
    assert CALLS == [] and await ledger_docs(db) == []
    assert (await database_status(db, "tenant", registry=STEPS)).locked_by == "someone-else"


async def test_two_concurrent_runners_never_double_apply(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_race")
    first, second = await asyncio.gather(
        migrate_database(db, "tenant", actor=ACTOR, owner="runner-a", registry=SLOW),
        migrate_database(db, "tenant", actor=ACTOR, owner="runner-b", registry=SLOW),
    )
    outcomes = sorted([first.outcome, second.outcome])
    assert outcomes == [Outcome.APPLIED, Outcome.FAILED]
    loser = first if first.outcome == Outcome.FAILED else second
    assert loser.error.code == ErrorCode.MIGRATION_LOCKED
    assert [(db.name, "slow")] == CALLS
    assert [d["_id"] for d in await ledger_docs(db)] == ["0001_slow"]

    # with the real migrations: one applies; the other is refused or finds nothing to do
    real_db = scratch_db(runtime, "t_race_real")
    results = await asyncio.gather(
        migrate_database(real_db, "tenant", actor=ACTOR, owner="runner-a"),
        migrate_database(real_db, "tenant", actor=ACTOR, owner="runner-b"),
    )
    assert sum(r.outcome == Outcome.APPLIED for r in results) == 1
    other = next(r for r in results if r.outcome != Outcome.APPLIED)
    assert other.outcome == Outcome.UNCHANGED or other.error.code == ErrorCode.MIGRATION_LOCKED
    assert len(await ledger_docs(real_db)) == len(TENANT_MIGRATIONS)


# -- provisioning hook ---------------------------------------------------------


async def test_bring_to_latest_leaves_nothing_pending(runtime: Runtime) -> None:
    db = scratch_db(runtime, "t_born")
    result = await bring_to_latest(db, MigrationScope.TENANT, ACTOR)
    assert result.applied == [m.id for m in default_registry().for_scope("tenant")]
    status = await database_status(db, "tenant")
    assert status.up_to_date and status.pending == []
    assert status.current == default_registry().latest("tenant")
    assert {d["by"] for d in await ledger_docs(db)} == {ACTOR}

    platform_result = await bring_to_latest(runtime.store.db, "platform", ACTOR)
    assert platform_result.ok
    assert (await database_status(runtime.store.db, "platform")).up_to_date

    broken = scratch_db(runtime, "t_broken")
    await broken["flags"].insert_one({"_id": "fail-t2"})
    with pytest.raises(AppError) as exc:
        await bring_to_latest(broken, "tenant", ACTOR, registry=STEPS)
    assert exc.value.code == ErrorCode.MIGRATION_FAILED
