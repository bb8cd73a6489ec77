"""What migration commands report: status per database, and what a run did.

Uses the shared report vocabulary of :mod:`tenancy.reports`: every database
row has a ``status`` (``ok``, ``failed``, ``skipped``, ``planned``) and an
``error`` ``{code, message}``; :class:`RunReport` and :class:`StatusReport`
are :class:`tenancy.reports.Report` s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from migrations.base import MigrationScope
from tenancy.reports import ReportError, Status, Table, cell_error, error_dict, first_error


class MigrationState(StrEnum):
    """Where one migration stands in one database."""

    APPLIED = "applied"
    PENDING = "pending"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    UNKNOWN = "unknown"  # in the ledger, not in this code (newer code applied it?)


class Outcome(StrEnum):
    """What a run did to one database (its ``status`` follows from it)."""

    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"
    UNCHANGED = "unchanged"
    PLANNED = "planned"  # dry run: ``planned`` lists what would run
    FAILED = "failed"
    SKIPPED = "skipped"


_OUTCOME_STATUS = {
    Outcome.FAILED: Status.FAILED,
    Outcome.SKIPPED: Status.SKIPPED,
    Outcome.PLANNED: Status.PLANNED,
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class MigrationStatus:
    """One migration in one database (a row of ``migrate status``)."""

    id: str
    description: str
    state: MigrationState
    checksum: str | None
    recorded_checksum: str | None = None
    applied_at: datetime | None = None
    by: str | None = None
    reversible: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601 strings)."""
        return {
            "id": self.id,
            "description": self.description,
            "state": str(self.state),
            "checksum": self.checksum,
            "recorded_checksum": self.recorded_checksum,
            "applied_at": _iso(self.applied_at),
            "by": self.by,
            "reversible": self.reversible,
        }


@dataclass
class DatabaseStatus:
    """The migration status of one database.

    ``current`` is the highest id recorded in its ledger (``None``: nothing
    applied); ``latest`` the highest id the code has. ``error`` is set when
    the status could not be read (unreachable cluster...).
    """

    scope: MigrationScope
    target: str
    database: str | None
    current: str | None = None
    latest: str | None = None
    migrations: list[MigrationStatus] = field(default_factory=list)
    locked_by: str | None = None
    note: str | None = None
    error: ReportError | None = None

    def _ids(self, state: MigrationState) -> list[str]:
        return [m.id for m in self.migrations if m.state == state]

    @property
    def pending(self) -> list[str]:
        return self._ids(MigrationState.PENDING)

    @property
    def mismatched(self) -> list[str]:
        return self._ids(MigrationState.CHECKSUM_MISMATCH)

    @property
    def unknown(self) -> list[str]:
        return self._ids(MigrationState.UNKNOWN)

    @property
    def up_to_date(self) -> bool:
        """True when readable, nothing pending, no drift and nothing unknown."""
        return self.error is None and all(
            m.state == MigrationState.APPLIED for m in self.migrations
        )

    @property
    def status(self) -> Status:
        """What ``migrate up`` would meet: ``ok`` (up to date), ``planned``
        (pending migrations to apply) or ``failed`` (unreadable, or drift or
        unknown migrations that ``migrate up`` refuses)."""
        if self.error is not None or self.mismatched or self.unknown:
            return Status.FAILED
        return Status.PLANNED if self.pending else Status.OK

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; includes ``pending``/``mismatched``/``unknown`` id lists."""
        return {
            "scope": str(self.scope),
            "target": self.target,
            "database": self.database,
            "status": str(self.status),
            "current": self.current,
            "latest": self.latest,
            "up_to_date": self.up_to_date,
            "pending": self.pending,
            "mismatched": self.mismatched,
            "unknown": self.unknown,
            "locked_by": self.locked_by,
            "note": self.note,
            "error": error_dict(self.error),
            "migrations": [m.to_dict() for m in self.migrations],
        }


@dataclass
class StepResult:
    """One migration run (or planned, on a dry run) in one database."""

    id: str
    direction: Literal["up", "down"]
    duration_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "direction": self.direction, "duration_ms": self.duration_ms}


@dataclass
class DatabaseResult:
    """What ``up``/``down`` did to one database.

    ``steps`` are the migrations actually run; ``planned`` what was (or, on a
    dry run, would be) run. On failure ``error`` says why (``{code,
    message}``) and ``failed_migration`` names the migration that raised, if
    one did. A ``skipped`` database says why: as ``error`` when the reason
    has a code (``TENANT_MAINTENANCE``), else as ``note`` (an earlier
    database failed).
    """

    scope: MigrationScope
    target: str
    database: str | None
    outcome: Outcome = Outcome.UNCHANGED
    dry_run: bool = False
    version_before: str | None = None
    version_after: str | None = None
    planned: list[str] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    failed_migration: str | None = None
    error: ReportError | None = None
    note: str | None = None
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        """False only for ``failed`` (``skipped`` is not a failure of this database)."""
        return self.outcome != Outcome.FAILED

    @property
    def status(self) -> Status:
        """``failed``, ``skipped``, ``planned``, or ``ok`` (applied, rolled back, unchanged)."""
        return _OUTCOME_STATUS.get(self.outcome, Status.OK)

    @property
    def applied(self) -> list[str]:
        """Ids run by this call (either direction)."""
        return [s.id for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "scope": str(self.scope),
            "target": self.target,
            "database": self.database,
            "status": str(self.status),
            "outcome": str(self.outcome),
            "dry_run": self.dry_run,
            "version_before": self.version_before,
            "version_after": self.version_after,
            "planned": list(self.planned),
            "steps": [s.to_dict() for s in self.steps],
            "failed_migration": self.failed_migration,
            "error": error_dict(self.error),
            "note": self.note,
            "duration_ms": self.duration_ms,
        }


@dataclass
class RunReport:
    """The results of one ``migrate up`` over many databases, platform first."""

    action: Literal["up", "down"]
    dry_run: bool
    results: list[DatabaseResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no database failed (use for the CLI exit status)."""
        return all(r.ok for r in self.results)

    @property
    def status(self) -> Status:
        """``failed`` unless ok; ``planned`` for a dry run; else ``ok``."""
        if not self.ok:
            return Status.FAILED
        return Status.PLANNED if self.dry_run else Status.OK

    @property
    def error(self) -> ReportError | None:
        """The error of the first failed database, if any."""
        return first_error([r.error for r in self.results if not r.ok])

    def counts(self) -> dict[str, int]:
        """Number of databases per outcome (every outcome present, zeros included)."""
        out = {str(o): 0 for o in Outcome}
        for r in self.results:
            out[str(r.outcome)] += 1
        return out

    def summary(self) -> str:
        """One line: ``3 databases: 1 applied, 2 unchanged, ...`` (non-zero outcomes only)."""
        parts = [f"{n} {name}" for name, n in self.counts().items() if n]
        return f"{len(self.results)} databases: " + (", ".join(parts) or "none")

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "status": str(self.status),
            "error": error_dict(self.error),
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }

    def tables(self) -> list[Table]:
        """One row per database."""
        dry = " (dry run)" if self.dry_run else ""
        return [
            Table(
                f"migrate {self.action}{dry}: {self.status}, {self.summary()}",
                ["database", "scope", "status", "outcome", "before", "after", "run", "error"],
                [
                    [
                        r.target,
                        r.scope,
                        r.status,
                        r.outcome,
                        r.version_before or "-",
                        r.version_after or "-",
                        ", ".join(r.applied or r.planned) or "-",
                        cell_error(r.error) or r.note or "",
                    ]
                    for r in self.results
                ],
            )
        ]

    def footnotes(self) -> list[str]:
        return []


@dataclass
class StatusReport:
    """``migrate status`` over many databases, platform first."""

    databases: list[DatabaseStatus] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return all(d.up_to_date for d in self.databases)

    @property
    def ok(self) -> bool:
        """True when every database is up to date (exit code 1 otherwise)."""
        return self.up_to_date

    @property
    def status(self) -> Status:
        """``ok`` when up to date, ``failed`` when a database cannot be read or
        would be refused, else ``planned`` (``migrate up`` has work to do)."""
        statuses = {d.status for d in self.databases}
        if Status.FAILED in statuses:
            return Status.FAILED
        return Status.PLANNED if Status.PLANNED in statuses else Status.OK

    @property
    def error(self) -> ReportError | None:
        """The first database that could not be read, if any."""
        return first_error([d.error for d in self.databases])

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": str(self.status),
            "error": error_dict(self.error),
            "up_to_date": self.up_to_date,
            "databases": [d.to_dict() for d in self.databases],
        }

    def tables(self) -> list[Table]:
        """One row per database."""
        return [
            Table(
                f"migration status: {self.status}",
                [
                    "database",
                    "scope",
                    "status",
                    "current",
                    "latest",
                    "pending",
                    "drift / unknown",
                    "note",
                ],
                [
                    [
                        d.target,
                        d.scope,
                        d.status,
                        d.current or "-",
                        d.latest,
                        ", ".join(d.pending) or "-",
                        ", ".join(d.mismatched + d.unknown) or "-",
                        cell_error(d.error)
                        or d.note
                        or (f"locked by {d.locked_by}" if d.locked_by else ""),
                    ]
                    for d in self.databases
                ],
            )
        ]

    def footnotes(self) -> list[str]:
        return []
