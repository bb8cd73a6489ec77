"""Account emails (verification, password reset, invitation) through the tenant's outbox.

The message is written to the user's tenant's ``notification_outbox`` the
way booking messages are (``domain.outbox.Outbox``: stage, then promote at
once, since the account change it announces is already written), so the
outbox relay delivers it with retries, and the platform record of due
tenants tells the relay to look. ``data.action_url`` is the link
(``APP_APP_URL`` + path + ``?token=``), rendered by the account layout of
``notifications/templates``. Super-admins have no tenant outbox: their
links are only logged (operators reset them with ``tenantctl``).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

from domain.documents import OutboxMessage
from domain.outbox import Outbox, message_key
from tenancy.models import Tenant, User, utcnow
from tenancy.runtime import Runtime

log = logging.getLogger(__name__)

VERIFICATION = "account_verification"
PASSWORD_RESET = "account_password_reset"
INVITATION = "account_invitation"

_PATHS = {
    VERIFICATION: "/verify-email",
    PASSWORD_RESET: "/reset-password",
    INVITATION: "/accept-invitation",
}


def link(runtime: Runtime, kind: str, token: str, tenant: Tenant | None) -> str:
    """The URL an account email points to: ``<app_url><path>?token=...&tenant=<slug>``."""
    query = {"token": token}
    if tenant is not None:
        query["tenant"] = tenant.slug
    return f"{runtime.settings.app_url.rstrip('/')}{_PATHS[kind]}?{urlencode(query)}"


async def send(runtime: Runtime, tenant: Tenant | None, user: User, kind: str, token: str) -> None:
    """Queue one account email to ``user`` in ``tenant``'s outbox (sent by the relay).

    Args:
        kind: :data:`VERIFICATION`, :data:`PASSWORD_RESET` or :data:`INVITATION`.
        token: the signed link token (``accounts.tokens``).
    """
    url = link(runtime, kind, token, tenant)
    if tenant is None:
        log.info("account email %s for platform user %s not sent (no tenant outbox)", kind, user.id)
        return
    now = utcnow()
    version = max(1, time.time_ns() // 1000)  # each request is its own message
    message = OutboxMessage(
        id=message_key(kind, user.id, version, "email"),
        kind=kind,
        channel="email",
        booking_id=user.id,
        booking_version=version,
        recipient=user.email,
        recipient_name=user.name,
        data={"action_url": url, "tenant_name": tenant.name},
        next_attempt_at=now,
        due_at=now,
    )
    outbox = Outbox(
        runtime.tenant_database(tenant), tenant.id, runtime.store.mark_notifications_due
    )
    staged = await outbox.stage(user.id, [message])
    await outbox.promote(staged)
