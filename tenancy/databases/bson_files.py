"""BSON data files: the documents of one collection, as ``mongodump`` writes them.

A ``.bson`` file is the concatenation of each document's BSON bytes (each
starts with its own int32 length), the format ``mongodump`` writes and
``mongorestore`` and ``bsondump`` read. Unlike Extended JSON it is typed:
a document whose own field is named ``$date`` or ``$regex`` (a stored
query filter, say) is never read back as a date or a regular expression,
and every BSON type (Int64, Decimal128, binary subtypes, timestamps)
survives exactly. Dumps of format version 2 (:mod:`tenancy.databases.dump_format`) use it.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC
from typing import Any, BinaryIO

import bson
from bson.codec_options import CodecOptions
from bson.errors import BSONError

from tenancy.databases.ejson_io import FileStats
from tenancy.mongo_types import RawDocument

#: Decoded like our MongoDB clients decode (timezone-aware UTC datetimes).
DECODE_OPTIONS: CodecOptions[RawDocument] = CodecOptions(tz_aware=True, tzinfo=UTC)
_READ_CHUNK = 1 << 20
_MIN_DOCUMENT = 5  # int32 length + terminating NUL
_MAX_DOCUMENT = 48 * 1024 * 1024  # a server's largest message; documents are <= 16 MiB


class BsonWriter:
    """Writes documents as BSON to an open binary file.

    Tracks ``count`` (documents), ``size`` (bytes) and the SHA-256 of the
    bytes (``sha256``, hex) as it goes; same interface as ``JsonlWriter``.
    """

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self.count = 0
        self.size = 0

    def write_many(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Append ``docs`` (one write call for the whole batch)."""
        encoded = [bson.encode(doc) for doc in docs]
        chunk = b"".join(encoded)
        if not chunk:
            return
        self._fh.write(chunk)
        self._sha.update(chunk)
        self.size += len(chunk)
        self.count += len(encoded)

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def iter_bson(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Documents of a BSON file, one at a time (bounded memory).

    Raises:
        ValueError naming the file and the document number when the bytes
        are not a sequence of whole BSON documents.
    """
    number = 0
    with open(path, "rb") as fh:
        while header := fh.read(4):
            number += 1
            length = _length(path, number, header)
            body = fh.read(length - 4)
            if len(body) != length - 4:
                raise ValueError(f"{path}: document {number} is cut short (truncated file)")
            try:
                yield bson.decode(header + body, codec_options=DECODE_OPTIONS)
            except (BSONError, ValueError, OverflowError) as exc:
                raise ValueError(f"{path}: document {number} is not valid BSON ({exc})") from exc


def _length(path: str | os.PathLike[str], number: int, header: bytes) -> int:
    if len(header) < 4:
        raise ValueError(f"{path}: document {number} is cut short (truncated file)")
    length: int  # "<i": one int32
    (length,) = struct.unpack("<i", header)
    if not _MIN_DOCUMENT <= length <= _MAX_DOCUMENT:
        raise ValueError(f"{path}: document {number} has an impossible length {length}")
    return length


def bson_file_stats(path: str | os.PathLike[str]) -> FileStats:
    """Document count (as ``lines``), size and SHA-256 of a BSON file.

    Walks the length prefixes without decoding; a file that does not split
    into whole documents reports ``lines = -1`` (it then matches no manifest).
    """
    sha = hashlib.sha256()
    size = 0
    count = 0
    next_start = 0  # offset of the next document's length prefix
    pending = b""
    broken = False
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            sha.update(chunk)
            data = pending + chunk
            base = size - len(pending)
            size += len(chunk)
            position = next_start - base
            while not broken and position + 4 <= len(data):
                (length,) = struct.unpack_from("<i", data, position)
                if not _MIN_DOCUMENT <= length <= _MAX_DOCUMENT:
                    broken = True
                    break
                count += 1
                position += length
            next_start = base + position
            keep_from = min(max(position, 0), len(data))
            pending = data[keep_from:]
    if broken or next_start != size:
        count = -1
    return FileStats(lines=count, size=size, sha256=sha.hexdigest())
