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
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bson import json_util
from bson.errors import InvalidBSON

from tenancy.errors import AppError, ErrorCode
from tenancy.mongo_types import Database

# Relaxed Extended JSON in, tz-aware UTC datetimes out ($date), Decimal128 kept.
JSON_OPTIONS = json_util.JSONOptions(
    json_mode=json_util.JSONMode.RELAXED, tz_aware=True, tzinfo=UTC
)
NOTHING_WRITTEN = "nothing was imported"

ErrorHandler = Callable[[str, str], None]
"""``on_error(record_id, message)``: a record that could not be read (e.g. ``"line 7"``)."""


class SourceError(AppError):
    """The legacy source cannot be used as it is: a missing directory or file, or a
    record that cannot be read or has a field of the wrong type.

    An :class:`AppError` (``VALIDATION_FAILED``, or ``NOT_FOUND`` for missing
    directories and files), so ``tenantctl`` prints it as one line. The message
    names the file and line (or collection and ``_id``) and the field.
    """

    def __init__(self, message: str, code: ErrorCode = ErrorCode.VALIDATION_FAILED) -> None:
        super().__init__(code, message)


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
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The documents of ``collection`` in a stable order (empty if missing).

        An async generator: a caller that stops early closes it (``aclose``).

        Records that cannot be read go to ``on_error`` and are not yielded;
        without a handler they raise :class:`SourceError`.
        """
        ...


class DirectorySource:
    """A directory of mongoexport JSON Lines files, one ``<collection>.jsonl`` per collection.

    Lines are read as bytes and decoded one by one (UTF-8, a leading BOM
    allowed), so a line that is not UTF-8 or not a JSON object is one
    unreadable record, never an exception that ends the read.

    Args:
        path: the directory (e.g. ``data/legacy-clinics/omega_shared``); its
            name is the database name.
        name: override the database name.

    Raises:
        SourceError: ``NOT_FOUND`` when ``path`` is not a directory.
    """

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise SourceError(
                f"{self.path} is not a directory of .jsonl files; {NOTHING_WRITTEN}",
                ErrorCode.NOT_FOUND,
            )
        self.name = name or self.path.name

    def __repr__(self) -> str:
        return f"DirectorySource({str(self.path)!r})"

    def file(self, collection: str) -> Path:
        """The file of ``collection`` (it may not exist)."""
        return self.path / f"{collection}.jsonl"

    async def collection_names(self) -> list[str]:
        return sorted(p.stem for p in self.path.glob("*.jsonl") if p.is_file())

    async def count(self, collection: str) -> int:
        """Non-blank lines of the collection's file (mongoexport writes one document per line)."""
        file = self.file(collection)
        if not file.exists():
            return 0

        def _count() -> int:
            with file.open("rb") as handle:
                return sum(1 for line in handle if line.strip())

        return await asyncio.to_thread(_count)

    def lines(self, collection: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
        """``(line number, document, None)`` or ``(line number, None, problem)`` for every
        non-blank line of the collection's file, in file order (nothing if it is missing)."""
        file = self.file(collection)
        if not file.exists():
            return
        with file.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
                    doc = json_util.loads(text, json_options=JSON_OPTIONS)
                    if not isinstance(doc, dict):
                        raise ValueError(f"the line is a JSON {type(doc).__name__}, not an object")
                except UnicodeDecodeError as exc:
                    yield number, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                except (ValueError, TypeError, InvalidBSON) as exc:
                    yield number, None, f"unreadable JSON ({_one_line(exc)})"
                else:
                    yield number, doc, None

    async def iterate(
        self, collection: str, *, on_error: ErrorHandler | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        for number, doc, problem in self.lines(collection):
            if doc is None:
                if on_error is None:
                    raise SourceError(f"{self.file(collection)} line {number}: {problem}")
                on_error(f"{collection}.jsonl:{number}", str(problem))
                continue
            yield doc
            if number % 500 == 0:
                await asyncio.sleep(0)

    async def located(
        self, collection: str
    ) -> AsyncIterator[tuple[str, dict[str, Any] | None, str | None]]:
        """``(where, document or None, problem or None)`` per record; ``where`` is
        ``"<dir>/<collection>.jsonl line 7"`` (for messages that name file and line)."""
        for number, doc, problem in self.lines(collection):
            yield f"{self.file(collection)} line {number}", doc, problem
            if number % 500 == 0:
                await asyncio.sleep(0)


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (JSON decoder messages name "line 1" of the
    single line they saw: drop that part, the caller names the file's line)."""
    text = " ".join(str(exc).split())
    return text.replace(": line 1 column", ": column")


class DatabaseSource:
    """A live legacy MongoDB database (PyMongo asyncio API), read sorted by ``_id``.

    Args:
        db: the legacy database handle, e.g.
            ``AsyncMongoClient(url, tz_aware=True)["omega_shared"]``.
            Naive datetimes (a client without ``tz_aware``) are treated as UTC by the mappers.
        batch_size: cursor batch size.
    """

    def __init__(self, db: Database, batch_size: int = 1000) -> None:
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
    ) -> AsyncGenerator[dict[str, Any], None]:
        cursor = self.db[collection].find({}).sort("_id", 1).batch_size(self.batch_size)
        async for doc in cursor:
            yield doc

    async def located(
        self, collection: str
    ) -> AsyncIterator[tuple[str, dict[str, Any] | None, str | None]]:
        """``(where, document, None)`` per document; ``where`` is
        ``"<database>.<collection> _id <id>"``."""
        async for doc in self.iterate(collection):
            yield f"{self.name}.{collection} _id {doc.get('_id')}", doc, None


def directory_sources(root: str | Path, databases: Iterable[str]) -> dict[str, Source]:
    """``{database: DirectorySource(root/database)}`` for an export tree.

    ``directory_sources("data/legacy-crm", ["crm_db", "vitingo_crm"])``.

    Raises:
        SourceError: ``NOT_FOUND`` when ``root`` or a database directory is missing
        (the message names it and the layout expected).
    """
    root = Path(root)
    names = list(databases)
    layout = f"expected {root}/<database>/<collection>.jsonl for {', '.join(names)}"
    if not root.is_dir():
        raise SourceError(
            f"{root} is not a directory ({layout}); {NOTHING_WRITTEN}", ErrorCode.NOT_FOUND
        )
    missing = [name for name in names if not (root / name).is_dir()]
    if missing:
        raise SourceError(
            f"{root} has no {' or '.join(f'{m}/' for m in missing)} directory ({layout}); "
            f"{NOTHING_WRITTEN}",
            ErrorCode.NOT_FOUND,
        )
    return {name: DirectorySource(root / name) for name in names}


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
