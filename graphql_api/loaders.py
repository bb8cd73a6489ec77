"""Per-request DataLoaders: one ``$in`` query per batch, whatever the page size.

Created per request (``Context.loaders``) and bound to the tenant's
database, so a cached entry never crosses requests or tenants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from strawberry.dataloader import DataLoader

from domain.collections import CUSTOMERS, LOCATIONS, SERVICES


def _by_id_loader(
    db: AsyncDatabase, collection: str
) -> Callable[[Sequence[Any]], Awaitable[list[Any]]]:
    async def load(ids: Sequence[Any]) -> list[dict[str, Any] | None]:
        docs = await db[collection].find({"_id": {"$in": list(ids)}}).to_list(None)
        found = {doc["_id"]: doc for doc in docs}
        return [found.get(i) for i in ids]

    return load


class Loaders:
    """Documents by ``_id``: ``customer``, ``service``, ``location``."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.customer: DataLoader[Any, dict[str, Any] | None] = DataLoader(
            _by_id_loader(db, CUSTOMERS)
        )
        self.service: DataLoader[Any, dict[str, Any] | None] = DataLoader(
            _by_id_loader(db, SERVICES)
        )
        self.location: DataLoader[Any, dict[str, Any] | None] = DataLoader(
            _by_id_loader(db, LOCATIONS)
        )
