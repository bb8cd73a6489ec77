"""Resume checkpoints of the legacy imports (platform collection ``legacy_import_state``).

After each batch is written, the engine stores the position and last id of the
source stream here; the next run of that collection skips the records before
the checkpoint (see :mod:`scripts.legacy.engine`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scripts.legacy.report import Issue
from tenancy.models import utcnow
from tenancy.mongo_types import Database

STATE_COLLECTION = "legacy_import_state"
MAX_STORED_SKIPS = 10_000  # skipped records kept in a checkpoint, re-reported on resume


@dataclass
class Checkpoint:
    """Where an unfinished run stopped: records read, the last one's id, and
    the records before it that were skipped (re-reported by the resumed run)."""

    position: int
    last_id: str | None
    skipped: list[Issue] = field(default_factory=list)
    skipped_count: int = 0


class Progress:
    """Resume checkpoints, one document per source collection in ``legacy_import_state``.

    Document: ``{_id: "<run>:<db>.<collection>", status: "running"|"done",
    position: int, last_id: str, skipped: [{id, reason}], skipped_count: int,
    started_at, updated_at, finished_at, summary}``.
    """

    def __init__(self, db: Database) -> None:
        self.collection = db[STATE_COLLECTION]

    async def begin(self, key: str) -> Checkpoint | None:
        """Mark ``key`` running; the checkpoint of an unfinished earlier run, if any."""
        doc = await self.collection.find_one({"_id": key})
        resume = None
        if doc and doc.get("status") == "running" and int(doc.get("position") or 0) > 0:
            resume = Checkpoint(
                int(doc["position"]),
                doc.get("last_id"),
                [Issue(s["id"], s["reason"]) for s in doc.get("skipped") or []],
                int(doc.get("skipped_count") or 0),
            )
        changes: dict[str, Any] = {"status": "running", "updated_at": utcnow()}
        if resume is None:
            changes.update(
                position=0,
                last_id=None,
                skipped=[],
                skipped_count=0,
                started_at=utcnow(),
                finished_at=None,
            )
        await self.collection.update_one({"_id": key}, {"$set": changes}, upsert=True)
        return resume

    async def advance(
        self, key: str, position: int, last_id: str, skipped: list[Issue] | None = None
    ) -> None:
        """Record a completed batch: ``position`` records read, and the batch's skipped records."""
        update: dict[str, Any] = {
            "$set": {"position": position, "last_id": last_id, "updated_at": utcnow()}
        }
        if skipped:
            update["$push"] = {
                "skipped": {
                    "$each": [{"id": i.id, "reason": i.reason} for i in skipped],
                    "$slice": MAX_STORED_SKIPS,
                }
            }
            update["$inc"] = {"skipped_count": len(skipped)}
        await self.collection.update_one({"_id": key}, update)

    async def finish(self, key: str, summary: dict[str, Any]) -> None:
        """Mark ``key`` done, with the collection's report counts as ``summary``."""
        await self.collection.update_one(
            {"_id": key},
            {
                "$set": {
                    "status": "done",
                    "finished_at": utcnow(),
                    "updated_at": utcnow(),
                    "summary": summary,
                }
            },
        )

    async def state(self, key: str) -> dict[str, Any] | None:
        """The stored checkpoint document of ``key``, or ``None``."""
        return await self.collection.find_one({"_id": key})


__all__ = ["MAX_STORED_SKIPS", "STATE_COLLECTION", "Checkpoint", "Progress"]
