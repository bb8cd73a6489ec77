"""Pure mapping of ``legacy-crm`` documents into product documents: no I/O.

Each function takes one legacy document (``crm_db`` packages and reference
data, ``vitingo_crm`` customers, products, leads, calendar events) and returns
the document (or upsert) the import writes; it raises :class:`Skip` for a
record that is not imported and ``ConversionError`` for a value that cannot be
converted exactly. The orchestration lives in :mod:`scripts.legacy.crm`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.documents import CustomerDocument
from scripts.legacy.convert import (
    normalize_tags,
    optional_utc,
    snake_fields,
    text_or_none,
    to_minor,
)
from scripts.legacy.writes import Skip
from tenancy.errors import AppError
from tenancy.models import utcnow
from tenancy.validation import check_currency, check_email, currency_exponent

PLATFORM_DATABASE = "crm_db"
TENANT_DATABASE = "vitingo_crm"
PACKAGE_FEATURE_FLAGS = ("custom_domain", "api_access", "priority_support")
CUSTOMER_STATUS_MAP = {"active": "active", "passive": "inactive", "inactive": "inactive"}
# Customer fields the validation compares with the target.
CUSTOMER_CHECK_FIELDS = (
    "legacy_id",
    "name",
    "name_key",
    "email",
    "email_key",
    "phone",
    "company",
    "tags",
    "status",
    "legacy_source",
)


def legacy_source(database: str, collection: str) -> str:
    """The ``legacy_source`` marker: ``"vitingo_crm.customers"``."""
    return f"{database}.{collection}"


def plan_from_package(doc: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A ``plans`` upsert from a legacy package: ``(key, $set fields, $setOnInsert fields)``.

    ``price_monthly`` 99 -> ``price_monthly_minor`` 9900; ``features.max_users`` /
    ``max_customers`` -> ``limits``; the true booleans among custom_domain /
    api_access / priority_support plus ``features.feature_flags`` -> ``features``.
    ``max_projects`` / ``max_storage_gb`` / ``name_tr`` are kept under ``legacy``.
    An existing plan keeps its ``_id`` and API rate limit.

    Raises:
        Skip: no key. ConversionError: prices that are not whole minor units.
    """
    key = text_or_none(doc.get("key"))
    if key is None:
        raise Skip("package has no key")
    try:
        currency = check_currency(str(doc.get("currency") or "TRY"))
    except AppError as exc:
        raise Skip(exc.message) from None
    raw_features = doc.get("features")
    features = raw_features if isinstance(raw_features, dict) else {}
    names = [flag for flag in PACKAGE_FEATURE_FLAGS if features.get(flag) is True]
    for flag in features.get("feature_flags") or []:
        if isinstance(flag, str) and flag not in names:
            names.append(flag)
    to_set = {
        "key": key,
        "name": text_or_none(doc.get("name")) or key,
        "description": text_or_none(doc.get("description")) or "",
        "currency": currency,
        "price_monthly_minor": to_minor(doc.get("price_monthly"), currency, "price_monthly"),
        "price_yearly_minor": to_minor(doc.get("price_yearly"), currency, "price_yearly"),
        "limits.max_users": features.get("max_users"),
        "limits.max_customers": features.get("max_customers"),
        "features": names,
        "active": bool(doc.get("is_active", True)),
        "sort_order": int(doc.get("sort_order") or 0),
        "stripe_price_id_monthly": text_or_none(doc.get("stripe_price_id_monthly")),
        "stripe_price_id_yearly": text_or_none(doc.get("stripe_price_id_yearly")),
        "legacy": {
            "id": str(doc.get("_id")),
            "name_tr": doc.get("name_tr"),
            "max_projects": features.get("max_projects"),
            "max_storage_gb": features.get("max_storage_gb"),
        },
        "legacy_source": legacy_source(PLATFORM_DATABASE, "packages"),
    }
    on_insert = {"_id": doc["_id"], "limits.api_rate_limit_per_minute": None}
    return key, to_set, on_insert


def reference_from_legacy(doc: dict[str, Any], collection: str) -> dict[str, Any]:
    """A global reference document (country, currency, language, city, feature flag), as it was."""
    out = {
        name: optional_utc(value, name) if isinstance(value, datetime) else value
        for name, value in doc.items()
    }
    out["legacy_source"] = legacy_source(PLATFORM_DATABASE, collection)
    return out


def customer_from_legacy(doc: dict[str, Any], warn: Any = None) -> dict[str, Any]:
    """A ``customers`` document (the shape ``CustomerService`` writes) from a CRM customer.

    ``companyName`` -> ``name`` (+ ``name_key``), ``companyTitle`` -> ``company``,
    ``email`` (+ ``email_key`` only when valid), ``phone``, ``tags`` (normalised),
    ``status`` (``passive`` -> ``inactive`` with ``legacy_status``), ``notes``;
    the legacy ``id`` as ``legacy_id``; ``totalRevenue`` -> ``total_revenue_minor``
    in the customer's ``currency``; every other field in snake_case.

    Raises:
        Skip: no name, unknown status.
        ConversionError: a revenue that is not a whole number of minor units.
    """
    warn = warn or (lambda message: None)
    name = (
        text_or_none(doc.get("companyName"))
        or text_or_none(doc.get("companyTitle"))
        or text_or_none(doc.get("contactPerson"))
    )
    if name is None:
        raise Skip("customer has no companyName, companyTitle or contactPerson")
    name = name[:200]
    legacy_status = str(doc.get("status") or "active").strip().lower()
    status = CUSTOMER_STATUS_MAP.get(legacy_status)
    if status is None:
        raise Skip(f"unknown customer status {doc.get('status')!r}")
    raw_email = text_or_none(doc.get("email"))
    email = None
    if raw_email:
        try:
            email = check_email(raw_email, "email")
        except AppError:
            warn(f"email {raw_email!r} is not valid; kept as legacy_email, customer has no email")
    currency = str(doc.get("currency") or "TRY").upper()
    revenue = doc.get("totalRevenue")
    used = {
        "companyName",
        "companyTitle",
        "email",
        "phone",
        "tags",
        "status",
        "totalRevenue",
        "created_at",
        "updated_at",
        "notes",
    }
    customer = {
        **snake_fields(doc, used),
        "_id": doc["_id"],
        "legacy_id": text_or_none(doc.get("id")),
        "name": name,
        "email": email,
        "phone": text_or_none(doc.get("phone")),
        "company": text_or_none(doc.get("companyTitle")),
        "tags": normalize_tags(doc.get("tags")),
        "notes": text_or_none(doc.get("notes")),
        "status": status,
        "currency": currency,
        "total_revenue_minor": (
            to_minor(revenue, currency, "totalRevenue") if revenue is not None else None
        ),
        "created_at": optional_utc(doc.get("created_at"), "created_at"),
        "updated_at": optional_utc(doc.get("updated_at"), "updated_at"),
        "legacy_source": legacy_source(TENANT_DATABASE, "customers"),
    }
    if customer["created_at"] is None:
        customer["created_at"] = customer.get("customer_since") or utcnow()
    if customer["updated_at"] is None:
        customer["updated_at"] = customer["created_at"]
    if not email and raw_email:
        customer["legacy_email"] = raw_email
    if status != legacy_status:
        customer["legacy_status"] = legacy_status
    return CustomerDocument(**customer).to_mongo()


def product_from_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``products`` document: ``unitPrice`` (float) -> ``unit_price_minor`` exactly,
    ``isActive`` -> ``active``.

    Raises:
        Skip: no name. ConversionError: a price that is not whole minor units.
    """
    name = text_or_none(doc.get("name"))
    if name is None:
        raise Skip("product has no name")
    currency = str(doc.get("currency") or "TRY").upper()
    return {
        **snake_fields(doc, {"name", "unitPrice", "currency", "isActive"}),
        "_id": doc["_id"],
        "legacy_id": text_or_none(doc.get("id")),
        "name": name,
        "unit_price_minor": to_minor(doc.get("unitPrice"), currency, "unitPrice"),
        "currency": currency,
        "active": bool(doc.get("isActive", True)),
        "legacy_source": legacy_source(TENANT_DATABASE, "products"),
    }


def lead_from_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``leads`` document (fields in snake_case, legacy ``id`` as ``legacy_id``)."""
    return {
        **snake_fields(doc, set()),
        "_id": doc["_id"],
        "legacy_id": text_or_none(doc.get("id")),
        "legacy_source": legacy_source(TENANT_DATABASE, "leads"),
    }


def event_from_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``calendar_events`` document: ``start``/``end`` -> ``starts_at``/``ends_at`` (UTC).

    Raises:
        ConversionError: ``start``/``end`` present but not datetimes.
    """
    return {
        **snake_fields(doc, {"start", "end"}),
        "_id": doc["_id"],
        "legacy_id": text_or_none(doc.get("id")),
        "starts_at": optional_utc(doc.get("start"), "start"),
        "ends_at": optional_utc(doc.get("end"), "end"),
        "legacy_source": legacy_source(TENANT_DATABASE, "calendar_events"),
    }


def money_problems(legacy_field: str, target_field: str) -> Any:
    """An independent validation check: ``Decimal(str(legacy)) * 10^exp == target`` minor units."""

    def check(source: dict[str, Any], target: dict[str, Any]) -> list[str]:
        raw = source.get(legacy_field)
        if raw is None:
            return []
        exponent = currency_exponent(str(target.get("currency") or "TRY"))
        expected = Decimal(str(raw)).scaleb(exponent)
        stored = target.get(target_field)
        if stored is None or Decimal(stored) != expected:
            return [f"{target_field} {stored} != legacy {legacy_field} {raw}"]
        return []

    return check


__all__ = [
    "CUSTOMER_CHECK_FIELDS",
    "CUSTOMER_STATUS_MAP",
    "PACKAGE_FEATURE_FLAGS",
    "PLATFORM_DATABASE",
    "TENANT_DATABASE",
    "customer_from_legacy",
    "event_from_legacy",
    "lead_from_legacy",
    "legacy_source",
    "money_problems",
    "plan_from_package",
    "product_from_legacy",
    "reference_from_legacy",
]
