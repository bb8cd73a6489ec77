"""A tenant's branding and sender, read from its record with safe defaults.

Tenant settings grow branding fields (sender name and address, logo URL,
colours, footer, contact); records written before them lack them, so every
field is read with a default (``getattr``), from ``settings`` or from a
nested ``settings.branding``. Values that reach HTML attributes are checked
here: colours must be ``#rgb``/``#rrggbb``, the logo an ``https://`` (or
``http://``) URL; anything else falls back to the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tenancy.models import Tenant

_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_URL = re.compile(r"https?://[^\s\"'<>]+")
DEFAULT_PRIMARY = "#1f4e79"
DEFAULT_ACCENT = "#f2f5f9"


@dataclass(frozen=True)
class SenderDefaults:
    """The platform's sender (``APP_MAIL_FROM_ADDRESS``, ``APP_MAIL_FROM_NAME``)."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class Branding:
    """What the templates and the email headers use of one tenant.

    Attributes:
        name: the tenant's display name.
        sender_name / sender_address: the ``From`` (tenant's, else the platform's).
        reply_to: where replies go (the tenant's reply-to or contact address,
            or its own sender address); ``None`` when the tenant gave none.
        logo_url, primary_color, accent_color, footer, contact_email,
        contact_phone, website: template data.
        language: ``tr`` or ``en`` (other languages read English).
    """

    name: str
    sender_name: str
    sender_address: str
    reply_to: str | None
    logo_url: str | None
    primary_color: str
    accent_color: str
    footer: str | None
    contact_email: str | None
    contact_phone: str | None
    website: str | None
    language: str


def _pick(settings: Any, *names: str) -> str | None:
    """The first non-empty text among ``names`` in ``settings`` or ``settings.branding``."""
    nested = getattr(settings, "branding", None)
    for source in (settings, nested):
        if source is None:
            continue
        for name in names:
            value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _checked(value: str | None, pattern: re.Pattern[str]) -> str | None:
    return value if value is not None and pattern.fullmatch(value) else None


def branding_of(tenant: Tenant, defaults: SenderDefaults) -> Branding:
    """The branding and sender of ``tenant`` (only its own record is read)."""
    settings = tenant.settings
    tenant_name = _pick(settings, "name", "display_name") or tenant.name
    own_address = _pick(settings, "sender_email", "email_sender", "sender_address")
    contact = _pick(settings, "contact_email", "support_email")
    language = (getattr(settings, "language", None) or "tr").lower()
    return Branding(
        name=tenant_name,
        sender_name=_pick(settings, "sender_name") or defaults.name or tenant_name,
        sender_address=own_address or defaults.address,
        reply_to=_pick(settings, "reply_to", "reply_to_email") or contact or own_address,
        logo_url=_checked(_pick(settings, "logo_url"), _URL),
        primary_color=_checked(_pick(settings, "primary_color", "brand_color"), _COLOUR)
        or DEFAULT_PRIMARY,
        accent_color=_checked(_pick(settings, "accent_color", "secondary_color"), _COLOUR)
        or DEFAULT_ACCENT,
        footer=_pick(settings, "footer", "email_footer"),
        contact_email=contact,
        contact_phone=_pick(settings, "contact_phone", "phone"),
        website=_checked(_pick(settings, "website", "website_url"), _URL),
        language="tr" if language.startswith("tr") else "en",
    )
