"""What the composition roots give the booking operations: the platform's due marker and policy.

``domain`` never reaches the platform database; the booking operations get
``PlatformStore.mark_notifications_due`` (and the reminder/SMS policy from
settings) as a :class:`domain.booking_outbox.OutboxSetup`. The server's
resolvers, the demo seeding, benchmarks and tests build it here, from the
runtime they hold.
"""

from __future__ import annotations

from domain.booking_messages import NotificationPolicy
from domain.booking_outbox import OutboxSetup
from tenancy.runtime import Runtime


def outbox_setup(runtime: Runtime) -> OutboxSetup:
    """The outbox setup of ``runtime``: its platform store's marker, its settings' policy."""
    return OutboxSetup(
        mark_due=runtime.store.mark_notifications_due,
        policy=NotificationPolicy.from_settings(runtime.settings),
    )
