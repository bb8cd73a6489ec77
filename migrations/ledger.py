"""The per-database migration ledger and lock.

Every migrated database holds two small collections:

- ``_migrations``: one document per applied migration, ``_id`` = migration
  id, with ``checksum``, ``description``, ``scope``, ``applied_at``,
  ``duration_ms``, ``by`` (the actor) and ``owner`` (the runner). The unique
  ``_id`` means one migration can be recorded only once per database, even
  if two runners somehow raced past the lock.
- ``_migration_lock``: at most one document (``_id`` ``"migrate"``) with
  ``owner``, ``acquired_at`` and ``expires_at``. Acquiring is one conditional
  upsert: it matches only an expired lock or one the same owner holds, so
  when another runner holds a live lock the upsert tries to insert a second
  ``_id`` and fails with ``DuplicateKeyError``. Exactly one runner wins, on
  the mock and on a server, without transactions. A runner that died leaves
  a lock that expires (default 10 minutes) and can then be taken over; a
  live runner renews its lock in the background. Only the owner releases.

Both collection names start with an underscore so they never collide with
application collections; copy/move tools may skip ``_migration_lock`` but
must copy ``_migrations`` (it is the database's version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from migrations.base import Migration
from tenancy.errors import AppError, ErrorCode
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.schema_upgrade import LEDGER_COLLECTION

log = logging.getLogger(__name__)

LOCK_COLLECTION = "_migration_lock"
LOCK_ID = "migrate"
DEFAULT_LOCK_TTL = timedelta(minutes=10)

Clock = Callable[[], datetime]


def default_owner(actor: str) -> str:
    """A runner identity unique to this process and call: ``actor@host:pid:random``."""
    return f"{actor}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LedgerEntry:
    """One applied migration as recorded in a database."""

    id: str
    checksum: str
    applied_at: datetime
    duration_ms: int
    by: str
    description: str = ""
    owner: str = ""

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> LedgerEntry:
        """Build from a ``_migrations`` document (missing optional fields default)."""
        return cls(
            id=doc["_id"],
            checksum=doc.get("checksum", ""),
            applied_at=doc["applied_at"],
            duration_ms=int(doc.get("duration_ms", 0)),
            by=doc.get("by", ""),
            description=doc.get("description", ""),
            owner=doc.get("owner", ""),
        )


class Ledger:
    """Reads and writes the ``_migrations`` collection of one database.

    Args:
        db: the database the ledger belongs to.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.collection = db[LEDGER_COLLECTION]

    async def entries(self) -> dict[str, LedgerEntry]:
        """Applied migrations by id, in id order (empty for a new database)."""
        cursor = self.collection.find({}).sort("_id", ASCENDING)
        return {doc["_id"]: LedgerEntry.from_doc(doc) async for doc in cursor}

    async def record(
        self,
        migration: Migration,
        *,
        applied_at: datetime,
        duration_ms: int,
        by: str,
        owner: str,
    ) -> LedgerEntry:
        """Record ``migration`` as applied.

        Returns:
            The entry written.

        Raises:
            AppError(MIGRATION_LOCKED) when the migration is already recorded
            (another runner applied it: this runner had lost its lock).
        """
        entry = LedgerEntry(
            id=migration.id,
            checksum=migration.checksum,
            applied_at=applied_at,
            duration_ms=duration_ms,
            by=by,
            description=migration.description,
            owner=owner,
        )
        doc = {
            "_id": entry.id,
            "checksum": entry.checksum,
            "description": entry.description,
            "scope": str(migration.scope),
            "applied_at": entry.applied_at,
            "duration_ms": entry.duration_ms,
            "by": entry.by,
            "owner": entry.owner,
        }
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError as exc:
            raise AppError(
                ErrorCode.MIGRATION_LOCKED,
                f"migration {migration.id} was recorded by another runner meanwhile "
                "(this runner's lock had expired)",
            ) from exc
        return entry

    async def remove(self, migration_id: str) -> bool:
        """Forget an applied migration (after its ``down``); True if it was recorded."""
        result = await self.collection.delete_one({"_id": migration_id})
        return result.deleted_count == 1

    async def accept_checksum(self, migration_id: str, checksum: str, by: str) -> bool:
        """Overwrite a recorded checksum after an operator reviewed the drift.

        The previous checksum is kept in ``previous_checksums``.

        Returns:
            True if the entry existed and had another checksum.
        """
        doc = await self.collection.find_one({"_id": migration_id})
        if doc is None or doc.get("checksum") == checksum:
            return False
        result = await self.collection.update_one(
            {"_id": migration_id, "checksum": doc.get("checksum")},
            {
                "$set": {
                    "checksum": checksum,
                    "checksum_accepted_by": by,
                    "checksum_accepted_at": utcnow(),
                },
                "$push": {"previous_checksums": doc.get("checksum")},
            },
        )
        return result.modified_count == 1


@dataclass(frozen=True)
class LockInfo:
    """A lock document as read from ``_migration_lock``."""

    owner: str
    acquired_at: datetime
    expires_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> LockInfo:
        return cls(owner=doc["owner"], acquired_at=doc["acquired_at"], expires_at=doc["expires_at"])


class MigrationLock:
    """The migration lock of one database, held by one owner.

    Use as ``async with MigrationLock(db, owner):`` (acquire, renew in the
    background every ``ttl / 3``, release on exit) or call the methods.

    Args:
        db: the database to lock.
        owner: this runner's identity (see :func:`default_owner`); two
            runners must use different owners.
        ttl: how long the lock lives without renewal.
        clock: the time source (tests move it forward to expire a lock).
    """

    def __init__(
        self,
        db: Database,
        owner: str,
        *,
        ttl: timedelta = DEFAULT_LOCK_TTL,
        clock: Clock = utcnow,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("lock ttl must be positive")
        self.db = db
        self.collection = db[LOCK_COLLECTION]
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
        self.lost: AppError | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def holder(self) -> LockInfo | None:
        """The current holder of an unexpired lock, or ``None`` when the database is free."""
        doc = await self.collection.find_one({"_id": LOCK_ID})
        if doc is None or doc["expires_at"] <= self.clock():
            return None
        return LockInfo.from_doc(doc)

    async def acquire(self) -> LockInfo:
        """Take the lock (or re-take one this owner holds; or take over an expired one).

        Returns:
            The lock as now held by this owner.

        Raises:
            AppError(MIGRATION_LOCKED) naming the holder and its expiry when
            another owner holds an unexpired lock.
        """
        now = self.clock()
        try:
            before = await self.collection.find_one_and_update(
                {"_id": LOCK_ID, "$or": [{"expires_at": {"$lte": now}}, {"owner": self.owner}]},
                {"$set": {"owner": self.owner, "acquired_at": now, "expires_at": now + self.ttl}},
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        except DuplicateKeyError:
            holder = await self.collection.find_one({"_id": LOCK_ID})
            who = holder["owner"] if holder else "another runner"
            until = holder["expires_at"].isoformat() if holder else "soon"
            raise AppError(
                ErrorCode.MIGRATION_LOCKED,
                f"database {self.db.name} is being migrated by {who} (lock expires {until}); "
                "try again later",
            ) from None
        if before is not None and before.get("owner") != self.owner:
            log.warning(
                "took over the expired migration lock of %s from %s", self.db.name, before["owner"]
            )
        self.lost = None
        return LockInfo(owner=self.owner, acquired_at=now, expires_at=now + self.ttl)

    async def renew(self) -> LockInfo:
        """Push the expiry ``ttl`` further.

        Raises:
            AppError(MIGRATION_LOCKED) when this owner no longer holds the lock
            (it expired and another runner took it over).
        """
        now = self.clock()
        doc = await self.collection.find_one_and_update(
            {"_id": LOCK_ID, "owner": self.owner},
            {"$set": {"expires_at": now + self.ttl}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise AppError(
                ErrorCode.MIGRATION_LOCKED,
                f"lost the migration lock of {self.db.name}: another runner took it over",
            )
        return LockInfo.from_doc(doc)

    async def release(self) -> bool:
        """Drop the lock if this owner holds it; True when it did."""
        result = await self.collection.delete_one({"_id": LOCK_ID, "owner": self.owner})
        return result.deleted_count == 1

    def check(self) -> None:
        """Raise the background renewal's failure, if any.

        Raises:
            AppError(MIGRATION_LOCKED) when a renewal found the lock lost.
        """
        if self.lost is not None:
            raise self.lost

    async def _renew_forever(self) -> None:
        interval = self.ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.renew()
            except AppError as exc:
                self.lost = exc
                return
            except Exception as exc:  # a blip; the next beat (or the expiry) decides
                log.warning("could not renew the migration lock of %s: %s", self.db.name, exc)

    async def __aenter__(self) -> MigrationLock:
        await self.acquire()
        self._heartbeat = asyncio.create_task(self._renew_forever())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        await self.release()
