"""One outbox message -> rendered in its tenant's language and branding -> its channel.

The email: ``From`` the tenant's sender (name and address) or the platform
default with the tenant's name, ``Reply-To`` the tenant's own address when
it differs from ``From`` (``Branding.reply_to``; today the tenant's settings
hold one address, its sender, so replies go to ``From``),
``Auto-Submitted: auto-generated`` (RFC 3834), a text part and an
HTML alternative. The ``Message-ID`` is derived from the tenant and the
message key, so a message sent twice (at-least-once delivery) carries the
same id both times and mail clients show it once.

Only the tenant record the relay passes is read: a message of tenant A is
never rendered with tenant B's branding or sender.
"""

from __future__ import annotations

import hashlib
import logging
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

from notifications.branding import Branding, SenderDefaults, branding_of
from notifications.sms import LoggingSmsProvider, SmsProvider
from notifications.smtp import DeliveryError, LogMailTransport, MailTransport, SmtpConfig, SmtpPool
from notifications.templates import Rendered, render
from tenancy.models import Tenant
from tenancy.settings import Settings

log = logging.getLogger(__name__)


def message_id(tenant: Tenant, key: str, sender_address: str) -> str:
    """``<hash@domain>``: the same for every send of one message of one tenant."""
    digest = hashlib.sha256(f"{tenant.id}:{key}".encode()).hexdigest()[:32]
    domain = sender_address.rpartition("@")[2] or "localhost"
    return f"<{digest}@{domain}>"


def build_email(
    tenant: Tenant, message: dict[str, Any], brand: Branding, rendered: Rendered
) -> EmailMessage:
    """The MIME message of one outbox email (headers as the module docstring says)."""
    email = EmailMessage()
    email["From"] = formataddr((brand.sender_name, brand.sender_address))
    email["To"] = formataddr((message.get("recipient_name") or "", message["recipient"]))
    if brand.reply_to and brand.reply_to != brand.sender_address:
        email["Reply-To"] = formataddr((brand.name, brand.reply_to))
    email["Subject"] = rendered.subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message_id(tenant, str(message["_id"]), brand.sender_address)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(rendered.text)
    if rendered.html is not None:
        email.add_alternative(rendered.html, subtype="html")
    return email


class Delivery:
    """Renders and sends outbox messages.

    Args:
        mail: the email transport (:class:`SmtpPool`, or :class:`LogMailTransport`).
        sms: the SMS provider.
        defaults: the platform's sender.
    """

    def __init__(self, mail: MailTransport, sms: SmsProvider, defaults: SenderDefaults) -> None:
        self.mail = mail
        self.sms = sms
        self.defaults = defaults

    async def send(self, tenant: Tenant, message: dict[str, Any]) -> str:
        """Send one claimed message of ``tenant``; returns the provider's message id.

        Raises:
            DeliveryError: not handed over (``permanent`` when retrying cannot help).
        """
        brand = branding_of(tenant, self.defaults)
        channel = message["channel"]
        try:
            rendered = render(
                message["kind"],
                channel,
                brand,
                message.get("data") or {},
                message.get("recipient_name"),
            )
        except Exception as exc:  # a template or data bug: retried, then dead with the reason
            raise DeliveryError(f"cannot render {message['kind']}: {exc}") from exc
        if channel == "sms":
            return await self.sms.send(message["recipient"], rendered.text, brand.name)
        if channel != "email":
            raise DeliveryError(f"unknown channel {channel!r}", permanent=True)
        return await self.mail.send(build_email(tenant, message, brand, rendered))

    async def close(self) -> None:
        await self.mail.close()


def build_delivery(settings: Settings) -> Delivery:
    """The delivery the settings describe: SMTP when ``APP_SMTP_HOST`` is set (else
    logged mail), the ``APP_SMS_PROVIDER`` (``log``), the platform sender."""
    mail: MailTransport
    if settings.smtp_host:
        mail = SmtpPool(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value(),
                timeout=settings.smtp_timeout_seconds,
                pool_size=settings.smtp_pool_size,
            )
        )
    else:
        if settings.is_production:
            log.warning("APP_SMTP_HOST is not set: notification email is only logged, not sent")
        mail = LogMailTransport()
    defaults = SenderDefaults(address=settings.mail_from_address, name=settings.mail_from_name)
    return Delivery(mail, LoggingSmsProvider(), defaults)
