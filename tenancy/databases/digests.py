"""Content digests: an order-independent hash of a collection's documents.

Used to verify copies, imports and exports (the manifest records one per
collection).

- Canonical form of a document: ``bson.encode(doc)`` with
  ``CodecOptions(uuid_representation=STANDARD)``. ``bson.encode`` writes the
  top-level ``_id`` first (as a MongoDB server stores it); every other field,
  at every depth, keeps its stored order, because MongoDB compares embedded
  documents field-order-sensitively (``{a: 1, b: 2}`` does not match
  ``{b: 2, a: 1}``), so a reordering is a real change. BSON types are kept
  exactly: int32, int64, double and Decimal128 of equal value hash
  differently; datetimes hash as their UTC milliseconds.
- Per document: SHA-256 of the canonical bytes, read as a 256-bit big-endian
  integer.
- Per collection: the sum of those integers modulo 2**256 (64 hex digits),
  plus the document count. A sum (unlike XOR) does not cancel when a
  document appears twice, and it can be accumulated batch by batch in any
  order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import bson
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions

from tenancy.databases.batches import DEFAULT_BATCH_SIZE, ProgressCallback, iter_batches
from tenancy.mongo_types import Collection, RawDocument

HASH_MODULUS = 2**256
#: Human-readable definition of the content hash, recorded in manifests.
CONTENT_HASH_ALGORITHM = (
    "sum mod 2**256 of sha256(bson.encode(document)); top-level _id first, "
    "all other fields in stored order, BSON types exact"
)
_CANONICAL_CODEC: CodecOptions[RawDocument] = CodecOptions(
    uuid_representation=UuidRepresentation.STANDARD
)


def canonical_bson(doc: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a document (see the module docstring)."""
    return bson.encode(doc, codec_options=_CANONICAL_CODEC)


def document_hash(doc: Mapping[str, Any]) -> int:
    """SHA-256 of the canonical BSON of ``doc``, as an integer in [0, 2**256)."""
    return int.from_bytes(hashlib.sha256(canonical_bson(doc)).digest(), "big")


class ContentDigest:
    """Order-independent digest of a set of documents: count plus hash sum.

    ``add``/``add_many`` in any order and in any batches; two digests are equal
    when they saw the same documents (as canonical BSON) the same number of
    times. ``hexdigest`` is 64 hex digits.
    """

    __slots__ = ("_sum", "count")

    def __init__(self, count: int = 0, hexdigest: str | None = None) -> None:
        self.count = count
        self._sum = int(hexdigest, 16) if hexdigest else 0

    def add(self, doc: Mapping[str, Any]) -> None:
        self._sum = (self._sum + document_hash(doc)) % HASH_MODULUS
        self.count += 1

    def add_many(self, docs: Iterable[Mapping[str, Any]]) -> None:
        total = self._sum
        n = 0
        for doc in docs:
            total += document_hash(doc)
            n += 1
        self._sum = total % HASH_MODULUS
        self.count += n

    @property
    def hexdigest(self) -> str:
        return f"{self._sum:064x}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContentDigest):
            return NotImplemented
        return self.count == other.count and self._sum == other._sum

    def __hash__(self) -> int:
        return hash((self.count, self._sum))

    def __repr__(self) -> str:
        return f"ContentDigest(count={self.count}, hexdigest={self.hexdigest!r})"


async def collection_digest(
    collection: Collection,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    label: str | None = None,
    total: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> ContentDigest:
    """Count and content hash of every document of ``collection`` (one pass,
    any order, bounded memory); ``on_progress(label, done, total)`` per batch."""
    digest = ContentDigest()
    async for batch in iter_batches(collection, batch_size, sort_by_id=False):
        digest.add_many(batch)
        if on_progress and label:
            on_progress(label, digest.count, total)
    return digest


def describe_mismatch(
    expected: ContentDigest, actual: ContentDigest, expected_side: str, actual_side: str
) -> str | None:
    """Why two digests differ, for a person (``None`` when they are equal)."""
    if expected.count != actual.count:
        return (
            f"count differs: {expected_side} has {expected.count} documents, "
            f"{actual_side} {actual.count}"
        )
    if expected != actual:
        return (
            f"content hash differs with equal counts ({expected.count}): at least one "
            f"document differs in a value, a BSON type or a field order"
        )
    return None
