"""Collections as ``list_collections`` describes them: list, select, create with options.

Internal collections are left out everywhere: ``system.*`` and the copy
checkpoint (:data:`STATE_COLLECTION`, kept in a copy's target database by
:mod:`tenancy.databases.copy`), which is never copied, exported or verified.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenancy.errors import AppError, ErrorCode
from tenancy.mongo_types import Database

#: Name of the copy checkpoint collection (in the target database of a copy).
STATE_COLLECTION = "_copy_state"


@dataclass
class CollectionSpec:
    """A collection as ``list_collections`` describes it.

    Attributes:
        name: collection name.
        kind: ``collection``, ``view`` or ``timeseries``.
        options: ``create_collection`` keyword options (validator, collation,
            capped/size, timeseries, viewOn/pipeline...).
        options_known: False when the server could not list options;
            ``options`` is then empty.
    """

    name: str
    kind: str = "collection"
    options: dict[str, Any] = field(default_factory=dict)
    options_known: bool = True


def is_internal(name: str, state_collection: str = STATE_COLLECTION) -> bool:
    """True for ``system.*`` collections and the copy checkpoint."""
    return name.startswith("system.") or name == state_collection


async def list_collection_specs(
    db: Database, *, state_collection: str = STATE_COLLECTION
) -> list[CollectionSpec]:
    """The collections of ``db`` with their options, sorted by name; views last.

    ``system.*`` collections and the copy checkpoint collection are left out.
    Falls back to ``list_collection_names`` (options unknown) on a server
    that does not implement ``listCollections`` with options (the mock).
    """
    specs: list[CollectionSpec] = []
    try:
        listing = db.list_collections()
        cursor = await listing if isinstance(listing, Awaitable) else listing
        async for info in cursor:
            name = info["name"]
            if is_internal(name, state_collection):
                continue
            options = _creatable_options(dict(info.get("options") or {}))
            specs.append(CollectionSpec(name, info.get("type", "collection"), options, True))
    except NotImplementedError:
        names = await db.list_collection_names()
        specs = [
            CollectionSpec(name, "collection", {}, False)
            for name in names
            if not is_internal(name, state_collection)
        ]
    specs.sort(key=lambda s: (s.kind == "view", s.name))
    return specs


def _creatable_options(options: dict[str, Any]) -> dict[str, Any]:
    """``listCollections`` options as ``create`` accepts them."""
    clustered = options.get("clusteredIndex")
    if isinstance(clustered, dict):
        options["clusteredIndex"] = {k: v for k, v in clustered.items() if k != "v"}
    return options


async def create_collection_from_spec(db: Database, spec: CollectionSpec) -> list[str]:
    """Create ``spec.name`` in ``db`` with ``spec.options``.

    Returns warnings (options the server could not apply). An existing
    collection is left as it is (its options are not changed).

    Raises:
        NotImplementedError: ``spec`` is a view and the server cannot create views.
    """
    if spec.name in await db.list_collection_names():
        if spec.options:
            return [f"{spec.name}: collection existed in the target; its options were kept"]
        return []
    if not spec.options:
        await db.create_collection(spec.name)
        return []
    try:
        await db.create_collection(spec.name, **spec.options)
    except NotImplementedError:
        # A server without support for these options ("Special options not supported").
        if spec.kind == "view":
            raise
        await db.create_collection(spec.name)
        return [
            f"{spec.name}: this server cannot create collections with options "
            f"({', '.join(sorted(spec.options))}); created without them"
        ]
    return []


def select_specs(
    specs: list[CollectionSpec], collections: Sequence[str] | None, where: str
) -> list[CollectionSpec]:
    """``specs`` limited to ``collections`` (all when ``None``).

    Raises:
        AppError(NOT_FOUND) naming the collections ``where`` lacks.
    """
    if collections is None:
        return specs
    known = {spec.name for spec in specs}
    missing = [name for name in collections if name not in known]
    if missing:
        raise AppError(ErrorCode.NOT_FOUND, f"{where} has no collection {', '.join(missing)}")
    wanted = set(collections)
    return [spec for spec in specs if spec.name in wanted]


async def non_empty_collections(
    db: Database, *, state_collection: str = STATE_COLLECTION
) -> list[str]:
    """Names of the collections of ``db`` that hold at least one document
    (``system.*`` and the checkpoint collection left out), sorted."""
    names = []
    for name in sorted(await db.list_collection_names()):
        if is_internal(name, state_collection):
            continue
        if await db[name].find_one({}, {"_id": 1}) is not None:
            names.append(name)
    return names
