"""Per-tenant request rate limits from the tenant's plan (``api_rate_limit_per_minute``).

Uses the ``limits`` library (sliding-window counter). The default storage is
this process's memory, so with N workers a tenant gets up to N times its
limit; point ``APP_RATE_LIMIT_STORAGE`` at a shared store (``limits``
storage URI, e.g. ``async+redis://host:6379``; its driver must be
installed) to enforce it across processes.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant


@lru_cache(maxsize=64)
def _per_minute(limit: int) -> RateLimitItem:
    return RateLimitItemPerMinute(limit)


class TenantRateLimiter:
    """Counts requests per tenant.

    Args:
        storage_uri: a ``limits`` async storage URI (``async+memory://`` by default).
    """

    def __init__(self, storage_uri: str) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))

    async def hit(self, tenant: Tenant) -> None:
        """Count one request of ``tenant``.

        Raises:
            AppError(RATE_LIMITED) when the plan's requests-per-minute are used
            up; the message says when to retry.
        """
        per_minute = tenant.limits.api_rate_limit_per_minute
        if not per_minute:
            return
        item = _per_minute(per_minute)
        if await self.limiter.hit(item, "tenant", tenant.slug):
            return
        stats = await self.limiter.get_window_stats(item, "tenant", tenant.slug)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise AppError(
            ErrorCode.RATE_LIMITED,
            f"tenant {tenant.slug!r} used its plan's {per_minute} requests per minute; "
            f"retry in {retry} s or upgrade the plan",
        )
