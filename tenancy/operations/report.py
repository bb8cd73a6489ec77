"""The report of an operator operation on one tenant, step by step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tenancy.databases.results import OperationResult
from tenancy.models import DatabaseLocation
from tenancy.reports import ReportError, Status, Table, error_dict, first_error


def where(location: DatabaseLocation) -> str:
    """How reports name a database location: ``<cluster>/<name>``."""
    return f"{location.cluster}/{location.name}"


@dataclass
class Step:
    """One step of an operation.

    Attributes:
        name: what the step is (``enter maintenance``, ``backup``...).
        status: ``ok``, ``failed`` or ``skipped``.
        detail: what it did, or for a failed step what failed and what was kept.
        error: the failure's ``{code, message}`` (failed steps only).
    """

    name: str
    status: Status = Status.OK
    detail: str = ""
    error: ReportError | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "status", "detail", "error"}``."""
        return {
            "name": self.name,
            "status": str(self.status),
            "detail": self.detail,
            "error": error_dict(self.error),
        }


@dataclass
class OperationReport:
    """What an operation did, step by step (a :class:`tenancy.reports.Report`).

    Attributes:
        operation: ``move``, ``restore``, ``drop-old-database`` or ``delete``.
        tenant: the tenant's slug.
        steps: in the order they ran.
        data: the database operations it ran (``copy``, ``import``, ``backup``).
        info: facts for machines (``database``, ``old_database``,
            ``staging_database``).
    """

    operation: str
    tenant: str
    steps: list[Step] = field(default_factory=list)
    data: dict[str, OperationResult] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no step failed."""
        return all(step.status != Status.FAILED for step in self.steps)

    @property
    def status(self) -> Status:
        """``ok`` or ``failed``."""
        return Status.OK if self.ok else Status.FAILED

    @property
    def error(self) -> ReportError | None:
        """The error of the first failed step, if any."""
        return first_error([step.error for step in self.steps])

    def step(
        self,
        name: str,
        status: Status | str = Status.OK,
        detail: str = "",
        error: ReportError | None = None,
    ) -> None:
        """Record a step (a failed step should carry its ``error``)."""
        self.steps.append(Step(name, Status(status), detail, error))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``operation``, ``tenant``, ``ok``, ``status``,
        ``error``, ``steps``, ``info``, and one key per entry of ``data``."""
        return {
            "operation": self.operation,
            "tenant": self.tenant,
            "ok": self.ok,
            "status": str(self.status),
            "error": error_dict(self.error),
            "steps": [step.to_dict() for step in self.steps],
            "info": dict(self.info),
            **{key: value.to_dict() for key, value in self.data.items()},
        }

    def tables(self) -> list[Table]:
        """The tables of the database operations it ran, then its steps."""
        tables = [table for result in self.data.values() for table in result.tables()]
        tables.append(
            Table(
                f"{self.operation} {self.tenant}: {self.status}",
                ["step", "status", "code", "detail"],
                [[s.name, s.status, s.error.code if s.error else "", s.detail] for s in self.steps],
            )
        )
        return tables

    def footnotes(self) -> list[str]:
        """The warnings of the database operations it ran."""
        return [note for result in self.data.values() for note in result.footnotes()]
