"""Index creation that keeps every option of an ``IndexModel``.

One ``create_index`` call per index (instead of ``create_indexes``): on a
server both are equivalent, and the in-process mock's ``create_indexes``
silently drops options such as ``partialFilterExpression`` and
``collation``, which would change what a unique index enforces.
"""

from __future__ import annotations

from pymongo import IndexModel

from tenancy.mongo_types import Collection


async def apply_indexes(collection: Collection, indexes: list[IndexModel]) -> None:
    """Create ``indexes`` on ``collection`` with all their options (idempotent)."""
    for model in indexes:
        options = dict(model.document)
        keys = options.pop("key")
        await collection.create_index(list(keys.items()), **options)
