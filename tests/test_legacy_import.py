"""The legacy imports (scripts.legacy) on small fixtures cut from the real exports.

Fixtures live in tests/fixtures/legacy (a subset of ../shared/data plus one
hand-made booking whose tenant_id names no tenant); tests never read ../shared.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bson import Decimal128, json_util

from domain.booking_rules import slot_starts
from graphql_api.auth import TokenService
from scripts.legacy import (
    DATABASES,
    STATE_COLLECTION,
    ClinicsOptions,
    CrmOptions,
    DatabaseSource,
    DirectorySource,
    ImportReport,
    Source,
    SourceError,
    directory_sources,
    import_legacy,
    import_legacy_clinics,
    import_legacy_crm,
)
from scripts.legacy.clinics_mapping import booking_from_legacy, map_booking_status
from scripts.legacy.convert import (
    ConversionError,
    appointment_to_utc,
    to_basis_points,
    to_minor,
)
from scripts.legacy.crm_mapping import customer_from_legacy, plan_from_package
from tenancy import lifecycle
from tenancy.runtime import Runtime
from tests.backends import SECOND_CLUSTER, Backend
from tests.conftest import GraphQLClient

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
CLINICS = FIXTURES / "legacy-clinics"
CRM = FIXTURES / "legacy-crm"
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # bookings after this are "future" (slot claims)
ORPHAN_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CONFLICT = ("9c7cc702-bfcf-648c-fc3a-c0878ff9aa6c", "9fd3efc0-713b-4281-76cb-28e1cd843c95")
PASSWORD = "imported-owner-password"


def fixture_docs(path: Path) -> list[dict[str, Any]]:
    """A fixture file as documents (relaxed Extended JSON, like the importer reads it)."""
    options = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)
    with path.open(encoding="utf-8") as handle:
        return [json_util.loads(line, json_options=options) for line in handle if line.strip()]


def clinic_bookings() -> list[dict[str, Any]]:
    return fixture_docs(CLINICS / "omega_shared" / "bookings.jsonl")


def clinics_options(**changes: Any) -> ClinicsOptions:
    return ClinicsOptions(now=NOW, owner_password=PASSWORD, **changes)


async def run_clinics(runtime: Runtime, **changes: Any) -> ImportReport:
    sources = directory_sources(CLINICS, DATABASES["legacy-clinics"])
    return await import_legacy_clinics(runtime, sources, clinics_options(**changes))


async def run_crm(runtime: Runtime, **changes: Any) -> ImportReport:
    sources = directory_sources(CRM, DATABASES["legacy-crm"])
    return await import_legacy_crm(runtime, sources, CrmOptions(now=NOW, **changes))


async def tenant_db(runtime: Runtime, slug: str) -> Any:
    tenant = await runtime.store.tenant_by_slug(slug)
    assert tenant is not None, slug
    return runtime.tenant_database(tenant)


# -- pure conversions -------------------------------------------------------------------


def test_money_converts_exactly_and_refuses_fractions_of_minor_units() -> None:
    assert to_minor(Decimal128("1757.50"), "TRY") == 175_750
    assert to_minor(99, "TRY") == 9_900
    assert to_minor(20298.2, "TRY") == 2_029_820  # float via its repr, not float arithmetic
    assert to_minor(250000.5, "EUR") == 25_000_050
    assert to_minor(Decimal("1.10"), "TRY") == 110
    assert to_minor(1500, "JPY") == 1500
    for bad in (Decimal128("12.345"), 0.1 + 0.2, "1.005", None, True, float("nan")):
        with pytest.raises(ConversionError):
            to_minor(bad, "TRY")
    assert to_basis_points(10) == 1000
    assert to_basis_points(Decimal128("15.00")) == 1500
    with pytest.raises(ConversionError):
        to_basis_points(Decimal("0.125"))


def test_appointment_date_and_local_time_become_utc() -> None:
    day = datetime(2025, 8, 29, tzinfo=UTC)  # legacy: the date as midnight UTC
    istanbul = appointment_to_utc(day, "11:00", "Europe/Istanbul")
    assert istanbul == datetime(2025, 8, 29, 8, 0, tzinfo=UTC)
    berlin = appointment_to_utc(day, "9:30", "Europe/Berlin")
    assert berlin == datetime(2025, 8, 29, 7, 30, tzinfo=UTC)
    with pytest.raises(ConversionError, match="does not exist"):
        appointment_to_utc(datetime(2025, 3, 30, tzinfo=UTC), "02:30", "Europe/Berlin")
    with pytest.raises(ConversionError):
        appointment_to_utc(day, "25:00", "Europe/Istanbul")


def test_booking_status_mapping_keeps_the_legacy_value_when_it_differs() -> None:
    assert map_booking_status("new") == ("pending", "new")
    assert map_booking_status("confirmed") == ("confirmed", None)
    assert map_booking_status("in_lab") == ("in_progress", "in_lab")
    assert map_booking_status("genetic_counseling_offered") == (
        "in_progress",
        "genetic_counseling_offered",
    )


def test_booking_mapping_refuses_money_that_is_not_whole_minor_units() -> None:
    doc = dict(clinic_bookings()[0], final_price=Decimal128("1757.505"))
    service = {"_id": doc["test_id"], "duration_minutes": 30, "currency": "TRY"}
    with pytest.raises(ConversionError, match="final_price"):
        booking_from_legacy(
            doc,
            timezone="Europe/Istanbul",
            service=service,
            customer_id="c",
            location_known=True,
            referral=None,
            actor="t",
            now=NOW,
        )


def test_pure_crm_mappings() -> None:
    customers = fixture_docs(CRM / "vitingo_crm" / "customers.jsonl")
    mapped = customer_from_legacy(customers[0])
    assert mapped["name"] == customers[0]["companyName"]
    assert mapped["name_key"] == mapped["name"].casefold()
    assert mapped["company"] == customers[0]["companyTitle"]
    assert mapped["email_key"] == mapped["email"].lower()
    assert mapped["legacy_id"] == customers[0]["id"]
    assert "relationship_type" in mapped and "relationshipType" not in mapped
    key, to_set, _on_insert = plan_from_package(fixture_docs(CRM / "crm_db" / "packages.jsonl")[0])
    assert (key, to_set["price_monthly_minor"], to_set["price_yearly_minor"]) == (
        "starter",
        9_900,
        99_000,
    )
    assert to_set["limits.max_users"] == 3 and to_set["limits.max_customers"] == 200


async def test_directory_source_reports_unreadable_lines(tmp_path: Path) -> None:
    (tmp_path / "things.jsonl").write_text('{"_id": 1}\nnot json\n\n{"_id": 2}\n', encoding="utf-8")
    source = DirectorySource(tmp_path, name="db")
    errors: list[tuple[str, str]] = []

    async def read(**kwargs: Any) -> list[dict[str, Any]]:
        return [doc async for doc in source.iterate("things", **kwargs)]

    docs = await read(on_error=lambda rid, msg: errors.append((rid, msg)))
    assert docs == [{"_id": 1}, {"_id": 2}]
    assert errors and errors[0][0] == "things.jsonl:2"
    assert await source.count("things") == 3
    assert await source.collection_names() == ["things"]
    with pytest.raises(SourceError):
        await read()


# -- clinics ---------------------------------------------------------------------------


async def test_clinics_import_splits_tenants_with_exact_money_times_and_reports(
    runtime: Runtime,
) -> None:
    report = await run_clinics(runtime)
    source = clinic_bookings()
    by_tenant = {
        t: [b for b in source if b["tenant_id"] == t]
        for t in ("omega_nipt", "west_nipt", "tromb_screening")
    }

    assert [(t.slug, t.legacy_id, t.action) for t in report.tenants] == [
        ("omega-nipt", "omega_nipt", "provisioned"),
        ("west-nipt", "west_nipt", "provisioned"),
        ("tromb-screening", "tromb_screening", "provisioned"),
    ]
    west = await runtime.store.tenant_by_slug("west-nipt")
    assert west is not None
    assert west.legacy_id == "west_nipt" and west.domains == ["westesti.com"]
    assert west.settings.timezone == "Europe/Istanbul"
    assert west.settings.email_sender == "info@westesti.com"
    assert west.settings.confirmation_prefix == "WE"
    assert west.subscription.plan_key == "professional" and west.status == "active"

    bookings = report.collection("omega_shared.bookings")
    assert bookings.source_count == 31
    assert bookings.written == 30 and bookings.already_present == 0
    assert [(i.id, i.reason) for i in bookings.skipped] == [
        (ORPHAN_ID, "tenant_id 'east_nipt' names no tenant in omega_shared.tenants")
    ]
    assert report.orphans == {"east_nipt": [f"bookings:{ORPHAN_ID}"]}
    assert bookings.per_target["west-nipt"].written == 20
    for name, count in (
        ("tests", 9),
        ("locations", 19),
        ("referral_codes", 5),
        ("healthcare_providers", 3),
        ("sales_reps", 3),
        ("notifications", 6),
        ("lab_results", 4),
    ):
        entry = report.collection(f"omega_shared.{name}")
        assert (entry.source_count, entry.written, len(entry.skipped)) == (count, count, 0), name
    assert report.collection("omega_shared.healthcare_providers (referral codes)").written == 3
    patients = report.collection("omega_shared.bookings (patients)")
    assert (patients.written, patients.merged) == (29, 1)  # maksu@yaani.com booked twice
    assert report.ok, json.dumps(report.to_dict(), default=str)
    assert all(
        c.validation is not None and c.validation.ok for c in report.collections if c.target != "-"
    )
    as_json = json.loads(json.dumps(report.to_dict()))  # --json output, no custom encoder
    assert as_json["tenants"][1]["owner_password"] is None  # given, so not echoed
    assert as_json["orphans"] == {"east_nipt": [f"bookings:{ORPHAN_ID}"]}

    for legacy_tenant, slug in (
        ("omega_nipt", "omega-nipt"),
        ("west_nipt", "west-nipt"),
        ("tromb_screening", "tromb-screening"),
    ):
        db = await tenant_db(runtime, slug)
        stored = {b["_id"]: b for b in await db.bookings.find({}).to_list(None)}
        assert set(stored) == {b["_id"] for b in by_tenant[legacy_tenant]}
        for legacy in by_tenant[legacy_tenant]:
            booking = stored[legacy["_id"]]
            assert booking["final_price_minor"] == int(Decimal(str(legacy["final_price"])) * 100)
            assert booking["price_minor"] == int(Decimal(str(legacy["total_price"])) * 100)
            assert booking["confirmation_number"] == legacy["confirmation_number"]
            assert booking["customer_id"] is not None
            assert await db.customers.count_documents({"_id": booking["customer_id"]}) == 1
            assert await db.services.count_documents({"_id": booking["service_id"]}) == 1
            assert booking["ends_at"] - booking["starts_at"] == timedelta(minutes=30)
        assert await db.customers.count_documents({}) == len(
            {b["patient_email"].lower() for b in by_tenant[legacy_tenant]}
        )

    omega = await tenant_db(runtime, "omega-nipt")
    first = await omega.bookings.find_one({"confirmation_number": "OM-2508-00000"})
    assert first["starts_at"] == datetime(2025, 8, 29, 8, 0, tzinfo=UTC)  # 11:00 Istanbul
    assert first["referral_code"] == "NIPT5" and first["discount_basis_points"] == 500
    assert (first["price_minor"], first["discount_minor"], first["final_price_minor"]) == (
        185_000,
        9_250,
        175_750,
    )
    assert first["status"] == "confirmed" and "legacy_status" not in first
    assert first["timezone"] == "Europe/Istanbul" and first["currency"] == "TRY"
    assert first["duration_minutes"] == 30

    west_db = await tenant_db(runtime, "west-nipt")
    new = await west_db.bookings.find_one({"confirmation_number": "WE-2601-00000"})
    assert (new["status"], new["legacy_status"]) == ("pending", "new")
    lab = await west_db.bookings.find_one({"confirmation_number": "WE-2503-00006"})
    assert (lab["status"], lab["legacy_status"]) == ("in_progress", "in_lab")
    assert [h["status"] for h in lab["status_history"]] == ["pending", "in_progress"]
    service = await west_db.services.find_one({"code": "verifi"})
    assert (service["price_minor"], service["currency"], service["duration_minutes"]) == (
        185_000,
        "TRY",
        30,
    )
    assert service["turnaround_min"] == 7 and service["active"] is True
    location = await west_db.locations.find_one({"_id": "8135f15a-9343-e6ea-985a-9548c0ba22a4"})
    assert (location["name"], location["city"], location["district"]) == (
        "İzmir Alsancak",
        "İzmir",
        "Alsancak",
    )
    code = await west_db.referral_codes.find_one({"code": "DRFATIH15"})
    assert (code["discount_basis_points"], code["active"]) == (1500, True)
    customer = await west_db.customers.find_one({"email_key": "miray38@yaani.com"})
    assert set(customer) == {
        "_id",
        "name",
        "name_key",
        "email",
        "email_key",
        "phone",
        "company",
        "tags",
        "notes",
        "status",
        "created_at",
        "updated_at",
        "legacy_source",
    }
    assert customer["name_key"] == customer["name"].casefold() and customer["status"] == "active"

    tromb = await tenant_db(runtime, "tromb-screening")
    provider_booking = await tromb.bookings.find_one({"confirmation_number": "TR-2504-00013"})
    assert (provider_booking["referral_code"], provider_booking["discount_basis_points"]) == (
        "AKBAS15",
        1500,
    )
    assert (provider_booking["status"], provider_booking["legacy_status"]) == (
        "in_progress",
        "analyzing",
    )
    assert await tromb.referral_codes.count_documents({"code": "AKBAS15"}) == 1
    assert await tromb.healthcare_providers.count_documents({}) == 3
    lab_result = await west_db.lab_results.find_one({})
    assert "tenant_id" not in lab_result
    assert lab_result["legacy_source"] == "omega_shared.lab_results"

    assert report.counters["west-nipt"] == {"customers": 20, "confirmation_number": 364}
    assert report.counters["omega-nipt"] == {"customers": 4, "confirmation_number": 717}
    assert report.counters["tromb-screening"] == {"customers": 5, "confirmation_number": 16}
    # Open bookings after NOW hold their slots; the legacy double booking is reported, kept.
    conflicts = [w for w in bookings.warnings if "double booking" in w.reason]
    assert [w.id for w in conflicts] == [CONFLICT[1]] and CONFLICT[0] in conflicts[0].reason
    holder = await west_db.bookings.find_one({"_id": CONFLICT[0]})
    cells = slot_starts(holder["starts_at"], holder["duration_minutes"])  # the product's grid
    assert await west_db.booking_slots.count_documents({"booking_id": CONFLICT[0]}) == len(cells)
    assert await west_db.booking_slots.count_documents({"booking_id": CONFLICT[1]}) == 0
    assert await west_db.bookings.count_documents({"_id": CONFLICT[1]}) == 1
    past = await west_db.bookings.find_one({"confirmation_number": "WE-2503-00009"})
    assert past["status"] == "pending"
    assert await west_db.booking_slots.count_documents({"booking_id": past["_id"]}) == 0


async def test_rerun_writes_nothing_and_duplicates_nothing(runtime: Runtime) -> None:
    await run_clinics(runtime)
    await run_crm(runtime)
    before = {}
    for slug in ("west-nipt", "omega-nipt", "tromb-screening", "quattro-stand"):
        db = await tenant_db(runtime, slug)
        before[slug] = {
            n: await db[n].count_documents({}) for n in await db.list_collection_names()
        }

    again = await run_clinics(runtime)
    crm_again = await run_crm(runtime)

    for report in (again, crm_again):
        assert report.written == 0, json.dumps(report.to_dict(), default=str)
        assert report.ok
        assert all(t.action == "reused" and t.owner_password is None for t in report.tenants)
    assert again.collection("omega_shared.bookings").already_present == 30
    assert again.orphans == {"east_nipt": [f"bookings:{ORPHAN_ID}"]}
    for slug, counts in before.items():
        db = await tenant_db(runtime, slug)
        assert {n: await db[n].count_documents({}) for n in counts} == counts, slug
    assert await runtime.store.db["tenants"].count_documents({}) == 4


async def test_interrupted_run_resumes_without_duplicates(runtime: Runtime) -> None:
    class FailingSource:
        """Wraps a source; once armed, reading ``bookings`` fails (the server went away)."""

        def __init__(self, inner: Source) -> None:
            self.inner, self.name, self.armed = inner, inner.name, False

        async def collection_names(self) -> list[str]:
            return await self.inner.collection_names()

        async def count(self, collection: str) -> int:
            return await self.inner.count(collection)

        async def iterate(self, collection: str, *, on_error: Any = None) -> AsyncIterator[Any]:
            async for doc in self.inner.iterate(collection, on_error=on_error):
                if collection == "bookings" and self.armed:
                    raise ConnectionError("simulated: legacy server went away")
                yield doc

    failing = FailingSource(DirectorySource(CLINICS / "omega_shared"))

    def arm(collection: str, done: int, total: int | None) -> None:
        if collection == "omega_shared.bookings" and done >= 15:  # after the third batch
            failing.armed = True

    with pytest.raises(ConnectionError):
        await import_legacy_clinics(
            runtime, {"omega_shared": failing}, clinics_options(batch_size=5, on_progress=arm)
        )
    state = await runtime.store.db[STATE_COLLECTION].find_one(
        {"_id": "legacy-clinics:omega_shared.bookings"}
    )
    assert (state["status"], state["position"], state["skipped_count"]) == ("running", 15, 1)
    west = await tenant_db(runtime, "west-nipt")
    assert 0 < await west.bookings.count_documents({}) < 20

    report = await run_clinics(runtime, batch_size=5)

    bookings = report.collection("omega_shared.bookings")
    assert (bookings.resumed, bookings.written, len(bookings.skipped)) == (14, 16, 1)
    assert bookings.accounted == bookings.source_count == 31
    assert report.orphans == {"east_nipt": [f"bookings:{ORPHAN_ID}"]}
    assert report.collection("omega_shared.notifications").written == 6  # never started before
    assert report.ok, json.dumps(report.to_dict(), default=str)
    assert [t.action for t in report.tenants] == ["reused"] * 3
    assert await west.bookings.count_documents({}) == 20
    assert await west.customers.count_documents({}) == 20
    state = await runtime.store.db[STATE_COLLECTION].find_one(
        {"_id": "legacy-clinics:omega_shared.bookings"}
    )
    assert state["status"] == "done"


async def test_import_from_a_live_database_source(runtime: Runtime, backend: Backend) -> None:
    client = backend.client(SECOND_CLUSTER)
    legacy = client["omega_shared"]
    for file in sorted((CLINICS / "omega_shared").glob("*.jsonl")):
        docs = fixture_docs(file)
        if docs:
            await legacy[file.stem].insert_many(docs)

    report = await import_legacy(
        runtime, "legacy-clinics", {"omega_shared": DatabaseSource(legacy)}, clinics_options()
    )

    assert report.ok, json.dumps(report.to_dict(), default=str)
    assert report.collection("omega_shared.bookings").written == 30
    assert report.orphans == {"east_nipt": [f"bookings:{ORPHAN_ID}"]}
    west = await tenant_db(runtime, "west-nipt")
    first = await west.bookings.find_one({"confirmation_number": "WE-2512-00042"})
    assert first["final_price_minor"] == 157_250  # 1850.00 - 15 % = 1572.50


async def test_existing_tenant_of_the_same_slug_is_not_imported_into(runtime: Runtime) -> None:
    await lifecycle.provision_tenant(
        runtime,
        lifecycle.ProvisionRequest(
            slug="west-nipt",
            name="Someone else",
            owner_email="x@other.example.com",
            owner_name="X",
            owner_password="password-123",
        ),
        actor="test",
    )
    report = await run_clinics(runtime)
    outcome = next(t for t in report.tenants if t.slug == "west-nipt")
    assert outcome.action == "refused" and "adopt" in (outcome.message or "")
    bookings = report.collection("omega_shared.bookings")
    assert len(bookings.skipped) == 21 and bookings.written == 10
    assert await (await tenant_db(runtime, "west-nipt")).bookings.count_documents({}) == 0
    assert not report.ok


# -- crm -------------------------------------------------------------------------------


async def test_crm_import_fills_the_platform_and_quattro_stand(runtime: Runtime) -> None:
    report = await run_crm(runtime, owner_password=PASSWORD)

    assert report.ok, json.dumps(report.to_dict(), default=str)
    assert [(t.slug, t.action) for t in report.tenants] == [("quattro-stand", "provisioned")]
    plans = {p.key: p for p in await runtime.store.plans()}
    assert plans["starter"].price_monthly_minor == 9_900
    assert plans["professional"].limits.max_customers == 1_000
    assert plans["enterprise"].features == [
        "custom_domain",
        "api_access",
        "priority_support",
        "customer_module_v2",
        "dashboard_v2",
    ]
    assert plans["starter"].limits.api_rate_limit_per_minute == 60  # kept from the platform
    assert report.collection("crm_db.packages").updated == 3
    db = runtime.store.db
    assert await db.feature_flags.count_documents({}) == 6
    for name, count in (("countries", 3), ("currencies", 4), ("languages", 3), ("cities", 5)):
        assert await db[f"global_{name}"].count_documents({}) == count, name

    quattro = await tenant_db(runtime, "quattro-stand")
    legacy = fixture_docs(CRM / "vitingo_crm" / "customers.jsonl")
    assert await quattro.customers.count_documents({}) == len(legacy) == 6
    for source in legacy:
        customer = await quattro.customers.find_one({"_id": source["_id"]})
        assert customer["name"] == source["companyName"]
        assert customer["company"] == source["companyTitle"]
        assert customer["legacy_id"] == source["id"]
        assert customer["status"] == {"active": "active", "passive": "inactive"}[source["status"]]
        revenue = Decimal(str(source["totalRevenue"])) * 100
        assert customer["total_revenue_minor"] == int(revenue)
    passive = await quattro.customers.find_one({"legacy_status": "passive"})
    assert passive["status"] == "inactive"
    products = fixture_docs(CRM / "vitingo_crm" / "products.jsonl")
    for source in products:
        product = await quattro.products.find_one({"_id": source["_id"]})
        assert product["unit_price_minor"] == int(Decimal(str(source["unitPrice"])) * 100)
    assert await quattro.leads.count_documents({}) == 2
    event = await quattro.calendar_events.find_one({})
    assert event["starts_at"] == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    names = set(await quattro.list_collection_names())
    assert not names & {"countries", "cities", "positions"}
    stale = report.collection("vitingo_crm.countries")
    assert (stale.source_count, stale.written, len(stale.skipped)) == (3, 0, 3)
    assert "stale" in stale.skipped[0].reason
    assert report.counters["quattro-stand"] == {"customers": 6}


# -- served through the API -------------------------------------------------------------


async def test_imported_tenants_are_served_over_graphql(
    runtime: Runtime, gql: GraphQLClient
) -> None:
    await run_crm(runtime, owner_password=PASSWORD)
    await run_clinics(runtime)
    tokens = TokenService(runtime.settings)

    async def token(slug: str) -> str:
        tenant = await runtime.store.tenant_by_slug(slug)
        assert tenant is not None and tenant.owner_user_id is not None
        user = await runtime.store.user_by_id(tenant.owner_user_id)
        assert user is not None
        return tokens.issue(user, tenant)[0]

    result = await gql(
        "{ customers(first: 100) { totalCount nodes { name company status } } }",
        tenant="quattro-stand",
        token=await token("quattro-stand"),
    )
    assert "errors" not in result, result
    assert result["data"]["customers"]["totalCount"] == 6
    assert len(result["data"]["customers"]["nodes"]) == 6

    query = """{ bookings(first: 100) { totalCount nodes {
        confirmationNumber status startsAt timezone
        service { name code } customer { name email }
        price { amount } finalPrice { amount amountMinor currency } } } }"""
    result = await gql(query, tenant="west-nipt", token=await token("west-nipt"))
    assert "errors" not in result, result
    nodes = result["data"]["bookings"]["nodes"]
    legacy = {
        b["confirmation_number"]: b for b in clinic_bookings() if b["tenant_id"] == "west_nipt"
    }
    assert result["data"]["bookings"]["totalCount"] == len(nodes) == len(legacy) == 20
    for node in nodes:
        source = legacy[node["confirmationNumber"]]
        assert node["finalPrice"]["amount"] == str(source["final_price"])
        assert node["price"]["amount"] == str(source["total_price"])
        assert node["finalPrice"]["currency"] == "TRY"
        assert node["service"]["name"] in {"Verifi", "MomGuard"}
        assert node["customer"]["email"] == source["patient_email"]
    first = next(n for n in nodes if n["confirmationNumber"] == "WE-2601-00000")
    assert first["status"] == "PENDING" and first["startsAt"].startswith("2026-02-02T06:00:00")
