"""Progress events of a migration run, for a CLI's progress display."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from migrations.base import MigrationScope
from migrations.reports import DatabaseResult

log = logging.getLogger(__name__)


class ProgressKind(StrEnum):
    """What a :class:`ProgressEvent` reports (listeners compare with these members)."""

    DATABASE_STARTED = "database_started"
    MIGRATION_STARTED = "migration_started"
    MIGRATION_FINISHED = "migration_finished"  # duration_ms set
    DATABASE_FINISHED = "database_finished"  # result set; also for databases not run


@dataclass(frozen=True)
class ProgressEvent:
    """Sent to ``on_progress`` as a run advances; ``kind`` is a :class:`ProgressKind`."""

    kind: ProgressKind
    scope: MigrationScope
    target: str
    migration_id: str | None = None
    direction: Literal["up", "down"] | None = None
    duration_ms: int | None = None
    result: DatabaseResult | None = None


ProgressCallback = Callable[[ProgressEvent], Any]
"""Sync or async; its exceptions are logged and ignored (printing must not break a run)."""


async def emit(on_progress: ProgressCallback | None, event: ProgressEvent) -> None:
    """Send ``event`` to ``on_progress`` (if any); its failures are logged, not raised."""
    if on_progress is None:
        return
    try:
        outcome = on_progress(event)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        log.exception("migration progress callback failed (ignored)")
