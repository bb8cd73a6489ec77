"""A server process's heartbeat in the platform database.

Each API server process registers itself in the platform collection
``server_instances`` when it starts and renews its lease every
``HEARTBEAT_INTERVAL_SECONDS`` (:class:`ServerHeartbeat`). Operator
operations that must wait until every server's tenant cache has seen a
change (``move``, ``delete``, ``restore`` in tenancy.operations) wait only
when such other servers are running, and name them.

A process is counted as running until its lease ends (``LEASE_SECONDS``,
three missed beats), so one that crashed stops counting within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tenancy.platform import PlatformStore

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECONDS = 10.0
LEASE_SECONDS = 3 * HEARTBEAT_INTERVAL_SECONDS


class ServerHeartbeat:
    """Registers the process at :meth:`start`, renews it in a background task,
    removes it at :meth:`stop`.

    Args:
        store: the platform store (its ``instance_id`` is set while registered).
        interval: seconds between renewals.
        lease: seconds a registration lasts without renewal (> ``interval``).
    """

    def __init__(
        self,
        store: PlatformStore,
        *,
        interval: float = HEARTBEAT_INTERVAL_SECONDS,
        lease: float = LEASE_SECONDS,
    ) -> None:
        if lease <= interval:
            raise ValueError("the lease must outlast the renewal interval")
        self.store = store
        self.interval = interval
        self.lease = lease
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Register (raises if the platform database does not answer); returns the instance id."""
        instance_id = await self.store.register_instance(self.lease)
        self._task = asyncio.create_task(self._beat(), name="server-heartbeat")
        return instance_id

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.store.renew_instance(self.lease)
            except Exception as exc:  # a database outage must not stop the server
                log.warning("server heartbeat not renewed: %s", exc)

    async def stop(self) -> None:
        """Stop renewing and remove the registration (best effort: the lease ends anyway)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.store.unregister_instance()
        except Exception as exc:  # shutting down: the lease expires by itself
            log.warning("server heartbeat not removed: %s", exc)
