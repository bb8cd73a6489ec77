"""Import ``legacy-clinics``: the shared ``omega_shared`` database, split into one per tenant.

Every legacy document carries a ``tenant_id``; the legacy ``tenants``
collection names the tenants (``omega_nipt`` / nipt.tr, ``west_nipt`` /
westesti.com, ``tromb_screening`` / trombofili.com). Each becomes a product
tenant (slug ``slugify(tenant_id)``: ``west-nipt``) provisioned like the API
does, and its documents go to that tenant's own database:

==========================  =====================================================
legacy collection           tenant collection
==========================  =====================================================
tests                       services (code = legacy slug, price in minor units)
locations                   locations (name = "<city> <district>")
referral_codes              referral_codes (code upper-case, basis points)
healthcare_providers        healthcare_providers, and their referral codes
                            into referral_codes (bookings refer to them)
sales_reps                  sales_reps
bookings                    bookings (+ customers from the patient fields,
                            one per email, letter case aside, named by the
                            oldest booking's patient: patient_merge; +
                            booking_slots for open future bookings)
notifications               notifications (history; not the outbox, so nothing
                            is sent again)
lab_results                 lab_results
==========================  =====================================================

Documents whose ``tenant_id`` names no tenant are skipped and listed with
their ids (``ImportReport.orphans``). Legacy UUID ``_id`` values are kept, so
re-runs match instead of duplicating.

This module runs the import (:class:`ClinicsImport`) in phases: tenants and
routing (:mod:`scripts.legacy.clinics_tenants`), the reference collections,
bookings with their patients and slots (:mod:`scripts.legacy.clinics_bookings`),
the rest, then counters and validation. The legacy -> product document mapping
is in :mod:`scripts.legacy.clinics_mapping`; the source description and
options in :mod:`scripts.legacy.clinics_spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.collections import BOOKINGS, REFERRAL_CODES, SERVICES
from scripts.legacy.clinics_bookings import ClinicBookings
from scripts.legacy.clinics_mapping import (
    booking_money_problems,
    carried_from_legacy,
    location_from_legacy,
    provider_from_legacy,
    referral_code_from_legacy,
    sales_rep_from_legacy,
    service_from_test,
)
from scripts.legacy.clinics_spec import (
    COLLECTIONS,
    DATABASE,
    DATABASES,
    EXPECTED,
    HEALTHCARE_PROVIDERS,
    SOURCE_NAME,
    ClinicsOptions,
)
from scripts.legacy.clinics_tenants import ClinicTenants, orphans_of
from scripts.legacy.common import update_counters
from scripts.legacy.engine import Engine
from scripts.legacy.preflight import check_sources
from scripts.legacy.report import CollectionReport, ImportReport, Issue, Validation
from scripts.legacy.sources import Source, require_sources
from scripts.legacy.validation import ExtraCheck
from scripts.legacy.writes import Mapped, MapResult, insert_once, per_doc
from tenancy.models import utcnow
from tenancy.mongo_types import Database
from tenancy.runtime import Runtime


class ClinicsImport:
    """One run of the clinics import; use :func:`import_legacy_clinics`."""

    def __init__(self, runtime: Runtime, source: Source, options: ClinicsOptions) -> None:
        self.runtime = runtime
        self.source = source
        self.options = options
        self.now = options.now or utcnow()
        self.report = ImportReport(source=SOURCE_NAME, started_at=utcnow())
        self.engine = Engine(
            runtime,
            SOURCE_NAME,
            self.report,
            batch_size=options.batch_size,
            now=self.now,
            on_progress=options.on_progress,
        )
        self.tenants = ClinicTenants()
        self.bookings = ClinicBookings(self.tenants, source, options, self.now)
        self.validating = False
        self.entries: dict[str, CollectionReport] = {}
        self.provider_codes = CollectionReport(
            f"{DATABASE}.healthcare_providers (referral codes)", REFERRAL_CODES
        )

    # -- run -------------------------------------------------------------

    async def run(self) -> ImportReport:
        """Run every phase; the report (see :func:`import_legacy_clinics`)."""
        names = await self.source.collection_names()
        entry = self.report.add(CollectionReport(f"{DATABASE}.tenants", "platform.tenants"))
        self.entries["tenants"] = entry
        await self.tenants.provision(
            self.runtime,
            self.source,
            self.options,
            self.report,
            entry,
            with_bookings="bookings" in names,
        )
        mappers = self._mappers()
        for collection, target in COLLECTIONS.items():
            entry = self.report.add(CollectionReport(f"{DATABASE}.{collection}", target))
            self.entries[collection] = entry
            if collection == "bookings":
                await self.tenants.load_references()
                if collection in names:
                    await self.bookings.plan_patients()
            if collection not in names:
                entry.notes.append("collection not present in the source")
            else:
                after = self.bookings.slot_claims(entry) if collection == "bookings" else None
                await self.engine.run_collection(
                    self.source, collection, entry, mappers[collection], after_batch=after
                )
            if collection == "healthcare_providers":
                self.report.add(self.provider_codes)
            if collection == "bookings":
                await self.bookings.finish(self.report, entry)
        for collection in names:
            if collection not in COLLECTIONS and collection != "tenants":
                entry = self.report.add(CollectionReport(f"{DATABASE}.{collection}", "-"))
                await self.engine.skip_collection(
                    self.source, collection, entry, "no mapping to the product for this collection"
                )
        await self._counters()
        self.report.orphans = orphans_of(self.report)
        if self.options.validate:
            await self._validate(names, mappers)
        self.report.finished_at = utcnow()
        return self.report

    # -- mappers -----------------------------------------------------------

    def _mappers(self) -> dict[str, Any]:
        def simple(collection: str, build: Any) -> Any:
            def fn(doc: dict[str, Any], warn: Any) -> list[Mapped]:
                tenant = self.tenants.route(doc, collection)
                return [insert_once(tenant.db, tenant.slug, COLLECTIONS[collection], build(doc))]

            return per_doc(fn)

        def tests(doc: dict[str, Any], warn: Any) -> list[Mapped]:
            tenant = self.tenants.route(doc, "tests")
            service = service_from_test(
                doc,
                currency=tenant.currency,
                duration_minutes=self.options.default_duration_minutes,
                now=self.now,
            )
            check = (
                "code",
                "name",
                "duration_minutes",
                "price_minor",
                "currency",
                "active",
                "legacy_source",
            )
            return [insert_once(tenant.db, tenant.slug, SERVICES, service, check)]

        def providers(doc: dict[str, Any], warn: Any) -> list[Mapped]:
            tenant = self.tenants.route(doc, "healthcare_providers")
            provider, referral = provider_from_legacy(doc)
            writes = [insert_once(tenant.db, tenant.slug, HEALTHCARE_PROVIDERS, provider)]
            if referral is not None:
                if not self.validating:
                    self.provider_codes.source_count += 1
                    self.provider_codes.read += 1
                writes.append(
                    insert_once(
                        tenant.db, tenant.slug, REFERRAL_CODES, referral, report=self.provider_codes
                    )
                )
            return writes

        return {
            "tests": per_doc(tests),
            "locations": simple("locations", location_from_legacy),
            "referral_codes": simple("referral_codes", referral_code_from_legacy),
            "healthcare_providers": per_doc(providers),
            "sales_reps": simple("sales_reps", sales_rep_from_legacy),
            "bookings": self.bookings.map_batch,
            "notifications": self._with_booking_refs(
                "notifications", ("booking_id", "notification_type", "status", "legacy_source")
            ),
            "lab_results": self._with_booking_refs(
                "lab_results", ("booking_id", "test_type", "result_summary", "legacy_source")
            ),
        }

    def _with_booking_refs(self, collection: str, check: tuple[str, ...]) -> Any:
        """Mapper for documents that point at a booking: carried as they are, a warning
        when the booking is not in the tenant's database."""

        def fn(doc: dict[str, Any], warn: Any) -> list[Mapped]:
            tenant = self.tenants.route(doc, collection)
            target = carried_from_legacy(doc, collection)
            return [insert_once(tenant.db, tenant.slug, COLLECTIONS[collection], target, check)]

        inner = per_doc(fn)

        async def run(docs: list[dict[str, Any]]) -> list[MapResult]:
            results = await inner(docs)
            wanted: dict[str, tuple[Database, set[Any]]] = {}
            for result in results:
                for write in result.writes:
                    booking = write.check.get("booking_id")
                    if booking is not None:
                        wanted.setdefault(write.db.name, (write.db, set()))[1].add(booking)
            present: dict[str, set[Any]] = {}
            for name, (db, ids) in wanted.items():
                cursor = db[BOOKINGS].find({"_id": {"$in": list(ids)}}, {"_id": 1})
                found = await cursor.to_list(None)
                present[name] = {d["_id"] for d in found}
            for result in results:
                for write in result.writes:
                    booking = write.check.get("booking_id")
                    if booking is None:
                        result.warnings.append("no booking_id")
                    elif booking not in present.get(write.db.name, set()):
                        result.warnings.append(
                            f"booking {booking} is not among the tenant's bookings "
                            "(reference kept as it is)"
                        )
            return results

        return run

    # -- after the import ----------------------------------------------------

    async def _counters(self) -> None:
        for tenant in self.tenants:
            record = await self.runtime.store.tenant_by_slug(tenant.slug)
            if record is None:
                continue
            counters, warnings = await update_counters(
                tenant.db, record.settings.confirmation_prefix, record.limits
            )
            self.report.counters[tenant.slug] = counters
            self.report.notes.extend(f"{tenant.slug}: {w}" for w in warnings)

    async def _validate(self, names: list[str], mappers: dict[str, Any]) -> None:
        self.validating = True
        self.bookings.validating = True
        await self.tenants.load_references()
        tenants_entry = self.entries["tenants"]
        validation = Validation(expected=len(self.tenants))
        for tenant in self.tenants:
            record = await self.runtime.store.tenant_by_slug(tenant.slug)
            validation.checked += 1
            if record is not None and record.legacy_id == tenant.legacy_id:
                validation.found += 1
            else:
                validation.mismatches.append(
                    Issue(tenant.slug, "tenant record missing or legacy_id differs")
                )
        tenants_entry.validation = validation
        extra: dict[int, ExtraCheck] = {id(self.entries["bookings"]): booking_money_problems}
        for collection in COLLECTIONS:
            if collection not in names:
                continue
            await self.engine.validate_collection(
                self.source,
                collection,
                self.entries[collection],
                mappers[collection],
                extra_checks=extra,
            )


async def import_legacy_clinics(
    runtime: Runtime,
    sources: Mapping[str, Source],
    options: ClinicsOptions | None = None,
) -> ImportReport:
    """Import ``legacy-clinics`` (``omega_shared``) into one tenant database per legacy tenant.

    Args:
        runtime: the target runtime, started (indexes and plans exist).
        sources: ``{"omega_shared": Source}``: a :class:`DirectorySource` on
            ``data/legacy-clinics/omega_shared`` or a :class:`DatabaseSource`.
        options: see :class:`ClinicsOptions`.

    Returns:
        The report: tenants (with generated owner passwords, once), one entry
        per collection (plus derived patients and provider referral codes),
        orphans by legacy ``tenant_id``, the counters set, validation results.
        Safe to run again: nothing is written twice; an interrupted run resumes.

    Raises:
        KeyError: no source for ``omega_shared``.
        SourceError: the source is refused before anything is written (a missing
            file, an unreadable line, a field of the wrong type, no records at all;
            see :func:`scripts.legacy.preflight.check_sources`).
        Exception: errors of the source or the target database propagate (the
            checkpoints keep what was done).
    """
    require_sources(sources, DATABASES)
    await check_sources(SOURCE_NAME, sources, EXPECTED)
    return await ClinicsImport(runtime, sources[DATABASE], options or ClinicsOptions()).run()


__all__ = [
    "DATABASES",
    "SOURCE_NAME",
    "ClinicsImport",
    "ClinicsOptions",
    "import_legacy_clinics",
]
