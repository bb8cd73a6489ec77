"""The in-process MongoDB mock (pymongo-async-mock over mongomock).

Only the mock path imports this module. Production runs on real MongoDB,
and where the mock differs from a server, the server's behaviour wins.
"""

from __future__ import annotations

from typing import Any

from pymongo_async_mock import AsyncMongoMockClient


def new_mock_client() -> Any:
    """A fresh, empty in-process mock server (timezone-aware datetimes, like our real client)."""
    return AsyncMongoMockClient(tz_aware=True)
