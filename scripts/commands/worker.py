"""``tenantctl worker``: run the notification outbox relay in this process.

As many workers as needed may run, on any number of machines, beside the
relay the API servers run themselves (``APP_RELAY_IN_SERVER``): leases keep
each message with one relay at a time (``notifications.relay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal

import typer

from billing.service import Billing
from billing.worker import BillingWorker
from billing.worker import run_once as run_billing_once
from notifications.relay import Relay
from notifications.worker import build_relay
from scripts.commands.common import JsonOption, run
from scripts.output import console, print_records
from tenancy.models import utcnow
from tenancy.reports import Table
from tenancy.runtime import Runtime


def register(app: typer.Typer) -> None:
    """Add ``worker`` to ``tenantctl``."""
    app.command("worker")(worker_cmd)


def worker_cmd(
    concurrency: int | None = typer.Option(
        None, min=1, max=256, help="Tenants served at once (default: APP_RELAY_CONCURRENCY)."
    ),
    once: bool = typer.Option(
        False, "--once", help="Send what is due now, then exit (instead of running until stopped)."
    ),
    heartbeat: float = typer.Option(
        30.0, min=1.0, help="Seconds between progress lines (sent, retried, dead, tenants due)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Send the tenants' notification outboxes (email over SMTP, SMS) until stopped;
    with APP_STRIPE_SECRET_KEY set, also run the billing loop (webhook retries, grace periods).

    Reads only the tenants the platform records as having due messages. Ctrl-C
    (or SIGTERM) stops gracefully: no new claims, in-flight sends finish within
    APP_SMTP_TIMEOUT_SECONDS or their leases are released; then a summary.

    Example: tenantctl worker --concurrency 16
    """

    async def action(runtime: Runtime) -> dict[str, object]:
        relay = build_relay(runtime)
        if concurrency is not None:
            relay.config = dataclasses.replace(relay.config, concurrency=concurrency)
        billing = Billing.build(runtime)  # its loop runs here too when Stripe is configured
        billing_loop = BillingWorker(billing) if billing.enabled else None
        try:
            if once:
                await relay.run_once()
                if billing.enabled:
                    await run_billing_once(billing)
            else:
                if billing_loop is not None:
                    await billing_loop.start()
                await _run_until_stopped(runtime, relay, heartbeat)
        finally:
            if billing_loop is not None:
                await billing_loop.stop()
            await billing.close()
            await relay.delivery.close()
        return {"owner": relay.owner, **relay.stats.as_dict()}

    summary = run(action, as_json)
    table = Table("outbox relay stopped", list(summary), [list(summary.values())])
    print_records(table, summary, as_json)


async def _run_until_stopped(runtime: Runtime, relay: Relay, heartbeat: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    console.print(
        f"outbox relay {relay.owner} running (concurrency {relay.config.concurrency}); "
        "Ctrl-C stops it",
        highlight=False,
    )
    beat = asyncio.create_task(_progress(runtime, relay, stop, heartbeat))
    try:
        await relay.run(stop)
    finally:
        stop.set()
        await beat
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    console.print("stopping: in-flight sends finished or released", highlight=False)


async def _progress(runtime: Runtime, relay: Relay, stop: asyncio.Event, every: float) -> None:
    """One line every ``every`` seconds: what the relay did since the last line."""
    last = relay.stats.as_dict()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        now = relay.stats.as_dict()
        delta = {key: now[key] - last[key] for key in now}
        last = now
        try:
            due = await runtime.store.count_due_tenants(utcnow())
        except Exception as exc:  # the platform database is down; the relay retries
            due_text = f"unknown ({type(exc).__name__})"
        else:
            due_text = str(due)
        console.print(
            f"{utcnow():%H:%M:%S} sent {delta['sent']}, retried {delta['retried']}, "
            f"dead {delta['dead']}, cancelled {delta['cancelled']}, passes {delta['passes']}, "
            f"errors {delta['errors']}; tenants due now: {due_text}",
            highlight=False,
        )
