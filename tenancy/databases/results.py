"""The report of a database operation (export, import, copy, verify), per collection.

Uses the shared report vocabulary of :mod:`tenancy.reports`: ``status``
words, errors as ``{code, message}``, and the count names ``source_count``,
``target_count``, ``written`` and ``resumed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.errors import PyMongoError

from tenancy.errors import ErrorCode
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.reports import ReportError, Status, Table, cell_error, error_dict, first_error

#: Failures that stop a run and leave a resumable state (network, server, disk).
RECOVERABLE_ERRORS: tuple[type[BaseException], ...] = (PyMongoError, OSError)


def describe(db: Database) -> str:
    """How reports name a database: ``database <name>``."""
    return f"database {db.name}"


@dataclass
class CollectionResult:
    """What happened to one collection.

    Attributes:
        name: collection name.
        status: ``ok``, ``failed``, ``planned`` (dry run) or ``not_run`` (the
            run stopped at an earlier collection).
        action: what the run did or (dry run) would do: ``copy``, ``replace``
            (target collection dropped first), ``resume``, ``skip`` (copied
            by an earlier run), ``already-copied``, ``export``, ``import``,
            ``verify``, ``view``.
        source_count: documents in the source (database, or dump manifest).
        target_count: documents counted in the target after the operation.
        written: documents written by this run (copied, imported, exported).
        resumed: documents not written by this run because an interrupted
            earlier run had written them.
        indexes: secondary indexes (``_id`` excluded) created or checked.
        checksum_match: content hashes equal (``None``: not checked).
        source_hash / target_hash: content hashes (64 hex digits) or ``None``.
        error: why it failed (``{code, message}``); ``None`` when it did not.
        detail: why it did not run, for a person (``not_run``).
        warnings: things that did not fail the collection but lost fidelity
            or deserve a look (options a server could not apply...).
        seconds: wall time spent on the collection.
    """

    name: str
    status: Status = Status.OK
    action: str = "copy"
    source_count: int | None = None
    target_count: int | None = None
    written: int = 0
    resumed: int = 0
    indexes: int = 0
    checksum_match: bool | None = None
    source_hash: str | None = None
    target_hash: str | None = None
    error: ReportError | None = None
    detail: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, code: ErrorCode, message: str) -> None:
        """Mark the collection failed; a second failure adds its message (the
        first code stays)."""
        self.status = Status.FAILED
        if self.error is None:
            self.error = ReportError(code, message)
        else:
            self.error = ReportError(self.error.code, f"{self.error.message}; {message}")

    def fail_with(self, exc: BaseException, default: ErrorCode) -> None:
        """Mark the collection failed because of ``exc`` (see ``ReportError.from_exception``)."""
        error = ReportError.from_exception(exc, default)
        self.fail(error.code, error.message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: every attribute, ``status`` as a string, ``error`` as
        ``{code, message}`` or ``None``, ``seconds`` rounded to milliseconds."""
        return {
            "name": self.name,
            "status": str(self.status),
            "action": self.action,
            "source_count": self.source_count,
            "target_count": self.target_count,
            "written": self.written,
            "resumed": self.resumed,
            "indexes": self.indexes,
            "checksum_match": self.checksum_match,
            "source_hash": self.source_hash,
            "target_hash": self.target_hash,
            "error": error_dict(self.error),
            "detail": self.detail,
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class OperationResult:
    """Outcome of an export, import, copy or verification (a :class:`tenancy.reports.Report`).

    Attributes:
        operation: ``export``, ``import``, ``copy`` or ``verify``.
        source / target: human descriptions (database names, directories).
        dry_run: nothing was written.
        collections: one :class:`CollectionResult` per collection, in order.
        warnings: run-level warnings.
        started_at: UTC start time.
        seconds: wall time of the whole operation.
    """

    operation: str
    source: str
    target: str
    dry_run: bool = False
    collections: list[CollectionResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=utcnow)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no collection failed or was left out."""
        return all(c.status in (Status.OK, Status.PLANNED) for c in self.collections)

    @property
    def status(self) -> Status:
        """``failed`` unless ok; ``planned`` for a dry run; else ``ok``."""
        if not self.ok:
            return Status.FAILED
        return Status.PLANNED if self.dry_run else Status.OK

    @property
    def error(self) -> ReportError | None:
        """The first collection error, if any."""
        return first_error([c.error for c in self.collections])

    @property
    def failed(self) -> list[CollectionResult]:
        """The collections that failed or did not run."""
        return [c for c in self.collections if c.status in (Status.FAILED, Status.NOT_RUN)]

    def failure_summary(self) -> str:
        """The collections that failed or did not run, with why: ``a (reason), b (reason)``."""
        return ", ".join(
            f"{c.name} ({c.error.message if c.error else c.detail})" for c in self.failed
        )

    @property
    def written(self) -> int:
        """Documents written by this run, all collections."""
        return sum(c.written for c in self.collections)

    def collection(self, name: str) -> CollectionResult:
        """The result of collection ``name`` (``KeyError`` if absent)."""
        for result in self.collections:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``ok``, ``status``, ``error`` and every field, datetimes ISO 8601."""
        return {
            "operation": self.operation,
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "status": str(self.status),
            "error": error_dict(self.error),
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "written": self.written,
            "warnings": list(self.warnings),
            "collections": [c.to_dict() for c in self.collections],
        }

    def tables(self) -> list[Table]:
        """One row per collection."""
        hashes = {True: "match", False: "DIFFERS", None: "-"}
        return [
            Table(
                f"{self.operation} {self.source} -> {self.target}: {self.status} "
                f"({self.seconds:.1f} s)",
                [
                    "collection",
                    "status",
                    "action",
                    "source",
                    "written",
                    "resumed",
                    "target",
                    "hash",
                    "error",
                ],
                [
                    [
                        c.name,
                        c.status,
                        c.action,
                        c.source_count,
                        c.written,
                        c.resumed,
                        c.target_count,
                        hashes[c.checksum_match],
                        cell_error(c.error) or c.detail,
                    ]
                    for c in self.collections
                ],
            )
        ]

    def footnotes(self) -> list[str]:
        """The warnings of the run and of each collection."""
        warnings = [*self.warnings, *(w for c in self.collections for w in c.warnings)]
        return [f"warning: {w}" for w in warnings]
