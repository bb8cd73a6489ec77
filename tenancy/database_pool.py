"""Pre-provisioned tenant databases: signups claim a migrated, empty one instead of waiting.

Creating a tenant database and applying every tenant migration takes about
half a second on the embedded default, the biggest part of a signup. A small
pool (``APP_SIGNUP_DATABASE_POOL_SIZE``) of databases made ahead of time
(named ``<prefix>pool_<random>``: never a slug's name, slugs have no ``_``)
removes it: a signup claims one with one conditional update
(``PlatformStore.pool_claim``, of concurrent claimers each gets another one),
provisions the tenant into it (``ProvisionRequest.database_name``; migrations
applied since the database was made are applied then, a no-op otherwise) and
the pool is refilled in the background. An empty pool only makes the signup
slower (the database is created on the spot).

A pool database is recorded (``filling``) before it is made and offered
(``ready``) once migrated, so a fill stopped half-way (a server shutting
down cancels its fill) leaves a record, and the next fill finishes that
database instead of forgetting it. A claim whose signup failed gives the
database back; a claim left by a crashed process is given back by the next
fill once it is older than ``STALE_CLAIM`` and no tenant uses the database. Pool databases are not
tenants: fleet migrations skip them, ``migrate status --all`` lists them as
databases without a tenant.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from tenancy.errors import AppError, ErrorCode
from tenancy.models import DatabaseLocation, utcnow
from tenancy.runtime import Runtime
from tenancy.settings import DEFAULT_CLUSTER

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=10)
#: A pool database still being made after this long was left by a stopped fill.
STALE_FILL = timedelta(minutes=2)


async def _make(runtime: Runtime, location: DatabaseLocation, actor: str) -> None:
    """Bring a recorded pool database to the latest tenant migration, then offer it.

    Another process finishing the same database holds its migration lock:
    that one offers it.
    """
    try:
        await runtime.upgrade_schema(runtime.clients.database(location), "tenant", actor)
    except AppError as error:
        if error.code == ErrorCode.MIGRATION_LOCKED:
            return
        raise
    await runtime.store.pool_mark_ready(location)


def pool_database_name(prefix: str) -> str:
    """A new pool database name: ``<prefix>pool_<12 hex>`` (not a slug: slugs have no ``_``)."""
    return f"{prefix}pool_{secrets.token_hex(6)}"


async def fill(runtime: Runtime, cluster: str = DEFAULT_CLUSTER, actor: str = "system:pool") -> int:
    """Create pool databases until ``APP_SIGNUP_DATABASE_POOL_SIZE`` are ready; returns how many.

    Stale claims (older than ``STALE_CLAIM``, no tenant on the database) are
    given back first.
    """
    store = runtime.store
    for location in await store.pool_unfinished(utcnow() - STALE_FILL):
        await _make(runtime, location, actor)
    for location in await store.pool_stale_claims(utcnow() - STALE_CLAIM):
        if await store.tenant_by_database(location) is None:
            await store.pool_release(location)
        else:
            await store.pool_remove(location)
    made = 0
    while await store.pool_ready(cluster) < runtime.settings.signup_database_pool_size:
        location = DatabaseLocation(
            cluster=cluster, name=pool_database_name(runtime.settings.tenant_db_prefix)
        )
        await store.pool_add(location)
        await _make(runtime, location, actor)
        made += 1
    if made:
        log.info("database pool of %s: %d made", cluster, made)
    return made


async def claim(
    runtime: Runtime, claimer: str, cluster: str = DEFAULT_CLUSTER
) -> DatabaseLocation | None:
    """A ready pool database for ``claimer`` (a slug), or ``None`` when the pool is empty/off."""
    if runtime.settings.signup_database_pool_size <= 0:
        return None
    return await runtime.store.pool_claim(cluster, claimer)
