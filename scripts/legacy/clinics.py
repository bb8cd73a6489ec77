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
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.asynchronous.database import AsyncDatabase

from domain.booking_rules import (
    OPEN_STATUSES,
    BookingStatus,
    discount_minor,
    slot_starts,
)
from domain.collections import (
    BOOKINGS,
    CUSTOMERS,
    LOCATIONS,
    REFERRAL_CODES,
    SERVICES,
)
from domain.customers import CustomerStatus
from domain.documents import (
    BookingDocument,
    CustomerDocument,
    LocationDocument,
    ReferralCodeDocument,
)
from domain.slots import SlotTaken, claim_slots, location_resource
from scripts.legacy.common import ImportOptions, carry, update_counters
from scripts.legacy.convert import (
    ConversionError,
    appointment_to_utc,
    confirmation_parts,
    derived_id,
    end_of,
    oldest_first,
    optional_utc,
    text_or_none,
    to_basis_points,
    to_minor,
)
from scripts.legacy.engine import (
    NO_ID_REASON,
    Engine,
    Mapped,
    MapResult,
    Skip,
    insert_once,
    per_doc,
    source_id,
)
from scripts.legacy.patient_merge import Patient, PatientPlan
from scripts.legacy.preflight import Expected, check_sources
from scripts.legacy.report import CollectionReport, ImportReport, Issue, Validation
from scripts.legacy.sources import Source, require_sources
from scripts.legacy.tenants import TenantSpec, ensure_tenant
from tenancy.errors import AppError
from tenancy.models import Tenant, utcnow
from tenancy.naming import slugify
from tenancy.platform import email_key
from tenancy.runtime import Platform
from tenancy.validation import check_email, currency_exponent

SOURCE_NAME = "legacy-clinics"
DATABASE = "omega_shared"
DATABASES = (DATABASE,)

HEALTHCARE_PROVIDERS = "healthcare_providers"
SALES_REPS = "sales_reps"
NOTIFICATIONS = "notifications"
LAB_RESULTS = "lab_results"

# legacy collection -> tenant collection, in import order (references first).
COLLECTIONS: dict[str, str] = {
    "tests": SERVICES,
    "locations": LOCATIONS,
    "referral_codes": REFERRAL_CODES,
    "healthcare_providers": HEALTHCARE_PROVIDERS,
    "sales_reps": SALES_REPS,
    "bookings": BOOKINGS,
    "notifications": NOTIFICATIONS,
    "lab_results": LAB_RESULTS,
}

# Legacy booking_status -> product BookingStatus. Statuses of the lab workflow
# have no product equivalent: in_progress, the legacy value kept in legacy_status.
BOOKING_STATUS_MAP: dict[str, BookingStatus] = {
    "new": BookingStatus.PENDING,
    "pending": BookingStatus.PENDING,
    "confirmed": BookingStatus.CONFIRMED,
    "scheduled": BookingStatus.SCHEDULED,
    "in_progress": BookingStatus.IN_PROGRESS,
    "sample_collected": BookingStatus.IN_PROGRESS,
    "in_lab": BookingStatus.IN_PROGRESS,
    "analyzing": BookingStatus.IN_PROGRESS,
    "genetic_counseling_offered": BookingStatus.IN_PROGRESS,
    "completed": BookingStatus.COMPLETED,
    "cancelled": BookingStatus.CANCELLED,
    "canceled": BookingStatus.CANCELLED,
    "no_show": BookingStatus.NO_SHOW,
}

_BOOKING_FIELDS_USED = {
    "confirmation_number",
    "patient_name",
    "patient_email",
    "patient_phone",
    "test_id",
    "test_slug",
    "location_id",
    "booking_date",
    "appointment_date",
    "appointment_time",
    "referral_code_id",
    "total_price",
    "discount_amount",
    "final_price",
    "payment_status",
    "booking_status",
    "notes",
    "created_at",
    "updated_at",
}
BOOKING_CHECK_FIELDS = (
    "confirmation_number",
    "customer_id",
    "service_id",
    "starts_at",
    "duration_minutes",
    "currency",
    "price_minor",
    "discount_minor",
    "final_price_minor",
    "referral_code",
    "discount_basis_points",
    "legacy_status",
    "legacy_source",
)


# The collections this import needs and the types of the fields its mappers read
# (checked before anything is written: scripts.legacy.preflight). Ids that refer to
# other documents (test_id, location_id, booking_id...) are matched as they are.
_TEXT, _NUMBER, _DATE, _BOOL = "string", "number", "datetime", "bool"
EXPECTED: Expected = {
    DATABASE: {
        "tenants": {
            "tenant_id": _TEXT,
            "domain": _TEXT,
            "email_sender": _TEXT,
            "company_name": _TEXT,
            "timezone": _TEXT,
            "is_active": _BOOL,
        },
        "tests": {
            "tenant_id": _TEXT,
            "slug": _TEXT,
            "name": _TEXT,
            "description": _TEXT,
            "price": _NUMBER,
            "is_active": _BOOL,
            "created_at": _DATE,
        },
        "locations": {"tenant_id": _TEXT, "name": _TEXT, "city": _TEXT, "district": _TEXT},
        "referral_codes": {
            "tenant_id": _TEXT,
            "code": _TEXT,
            "doctor_name": _TEXT,
            "discount_percent": _NUMBER,
            "is_active": _BOOL,
        },
        "healthcare_providers": {
            "tenant_id": _TEXT,
            "name": _TEXT,
            "referral_code": _TEXT,
            "discount_percent": _NUMBER,
            "is_active": _BOOL,
            "created_at": _DATE,
        },
        "sales_reps": {"tenant_id": _TEXT, "commission_percent": _NUMBER, "is_active": _BOOL},
        "bookings": {
            "tenant_id": _TEXT,
            "confirmation_number": _TEXT,
            "patient_name": _TEXT,
            "patient_email": _TEXT,
            "patient_phone": _TEXT,
            "appointment_time": _TEXT,
            "payment_status": _TEXT,
            "booking_status": _TEXT,
            "notes": _TEXT,
            "total_price": _NUMBER,
            "discount_amount": _NUMBER,
            "final_price": _NUMBER,
            "booking_date": _DATE,
            "appointment_date": _DATE,
            "created_at": _DATE,
            "updated_at": _DATE,
        },
        "notifications": {"tenant_id": _TEXT, "sent_at": _DATE, "created_at": _DATE},
        "lab_results": {
            "tenant_id": _TEXT,
            "sample_received_date": _DATE,
            "released_at": _DATE,
            "created_at": _DATE,
        },
    }
}


@dataclass
class ClinicsOptions(ImportOptions):
    """Options of the clinics import (see :class:`ImportOptions` for the common ones).

    Attributes:
        default_duration_minutes: duration of services made from legacy tests
            (the legacy data has none) and so of their bookings.
        currency: currency of legacy prices and of new tenants.
        language: language of new tenants.
    """

    default_duration_minutes: int = 30
    currency: str = "TRY"
    language: str = "tr"


ORPHAN_REASON = "tenant_id {tenant_id!r} names no tenant in omega_shared.tenants"
NO_TENANT_REASON = "document has no tenant_id"
_ORPHAN_RE = re.compile(r"^tenant_id (?P<tenant>.+) names no tenant in ")


def orphans_of(report: ImportReport) -> dict[str, list[str]]:
    """Documents whose ``tenant_id`` names no tenant, from the skipped records of every
    collection: ``{legacy tenant_id: ["<collection>:<id>", ...]}`` (``"<none>"`` without one)."""
    found: dict[str, set[str]] = defaultdict(set)
    for entry in report.collections:
        collection = entry.source.split(".", 1)[-1]
        for issue in entry.skipped:
            match = _ORPHAN_RE.match(issue.reason)
            if match:
                found[match.group("tenant").strip("'\"")].add(f"{collection}:{issue.id}")
            elif issue.reason == NO_TENANT_REASON:
                found["<none>"].add(f"{collection}:{issue.id}")
    return {tenant: sorted(ids) for tenant, ids in sorted(found.items())}


# -- pure mapping functions ---------------------------------------------------------


def legacy_source(collection: str) -> str:
    """The ``legacy_source`` marker of documents from ``omega_shared.<collection>``."""
    return f"{DATABASE}.{collection}"


def map_booking_status(value: Any) -> tuple[str, str | None]:
    """Legacy ``booking_status`` -> ``(product status, legacy_status or None)``.

    ``legacy_status`` is set when the product's value differs
    (``"new"`` -> ``("pending", "new")``, ``"in_lab"`` -> ``("in_progress", "in_lab")``).

    Raises:
        Skip: an unknown status (the booking is reported, not guessed).
    """
    legacy = str(value or "").strip().lower()
    status = BOOKING_STATUS_MAP.get(legacy)
    if status is None:
        raise Skip(f"unknown booking_status {value!r}")
    return status.value, (None if legacy == status.value else legacy)


def service_from_test(
    doc: dict[str, Any], *, currency: str, duration_minutes: int, now: datetime
) -> dict[str, Any]:
    """A ``services`` document from a legacy test.

    ``code`` is the legacy slug, ``price_minor`` the exact price in minor units,
    ``active`` from ``is_active``; ``accuracy`` and the ``turnaround_min`` /
    ``turnaround_max`` days are kept.

    Raises:
        Skip: no usable code or name, negative price.
        ConversionError: a price that is not a whole number of minor units.
    """
    code = slugify(str(doc.get("slug") or doc.get("name") or ""))
    if not code:
        raise Skip("test has no slug or name to make a service code from")
    name = text_or_none(doc.get("name"))
    if name is None:
        raise Skip("test has no name")
    price = to_minor(doc.get("price"), currency, "price")
    if price < 0:
        raise Skip(f"price {doc.get('price')} is negative")
    return {
        **carry(doc, {"slug", "name", "price", "is_active", "description", "created_at"}),
        "_id": doc["_id"],
        "code": code,
        "name": name[:200],
        "description": text_or_none(doc.get("description")),
        "duration_minutes": duration_minutes,
        "price_minor": price,
        "currency": currency,
        "active": bool(doc.get("is_active", True)),
        "created_at": optional_utc(doc.get("created_at"), "created_at") or now,
        "legacy_source": legacy_source("tests"),
    }


def location_from_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``locations`` document: ``name`` is ``"<city> <district>"`` (the product's form).

    Raises:
        Skip: neither a name nor a city/district.
    """
    city, district = text_or_none(doc.get("city")), text_or_none(doc.get("district"))
    name = text_or_none(doc.get("name")) or " ".join(p for p in (city, district) if p)
    if not name:
        raise Skip("location has no name, city or district")
    return LocationDocument(
        **carry(doc, {"name", "city", "district"}),
        _id=doc["_id"],
        name=name,
        city=city,
        district=district,
        legacy_source=legacy_source("locations"),
    ).to_mongo()


def referral_code_from_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``referral_codes`` document: ``code`` upper-case, ``discount_basis_points`` (10 % = 1000).

    Raises:
        Skip: no code. ConversionError: a percentage that is not whole basis points.
    """
    code = text_or_none(doc.get("code"))
    if code is None:
        raise Skip("referral code has no code")
    return ReferralCodeDocument(
        **carry(doc, {"code", "discount_percent", "is_active", "doctor_name"}),
        _id=doc["_id"],
        code=code.upper(),
        doctor_name=text_or_none(doc.get("doctor_name")),
        discount_basis_points=to_basis_points(doc.get("discount_percent"), "discount_percent"),
        active=bool(doc.get("is_active", True)),
        legacy_source=legacy_source("referral_codes"),
    ).to_mongo()


def provider_from_legacy(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A ``healthcare_providers`` document and, if it has one, its referral code.

    The referral code document keeps the provider's ``_id`` (legacy bookings
    name the provider in ``referral_code_id``) and ``healthcare_provider_id``.

    Raises:
        Skip: no name. ConversionError: bad ``discount_percent``.
    """
    name = text_or_none(doc.get("name"))
    if name is None:
        raise Skip("healthcare provider has no name")
    code = text_or_none(doc.get("referral_code"))
    points = (
        to_basis_points(doc.get("discount_percent"), "discount_percent")
        if doc.get("discount_percent") is not None
        else 0
    )
    provider = {
        **carry(doc, {"name", "referral_code", "discount_percent", "is_active"}),
        "_id": doc["_id"],
        "name": name,
        "referral_code": code.upper() if code else None,
        "discount_basis_points": points,
        "active": bool(doc.get("is_active", True)),
        "legacy_source": legacy_source("healthcare_providers"),
    }
    referral = None
    if code:
        referral = {
            "_id": doc["_id"],
            "code": code.upper(),
            "doctor_name": name,
            "discount_basis_points": points,
            "active": bool(doc.get("is_active", True)),
            "healthcare_provider_id": doc["_id"],
            "created_at": optional_utc(doc.get("created_at"), "created_at"),
            "legacy_source": legacy_source("healthcare_providers"),
        }
    return provider, referral


def sales_rep_from_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``sales_reps`` document; ``commission_percent`` becomes ``commission_basis_points``.

    Raises:
        ConversionError: a commission that is not whole basis points.
    """
    commission = doc.get("commission_percent")
    return {
        **carry(doc, {"commission_percent", "is_active"}),
        "_id": doc["_id"],
        "commission_basis_points": (
            to_basis_points(commission, "commission_percent") if commission is not None else None
        ),
        "active": bool(doc.get("is_active", True)),
        "legacy_source": legacy_source("sales_reps"),
    }


def history_from_legacy(
    status: str, legacy_status: str | None, created_at: datetime, updated_at: datetime, actor: str
) -> list[dict[str, Any]]:
    """A ``status_history`` for an imported booking: created as pending, then its status."""
    history = [
        {
            "status": BookingStatus.PENDING.value,
            "at": created_at,
            "by": actor,
            "reason": "created in the legacy system",
        }
    ]
    if status != BookingStatus.PENDING.value or legacy_status:
        history.append(
            {
                "status": status,
                "at": updated_at,
                "by": actor,
                "reason": f"legacy status {legacy_status or status}",
            }
        )
    return history


def booking_from_legacy(
    doc: dict[str, Any],
    *,
    timezone: str,
    service: Mapping[str, Any],
    customer_id: Any,
    location_known: bool,
    referral: tuple[str, int] | None,
    actor: str,
    now: datetime,
    warn: Any = None,
) -> dict[str, Any]:
    """A ``bookings`` document with the shape ``BookingService.create`` writes.

    Args:
        doc: the legacy booking.
        timezone: the tenant's IANA zone; ``appointment_date`` (midnight UTC) +
            ``appointment_time`` ("HH:MM", local) become ``starts_at`` in UTC.
        service: the tenant's service (``_id``, ``duration_minutes``, ``currency``).
        customer_id: the customer made from (or matched to) the patient.
        location_known: whether ``location_id`` names an imported location
            (if not, the booking keeps no location and a warning is given).
        referral: ``(code, basis_points)`` that ``referral_code_id`` names, or ``None``.
        warn: ``warn(message)`` for kept-but-odd values.

    Prices are the legacy ones, exactly (``price_minor``, ``discount_minor``,
    ``final_price_minor``), even where the product would round a discount
    differently. ``legacy_status`` is set when the status was mapped.

    Raises:
        Skip: unknown status, no confirmation number, negative money.
        ConversionError: money not in whole minor units; bad or non-existent local time.
    """
    warn = warn or (lambda message: None)
    status, legacy_status = map_booking_status(doc.get("booking_status"))
    confirmation = text_or_none(doc.get("confirmation_number"))
    if confirmation is None:
        raise Skip("booking has no confirmation_number")
    currency = str(service["currency"])
    price = to_minor(doc.get("total_price"), currency, "total_price")
    discount_raw = doc.get("discount_amount")
    discount = to_minor(
        discount_raw if discount_raw is not None else 0, currency, "discount_amount"
    )
    final = to_minor(doc.get("final_price"), currency, "final_price")
    if min(price, discount, final) < 0:
        raise Skip("booking has a negative amount")
    if price - discount != final:
        warn(
            f"final_price {final} != total_price {price} - discount_amount {discount} "
            "(minor units); legacy final price kept"
        )
    code, points = referral if referral else (None, 0)
    if referral is None and doc.get("referral_code_id"):
        warn(
            f"referral_code_id {doc['referral_code_id']} names no referral code or provider; "
            "kept as legacy_referral_code_id"
        )
    if points and discount != discount_minor(price, points):
        warn(
            f"discount {discount} differs from {points} bp of {price} as the product rounds it "
            f"({discount_minor(price, points)}); legacy discount kept"
        )
    starts_at = appointment_to_utc(
        doc.get("appointment_date"), doc.get("appointment_time"), timezone
    )
    duration = int(service["duration_minutes"])
    created_at = (
        optional_utc(doc.get("created_at"), "created_at")
        or optional_utc(doc.get("booking_date"), "booking_date")
        or now
    )
    updated_at = optional_utc(doc.get("updated_at"), "updated_at") or created_at
    location_id = doc.get("location_id")
    if location_id is not None and not location_known:
        warn(
            f"location {location_id} is not among the tenant's locations; booking kept "
            "without a location"
        )
        location_id = None
    booking = BookingDocument(
        **carry(doc, _BOOKING_FIELDS_USED),
        **{
            "_id": doc["_id"],
            "status": status,
            "customer_id": customer_id,
            "service_id": service["_id"],
            "location_id": location_id,
            "starts_at": starts_at,
            "ends_at": end_of(starts_at, duration),
            "duration_minutes": duration,
            "timezone": timezone,
            "currency": currency,
            "price_minor": price,
            "discount_minor": discount,
            "final_price_minor": final,
            "referral_code": code,
            "discount_basis_points": points,
            "payment_status": text_or_none(doc.get("payment_status")) or "pending",
            "notes": text_or_none(doc.get("notes")),
            "confirmation_number": confirmation,
            "status_history": history_from_legacy(
                status, legacy_status, created_at, updated_at, actor
            ),
            "created_by": actor,
            "created_at": created_at,
            "updated_at": updated_at,
            "booked_at": optional_utc(doc.get("booking_date"), "booking_date"),
            "legacy_status": legacy_status,
            "legacy_referral_code_id": doc.get("referral_code_id"),
            "legacy_patient": {
                "name": text_or_none(doc.get("patient_name")),
                "email": text_or_none(doc.get("patient_email")),
                "phone": text_or_none(doc.get("patient_phone")),
            },
            "legacy_source": legacy_source("bookings"),
        },
    ).to_mongo()
    if legacy_status is None:
        del booking["legacy_status"]
    return booking


def patient_customer(
    doc: dict[str, Any], email: str | None, created_at: datetime, updated_at: datetime
) -> dict[str, Any]:
    """The customer fields of a booking's patient (the shape ``CustomerService`` writes).

    ``email_key`` is present only with an email. ``created_at`` / ``updated_at``
    are returned separately by the caller's ``$min`` / ``$max`` (earliest and
    latest booking of that patient).
    """
    name = (text_or_none(doc.get("patient_name")) or email or "Unnamed patient")[:200]
    customer = CustomerDocument(
        name=name,
        email=email,
        phone=text_or_none(doc.get("patient_phone")),
        status=CustomerStatus.ACTIVE.value,
        legacy_source=legacy_source("bookings"),
    )
    return customer.to_mongo(exclude={"_id", "created_at", "updated_at"})


def booking_money_problems(source: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """Independent check of an imported booking against its legacy document.

    Money: ``Decimal(str(legacy)) * 10^exponent`` must equal the stored minor
    units (``final_price`` 1757.50 TRY -> ``final_price_minor`` 175750).
    Time: ``starts_at`` shown in the booking's time zone must be the legacy
    appointment date and time.
    """
    problems = []
    exponent = currency_exponent(str(target.get("currency", "TRY")))
    for legacy_field, field_name in (
        ("total_price", "price_minor"),
        ("discount_amount", "discount_minor"),
        ("final_price", "final_price_minor"),
    ):
        raw = source.get(legacy_field)
        expected = Decimal(str(raw if raw is not None else 0)).scaleb(exponent)
        if Decimal(target.get(field_name, -1)) != expected:
            problems.append(f"{field_name} {target.get(field_name)} != legacy {legacy_field} {raw}")
    starts_at = target.get("starts_at")
    day, hhmm = source.get("appointment_date"), str(source.get("appointment_time", ""))
    if isinstance(starts_at, datetime) and isinstance(day, datetime):
        local = starts_at.astimezone(ZoneInfo(str(target.get("timezone"))))
        hour, _, minute = hhmm.partition(":")
        wanted = f"{day:%Y-%m-%d} {int(hour or 0):02d}:{minute}"
        if f"{local:%Y-%m-%d %H:%M}" != wanted:
            problems.append(f"starts_at {local.isoformat()} is not the legacy appointment {wanted}")
    return problems


def _valid_email(raw: Any) -> str | None:
    """A patient email as the customer would store it, or ``None`` when missing or invalid."""
    text = text_or_none(raw)
    if text is None:
        return None
    try:
        return check_email(text, "patient_email")
    except AppError:
        return None


def _add_to_set(update: dict[str, Any], additions: dict[str, list[Any]]) -> None:
    """Add ``{field: [values]}`` to an update's ``$addToSet ... $each`` lists (no repeats)."""
    for name, values in additions.items():
        if not values:
            continue
        each = update.setdefault("$addToSet", {}).setdefault(name, {"$each": []})["$each"]
        each.extend(v for v in values if v not in each)


# -- the import ----------------------------------------------------------------------


@dataclass
class ClinicTenant:
    """A legacy tenant that is imported, with the references its bookings need."""

    legacy_id: str
    slug: str
    tenant: Tenant
    db: AsyncDatabase
    services: dict[Any, dict[str, Any]] = field(default_factory=dict)
    locations: set[Any] = field(default_factory=set)
    referrals: dict[Any, tuple[str, int]] = field(default_factory=dict)

    @property
    def timezone(self) -> str:
        return self.tenant.settings.timezone

    @property
    def currency(self) -> str:
        return self.tenant.settings.currency


class ClinicsImport:
    """One run of the clinics import; use :func:`import_legacy_clinics`."""

    def __init__(self, platform: Platform, source: Source, options: ClinicsOptions) -> None:
        self.platform = platform
        self.source = source
        self.options = options
        self.now = options.now or utcnow()
        self.report = ImportReport(source=SOURCE_NAME, started_at=utcnow())
        self.engine = Engine(
            platform,
            SOURCE_NAME,
            self.report,
            batch_size=options.batch_size,
            now=self.now,
            on_progress=options.on_progress,
        )
        self.tenants: dict[str, ClinicTenant] = {}
        self.unusable: dict[str, str] = {}
        self.seen_customers: set[tuple[str, Any]] = set()
        self.patient_plan = PatientPlan()
        self.validating = False
        self.slots_claimed = 0
        self.slot_conflicts = 0
        self.entries: dict[str, CollectionReport] = {}
        self.patients = CollectionReport(f"{DATABASE}.bookings (patients)", CUSTOMERS)
        self.provider_codes = CollectionReport(
            f"{DATABASE}.healthcare_providers (referral codes)", REFERRAL_CODES
        )

    # -- routing ---------------------------------------------------------

    def route(self, doc: dict[str, Any], collection: str) -> ClinicTenant:
        """The tenant of a legacy document.

        Raises:
            Skip: no ``tenant_id``, a tenant that was not imported, or one that
            names no tenant (recorded as an orphan).
        """
        legacy_tenant = doc.get("tenant_id")
        tenant = self.tenants.get(legacy_tenant) if isinstance(legacy_tenant, str) else None
        if tenant is not None:
            return tenant
        if legacy_tenant in self.unusable:
            raise Skip(f"tenant {legacy_tenant!r} was not imported: {self.unusable[legacy_tenant]}")
        if legacy_tenant in (None, ""):
            raise Skip(NO_TENANT_REASON)
        raise Skip(ORPHAN_REASON.format(tenant_id=legacy_tenant))

    # -- run -------------------------------------------------------------

    async def run(self) -> ImportReport:
        names = await self.source.collection_names()
        await self._import_tenants(names)
        mappers = self._mappers()
        for collection, target in COLLECTIONS.items():
            entry = self.report.add(CollectionReport(f"{DATABASE}.{collection}", target))
            self.entries[collection] = entry
            if collection == "bookings":
                await self._load_references()
                if collection in names:
                    await self._plan_patients()
            if collection not in names:
                entry.notes.append("collection not present in the source")
            else:
                after = self._claim_slots if collection == "bookings" else None
                await self.engine.run_collection(
                    self.source, collection, entry, mappers[collection], after_batch=after
                )
            if collection == "healthcare_providers":
                self.report.add(self.provider_codes)
            if collection == "bookings":
                self.report.add(self.patients)
                databases = {t.slug: t.db for t in self.tenants.values()}
                self.patients.merges.extend(await self.patient_plan.merges(databases))
                entry.notes.append(
                    f"open future bookings (after {self.now:%Y-%m-%d %H:%M}Z): "
                    f"{self.slots_claimed} hold their slots, {self.slot_conflicts} slot conflicts "
                    "(kept without a slot claim, see warnings)"
                )
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

    # -- tenants ---------------------------------------------------------

    def _spec(self, doc: dict[str, Any], legacy_tenant: str) -> TenantSpec:
        domain = text_or_none(doc.get("domain"))
        sender = text_or_none(doc.get("email_sender"))
        name = (text_or_none(doc.get("company_name")) or legacy_tenant)[:200]
        return TenantSpec(
            slug=slugify(legacy_tenant),
            name=name,
            legacy_id=legacy_tenant,
            owner_email=sender or (f"admin@{domain}" if domain else ""),
            owner_name=f"{name} owner",
            plan_key=self.options.plan_key,
            timezone=text_or_none(doc.get("timezone")) or "Europe/Istanbul",
            language=self.options.language,
            currency=self.options.currency,
            domains=[domain.lower()] if domain else [],
            email_sender=sender,
            legacy_active=bool(doc.get("is_active", True)),
            cluster=self.options.cluster,
        )

    async def _import_tenants(self, names: list[str]) -> None:
        entry = self.report.add(CollectionReport(f"{DATABASE}.tenants", "platform.tenants"))
        self.entries["tenants"] = entry
        entry.source_count = await self.source.count("tenants")
        records: list[tuple[dict[str, Any], TenantSpec]] = []
        seen: set[str] = set()
        async for doc in self.source.iterate("tenants", on_error=entry.skip):
            entry.read += 1
            legacy_tenant = text_or_none(doc.get("tenant_id"))
            if legacy_tenant is None:
                entry.skip(source_id(doc), "tenant record has no tenant_id")
            elif legacy_tenant in seen:
                entry.skip(source_id(doc), f"second tenant record for {legacy_tenant!r}")
            else:
                seen.add(legacy_tenant)
                records.append((doc, self._spec(doc, legacy_tenant)))
        if not records:
            entry.notes.append("no tenants: every other document will be reported as an orphan")
        missing = {
            spec.legacy_id
            for _, spec in records
            if await self.platform.store.tenant_by_slug(spec.slug) is None
        }
        prefixes = await self._confirmation_prefixes(missing) if "bookings" in names else {}
        for doc, spec in records:
            spec.confirmation_prefix = prefixes.get(spec.legacy_id)
            outcome, tenant = await ensure_tenant(
                self.platform,
                spec,
                owner_password=self.options.owner_password,
                adopt_existing=self.options.adopt_existing,
                activate=self.options.activate,
                actor=self.options.actor,
            )
            self.report.tenants.append(outcome)
            if tenant is None:
                message = outcome.message or outcome.action
                entry.skip(source_id(doc), f"tenant {spec.slug!r} {outcome.action}: {message}")
                self.unusable[spec.legacy_id] = message
                continue
            created = outcome.action == "provisioned"
            entry.tally(spec.slug, "written" if created else "already_present")
            self.tenants[spec.legacy_id] = ClinicTenant(
                legacy_id=spec.legacy_id,
                slug=spec.slug,
                tenant=tenant,
                db=self.platform.tenant_database(tenant),
            )

    async def _confirmation_prefixes(self, wanted: set[str]) -> dict[str, str]:
        """Each wanted tenant's confirmation-number prefix (``"WE"``), from its first booking."""
        found: dict[str, str] = {}
        if not wanted:
            return found
        iterator = self.source.iterate("bookings", on_error=lambda rid, msg: None).__aiter__()
        try:
            async for doc in iterator:
                legacy_tenant = doc.get("tenant_id")
                if legacy_tenant in wanted and legacy_tenant not in found:
                    parts = confirmation_parts(doc.get("confirmation_number"))
                    if parts:
                        found[legacy_tenant] = parts[0]
                        if len(found) == len(wanted):
                            break
        finally:
            await iterator.aclose()
        return found

    async def _load_references(self) -> None:
        """Services, locations and referral codes of each tenant, read from its database
        (so they are complete after a resumed run too)."""
        for tenant in self.tenants.values():
            db = tenant.db
            tenant.services = {
                d["_id"]: d
                async for d in db[SERVICES].find({}, {"duration_minutes": 1, "currency": 1})
            }
            tenant.locations = {d["_id"] async for d in db[LOCATIONS].find({}, {"_id": 1})}
            referrals = {
                d["_id"]: (d["code"], int(d.get("discount_basis_points") or 0))
                async for d in db[REFERRAL_CODES].find({}, {"code": 1, "discount_basis_points": 1})
            }
            async for d in db[HEALTHCARE_PROVIDERS].find(
                {"referral_code": {"$type": "string"}},
                {"referral_code": 1, "discount_basis_points": 1},
            ):
                referrals.setdefault(
                    d["_id"], (d["referral_code"], int(d.get("discount_basis_points") or 0))
                )
            tenant.referrals = referrals

    # -- mappers -----------------------------------------------------------

    def _mappers(self) -> dict[str, Any]:
        def simple(collection: str, build: Any) -> Any:
            def fn(doc: dict[str, Any], warn: Any) -> list[Mapped]:
                tenant = self.route(doc, collection)
                return [insert_once(tenant.db, tenant.slug, COLLECTIONS[collection], build(doc))]

            return per_doc(fn)

        def tests(doc: dict[str, Any], warn: Any) -> list[Mapped]:
            tenant = self.route(doc, "tests")
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
            tenant = self.route(doc, "healthcare_providers")
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
            "bookings": self._map_bookings,
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
            tenant = self.route(doc, collection)
            target = {
                **carry(doc, set()),
                "_id": doc["_id"],
                "legacy_source": legacy_source(collection),
            }
            return [insert_once(tenant.db, tenant.slug, COLLECTIONS[collection], target, check)]

        inner = per_doc(fn)

        async def run(docs: list[dict[str, Any]]) -> list[MapResult]:
            results = await inner(docs)
            wanted: dict[str, tuple[AsyncDatabase, set[Any]]] = {}
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

    async def _map_bookings(self, docs: list[dict[str, Any]]) -> list[MapResult]:
        results: list[MapResult] = []
        routed: list[tuple[MapResult, ClinicTenant]] = []
        for doc in docs:
            result = MapResult(source_id(doc), doc)
            results.append(result)
            if doc.get("_id") is None:
                result.skip = NO_ID_REASON
                continue
            try:
                routed.append((result, self.route(doc, "bookings")))
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
                _add_to_set(prior.update, group.additions(doc["_id"], patient))
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
                _add_to_set(update, group.additions(doc["_id"], patient))
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

    async def _plan_patients(self) -> None:
        """Read the bookings once before importing them: for every patient email shared
        by several importable bookings of a tenant, the booking whose patient names the
        customer (the oldest; see :mod:`scripts.legacy.patient_merge`)."""
        self.patient_plan = PatientPlan()
        async for doc in self.source.iterate("bookings", on_error=lambda rid, msg: None):
            if doc.get("_id") is None:
                continue
            try:
                tenant = self.route(doc, "bookings")
                email = _valid_email(doc.get("patient_email"))
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

    async def _claim_slots(self, results: list[MapResult], failed: set[Any]) -> None:
        """Claim ``booking_slots`` for imported open bookings that start after ``now``.

        The product's rule (one booking per location slot) holds from here on;
        a legacy double booking is kept, reported as a warning, and only the
        first booking holds the slot.
        """
        entry = self.entries["bookings"]
        candidates: dict[str, tuple[AsyncDatabase, list[Any]]] = {}
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

    async def _claim(
        self, db: AsyncDatabase, booking: dict[str, Any], entry: CollectionReport
    ) -> None:
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

    # -- after the import ----------------------------------------------------

    async def _counters(self) -> None:
        for tenant in self.tenants.values():
            record = await self.platform.store.tenant_by_slug(tenant.slug)
            if record is None:
                continue
            counters, warnings = await update_counters(
                tenant.db, record.settings.confirmation_prefix, record.limits
            )
            self.report.counters[tenant.slug] = counters
            self.report.notes.extend(f"{tenant.slug}: {w}" for w in warnings)

    async def _validate(self, names: list[str], mappers: dict[str, Any]) -> None:
        self.validating = True
        await self._load_references()
        tenants_entry = self.entries["tenants"]
        validation = Validation(expected=len(self.tenants))
        for tenant in self.tenants.values():
            record = await self.platform.store.tenant_by_slug(tenant.slug)
            validation.checked += 1
            if record is not None and record.legacy_id == tenant.legacy_id:
                validation.found += 1
            else:
                validation.mismatches.append(
                    Issue(tenant.slug, "tenant record missing or legacy_id differs")
                )
        tenants_entry.validation = validation
        extra = {id(self.entries["bookings"]): booking_money_problems}
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
    platform: Platform,
    sources: Mapping[str, Source],
    options: ClinicsOptions | None = None,
) -> ImportReport:
    """Import ``legacy-clinics`` (``omega_shared``) into one tenant database per legacy tenant.

    Args:
        platform: the target platform, started (indexes and plans exist).
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
    return await ClinicsImport(platform, sources[DATABASE], options or ClinicsOptions()).run()
