"""tenancy brings new databases to the latest schema version through the upgrader
its Platform holds (tenancy.schema_upgrade), never by importing migrations."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from migrations.database import bring_to_latest
from migrations.status import database_status
from tenancy import lifecycle
from tenancy.errors import AppError, ErrorCode
from tenancy.runtime import Runtime
from tenancy.settings import Settings

OWNER = {
    "name": "Acme Dental",
    "owner_email": "owner@acme-dental.com",
    "owner_name": "Ada",
    "owner_password": "correct horse battery",
}


def test_composition_roots_build_with_the_versioned_migrations(settings: Settings) -> None:
    from migrations.runtime import build_runtime

    assert build_runtime(settings).upgrade_schema is bring_to_latest


async def test_new_databases_are_upgraded_by_the_platform_upgrader(settings: Settings) -> None:
    calls: list[tuple[str, str, str]] = []

    async def recording(db: AsyncDatabase, scope: str, actor: str) -> object:
        calls.append((db.name, scope, actor))
        return await bring_to_latest(db, scope, actor)

    runtime = Runtime.build(settings, upgrade_schema=recording)
    try:
        await runtime.start()
        await runtime.start()  # an existing platform database is not migrated by a start
        request = lifecycle.ProvisionRequest(slug="acme-dental", **OWNER)
        tenant = await lifecycle.provision_tenant(runtime, request, "test:op")
        status = await database_status(runtime.tenant_database(tenant), "tenant")
    finally:
        await runtime.close()
    assert calls == [
        (settings.platform_db, "platform", "system:start"),
        ("t_acme-dental", "tenant", "test:op"),
    ]
    assert status.up_to_date


async def test_a_failed_upgrade_leaves_no_tenant_record(settings: Settings) -> None:
    async def failing(db: AsyncDatabase, scope: str, actor: str) -> object:
        if scope == "tenant":
            raise AppError(ErrorCode.MIGRATION_FAILED, "migration 0002 failed")
        return await bring_to_latest(db, scope, actor)

    runtime = Runtime.build(settings, upgrade_schema=failing)
    try:
        await runtime.start()
        request = lifecycle.ProvisionRequest(slug="acme-dental", **OWNER)
        with pytest.raises(AppError) as refused:
            await lifecycle.provision_tenant(runtime, request, "test:op")
        assert refused.value.code == ErrorCode.MIGRATION_FAILED
        assert await runtime.store.tenant_by_slug("acme-dental") is None
    finally:
        await runtime.close()
