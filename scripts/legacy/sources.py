"""Where legacy documents come from: a mongoexport directory or a live MongoDB database.

Both sources give collection names, document counts and streaming async
iteration in a stable order, so the importer never holds a collection in
memory and an interrupted run can resume at a position.

- :class:`DirectorySource` reads ``<dir>/<collection>.jsonl`` (mongoexport
  JSON Lines, relaxed or canonical Extended JSON), line by line, in file order.
- :class:`DatabaseSource` reads a database through the PyMongo asyncio API,
  sorted by ``_id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bson import json_util
from bson.errors import InvalidBSON
from pymongo.asynchronous.database import AsyncDatabase

# Relaxed Extended JSON in, tz-aware UTC datetimes out ($date), Decimal128 kept.
JSON_OPTIONS = json_util.JSONOptions(
    json_mode=json_util.JSONMode.RELAXED, tz_aware=True, tzinfo=UTC
)

ErrorHandler = Callable[[str, str], None]
"""``on_error(record_id, message)``: a record that could not be read (e.g. ``"line 7"``)."""


class SourceError(Exception):
    """A source record could not be read and no ``on_error`` handler was given."""


@runtime_checkable
class Source(Protocol):
    """One legacy database.

    ``name`` is the legacy database name (``"omega_shared"``), used in report
    labels and progress keys.
    """

    name: str

    async def collection_names(self) -> list[str]:
        """Names of the collections present, sorted."""
        ...

    async def count(self, collection: str) -> int:
        """Number of records in ``collection`` (0 if it does not exist)."""
        ...

    def iterate(
        self, collection: str, *, on_error: ErrorHandler | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The documents of ``collection`` in a stable order (empty if missing).

        Records that cannot be read go to ``on_error`` and are not yielded;
        without a handler they raise :class:`SourceError`.
        """
        ...


class DirectorySource:
    """A directory of mongoexport JSON Lines files, one ``<collection>.jsonl`` per collection.

    Args:
        path: the directory (e.g. ``data/legacy-clinics/omega_shared``); its
            name is the database name.
        name: override the database name.

    Raises:
        FileNotFoundError: ``path`` is not a directory.
    """

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.path} is not a directory of .jsonl files")
        self.name = name or self.path.name

    def __repr__(self) -> str:
        return f"DirectorySource({str(self.path)!r})"

    def _file(self, collection: str) -> Path:
        return self.path / f"{collection}.jsonl"

    async def collection_names(self) -> list[str]:
        return sorted(p.stem for p in self.path.glob("*.jsonl") if p.is_file())

    async def count(self, collection: str) -> int:
        """Non-blank lines of the collection's file (mongoexport writes one document per line)."""
        file = self._file(collection)
        if not file.exists():
            return 0

        def _count() -> int:
            with file.open(encoding="utf-8-sig") as handle:
                return sum(1 for line in handle if line.strip())

        return await asyncio.to_thread(_count)

    async def iterate(
        self, collection: str, *, on_error: ErrorHandler | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        file = self._file(collection)
        if not file.exists():
            return
        with file.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    doc = json_util.loads(line, json_options=JSON_OPTIONS)
                    if not isinstance(doc, dict):
                        raise ValueError("line is not a JSON object")
                except (ValueError, TypeError, InvalidBSON) as exc:
                    message = f"unreadable JSON: {exc}"
                    if on_error is None:
                        raise SourceError(f"{file}:{number}: {message}") from exc
                    on_error(f"{collection}.jsonl:{number}", message)
                    continue
                yield doc
                if number % 500 == 0:
                    await asyncio.sleep(0)


class DatabaseSource:
    """A live legacy MongoDB database (PyMongo asyncio API), read sorted by ``_id``.

    Args:
        db: the legacy database handle, e.g.
            ``AsyncMongoClient(url, tz_aware=True)["omega_shared"]``.
            Naive datetimes (a client without ``tz_aware``) are treated as UTC by the mappers.
        batch_size: cursor batch size.
    """

    def __init__(self, db: AsyncDatabase, batch_size: int = 1000) -> None:
        self.db = db
        self.name = db.name
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"DatabaseSource({self.name!r})"

    async def collection_names(self) -> list[str]:
        names = await self.db.list_collection_names()
        return sorted(n for n in names if not n.startswith("system."))

    async def count(self, collection: str) -> int:
        return await self.db[collection].count_documents({})

    async def iterate(
        self, collection: str, *, on_error: ErrorHandler | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        cursor = self.db[collection].find({}).sort("_id", 1).batch_size(self.batch_size)
        async for doc in cursor:
            yield doc


def directory_sources(root: str | Path, databases: Iterable[str]) -> dict[str, Source]:
    """``{database: DirectorySource(root/database)}`` for an export tree.

    ``directory_sources("data/legacy-crm", ["crm_db", "vitingo_crm"])``.

    Raises:
        FileNotFoundError: a database directory is missing.
    """
    return {name: DirectorySource(Path(root) / name) for name in databases}


def database_sources(client: Any, databases: Iterable[str]) -> dict[str, Source]:
    """``{database: DatabaseSource(client[database])}`` for a live legacy server.

    Args:
        client: an ``AsyncMongoClient`` (open it with ``tz_aware=True``); the caller closes it.
    """
    return {name: DatabaseSource(client[name]) for name in databases}


def require_sources(sources: Mapping[str, Source], databases: Iterable[str]) -> None:
    """Check that every needed legacy database has a source.

    Raises:
        KeyError: naming the missing database(s).
    """
    missing = [name for name in databases if name not in sources]
    if missing:
        raise KeyError(f"no source given for legacy database(s): {', '.join(missing)}")
