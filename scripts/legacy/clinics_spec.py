"""What the ``legacy-clinics`` import reads and how it is configured.

The source database, its collections and the tenant collections they go to
(in import order), the field types checked before anything is written
(:mod:`scripts.legacy.preflight`), and :class:`ClinicsOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.collections import (
    BOOKINGS,
    LOCATIONS,
    REFERRAL_CODES,
    SERVICES,
)
from scripts.legacy.common import ImportOptions
from scripts.legacy.preflight import Expected

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


__all__ = [
    "COLLECTIONS",
    "DATABASE",
    "DATABASES",
    "EXPECTED",
    "HEALTHCARE_PROVIDERS",
    "LAB_RESULTS",
    "NOTIFICATIONS",
    "SALES_REPS",
    "SOURCE_NAME",
    "ClinicsOptions",
]
