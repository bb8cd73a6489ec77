"""Pure value conversions for the legacy imports: money, percentages, times, names.

Every function here is deterministic and free of I/O, so the mapping rules
can be unit-tested without a database. Conversions that would lose
information raise :class:`ConversionError` instead of rounding: the importer
reports the document as skipped with the error's message.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bson.decimal128 import Decimal128

from tenancy.validation import currency_exponent

# Namespace of the deterministic ids the importer derives (customers made from
# booking patients). Fixed forever: changing it would duplicate customers on re-runs.
LEGACY_NAMESPACE = uuid.UUID("0b6f3c1e-4f4e-5d59-9a57-3c2f1a6b7e10")

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z][a-z])")


class ConversionError(ValueError):
    """A legacy value cannot be converted without losing information.

    The message names the value and the rule it breaks; it becomes the
    "skipped" reason in the import report.
    """


def to_decimal(value: Any, field: str = "value") -> Decimal:
    """The exact decimal value of a legacy number.

    Args:
        value: ``Decimal128``, ``Decimal``, ``int``, ``float`` or numeric ``str``.
            A float goes through ``Decimal(str(x))`` (its shortest repr, e.g.
            ``20298.2`` -> ``Decimal("20298.2")``), never through float arithmetic.
        field: name used in error messages.

    Returns:
        A finite ``Decimal``.

    Raises:
        ConversionError: ``None``, booleans, NaN/infinity, other types, unparsable strings.
    """
    if value is None:
        raise ConversionError(f"{field} is missing")
    if isinstance(value, bool):
        raise ConversionError(f"{field} is a boolean, not a number")
    if isinstance(value, Decimal128):
        number = value.to_decimal()
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ConversionError(f"{field} {value!r} is not a finite number")
        number = Decimal(str(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ConversionError(f"{field} {value!r} is not a number") from None
    else:
        raise ConversionError(f"{field} has type {type(value).__name__}, not a number")
    if not number.is_finite():
        raise ConversionError(f"{field} {value!r} is not a finite number")
    return number


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # BSON int64, the largest integer MongoDB stores


def scaled_int(value: Any, exponent: int, field: str = "value", unit: str = "units") -> int:
    """``value * 10**exponent`` as an exact integer.

    Raises:
        ConversionError: not a number (see :func:`to_decimal`), the scaled
        value has a fractional part (it is refused, never rounded), or it
        does not fit a 64-bit integer.
    """
    number = to_decimal(value, field)
    scaled = number.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ConversionError(f"{field} {number} is not a whole number of {unit}")
    if not INT64_MIN <= scaled <= INT64_MAX:
        raise ConversionError(
            f"{field} {number} is too large: MongoDB stores at most 64-bit integers"
        )
    return int(scaled)


def to_minor(value: Any, currency: str, field: str = "amount") -> int:
    """A legacy amount in major units as integer minor units of ``currency``.

    ``Decimal128("1757.50")`` TRY -> ``175750``; ``99`` TRY -> ``9900``;
    ``20298.2`` (float) TRY -> ``2029820``; ``12.345`` TRY raises.

    Raises:
        ConversionError: not a number, or not a whole number of minor units.
    """
    exponent = currency_exponent(currency)
    return scaled_int(value, exponent, field, f"minor units of {currency} (10^-{exponent})")


def to_basis_points(percent: Any, field: str = "percent") -> int:
    """A percentage as integer basis points: ``10`` -> ``1000``, ``Decimal128("15.00")`` -> 1500.

    Raises:
        ConversionError: not a number, not a whole number of basis points, or outside 0-100 %.
    """
    points = scaled_int(percent, 2, field, "basis points (0.01 %)")
    if not 0 <= points <= 10_000:
        raise ConversionError(f"{field} {percent} is outside 0-100 %")
    return points


def as_utc(value: Any, field: str = "datetime") -> datetime:
    """A legacy datetime as timezone-aware UTC (naive values are taken as UTC, as BSON stores them).

    Raises:
        ConversionError: the value is not a ``datetime``.
    """
    if not isinstance(value, datetime):
        raise ConversionError(f"{field} is {type(value).__name__}, not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def optional_utc(value: Any, field: str = "datetime") -> datetime | None:
    """Like :func:`as_utc` but ``None`` stays ``None``."""
    return None if value is None else as_utc(value, field)


def parse_hhmm(value: Any, field: str = "time") -> time:
    """A legacy ``"HH:MM"`` wall-clock time (``"9:30"`` accepted).

    Raises:
        ConversionError: not a string of that form, or hour/minute out of range.
    """
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ConversionError(f"{field} {value!r} is not HH:MM")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ConversionError(f"{field} {value!r} is not a valid time of day")
    return time(hour, minute)


def appointment_to_utc(day: Any, hhmm: Any, timezone: str) -> datetime:
    """Legacy appointment (date stored as midnight UTC + local ``"HH:MM"``) to a UTC instant.

    The calendar date is the UTC date of ``day``; the time is wall-clock time
    in ``timezone``. ``2025-08-29T00:00Z`` + ``"11:00"`` in Europe/Istanbul
    (UTC+3) -> ``2025-08-29T08:00:00Z``. An ambiguous local time (clocks going
    back) resolves to its first occurrence.

    Raises:
        ConversionError: bad date or time, or a local time that does not exist
        in ``timezone`` (skipped by a daylight-saving jump).
    """
    if isinstance(day, datetime):
        calendar_day = as_utc(day, "appointment_date").date()
    elif isinstance(day, date):
        calendar_day = day
    else:
        raise ConversionError(f"appointment_date is {type(day).__name__}, not a date")
    wall = parse_hhmm(hhmm, "appointment_time")
    zone = ZoneInfo(timezone)
    local = datetime.combine(calendar_day, wall, tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ConversionError(
            f"appointment {calendar_day} {hhmm} does not exist in {timezone} (clock change)"
        )
    return utc


def confirmation_parts(number: Any) -> tuple[str, int] | None:
    """Prefix and sequence of a ``PREFIX-YYMM-NNNNN`` confirmation number, else ``None``.

    ``"WE-2508-00042"`` -> ``("WE", 42)``.
    """
    if not isinstance(number, str):
        return None
    match = re.fullmatch(r"([A-Z]{1,10})-(\d{4})-(\d+)", number.strip())
    if not match:
        return None
    return match.group(1), int(match.group(3))


def snake_case(name: str) -> str:
    """``companyTitle`` -> ``company_title``; ``customerSince`` -> ``customer_since``."""
    return _CAMEL.sub(lambda m: "_" + (m.group(1) or m.group(2)), name).lower()


def snake_fields(doc: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """Fields not mapped explicitly, renamed to snake_case (``relationshipType`` ->
    ``relationship_type``), datetimes as UTC; ``_id``, ``id`` and the names in ``used``
    excluded."""
    out: dict[str, Any] = {}
    for name, value in doc.items():
        if name in used or name in ("_id", "id"):
            continue
        out[snake_case(name)] = optional_utc(value, name) if isinstance(value, datetime) else value
    return out


def normalize_tags(tags: Any) -> list[str]:
    """Tags as the customer service stores them: stripped, lower-case, unique, sorted."""
    if not isinstance(tags, list):
        return []
    return sorted({str(t).strip().lower() for t in tags if str(t).strip()})


def text_or_none(value: Any) -> str | None:
    """A stripped string, or ``None`` for missing/blank values."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_UNDATED = datetime.max.replace(tzinfo=UTC)


def oldest_first(doc: dict[str, Any], date_fields: tuple[str, ...]) -> tuple[int, datetime, str]:
    """Sort key of the "oldest record wins" rule of the merges.

    The first of ``date_fields`` that holds a datetime dates the record;
    dated records come first, earliest first; undated ones after them; ties
    (and undated records) by the lowest ``_id`` as a string. The key depends
    on the record only, so the winner does not depend on the source's order.
    """
    ident = "?" if doc.get("_id") is None else str(doc["_id"])
    for name in date_fields:
        value = doc.get(name)
        if isinstance(value, datetime):
            return 0, as_utc(value, name), ident
    return 1, _UNDATED, ident


def derived_id(*parts: str) -> str:
    """A deterministic UUID string for a document the legacy data has no id for.

    ``derived_id("customer", "west-nipt", "a@b.com")`` is the same on every
    run, so re-runs upsert instead of duplicating.
    """
    return str(uuid.uuid5(LEGACY_NAMESPACE, "\x1f".join(parts)))


def end_of(start: datetime, minutes: int) -> datetime:
    """``start + minutes``."""
    return start + timedelta(minutes=minutes)
