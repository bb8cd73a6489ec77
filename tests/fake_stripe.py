"""A local fake of the Stripe API: just the endpoints billing calls, in memory.

Served by uvicorn on 127.0.0.1 (a random port) in a background thread, once
per test session (``tests/billing_support.py``); the billing gateway points
its ``api`` base address at it. Form bodies are decoded the way Stripe does
(``a[b][0][c]=v``); an ``Idempotency-Key`` is recorded for every request and
a POST repeated with one returns the first answer (as Stripe does). Tests
move subscriptions and invoices through their states with the methods of
:class:`FakeStripe` and build the events Stripe would send with :meth:`event`.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_ids = itertools.count(1)
DAY = 86400


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}{threading.get_ident() % 1000:03d}"


def decode_form(body: str) -> dict[str, Any]:
    """``a[b][0][c]=v&...`` -> nested dicts, with numeric keys made lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


@dataclass
class Recorded:
    method: str
    path: str
    idempotency_key: str | None
    params: dict[str, Any]


@dataclass
class FakeStripe:
    """The fake's state and the test-side controls."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    replies: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer next
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the HTTP side -------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/customers", self._create_customer, methods=["POST"]),
                Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
                Route("/v1/billing_portal/sessions", self._create_portal, methods=["POST"]),
                Route("/v1/subscriptions", self._list_subscriptions, methods=["GET"]),
                Route("/v1/subscriptions/{id}", self._subscription, methods=["GET", "POST"]),
                Route("/v1/invoices/{id}", self._invoice, methods=["GET"]),
                Route("/v1/prices", self._prices, methods=["GET", "POST"]),
            ]
        )

    async def _params(self, request: Request) -> tuple[dict[str, Any], str | None]:
        if request.method == "GET":
            params = decode_form(request.url.query)
        else:
            params = decode_form((await request.body()).decode())
        key = request.headers.get("idempotency-key")
        with self.lock:
            self.requests.append(Recorded(request.method, request.url.path, key, params))
        return params, key

    def _answer(
        self, request: Request, params: dict[str, Any], key: str | None, make: Any
    ) -> JSONResponse:
        if self.fail_next:
            status = self.fail_next.pop(0)
            body = {"error": {"type": "api_error", "message": "the fake failed on purpose"}}
            return JSONResponse(body, status_code=status)
        if request.method == "POST" and key:
            with self.lock:
                if key in self.replies:
                    first_params, reply = self.replies[key]
                    if first_params != params:
                        error = {"type": "idempotency_error", "message": "key reused"}
                        return JSONResponse({"error": error}, status_code=400)
                    return JSONResponse(reply)
        result = make()
        if isinstance(result, JSONResponse):
            return result
        if request.method == "POST" and key:
            with self.lock:
                self.replies[key] = (params, result)
        return JSONResponse(result)

    async def _create_customer(self, request: Request) -> JSONResponse:
        params, key = await self._params(request)

        def make() -> dict[str, Any]:
            customer = {"id": new_id("cus"), "object": "customer", **params}
            self.customers[customer["id"]] = customer
            return customer

        return self._answer(request, params, key, make)

    async def _create_session(self, request: Request) -> JSONResponse:
        params, key = await self._params(request)

        def make() -> dict[str, Any]:
            session_id = new_id("cs")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                "status": "open",
                "subscription": None,
                **params,
            }
            self.sessions[session_id] = session
            return session

        return self._answer(request, params, key, make)

    async def _create_portal(self, request: Request) -> JSONResponse:
        params, key = await self._params(request)

        def make() -> dict[str, Any]:
            session_id = new_id("bps")
            url = f"https://billing.stripe.test/p/session/{session_id}"
            return {"id": session_id, "object": "billing_portal.session", "url": url, **params}

        return self._answer(request, params, key, make)

    def _missing(self, kind: str, ident: str) -> JSONResponse:
        error = {"type": "invalid_request_error", "message": f"No such {kind}: '{ident}'"}
        return JSONResponse({"error": error}, status_code=404)

    async def _subscription(self, request: Request) -> JSONResponse:
        params, key = await self._params(request)
        sub_id = request.path_params["id"]

        def make() -> Any:
            sub = self.subscriptions.get(sub_id)
            if sub is None:
                return self._missing("subscription", sub_id)
            if request.method == "POST":
                if "cancel_at_period_end" in params:
                    sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
                for item in params.get("items") or []:
                    for own in sub["items"]["data"]:
                        if own["id"] == item["id"]:
                            own["price"] = {"id": item["price"]}
            return sub

        return self._answer(request, params, key, make)

    async def _list_subscriptions(self, request: Request) -> JSONResponse:
        params, _ = await self._params(request)
        subs = [s for s in self.subscriptions.values() if s["customer"] == params.get("customer")]
        subs.sort(key=lambda s: s["created"], reverse=True)
        return JSONResponse({"object": "list", "data": subs, "has_more": False, "url": "/v1/x"})

    async def _invoice(self, request: Request) -> JSONResponse:
        await self._params(request)
        invoice = self.invoices.get(request.path_params["id"])
        if invoice is None:
            return self._missing("invoice", request.path_params["id"])
        return JSONResponse(invoice)

    async def _prices(self, request: Request) -> JSONResponse:
        params, key = await self._params(request)
        if request.method == "GET":
            wanted = params.get("lookup_keys") or []
            found = [p for p in self.prices.values() if p.get("lookup_key") in wanted]
            return JSONResponse({"object": "list", "data": found, "has_more": False, "url": "/"})

        def make() -> dict[str, Any]:
            price = {
                "id": new_id("price"),
                "object": "price",
                "active": True,
                **params,
                "unit_amount": int(params["unit_amount"]),
            }
            self.prices[price["id"]] = price
            return price

        return self._answer(request, params, key, make)

    # -- the test side: Stripe's own state changes ---------------------------

    def complete_checkout(self, session_id: str, *, trial_days: int = 0) -> dict[str, Any]:
        """The customer paid (or started a trial): the session's subscription exists."""
        session = self.sessions[session_id]
        now = int(time.time())
        price = session["line_items"][0]["price"]
        trial_end = session.get("subscription_data", {}).get("trial_end")
        if trial_days:
            trial_end = now + trial_days * DAY
        sub = {
            "id": new_id("sub"),
            "object": "subscription",
            "customer": session["customer"],
            "status": "trialing" if trial_end else "active",
            "metadata": session.get("subscription_data", {}).get("metadata", {}),
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": new_id("si"),
                        "price": {"id": price},
                        "current_period_start": now,
                        "current_period_end": now + 30 * DAY,
                    }
                ],
            },
            "trial_end": int(trial_end) if trial_end else None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "ended_at": None,
            "created": now,
        }
        self.subscriptions[sub["id"]] = sub
        session.update(status="complete", subscription=sub["id"])
        return sub

    def invoice(self, sub_id: str, *, amount: int = 9_900, currency: str = "try") -> dict:
        """A new open invoice for the subscription's next period."""
        sub = self.subscriptions[sub_id]
        now = int(time.time())
        invoice_id = new_id("in")
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": sub["customer"],
            "parent": {"subscription_details": {"subscription": sub_id}},
            "number": f"INV-{invoice_id[-6:]}",
            "status": "open",
            "currency": currency,
            "amount_due": amount,
            "amount_paid": 0,
            "total": amount,
            "attempt_count": 0,
            "attempted": False,
            "hosted_invoice_url": f"https://invoice.stripe.test/i/{invoice_id}",
            "invoice_pdf": f"https://invoice.stripe.test/i/{invoice_id}/pdf",
            "lines": {"data": [{"period": {"start": now, "end": now + 30 * DAY}}]},
            "created": now,
        }
        self.invoices[invoice_id] = invoice
        sub["latest_invoice"] = invoice_id
        return invoice

    def fail_payment(self, invoice_id: str) -> None:
        """A payment attempt of the invoice failed: the subscription is past due."""
        invoice = self.invoices[invoice_id]
        invoice.update(attempt_count=invoice["attempt_count"] + 1, attempted=True)
        sub_id = invoice["parent"]["subscription_details"]["subscription"]
        self.subscriptions[sub_id]["status"] = "past_due"

    def pay(self, invoice_id: str) -> None:
        """The invoice is paid: the subscription is active."""
        invoice = self.invoices[invoice_id]
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            attempt_count=invoice["attempt_count"] + 1,
            attempted=True,
        )
        sub_id = invoice["parent"]["subscription_details"]["subscription"]
        self.subscriptions[sub_id]["status"] = "active"
        self.subscriptions[sub_id]["trial_end"] = None

    def cancel(self, sub_id: str) -> None:
        """The subscription ended (deleted)."""
        now = int(time.time())
        self.subscriptions[sub_id].update(status="canceled", canceled_at=now, ended_at=now)

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The event Stripe would send about ``obj`` now (a snapshot of it)."""
        import copy

        return {
            "id": new_id("evt"),
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": copy.deepcopy(obj)},
        }

    def keys_of(self, path: str) -> list[str | None]:
        """Idempotency keys of the POSTs to ``path`` (recorded in order)."""
        return [r.idempotency_key for r in self.requests if r.method == "POST" and r.path == path]


@contextmanager
def serve(fake: FakeStripe) -> Iterator[FakeStripe]:
    """Run the fake on 127.0.0.1 (random port) in a thread; sets ``fake.url``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app(), log_config=None, access_log=False, lifespan="off"
    )  # log_config=None: leaves the process's logging as the tests set it
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake Stripe API did not start")
        time.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
