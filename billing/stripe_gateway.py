"""The one module that talks to Stripe (the official ``stripe`` library, async over httpx).

Everything else in ``billing`` sees plain ``dict`` objects shaped like
Stripe's API resources (``to_dict()`` of the library's objects), so no
other module imports ``stripe`` (a test checks it). Every POST carries the
idempotency key its caller persisted before the first attempt
(:class:`billing.store.BillingStore.idempotency_key`); the library's own
network retries reuse it.

Errors: any failure of Stripe (refused, unreachable, timed out) is raised as
``AppError(BILLING_PROVIDER_FAILED)`` with Stripe's message; a webhook whose
signature does not verify raises :class:`SignatureInvalid`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import stripe

from tenancy.errors import AppError, ErrorCode

T = TypeVar("T")
StripeDict = dict[str, Any]


class SignatureInvalid(Exception):
    """The ``Stripe-Signature`` header is missing, forged, or older than the tolerance."""


def _plain(obj: Any) -> StripeDict:
    """A library object as a plain dictionary (nested objects included)."""
    return dict(obj.to_dict()) if hasattr(obj, "to_dict") else dict(obj)


class StripeGateway:
    """Async access to the few Stripe API calls billing needs.

    Args:
        secret_key: the Stripe secret key (``sk_test_...``).
        api_base: another API address (a local fake in tests), or ``""`` for Stripe's.
        max_network_retries: the library's retries of a failed connection (same key).
        timeout_seconds: per request.
    """

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str = "",
        max_network_retries: int = 2,
        timeout_seconds: float = 20.0,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout_seconds)
        bases: Any = {"api": api_base} if api_base else None
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses=bases,
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _call(self, what: str, call: Callable[[], Awaitable[Any]]) -> StripeDict:
        try:
            return _plain(await call())
        except stripe.StripeError as exc:
            message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
            raise AppError(
                ErrorCode.BILLING_PROVIDER_FAILED, f"Stripe could not {what}: {message}"
            ) from exc

    # -- customers, checkout, portal ------------------------------------

    async def create_customer(self, params: StripeDict, idempotency_key: str) -> StripeDict:
        """POST /v1/customers."""
        return await self._call(
            "create the customer",
            lambda: self._client.v1.customers.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )

    async def create_checkout_session(self, params: StripeDict, idempotency_key: str) -> StripeDict:
        """POST /v1/checkout/sessions (subscription mode; the caller builds ``params``)."""
        return await self._call(
            "start the checkout",
            lambda: self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )

    async def create_portal_session(self, params: StripeDict, idempotency_key: str) -> StripeDict:
        """POST /v1/billing_portal/sessions."""
        return await self._call(
            "open the billing portal",
            lambda: self._client.v1.billing_portal.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )

    # -- subscriptions and invoices -------------------------------------

    async def retrieve_subscription(self, subscription_id: str) -> StripeDict:
        """GET /v1/subscriptions/{id}: the current state, whatever event announced it."""
        return await self._call(
            "read the subscription",
            lambda: self._client.v1.subscriptions.retrieve_async(subscription_id),
        )

    async def update_subscription(
        self, subscription_id: str, params: StripeDict, idempotency_key: str
    ) -> StripeDict:
        """POST /v1/subscriptions/{id} (plan change, cancel at period end)."""
        return await self._call(
            "change the subscription",
            lambda: self._client.v1.subscriptions.update_async(
                subscription_id,
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )

    async def list_subscriptions(self, customer_id: str) -> list[StripeDict]:
        """GET /v1/subscriptions?customer=...&status=all (first page: newest first)."""
        page = await self._call(
            "list the subscriptions",
            lambda: self._client.v1.subscriptions.list_async(
                {"customer": customer_id, "status": "all", "limit": 10}
            ),
        )
        return list(page.get("data") or [])

    async def retrieve_invoice(self, invoice_id: str) -> StripeDict:
        """GET /v1/invoices/{id}."""
        return await self._call(
            "read the invoice", lambda: self._client.v1.invoices.retrieve_async(invoice_id)
        )

    # -- products and prices (tenantctl billing sync-plans) -------------

    async def find_price(self, lookup_key: str) -> StripeDict | None:
        """The active price with this ``lookup_key``, or ``None``."""
        page = await self._call(
            "list the prices",
            lambda: self._client.v1.prices.list_async(
                {"lookup_keys": [lookup_key], "active": True, "limit": 1}
            ),
        )
        found = page.get("data") or []
        return dict(found[0]) if found else None

    async def create_product(self, params: StripeDict, idempotency_key: str) -> StripeDict:
        """POST /v1/products."""
        return await self._call(
            "create the product",
            lambda: self._client.v1.products.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )

    async def create_price(self, params: StripeDict, idempotency_key: str) -> StripeDict:
        """POST /v1/prices."""
        return await self._call(
            "create the price",
            lambda: self._client.v1.prices.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )


def verify_event(payload: bytes, header: str | None, secret: str, tolerance: int) -> StripeDict:
    """Check a webhook's ``Stripe-Signature`` (HMAC-SHA256 over ``t.payload``) and parse it.

    Args:
        payload: the raw request body, exactly as received.
        header: the ``Stripe-Signature`` header.
        secret: the endpoint's signing secret (``whsec_...``).
        tolerance: seconds; an older timestamp is refused (replays).

    Returns:
        The event as a plain dictionary (``id``, ``type``, ``data.object``...).

    Raises:
        SignatureInvalid: header missing or malformed, no matching signature,
            timestamp outside the tolerance, or a body that is not a JSON event.
    """
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise SignatureInvalid(str(exc).split(". ")[0]) from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise SignatureInvalid("the body is not a Stripe event")
    return event


def sign_payload(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (the library's helper; tests and tools)."""
    return str(stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp))
