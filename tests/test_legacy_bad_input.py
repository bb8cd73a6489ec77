"""Bad input to ``tenantctl import-legacy``: one line naming file, line and field, a non-zero
exit, no traceback, and nothing written (the export is checked before the first write).

Each broken export is made in ``tmp_path`` from the fixtures in tests/fixtures/legacy.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.cli import app
from scripts.legacy import (
    DATABASES,
    STATE_COLLECTION,
    ClinicsOptions,
    CrmOptions,
    SourceError,
    directory_sources,
    import_legacy_clinics,
    import_legacy_crm,
)
from tenancy.errors import ErrorCode
from tenancy.runtime import Runtime
from tests.backends import Backend

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"

Invoke = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: Backend) -> Invoke:
    monkeypatch.setenv("APP_EMBEDDED_DIR", str(tmp_path / "embedded"))
    monkeypatch.setenv("APP_MONGODB_URL", backend.url())
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


def export(tmp_path: Path, kind: str = "legacy-crm") -> Path:
    root = tmp_path / kind
    shutil.copytree(FIXTURES / kind, root)
    return root


def edit_line(file: Path, number: int, change: Callable[[dict], None]) -> None:
    """Apply ``change`` to the document on line ``number`` (1-based) of a JSON Lines file."""
    lines = file.read_text(encoding="utf-8").splitlines()
    doc = json.loads(lines[number - 1])
    change(doc)
    lines[number - 1] = json.dumps(doc, ensure_ascii=False)
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def one_line_refusal(code: int, out: str, *expected: str) -> None:
    """Exit 1, exactly one line of output, no traceback, and every ``expected`` part in it."""
    assert code == 1, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert "Traceback" not in out
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert lines[0].endswith("nothing was imported"), lines[0]


def nothing_imported(cli: Invoke) -> None:
    code, out = cli("tenants", "list", "--json")
    assert code == 0 and json.loads(out) == [], out


# -- directories and files ------------------------------------------------------------


def test_missing_directory(cli: Invoke, tmp_path: Path) -> None:
    code, out = cli("import-legacy", "legacy-crm", "--dir", str(tmp_path / "nowhere"))
    one_line_refusal(code, out, "NOT_FOUND", str(tmp_path / "nowhere"), "is not a directory")


def test_empty_directory(cli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out = cli("import-legacy", "legacy-clinics", "--dir", str(tmp_path / "empty"))
    one_line_refusal(code, out, "NOT_FOUND", "has no omega_shared/ directory")
    nothing_imported(cli)


def test_directories_with_only_empty_files(cli: Invoke, tmp_path: Path) -> None:
    root = export(tmp_path)
    for file in root.glob("*/*.jsonl"):
        file.write_text("", encoding="utf-8")
    code, out = cli("import-legacy", "legacy-crm", "--dir", str(root))
    one_line_refusal(code, out, "VALIDATION_FAILED", "no records to import")
    nothing_imported(cli)


def test_missing_collection_file(cli: Invoke, tmp_path: Path) -> None:
    root = export(tmp_path)
    (root / "vitingo_crm" / "products.jsonl").unlink()
    code, out = cli("import-legacy", "legacy-crm", "--dir", str(root))
    one_line_refusal(code, out, "NOT_FOUND", str(root / "vitingo_crm"), "products.jsonl")
    nothing_imported(cli)


# -- unreadable lines -------------------------------------------------------------------


def test_truncated_json_line(cli: Invoke, tmp_path: Path) -> None:
    root = export(tmp_path)
    file = root / "vitingo_crm" / "customers.jsonl"
    lines = file.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1][: len(lines[-1]) // 2]  # the export was cut off mid-line
    file.write_text("\n".join(lines), encoding="utf-8")
    code, out = cli("import-legacy", "legacy-crm", "--dir", str(root))
    one_line_refusal(code, out, "VALIDATION_FAILED", f"{file} line {len(lines)}", "unreadable JSON")
    nothing_imported(cli)


def test_garbled_bytes(cli: Invoke, tmp_path: Path) -> None:
    root = export(tmp_path)
    file = root / "crm_db" / "countries.jsonl"
    lines = file.read_bytes().split(b"\n")
    lines[1] = b"\xff\xfe" + lines[1][5:]
    file.write_bytes(b"\n".join(lines))
    code, out = cli("import-legacy", "legacy-crm", "--dir", str(root))
    one_line_refusal(code, out, f"{file} line 2", "not UTF-8")
    nothing_imported(cli)


def test_line_that_is_not_an_object(cli: Invoke, tmp_path: Path) -> None:
    root = export(tmp_path, "legacy-clinics")
    file = root / "omega_shared" / "tests.jsonl"
    with file.open("a", encoding="utf-8") as handle:
        handle.write('["not", "a", "document"]\n')
    lines = len(file.read_text(encoding="utf-8").splitlines())
    code, out = cli("import-legacy", "legacy-clinics", "--dir", str(root))
    one_line_refusal(code, out, f"{file} line {lines}", "not an object")
    nothing_imported(cli)


# -- fields of the wrong type -----------------------------------------------------------


def test_price_that_is_a_string(cli: Invoke, tmp_path: Path) -> None:
    root = export(tmp_path)
    file = root / "vitingo_crm" / "products.jsonl"
    edit_line(file, 4, lambda doc: doc.update(unitPrice="1.250,00"))
    code, out = cli("import-legacy", "legacy-crm", "--dir", str(root))
    one_line_refusal(
        code, out, "VALIDATION_FAILED", f"{file} line 4", "'unitPrice'", "'1.250,00'", "a number"
    )
    nothing_imported(cli)


def test_date_that_is_not_a_date(cli: Invoke, tmp_path: Path) -> None:
    root = export(tmp_path, "legacy-clinics")
    file = root / "omega_shared" / "bookings.jsonl"
    edit_line(file, 7, lambda doc: doc.update(appointment_date="29.08.2025"))
    code, out = cli("import-legacy", "legacy-clinics", "--dir", str(root))
    one_line_refusal(code, out, f"{file} line 7", "'appointment_date'", "expected a date")
    nothing_imported(cli)


def test_money_that_is_a_string_in_clinics(cli: Invoke, tmp_path: Path) -> None:
    root = export(tmp_path, "legacy-clinics")
    file = root / "omega_shared" / "bookings.jsonl"
    edit_line(file, 3, lambda doc: doc.update(final_price="1757.50"))
    code, out = cli("import-legacy", "legacy-clinics", "--dir", str(root))
    one_line_refusal(code, out, f"{file} line 3", "'final_price'", "'1757.50'")
    nothing_imported(cli)


# -- the same checks without the CLI: nothing at all is written ---------------------------


async def test_a_bad_record_late_in_the_export_refuses_the_import_before_any_write(
    runtime: Runtime, tmp_path: Path
) -> None:
    root = export(tmp_path)
    file = root / "vitingo_crm" / "calendar_events.jsonl"  # the last collection imported
    edit_line(file, 1, lambda doc: doc.update(start="tomorrow"))
    collections_before = set(await runtime.store.db.list_collection_names())
    plans_before = [p.model_dump() for p in await runtime.store.plans()]

    with pytest.raises(SourceError) as raised:
        await import_legacy_crm(runtime, directory_sources(root, DATABASES["legacy-crm"]))

    assert raised.value.code == ErrorCode.VALIDATION_FAILED
    assert f"{file} line 1: field 'start' is a string ('tomorrow')" in raised.value.message
    assert set(await runtime.store.db.list_collection_names()) == collections_before
    assert STATE_COLLECTION not in collections_before
    assert [p.model_dump() for p in await runtime.store.plans()] == plans_before
    assert await runtime.store.tenant_by_slug("quattro-stand") is None


async def test_an_import_that_lands_nothing_is_not_ok(runtime: Runtime, tmp_path: Path) -> None:
    root = export(tmp_path, "legacy-clinics")
    (root / "omega_shared" / "tenants.jsonl").write_text("", encoding="utf-8")  # no tenants

    sources = directory_sources(root, DATABASES["legacy-clinics"])
    report = await import_legacy_clinics(runtime, sources, ClinicsOptions())

    bookings = report.collection("omega_shared.bookings")
    assert bookings.accounted == bookings.source_count == len(bookings.skipped) == 31
    assert report.imported_nothing and not report.ok


async def test_a_good_export_is_not_refused(runtime: Runtime) -> None:
    sources = directory_sources(FIXTURES / "legacy-crm", DATABASES["legacy-crm"])
    report = await import_legacy_crm(runtime, sources, CrmOptions(owner_password="pw-12345678"))
    assert report.ok and not report.imported_nothing


def test_amount_beyond_64_bits_is_skipped_with_its_reason(cli: Invoke, tmp_path: Path) -> None:
    """MongoDB stores at most 64-bit integers: on a real server such an amount would
    fail to encode; it is reported as a skipped record on every backend."""
    root = export(tmp_path)
    file = root / "vitingo_crm" / "products.jsonl"
    edit_line(file, 4, lambda doc: doc.update(unitPrice=10**20))
    code, out = cli("import-legacy", "legacy-crm", "--dir", str(root), "--json")
    assert "Traceback" not in out
    report = json.loads(out)
    assert code == 0, out
    products = next(c for c in report["collections"] if c["source"].endswith(".products"))
    assert products["skipped_count"] == 1 and products["written"] == products["source_count"] - 1
    (skipped,) = products["skipped"]
    assert "too large" in skipped["reason"] and "64-bit" in skipped["reason"]
