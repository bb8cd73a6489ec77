"""SMS behind a provider interface; the default provider only logs (no external service).

A provider receives the recipient's number, the text and the sender name
and returns its id for the message, or raises
:class:`notifications.smtp.DeliveryError` (``permanent`` when retrying cannot
help). SMS messages go through the same outbox, relay and retry rules as
email. ``APP_SMS_PROVIDER`` picks the provider (``log`` only, for now).
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

log = logging.getLogger(__name__)


class SmsProvider(Protocol):
    """Sends one SMS; returns the provider's message id."""

    async def send(self, to: str, text: str, sender: str) -> str: ...


class LoggingSmsProvider:
    """Writes each SMS to the log and keeps the last ones (for tests and a look in a debugger)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to: str, text: str, sender: str) -> str:
        message_id = f"log-{uuid.uuid4().hex}"
        log.info("sms (logged, not sent) id=%s from=%s to=%s: %s", message_id, sender, to, text)
        self.sent.append((to, text, sender))
        del self.sent[:-1000]
        return message_id
