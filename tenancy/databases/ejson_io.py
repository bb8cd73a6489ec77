"""Extended JSON: JSON Lines data files (format version 1 dumps), manifests, file checksums.

File format (one file per collection): JSON Lines, one document per line, in
MongoDB *relaxed* Extended JSON v2 (``bson.json_util`` with
``RELAXED_JSON_OPTIONS``), compact separators, UTF-8, ``\\n`` line ends: the
format ``mongoexport`` writes and ``mongoimport`` reads. ObjectId, Decimal128,
dates, binary and 64-bit integers survive a round trip. One deliberate
difference from ``mongoexport``: relaxed mode writes every 64-bit integer as
a plain JSON number, which reads back as a 32-bit integer when it fits, so a
small ``Int64`` would silently change type. We write ``Int64`` values in the
canonical form ``{"$numberLong": "5"}`` instead, which is valid relaxed
Extended JSON and which ``mongoimport`` and ``json_util`` read back as a
64-bit integer.

The content hash of documents is defined in :mod:`tenancy.databases.digests`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import bson
from bson import Int64
from bson.json_util import RELAXED_JSON_OPTIONS, JSONOptions

T = TypeVar("T")

#: Options used to write Extended JSON (relaxed mode, as ``mongoexport``).
WRITE_JSON_OPTIONS: JSONOptions = RELAXED_JSON_OPTIONS
#: Options used to read Extended JSON: relaxed, datetimes timezone-aware UTC.
READ_JSON_OPTIONS: JSONOptions = RELAXED_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=UTC)

_READ_CHUNK = 1 << 20


# ---------------------------------------------------------------- Extended JSON


def _pin_int64(value: Any) -> Any:
    """A copy of ``value`` with every ``Int64`` as ``{"$numberLong": "..."}``."""
    if isinstance(value, Int64):
        return {"$numberLong": str(int(value))}
    if isinstance(value, Mapping):
        return {key: _pin_int64(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_pin_int64(item) for item in value]
    return value


def dumps_ejson(value: Any, *, indent: int | None = None) -> str:
    """Serialise ``value`` (a document, or any JSON-like structure holding BSON
    values) to relaxed Extended JSON, keeping ``Int64`` exact.

    Args:
        value: mapping, list or scalar.
        indent: ``None`` for one compact line (``mongoexport`` style), else
            the JSON indentation width.
    Returns:
        The JSON text, without a trailing newline.
    """
    separators = (",", ":") if indent is None else (",", ": ")
    return bson.json_util.dumps(
        _pin_int64(value), json_options=WRITE_JSON_OPTIONS, separators=separators, indent=indent
    )


def loads_ejson(text: str | bytes) -> Any:
    """Parse Extended JSON (relaxed or canonical) into Python/BSON values.

    Datetimes come back timezone-aware (UTC), ``$numberLong`` as ``Int64``,
    binary subtype 0 as ``bytes`` (as PyMongo decodes it), other subtypes as
    ``Binary``. Raises ``ValueError`` on malformed JSON.
    """
    return bson.json_util.loads(text, json_options=READ_JSON_OPTIONS)


def document_line(doc: Mapping[str, Any]) -> bytes:
    """One document as a JSON Lines record: UTF-8 bytes ending in ``\\n``."""
    return dumps_ejson(doc).encode("utf-8") + b"\n"


class JsonlWriter:
    """Writes documents as JSON Lines to an open binary file.

    Tracks ``count`` (documents written), ``size`` (bytes written) and the
    SHA-256 of the bytes (``sha256`` property, hex) as it goes.
    """

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self.count = 0
        self.size = 0

    def write_many(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Append ``docs`` (one write call for the whole batch)."""
        chunk = b"".join(document_line(doc) for doc in docs)
        if not chunk:
            return
        self._fh.write(chunk)
        self._sha.update(chunk)
        self.size += len(chunk)
        self.count += chunk.count(b"\n")

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Documents of a JSON Lines file, one at a time (bounded memory).

    Blank lines are skipped. Raises ``ValueError`` naming the file and line
    number when a line is not a JSON object.
    """
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                doc = loads_ejson(raw)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not valid Extended JSON ({exc})") from exc
            if not isinstance(doc, dict):
                raise ValueError(f"{path}:{number}: a line must hold one JSON object")
            yield doc


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` (the last may be shorter); bounded memory."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class FileStats:
    """What a file holds: ``lines`` (non-empty lines), ``size`` (bytes), ``sha256`` (hex)."""

    lines: int
    size: int
    sha256: str


def file_stats(path: str | os.PathLike[str]) -> FileStats:
    """Line count, size and SHA-256 of a file, read in 1 MiB chunks."""
    sha = hashlib.sha256()
    size = 0
    lines = 0
    open_line_has_text = False  # the current, not yet terminated line holds non-blank bytes
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            sha.update(chunk)
            size += len(chunk)
            parts = chunk.split(b"\n")
            for i, part in enumerate(parts[:-1]):
                if part.strip() or (i == 0 and open_line_has_text):
                    lines += 1
            if len(parts) > 1:
                open_line_has_text = False
            open_line_has_text = open_line_has_text or bool(parts[-1].strip())
    if open_line_has_text:
        lines += 1
    return FileStats(lines=lines, size=size, sha256=sha.hexdigest())


def write_json_file(path: Path, value: Any) -> None:
    """Write ``value`` as indented Extended JSON to ``path`` and fsync it."""
    with open(path, "wb") as fh:
        fh.write(dumps_ejson(value, indent=2).encode("utf-8") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_json_file(path: Path) -> Any:
    """Parse an Extended JSON file written by :func:`write_json_file`."""
    return loads_ejson(path.read_bytes())


def stable_json(value: Any) -> str:
    """A deterministic text form of a JSON-like value (keys sorted), for comparing
    index and collection options whose key order carries no meaning."""
    return json.dumps(json.loads(dumps_ejson(value)), sort_keys=True, separators=(",", ":"))
