# Over 500 lines: one job, the pure legacy -> product mapping of every omega_shared collection.
"""Pure mapping of ``legacy-clinics`` documents into product documents: no I/O.

Each function takes one legacy ``omega_shared`` document (a tenant record,
test, location, referral code, healthcare provider, sales rep, booking) and
returns what the import writes, built through the typed tenant documents of
:mod:`domain.documents` where one exists; it raises :class:`Skip` for a record
that is not imported and ``ConversionError`` for a value that cannot be
converted exactly. The orchestration lives in :mod:`scripts.legacy.clinics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from domain.booking_rules import BookingStatus, discount_minor
from domain.customers import CustomerStatus
from domain.documents import (
    BookingDocument,
    CustomerDocument,
    LocationDocument,
    ReferralCodeDocument,
    ServiceDocument,
)
from scripts.legacy.clinics_spec import DATABASE, ClinicsOptions
from scripts.legacy.common import carry
from scripts.legacy.convert import (
    appointment_to_utc,
    end_of,
    optional_utc,
    text_or_none,
    to_basis_points,
    to_minor,
)
from scripts.legacy.tenants import TenantSpec
from scripts.legacy.writes import Skip
from tenancy.errors import AppError
from tenancy.naming import slugify
from tenancy.validation import check_email, currency_exponent

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


def tenant_spec(doc: dict[str, Any], legacy_tenant: str, options: ClinicsOptions) -> TenantSpec:
    """The product tenant a legacy ``tenants`` record becomes.

    Slug ``slugify(tenant_id)``; the owner is the ``email_sender`` (else
    ``admin@<domain>``); ``domain`` becomes the tenant's domain; plan, language,
    currency and cluster come from ``options``; ``is_active`` is kept as
    ``legacy_active``.
    """
    domain = text_or_none(doc.get("domain"))
    sender = text_or_none(doc.get("email_sender"))
    name = (text_or_none(doc.get("company_name")) or legacy_tenant)[:200]
    return TenantSpec(
        slug=slugify(legacy_tenant),
        name=name,
        legacy_id=legacy_tenant,
        owner_email=sender or (f"admin@{domain}" if domain else ""),
        owner_name=f"{name} owner",
        plan_key=options.plan_key,
        timezone=text_or_none(doc.get("timezone")) or "Europe/Istanbul",
        language=options.language,
        currency=options.currency,
        domains=[domain.lower()] if domain else [],
        email_sender=sender,
        legacy_active=bool(doc.get("is_active", True)),
        cluster=options.cluster,
    )


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
    return ServiceDocument(
        **{
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
    ).to_mongo()


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
        referral = ReferralCodeDocument(
            _id=doc["_id"],
            code=code.upper(),
            doctor_name=name,
            discount_basis_points=points,
            active=bool(doc.get("is_active", True)),
            healthcare_provider_id=doc["_id"],
            created_at=optional_utc(doc.get("created_at"), "created_at"),
            legacy_source=legacy_source("healthcare_providers"),
        ).to_mongo()
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


def carried_from_legacy(doc: dict[str, Any], collection: str) -> dict[str, Any]:
    """A document carried as it is (notifications, lab results): every field but
    ``tenant_id``, datetimes as UTC, the legacy ``_id`` and the ``legacy_source``."""
    return {
        **carry(doc, set()),
        "_id": doc["_id"],
        "legacy_source": legacy_source(collection),
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


def valid_patient_email(raw: Any) -> str | None:
    """A patient email as the customer would store it, or ``None`` when missing or invalid."""
    text = text_or_none(raw)
    if text is None:
        return None
    try:
        return check_email(text, "patient_email")
    except AppError:
        return None


def add_to_set(update: dict[str, Any], additions: dict[str, list[Any]]) -> None:
    """Add ``{field: [values]}`` to an update's ``$addToSet ... $each`` lists (no repeats)."""
    for name, values in additions.items():
        if not values:
            continue
        each = update.setdefault("$addToSet", {}).setdefault(name, {"$each": []})["$each"]
        each.extend(v for v in values if v not in each)


__all__ = [
    "BOOKING_CHECK_FIELDS",
    "BOOKING_STATUS_MAP",
    "add_to_set",
    "booking_from_legacy",
    "booking_money_problems",
    "carried_from_legacy",
    "history_from_legacy",
    "legacy_source",
    "location_from_legacy",
    "map_booking_status",
    "patient_customer",
    "provider_from_legacy",
    "referral_code_from_legacy",
    "sales_rep_from_legacy",
    "service_from_test",
    "tenant_spec",
    "valid_patient_email",
]
