"""Tenant 0003: the ``staff`` collection and the indexes of scheduling (issue 8).

Creates ``staff`` (name, active, user indexes) and the bookings' per-resource
range indexes (``location_starts``, ``staff_starts``) through
``ensure_tenant_schema`` (idempotent). Existing documents need no change:
services and locations read their scheduling fields through defaults, and
bookings without ``resources``/buffers are read as holding their location.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.collections import ensure_tenant_schema

DESCRIPTION = "staff collection; bookings' location/staff range indexes"


async def up(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Create what is missing (collections and indexes)."""
    await ensure_tenant_schema(db)


# Undoing would mean dropping ``staff``, with its data.
down = None
