"""Platform database access: tenants, domains, users, plans, audit log and running servers.

Over 500 lines as one job: this is the platform database's one door. The
platform database (``Settings.platform_db``) knows the tenants; this module is
the only reader and writer of its collections (tenants, tenant_domains,
users, plans, audit_log, counters of user seats, server_instances,
one_time_claims). Every other module asks ``PlatformStore``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from tenancy import quota
from tenancy.errors import AppError, ErrorCode
from tenancy.indexes import apply_indexes
from tenancy.models import (
    DatabaseLocation,
    Maintenance,
    Plan,
    PreviousDatabase,
    Tenant,
    User,
    utcnow,
)
from tenancy.mongo_types import Database
from tenancy.naming import database_key
from tenancy.pagination import Page, fetch_page
from tenancy.request_context import current_request_id
from tenancy.token_state import TtlCache, UserTokenState

TENANTS = "tenants"
DOMAINS = "tenant_domains"
USERS = "users"
AUDIT_LOG = "audit_log"
ONE_TIME_CLAIMS = "one_time_claims"
PLANS = "plans"
#: One document per running API server process (see ``PlatformStore.register_instance``).
SERVER_INSTANCES = "server_instances"
#: One document per tenant whose outbox may hold due messages (``mark_notifications_due``).
NOTIFICATION_DUE = "notification_due"
#: "No lease": the time a free record's lease ended.
_NO_LEASE = datetime(1970, 1, 1, tzinfo=UTC)
#: Accounts (issue 11): login sessions (refresh-token families) and their refresh
#: tokens (only SHA-256 digests are stored), feature flags.
SESSIONS = "sessions"
REFRESH_TOKENS = "refresh_tokens"
FEATURE_FLAGS = "feature_flags"
#: Migrated, empty tenant databases that signups claim (``tenancy.database_pool``).
DATABASE_POOL = "database_pool"

PLATFORM_INDEXES: dict[str, list[IndexModel]] = {
    TENANTS: [
        IndexModel([("slug", ASCENDING)], unique=True, name="slug_unique"),
        IndexModel([("database_key", ASCENDING)], unique=True, name="database_unique"),
        IndexModel([("status", ASCENDING), ("_id", DESCENDING)], name="status_id"),
        IndexModel([("subscription.plan_key", ASCENDING)], name="plan"),
    ],
    USERS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("email_key", ASCENDING)],
            unique=True,
            name="tenant_email_unique",
        ),
    ],
    PLANS: [IndexModel([("key", ASCENDING)], unique=True, name="key_unique")],
    NOTIFICATION_DUE: [IndexModel([("due_at", ASCENDING)], name="due")],
    # Accounts (issue 11, platform migration m0006 creates the same).
    SESSIONS: [
        IndexModel([("user_id", ASCENDING)], name="user"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_ttl"),
    ],
    REFRESH_TOKENS: [
        IndexModel([("session_id", ASCENDING)], name="session"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_ttl"),
    ],
    AUDIT_LOG: [
        IndexModel([("tenant", ASCENDING), ("at", DESCENDING)], name="tenant_at"),
        IndexModel([("tenant", ASCENDING), ("_id", DESCENDING)], name="tenant_id_desc"),
        IndexModel([("action", ASCENDING), ("_id", DESCENDING)], name="action_id_desc"),
        IndexModel([("actor", ASCENDING), ("_id", DESCENDING)], name="actor_id_desc"),
    ],
    FEATURE_FLAGS: [IndexModel([("key", ASCENDING)], unique=True, name="key_unique")],
    DATABASE_POOL: [
        IndexModel([("cluster", ASCENDING), ("status", ASCENDING)], name="cluster_status")
    ],
}


#: Expired heartbeats are removed by the server's TTL monitor (reads filter on
#: ``expires_at`` too: the monitor runs about once a minute).
SERVER_INSTANCE_INDEXES = [
    IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_ttl")
]


@dataclass(frozen=True)
class ServerInstance:
    """A running API server process, as its last heartbeat describes it.

    Attributes:
        id: unique per process start.
        host: host name; pid: process id (``label`` is ``host:pid``).
        started_at / heartbeat_at / expires_at: UTC; the process counts as
            running until ``expires_at`` unless it beats again.
    """

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime

    @property
    def label(self) -> str:
        return f"{self.host}:{self.pid}"


@dataclass(frozen=True)
class DueTenant:
    """A tenant a relay claimed from ``notification_due`` for one pass over its outbox.

    Attributes:
        tenant_id: the tenant.
        marks: how many times operations had marked it when claimed (the
            pass's end only reschedules the record if none marked it since).
        marked_at: when an operation last marked it.
    """

    tenant_id: ObjectId
    marks: int
    marked_at: datetime


def _tenant_query(status: str | None, plan_key: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if status:
        query["status"] = status
    if plan_key:
        query["subscription.plan_key"] = plan_key
    return query


def email_key(email: str) -> str:
    """Case-insensitive identity of an email address (uniqueness, lookups)."""
    return email.strip().lower()


class PlatformStore:
    """Repository over the platform database.

    Args:
        db: the platform database handle.
    """

    def __init__(self, db: Database | Callable[[], Database]) -> None:
        """Args:
        db: the platform database, or a function that returns it on each use
            (the embedded server's address is known only once it runs).
        """
        self._db = db
        #: This process's server instance id once registered (``register_instance``).
        self.instance_id: str | None = None
        #: Accounts: users' token state and sessions' revocation, cached briefly
        #: (``tenancy.token_state``); this store's own changes evict their entry.
        self.token_states: TtlCache[UserTokenState] = TtlCache()
        self.session_states: TtlCache[bool] = TtlCache()

    @property
    def db(self) -> Database:
        """The platform database handle."""
        return self._db() if callable(self._db) else self._db

    async def ensure_indexes(self) -> None:
        """Create the platform indexes (idempotent)."""
        for collection, indexes in PLATFORM_INDEXES.items():
            await apply_indexes(self.db[collection], indexes)

    async def ping(self) -> None:
        """One round-trip to the platform database; raises if it does not answer."""
        await self.db.command("ping")

    # -- tenants -------------------------------------------------------

    async def tenant_by_slug(self, slug: str) -> Tenant | None:
        doc = await self.db[TENANTS].find_one({"slug": slug})
        return Tenant.model_validate(doc) if doc else None

    async def tenant_by_id(self, tenant_id: ObjectId) -> Tenant | None:
        doc = await self.db[TENANTS].find_one({"_id": tenant_id})
        return Tenant.model_validate(doc) if doc else None

    async def slug_for_domain(self, host: str) -> str | None:
        doc = await self.db[DOMAINS].find_one({"_id": host.lower()})
        return doc["slug"] if doc else None

    async def insert_tenant(self, tenant: Tenant) -> None:
        """Insert a tenant record and claim its domains.

        Raises:
            AppError(ALREADY_EXISTS) when the slug, database or a domain is taken.
        """
        try:
            await self.db[TENANTS].insert_one(tenant.to_mongo())
        except DuplicateKeyError as exc:
            field = "slug" if "slug" in str(exc) else "database"
            raise AppError(
                ErrorCode.ALREADY_EXISTS,
                f"a tenant with this {field} already exists",
                ["input", field],
            ) from exc
        try:
            await self.claim_domains(tenant.slug, tenant.domains)
        except AppError:
            await self.db[TENANTS].delete_one({"_id": tenant.id})
            raise

    async def claim_domains(self, slug: str, domains: list[str]) -> None:
        """Claim hostnames for a tenant; all or nothing.

        Raises:
            AppError(ALREADY_EXISTS) naming the first domain another tenant holds.
        """
        claimed: list[str] = []
        for domain in domains:
            try:
                await self.db[DOMAINS].insert_one({"_id": domain, "slug": slug})
                claimed.append(domain)
            except DuplicateKeyError:
                existing = await self.db[DOMAINS].find_one({"_id": domain})
                if existing and existing["slug"] == slug:
                    continue
                if claimed:
                    await self.db[DOMAINS].delete_many({"_id": {"$in": claimed}})
                raise AppError(
                    ErrorCode.ALREADY_EXISTS,
                    f"domain {domain} belongs to another tenant",
                    ["input", "domains"],
                ) from None

    async def release_domains(self, slug: str, domains: list[str]) -> None:
        await self.db[DOMAINS].delete_many({"_id": {"$in": domains}, "slug": slug})

    async def update_tenant(self, tenant_id: ObjectId, changes: dict[str, Any]) -> Tenant:
        """Apply ``$set`` changes, bump ``version`` and ``updated_at``; return the new record.

        Raises:
            AppError(NOT_FOUND) if the tenant does not exist.
        """
        doc = await self.db[TENANTS].find_one_and_update(
            {"_id": tenant_id},
            {"$set": {**changes, "updated_at": utcnow()}, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise AppError(ErrorCode.NOT_FOUND, f"tenant {tenant_id} was not found")
        return Tenant.model_validate(doc)

    async def has_tenants(self) -> bool:
        """True once any tenant record exists (deleted ones included)."""
        return bool(await self.db[TENANTS].count_documents({}, limit=1))

    async def tenant_by_database(
        self, location: DatabaseLocation, *, include_previous: bool = False
    ) -> Tenant | None:
        """The tenant whose record names ``location`` (case-folded) as its database,
        or, with ``include_previous``, as one it was moved away from."""
        query: dict[str, Any] = {"database_key": database_key(location.cluster, location.name)}
        if include_previous:
            previous = {"$elemMatch": {"cluster": location.cluster, "name": location.name}}
            query = {"$or": [query, {"previous_databases": previous}]}
        doc = await self.db[TENANTS].find_one(query)
        return Tenant.model_validate(doc) if doc else None

    async def switch_database(self, tenant: Tenant, target: DatabaseLocation) -> bool:
        """Point ``tenant`` at ``target`` and end its maintenance, in one conditional write.

        Only when the record still names the database it named in ``tenant``
        (nobody switched it meanwhile); the old database joins
        ``previous_databases``. Returns whether the record was switched.
        """
        source = tenant.database
        result = await self.db[TENANTS].update_one(
            {"_id": tenant.id, "database_key": tenant.database_key},
            {
                "$set": {
                    "database": target.model_dump(),
                    "database_key": database_key(target.cluster, target.name),
                    "maintenance": None,
                    "updated_at": utcnow(),
                },
                "$push": {
                    "previous_databases": PreviousDatabase(
                        cluster=source.cluster, name=source.name
                    ).model_dump()
                },
                "$inc": {"version": 1},
            },
        )
        return result.modified_count == 1

    async def forget_previous_database(
        self, tenant_id: ObjectId, location: DatabaseLocation
    ) -> None:
        """Remove ``location`` from a tenant's ``previous_databases`` (it was dropped)."""
        await self.db[TENANTS].update_one(
            {"_id": tenant_id},
            {"$pull": {"previous_databases": location.model_dump()}},
        )

    async def enter_maintenance(
        self, tenant_id: ObjectId, maintenance: Maintenance
    ) -> Tenant | None:
        """Set ``maintenance`` unless it is set already (one conditional write).

        Returns the updated record, or ``None`` when another operation holds it.
        """
        doc = await self.db[TENANTS].find_one_and_update(
            {"_id": tenant_id, "maintenance": None},
            {
                "$set": {"maintenance": maintenance.model_dump(), "updated_at": utcnow()},
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        return Tenant.model_validate(doc) if doc else None

    async def delete_tenant_record(self, tenant_id: ObjectId) -> None:
        """Remove a record outright: only to undo a provisioning that failed half-way."""
        await self.db[TENANTS].delete_one({"_id": tenant_id})

    async def tenants_to_migrate(self) -> list[Tenant]:
        """Every tenant whose database is kept (all but deleted ones), by slug."""
        cursor = self.db[TENANTS].find({"status": {"$ne": "deleted"}}).sort("slug", ASCENDING)
        return [Tenant.model_validate(doc) async for doc in cursor]

    # -- audit log -------------------------------------------------------

    async def append_audit(
        self,
        actor: str,
        action: str,
        tenant: str | None,
        details: dict[str, Any],
        *,
        target: str | None = None,
        changes: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Append one entry to the platform audit log (UTC time, who, what, which tenant,
        and the id of the request or command that did it, ``tenancy.request_context``).

        Args:
            actor: ``user:<id>``, ``operator:<os user>``, ``signup:<slug>``, ``system:...``;
                its kind (the part before ``:``) is stored as ``actor_kind``.
            target: what was changed (``user:<id>``, ``service:<id>``, a flag key...).
            changes: ``{field: {"before": ..., "after": ...}}``, secrets already
                redacted by the caller (``tenancy.audit.field_changes``).
        """
        await self.db[AUDIT_LOG].insert_one(
            {
                "at": utcnow(),
                "actor": actor,
                "actor_kind": actor.partition(":")[0] if ":" in actor else actor,
                "action": action,
                "tenant": tenant,
                "target": target,
                "changes": changes or {},
                "details": details,
                "request_id": current_request_id(),
            }
        )

    async def has_audit_entry(self, action: str, tenant: str, actor: str) -> bool:
        """True when ``actor`` once did ``action`` to ``tenant`` (an importer's provisioning)."""
        entry = await self.db[AUDIT_LOG].find_one(
            {"action": action, "tenant": tenant, "actor": actor}, {"_id": 1}
        )
        return entry is not None

    async def tenant_counts(self, field: str) -> dict[str, int]:
        """Number of tenants per value of ``field`` (``status``, ``subscription.plan_key``)."""
        cursor = await self.db[TENANTS].aggregate(
            [{"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
        )
        return {str(row["_id"]): int(row["n"]) async for row in cursor}

    async def count_all_users(self) -> int:
        """Active users of every tenant (super-admins excluded)."""
        return await self.db[USERS].count_documents({"tenant_id": {"$ne": None}, "active": True})

    # -- plans ---------------------------------------------------------

    async def plans(self, *, include_inactive: bool = False) -> list[Plan]:
        query = {} if include_inactive else {"active": True}
        cursor = self.db[PLANS].find(query).sort("sort_order", ASCENDING)
        return [Plan.model_validate(doc) async for doc in cursor]

    async def plan(self, key: str) -> Plan | None:
        doc = await self.db[PLANS].find_one({"key": key})
        return Plan.model_validate(doc) if doc else None

    async def upsert_plan(self, plan: Plan) -> None:
        doc = plan.to_mongo()
        doc.pop("_id")
        await self.db[PLANS].update_one({"key": plan.key}, {"$set": doc}, upsert=True)

    # -- users ---------------------------------------------------------

    async def user_by_email(self, tenant_id: ObjectId | None, email: str) -> User | None:
        doc = await self.db[USERS].find_one({"tenant_id": tenant_id, "email_key": email_key(email)})
        return User.model_validate(doc) if doc else None

    async def user_by_id(self, user_id: ObjectId) -> User | None:
        doc = await self.db[USERS].find_one({"_id": user_id})
        return User.model_validate(doc) if doc else None

    async def insert_user(self, user: User) -> None:
        """Raises AppError(ALREADY_EXISTS) when the email is taken in that tenant."""
        try:
            await self.db[USERS].insert_one(user.to_mongo())
        except DuplicateKeyError as exc:
            raise AppError(
                ErrorCode.ALREADY_EXISTS,
                f"a user with email {user.email} already exists",
                ["input", "email"],
            ) from exc

    async def tenants_page(
        self,
        *,
        status: str | None = None,
        plan_key: str | None = None,
        first: int,
        after: str | None = None,
    ) -> Page:
        """A page of tenant records, newest first (keyset pagination, see ``tenancy.pagination``).

        Raises:
            AppError(VALIDATION_FAILED) for a forged ``after`` cursor.
        """
        return await fetch_page(
            self.db[TENANTS],
            _tenant_query(status, plan_key),
            sort_name="tenants",
            sort=[("_id", DESCENDING)],
            first=first,
            after=after,
        )

    async def all_tenants(self, *, status: str | None = None) -> list[Tenant]:
        """Every tenant record (optionally of one status), by slug: for operator listings."""
        cursor = self.db[TENANTS].find(_tenant_query(status, None)).sort("slug", ASCENDING)
        return [Tenant.model_validate(doc) async for doc in cursor]

    async def active_users_by_tenant(self, tenant_ids: list[ObjectId]) -> dict[ObjectId, int]:
        """Active users of each tenant, in one aggregation (a tenant with none is absent)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"tenant_id": {"$in": tenant_ids}, "active": True}},
            {"$group": {"_id": "$tenant_id", "n": {"$sum": 1}}},
        ]
        cursor = await self.db[USERS].aggregate(pipeline)
        return {row["_id"]: row["n"] async for row in cursor}

    async def plans_by_key(self, keys: list[str]) -> dict[str, Plan]:
        """Plans (active or not) by key, in one query."""
        cursor = self.db[PLANS].find({"key": {"$in": keys}})
        return {doc["key"]: Plan.model_validate(doc) async for doc in cursor}

    async def count_users(self, tenant_id: ObjectId) -> int:
        return await self.db[USERS].count_documents({"tenant_id": tenant_id, "active": True})

    async def users_of_tenant(self, tenant_id: ObjectId) -> list[User]:
        cursor = self.db[USERS].find({"tenant_id": tenant_id}).sort("_id", ASCENDING)
        return [User.model_validate(doc) async for doc in cursor]

    async def claim_once(self, key: str, holder: str) -> bool:
        """True for the first caller ever to claim ``key`` (e.g. ``"demo-seed"``), on any process.

        One ``insert`` under the unique ``_id``: of concurrent callers (two
        server workers starting together) exactly one wins. The winner calls
        :meth:`finish_claim` when done; others may :meth:`wait_for_claim`.
        """
        try:
            await self.db[ONE_TIME_CLAIMS].insert_one(
                {"_id": key, "holder": holder, "at": utcnow(), "done": False}
            )
        except DuplicateKeyError:
            return False
        return True

    async def finish_claim(self, key: str) -> None:
        """Record that the work of a won claim is complete."""
        await self.db[ONE_TIME_CLAIMS].update_one(
            {"_id": key}, {"$set": {"done": True, "done_at": utcnow()}}
        )

    async def wait_for_claim(self, key: str, timeout_seconds: float) -> bool:
        """Wait until another process finished the work of ``key``; False on timeout."""
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        while asyncio.get_running_loop().time() < deadline:
            doc = await self.db[ONE_TIME_CLAIMS].find_one({"_id": key}, {"done": 1})
            if doc is None or doc.get("done", True):
                return True
            await asyncio.sleep(0.2)
        return False

    async def reserve_user_seat(self, tenant_id: ObjectId, limit: int | None) -> bool:
        """Take one of a tenant's ``max_users`` seats (atomic counter, ``tenancy.quota``).

        Returns False when the plan's limit is reached.
        """
        counter = f"users:{tenant_id}"
        await quota.ensure_counter(self.db, counter, await self.count_users(tenant_id))
        return await quota.reserve(self.db, counter, limit)

    async def release_user_seat(self, tenant_id: ObjectId) -> None:
        """Give a seat back (a user deactivated, or a create that failed)."""
        await quota.release(self.db, f"users:{tenant_id}")

    async def deactivate_tenant_users(self, tenant_id: ObjectId) -> None:
        """Deactivate every user of a tenant (a deleted tenant keeps its records)."""
        await self.db[USERS].update_many({"tenant_id": tenant_id}, {"$set": {"active": False}})

    async def set_user_active(self, user_id: ObjectId, active: bool) -> bool:
        """Activate or deactivate a user; True when this call changed it (conditional write).

        Either way the user's ``token_version`` is bumped, so tokens issued
        before stop working at once (``tenancy.token_state``).
        """
        result = await self.db[USERS].update_one(
            {"_id": user_id, "active": not active},
            {"$set": {"active": active, "updated_at": utcnow()}, "$inc": {"token_version": 1}},
        )
        self.token_states.evict(str(user_id))
        return result.modified_count == 1

    async def touch_login(self, user_id: ObjectId) -> None:
        await self.db[USERS].update_one({"_id": user_id}, {"$set": {"last_login_at": utcnow()}})

    # -- running server instances (heartbeats) -------------------------

    async def register_instance(self, lease_seconds: float) -> str:
        """Record this process as a running server until ``lease_seconds`` from now.

        Sets and returns ``instance_id``; renew with :meth:`renew_instance`
        before the lease ends, and :meth:`unregister_instance` at shutdown.
        Operators' ``move``/``delete`` wait for the tenant cache of the
        instances that are registered (:meth:`live_instances`).
        """
        await apply_indexes(self.db[SERVER_INSTANCES], SERVER_INSTANCE_INDEXES)
        now = utcnow()
        instance_id = uuid.uuid4().hex
        await self.db[SERVER_INSTANCES].insert_one(
            {
                "_id": instance_id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": now,
                "heartbeat_at": now,
                "expires_at": now + timedelta(seconds=lease_seconds),
            }
        )
        self.instance_id = instance_id
        return instance_id

    async def renew_instance(self, lease_seconds: float) -> None:
        """Extend this process's lease (re-creates the record if it had expired)."""
        if self.instance_id is None:
            raise RuntimeError("register_instance() first")
        now = utcnow()
        await self.db[SERVER_INSTANCES].update_one(
            {"_id": self.instance_id},
            {
                "$set": {"heartbeat_at": now, "expires_at": now + timedelta(seconds=lease_seconds)},
                "$setOnInsert": {
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": now,
                },
            },
            upsert=True,
        )

    async def unregister_instance(self) -> None:
        """Remove this process's record (clean shutdown); no-op if not registered."""
        if self.instance_id is not None:
            await self.db[SERVER_INSTANCES].delete_one({"_id": self.instance_id})
            self.instance_id = None

    async def live_instances(self) -> list[ServerInstance]:
        """Running server processes other than this one (lease not expired), oldest first."""
        query: dict[str, Any] = {"expires_at": {"$gt": utcnow()}}
        if self.instance_id is not None:
            query["_id"] = {"$ne": self.instance_id}
        cursor = self.db[SERVER_INSTANCES].find(query).sort("started_at", ASCENDING)
        return [
            ServerInstance(
                id=doc["_id"],
                host=doc["host"],
                pid=doc["pid"],
                started_at=doc["started_at"],
                heartbeat_at=doc["heartbeat_at"],
                expires_at=doc["expires_at"],
            )
            async for doc in cursor
        ]

    # -- tenants with due notifications ---------------------------------

    async def mark_notifications_due(self, tenant_id: ObjectId, at: datetime) -> None:
        """Record that ``tenant_id``'s outbox holds a message due at ``at`` (UTC).

        One upsert: the earliest due time is kept (``$min``), ``marks`` counts
        the calls and ``marked_at`` is the last call's time. Operations call it
        through ``domain.outbox.DueMarker``; relays read the record
        (:meth:`claim_due_tenant`) instead of polling every tenant database.
        """
        now = utcnow()
        update = {
            "$min": {"due_at": at},
            "$max": {"marked_at": now},
            "$inc": {"marks": 1},
            "$setOnInsert": {"lease_until": _NO_LEASE, "lease_owner": None},
        }
        try:
            await self.db[NOTIFICATION_DUE].update_one({"_id": tenant_id}, update, upsert=True)
        except DuplicateKeyError:  # two first marks raced: the record exists now
            await self.db[NOTIFICATION_DUE].update_one({"_id": tenant_id}, update, upsert=True)

    async def claim_due_tenant(
        self, owner: str, lease_seconds: float, now: datetime
    ) -> DueTenant | None:
        """Lease the most overdue tenant record that no relay holds, or ``None``.

        The lease (``lease_owner``, ``lease_until``) keeps other relays on other
        tenants; it ends with :meth:`finish_due_tenant`, :meth:`release_due_tenant`
        or by expiring (a crashed relay).
        """
        doc = await self.db[NOTIFICATION_DUE].find_one_and_update(
            {"due_at": {"$lte": now}, "lease_until": {"$lte": now}},
            {"$set": {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}},
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return DueTenant(
            tenant_id=doc["_id"], marks=int(doc.get("marks", 0)), marked_at=doc["marked_at"]
        )

    async def finish_due_tenant(
        self,
        claimed: DueTenant,
        owner: str,
        next_due: datetime | None,
        now: datetime,
        quiet_seconds: float,
    ) -> None:
        """End a relay's pass over a tenant: due again at ``next_due``, or forgotten.

        Only when no operation marked the tenant since the claim (``marks``
        unchanged); otherwise the record stays due and the lease ends. A record
        without a next due message is removed only when the last mark is
        ``quiet_seconds`` old (an operation marks before it writes its message,
        so a message written during the pass is seen by a later pass).
        """
        collection = self.db[NOTIFICATION_DUE]
        unchanged = {"_id": claimed.tenant_id, "marks": claimed.marks, "lease_owner": owner}
        quiet_until = claimed.marked_at + timedelta(seconds=quiet_seconds)
        if next_due is None and quiet_until <= now:
            if (await collection.delete_one(unchanged)).deleted_count:
                return
        elif next_due is None:
            next_due = quiet_until
        if next_due is not None:
            result = await collection.update_one(
                unchanged,
                {"$set": {"due_at": next_due, "lease_until": _NO_LEASE, "lease_owner": None}},
            )
            if result.matched_count:
                return
        await self.release_due_tenant(claimed.tenant_id, owner)

    async def release_due_tenant(self, tenant_id: ObjectId, owner: str) -> None:
        """End ``owner``'s lease on a tenant record, leaving it due (shutdown, new marks)."""
        await self.db[NOTIFICATION_DUE].update_one(
            {"_id": tenant_id, "lease_owner": owner},
            {"$set": {"lease_until": _NO_LEASE, "lease_owner": None}},
        )

    async def hold_due_tenant(self, tenant_id: ObjectId, owner: str, until: datetime) -> None:
        """Leave a tenant's messages for later (suspended, in maintenance): due at ``until``."""
        await self.db[NOTIFICATION_DUE].update_one(
            {"_id": tenant_id, "lease_owner": owner},
            {"$set": {"due_at": until, "lease_until": _NO_LEASE, "lease_owner": None}},
        )

    async def forget_due_tenant(self, tenant_id: ObjectId) -> None:
        """Remove a tenant's record (the tenant is deleted: nothing of it is sent)."""
        await self.db[NOTIFICATION_DUE].delete_one({"_id": tenant_id})

    async def count_due_tenants(self, now: datetime) -> int:
        """Tenants with messages due by ``now`` (the relay's progress line)."""
        return await self.db[NOTIFICATION_DUE].count_documents({"due_at": {"$lte": now}})

    # -- billing (issue 10) ---------------------------------------------

    def billing_collections(self) -> Database:
        """The platform database handle for ``billing.store.BillingStore``, which owns the
        billing collections (``stripe_events``, ``invoices``, ``billing_accounts``,
        ``billing_requests``): the one door stays here, the billing queries in ``billing/``."""
        return self.db

    # -- observability and persisted queries (issue 12) -------------------

    async def notification_due_summary(self, now: datetime) -> tuple[int, datetime | None]:
        """Tenants with notifications due by ``now``, and the earliest due time of those.

        Two queries on ``notification_due`` (the ``due`` index); the metrics'
        outbox gauges read it at scrape time.
        """
        collection = self.db[NOTIFICATION_DUE]
        count = await collection.count_documents({"due_at": {"$lte": now}})
        if not count:
            return 0, None
        oldest = await collection.find_one(
            {"due_at": {"$lte": now}}, {"due_at": 1}, sort=[("due_at", ASCENDING)]
        )
        return count, oldest["due_at"] if oldest else None

    async def persisted_query(self, sha256_hash: str) -> str | None:
        """The registered document with this SHA-256 hash (hex), or ``None``."""
        doc = await self.db[PERSISTED_QUERIES].find_one({"_id": sha256_hash}, {"body": 1})
        return str(doc["body"]) if doc else None

    async def register_persisted_queries(
        self, operations: list[PersistedQueryEntry], source: str
    ) -> int:
        """Register documents for the safelist (idempotent: a known hash is kept as it is).

        Args:
            operations: entries whose ``sha256_hash`` the caller has checked.
            source: where they came from (a manifest's file name), kept with each.

        Returns how many were new.
        """
        if not operations:
            return 0
        now = utcnow()
        requests = [
            UpdateOne(
                {"_id": entry.sha256_hash},
                {
                    "$setOnInsert": {
                        "body": entry.body,
                        "name": entry.name,
                        "type": entry.operation_type,
                        "source": source,
                        "registered_at": now,
                    }
                },
                upsert=True,
            )
            for entry in operations
        ]
        result = await self.db[PERSISTED_QUERIES].bulk_write(requests, ordered=False)
        return int(result.upserted_count)

    async def persisted_queries(self) -> list[PersistedQueryEntry]:
        """Every registered document, by name."""
        cursor = self.db[PERSISTED_QUERIES].find({}).sort([("name", ASCENDING), ("_id", ASCENDING)])
        return [
            PersistedQueryEntry(
                sha256_hash=doc["_id"],
                body=doc["body"],
                name=doc.get("name"),
                operation_type=doc.get("type"),
            )
            async for doc in cursor
        ]

    # -- accounts: token state, sessions, refresh tokens (issue 11) -----

    async def user_token_state(self, user_id: ObjectId, ttl: float) -> UserTokenState | None:
        """Whether a user is active and its current ``token_version`` (cached ``ttl`` seconds).

        Returns ``None`` for an unknown user.
        """
        key = str(user_id)
        cached = self.token_states.get(key)
        if cached is not None:
            return cached
        doc = await self.db[USERS].find_one({"_id": user_id}, {"active": 1, "token_version": 1})
        if doc is None:
            return None
        state = UserTokenState(
            active=bool(doc.get("active", True)), token_version=int(doc.get("token_version", 0))
        )
        self.token_states.put(key, state, ttl)
        return state

    async def change_user(
        self,
        user_id: ObjectId,
        changes: dict[str, Any],
        *,
        expect: dict[str, Any] | None = None,
        revoke_tokens: bool = False,
    ) -> User | None:
        """``$set`` ``changes`` on a user that still matches ``expect`` (one conditional write).

        With ``revoke_tokens`` the user's ``token_version`` is bumped too, so
        every token issued before stops working (role or password change).

        Returns:
            The user after the change, or ``None`` when no user matched.
        """
        update: dict[str, Any] = {"$set": {**changes, "updated_at": utcnow()}}
        if revoke_tokens:
            update["$inc"] = {"token_version": 1}
        doc = await self.db[USERS].find_one_and_update(
            {"_id": user_id, **(expect or {})}, update, return_document=ReturnDocument.AFTER
        )
        if revoke_tokens:
            self.token_states.evict(str(user_id))
        return User.model_validate(doc) if doc else None

    async def count_active_admins(self, tenant_id: ObjectId) -> int:
        """Active admins of a tenant who can log in (pending invitations excluded)."""
        return await self.db[USERS].count_documents(
            {
                "tenant_id": tenant_id,
                "role": "admin",
                "active": True,
                "invitation_pending": {"$ne": True},
            }
        )

    async def create_session(
        self, session_id: str, user: User, expires_at: datetime, client: str | None
    ) -> None:
        """Record a new login session (one refresh-token family)."""
        now = utcnow()
        await self.db[SESSIONS].insert_one(
            {
                "_id": session_id,
                "user_id": user.id,
                "tenant_id": user.tenant_id,
                "created_at": now,
                "last_used_at": now,
                "expires_at": expires_at,
                "client": client,
                "token_version": user.token_version,
                "revoked_at": None,
                "revoke_reason": None,
            }
        )

    async def session(self, session_id: str) -> dict[str, Any] | None:
        """A session record (uncached), or ``None``."""
        doc: dict[str, Any] | None = await self.db[SESSIONS].find_one({"_id": session_id})
        return doc

    async def session_is_live(self, session_id: str, ttl: float) -> bool:
        """True while the session exists, is not revoked and has not expired (cached)."""
        cached = self.session_states.get(session_id)
        if cached is not None:
            return cached
        doc = await self.session(session_id)
        live = bool(doc and doc.get("revoked_at") is None and _aware(doc["expires_at"]) > utcnow())
        self.session_states.put(session_id, live, ttl)
        return live

    async def revoke_session(self, session_id: str, reason: str) -> bool:
        """Revoke a session (its refresh tokens and access tokens); True when this call did."""
        result = await self.db[SESSIONS].update_one(
            {"_id": session_id, "revoked_at": None},
            {"$set": {"revoked_at": utcnow(), "revoke_reason": reason}},
        )
        self.session_states.evict(session_id)
        return result.modified_count == 1

    async def revoke_user_sessions(self, user_id: ObjectId, reason: str) -> int:
        """Revoke every open session of a user; returns how many."""
        ids = [
            doc["_id"]
            async for doc in self.db[SESSIONS].find(
                {"user_id": user_id, "revoked_at": None}, {"_id": 1}
            )
        ]
        if not ids:
            return 0
        result = await self.db[SESSIONS].update_many(
            {"_id": {"$in": ids}, "revoked_at": None},
            {"$set": {"revoked_at": utcnow(), "revoke_reason": reason}},
        )
        for session_id in ids:
            self.session_states.evict(session_id)
        return result.modified_count

    async def store_refresh_token(
        self, token_hash: str, session_id: str, user_id: ObjectId, expires_at: datetime
    ) -> None:
        """Keep the SHA-256 digest of a new refresh token of ``session_id``."""
        await self.db[REFRESH_TOKENS].insert_one(
            {
                "_id": token_hash,
                "session_id": session_id,
                "user_id": user_id,
                "created_at": utcnow(),
                "expires_at": expires_at,
                "used_at": None,
            }
        )

    async def use_refresh_token(self, token_hash: str) -> tuple[str, dict[str, Any] | None]:
        """Mark a refresh token used, in one conditional write (of concurrent uses, one wins).

        Returns:
            ``("fresh", record)`` for the winning use, ``("reused", record)``
            when it had been used before (the caller revokes the family), or
            ``("unknown", None)``.
        """
        doc = await self.db[REFRESH_TOKENS].find_one_and_update(
            {"_id": token_hash, "used_at": None},
            {"$set": {"used_at": utcnow()}},
            return_document=ReturnDocument.BEFORE,
        )
        if doc is not None:
            return "fresh", doc
        doc = await self.db[REFRESH_TOKENS].find_one({"_id": token_hash})
        return ("reused", doc) if doc is not None else ("unknown", None)

    async def touch_session(self, session_id: str) -> None:
        """Record a session's last refresh."""
        await self.db[SESSIONS].update_one(
            {"_id": session_id}, {"$set": {"last_used_at": utcnow()}}
        )

    async def audit_page(
        self,
        *,
        tenant: str | None,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int,
        after: str | None = None,
    ) -> Page:
        """A page of audit entries, newest first (keyset pagination on ``_id``).

        Args:
            tenant: only this tenant's entries (``None``: every entry; only
                for super-admins, the caller decides).
            action: an exact action, or a prefix ending in ``.`` (``user.``).
            actor: an exact actor (``user:<id>``, ``operator:<name>``).
            since / until: ``at`` range, inclusive / exclusive (UTC).

        Raises:
            AppError(VALIDATION_FAILED) for a forged ``after`` cursor.
        """
        query: dict[str, Any] = {}
        if tenant is not None:
            query["tenant"] = tenant
        if action:
            if action.endswith("."):
                query["action"] = {"$gte": action, "$lt": action[:-1] + "/"}
            else:
                query["action"] = action
        if actor:
            query["actor"] = actor
        if since or until:
            query["at"] = {
                **({"$gte": since} if since else {}),
                **({"$lt": until} if until else {}),
            }
        return await fetch_page(
            self.db[AUDIT_LOG],
            query,
            sort_name="audit",
            sort=[("_id", DESCENDING)],
            first=first,
            after=after,
        )

    # -- pre-provisioned tenant databases (signup pool) -----------------

    async def pool_add(self, location: DatabaseLocation) -> None:
        """Record a pool database about to be made (status ``filling``: not claimable yet)."""
        await self.db[DATABASE_POOL].insert_one(
            {
                "_id": database_key(location.cluster, location.name),
                "cluster": location.cluster,
                "name": location.name,
                "status": "filling",
                "created_at": utcnow(),
                "claimed_by": None,
                "claimed_at": None,
            }
        )

    async def pool_mark_ready(self, location: DatabaseLocation) -> None:
        """Offer a migrated, empty pool database for claiming (status ``ready``)."""
        await self.db[DATABASE_POOL].update_one(
            {"_id": database_key(location.cluster, location.name), "status": "filling"},
            {"$set": {"status": "ready", "created_at": utcnow()}},
        )

    async def pool_unfinished(self, older_than: datetime) -> list[DatabaseLocation]:
        """Pool databases still ``filling`` since before ``older_than`` (a stopped fill)."""
        cursor = self.db[DATABASE_POOL].find(
            {"status": "filling", "created_at": {"$lt": older_than}}
        )
        return [DatabaseLocation(cluster=d["cluster"], name=d["name"]) async for d in cursor]

    async def pool_claim(self, cluster: str, claimer: str) -> DatabaseLocation | None:
        """Take one ready database of ``cluster`` (one conditional update: one claimer each)."""
        doc = await self.db[DATABASE_POOL].find_one_and_update(
            {"cluster": cluster, "status": "ready"},
            {"$set": {"status": "claimed", "claimed_by": claimer, "claimed_at": utcnow()}},
            sort=[("created_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return DatabaseLocation(cluster=doc["cluster"], name=doc["name"]) if doc else None

    async def pool_release(self, location: DatabaseLocation) -> None:
        """Give a claimed database back (the signup that claimed it failed before using it)."""
        await self.db[DATABASE_POOL].update_one(
            {"_id": database_key(location.cluster, location.name), "status": "claimed"},
            {"$set": {"status": "ready", "claimed_by": None, "claimed_at": None}},
        )

    async def pool_remove(self, location: DatabaseLocation) -> None:
        """Forget a database that a tenant now uses."""
        await self.db[DATABASE_POOL].delete_one(
            {"_id": database_key(location.cluster, location.name)}
        )

    async def pool_ready(self, cluster: str) -> int:
        """Ready databases of ``cluster`` in the pool."""
        return await self.db[DATABASE_POOL].count_documents({"cluster": cluster, "status": "ready"})

    async def pool_stale_claims(self, older_than: datetime) -> list[DatabaseLocation]:
        """Databases claimed before ``older_than`` (their claimer may have crashed)."""
        cursor = self.db[DATABASE_POOL].find(
            {"status": "claimed", "claimed_at": {"$lt": older_than}}
        )
        return [DatabaseLocation(cluster=d["cluster"], name=d["name"]) async for d in cursor]

    # -- feature flags ---------------------------------------------------

    async def feature_flags(self) -> list[dict[str, Any]]:
        """Every flag document, by key."""
        cursor = self.db[FEATURE_FLAGS].find({}).sort("key", ASCENDING)
        return [doc async for doc in cursor]

    async def feature_flag(self, key: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self.db[FEATURE_FLAGS].find_one({"key": key})
        return doc

    async def insert_feature_flag(self, doc: dict[str, Any]) -> None:
        """Raises AppError(ALREADY_EXISTS) when the key is taken."""
        try:
            await self.db[FEATURE_FLAGS].insert_one({**doc, "created_at": utcnow()})
        except DuplicateKeyError as exc:
            raise AppError(
                ErrorCode.ALREADY_EXISTS,
                f"flag {doc.get('key')!r} already exists",
                ["input", "key"],
            ) from exc

    async def update_feature_flag(self, key: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """``$set`` ``changes`` on a flag; the document after, or ``None`` for an unknown key."""
        doc: dict[str, Any] | None = await self.db[FEATURE_FLAGS].find_one_and_update(
            {"key": key},
            {"$set": {**changes, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        return doc


#: Documents registered for the safelist mode of persisted queries, by SHA-256 hash.
PERSISTED_QUERIES = "persisted_queries"


@dataclass(frozen=True)
class PersistedQueryEntry:
    """One registered document: its SHA-256 hash (hex), text, operation name and type."""

    sha256_hash: str
    body: str
    name: str | None = None
    operation_type: str | None = None


def _aware(value: datetime) -> datetime:
    """A stored datetime as aware UTC (some drivers return naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
