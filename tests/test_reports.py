"""One report vocabulary for every operator report, and the one printer that renders them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from migrations.base import MigrationScope
from migrations.reports import (
    DatabaseResult,
    DatabaseStatus,
    MigrationState,
    MigrationStatus,
    Outcome,
    RunReport,
    StatusReport,
)
from scripts.legacy.report import CollectionReport, ImportReport, TenantOutcome
from scripts.output import print_report
from tenancy.databases.results import CollectionResult, OperationResult
from tenancy.errors import ErrorCode
from tenancy.operations.report import OperationReport
from tenancy.reports import Report, ReportError, Status


def failed_copy() -> OperationResult:
    result = OperationResult("copy", "database a", "database b")
    result.collections.append(CollectionResult("customers", written=3, source_count=3))
    broken = CollectionResult("bookings", written=2)
    broken.fail(ErrorCode.VERIFICATION_FAILED, "count differs: source has 3 documents, target 2")
    broken.fail(ErrorCode.DATABASE_UNAVAILABLE, "index 'x' is missing")
    result.collections.append(broken)
    result.collections.append(
        CollectionResult("sessions", Status.NOT_RUN, detail="not run: the copy stopped")
    )
    return result


def failed_move() -> OperationReport:
    report = OperationReport("move", "acme")
    report.step("enter maintenance", detail="API serves reads, refuses writes")
    report.data["copy"] = failed_copy()
    error = ReportError(ErrorCode.VERIFICATION_FAILED, "bookings differ")
    report.step("copy and verify", Status.FAILED, "bookings differ; target kept", error)
    report.step("rollback", detail="tenant stays on default/t_acme")
    return report


def failed_migration_run() -> RunReport:
    report = RunReport(action="up", dry_run=False)
    report.results.append(
        DatabaseResult(MigrationScope.PLATFORM, "platform", "platform", Outcome.APPLIED)
    )
    report.results.append(
        DatabaseResult(
            MigrationScope.TENANT,
            "acme",
            "t_acme",
            Outcome.FAILED,
            error=ReportError(ErrorCode.MIGRATION_FAILED, "acme: migration 0002_x failed: boom"),
        )
    )
    report.results.append(
        DatabaseResult(
            MigrationScope.TENANT,
            "bravo",
            "t_bravo",
            Outcome.SKIPPED,
            note="bravo: not started: an earlier database failed",
        )
    )
    return report


def pending_status() -> StatusReport:
    pending = MigrationStatus("0002_x", "second", MigrationState.PENDING, "c2")
    applied = MigrationStatus("0001_x", "first", MigrationState.APPLIED, "c1", "c1")
    return StatusReport(
        [DatabaseStatus(MigrationScope.TENANT, "acme", "t_acme", migrations=[applied, pending])]
    )


def refused_legacy_import() -> ImportReport:
    report = ImportReport("legacy-crm", started_at=datetime(2026, 1, 1, tzinfo=UTC))
    outcome = TenantOutcome("quattro-stand", "vitingo", "failed")
    outcome.fail(ErrorCode.ALREADY_EXISTS, "tenant 'quattro-stand' already exists", "refused")
    report.tenants.append(outcome)
    entry = report.add(CollectionReport("vitingo_crm.customers", "customers", source_count=2))
    entry.tally("quattro-stand", "written")
    entry.skip("c2", "no email")
    return report


REPORTS = {
    "copy": failed_copy,
    "move": failed_move,
    "migrate up": failed_migration_run,
    "migrate status": pending_status,
    "import-legacy": refused_legacy_import,
}


def assert_error_shape(error: Any) -> None:
    assert error is None or (
        set(error) == {"code", "message"} and error["code"] in set(ErrorCode) and error["message"]
    ), error


@pytest.mark.parametrize("make", REPORTS.values(), ids=REPORTS.keys())
def test_every_report_has_ok_status_and_a_coded_error(make: Any) -> None:
    report: Report = make()
    data = report.to_dict()
    assert data["ok"] is report.ok is False
    assert data["status"] in {"failed", "planned"}
    assert_error_shape(data["error"])
    json.dumps(data)  # JSON-ready


def test_items_share_the_status_words_and_error_shape() -> None:
    copy = failed_copy().to_dict()
    assert [c["status"] for c in copy["collections"]] == ["ok", "failed", "not_run"]
    assert copy["error"] == {
        "code": "VERIFICATION_FAILED",  # the first code stays, the messages add up
        "message": "count differs: source has 3 documents, target 2; index 'x' is missing",
    }
    assert copy["collections"][2]["error"] is None
    assert copy["collections"][2]["detail"] == "not run: the copy stopped"
    assert copy["written"] == 5 and copy["collections"][0]["resumed"] == 0

    move = failed_move().to_dict()
    assert [s["status"] for s in move["steps"]] == ["ok", "failed", "ok"]
    assert move["error"] == {"code": "VERIFICATION_FAILED", "message": "bookings differ"}
    assert move["copy"]["status"] == "failed"

    run = failed_migration_run().to_dict()
    assert [r["status"] for r in run["results"]] == ["ok", "failed", "skipped"]
    assert [r["outcome"] for r in run["results"]] == ["applied", "failed", "skipped"]
    assert run["error"]["code"] == "MIGRATION_FAILED"
    assert run["results"][2]["error"] is None and "earlier" in run["results"][2]["note"]

    status = pending_status().to_dict()
    assert status["status"] == "planned" and status["up_to_date"] is False
    assert status["databases"][0]["status"] == "planned"

    legacy = refused_legacy_import().to_dict()
    assert legacy["tenants"][0]["status"] == "failed"
    assert legacy["tenants"][0]["error"]["code"] == "ALREADY_EXISTS"
    assert legacy["collections"][0]["status"] == "ok"
    for item in [
        *copy["collections"],
        *move["steps"],
        *run["results"],
        *legacy["tenants"],
    ]:
        assert item["status"] in set(Status)
        assert_error_shape(item["error"])


@pytest.mark.parametrize("make", REPORTS.values(), ids=REPORTS.keys())
def test_the_one_printer_renders_any_report(make: Any, capsys: pytest.CaptureFixture) -> None:
    report: Report = make()
    print_report(report, as_json=True)
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report.to_dict()))

    print_report(report, as_json=False)
    out = capsys.readouterr()
    for table in report.tables():
        assert table.title.split(":")[0] in out.out
        for row in table.rows:
            assert str(row[0]) in out.out
    for note in report.footnotes():
        assert note.split(": ", 1)[-1][:30] in out.err


def test_errors_from_exceptions_keep_their_code() -> None:
    from pymongo.errors import AutoReconnect

    from tenancy.errors import AppError

    coded = ReportError.from_exception(AppError(ErrorCode.LOCKED, "held"), ErrorCode.BACKUP_FAILED)
    assert coded == ReportError(ErrorCode.LOCKED, "held")
    lost = ReportError.from_exception(AutoReconnect("gone"), ErrorCode.VERIFICATION_FAILED)
    assert lost.code == ErrorCode.DATABASE_UNAVAILABLE and lost.message == "AutoReconnect: gone"
    other = ReportError.from_exception(RuntimeError("x"), ErrorCode.BACKUP_FAILED)
    assert other == ReportError(ErrorCode.BACKUP_FAILED, "RuntimeError: x")
