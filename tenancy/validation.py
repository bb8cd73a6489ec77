"""Input validators shared by the API and operator commands."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ValidationError

from tenancy.errors import validation_error

M = TypeVar("M", bound=BaseModel)

# ISO 4217 currencies whose minor unit is not 1/100 (all others: 2 decimals).
_CURRENCY_EXPONENTS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def currency_exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (ISO 4217): TRY 2, JPY 0, KWD 3."""
    return _CURRENCY_EXPONENTS.get(currency, 2)


def check_currency(currency: str, field: str | list[str] = "currency") -> str:
    """An upper-case ISO 4217 alphabetic code, or VALIDATION_FAILED."""
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise validation_error(field, "currency must be a 3-letter ISO 4217 code such as TRY")
    return currency.upper()


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str, field: str | list[str] = "timezone") -> str:
    """An IANA time zone name (``Europe/Istanbul``), or VALIDATION_FAILED."""
    if name not in _zones():
        raise validation_error(field, f"{name!r} is not an IANA time zone such as Europe/Istanbul")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise validation_error(
            field, f"{name!r} is not an IANA time zone such as Europe/Istanbul"
        ) from None
    return name


def check_email(email: str, field: str | list[str] = "email") -> str:
    """A syntactically valid email (normalised, no DNS lookup), or VALIDATION_FAILED.

    Surrounding spaces are trimmed; any other whitespace or control
    character (a trailing newline included) is refused, not trimmed.
    """
    email = email.strip(" ")
    if any(ch.isspace() or not ch.isprintable() for ch in email):
        raise validation_error(field, "email must not contain whitespace or control characters")
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise validation_error(field, f"email is not valid: {exc}") from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def parse_model(model: type[M], data: dict[str, Any], prefix: str = "input") -> M:
    """Validate ``data`` with a pydantic model; map its first error to VALIDATION_FAILED.

    The error's field path uses the API's camelCase names: ``["input", "ownerName"]``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = [prefix, *(_camel(str(part)) for part in first["loc"])]
        raise validation_error(path, f"{path[-1]}: {first['msg']}") from None
