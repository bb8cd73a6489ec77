"""Bookings of the ``legacy-clinics`` import, with the customers made from their patients.

Each legacy booking becomes a ``bookings`` document of its tenant and its
patient a ``customers`` document: one per email (letter case aside), named by
the oldest booking's patient (:mod:`scripts.legacy.patient_merge`), or the
customer that already owns the email. Imported open bookings that start after
the run's ``now`` claim their ``booking_slots`` (:mod:`domain.slots`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.booking_rules import OPEN_STATUSES, slot_starts
from domain.collections import BOOKINGS, CUSTOMERS
from domain.slots import SlotTaken, claim_slots, location_resource
from scripts.legacy.clinics_mapping import (
    BOOKING_CHECK_FIELDS,
    add_to_set,
    booking_from_legacy,
    patient_customer,
    valid_patient_email,
)
from scripts.legacy.clinics_spec import DATABASE, ClinicsOptions
from scripts.legacy.clinics_tenants import ClinicTenant, ClinicTenants
from scripts.legacy.convert import (
    ConversionError,
    derived_id,
    oldest_first,
    optional_utc,
    text_or_none,
)
from scripts.legacy.engine import AfterBatch
from scripts.legacy.patient_merge import Patient, PatientPlan
from scripts.legacy.report import CollectionReport, ImportReport
from scripts.legacy.sources import Source
from scripts.legacy.writes import NO_ID_REASON, Mapped, MapResult, Skip, insert_once, source_id
from tenancy.errors import AppError
from tenancy.mongo_types import Database
from tenancy.platform import email_key
from tenancy.validation import check_email


class ClinicBookings:
    """The bookings phase of one clinics run (see :class:`scripts.legacy.clinics.ClinicsImport`).

    Args:
        tenants: the run's tenants (routing, and the references bookings need).
        source: the ``omega_shared`` source.
        options: the run's options (``actor`` of the bookings' history).
        now: the run's reference time (UTC): bookings after it are "future".

    Attributes:
        patients: the report of the customers made from patients
            (``omega_shared.bookings (patients)``).
        validating: set while the validation re-maps (nothing is counted then).
        slots_claimed / slot_conflicts: open future bookings that hold their
            slots / that could not (a legacy double booking).
    """

    def __init__(
        self, tenants: ClinicTenants, source: Source, options: ClinicsOptions, now: datetime
    ) -> None:
        self.tenants = tenants
        self.source = source
        self.options = options
        self.now = now
        self.patients = CollectionReport(f"{DATABASE}.bookings (patients)", CUSTOMERS)
        self.seen_customers: set[tuple[str, Any]] = set()
        self.patient_plan = PatientPlan()
        self.validating = False
        self.slots_claimed = 0
        self.slot_conflicts = 0

    async def map_batch(self, docs: list[dict[str, Any]]) -> list[MapResult]:
        """The bookings mapper: per booking, its customer write (stage 0) and its
        booking write (stage 1, requiring the customer); skips with their reasons."""
        results: list[MapResult] = []
        routed: list[tuple[MapResult, ClinicTenant]] = []
        for doc in docs:
            result = MapResult(source_id(doc), doc)
            results.append(result)
            if doc.get("_id") is None:
                result.skip = NO_ID_REASON
                continue
            try:
                routed.append((result, self.tenants.route(doc, "bookings")))
            except Skip as exc:
                result.skip = exc.reason
        # Customers that already own a patient's email (from earlier runs or the product).
        keys: dict[str, tuple[ClinicTenant, set[str]]] = {}
        emails: dict[int, str | None] = {}
        for result, tenant in routed:
            raw = text_or_none(result.doc.get("patient_email"))
            email = None
            if raw:
                try:
                    email = check_email(raw, "patient_email")
                except AppError:
                    result.warnings.append(
                        f"patient email {raw!r} is not valid; customer created without email"
                    )
            emails[id(result)] = email
            if email:
                keys.setdefault(tenant.slug, (tenant, set()))[1].add(email_key(email))
        owners: dict[tuple[str, str], Any] = {}
        for slug, (tenant, wanted) in keys.items():
            cursor = tenant.db[CUSTOMERS].find(
                {"email_key": {"$in": sorted(wanted)}}, {"email_key": 1}
            )
            async for doc in cursor:
                owners[(slug, doc["email_key"])] = doc["_id"]
        in_batch: dict[tuple[str, Any], Mapped] = {}
        for result, tenant in routed:
            try:
                result.writes = self._booking_writes(
                    result, tenant, emails[id(result)], owners, in_batch
                )
            except (Skip, ConversionError) as exc:
                result.skip = exc.reason if isinstance(exc, Skip) else str(exc)
                result.writes, result.tallies = [], []
                result.warnings.clear()
        return results

    def _booking_writes(
        self,
        result: MapResult,
        tenant: ClinicTenant,
        email: str | None,
        owners: dict[tuple[str, str], Any],
        in_batch: dict[tuple[str, Any], Mapped],
    ) -> list[Mapped]:
        doc = result.doc
        created = optional_utc(doc.get("created_at"), "created_at") or self.now
        updated = optional_utc(doc.get("updated_at"), "updated_at") or created

        key = email_key(email) if email else None
        customer_id = (
            derived_id("customer", tenant.slug, key)
            if key
            else derived_id("customer", tenant.slug, "booking", str(doc["_id"]))
        )
        owner = owners.get((tenant.slug, key)) if key else None
        if owner is not None:
            customer_id = owner  # the product (or another import) may hold this customer already
        # Everything that can refuse the booking runs before any customer write is planned.
        booking = self._booking(doc, tenant, customer_id, result.warnings.append)
        patient = Patient(
            text_or_none(doc.get("patient_name")), email, text_or_none(doc.get("patient_phone"))
        )
        group = self.patient_plan.group(tenant.slug, key)
        writes: list[Mapped] = []
        tallies: list[tuple[CollectionReport, str, str]] = []
        foreign = owner is not None and owner != derived_id("customer", tenant.slug, key or "")
        if foreign:
            tallies.append((self.patients, tenant.slug, "already_present"))
        elif (tenant.slug, customer_id) in in_batch:
            prior = in_batch[(tenant.slug, customer_id)]
            prior.update["$min"]["created_at"] = min(prior.update["$min"]["created_at"], created)
            prior.update["$max"]["updated_at"] = max(prior.update["$max"]["updated_at"], updated)
            if group is not None:
                add_to_set(prior.update, group.additions(doc["_id"], patient))
            tallies.append((self.patients, tenant.slug, "merged"))
        else:
            # The customer's own fields: the oldest booking's patient (patient_merge).
            kept = group.patient if group is not None else patient
            customer = patient_customer(kept.as_booking_fields(), kept.email, created, updated)
            customer["_id"] = customer_id
            update: dict[str, Any] = {
                "$setOnInsert": customer,
                "$min": {"created_at": created},
                "$max": {"updated_at": updated},
            }
            if group is not None:
                add_to_set(update, group.additions(doc["_id"], patient))
            write = Mapped(
                db=tenant.db,
                target=tenant.slug,
                collection=CUSTOMERS,
                key={"_id": customer_id},
                update=update,
                check={f: customer.get(f) for f in ("name", "email", "email_key", "legacy_source")},
                report=self.patients,
                merged=(tenant.slug, customer_id) in self.seen_customers,
                stage=0,
                marker=customer["legacy_source"],
            )
            in_batch[(tenant.slug, customer_id)] = write
            writes.append(write)
        if not self.validating:
            self.seen_customers.add((tenant.slug, customer_id))
            self.patients.source_count += 1
            self.patients.read += 1
            result.tallies = tallies
        writes.append(
            insert_once(
                tenant.db,
                tenant.slug,
                BOOKINGS,
                booking,
                BOOKING_CHECK_FIELDS,
                stage=1,
                requires=() if foreign else ((CUSTOMERS, customer_id),),
            )
        )
        return writes

    def _booking(
        self, doc: dict[str, Any], tenant: ClinicTenant, customer_id: Any, warn: Any
    ) -> dict[str, Any]:
        """The booking document (:func:`booking_from_legacy` with the tenant's references).

        Raises:
            Skip: the test names no service of the tenant, or as booking_from_legacy.
            ConversionError: as booking_from_legacy.
        """
        service = tenant.services.get(doc.get("test_id"))
        if service is None:
            raise Skip(
                f"test_id {doc.get('test_id')!r} names no service of {tenant.slug} "
                "(test not imported)"
            )
        return booking_from_legacy(
            doc,
            timezone=tenant.timezone,
            service=service,
            customer_id=customer_id,
            location_known=doc.get("location_id") in tenant.locations,
            referral=tenant.referrals.get(doc.get("referral_code_id")),
            actor=self.options.actor,
            now=self.now,
            warn=warn,
        )

    async def plan_patients(self) -> None:
        """Read the bookings once before importing them: for every patient email shared
        by several importable bookings of a tenant, the booking whose patient names the
        customer (the oldest; see :mod:`scripts.legacy.patient_merge`)."""
        self.patient_plan = PatientPlan()
        async for doc in self.source.iterate("bookings", on_error=lambda rid, msg: None):
            if doc.get("_id") is None:
                continue
            try:
                tenant = self.tenants.route(doc, "bookings")
                email = valid_patient_email(doc.get("patient_email"))
                if email is None:
                    continue
                self._booking(doc, tenant, None, lambda message: None)
            except (Skip, ConversionError):
                continue
            patient = Patient(
                text_or_none(doc.get("patient_name")), email, text_or_none(doc.get("patient_phone"))
            )
            order = oldest_first(doc, ("created_at", "booking_date"))
            self.patient_plan.add(tenant.slug, email_key(email), order, doc["_id"], patient)
        self.patient_plan.finish()

    # -- slots -------------------------------------------------------------

    def slot_claims(self, entry: CollectionReport) -> AfterBatch:
        """The ``after_batch`` step of the bookings: :meth:`_claim_slots`, warnings in ``entry``."""

        async def after(results: list[MapResult], failed: set[Any]) -> None:
            await self._claim_slots(results, failed, entry)

        return after

    async def _claim_slots(
        self, results: list[MapResult], failed: set[Any], entry: CollectionReport
    ) -> None:
        """Claim ``booking_slots`` for imported open bookings that start after ``now``.

        The product's rule (one booking per location slot) holds from here on;
        a legacy double booking is kept, reported as a warning, and only the
        first booking holds the slot.
        """
        candidates: dict[str, tuple[Database, list[Any]]] = {}
        for result in results:
            for write in result.writes:
                if write.collection != BOOKINGS or write.ident in failed:
                    continue
                booking = write.update["$setOnInsert"]
                if (
                    booking["status"] in OPEN_STATUSES
                    and booking["location_id"] is not None
                    and booking["starts_at"] > self.now
                ):
                    candidates.setdefault(write.db.name, (write.db, []))[1].append(booking["_id"])
        for db, ids in candidates.values():
            # The stored booking decides (it may have been cancelled or moved since).
            stored = (
                await db[BOOKINGS]
                .find(
                    {"_id": {"$in": ids}},
                    {"status": 1, "starts_at": 1, "duration_minutes": 1, "location_id": 1},
                )
                .to_list(None)
            )
            for booking in sorted(stored, key=lambda d: ids.index(d["_id"])):
                if (
                    booking["status"] not in OPEN_STATUSES
                    or booking.get("location_id") is None
                    or booking["starts_at"] <= self.now
                ):
                    continue
                await self._claim(db, booking, entry)

    async def _claim(self, db: Database, booking: dict[str, Any], entry: CollectionReport) -> None:
        cells = slot_starts(booking["starts_at"], int(booking["duration_minutes"]))
        resource = location_resource(booking["location_id"])
        try:
            await claim_slots(db, booking["_id"], resource, cells)
        except SlotTaken as taken:
            self.slot_conflicts += 1
            entry.warn(
                booking["_id"],
                f"double booking in the legacy data: {resource} at "
                f"{booking['starts_at']:%Y-%m-%d %H:%M}Z "
                f"is held by booking {', '.join(str(h) for h in taken.holders)}; "
                "imported without a slot claim",
            )
            return
        self.slots_claimed += 1

    # -- after the bookings --------------------------------------------------

    async def finish(self, report: ImportReport, entry: CollectionReport) -> None:
        """After the bookings ran: add the patients' report (with the patient merges)
        to ``report`` and the slot figures to the bookings' ``entry``."""
        report.add(self.patients)
        databases = {t.slug: t.db for t in self.tenants}
        self.patients.merges.extend(await self.patient_plan.merges(databases))
        entry.notes.append(
            f"open future bookings (after {self.now:%Y-%m-%d %H:%M}Z): "
            f"{self.slots_claimed} hold their slots, {self.slot_conflicts} slot conflicts "
            "(kept without a slot claim, see warnings)"
        )


__all__ = ["ClinicBookings"]
