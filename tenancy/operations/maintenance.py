"""Maintenance for an operation, and the wait until other servers' caches see it.

Every API server process caches tenant records for
``tenant_cache_ttl_seconds``. After entering maintenance an operation waits
that long, but only when other running servers are registered in the
platform database (:mod:`tenancy.heartbeat`); it names them through
``on_notice``. ``drain_seconds`` sets the wait explicitly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tenancy import lifecycle
from tenancy.operations.report import OperationReport
from tenancy.platform import ServerInstance
from tenancy.runtime import Runtime

log = logging.getLogger(__name__)

#: ``on_notice(message)``: what an operation is about to wait for, as it happens.
NoticeCallback = Callable[[str], None]

#: The wait for caches (tests replace it to observe waits without waiting).
_sleep = asyncio.sleep


def _describe_servers(servers: list[ServerInstance]) -> str:
    labels = ", ".join(s.label for s in servers[:5])
    more = f" and {len(servers) - 5} more" if len(servers) > 5 else ""
    noun = "server" if len(servers) == 1 else "servers"
    return f"{len(servers)} running {noun} ({labels}{more})"


async def enter_maintenance(
    runtime: Runtime,
    slug: str,
    reason: str,
    actor: str,
    report: OperationReport,
    drain_seconds: float | None,
    on_notice: NoticeCallback | None,
) -> None:
    """Enter maintenance, then wait until other servers' caches have seen it.

    Waits ``drain_seconds`` when given; otherwise ``tenant_cache_ttl_seconds``
    when other server instances are running (none: no wait). The wait is
    announced through ``on_notice`` and recorded as a ``drain`` step. If the
    wait fails or is interrupted, maintenance is left again.

    Raises:
        AppError: as :func:`tenancy.lifecycle.enter_maintenance` (nothing changed).
    """
    await lifecycle.enter_maintenance(runtime, slug, reason, actor)
    report.step("enter maintenance", detail="API serves reads, refuses writes")
    try:
        await _drain(runtime, slug, report, drain_seconds, on_notice)
    except BaseException:
        await lifecycle.leave_maintenance(runtime, slug, actor)
        report.step("rollback", detail="left maintenance; nothing else was changed")
        raise


async def _drain(
    runtime: Runtime,
    slug: str,
    report: OperationReport,
    drain_seconds: float | None,
    on_notice: NoticeCallback | None,
) -> None:
    if drain_seconds is not None:
        wait = drain_seconds
        message = (
            f"waiting {wait:g} s (as asked) for other processes to drop cached tenant {slug!r}"
        )
    else:
        wait = runtime.settings.tenant_cache_ttl_seconds
        others = await runtime.store.live_instances() if wait > 0 else []
        if not others:
            report.steps[-1].detail += "; no other server is running, so no wait for caches"
            return
        message = (
            f"waiting {wait:g} s for {_describe_servers(others)} to drop cached tenant {slug!r}"
        )
    if wait <= 0:
        return
    log.info(message)
    if on_notice:
        on_notice(message)
    await _sleep(wait)
    report.step("drain", detail=message.replace("waiting", "waited", 1))
