"""Per-tenant request rate limits from the tenant's plan (``api_rate_limit_per_minute``).

Authenticated requests share the tenant's budget. Anonymous requests (a
public booking site) are counted per client address in a budget of the same
size, so anonymous traffic can neither exhaust the staff's budget nor one
visitor everyone else's.

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

    async def hit(self, tenant: Tenant, client: str | None) -> None:
        """Count one request of ``tenant``: ``client`` is ``None`` for an
        authenticated caller, else the anonymous caller's address.

        Raises:
            AppError(RATE_LIMITED) when the plan's requests-per-minute are used
            up; the message says when to retry.
        """
        per_minute = tenant.limits.api_rate_limit_per_minute
        if not per_minute:
            return
        item = _per_minute(per_minute)
        key = ("tenant", tenant.slug) if client is None else ("anonymous", tenant.slug, client)
        if await self.limiter.hit(item, *key):
            return
        stats = await self.limiter.get_window_stats(item, *key)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise AppError(
            ErrorCode.RATE_LIMITED,
            f"tenant {tenant.slug!r} used its plan's {per_minute} requests per minute; "
            f"retry in {retry} s or upgrade the plan",
        )
