"""Tenant 0003: the ``staff`` collection and the indexes of scheduling (issue 8).

Creates ``staff`` (name, active, user indexes) and the bookings' per-resource
range indexes (``location_starts``, ``staff_starts``) through
``ensure_tenant_schema`` (idempotent). Existing documents need no change:
services and locations read their scheduling fields through defaults, and
bookings without ``resources``/buffers are read as holding their location.
"""

from __future__ import annotations

from domain.collections import ensure_tenant_schema
from tenancy.mongo_types import Database

DESCRIPTION = "staff collection; bookings' location/staff range indexes"


async def up(db: Database) -> None:
    """Create what is missing (collections and indexes)."""
    await ensure_tenant_schema(db)


# Undoing would mean dropping ``staff``, with its data.
down = None
