"""The outbox relay: from the platform record of due tenants to sent messages.

One pass of a relay over one tenant (:meth:`Relay.serve_tenant`):

1. claim the tenant from the platform record ``notification_due``
   (``PlatformStore.claim_due_tenant``: a lease, so several relays spread
   over tenants); tenants without due messages have no record due and are
   never read;
2. read the tenant's record (deleted: forget it; suspended, cancelled or
   in maintenance: hold its messages for ``hold_seconds``);
3. on the tenant's own database handle, read the ids of due messages (one
   query per chunk) and claim each by id just before handling it
   (``domain.outbox_queue.claim_one``: a lease with owner and expiry;
   ``parallel`` at a time, at most ``batch`` per pass): staged ones are
   checked against their booking, pending ones are sent (a reminder only
   while its booking is still open at the same start), then marked
   ``sent`` with the provider's id, or retried later with capped
   full-jitter backoff, or ``dead`` after ``max_attempts`` attempts (or at
   once when the provider refused them for good), with the last error;
4. reschedule the tenant's record at its next due message, or remove it.

Delivery is at least once: a relay that crashes after sending but before
recording it leaves the message leased; when the lease expires another
relay sends it again. Messages carry a stable ``Message-ID`` for that case.
Several relays, in one process or on several machines, may run at once:
each message is claimed by one relay per lease.

:meth:`Relay.run` loops until its stop event is set, then stops claiming,
gives in-flight sends ``shutdown_grace_seconds`` to finish and releases the
leases of those that do not (their attempt is not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import outbox_queue as queue
from domain.outbox import PENDING, REMINDER_KIND, STAGED
from notifications.backoff import backoff_delay
from notifications.delivery import Delivery
from notifications.smtp import DeliveryError
from tenancy.models import Tenant, TenantStatus, utcnow
from tenancy.mongo_types import Database
from tenancy.platform import DueTenant
from tenancy.runtime import Runtime
from tenancy.settings import Settings

log = logging.getLogger(__name__)
_CHUNK = 50  # due ids read per query


@dataclass(frozen=True)
class RelayConfig:
    """How a relay works (``APP_RELAY_*`` settings; the rest are fixed defaults).

    Attributes:
        max_attempts: attempts before a message is ``dead`` (default 8).
        lease_seconds: how long a claim of a message or a tenant lasts.
        backoff_base_seconds / backoff_cap_seconds: see ``notifications.backoff``.
        poll_seconds: pause between looks at the platform record when idle.
        concurrency: tenants served at once by one relay.
        batch: messages per tenant per pass (then other tenants get their turn).
        parallel: messages of one tenant handled at once (default: the SMTP pool size).
        quiet_seconds: a tenant record without due messages is removed only
            when no operation marked it for this long (``finish_due_tenant``).
        hold_seconds: how long a suspended tenant's messages wait before the next look.
        error_pause_seconds: how long a tenant waits after a failed pass.
        shutdown_grace_seconds: how long in-flight sends may finish at shutdown.
    """

    max_attempts: int = 8
    lease_seconds: float = 60.0
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 900.0
    poll_seconds: float = 1.0
    concurrency: int = 8
    batch: int = 100
    quiet_seconds: float = 30.0
    hold_seconds: float = 300.0
    error_pause_seconds: float = 30.0
    shutdown_grace_seconds: float = 10.0
    parallel: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayConfig:
        return cls(
            max_attempts=settings.relay_max_attempts,
            lease_seconds=settings.relay_lease_seconds,
            backoff_base_seconds=settings.relay_backoff_base_seconds,
            backoff_cap_seconds=settings.relay_backoff_cap_seconds,
            poll_seconds=settings.relay_poll_seconds,
            concurrency=settings.relay_concurrency,
            shutdown_grace_seconds=settings.smtp_timeout_seconds,
            parallel=settings.smtp_pool_size,
        )


@dataclass
class RelayStats:
    """What a relay did since it started (the worker's progress lines)."""

    passes: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    cancelled: int = 0
    promoted: int = 0
    deleted: int = 0
    waiting: int = 0
    held: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def relay_owner() -> str:
    """A relay's lease owner id: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Relay:
    """Sends the due messages of every tenant that has some (see the module docstring).

    Args:
        runtime: the platform (store, tenant database handles).
        delivery: renders and sends one message.
        config: timings and limits.
        owner: lease owner id (default :func:`relay_owner`).
        clock: the current UTC time (tests move it forward).
        rng: the random source of the backoff jitter.
    """

    def __init__(
        self,
        runtime: Runtime,
        delivery: Delivery,
        config: RelayConfig | None = None,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.delivery = delivery
        self.config = config or RelayConfig()
        self.owner = owner or relay_owner()
        self.clock = clock
        self.rng = rng or random.Random()
        self.stats = RelayStats()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.config.lease_seconds)

    # -- loops -----------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve due tenants until ``stop`` is set, then shut down gracefully."""
        slots = asyncio.Semaphore(self.config.concurrency)
        try:
            while not stop.is_set():
                await slots.acquire()
                try:
                    claimed = await self.store.claim_due_tenant(
                        self.owner, self.config.lease_seconds, self.clock()
                    )
                except Exception as exc:  # the platform database is down: try again later
                    log.warning("relay %s: cannot read due tenants: %s", self.owner, exc)
                    claimed = None
                if claimed is None:
                    slots.release()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.config.poll_seconds)
                    continue
                self._spawn(claimed, slots)
        finally:
            await self.shutdown()

    async def run_once(self, max_passes: int = 100_000) -> int:
        """Serve every tenant that is due, ``concurrency`` at a time, until none is due.

        Returns the number of tenant passes (tests, ``tenantctl worker --once``).
        """
        slots = asyncio.Semaphore(self.config.concurrency)
        passes = 0
        while passes < max_passes:
            await slots.acquire()
            claimed = await self.store.claim_due_tenant(
                self.owner, self.config.lease_seconds, self.clock()
            )
            if claimed is None:
                slots.release()
                if not self._tasks:
                    break
                await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
                continue
            passes += 1
            self._spawn(claimed, slots)
        if self._tasks:
            await asyncio.gather(*self._tasks)
        return passes

    def _spawn(self, claimed: DueTenant, slots: asyncio.Semaphore) -> None:
        task = asyncio.create_task(self.serve_tenant(claimed), name=f"relay-{claimed.tenant_id}")
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            slots.release()

        task.add_done_callback(done)

    async def shutdown(self) -> None:
        """Stop claiming; let in-flight passes finish their current message within the
        grace period; cancel the rest (they release their leases)."""
        self._stopping = True
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=self.config.shutdown_grace_seconds)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    # -- one tenant --------------------------------------------------------

    async def serve_tenant(self, claimed: DueTenant) -> None:
        """One pass over one claimed tenant (see the module docstring)."""
        tenant_id = claimed.tenant_id
        self.stats.passes += 1
        try:
            tenant = await self.store.tenant_by_id(tenant_id)
            if tenant is None or tenant.status == TenantStatus.DELETED:
                await self.store.forget_due_tenant(tenant_id)
                return
            if not tenant.is_served or tenant.maintenance is not None:
                self.stats.held += 1
                until = self.clock() + timedelta(seconds=self.config.hold_seconds)
                await self.store.hold_due_tenant(tenant_id, self.owner, until)
                return
            db = self.runtime.tenant_database(tenant)
            more = await self._drain(tenant, db)
            next_due = self.clock() if more else await queue.next_due(db)
            await self.store.finish_due_tenant(
                claimed, self.owner, next_due, self.clock(), self.config.quiet_seconds
            )
        except asyncio.CancelledError:
            await self.store.release_due_tenant(tenant_id, self.owner)
            raise
        except Exception:
            self.stats.errors += 1
            log.exception("relay %s: pass over tenant %s failed", self.owner, tenant_id)
            pause = self.clock() + timedelta(seconds=self.config.error_pause_seconds)
            with contextlib.suppress(Exception):
                await self.store.hold_due_tenant(tenant_id, self.owner, pause)

    async def _drain(self, tenant: Tenant, db: Database) -> bool:
        """Handle up to ``batch`` due messages; True when more may be due (or stopping).

        Due ids are read in chunks (one query each); each message is then
        claimed by id just before it is handled, ``parallel`` at a time.
        """
        handled = 0
        gate = asyncio.Semaphore(self.config.parallel)
        for status in (STAGED, PENDING):
            while handled < self.config.batch and not self._stopping:
                limit = min(self.config.batch - handled, _CHUNK)
                ids = await queue.due_ids(db, status, self.clock(), limit)
                if not ids:
                    break

                async def handle(message_id: str, status: str = status) -> None:
                    async with gate:
                        if not self._stopping:
                            await self._handle(tenant, db, message_id, status)

                await asyncio.gather(*(handle(message_id) for message_id in ids))
                handled += len(ids)
        return handled >= self.config.batch or self._stopping

    async def _handle(self, tenant: Tenant, db: Database, message_id: str, status: str) -> None:
        message = await queue.claim_one(
            db, message_id, status, self.owner, self.lease, self.clock()
        )
        if message is None:
            return  # another relay was first, or it changed meanwhile
        if status == STAGED:
            outcome = await queue.resolve_staged(db, message, self.clock())
            setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
        else:
            await self._deliver(tenant, db, message)

    async def _deliver(self, tenant: Tenant, db: Database, message: dict[str, Any]) -> None:
        message_id = message["_id"]
        if message["kind"] == REMINDER_KIND and not await queue.reminder_is_current(db, message):
            await queue.cancel(db, message_id, "the booking was cancelled or moved", self.clock())
            self.stats.cancelled += 1
            return
        try:
            provider_id = await self.delivery.send(tenant, message)
        except asyncio.CancelledError:
            await queue.release(db, message_id, self.owner, self.clock())
            raise
        except Exception as exc:
            await self._failed(db, message, exc)
            return
        await queue.mark_sent(db, message_id, provider_id, self.clock())
        self.stats.sent += 1

    async def _failed(self, db: Database, message: dict[str, Any], exc: Exception) -> None:
        error = (
            exc if isinstance(exc, DeliveryError) else DeliveryError(f"{type(exc).__name__}: {exc}")
        )
        attempts = int(message.get("attempts", 1))
        now = self.clock()
        retry_at: datetime | None = None
        if not error.permanent and attempts < self.config.max_attempts:
            config = self.config
            delay = backoff_delay(
                attempts, config.backoff_base_seconds, config.backoff_cap_seconds, self.rng
            )
            retry_at = now + delay
        await queue.mark_failed(db, message["_id"], self.owner, str(error), now, retry_at)
        if retry_at is None:
            self.stats.dead += 1
            log.warning("message %s is dead after %d attempts: %s", message["_id"], attempts, error)
        else:
            self.stats.retried += 1
            log.info(
                "message %s failed (attempt %d), retry at %s: %s",
                message["_id"],
                attempts,
                retry_at.isoformat(),
                error,
            )
