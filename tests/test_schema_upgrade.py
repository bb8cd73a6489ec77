"""tenancy brings new databases to the latest schema version through the upgrader
its Platform holds (tenancy.schema_upgrade), never by importing migrations."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from migrations.database import bring_to_latest
from migrations.status import database_status
from tenancy import service
from tenancy.errors import AppError, ErrorCode
from tenancy.runtime import Platform
from tenancy.settings import Settings

OWNER = {
    "name": "Acme Dental",
    "owner_email": "owner@acme-dental.com",
    "owner_name": "Ada",
    "owner_password": "correct horse battery",
}


def test_composition_roots_build_with_the_versioned_migrations(settings: Settings) -> None:
    from migrations.runtime import build_platform

    assert build_platform(settings).upgrade_schema is bring_to_latest


async def test_new_databases_are_upgraded_by_the_platform_upgrader(settings: Settings) -> None:
    calls: list[tuple[str, str, str]] = []

    async def recording(db: AsyncDatabase, scope: str, actor: str) -> object:
        calls.append((db.name, scope, actor))
        return await bring_to_latest(db, scope, actor)

    platform = Platform.build(settings, upgrade_schema=recording)
    try:
        await platform.start()
        await platform.start()  # an existing platform database is not migrated by a start
        request = service.ProvisionRequest(slug="acme-dental", **OWNER)
        tenant = await service.provision_tenant(platform, request, "test:op")
        status = await database_status(platform.tenant_database(tenant), "tenant")
    finally:
        await platform.close()
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

    platform = Platform.build(settings, upgrade_schema=failing)
    try:
        await platform.start()
        request = service.ProvisionRequest(slug="acme-dental", **OWNER)
        with pytest.raises(AppError) as refused:
            await service.provision_tenant(platform, request, "test:op")
        assert refused.value.code == ErrorCode.MIGRATION_FAILED
        assert await platform.store.tenant_by_slug("acme-dental") is None
    finally:
        await platform.close()
