"""Retry delays: exponential backoff with full jitter, capped.

The delay before retry number ``n`` (after ``n`` failed attempts) is drawn
uniformly from ``[0, min(cap, base * 2 ** (n - 1))]`` ("full jitter",
AWS Architecture Blog, "Exponential Backoff And Jitter"): retries of many
messages that failed together (an SMTP outage) spread out instead of
arriving together when the server is back.
"""

from __future__ import annotations

import random
from datetime import timedelta


def backoff_ceiling(attempts: int, base: float, cap: float) -> float:
    """The largest delay (seconds) after ``attempts`` failed attempts (>= 1)."""
    exponent = min(max(attempts, 1) - 1, 62)  # 2**62 * base is beyond any cap
    return min(cap, base * 2.0**exponent)


def backoff_delay(
    attempts: int, base: float, cap: float, rng: random.Random | None = None
) -> timedelta:
    """A full-jitter delay after ``attempts`` failed attempts.

    Args:
        attempts: failed attempts so far (1 after the first failure).
        base: seconds; the ceiling of the first delay.
        cap: seconds; no delay is longer.
        rng: the random source (tests pass a seeded one).
    """
    ceiling = backoff_ceiling(attempts, base, cap)
    return timedelta(seconds=(rng or random).uniform(0.0, ceiling))
