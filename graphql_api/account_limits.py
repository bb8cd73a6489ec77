"""Rate limits of the public account operations (the ``limits`` library, like ``rate_limit``).

- ``signup``: per client address (``APP_SIGNUP_ATTEMPTS_PER_ADDRESS``) and
  per owner email (``APP_SIGNUP_ATTEMPTS_PER_EMAIL``); every attempt counts.
- account emails on request (``resendVerification``,
  ``requestPasswordReset``): per client address and per email
  (``APP_ACCOUNT_EMAIL_REQUESTS_PER_ADDRESS`` / ``..._PER_EMAIL``).

Refusals are ``RATE_LIMITED`` with ``retryAfter``. Switched off with
``APP_SIGNUP_RATE_LIMIT_ENABLED=false``. Storage as ``APP_RATE_LIMIT_STORAGE``.
"""

from __future__ import annotations

from limits import parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from graphql_api.rate_limit import _refuse_if_spent, _storage
from tenancy.settings import Settings


class AccountRateLimiter:
    """Counts signups and account-email requests per client address and per email."""

    def __init__(self, settings: Settings) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(_storage(settings.rate_limit_storage))
        self.signup_address = parse(settings.signup_attempts_per_address)
        self.signup_email = parse(settings.signup_attempts_per_email)
        self.mail_address = parse(settings.account_email_requests_per_address)
        self.mail_email = parse(settings.account_email_requests_per_email)

    async def hit_signup(self, address: str, email: str) -> None:
        """Count one signup attempt (address first, then email).

        Raises:
            AppError(RATE_LIMITED) with ``details["retryAfter"]`` in seconds.
        """
        await _refuse_if_spent(
            self.limiter,
            self.signup_address,
            ("signup-address", address),
            "too many signups from this address",
        )
        await _refuse_if_spent(
            self.limiter,
            self.signup_email,
            ("signup-email", email.strip().lower()),
            "too many signups for this email",
        )

    async def hit_mail(self, address: str, email: str) -> None:
        """Count one request for an account email (address first, then email).

        Raises:
            AppError(RATE_LIMITED) with ``details["retryAfter"]`` in seconds.
        """
        await _refuse_if_spent(
            self.limiter,
            self.mail_address,
            ("account-mail-address", address),
            "too many account email requests from this address",
        )
        await _refuse_if_spent(
            self.limiter,
            self.mail_email,
            ("account-mail-email", email.strip().lower()),
            "too many account emails for this address; check your inbox or wait",
        )
