"""Billing test support: the fake Stripe API (one per test session), settings pointing at
it, tenants, and signed webhook deliveries built with the stripe library's helper.

Test modules import the fixtures they use: ``from tests.billing_support import
billing, fake_stripe, settings`` (``settings`` overrides the conftest one with
the Stripe settings added).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import stripe
from pydantic import SecretStr

from billing.service import Billing
from tenancy import lifecycle
from tenancy.models import Role, Tenant
from tenancy.runtime import Runtime
from tenancy.settings import Settings
from tests.fake_stripe import FakeStripe, serve

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    """The fake Stripe API of this test process (state shared; tests use their own ids)."""
    with serve(FakeStripe()) as fake:
        yield fake


def with_stripe(settings: Settings, fake: FakeStripe) -> Settings:
    """``settings`` with billing on, against the fake."""
    return settings.model_copy(
        update={
            "stripe_secret_key": SecretStr("sk_test_fake"),
            "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "stripe_api_base": fake.url,
            "stripe_max_network_retries": 0,
            "billing_in_server": False,
        }
    )


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    return with_stripe(settings, fake_stripe)


@pytest.fixture
async def billing(runtime: Runtime) -> AsyncIterator[Billing]:
    service = Billing.build(runtime)
    yield service
    await service.close()


async def make_tenant(runtime: Runtime, slug: str, plan: str = "starter") -> Tenant:
    """A new tenant in its 14-day trial, owner ``owner@<slug>.example.com`` (admin)."""
    return await lifecycle.provision_tenant(
        runtime,
        lifecycle.ProvisionRequest(
            slug=slug,
            name=slug.title(),
            plan_key=plan,
            owner_email=f"owner@{slug}.example.com",
            owner_name="Owner",
            owner_password=PASSWORD,
        ),
        "test",
    )


def admin_token(gql: Any, runtime: Runtime, tenant: Tenant, user: Any) -> str:
    return str(gql.tokens.issue(user, tenant)[0])


async def owner_token(gql: Any, runtime: Runtime, tenant: Tenant) -> str:
    """A token of the tenant's owner (an admin)."""
    user = await runtime.store.user_by_email(tenant.id, f"owner@{tenant.slug}.example.com")
    assert user is not None and user.role == Role.ADMIN
    return admin_token(gql, runtime, tenant, user)


def signed(
    event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery, signed by ``stripe.WebhookSignature``."""
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp or int(time.time())
    )
    return payload.encode(), {"stripe-signature": header, "content-type": "application/json"}


async def deliver(
    client: httpx.AsyncClient, event: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    """POST ``event`` to ``/webhooks/stripe`` as Stripe does."""
    body, headers = signed(event, **kwargs)
    return await client.post("/webhooks/stripe", content=body, headers=headers)


async def outbox(runtime: Runtime, tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    """The tenant's outbox messages of ``kind``."""
    db = runtime.tenant_database(tenant)
    return [doc async for doc in db["notification_outbox"].find({"kind": kind})]


async def reload(runtime: Runtime, tenant: Tenant) -> Tenant:
    fresh = await runtime.store.tenant_by_id(tenant.id)
    assert fresh is not None
    return fresh
