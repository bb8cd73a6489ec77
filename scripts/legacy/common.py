"""Options and small helpers shared by the two legacy imports."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.collections import BOOKINGS, COUNTERS, CUSTOMERS
from domain.customers import COUNTER as CUSTOMER_COUNTER
from domain.customers import CustomerStatus
from scripts.legacy.convert import confirmation_parts, optional_utc
from tenancy import quota
from tenancy.models import PlanLimits
from tenancy.mongo_types import Database
from tenancy.settings import DEFAULT_CLUSTER

CONFIRMATION_COUNTER = "confirmation_number"  # BookingService._next_confirmation_number


@dataclass
class ImportOptions:
    """Knobs of an import run (the CLI's flags).

    Attributes:
        plan_key: plan of newly provisioned tenants.
        owner_password: password of new owner users; ``None`` generates one per
            tenant, shown once in the report.
        adopt_existing: import into an existing tenant of the same slug that
            this import did not create.
        activate: new tenants start ``active`` (legacy customers), not ``trial``.
        batch_size: records per write batch and resume checkpoint.
        validate: re-read the source after writing and compare.
        now: reference time (UTC) for "future" bookings and missing
            ``created_at`` values; default: the current time.
        actor: audit-log actor and ``created_by`` of imported bookings.
        cluster: cluster of newly provisioned tenant databases.
        on_progress: ``(source collection, records done, total)`` after each batch
            (the CLI's progress bars).
    """

    plan_key: str = "professional"
    owner_password: str | None = None
    adopt_existing: bool = False
    activate: bool = True
    batch_size: int = 500
    validate: bool = True
    now: datetime | None = None
    actor: str = "legacy-import"
    cluster: str = DEFAULT_CLUSTER
    on_progress: Callable[[str, int, int | None], None] | None = None


def carry(doc: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """The fields of ``doc`` a mapper did not handle, kept as they are (datetimes as UTC).

    ``_id`` and ``tenant_id`` are never carried: the id is mapped explicitly and
    the tenant is the database itself.
    """
    skip = used | {"_id", "tenant_id"}
    out: dict[str, Any] = {}
    for name, value in doc.items():
        if name in skip:
            continue
        out[name] = optional_utc(value, name) if isinstance(value, datetime) else value
    return out


async def update_counters(
    db: Database, confirmation_prefix: str | None, plan_limits: PlanLimits
) -> tuple[dict[str, int], list[str]]:
    """Set the tenant's counters after an import.

    - ``customers``: recounted live customers (what the plan limit counts).
    - ``confirmation_number``: raised (never lowered) to the highest sequence of
      ``<prefix>-YYMM-NNNNN`` numbers in ``bookings``, so new bookings continue it.

    Returns:
        ``({"customers": n, "confirmation_number": seq}, warnings)``; a warning
        when live customers exceed the plan's ``max_customers``.
    """
    live = await db[CUSTOMERS].count_documents({"status": {"$ne": CustomerStatus.DELETED.value}})
    await quota.set_usage(db, CUSTOMER_COUNTER, live)
    counters = {"customers": live}
    warnings = []
    if plan_limits.max_customers is not None and live > plan_limits.max_customers:
        warnings.append(
            f"{live} live customers exceed the plan's max_customers ({plan_limits.max_customers}); "
            "new customers will be refused until the plan is upgraded"
        )
    highest = -1
    if confirmation_prefix:
        cursor = db[BOOKINGS].find(
            {"confirmation_number": {"$regex": f"^{re.escape(confirmation_prefix)}-"}},
            {"confirmation_number": 1},
        )
        async for doc in cursor:
            parts = confirmation_parts(doc.get("confirmation_number"))
            if parts and parts[0] == confirmation_prefix:
                highest = max(highest, parts[1])
    if highest >= 0:
        await db[COUNTERS].update_one(
            {"_id": CONFIRMATION_COUNTER}, {"$max": {"value": highest}}, upsert=True
        )
    counter = await db[COUNTERS].find_one({"_id": CONFIRMATION_COUNTER})
    if counter is not None:
        counters[CONFIRMATION_COUNTER] = int(counter["value"])
    return counters, warnings
