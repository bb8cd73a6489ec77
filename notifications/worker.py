"""Running relays: inside the server (its lifespan) or as ``tenantctl worker``.

:class:`RelayWorker` starts one :class:`~notifications.relay.Relay` as a
background task and stops it gracefully (in-flight sends finish or their
leases are released; the SMTP connections are closed). The server starts
one when ``APP_RELAY_IN_SERVER`` is on (the default, so the embedded default
delivers without a second process); production can run more with
``tenantctl worker`` on any number of machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from notifications.delivery import Delivery, build_delivery
from notifications.relay import Relay, RelayConfig
from tenancy.runtime import Runtime

log = logging.getLogger(__name__)


def build_relay(runtime: Runtime, delivery: Delivery | None = None) -> Relay:
    """A relay configured from ``runtime.settings`` (delivery: :func:`build_delivery`)."""
    settings = runtime.settings
    return Relay(runtime, delivery or build_delivery(settings), RelayConfig.from_settings(settings))


class RelayWorker:
    """One relay running in the background of this process.

    Args:
        relay: the relay to run (default: :func:`build_relay` at :meth:`start`).
    """

    def __init__(self, runtime: Runtime, relay: Relay | None = None) -> None:
        self.runtime = runtime
        self.relay = relay
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Relay:
        """Start the relay task; returns the relay."""
        if self.relay is None:
            self.relay = build_relay(self.runtime)
        self._stop.clear()
        self._task = asyncio.create_task(self.relay.run(self._stop), name="outbox-relay")
        log.info("outbox relay %s started", self.relay.owner)
        return self.relay

    async def stop(self) -> None:
        """Stop gracefully (see ``Relay.shutdown``) and close the SMTP connections."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.relay is not None:
            with contextlib.suppress(Exception):
                await self.relay.delivery.close()
            log.info("outbox relay %s stopped: %s", self.relay.owner, self.relay.stats.as_dict())
