"""Dates and money in the reader's language (Babel's CLDR data).

``local_datetime`` shows a UTC instant in the booking's time zone
("12 Mart 2026 Perşembe 10:30" / "Thursday, March 12, 2026 at 10:30 AM");
``money`` shows minor units in major units with the currency
("₺1.757,50" / "TRY 1,757.50"). Both are template filters.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time
from babel.numbers import format_currency

from tenancy.validation import currency_exponent


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_datetime(value: datetime | None, timezone: str | None, language: str) -> str:
    """``value`` (UTC) as a full date and a short time in ``timezone``, in ``language``."""
    if value is None:
        return ""
    local = value.astimezone(_zone(timezone))
    day = format_date(local, format="full", locale=language)
    time = format_time(local, format="short", locale=language)
    return f"{day} {time}" if language == "tr" else f"{day}, {time}"


def money(amount_minor: int | None, currency: str | None, language: str) -> str:
    """Minor units as a localized amount with its currency (``""`` when unknown)."""
    if amount_minor is None or not currency:
        return ""
    amount = Decimal(amount_minor).scaleb(-currency_exponent(currency))
    return format_currency(amount, currency, locale=language)
