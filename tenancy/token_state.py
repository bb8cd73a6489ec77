"""A short per-process cache of what decides whether an access token still holds.

Every authenticated request checks its token's ``tv`` (token version) against
the user's current ``token_version`` and ``active`` flag, and its ``sid``
(session) against the session's revocation. Reading the platform database for
that on every request would add a round-trip each, so the answers are kept
here for ``ttl`` seconds (``APP_TOKEN_STATE_CACHE_SECONDS``).

Bound: a change made by THIS process (``PlatformStore`` methods that bump the
version, deactivate a user or revoke a session) evicts the entry at once, so
it takes effect on the next request here. Another server process sees it when
its own entry expires, i.e. within ``ttl`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import TLRUCache

V = TypeVar("V")


@dataclass(frozen=True)
class UserTokenState:
    """What an access token of a user is checked against.

    Attributes:
        active: the user may log in (deactivated users' tokens are refused).
        token_version: the version current tokens must carry (``tv`` claim).
    """

    active: bool
    token_version: int


class TtlCache(Generic[V]):
    """A key -> value cache whose entries expire ``ttl`` seconds after being stored
    (``cachetools.TLRUCache``: a time-to-use per entry, monotonic clock), at most
    ``max_entries`` entries (the least recently used go first)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: TLRUCache[str, tuple[float, V]] = TLRUCache(
            maxsize=max_entries, ttu=_expires_at, timer=time.monotonic
        )

    def get(self, key: str) -> V | None:
        """The cached value, or ``None`` when absent or expired."""
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def put(self, key: str, value: V, ttl: float) -> None:
        """Keep ``value`` for ``ttl`` seconds (``ttl <= 0``: not kept)."""
        if ttl > 0:
            self._entries[key] = (ttl, value)

    def evict(self, key: str) -> None:
        """Forget ``key`` (a change made in this process)."""
        self._entries.pop(key, None)


def _expires_at(key: str, entry: tuple[float, object], now: float) -> float:
    return now + entry[0]
