"""What a tenant admin may change about their own tenant, and the checks of each value.

``updateTenantSettings`` (tenant admins, and super-admins in a tenant)
changes only what this module lists: name, time zone, language, currency,
sender, branding and booking policy. Plan, status, limits and domains are
changed by super-admins only (``tenancy.lifecycle.update_tenant``,
``set_tenant_status``). ``settings_changes`` turns a partial update into the
MongoDB ``$set`` paths of the tenant record, each value checked.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from tenancy.errors import validation_error
from tenancy.models import MAX_CANCELLATION_WINDOW_HOURS
from tenancy.validation import check_currency, check_email, check_timezone

MAX_NAME_LENGTH = 200
MAX_SENDER_NAME_LENGTH = 100
MAX_LOGO_URL_LENGTH = 2048

_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
# BCP 47, the short forms a booking site needs: language, optional script, optional region
# ("tr", "en-GB", "zh-Hant-TW", "es-419").
_LANGUAGE = re.compile(r"([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?(?:-([A-Za-z]{2}|[0-9]{3}))?")


class TenantSettingsUpdate(BaseModel):
    """A partial update of a tenant's own settings: ``None`` leaves a field as it is.

    For the optional texts (``sender_name``, ``sender_email``, colours and
    ``logo_url``) an empty string clears the value.
    """

    name: str | None = None
    timezone: str | None = None
    language: str | None = None
    currency: str | None = None
    sender_name: str | None = None
    sender_email: str | None = None
    primary_color: str | None = None
    secondary_color: str | None = None
    logo_url: str | None = None
    cancellation_window_hours: int | None = None
    allow_customer_cancellation: bool | None = None


def check_language(value: str, field: str | list[str] = "language") -> str:
    """A BCP 47 language tag of the short form ``ll[-Script][-RR]``, normalised.

    Returns the tag with the language lowercase, the script title-case and
    the region uppercase (``EN-gb`` -> ``en-GB``).

    Raises:
        AppError(VALIDATION_FAILED) on ``field`` for anything else.
    """
    match = _LANGUAGE.fullmatch(value.strip())
    if match is None:
        raise validation_error(
            field, f"{value!r} is not a language tag such as tr, en or en-GB (BCP 47)"
        )
    language, script, region = match.groups()
    parts = [
        language.lower(),
        script.title() if script else None,
        region.upper() if region else None,
    ]
    return "-".join(part for part in parts if part)


def check_color(value: str, field: str | list[str]) -> str:
    """A colour ``#RRGGBB`` (hex digits), returned uppercase.

    Raises:
        AppError(VALIDATION_FAILED) on ``field`` for anything else.
    """
    if _COLOR.fullmatch(value) is None:
        raise validation_error(field, f"{value!r} is not a colour such as #1A73E8 (#RRGGBB)")
    return value.upper()


def check_https_url(
    value: str, field: str | list[str], max_length: int = MAX_LOGO_URL_LENGTH
) -> str:
    """An absolute ``https://`` URL with a host, at most ``max_length`` characters.

    A public page embeds it, so plain http (mixed content), other schemes
    (``javascript:``, ``data:``), credentials in the URL, whitespace and
    control characters are refused.

    Raises:
        AppError(VALIDATION_FAILED) on ``field``.
    """
    if len(value) > max_length:
        raise validation_error(field, f"the URL must be at most {max_length} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise validation_error(field, "the URL must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme.lower() != "https" or not host:
        raise validation_error(field, "the URL must be an absolute https:// address")
    if parts.username is not None or parts.password is not None:
        raise validation_error(field, "the URL must not carry a user name or password")
    return value


def _check_text(value: str, field: list[str], max_length: int, what: str) -> str:
    text = value.strip()
    if not 1 <= len(text) <= max_length:
        raise validation_error(field, f"{what} must be 1-{max_length} characters")
    if any(not ch.isprintable() for ch in text):  # a line break would split an email header
        raise validation_error(field, f"{what} must not contain line breaks or control characters")
    return text


def _optional(value: str, check: Any, *args: Any) -> str | None:
    """``None`` for an empty string (clears the value), else ``check(value, *args)``."""
    return None if not value.strip() else check(value.strip(), *args)


def settings_changes(update: TenantSettingsUpdate) -> dict[str, Any]:
    """The ``$set`` changes of the tenant record for ``update``, every value checked.

    Error paths use the API's names (``["input", "primaryColor"]``).

    Returns:
        Dotted paths of the tenant record (``"settings.branding.logo_url"``)
        to their new values; empty when the update names nothing.

    Raises:
        AppError(VALIDATION_FAILED) naming the first field at fault.
    """
    changes: dict[str, Any] = {}
    if update.name is not None:
        changes["name"] = _check_text(update.name, ["input", "name"], MAX_NAME_LENGTH, "name")
    if update.timezone is not None:
        changes["settings.timezone"] = check_timezone(update.timezone, ["input", "timezone"])
    if update.language is not None:
        changes["settings.language"] = check_language(update.language, ["input", "language"])
    if update.currency is not None:
        changes["settings.currency"] = check_currency(update.currency, ["input", "currency"])
    if update.sender_name is not None:
        field = ["input", "senderName"]
        changes["settings.sender_name"] = _optional(
            update.sender_name, _check_text, field, MAX_SENDER_NAME_LENGTH, "sender name"
        )
    if update.sender_email is not None:
        changes["settings.email_sender"] = _optional(
            update.sender_email, check_email, ["input", "senderEmail"]
        )
    if update.primary_color is not None:
        changes["settings.branding.primary_color"] = _optional(
            update.primary_color, check_color, ["input", "primaryColor"]
        )
    if update.secondary_color is not None:
        changes["settings.branding.secondary_color"] = _optional(
            update.secondary_color, check_color, ["input", "secondaryColor"]
        )
    if update.logo_url is not None:
        changes["settings.branding.logo_url"] = _optional(
            update.logo_url, check_https_url, ["input", "logoUrl"]
        )
    if update.cancellation_window_hours is not None:
        hours = update.cancellation_window_hours
        if not 0 <= hours <= MAX_CANCELLATION_WINDOW_HOURS:
            raise validation_error(
                ["input", "cancellationWindowHours"],
                f"the cancellation window must be 0-{MAX_CANCELLATION_WINDOW_HOURS} hours",
            )
        changes["settings.booking_policy.cancellation_window_hours"] = hours
    if update.allow_customer_cancellation is not None:
        changes["settings.booking_policy.allow_customer_cancellation"] = (
            update.allow_customer_cancellation
        )
    return changes
