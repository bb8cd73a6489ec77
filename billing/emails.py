"""Billing emails to a tenant's admins, through the tenant's notification outbox.

Each message is written ``pending`` straight away (there is no business write
to commit with, so no staging: ``domain.outbox``) under a deterministic key,
``<kind>:<subject>:<admin user id>:email``, where ``subject`` names what the
message is about (the trial's end, an invoice's attempt, a usage threshold
of a period): the same fact inserts once however often its events arrive,
and the relay (``notifications``) sends it like any message. The tenant is
then marked on the platform as having due messages.

Kinds (templates in ``notifications/templates/<lang>/<kind>.jinja``):
``billing_trial_will_end``, ``billing_payment_failed``, ``billing_usage_alert``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo.errors import DuplicateKeyError

from domain.collections import NOTIFICATION_OUTBOX
from domain.documents import OutboxMessage
from tenancy.models import Role, Tenant, utcnow
from tenancy.runtime import Runtime

TRIAL_WILL_END = "billing_trial_will_end"
PAYMENT_FAILED = "billing_payment_failed"
USAGE_ALERT = "billing_usage_alert"


async def email_admins(
    runtime: Runtime, tenant: Tenant, kind: str, subject_key: str, data: dict[str, Any]
) -> int:
    """Queue one email of ``kind`` to each active admin of ``tenant``, once per ``subject_key``.

    Args:
        kind: one of this module's kinds.
        subject_key: what the message is about (``<invoice id>:<attempt>``...).
        data: what the template shows (amounts in minor units, ISO dates).

    Returns:
        How many messages this call inserted (0 when all were queued before).
    """
    admins = [
        user
        for user in await runtime.store.users_of_tenant(tenant.id)
        if user.active and user.role == Role.ADMIN
    ]
    if not admins:
        return 0
    now = utcnow()
    await runtime.store.mark_notifications_due(tenant.id, now)
    outbox = runtime.tenant_database(tenant)[NOTIFICATION_OUTBOX]
    inserted = 0
    for admin in admins:
        message = OutboxMessage(
            id=f"{kind}:{subject_key}:{admin.id}:email",
            kind=kind,
            channel="email",
            status="pending",
            booking_id=None,
            booking_version=1,
            recipient=admin.email,
            recipient_name=admin.name,
            data={**data, "customer_name": admin.name, "timezone": tenant.settings.timezone},
            next_attempt_at=now,
            due_at=now,
        )
        with contextlib.suppress(DuplicateKeyError):  # queued before: once per fact
            await outbox.insert_one(message.to_mongo())
            inserted += 1
    return inserted
