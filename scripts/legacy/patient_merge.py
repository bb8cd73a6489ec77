"""Clinic bookings whose patients share an email (letter case aside): one customer each.

Bookings carry their patient (name, email, phone); the import makes one
customer per tenant and email address (``email_key``, lower-cased: the
tenant's unique email index is case-insensitive), with a deterministic id
(``derived_id("customer", slug, email_key)``). The rule for the customer's own
fields, which does not depend on the order of the source: the patient of the
oldest booking (earliest ``created_at``, else ``booking_date``; ties by the
lowest ``_id``) among the bookings that can be imported gives the customer
its name, email spelling and phone. The other bookings are merged into that
customer; a patient identity that differs from the kept one is added to the
customer's ``legacy_merged`` (``booking_id``, ``name``, ``email``, ``phone``)
and a different email spelling to ``alternate_emails`` (document fields only;
every booking also keeps its own patient in ``legacy_patient``).

:class:`PatientPlan` is filled by one read of the bookings before they are
imported (memory: one entry per distinct email while reading, then only
the addresses shared by several bookings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.collections import BOOKINGS
from scripts.legacy.convert import derived_id
from scripts.legacy.report import Merge
from tenancy.mongo_types import Database

PATIENT_RULE = (
    "the patient of the oldest booking (created_at, then lowest _id) names the customer; "
    "the other bookings are merged into it"
)

Order = tuple[int, datetime, str]


@dataclass(frozen=True)
class Patient:
    """A booking's patient as the customer would show it."""

    name: str | None
    email: str | None
    phone: str | None

    def as_booking_fields(self) -> dict[str, Any]:
        """The legacy booking fields ``patient_customer`` reads."""
        return {"patient_name": self.name, "patient_phone": self.phone}


@dataclass
class PatientGroup:
    """Bookings of one tenant whose patients share an email address.

    Attributes:
        slug: the tenant.
        email_key: the shared address, lower-cased.
        kept: the booking whose patient names the customer.
        patient: that patient.
        members: every booking of the group, ``(order, str(_id), _id)``, sorted at the end.
    """

    slug: str
    email_key: str
    kept_order: Order
    kept: str
    patient: Patient
    members: list[tuple[Order, str, Any]] = field(default_factory=list)

    def additions(self, booking_id: Any, patient: Patient) -> dict[str, list[Any]]:
        """What a merged booking adds to the customer: ``{"legacy_merged": [...],
        "alternate_emails": [...]}`` (empty lists when its patient is the kept one)."""
        if str(booking_id) == self.kept or patient == self.patient:
            return {"legacy_merged": [], "alternate_emails": []}
        entry = {
            "booking_id": booking_id,
            "name": patient.name,
            "email": patient.email,
            "phone": patient.phone,
        }
        emails = [patient.email] if patient.email and patient.email != self.patient.email else []
        return {"legacy_merged": [entry], "alternate_emails": emails}


class PatientPlan:
    """The kept patient of every email address shared by several importable bookings."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], PatientGroup] = {}

    def add(
        self, slug: str, email_key: str, order: Order, booking_id: Any, patient: Patient
    ) -> None:
        """Count one importable booking (``_id``) of ``slug`` with patient address ``email_key``."""
        ident = str(booking_id)
        group = self._groups.get((slug, email_key))
        if group is None:
            group = PatientGroup(slug, email_key, order, ident, patient)
            self._groups[(slug, email_key)] = group
        elif order < group.kept_order:
            group.kept_order, group.kept, group.patient = order, ident, patient
        group.members.append((order, ident, booking_id))

    def finish(self) -> None:
        """Keep only addresses shared by several bookings; sort their members by the rule."""
        self._groups = {k: g for k, g in self._groups.items() if len(g.members) > 1}
        for group in self._groups.values():
            group.members.sort()

    def group(self, slug: str, email_key: str | None) -> PatientGroup | None:
        """The group of an address, or ``None`` when only one booking has it."""
        return self._groups.get((slug, email_key)) if email_key else None

    def __len__(self) -> int:
        return len(self._groups)

    async def merges(self, databases: dict[str, Database]) -> list[Merge]:
        """The report's listing: per shared address, the customer made for it, the kept
        booking and the merged ones, as the tenant database has them (read back, so a
        resumed run lists the bookings of the earlier run too).

        Bookings that point at a customer the tenant had before (made in the
        product) are counted as already present, not as merges, and are not listed.

        Args:
            databases: tenant slug -> tenant database.
        """
        found: list[Merge] = []
        for (slug, key), group in sorted(self._groups.items()):
            target = derived_id("customer", slug, key)
            raw = {booking: raw_id for _, booking, raw_id in group.members}
            cursor = databases[slug][BOOKINGS].find(
                {"_id": {"$in": list(raw.values())}, "customer_id": target}, {"_id": 1}
            )
            linked = {str(d["_id"]) async for d in cursor}
            merged = tuple(b for _, b, _ in group.members if b in linked and b != group.kept)
            if not merged:
                continue
            found.append(
                Merge(
                    target=str(target),
                    kept=group.kept if group.kept in linked else None,
                    merged=merged,
                    reason=f"same patient email, letter case aside ({key}); {PATIENT_RULE}",
                )
            )
        return found


__all__ = ["PATIENT_RULE", "Patient", "PatientGroup", "PatientPlan"]
