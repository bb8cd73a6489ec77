"""The billing service of one process: settings, the Stripe gateway and the billing store.

Built once by the composition roots (the server's ``create_app``, ``tenantctl
billing``, ``tenantctl worker``, tests) with :meth:`Billing.build`, passed
explicitly, closed at shutdown. Without ``APP_STRIPE_SECRET_KEY`` it has no
gateway: every Stripe operation raises ``BILLING_DISABLED`` and the server
runs as before.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from billing.store import BillingStore
from billing.stripe_gateway import StripeGateway
from tenancy.errors import AppError, ErrorCode
from tenancy.runtime import Runtime

#: Who billing changes are attributed to in the audit log.
ACTOR = "stripe"
#: The reason of a suspension for an unpaid invoice (reactivation undoes only these).
OVERDUE_REASON = "payment overdue"


@dataclass
class Billing:
    """What billing operations need.

    Attributes:
        runtime: the platform runtime (settings, platform store, tenant handles).
        store: the billing collections.
        gateway: Stripe, or ``None`` when billing is not configured.
        owner: this process's name in leases and locks.
    """

    runtime: Runtime
    store: BillingStore
    gateway: StripeGateway | None
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    @classmethod
    def build(cls, runtime: Runtime) -> Billing:
        """The service configured from ``runtime.settings`` (no connection opened yet)."""
        settings = runtime.settings
        gateway = None
        if settings.billing_enabled:
            gateway = StripeGateway(
                settings.stripe_secret_key.get_secret_value(),
                api_base=settings.stripe_api_base,
                max_network_retries=settings.stripe_max_network_retries,
                timeout_seconds=settings.stripe_timeout_seconds,
            )
        return cls(runtime=runtime, store=BillingStore(runtime.store), gateway=gateway)

    @property
    def enabled(self) -> bool:
        return self.gateway is not None

    def require_gateway(self) -> StripeGateway:
        """The Stripe gateway.

        Raises:
            AppError(BILLING_DISABLED) when no Stripe key is configured.
        """
        if self.gateway is None:
            raise AppError(
                ErrorCode.BILLING_DISABLED,
                "billing is not configured on this server: set APP_STRIPE_SECRET_KEY "
                "(and APP_STRIPE_WEBHOOK_SECRET)",
            )
        return self.gateway

    @property
    def grace(self) -> timedelta:
        """How long a past-due tenant is served before suspension (``APP_BILLING_GRACE_DAYS``)."""
        return timedelta(days=self.runtime.settings.billing_grace_days)

    async def close(self) -> None:
        """Close the Stripe HTTP connections."""
        if self.gateway is not None:
            await self.gateway.close()
