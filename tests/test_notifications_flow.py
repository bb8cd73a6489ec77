"""Issue 9's "Done when", over HTTP: the server (its lifespan runs the relay) with an SMTP
catcher; createBooking delivers a branded confirmation; with the catcher stopped a booking
still succeeds and its message waits, attempts counted; the catcher back, it arrives once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from domain.catalog import CatalogService, ServiceFields
from domain.collections import NOTIFICATION_OUTBOX
from graphql_api.app import create_app
from graphql_api.auth import TokenService
from tenancy.models import Tenant
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.notify_support import Received, SmtpCatcher, provision

CREATE = """
mutation($input: CreateBookingInput!) {
  createBooking(input: $input) {
    booking { id confirmationNumber status }
    userErrors { code message }
  }
}"""

SETTINGS = """
mutation($input: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $input) { userErrors { code message } }
}"""


async def eventually(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; bounded at 10 s."""
    for _ in range(1000):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def server(
    runtime: Runtime, settings: Settings, catcher: SmtpCatcher
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (so its relay) running, configured for the catcher."""
    runtime.settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": catcher.port,
            "smtp_security": "none",
            "smtp_timeout_seconds": 2.0,
            "mail_from_address": "no-reply@platform.example.com",
            "relay_in_server": True,
            "relay_poll_seconds": 0.02,
            "relay_backoff_base_seconds": 0.05,
            "relay_backoff_cap_seconds": 0.2,
            "relay_max_attempts": 100,  # the outage below must not make it dead
            "sms_enabled": False,
        }
    )
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.example.test") as c:
            yield c


async def _post(
    http: httpx.AsyncClient, tenant: Tenant, query: str, variables: dict[str, Any], **headers: str
) -> dict[str, Any]:
    response = await http.post(
        f"/t/{tenant.slug}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _book(
    http: httpx.AsyncClient, tenant: Tenant, service_id: str, day: int, email: str
) -> dict[str, Any]:
    data = await _post(
        http,
        tenant,
        CREATE,
        {
            "input": {
                "serviceId": service_id,
                "startsAt": f"2030-04-{day:02d}T10:00:00+03:00",
                "customer": {"name": "Ayşe Demir", "email": email},
            }
        },
    )
    payload = data["createBooking"]
    assert payload["userErrors"] == [], payload
    booking: dict[str, Any] = payload["booking"]
    return booking


def _for(catcher: SmtpCatcher, number: str) -> list[Received]:
    return [r for r in catcher.received if number in str(r.message["Subject"])]


async def test_an_http_booking_is_confirmed_by_branded_email_and_survives_an_smtp_outage(
    runtime: Runtime, server: httpx.AsyncClient, catcher: SmtpCatcher
) -> None:
    tenant = await provision(runtime, "west-clinic", language="tr")
    db = runtime.tenant_database(tenant)
    service = await CatalogService(db).create_service(
        ServiceFields(name="Verifi NIPT", duration_minutes=30, price_minor=185_000, currency="TRY")
    )
    owner = next(u for u in await runtime.store.users_of_tenant(tenant.id) if u.role == "admin")
    token = TokenService(runtime.settings).issue(owner, tenant)[0]
    branding = {
        "senderName": "West Randevu",
        "senderEmail": "randevu@westesti.example.com",
        "primaryColor": "#0A7D3B",
        "secondaryColor": "#EEF5F0",
        "logoUrl": "https://cdn.westesti.example.com/logo.png",
    }
    data = await _post(
        server, tenant, SETTINGS, {"input": branding}, authorization=f"Bearer {token}"
    )
    assert data["updateTenantSettings"]["userErrors"] == []
    runtime.registry.invalidate(tenant.slug)

    # 1. Booked over HTTP (anonymously, as the public booking page does): the relay the
    # lifespan started delivers the confirmation, branded with the tenant's settings.
    first = await _book(server, tenant, str(service["_id"]), 6, "ayse@example.com")
    number = first["confirmationNumber"]
    [received] = await eventually(lambda: _for(catcher, number), "the confirmation")
    message = received.message
    assert received.rcpt_tos == ["ayse@example.com"]
    assert message["From"] == "West Randevu <randevu@westesti.example.com>"
    assert message["Subject"] == f"Randevu talebiniz alındı ({number})"
    assert 'src="https://cdn.westesti.example.com/logo.png"' in received.html
    assert "#0A7D3B" in received.html and "#EEF5F0" in received.html
    assert "Verifi NIPT" in received.text and "1.850,00" in received.text
    assert "10:00" in received.text  # local time in the tenant's zone (Istanbul)

    # 2. The SMTP server goes away: booking still works, the message waits and counts.
    catcher.stop()
    second = await _book(server, tenant, str(service["_id"]), 7, "mehmet@example.com")
    outbox = db[NOTIFICATION_OUTBOX]
    key = f"booking_confirmation:{second['id']}:1:email"

    async def retried() -> dict[str, Any] | None:
        doc = await outbox.find_one({"_id": key})
        return doc if doc and doc["attempts"] >= 2 else None

    waiting = await eventually(retried, "two failed attempts")
    assert waiting["status"] == "pending" and waiting["last_error"]
    assert waiting["sent_at"] is None

    # 3. It comes back: the message is delivered, once.
    catcher.start()

    async def sent() -> dict[str, Any] | None:
        doc = await outbox.find_one({"_id": key})
        return doc if doc and doc["status"] == "sent" else None

    delivered = await eventually(sent, "delivery after the outage")
    assert delivered["attempts"] >= waiting["attempts"]  # (the last claim may have sent it)
    for _ in range(20):  # more relay passes send nothing again
        await asyncio.sleep(0.02)
    assert len(_for(catcher, second["confirmationNumber"])) == 1
    assert len(_for(catcher, number)) == 1
    statuses = {d["_id"]: d["status"] async for d in outbox.find({"kind": "booking_confirmation"})}
    assert set(statuses.values()) == {"sent"}
