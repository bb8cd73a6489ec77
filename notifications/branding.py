"""A tenant's branding and sender, read from its settings (``tenancy.models.TenantSettings``).

The fields come from ``updateTenantSettings``: ``sender_name``,
``email_sender`` (the sender address), ``branding.primary_color`` /
``secondary_color`` and ``branding.logo_url``, and ``language``. Unset
fields fall back to the platform's sender and the default colours. Colours
and the logo reach HTML attributes, so they are checked again here
(``#rgb``/``#rrggbb``, an ``https://`` URL) for records that did not come
through ``updateTenantSettings`` (imports, direct edits); anything else
falls back to the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tenancy.models import Tenant

_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_URL = re.compile(r"https://[^\s\"'<>]+")
DEFAULT_PRIMARY = "#1f4e79"
DEFAULT_SECONDARY = "#f2f5f9"


@dataclass(frozen=True)
class SenderDefaults:
    """The platform's sender (``APP_MAIL_FROM_ADDRESS``, ``APP_MAIL_FROM_NAME``)."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class Branding:
    """What the templates and the email headers use of one tenant.

    Attributes:
        name: the tenant's display name (``Tenant.name``).
        sender_name / sender_address: the ``From``: the tenant's ``sender_name``
            (else the platform's sender name, else the tenant's name) and
            ``email_sender`` (else the platform's address).
        reply_to: the tenant's own address (``email_sender``), where replies
            and the footer's contact link go; ``None`` when it gave none.
        logo_url, primary_color, secondary_color: ``settings.branding``, checked.
        language: ``tr`` or ``en`` (other languages read English).
    """

    name: str
    sender_name: str
    sender_address: str
    reply_to: str | None
    logo_url: str | None
    primary_color: str
    secondary_color: str
    language: str


def _text(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _checked(value: str | None, pattern: re.Pattern[str]) -> str | None:
    value = _text(value)
    return value if value is not None and pattern.fullmatch(value) else None


def branding_of(tenant: Tenant, defaults: SenderDefaults) -> Branding:
    """The branding and sender of ``tenant`` (only its own record is read)."""
    settings = tenant.settings
    own_address = _text(settings.email_sender)
    language = (settings.language or "tr").lower()
    return Branding(
        name=tenant.name,
        sender_name=_text(settings.sender_name) or defaults.name or tenant.name,
        sender_address=own_address or defaults.address,
        reply_to=own_address,
        logo_url=_checked(settings.branding.logo_url, _URL),
        primary_color=_checked(settings.branding.primary_color, _COLOUR) or DEFAULT_PRIMARY,
        secondary_color=_checked(settings.branding.secondary_color, _COLOUR) or DEFAULT_SECONDARY,
        language="tr" if language.startswith("tr") else "en",
    )
