"""Index definitions of a collection: read, build, fingerprint and compare.

A definition is a ``listIndexes`` document without the server's bookkeeping
(``v``, ``ns``, ``background``): ``key`` (ordered field -> direction or
type), ``name`` and every option (``unique``, ``sparse``,
``partialFilterExpression``, ``expireAfterSeconds``, ``collation``,
``weights``...). Copies, dumps and verification all use this one form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tenancy.databases.ejson_io import stable_json
from tenancy.mongo_types import Collection

_INDEX_METADATA = frozenset({"v", "ns", "background"})


def _normalise_index(info: dict[str, Any]) -> dict[str, Any]:
    spec = {k: v for k, v in info.items() if k not in _INDEX_METADATA}
    spec["key"] = dict(spec["key"])
    return spec


async def read_index_specs(collection: Collection) -> list[dict[str, Any]]:
    """Secondary index definitions of ``collection`` (the ``_id`` index excluded).

    Returns:
        Definitions as described in the module docstring.
    """
    cursor = await collection.list_indexes()
    specs = [_normalise_index(dict(info)) async for info in cursor]
    # The _id index and a clustered index come with the collection itself.
    return [spec for spec in specs if spec.get("name") != "_id_" and not spec.get("clustered")]


def _index_keys(spec: dict[str, Any]) -> list[tuple[str, Any]]:
    """``create_index`` keys for a listed index (text indexes list ``_fts``/``_ftsx``)."""
    keys: list[tuple[str, Any]] = []
    for name, direction in spec["key"].items():
        if name == "_fts":
            keys.extend((field_name, "text") for field_name in spec.get("weights", {}))
        elif name != "_ftsx":
            keys.append((name, direction))
    return keys


async def build_index(collection: Collection, spec: dict[str, Any]) -> None:
    """Create one index with every option of ``spec`` (idempotent for equal specs)."""
    options = {k: v for k, v in spec.items() if k not in _INDEX_METADATA and k != "key"}
    await collection.create_index(_index_keys(spec), **options)


async def build_indexes(collection: Collection, specs: Sequence[dict[str, Any]]) -> list[str]:
    """Create every index of ``specs`` on a filled ``collection`` (one build each).

    Indexes already present with the same definition are left alone.
    Returns warnings (none today; kept for callers that report them).

    Raises:
        DuplicateKeyError: the documents break a unique index.
    """
    present = {index_fingerprint(spec) for spec in await read_index_specs(collection)}
    for spec in specs:
        if index_fingerprint(spec) not in present:
            await build_index(collection, spec)
    return []


def index_fingerprint(spec: dict[str, Any]) -> str:
    """Comparable text of an index definition (key order kept, option order not)."""
    options = {k: v for k, v in spec.items() if k not in _INDEX_METADATA and k != "key"}
    keys = [[name, direction] for name, direction in spec["key"].items()]
    return stable_json({"key": keys, "options": options})


def compare_indexes(
    expected: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """Compare two index lists by name.

    Returns:
        (problems, extras): missing or different indexes in ``actual``, and
        indexes only ``actual`` has.
    """
    wanted = {spec["name"]: index_fingerprint(spec) for spec in expected}
    found = {spec["name"]: index_fingerprint(spec) for spec in actual}
    problems = []
    for name, fingerprint in wanted.items():
        if name not in found:
            problems.append(f"index {name!r} is missing")
        elif found[name] != fingerprint:
            problems.append(f"index {name!r} differs: expected {fingerprint}, found {found[name]}")
    extras = [f"extra index {name!r}" for name in found if name not in wanted]
    return problems, extras
