"""Automatic persisted queries (Apollo's protocol), and a safelist mode for production.

**Automatic persisted queries (APQ)**, as Apollo Client's
``createPersistedQueryLink`` speaks it: the request carries
``extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}``, over
POST or GET (``?extensions=...`` URL-encoded JSON).

1. Hash only, hash known: the stored document runs.
2. Hash only, hash unknown: a GraphQL error with message
   ``PersistedQueryNotFound`` and ``extensions.code``
   ``PERSISTED_QUERY_NOT_FOUND`` (HTTP 200 for ``application/json``
   clients, 404 for GraphQL-over-HTTP ones); the link then sends the hash
   with the full query.
3. Hash and query: the hash must be the SHA-256 of the query text
   (``BAD_REQUEST`` otherwise); the document is stored and runs.

The store is a bounded in-process LRU cache (``APP_PERSISTED_QUERIES_CACHE_SIZE``
documents): a process that forgot a document answers step 2 and the client
sends it again, so nothing is lost when processes restart or disagree.

**Safelist mode** (``APP_PERSISTED_QUERIES_SAFELIST=true``): only documents
registered in the platform's ``persisted_queries`` collection run
(``tenantctl persisted-queries register manifest.json``, with the manifest of
Apollo's ``generate-persisted-query-manifest``); a full query that is not
registered is refused with ``PERSISTED_QUERY_NOT_ALLOWED``, and step 3 no
longer registers anything.

Batched requests (a JSON list) are refused with ``BAD_REQUEST`` before any
of this (``graphql_api.http_limits``, README "Batching").
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from cachetools import LRUCache

from graphql_api.http_limits import RequestError
from graphql_api.request_record import current_record
from tenancy.errors import AppError, ErrorCode
from tenancy.platform import PersistedQueryEntry, PlatformStore

NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # Apollo's clients read this exact message
_HASH_RE = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(RequestError):
    """A persisted-query refusal: a GraphQL error, so ``application/json`` clients get 200."""


def sha256_hex(text: str) -> str:
    """The SHA-256 of ``text`` (UTF-8) in lowercase hex, as Apollo's link computes it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _requested_hash(extensions: Any) -> str | None:
    """The ``sha256Hash`` of ``extensions.persistedQuery``, or ``None`` when there is none.

    Raises:
        RequestError(BAD_REQUEST): a persistedQuery of another version or a malformed hash.
    """
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise RequestError(ErrorCode.BAD_REQUEST, "persistedQuery must be version 1")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _HASH_RE.fullmatch(digest.lower()):
        raise RequestError(
            ErrorCode.BAD_REQUEST, "persistedQuery.sha256Hash must be 64 hexadecimal characters"
        )
    return digest.lower()


class PersistedQueries:
    """Resolves a request's document from its persisted-query hash (module docstring).

    Args:
        store: the platform store (the safelist's registered documents).
        cache_size: documents kept in this process.
        safelist: only registered documents run.
    """

    def __init__(self, store: PlatformStore, cache_size: int, safelist: bool) -> None:
        self.store = store
        self.safelist = safelist
        self.cache: LRUCache[str, str] = LRUCache(maxsize=cache_size)

    async def _registered(self, digest: str) -> str | None:
        body = self.cache.get(digest)
        if body is None and self.safelist:
            body = await self.store.persisted_query(digest)
            if body is not None:
                self.cache[digest] = body
        return body

    async def resolve(self, query: str | None, extensions: Any) -> str | None:
        """The document text the request runs.

        Args:
            query: the request's ``query`` (``None`` when only a hash was sent).
            extensions: the request's ``extensions``.

        Raises:
            PersistedQueryError(PERSISTED_QUERY_NOT_FOUND): a hash alone, unknown here.
            PersistedQueryError(PERSISTED_QUERY_NOT_ALLOWED): safelist mode, the
                document is not registered.
            RequestError(BAD_REQUEST): the hash is not the query's, or malformed.
        """
        digest = _requested_hash(extensions)
        record = current_record()
        if digest is None:
            known = not self.safelist or query is None
            if not known and await self._registered(sha256_hex(query or "")) is None:
                raise _not_allowed()
            return query
        if query is None:
            body = await self._registered(digest)
            if body is None:
                _mark(record, "miss")
                raise PersistedQueryError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, NOT_FOUND_MESSAGE)
            _mark(record, "hit")
            return body
        if sha256_hex(query) != digest:
            raise RequestError(
                ErrorCode.BAD_REQUEST,
                "persistedQuery.sha256Hash is not the SHA-256 of the query text",
            )
        if self.safelist:
            if await self._registered(digest) is None:
                raise _not_allowed()
        else:
            self.cache[digest] = query
        _mark(record, "registered")
        return query


def _not_allowed() -> PersistedQueryError:
    return PersistedQueryError(
        ErrorCode.PERSISTED_QUERY_NOT_ALLOWED,
        "this server runs registered operations only (safelist mode); register the client's "
        "operation manifest with `tenantctl persisted-queries register`",
    )


def _mark(record: Any, outcome: str) -> None:
    if record is not None:
        record.persisted = outcome


#: The ``format`` of the manifest Apollo's ``generate-persisted-query-manifest`` writes.
MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def parse_manifest(data: Any) -> list[PersistedQueryEntry]:
    """The operations of a client's persisted-query manifest, each hash checked.

    Accepted: Apollo's manifest (``{"format": "apollo-persisted-query-manifest",
    "version": 1, "operations": [{"id", "body", "name", "type"}]}``), or a plain
    JSON object ``{"<sha256>": "<document>"}`` (Relay's and other tools' form).

    Raises:
        AppError(VALIDATION_FAILED): another format, an entry without a body,
        or an id that is not the SHA-256 of its body (named in the message).
    """
    if isinstance(data, dict) and "operations" in data:
        if data.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT or data.get("version") != 1:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                f"unsupported manifest: expected format {MANIFEST_FORMAT!r} version 1",
            )
        raw = data["operations"]
        if not isinstance(raw, list):
            raise AppError(ErrorCode.VALIDATION_FAILED, "manifest operations must be a list")
        items = [
            (op.get("id"), op.get("body"), op.get("name"), op.get("type"))
            if isinstance(op, dict)
            else (None, None, None, None)
            for op in raw
        ]
    elif isinstance(data, dict):
        items = [(key, body, None, None) for key, body in data.items()]
    else:
        raise AppError(ErrorCode.VALIDATION_FAILED, "a manifest is a JSON object")
    entries = []
    for index, (digest, body, name, kind) in enumerate(items):
        label = f"operation {index + 1}" + (f" ({name})" if name else "")
        if not isinstance(body, str) or not body.strip():
            raise AppError(ErrorCode.VALIDATION_FAILED, f"{label} has no body")
        actual = sha256_hex(body)
        if not isinstance(digest, str) or digest.lower() != actual:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                f"{label}: id {digest!r} is not the SHA-256 of its body ({actual})",
            )
        entries.append(
            PersistedQueryEntry(
                sha256_hash=actual,
                body=body,
                name=name if isinstance(name, str) else None,
                operation_type=kind if isinstance(kind, str) else None,
            )
        )
    return entries
