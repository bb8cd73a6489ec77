"""Legacy customers / patients whose emails differ only by letter case: merged, never dropped.

Each test builds its legacy export in ``tmp_path`` from the fixtures in
tests/fixtures/legacy plus the few records it is about (shown in the test).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from domain.customers import CustomerFields, CustomerService
from scripts.legacy import (
    DATABASES,
    ClinicsOptions,
    CrmOptions,
    ImportReport,
    directory_sources,
    import_legacy_clinics,
    import_legacy_crm,
)
from scripts.legacy.convert import derived_id
from tenancy.runtime import Runtime

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
HONDA = "098833bb5ff303e452c1d587"  # first fixture customer: ugurhayrioglu@bilgin.org, 2023-01-04
OLDER = "0a0000000000000000000001"  # same address in capitals, created earlier: the oldest
UNDATED = "0a0000000000000000000002"  # same address, no dates at all: ranks last


def customer_line(_id: str, legacy_id: str, name: str, email: str, **extra: Any) -> str:
    doc = {
        "_id": {"$oid": _id},
        "id": legacy_id,
        "companyName": name,
        "email": email,
        "status": "active",
        "totalRevenue": 0,
        "currency": "TRY",
        **extra,
    }
    return json.dumps(doc, ensure_ascii=False)


def crm_export(tmp_path: Path, *extra_customers: str) -> Path:
    """The CRM fixture with ``extra_customers`` (JSON lines) appended to customers.jsonl."""
    root = tmp_path / "legacy-crm"
    shutil.copytree(FIXTURES / "legacy-crm", root)
    with (root / "vitingo_crm" / "customers.jsonl").open("a", encoding="utf-8") as handle:
        for line in extra_customers:
            handle.write(line + "\n")
    return root


async def run_crm(runtime: Runtime, root: Path) -> ImportReport:
    sources = directory_sources(root, DATABASES["legacy-crm"])
    return await import_legacy_crm(runtime, sources, CrmOptions(owner_password="pw-123456789"))


async def quattro(runtime: Runtime) -> Any:
    tenant = await runtime.store.tenant_by_slug("quattro-stand")
    assert tenant is not None
    return runtime.tenant_database(tenant)


def accounted(entry: Any) -> int:
    return (
        entry.written
        + entry.updated
        + entry.already_present
        + entry.merged
        + entry.resumed
        + len(entry.skipped)
    )


# -- CRM ---------------------------------------------------------------------------------


async def test_crm_customers_with_emails_differing_by_case_merge_into_the_oldest(
    runtime: Runtime, tmp_path: Path
) -> None:
    # Two more spellings of the first fixture customer's address. The oldest record comes
    # last in the file: the rule does not depend on the order of the source.
    root = crm_export(
        tmp_path,
        customer_line(
            UNDATED,
            "cus_undated",
            "Honda (no dates)",
            "UGURHAYRIOGLU@BILGIN.ORG",
            tags=["Lead"],
            phone="0212 000 00 00",
        ),
        customer_line(
            OLDER,
            "cus_older",
            "Honda Türkiye (2022)",
            "UgurHayrioglu@Bilgin.org",
            tags=["eski"],
            created_at={"$date": "2022-06-01T00:00:00Z"},
        ),
    )

    report = await run_crm(runtime, root)

    customers = report.collection("vitingo_crm.customers")
    assert report.ok, json.dumps(report.to_dict(), default=str)
    assert customers.source_count == 8 == accounted(customers)
    assert (customers.written, customers.merged, len(customers.skipped)) == (6, 2, 0)
    assert [m.to_dict() for m in customers.merges] == [
        {
            "target": OLDER,
            "kept": OLDER,
            "merged": [HONDA, UNDATED],  # the rule's order: dated, oldest first; undated last
            "reason": "same email, letter case aside (ugurhayrioglu@bilgin.org); the oldest "
            "record (created_at, then lowest _id) is kept, the others merged into it",
        }
    ]
    assert customers.validation is not None and customers.validation.ok

    db = await quattro(runtime)
    assert await db.customers.count_documents({}) == 6
    merged = await db.customers.find_one({"email_key": "ugurhayrioglu@bilgin.org"})
    assert merged["_id"] == ObjectId(OLDER) and merged["name"] == "Honda Türkiye (2022)"
    assert merged["email"] == "UgurHayrioglu@bilgin.org"  # the kept spelling (domain normalised)
    assert merged["alternate_emails"] == ["ugurhayrioglu@bilgin.org", "UGURHAYRIOGLU@bilgin.org"]
    assert [r["source_id"] for r in merged["legacy_merged"]] == [ObjectId(HONDA), ObjectId(UNDATED)]
    assert merged["legacy_merged"][0]["company_name"] == "Honda Türkiye"  # full record kept
    assert merged["legacy_merged"][0]["relationship_type"] == "Tedarikçi"
    assert merged["tags"] == ["aktif", "eski", "lead", "vip"]  # union of the three
    assert merged["phone"] == "413 9 537"  # the kept record had none: first merged one's
    assert "cus_010e4265ad" in merged["notes"] and "cus_undated" in merged["notes"]
    assert report.counters["quattro-stand"]["customers"] == 6

    again = await run_crm(runtime, root)  # re-run: nothing new, the merge reported again

    customers = again.collection("vitingo_crm.customers")
    assert again.ok and again.written == 0
    assert (customers.already_present, customers.merged) == (6, 2)
    assert [m.target for m in customers.merges] == [OLDER]
    stored = await db.customers.find_one({"_id": ObjectId(OLDER)})
    assert stored["legacy_merged"] == merged["legacy_merged"]
    assert stored["alternate_emails"] == merged["alternate_emails"]
    assert await db.customers.count_documents({}) == 6


async def test_crm_case_variant_of_an_already_imported_customer_joins_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    await run_crm(runtime, crm_export(tmp_path / "first"))
    later = customer_line(
        "ff0000000000000000000003",
        "cus_later",
        "Honda again",
        "UGURHAYRIOGLU@bilgin.org",
        created_at={"$date": "2024-05-01T00:00:00Z"},
    )

    report = await run_crm(runtime, crm_export(tmp_path / "second", later))

    customers = report.collection("vitingo_crm.customers")
    assert report.ok, json.dumps(report.to_dict(), default=str)
    assert customers.source_count == 7 == accounted(customers)
    assert (customers.updated, customers.already_present, customers.merged) == (1, 5, 1)
    assert [(m.target, m.kept, m.merged) for m in customers.merges] == [
        (HONDA, HONDA, ("ff0000000000000000000003",))
    ]
    db = await quattro(runtime)
    honda = await db.customers.find_one({"_id": ObjectId(HONDA)})
    assert honda["name"] == "Honda Türkiye"  # the existing customer keeps its fields
    assert [r["legacy_id"] for r in honda["legacy_merged"]] == ["cus_later"]
    assert honda["alternate_emails"] == ["UGURHAYRIOGLU@bilgin.org"]
    assert await db.customers.count_documents({}) == 6


async def test_crm_customer_whose_email_a_product_customer_holds_is_merged_into_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    await run_crm(runtime, crm_export(tmp_path / "first"))
    tenant = await runtime.store.tenant_by_slug("quattro-stand")
    assert tenant is not None
    made = await CustomerService(await quattro(runtime), tenant).create(
        CustomerFields(name="Made in the product", email="Buyer@Example.com")
    )
    legacy = customer_line(
        "ff0000000000000000000004", "cus_buyer", "Buyer Ltd", "buyer@example.com"
    )

    report = await run_crm(runtime, crm_export(tmp_path / "second", legacy))

    customers = report.collection("vitingo_crm.customers")
    assert report.ok, json.dumps(report.to_dict(), default=str)
    assert customers.source_count == 7 == accounted(customers)
    assert (customers.already_present, customers.merged, len(customers.skipped)) == (6, 1, 0)
    assert [(m.target, m.kept, m.merged) for m in customers.merges] == [
        (str(made["_id"]), None, ("ff0000000000000000000004",))
    ]
    assert "already has a customer with this email" in customers.merges[0].reason
    stored = await (await quattro(runtime)).customers.find_one({"_id": made["_id"]})
    assert stored["name"] == "Made in the product"
    assert [r["company_name"] for r in stored["legacy_merged"]] == ["Buyer Ltd"]
    assert stored["alternate_emails"] == ["buyer@example.com"]


# -- clinics -----------------------------------------------------------------------------

# Two bookings of omega_nipt share maksu@yaani.com in the fixture: 90a014ab... (created
# 2026-09-01, first in the file) and f7102c89... (created 2026-04-05, the oldest).
FIRST_IN_FILE = "90a014ab-4ca1-cabd-8565-0e0bd5c97d5d"
OLDEST = "f7102c89-6b7c-bb92-0bf9-924db1e03ca6"


def clinics_export(tmp_path: Path, *, reverse: bool) -> Path:
    """The clinics fixture with the oldest maksu booking's email in capitals; bookings
    optionally in reverse order."""
    root = tmp_path / "legacy-clinics"
    shutil.copytree(FIXTURES / "legacy-clinics", root)
    bookings = root / "omega_shared" / "bookings.jsonl"
    lines = bookings.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        doc = json.loads(line)
        if doc["_id"] == OLDEST:
            doc["patient_email"] = "MAKSU@Yaani.com"
            lines[index] = json.dumps(doc, ensure_ascii=False)
    if reverse:
        lines.reverse()
    bookings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("reverse", [False, True], ids=["file-order", "reversed"])
async def test_clinic_patients_with_emails_differing_by_case_merge_into_the_oldest(
    runtime: Runtime, tmp_path: Path, reverse: bool
) -> None:
    sources = directory_sources(clinics_export(tmp_path, reverse=reverse), ["omega_shared"])

    report = await import_legacy_clinics(
        runtime, sources, ClinicsOptions(owner_password="pw-1234567")
    )

    patients = report.collection("omega_shared.bookings (patients)")
    assert report.ok, json.dumps(report.to_dict(), default=str)
    assert patients.source_count == 30 == accounted(patients)
    assert (patients.written, patients.merged, len(patients.skipped)) == (29, 1, 0)
    target = derived_id("customer", "omega-nipt", "maksu@yaani.com")
    assert [m.to_dict() for m in patients.merges] == [
        {
            "target": target,
            "kept": OLDEST,
            "merged": [FIRST_IN_FILE],
            "reason": "same patient email, letter case aside (maksu@yaani.com); the patient of "
            "the oldest booking (created_at, then lowest _id) names the customer; the other "
            "bookings are merged into it",
        }
    ]
    tenant = await runtime.store.tenant_by_slug("omega-nipt")
    assert tenant is not None
    db = runtime.tenant_database(tenant)
    customer = await db.customers.find_one({"email_key": "maksu@yaani.com"})
    assert customer["_id"] == target
    # The oldest booking's patient, whatever the order of the file.
    assert (customer["name"], customer["email"], customer["phone"]) == (
        "Kefser Çisem Arsoy",
        "MAKSU@yaani.com",
        "0535-461 4707",
    )
    assert customer["alternate_emails"] == ["maksu@yaani.com"]
    assert customer["legacy_merged"] == [
        {
            "booking_id": FIRST_IN_FILE,
            "name": "Öğr. Lezize Nursim Zorlu Fırat",
            "email": "maksu@yaani.com",
            "phone": "0407 581 81 41",
        }
    ]
    assert await db.bookings.count_documents({"customer_id": target}) == 2
