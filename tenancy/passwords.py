"""Password hashing with argon2id (argon2-cffi, RFC 9106 default parameters).

One hash or verification costs about 50 ms of CPU (250-500 ms on a busy
small machine), so both run in a worker thread: the event loop keeps
serving other requests meanwhile. They are coroutines on purpose, so no
caller can run them on the loop by mistake.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that an unknown email
# costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """An encoded argon2id hash of ``password``, computed off the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; computed off the event loop.

    Always spends one verification's time, also when ``password_hash`` is
    ``None`` (unknown user), so timing does not reveal which emails exist.
    """
    return await asyncio.to_thread(_verify, password_hash, password)
