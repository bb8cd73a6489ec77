"""Operator reports of ``tenantctl billing`` (the shared vocabulary of ``tenancy.reports``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tenancy.reports import ReportError, Status, Table, cell_error, error_dict, first_error


@dataclass
class BillingItem:
    """One line of a billing report: a plan price or a tenant.

    Attributes:
        name: ``starter:monthly`` or a tenant slug.
        status: ``ok``, ``failed`` or ``skipped``.
        detail: what was done (``created price_...``, ``active -> past_due``).
        error: the failure, if any.
    """

    name: str
    status: Status = Status.OK
    detail: str = ""
    error: ReportError | None = None


@dataclass
class BillingReport:
    """``tenantctl billing sync-plans`` / ``reconcile``: one item per price or tenant."""

    title: str
    items: list[BillingItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.status != Status.FAILED for item in self.items)

    @property
    def error(self) -> ReportError | None:
        return first_error([item.error for item in self.items])

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": str(Status.OK if self.ok else Status.FAILED),
            "error": error_dict(self.error),
            "items": [
                {
                    "name": item.name,
                    "status": str(item.status),
                    "detail": item.detail,
                    "error": error_dict(item.error),
                }
                for item in self.items
            ],
        }

    def tables(self) -> list[Table]:
        outcome = "ok" if self.ok else "failed"
        rows: list[Sequence[Any]] = [
            [i.name, str(i.status), i.detail, cell_error(i.error)] for i in self.items
        ]
        return [Table(f"{self.title}: {outcome}", ["name", "status", "detail", "error"], rows)]

    def footnotes(self) -> list[str]:
        return []
