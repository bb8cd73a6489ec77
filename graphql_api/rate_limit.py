"""Request and login rate limits (the ``limits`` library, sliding-window counters).

- **Per-tenant plan limit** (``api_rate_limit_per_minute`` of the tenant's
  plan): authenticated requests share the tenant's budget. Anonymous
  requests (a public booking site) are counted per client address in a
  budget of the same size, so anonymous traffic can neither exhaust the
  staff's budget nor one visitor everyone else's.
- **Login limit**: every ``login`` attempt, successful or not, counts
  against its account (tenant or platform scope + email) and against its
  client address, so neither one account nor one address can guess
  passwords at speed (``APP_LOGIN_ATTEMPTS_PER_ACCOUNT`` /
  ``APP_LOGIN_ATTEMPTS_PER_ADDRESS``).
- **Discount code checks**: guessing a discount code is guessing a secret,
  so every ``validateDiscountCode`` and every anonymous booking naming a
  code counts against its client address
  (``APP_DISCOUNT_CODE_CHECKS_PER_ADDRESS``; switched with the login limit).

- **Booking look-up limit**: every ``bookingLookup`` and
  ``cancelBookingByCustomer`` attempt counts against its client address
  and against the confirmation number it names (per tenant), so neither
  sweeping numbers from one address nor guessing the email of one number
  gets far (``APP_BOOKING_LOOKUP_ATTEMPTS_PER_ADDRESS`` /
  ``APP_BOOKING_LOOKUP_ATTEMPTS_PER_NUMBER``).

Refusals are ``RATE_LIMITED`` with the seconds to wait in
``extensions.retryAfter``; the HTTP layer copies it into a ``Retry-After``
header. The default storage is this process's memory, so with N workers a
tenant gets up to N times its limit; point ``APP_RATE_LIMIT_STORAGE`` at a
shared store (``limits`` storage URI, e.g. ``async+redis://host:6379``; its
driver must be installed) to enforce it across processes.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from tenancy.errors import AppError, ErrorCode
from tenancy.models import Tenant

PLATFORM_SCOPE = "platform"  # login scope of super-admins (no tenant)


@lru_cache(maxsize=64)
def _per_minute(limit: int) -> RateLimitItem:
    return RateLimitItemPerMinute(limit)


def _storage(storage_uri: str) -> Storage:
    storage = storage_from_string(storage_uri)
    assert isinstance(storage, Storage), "APP_RATE_LIMIT_STORAGE must be an async+ URI"
    return storage


def limits_storage(storage_uri: str) -> Storage:
    """A ``limits`` async storage for ``storage_uri`` (``APP_RATE_LIMIT_STORAGE``)."""
    return _storage(storage_uri)


async def _refuse_if_spent(
    limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, key: tuple[str, ...], what: str
) -> None:
    """Count one hit of ``key``; raise RATE_LIMITED (with retryAfter) when ``item`` is used up."""
    if await limiter.hit(item, *key):
        return
    stats = await limiter.get_window_stats(item, *key)
    retry = max(1, math.ceil(stats.reset_time - time.time()))
    raise AppError(
        ErrorCode.RATE_LIMITED,
        f"{what}; retry in {retry} s",
        details={"retryAfter": retry},
    )


class TenantRateLimiter:
    """Counts requests per tenant against its plan's requests per minute.

    Args:
        storage_uri: a ``limits`` async storage URI (``async+memory://`` by default).
    """

    def __init__(self, storage_uri: str) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(_storage(storage_uri))

    async def hit(self, tenant: Tenant, client: str | None) -> None:
        """Count one request of ``tenant``: ``client`` is ``None`` for an
        authenticated caller, else the anonymous caller's address.

        Raises:
            AppError(RATE_LIMITED) when the plan's requests per minute are
            used up; ``details["retryAfter"]`` says in how many seconds to retry.
        """
        per_minute = tenant.limits.api_rate_limit_per_minute
        if not per_minute:
            return
        key = ("tenant", tenant.slug) if client is None else ("anonymous", tenant.slug, client)
        await _refuse_if_spent(
            self.limiter,
            _per_minute(per_minute),
            key,
            f"tenant {tenant.slug!r} used its plan's {per_minute} requests per minute "
            "(upgrade the plan for more)",
        )


class LoginRateLimiter:
    """Counts login attempts per account and per client address, and discount
    code checks per client address (both are guesses of a secret).

    Args:
        storage_uri: a ``limits`` async storage URI.
        per_account: a ``limits`` rate string, e.g. ``"10/15 minutes"``.
        per_address: a ``limits`` rate string, e.g. ``"50/15 minutes"``.
        code_checks_per_address: a ``limits`` rate string for discount code checks.
    """

    def __init__(
        self,
        storage_uri: str,
        per_account: str,
        per_address: str,
        code_checks_per_address: str = "30/15 minutes",
    ) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(_storage(storage_uri))
        self.per_account = parse(per_account)
        self.per_address = parse(per_address)
        self.code_checks = parse(code_checks_per_address)

    async def hit_code_check(self, address: str) -> None:
        """Count one discount code check (or booking with a code) from ``address``.

        Raises:
            AppError(RATE_LIMITED) with ``details["retryAfter"]`` in seconds.
        """
        await _refuse_if_spent(
            self.limiter,
            self.code_checks,
            ("code-check", address),
            "too many discount code checks from this address",
        )

    async def hit_address(self, address: str) -> None:
        """Count one login attempt from ``address`` (before anything else is looked at).

        Raises:
            AppError(RATE_LIMITED) with ``details["retryAfter"]`` in seconds.
        """
        await _refuse_if_spent(
            self.limiter,
            self.per_address,
            ("login-address", address),
            "too many login attempts from this address",
        )

    async def hit_account(self, scope: str, email: str) -> None:
        """Count one login attempt for ``email`` in ``scope`` (a tenant slug or ``platform``).

        Raises:
            AppError(RATE_LIMITED) with ``details["retryAfter"]`` in seconds.
        """
        await _refuse_if_spent(
            self.limiter,
            self.per_account,
            ("login-account", scope, email.strip().lower()),
            "too many login attempts for this account",
        )


#: Longer confirmation numbers are counted under their first characters (no
#: unbounded keys in the storage); such numbers never match a booking anyway.
_MAX_NUMBER_KEY = 64


class BookingLookupRateLimiter:
    """Counts booking look-ups (and customers' cancels) per client address and per number.

    Args:
        storage_uri: a ``limits`` async storage URI.
        per_address: a ``limits`` rate string, e.g. ``"30/15 minutes"``.
        per_number: a ``limits`` rate string, e.g. ``"10/15 minutes"``.
    """

    def __init__(self, storage_uri: str, per_address: str, per_number: str) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(_storage(storage_uri))
        self.per_address = parse(per_address)
        self.per_number = parse(per_number)

    async def hit(self, tenant_slug: str, address: str, confirmation_number: str) -> None:
        """Count one attempt from ``address`` for ``confirmation_number`` of ``tenant_slug``.

        The address is counted first, over all tenants; the number as the
        customer would type it in any letter case.

        Raises:
            AppError(RATE_LIMITED) with ``details["retryAfter"]`` in seconds.
        """
        await _refuse_if_spent(
            self.limiter,
            self.per_address,
            ("lookup-address", address),
            "too many booking look-ups from this address",
        )
        number = confirmation_number.strip().upper()[:_MAX_NUMBER_KEY]
        await _refuse_if_spent(
            self.limiter,
            self.per_number,
            ("lookup-number", tenant_slug, number),
            "too many look-ups of this confirmation number",
        )
