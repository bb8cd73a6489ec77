"""``POST /webhooks/stripe``: Stripe's webhook deliveries (``billing.webhooks`` does the work).

Answers: 200 ``{"received": true, "duplicate": false}`` for a new event
(processed inline; a processing failure is recorded on the event and
retried by the billing loop, Stripe is still answered 200), 200 with
``"duplicate": true`` for an event stored before; 400 ``BAD_REQUEST`` when the
signature does not verify (nothing stored); 503 ``BILLING_DISABLED`` when no
webhook secret is configured; 500 when the event could not be stored
(Stripe delivers it again).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from billing.service import Billing
from billing.webhooks import SignatureInvalid, receive
from tenancy.errors import AppError, ErrorCode, from_database_error

log = logging.getLogger(__name__)


def _error(status: int, code: ErrorCode, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": str(code), "message": message}}, status_code=status)


async def stripe_webhook(request: Request) -> JSONResponse:
    """The route handler (see the module docstring)."""
    billing: Billing = request.app.state.billing
    payload = await request.body()
    try:
        new = await receive(billing, payload, request.headers.get("stripe-signature"))
    except SignatureInvalid as exc:
        return _error(400, ErrorCode.BAD_REQUEST, f"Stripe-Signature refused: {exc}")
    except AppError as exc:
        return _error(503, exc.code, exc.message)
    except Exception as exc:
        coded = from_database_error(exc)
        log.exception("stripe webhook could not be stored")
        code = coded.code if coded else ErrorCode.INTERNAL_ERROR
        return _error(500, code, "the event could not be stored; Stripe will deliver it again")
    return JSONResponse({"received": True, "duplicate": not new})
