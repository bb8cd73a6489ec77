"""The import report: per source collection, what was read, written, kept and skipped, and why.

Every source record ends in exactly one bucket, so for a complete run::

    source_count == written + updated + already_present + merged + resumed + skipped

``written`` counts documents this run inserted, ``updated`` documents it
changed, ``already_present`` documents an earlier run (or the product)
already held unchanged, ``merged`` records folded into another record's
document (customers or booking patients whose emails differ only by letter
case; each such fold is listed in ``merges``: which source ids went into
which target), ``resumed`` records an interrupted earlier run had already
written (skipped by the resume). A re-run of a finished import reports
``written == updated == 0``.

The report speaks the shared vocabulary of :mod:`tenancy.reports`: every
collection and tenant has a ``status`` (``ok`` / ``failed``), errors are
``{code, message}``, and :class:`ImportReport` is a
:class:`tenancy.reports.Report` (``ok``, ``to_dict``, ``tables``, ``notes``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tenancy.errors import ErrorCode
from tenancy.reports import ReportError, Status, Table, error_dict, first_error

MAX_IDS_IN_DICT = 200


@dataclass(frozen=True)
class Issue:
    """One source record that was skipped or needs attention.

    Attributes:
        id: the record's legacy id (``str(_id)``), or ``"<file>:<line>"`` for unreadable lines.
        reason: why, in words an operator can act on.
    """

    id: str
    reason: str


@dataclass(frozen=True)
class Merge:
    """Source records folded into one target document.

    Attributes:
        target: the target document's id (``str(_id)``).
        kept: the source record the target was made from (its identity: name,
            email spelling, ...), or ``None`` when the target is a document that
            existed before the import (made in the product, or by another import).
        merged: the other source records folded into it, in the rule's order.
        reason: why they belong together and the rule that chose the target, e.g.
            ``"same email, letter case aside (a@b.com); the oldest record is kept"``.
    """

    target: str
    kept: str | None
    merged: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kept": self.kept,
            "merged": list(self.merged),
            "reason": self.reason,
        }


def _group(issues: list[Issue], limit: int | None) -> list[dict[str, Any]]:
    by_reason: dict[str, list[str]] = defaultdict(list)
    for issue in issues:
        by_reason[issue.reason].append(issue.id)
    return [
        {"reason": reason, "count": len(ids), "ids": ids if limit is None else ids[:limit]}
        for reason, ids in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0]))
    ]


@dataclass
class TargetCounts:
    """Outcome counts of one target (a tenant slug, or ``"platform"``)."""

    written: int = 0
    updated: int = 0
    already_present: int = 0
    merged: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "written": self.written,
            "updated": self.updated,
            "already_present": self.already_present,
            "merged": self.merged,
        }


@dataclass
class Validation:
    """Post-import check of one collection against its source.

    Attributes:
        expected: target documents the source maps to (distinct).
        found: of those, how many exist in the target.
        in_target: documents in the target carrying this source's ``legacy_source``
            marker (more than ``expected`` means duplicates or leftovers).
        checked: documents whose content was compared field by field.
        mismatches: documents missing or differing (id and what differs).
    """

    expected: int = 0
    found: int = 0
    in_target: int | None = None
    checked: int = 0
    mismatches: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        in_target_ok = self.in_target is None or self.in_target == self.expected
        return self.found == self.expected and in_target_ok and not self.mismatches

    def to_dict(self, limit: int | None = MAX_IDS_IN_DICT) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "expected": self.expected,
            "found": self.found,
            "in_target": self.in_target,
            "checked": self.checked,
            "mismatches": _group(self.mismatches, limit),
        }


@dataclass
class CollectionReport:
    """What happened to one source collection (or one derived product of it).

    Attributes:
        source: ``"<database>.<collection>"`` (``"omega_shared.bookings"``); derived
            entries add a note, e.g. ``"omega_shared.bookings (patients)"``.
        target: the target collection, e.g. ``"customers"``, ``"platform.plans"``,
            or ``"-"`` when the collection is deliberately not carried over.
        source_count: records in the source collection (counted before reading).
        read: records read in this run (resumed ones included).
    """

    source: str
    target: str
    source_count: int = 0
    read: int = 0
    written: int = 0
    updated: int = 0
    already_present: int = 0
    merged: int = 0
    resumed: int = 0
    skipped: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    per_target: dict[str, TargetCounts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    validation: Validation | None = None
    merges: list[Merge] = field(default_factory=list)

    def skip(self, record_id: Any, reason: str) -> None:
        """Record a skipped source record."""
        self.skipped.append(Issue(str(record_id), reason))

    def warn(self, record_id: Any, reason: str) -> None:
        """Record a written record that needs attention (dangling reference, price drift...)."""
        self.warnings.append(Issue(str(record_id), reason))

    def tally(self, target: str, outcome: str) -> None:
        """Count one write outcome (``written``/``updated``/``already_present``/``merged``)."""
        counts = self.per_target.setdefault(target, TargetCounts())
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def accounted(self) -> int:
        """Records with a known fate (see the module docstring)."""
        return (
            self.written
            + self.updated
            + self.already_present
            + self.merged
            + self.resumed
            + len(self.skipped)
        )

    @property
    def ok(self) -> bool:
        """Every record accounted for and the validation (if run) passed."""
        complete = self.accounted == self.source_count
        return complete and (self.validation is None or self.validation.ok)

    @property
    def status(self) -> Status:
        """``ok`` or ``failed`` (see :attr:`ok`)."""
        return Status.OK if self.ok else Status.FAILED

    def to_dict(self, limit: int | None = MAX_IDS_IN_DICT) -> dict[str, Any]:
        """JSON-ready form (``--json``); id lists are cut at ``limit`` per reason."""
        return {
            "source": self.source,
            "target": self.target,
            "source_count": self.source_count,
            "read": self.read,
            "written": self.written,
            "updated": self.updated,
            "already_present": self.already_present,
            "merged": self.merged,
            "resumed": self.resumed,
            "skipped_count": len(self.skipped),
            "skipped": _group(self.skipped, limit),
            "warning_count": len(self.warnings),
            "warnings": _group(self.warnings, limit),
            "per_target": {k: v.to_dict() for k, v in sorted(self.per_target.items())},
            "merge_count": len(self.merges),
            "merges": [
                m.to_dict() for m in (self.merges if limit is None else self.merges[:limit])
            ],
            "notes": list(self.notes),
            "validation": self.validation.to_dict(limit) if self.validation else None,
            "ok": self.ok,
            "status": str(self.status),
        }


@dataclass
class TenantOutcome:
    """A tenant the import created or reused.

    Attributes:
        slug: the product slug (``"west-nipt"``).
        legacy_id: the legacy tenant id (``"west_nipt"``).
        action: ``"provisioned"``, ``"reused"``, ``"adopted"`` (existing tenant
            taken over with ``adopt_existing``), ``"refused"`` or ``"failed"``.
        owner_email: the owner admin's login.
        owner_password: set only when this run generated the password; shown
            once, stored nowhere else.
        message: why a tenant was refused or failed.
        code: the error code of that reason.
    """

    slug: str
    legacy_id: str
    action: str
    name: str = ""
    owner_email: str | None = None
    owner_password: str | None = None
    database: str | None = None
    message: str | None = None
    code: ErrorCode | None = None

    def fail(self, code: ErrorCode, message: str, action: str = "failed") -> None:
        """The tenant cannot be imported into (``failed`` or ``refused``), and why."""
        self.action, self.code, self.message = action, code, message

    @property
    def usable(self) -> bool:
        return self.action in ("provisioned", "reused", "adopted")

    @property
    def status(self) -> Status:
        """``ok`` when the import can write into the tenant, else ``failed``."""
        return Status.OK if self.usable else Status.FAILED

    @property
    def error(self) -> ReportError | None:
        """Why the tenant was refused or failed, as ``{code, message}``."""
        if self.usable:
            return None
        return ReportError(
            self.code or ErrorCode.VALIDATION_FAILED, self.message or f"tenant {self.action}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "legacy_id": self.legacy_id,
            "action": self.action,
            "status": str(self.status),
            "name": self.name,
            "owner_email": self.owner_email,
            "owner_password": self.owner_password,
            "database": self.database,
            "error": error_dict(self.error),
        }


@dataclass
class ImportReport:
    """The whole run of one legacy source (``"legacy-crm"`` or ``"legacy-clinics"``).

    Attributes:
        orphans: legacy ``tenant_id`` -> ``["<collection>:<id>", ...]`` of documents
            naming no tenant (also listed as skipped in their collections).
    """

    source: str
    started_at: datetime
    finished_at: datetime | None = None
    tenants: list[TenantOutcome] = field(default_factory=list)
    collections: list[CollectionReport] = field(default_factory=list)
    orphans: dict[str, list[str]] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def collection(self, source: str) -> CollectionReport:
        """The entry for ``source`` (``"omega_shared.bookings"``).

        Raises:
            KeyError: no such entry.
        """
        for entry in self.collections:
            if entry.source == source:
                return entry
        raise KeyError(source)

    def add(self, entry: CollectionReport) -> CollectionReport:
        self.collections.append(entry)
        return entry

    @property
    def written(self) -> int:
        """Documents inserted or changed by this run, all collections."""
        return sum(c.written + c.updated for c in self.collections)

    @property
    def imported_nothing(self) -> bool:
        """The carried collections had records, and not one of them is in the target
        (every record was skipped): such a run is never reported as ok."""
        carried = [c for c in self.collections if c.target != "-"]
        records = sum(c.source_count for c in carried)
        landed = sum(
            c.written + c.updated + c.already_present + c.merged + c.resumed for c in carried
        )
        return records > 0 and landed == 0

    @property
    def ok(self) -> bool:
        """All collections accounted for and validated; no tenant failed; something imported."""
        tenants_ok = all(t.usable for t in self.tenants)
        return tenants_ok and all(c.ok for c in self.collections) and not self.imported_nothing

    @property
    def status(self) -> Status:
        """``ok`` or ``failed`` (see :attr:`ok`)."""
        return Status.OK if self.ok else Status.FAILED

    @property
    def error(self) -> ReportError | None:
        """The first reason the run is not ok: a tenant's error, collections
        not accounted for or not validated (VERIFICATION_FAILED), or nothing
        imported (VALIDATION_FAILED)."""
        tenant_error = first_error([t.error for t in self.tenants])
        if tenant_error is not None:
            return tenant_error
        broken = [c.source for c in self.collections if not c.ok]
        if broken:
            return ReportError(
                ErrorCode.VERIFICATION_FAILED,
                f"not every record is accounted for, or the written data did not validate: "
                f"{', '.join(broken)}",
            )
        if self.imported_nothing:
            return ReportError(
                ErrorCode.VALIDATION_FAILED, "every record was skipped; nothing was imported"
            )
        return None

    def to_dict(self, limit: int | None = MAX_IDS_IN_DICT) -> dict[str, Any]:
        """JSON-ready form. Contains generated owner passwords: print once, do not log."""
        return {
            "source": self.source,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "ok": self.ok,
            "status": str(self.status),
            "error": error_dict(self.error),
            "imported_nothing": self.imported_nothing,
            "written": self.written,
            "tenants": [t.to_dict() for t in self.tenants],
            "collections": [c.to_dict(limit) for c in self.collections],
            "orphans": {k: v if limit is None else v[:limit] for k, v in self.orphans.items()},
            "counters": self.counters,
            "notes": list(self.notes),
        }

    def tables(self) -> list[Table]:
        """The tenants it created or reused, then one row per source collection."""
        tenants = Table(
            f"import {self.source}: tenants",
            ["slug", "legacy id", "action", "database", "owner", "generated password", "error"],
            [
                [
                    t.slug,
                    t.legacy_id,
                    t.action,
                    t.database,
                    t.owner_email,
                    t.owner_password or "",
                    f"{t.error.code}: {t.error.message}" if t.error else "",
                ]
                for t in self.tenants
            ],
        )
        collections = Table(
            f"import {self.source}: {self.status}",
            [
                "source",
                "target",
                "status",
                "count",
                "written",
                "updated",
                "present",
                "merged",
                "resumed",
                "skipped",
                "validated",
            ],
            [
                [
                    c.source,
                    c.target,
                    c.status,
                    c.source_count,
                    c.written,
                    c.updated,
                    c.already_present,
                    c.merged,
                    c.resumed,
                    len(c.skipped),
                    "-" if c.validation is None else ("ok" if c.validation.ok else "FAILED"),
                ]
                for c in self.collections
            ],
        )
        return [tenants, collections]

    def footnotes(self) -> list[str]:
        """Skipped records per reason, merges, and documents naming no tenant."""
        lines = []
        for c in self.collections:
            for reason in sorted({i.reason for i in c.skipped}):
                ids = [i.id for i in c.skipped if i.reason == reason]
                lines.append(f"skipped {len(ids)} of {c.source}: {reason}")
        for c in self.collections:
            for merge in c.merges:
                kept = f"kept {merge.kept}" if merge.kept else "an existing document"
                lines.append(
                    f"merged {len(merge.merged)} of {c.source} into {merge.target} ({kept}): "
                    f"{', '.join(merge.merged)}; {merge.reason}"
                )
        for legacy_id, ids in self.orphans.items():
            more = f" ... ({len(ids)} in all)" if len(ids) > 20 else ""
            lines.append(
                f"orphans: tenant_id {legacy_id!r} names no tenant: {', '.join(ids[:20])}{more}"
            )
        return lines
