"""Email over SMTP with aiosmtplib: a bounded pool of connections, and a logging stand-in.

:class:`SmtpPool` keeps at most ``size`` connections (``APP_SMTP_POOL_SIZE``);
a send waits for a free one, reuses an idle connection, and opens a new one
(TLS or STARTTLS, login) when none is idle. A connection that fails is
closed, never returned to the pool; a pooled connection the server had
closed meanwhile is replaced once before the send counts as failed.

Failures become :class:`DeliveryError`: ``permanent`` when the server
refused the recipient for good (5xx), which retrying cannot fix; anything
else (connection refused, timeouts, 4xx, a dropped connection) is
transient and retried by the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A message could not be handed over. ``permanent``: retrying will not help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class MailTransport(Protocol):
    """Sends one email; returns the provider's id for it (its ``Message-ID``)."""

    async def send(self, message: EmailMessage) -> str: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to connect (``APP_SMTP_*`` settings).

    Attributes:
        security: ``tls`` (implicit TLS, port 465), ``starttls`` (required
            upgrade, port 587) or ``none`` (plain, e.g. a local catcher).
        timeout: seconds for connecting and for each command.
    """

    host: str
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    timeout: float = 10.0
    pool_size: int = 4


def _classify(exc: BaseException) -> DeliveryError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [error.code for error in exc.recipients]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        return DeliveryError(f"recipient refused: {exc}", permanent=permanent)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return DeliveryError(f"recipient refused: {exc}", permanent=exc.code >= 500)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(f"SMTP {exc.code}: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPException | OSError | asyncio.TimeoutError):
        return DeliveryError(f"SMTP unavailable: {type(exc).__name__}: {exc}")
    return DeliveryError(f"SMTP failure: {type(exc).__name__}: {exc}")


class SmtpPool:
    """A bounded pool of SMTP connections to one server (see the module docstring)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._slots = asyncio.Semaphore(config.pool_size)
        self._idle: list[aiosmtplib.SMTP] = []
        #: Connections opened since start (tests and the benchmark read it).
        self.connections_opened = 0

    async def _connect(self) -> aiosmtplib.SMTP:
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            timeout=config.timeout,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            username=config.username or None,
            password=config.password or None,
        )
        await client.connect()
        self.connections_opened += 1
        return client

    async def send(self, message: EmailMessage) -> str:
        """Send ``message`` to its ``To`` recipients; returns its ``Message-ID``.

        Raises:
            DeliveryError: the server refused it or could not be reached.
        """
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                if client is None or not client.is_connected:
                    client = await self._connect()
                try:
                    await client.send_message(message)
                except aiosmtplib.SMTPServerDisconnected:
                    # A pooled connection the server had closed (idle timeout): once more.
                    _close(client)
                    client = await self._connect()
                    await client.send_message(message)
            except Exception as exc:
                if client is not None:
                    _close(client)
                raise _classify(exc) from exc
            except BaseException:  # cancelled: the connection is in an unknown state
                if client is not None:
                    _close(client)
                raise
            self._idle.append(client)
        return str(message["Message-ID"])

    async def close(self) -> None:
        """Say QUIT on every idle connection (best effort)."""
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(Exception):
                await client.quit()


def _close(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        client.close()


class LogMailTransport:
    """No SMTP server configured (``APP_SMTP_HOST`` empty): each email is logged, not sent."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> str:
        log.info(
            "mail (not sent, no APP_SMTP_HOST): to=%s subject=%s",
            message["To"],
            message["Subject"],
        )
        self.sent.append(message)
        del self.sent[:-100]  # the latest ones, for a look in a debugger
        return str(message["Message-ID"])

    async def close(self) -> None:
        return None
