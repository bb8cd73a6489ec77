"""Helpers of the notification tests: tenants, bookings written the outbox way, an SMTP catcher.

``book`` and ``change`` write a booking and its messages exactly as the
booking operations do (stage -> business write committing the keys ->
promote), so the tests exercise ``domain.outbox`` the way production does.
``SmtpCatcher`` is a real SMTP server (aiosmtpd) on a local port, which can
be stopped and started again on the same port (an outage).
"""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from bson import ObjectId

from domain.booking_messages import MessageKind, NotificationPolicy, Related
from domain.booking_outbox import BookingOutbox, merge_updates
from domain.collections import BOOKINGS
from domain.outbox import Outbox, Staged
from notifications.branding import SenderDefaults
from notifications.delivery import Delivery
from notifications.relay import Relay, RelayConfig
from notifications.sms import LoggingSmsProvider
from notifications.smtp import SmtpConfig, SmtpPool
from tenancy import lifecycle
from tenancy.models import Tenant, utcnow
from tenancy.runtime import Runtime

PLATFORM_SENDER = SenderDefaults(address="no-reply@platform.test", name="")
RELATED = Related(
    customer={"name": "Ayşe Demir", "email": "ayse@example.com", "phone": "+90 532 111 2233"},
    service={"name": "Verifi NIPT"},
    location={"name": "İzmir Alsancak", "city": "İzmir", "district": "Alsancak"},
)
EMAIL_ONLY = NotificationPolicy(sms=False)
_SEQUENCE = itertools.count(1)


async def provision(runtime: Runtime, slug: str, **settings: Any) -> Tenant:
    """A new tenant (through the product's provisioning); ``settings`` set on its record."""
    tenant = await lifecycle.provision_tenant(
        runtime,
        lifecycle.ProvisionRequest(
            slug=slug,
            name=slug.replace("-", " ").title(),
            owner_email=f"owner@{slug}.example.com",
            owner_name="Owner",
            owner_password="a-long-enough-password",
            language=settings.pop("language", "tr"),
        ),
        actor="test",
    )
    changes = {"status": "active", **{f"settings.{k}": v for k, v in settings.items()}}
    return await runtime.store.update_tenant(tenant.id, changes)


def outbox_of(runtime: Runtime, tenant: Tenant) -> Outbox:
    return Outbox(runtime.tenant_database(tenant), tenant.id, runtime.store.mark_notifications_due)


async def book(
    runtime: Runtime,
    tenant: Tenant,
    *,
    starts_in: timedelta = timedelta(days=3),
    rel: Related = RELATED,
    notification_policy: NotificationPolicy = EMAIL_ONLY,
) -> tuple[dict[str, Any], Staged]:
    """A new booking and its confirmation (and reminder), committed and promoted."""
    now = utcnow()
    starts = (now + starts_in).replace(second=0, microsecond=0)
    booking = {
        "_id": ObjectId(),
        "status": "pending",
        "version": 1,
        "confirmation_number": f"WE-2611-{next(_SEQUENCE):05d}",
        "starts_at": starts,
        "ends_at": starts + timedelta(minutes=30),
        "timezone": "Europe/Istanbul",
        "duration_minutes": 30,
        "currency": "TRY",
        "price_minor": 185_000,
        "discount_minor": 0,
        "final_price_minor": 185_000,
    }
    notes = BookingOutbox(
        runtime.tenant_database(tenant),
        tenant,
        runtime.store.mark_notifications_due,
        notification_policy,
    )
    staged = await notes.prepare(MessageKind.BOOKING_CONFIRMATION, booking, 1, rel=rel)
    db = runtime.tenant_database(tenant)
    await db[BOOKINGS].insert_one({**booking, **notes.commit_fields(staged)})
    await notes.committed(staged)
    return booking, staged


async def change(
    runtime: Runtime,
    tenant: Tenant,
    booking: dict[str, Any],
    kind: MessageKind,
    changes: dict[str, Any],
    *,
    promote: bool = True,
    commit: bool = True,
) -> tuple[dict[str, Any], Staged]:
    """A change of ``booking`` (new status or start) written the outbox way.

    ``commit=False`` stops after staging (a crash before the business write);
    ``promote=False`` stops after it (a crash before the promotion).
    """
    version = booking["version"] + 1
    after = {**booking, **changes, "version": version}
    db = runtime.tenant_database(tenant)
    notes = BookingOutbox(db, tenant, runtime.store.mark_notifications_due, EMAIL_ONLY)
    staged = await notes.prepare(kind, after, version, previous=booking, rel=RELATED)
    if commit:
        result = await db[BOOKINGS].update_one(
            {"_id": booking["_id"], "version": booking["version"]},
            merge_updates({"$set": changes, "$inc": {"version": 1}}, notes.commit_update(staged)),
        )
        assert result.modified_count == 1
        if promote:
            await notes.committed(staged)
    return after, staged


class Clock:
    """The relay's clock: now, moved forward by tests (no sleeping)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class Received:
    """One message the catcher accepted: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else ""


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 queued"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpCatcher:
    """An in-process SMTP server (aiosmtpd) on a fixed local port; stop() is an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def delivery(self, pool_size: int = 2) -> Delivery:
        config = SmtpConfig(
            host="127.0.0.1", port=self.port, security="none", timeout=5, pool_size=pool_size
        )
        return Delivery(SmtpPool(config), LoggingSmsProvider(), PLATFORM_SENDER)


def relay(runtime: Runtime, delivery: Delivery, clock: Clock | None = None, **config: Any) -> Relay:
    """A relay for tests: short polls, the given clock, a seeded jitter."""
    import random

    settings = {"poll_seconds": 0.01, "shutdown_grace_seconds": 2.0, **config}
    return Relay(
        runtime,
        delivery,
        RelayConfig(**settings),
        clock=clock or Clock(),
        rng=random.Random(7),
    )
