"""The relay (issue 9, items 2-6 and 9): real SMTP delivery to an in-process aiosmtpd
server, retries with backoff, dead messages, leases (racing relays, a crashed relay,
graceful shutdown), tenant isolation, and many tenants without polling their databases."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId
from pymongo import monitoring

from domain.collections import NOTIFICATION_OUTBOX
from domain.outbox_queue import claim, retry_dead
from notifications.backoff import backoff_ceiling, backoff_delay
from notifications.branding import (
    DEFAULT_PRIMARY,
    DEFAULT_SECONDARY,
    Branding,
    SenderDefaults,
    branding_of,
)
from notifications.delivery import Delivery
from notifications.sms import LoggingSmsProvider
from notifications.smtp import SmtpConfig, SmtpPool
from notifications.templates import LANGUAGES, render
from notifications.worker import RelayWorker
from tenancy.clients import ClientRegistry
from tenancy.models import Tenant, utcnow
from tenancy.platform import NOTIFICATION_DUE
from tenancy.runtime import Runtime
from tests.notify_support import (
    PLATFORM_SENDER,
    RELATED,
    Clock,
    SmtpCatcher,
    book,
    provision,
    relay,
)


async def _outbox(runtime: Runtime, tenant: Tenant) -> list[dict[str, Any]]:
    cursor = runtime.tenant_database(tenant)[NOTIFICATION_OUTBOX].find({}).sort("_id", 1)
    return [doc async for doc in cursor]


async def test_a_confirmation_reaches_the_smtp_server_branded_with_headers(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    tenant = await provision(
        runtime, "west-clinic", email_sender="randevu@westesti.com", language="tr"
    )
    booking, _ = await book(runtime, tenant, starts_in=timedelta(hours=3))
    sender = relay(runtime, catcher.delivery())
    await sender.run_once()

    [received] = catcher.received
    assert received.rcpt_tos == ["ayse@example.com"]
    assert received.mail_from == "randevu@westesti.com"
    message = received.message
    assert message["From"] == "West Clinic <randevu@westesti.com>"
    assert message["To"] == "Ayşe Demir <ayse@example.com>"
    assert "Reply-To" not in message  # replies go to the sender address itself
    assert message["Subject"] == f"Randevu talebiniz alındı ({booking['confirmation_number']})"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@westesti.com>")
    local = booking["starts_at"].astimezone(ZoneInfo("Europe/Istanbul"))
    assert f"{local:%H:%M}" in received.text
    for text in (received.text, received.html):
        assert booking["confirmation_number"] in text
        assert "Verifi NIPT" in text and "İzmir Alsancak" in text
        assert "1.850,00" in text  # the price, in Turkish
        assert "West Clinic" in text
    assert 'lang="tr"' in received.html

    [doc] = await _outbox(runtime, tenant)
    assert doc["status"] == "sent" and doc["attempts"] == 1
    assert doc["provider_message_id"] == message["Message-ID"]
    assert doc["sent_at"] is not None and doc["lease_owner"] is None
    # Nothing else is due: the tenant's record is rescheduled or gone, never left due.
    due = await runtime.store.db[NOTIFICATION_DUE].find_one({"_id": tenant.id})
    assert due is None or due["due_at"] > utcnow()


async def test_platform_sender_with_the_tenants_reply_to(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    tenant = await provision(runtime, "tromb-lab", language="en")
    await book(runtime, tenant, starts_in=timedelta(hours=3))
    await relay(runtime, catcher.delivery()).run_once()
    [received] = catcher.received
    assert received.message["From"] == "Tromb Lab <no-reply@platform.test>"
    assert received.message["Subject"].startswith("We received your booking")
    assert "Dear Ayşe Demir," in received.text

    brand = branding_of(
        tenant.model_copy(
            update={"settings": tenant.settings.model_copy(update={"email_sender": None})}
        ),
        SenderDefaults("no-reply@platform.test"),
    )
    assert brand.reply_to is None  # no tenant address at all: no Reply-To header


async def test_smtp_down_the_message_waits_then_is_delivered_exactly_once(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    tenant = await provision(runtime, "west-clinic")
    catcher.stop()  # the outage starts before the booking
    booking, _ = await book(runtime, tenant, starts_in=timedelta(hours=3))  # still booked
    clock = Clock()
    sender = relay(runtime, catcher.delivery(), clock)
    for _ in range(3):
        await sender.run_once()
        clock.advance(seconds=30)  # past any backoff of the first attempts (base 2 s)
    [doc] = await _outbox(runtime, tenant)
    assert doc["status"] == "pending" and doc["attempts"] == 3
    assert "SMTP unavailable" in doc["last_error"]
    assert doc["next_attempt_at"] > utcnow()  # waits for its backoff
    assert sender.stats.retried == 3

    catcher.start()
    clock.advance(hours=1)
    await sender.run_once()
    await sender.run_once()
    [doc] = await _outbox(runtime, tenant)
    assert doc["status"] == "sent" and doc["attempts"] == 4
    assert len(catcher.received) == 1
    assert booking["confirmation_number"] in catcher.received[0].message["Subject"]


async def test_after_max_attempts_a_message_is_dead_and_can_be_retried(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    tenant = await provision(runtime, "west-clinic")
    catcher.stop()
    await book(runtime, tenant, starts_in=timedelta(hours=3))
    clock = Clock()
    sender = relay(runtime, catcher.delivery(), clock, max_attempts=3)
    for _ in range(4):
        await sender.run_once()
        clock.advance(minutes=5)
    [doc] = await _outbox(runtime, tenant)
    assert doc["status"] == "dead" and doc["attempts"] == 3
    assert "SMTP unavailable" in doc["last_error"]
    assert sender.stats.dead == 1

    catcher.start()
    db = runtime.tenant_database(tenant)
    assert await retry_dead(db, "not-a-message", utcnow()) is None
    retried = await retry_dead(db, doc["_id"], clock())
    assert retried["status"] == "pending" and retried["attempts"] == 0
    await runtime.store.mark_notifications_due(tenant.id, clock())
    await sender.run_once()
    assert len(catcher.received) == 1
    assert (await _outbox(runtime, tenant))[0]["status"] == "sent"


async def test_a_refused_recipient_is_dead_at_once(runtime: Runtime, catcher: SmtpCatcher) -> None:
    tenant = await provision(runtime, "west-clinic")
    catcher.handler.refuse.add("ayse@example.com")
    await book(runtime, tenant, starts_in=timedelta(hours=3))
    sender = relay(runtime, catcher.delivery())
    await sender.run_once()
    [doc] = await _outbox(runtime, tenant)
    assert doc["status"] == "dead" and doc["attempts"] == 1
    assert "550" in doc["last_error"]


async def test_two_relays_racing_send_each_message_once(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    tenant = await provision(runtime, "west-clinic")
    for _ in range(12):
        await book(runtime, tenant, starts_in=timedelta(hours=3))
    one = relay(runtime, catcher.delivery(pool_size=3))
    two = relay(runtime, catcher.delivery(pool_size=3))
    db = runtime.tenant_database(tenant)
    # Both relays work the same tenant at once (as if each had claimed it).
    await asyncio.gather(one._drain(tenant, db), two._drain(tenant, db))
    subjects = [r.message["Subject"] for r in catcher.received]
    assert len(subjects) == 12 and len(set(subjects)) == 12
    assert one.stats.sent + two.stats.sent == 12
    assert {d["status"] for d in await _outbox(runtime, tenant)} == {"sent"}


async def test_a_crashed_relays_lease_expires_and_another_relay_delivers(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    tenant = await provision(runtime, "west-clinic")
    await book(runtime, tenant, starts_in=timedelta(hours=3))
    db = runtime.tenant_database(tenant)
    # A relay claims the message (and the tenant), then dies before sending.
    crashed = await runtime.store.claim_due_tenant("crashed-relay", 60, utcnow())
    assert crashed is not None
    message = await claim(db, "pending", "crashed-relay", timedelta(seconds=60), utcnow())
    assert message is not None and message["attempts"] == 1
    clock = Clock()
    survivor = relay(runtime, catcher.delivery(), clock)
    await survivor.run_once()
    assert catcher.received == []  # both leases still run
    clock.advance(seconds=61)
    await survivor.run_once()
    assert len(catcher.received) == 1
    [doc] = await _outbox(runtime, tenant)
    assert doc["status"] == "sent" and doc["attempts"] == 2  # the crashed attempt counts


async def test_graceful_shutdown_releases_the_lease_of_an_unfinished_send(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    tenant = await provision(runtime, "west-clinic")
    await book(runtime, tenant, starts_in=timedelta(hours=3))
    started = asyncio.Event()

    class StuckMail:
        async def send(self, message: Any) -> str:
            started.set()
            await asyncio.sleep(3600)  # a server that never answers
            raise AssertionError("unreachable")

        async def close(self) -> None:
            return None

    stuck = relay(
        runtime,
        Delivery(StuckMail(), LoggingSmsProvider(), PLATFORM_SENDER),
        shutdown_grace_seconds=0.05,
    )
    worker = RelayWorker(runtime, stuck)
    await worker.start()
    await asyncio.wait_for(started.wait(), 10)
    await worker.stop()
    [doc] = await _outbox(runtime, tenant)
    assert doc["status"] == "pending" and doc["lease_owner"] is None
    assert doc["attempts"] == 0  # the interrupted attempt is not counted
    assert doc["next_attempt_at"] <= utcnow()  # due again at once
    due = await runtime.store.db[NOTIFICATION_DUE].find_one({"_id": tenant.id})
    assert due["lease_owner"] is None and due["due_at"] <= utcnow()
    await relay(runtime, catcher.delivery()).run_once()
    assert len(catcher.received) == 1


async def test_each_tenants_messages_use_only_its_own_sender_and_language(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    west = await provision(runtime, "west-clinic", email_sender="info@westesti.com")
    quattro = await provision(
        runtime, "quattro-stand", email_sender="hello@quattro.example.com", language="en"
    )
    for tenant in (west, quattro, west, quattro):
        await book(runtime, tenant, starts_in=timedelta(hours=3))
    read: list[str] = []
    original = runtime.store.tenant_by_id

    async def tenant_by_id(tenant_id: Any) -> Tenant | None:
        found = await original(tenant_id)
        read.append(found.slug if found else "?")
        return found

    runtime.store.tenant_by_id = tenant_by_id  # type: ignore[method-assign]
    sender = relay(runtime, catcher.delivery(), concurrency=2)
    await sender.run_once()
    assert sorted(read) == ["quattro-stand", "west-clinic"]  # one record read per pass
    by_sender: dict[str, list[Any]] = {}
    for received in catcher.received:
        by_sender.setdefault(received.mail_from, []).append(received.message)
    assert set(by_sender) == {"info@westesti.com", "hello@quattro.example.com"}
    for message in by_sender["info@westesti.com"]:
        assert message["From"] == "West Clinic <info@westesti.com>"
        assert message["Subject"].startswith("Randevu talebiniz alındı")
        body = message.get_body(("plain",)).get_content()
        assert "Quattro" not in body and "quattro" not in message["Message-ID"]
    for message in by_sender["hello@quattro.example.com"]:
        assert message["From"] == "Quattro Stand <hello@quattro.example.com>"
        assert message["Subject"].startswith("We received your booking")
        assert "West" not in message.get_body(("plain",)).get_content()


class _Commands(monitoring.CommandListener):
    """Database names of the commands a client sent."""

    def __init__(self) -> None:
        self.databases: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.databases.append(event.database_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_the_relay_touches_only_tenants_with_due_messages(
    runtime: Runtime, catcher: SmtpCatcher, backend: Any
) -> None:
    tenants = [await provision(runtime, f"tenant-{i:02d}") for i in range(8)]
    due, later, idle = tenants[:3], tenants[3:5], tenants[5:]
    for tenant in due:
        await book(runtime, tenant, starts_in=timedelta(hours=3))
    for tenant in later:  # only a confirmation long sent and a reminder in 2 days
        await book(runtime, tenant, starts_in=timedelta(days=3))
        db = runtime.tenant_database(tenant)
        await db[NOTIFICATION_OUTBOX].update_many(
            {"kind": "booking_confirmation"}, {"$set": {"status": "sent"}}
        )
        await runtime.store.db[NOTIFICATION_DUE].update_one(
            {"_id": tenant.id}, {"$set": {"due_at": utcnow() + timedelta(days=2)}}
        )

    listener = _Commands()
    clients = ClientRegistry(runtime.settings.cluster_urls(), {"event_listeners": [listener]})
    watched = Runtime.build(runtime.settings, clients, upgrade_schema=runtime.upgrade_schema)
    opened: list[str] = []
    original = watched.tenant_database

    def tenant_database(tenant: Tenant) -> Any:
        opened.append(tenant.slug)
        return original(tenant)

    watched.tenant_database = tenant_database  # type: ignore[method-assign]
    try:
        sender = relay(watched, catcher.delivery(), concurrency=4)
        assert await sender.run_once() == 3
        assert sorted(opened) == sorted(t.slug for t in due)
        assert len(catcher.received) == 3
        if not backend.is_mock:  # the mock sends no command events
            touched = set(listener.databases) - {runtime.settings.platform_db}
            assert touched == {t.database.name for t in due}, touched
        opened.clear()
        assert await sender.run_once() == 0  # nothing due: not even the platform record
        assert opened == []
        assert {t.slug for t in idle}.isdisjoint(opened)
    finally:
        await watched.close()


async def test_a_suspended_tenants_messages_are_held(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    tenant = await provision(runtime, "west-clinic")
    await book(runtime, tenant, starts_in=timedelta(hours=3))
    await runtime.store.update_tenant(tenant.id, {"status": "suspended"})
    sender = relay(runtime, catcher.delivery())
    await sender.run_once()
    assert catcher.received == [] and sender.stats.held == 1
    due = await runtime.store.db[NOTIFICATION_DUE].find_one({"_id": tenant.id})
    assert due["due_at"] > utcnow() + timedelta(minutes=4)
    await runtime.store.update_tenant(tenant.id, {"status": "active"})
    clock = Clock()
    clock.advance(minutes=6)
    await relay(runtime, catcher.delivery(), clock).run_once()
    assert len(catcher.received) == 1


async def test_sms_goes_through_the_same_outbox_to_the_logging_provider(
    runtime: Runtime, catcher: SmtpCatcher
) -> None:
    from domain.booking_messages import NotificationPolicy

    tenant = await provision(runtime, "west-clinic")
    await book(
        runtime, tenant, starts_in=timedelta(hours=3), notification_policy=NotificationPolicy()
    )
    delivery = catcher.delivery()
    await relay(runtime, delivery).run_once()
    assert isinstance(delivery.sms, LoggingSmsProvider)
    [(to, text, sender)] = delivery.sms.sent
    assert to == RELATED.customer["phone"] and sender == "West Clinic"
    assert text.startswith("West Clinic: ") and "Verifi NIPT" in text
    docs = {d["channel"]: d for d in await _outbox(runtime, tenant)}
    assert docs["sms"]["status"] == "sent" and docs["sms"]["provider_message_id"].startswith("log-")
    assert docs["email"]["status"] == "sent"


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    assert [backoff_ceiling(n, 2.0, 60.0) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff_ceiling(10_000, 2.0, 900.0) == 900.0
    rng = random.Random(1)
    delays = [backoff_delay(5, 2.0, 900.0, rng).total_seconds() for _ in range(500)]
    assert all(0 <= d <= 32 for d in delays)
    assert min(delays) < 4 and max(delays) > 28  # spread over the whole range


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "kind",
    [
        "booking_confirmation",
        "booking_confirmed",
        "booking_rescheduled",
        "booking_cancelled",
        "booking_no_show",
        "booking_reminder",
    ],
)
def test_every_kind_renders_in_both_languages_and_escapes_html(kind: str, language: str) -> None:
    brand = Branding(
        name="Omega <West>",
        sender_name="Omega West",
        sender_address="info@westesti.com",
        reply_to="kvkk&info@westesti.com",
        logo_url="https://cdn.example.com/logo.png",
        primary_color="#123abc",
        secondary_color="#fafafa",
        language=language,
    )
    data = {
        "confirmation_number": "WE-2611-00042",
        "service_name": "NIPT <script>alert(1)</script>",
        "starts_at": utcnow() + timedelta(days=2),
        "previous_starts_at": utcnow() + timedelta(days=1),
        "timezone": "Europe/Istanbul",
        "location_name": "İzmir Alsancak",
        "final_price_minor": 185_000,
        "currency": "TRY",
        "cancel_reason": "müşteri & iptal",
    }
    email = render(kind, "email", brand, data, "Ayşe <Demir>")
    assert email.subject and "\n" not in email.subject
    assert "WE-2611-00042" in email.text and "WE-2611-00042" in email.html
    assert email.html is not None and "<script>" not in email.html
    assert "NIPT &lt;script&gt;" in email.html and "Ayşe &lt;Demir&gt;" in email.html
    assert "NIPT <script>" in email.text  # the text part is not HTML
    assert 'src="https://cdn.example.com/logo.png"' in email.html and "#123abc" in email.html
    assert "kvkk&amp;info@westesti.com" in email.html and "#fafafa" in email.html
    sms = render(kind, "sms", brand, data)
    assert sms.text.startswith("Omega <West>: ") and "\n" not in sms.text


def test_branding_comes_from_the_tenant_settings_and_is_checked() -> None:
    tenant = Tenant.model_validate(
        {
            "_id": ObjectId(),
            "slug": "omega",
            "name": "Omega",
            "database": {"cluster": "default", "name": "t_omega"},
            "database_key": "omega",
            "subscription": {"plan_key": "starter"},
            "settings": {
                "language": "tr-TR",
                "sender_name": " Omega Randevu ",
                "email_sender": "randevu@omega.example.com",
                "branding": {
                    "primary_color": "#0a7d3b",
                    "secondary_color": "#eef",
                    "logo_url": "https://cdn.omega.example.com/logo.png",
                },
            },
        }
    )
    brand = branding_of(tenant, SenderDefaults("no-reply@platform.test", "Platform"))
    assert (brand.name, brand.sender_name) == ("Omega", "Omega Randevu")
    assert brand.sender_address == brand.reply_to == "randevu@omega.example.com"
    assert (brand.primary_color, brand.secondary_color) == ("#0a7d3b", "#eef")
    assert brand.logo_url == "https://cdn.omega.example.com/logo.png"
    assert brand.language == "tr"

    # Values written around updateTenantSettings (imports, direct edits) that
    # would reach HTML attributes fall back to the defaults.
    unchecked = tenant.settings.branding.model_copy(
        update={
            "primary_color": "red;background:url(x)",
            "secondary_color": "#12345",
            "logo_url": "javascript:alert(1)",
        }
    )
    bare = tenant.model_copy(
        update={
            "settings": tenant.settings.model_copy(
                update={
                    "branding": unchecked,
                    "sender_name": None,
                    "email_sender": None,
                    "language": "de",
                }
            )
        }
    )
    brand = branding_of(bare, SenderDefaults("no-reply@platform.test", "Platform"))
    assert (brand.primary_color, brand.secondary_color) == (DEFAULT_PRIMARY, DEFAULT_SECONDARY)
    assert brand.logo_url is None
    assert (brand.sender_name, brand.sender_address) == ("Platform", "no-reply@platform.test")
    assert brand.reply_to is None and brand.language == "en"


async def test_a_pooled_connection_is_reused(catcher: SmtpCatcher) -> None:
    from email.message import EmailMessage

    pool = SmtpPool(SmtpConfig(host="127.0.0.1", port=catcher.port, security="none", pool_size=2))
    for i in range(5):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@x.example", "b@y.example", str(i)
        message["Message-ID"] = f"<{i}@x.example>"
        message.set_content("hi")
        assert await pool.send(message) == f"<{i}@x.example>"
    await pool.close()
    assert pool.connections_opened == 1 and len(catcher.received) == 5
