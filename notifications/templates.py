"""Messages rendered from Jinja2 templates: one template set per kind, Turkish and English.

``templates/<lang>/<kind>.jinja`` holds what a kind says (macros ``subject``,
``title``, ``lead``, ``sms``, rendered here as plain text);
``templates/<lang>/_common.jinja`` the words every message shares;
``email.html``, ``email.txt`` and ``sms.txt`` lay them out. HTML is
autoescaped, so customer names, reasons and branding stay data (the kind's
sentences reach it as plain text and are escaped like any value); the text
parts are not escaped. Branding is data (:class:`notifications.branding.Branding`):
the tenant's name, colours, logo and contact address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from notifications.branding import Branding
from notifications.formatting import local_datetime, money

LANGUAGES = ("tr", "en")
#: Account emails (``accounts.mail``): a link instead of booking details, laid
#: out by ``account_email.txt`` / ``account_email.html``; ``data["action_url"]``.
ACCOUNT_KINDS = frozenset({"account_verification", "account_password_reset", "account_invitation"})

_ENV = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


@dataclass(frozen=True)
class Rendered:
    """One rendered message: ``subject`` and ``text`` always, ``html`` for email."""

    subject: str
    text: str
    html: str | None = None


def _context(kind: str, brand: Branding, data: dict[str, Any], name: str | None) -> dict[str, Any]:
    lang = brand.language if brand.language in LANGUAGES else "en"
    location = ", ".join(p for p in (data.get("location_name"), data.get("location_place")) if p)
    return {
        "lang": lang,
        "kind_template": f"{lang}/{kind}.jinja",
        "brand": brand,
        "customer_name": name or data.get("customer_name"),
        "confirmation_number": data.get("confirmation_number") or "",
        "service": data.get("service_name") or "",
        "when": local_datetime(data.get("starts_at"), data.get("timezone"), lang),
        "previous_when": local_datetime(data.get("previous_starts_at"), data.get("timezone"), lang),
        "location": location,
        "price": money(data.get("final_price_minor"), data.get("currency"), lang),
        "cancel_reason": data.get("cancel_reason"),
        # Billing messages (issue 10): their own facts; no booking table in the layout.
        "data": data,
        "amount": money(data.get("amount_minor"), data.get("currency"), lang),
        "trial_ends": local_datetime(data.get("trial_ends_at"), data.get("timezone"), lang),
        "action_url": data.get("action_url") or "",
    }


def render(
    kind: str, channel: str, brand: Branding, data: dict[str, Any], name: str | None = None
) -> Rendered:
    """Render one message of ``kind`` for ``channel`` (``email`` or ``sms``).

    Args:
        brand: the tenant's branding (its language picks the template set).
        data: the message's snapshot (``domain.booking_messages.snapshot``).
        name: the recipient's name.

    Raises:
        jinja2.TemplateNotFound for a kind without templates.
    """
    context = _context(kind, brand, data, name)
    kind_module = _ENV.get_template(context["kind_template"]).make_module(context)
    for part in ("subject", "title", "lead", "sms"):
        # str(): plain text, whatever Jinja marks safe; the HTML layout escapes it.
        context[part] = " ".join(str(getattr(kind_module, part)()).split())
    common = _ENV.get_template(f"{context['lang']}/_common.jinja").make_module(context)
    context["greeting"] = str(common.greeting(context["customer_name"]))  # type: ignore[attr-defined]
    subject = context["subject"]
    if channel == "sms":
        text = " ".join(_ENV.get_template("sms.txt").render(context).split())
        return Rendered(subject=subject, text=text)
    layout = "account_email" if kind in ACCOUNT_KINDS else "email"
    text = _ENV.get_template(f"{layout}.txt").render(context).strip() + "\n"
    html = _ENV.get_template(f"{layout}.html").render(context)
    return Rendered(subject=subject, text=text, html=html)
