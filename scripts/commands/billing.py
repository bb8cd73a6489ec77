"""``tenantctl billing ...``: Stripe prices of the plans, reconciliation, the webhook inbox.

Needs ``APP_STRIPE_SECRET_KEY`` (else ``BILLING_DISABLED``); ``APP_STRIPE_API_BASE``
points it at another API address (a local fake, stripe-mock).
"""

from __future__ import annotations

import typer

from billing.prices import sync_plans
from billing.reconcile import reconcile
from billing.reports import BillingReport
from billing.service import Billing
from billing.store import BillingStore
from scripts.commands.common import JsonOption, run
from scripts.output import print_records, print_report
from tenancy.reports import Table
from tenancy.runtime import Runtime

billing_app = typer.Typer(
    help="Billing with Stripe: plan prices, reconciliation, webhook events.",
    no_args_is_help=True,
)


def _report(report: BillingReport, as_json: bool) -> None:
    print_report(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


@billing_app.command("sync-plans")
def sync_plans_cmd(as_json: bool = JsonOption) -> None:
    """Find or create the Stripe price of every plan and billing cycle (lookup key
    `<plan>_<cycle>`) and store the price ids on the plans. Safe to run again.

    Example: tenantctl billing sync-plans
    """

    async def action(runtime: Runtime) -> BillingReport:
        billing = Billing.build(runtime)
        try:
            return await sync_plans(runtime.store, billing.store, billing.require_gateway())
        finally:
            await billing.close()

    _report(run(action, as_json), as_json)


@billing_app.command("reconcile")
def reconcile_cmd(as_json: bool = JsonOption) -> None:
    """Re-read every tenant's subscription from Stripe and apply it (status, plan,
    limits), as a webhook would: repairs lost or failed webhooks. Safe to run again.

    Example: tenantctl billing reconcile --json
    """

    async def action(runtime: Runtime) -> BillingReport:
        billing = Billing.build(runtime)
        try:
            return await reconcile(billing)
        finally:
            await billing.close()

    _report(run(action, as_json), as_json)


@billing_app.command("events")
def events_cmd(
    status: str | None = typer.Option(
        None, help="Only events of this status: pending, processed or failed."
    ),
    limit: int = typer.Option(50, min=1, max=10_000, help="Newest first, at most this many."),
    as_json: bool = JsonOption,
) -> None:
    """The Stripe webhook inbox: each event's processing status, attempts and last error.

    Example: tenantctl billing events --status failed
    """

    async def action(runtime: Runtime) -> list[dict[str, object]]:
        events = await BillingStore(runtime.store).events(status)
        return [
            {
                "id": e["_id"],
                "type": e.get("type"),
                "status": e.get("status"),
                "attempts": e.get("attempts", 0),
                "received_at": e["received_at"].isoformat(),
                "next_attempt_at": e["next_attempt_at"].isoformat()
                if e.get("next_attempt_at")
                else None,
                "last_error": e.get("last_error"),
            }
            for e in events[:limit]
        ]

    rows = run(action, as_json)
    columns = ["id", "type", "status", "attempts", "received_at", "next_attempt_at", "last_error"]
    table = Table(f"stripe events: {len(rows)}", columns, [[r[c] for c in columns] for r in rows])
    print_records(table, rows, as_json)
