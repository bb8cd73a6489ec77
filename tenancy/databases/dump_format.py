"""The dump format: directory layout, ``manifest.json``, data files, and the
checks a dump must pass before anything is imported from it.

Directory layout (format version 2)::

    <directory>/
        manifest.json        what the dump holds (below)
        customers.bson       one file per collection, as mongodump writes them
        bookings.bson        (concatenated BSON documents, see bson_files)
        ...

Each ``.bson`` file can also be read with ``bsondump`` or loaded by hand with
``mongorestore --db X --collection customers customers.bson``. BSON is
typed, so a document's own keys are never reinterpreted: a stored filter
``{"$regex": "^A", "$options": "i"}`` or a field ``{"$date": 5}`` comes back
exactly as it was. Version 1 dumps (relaxed Extended JSON Lines, ``.jsonl``,
written before 2026-12) are still read; in those, such keys were already
ambiguous when they were written.

``manifest.json`` (Extended JSON, indented)::

    {
      "format": "tenancy-dump",
      "format_version": 2,
      "database": "tenant_acme",            # name of the exported database
      "created_at": "2026-11-21T05:14:36Z", # UTC, ISO 8601
      "content_hash_algorithm": "...",      # see digests
      "collections": [
        {
          "name": "customers",
          "type": "collection",              # or "view" (no file)
          "file": "customers.bson",          # relative to the directory
          "count": 120,                      # documents in the file
          "sha256": "<64 hex>",              # SHA-256 of the file's bytes
          "size": 48213,                     # bytes
          "content_hash": "<64 hex>",        # order-independent hash of the documents
          "indexes": [{"key": {...}, "name": "...", "unique": true, ...}],
          "options": {...},                  # create_collection options
          "options_known": true              # false: the server did not list options
        }
      ]
    }

:func:`check_dump` checks the manifest (structure, collection names, index
definitions) and every file (document count and SHA-256), then parses every
document and recomputes each collection's count and order-independent
content hash, so a dump whose documents were edited and whose file checksums
were recomputed to match is still refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tenancy.databases.batches import DEFAULT_BATCH_SIZE, ProgressCallback
from tenancy.databases.bson_files import bson_file_stats, iter_bson
from tenancy.databases.digests import CONTENT_HASH_ALGORITHM, ContentDigest, describe_mismatch
from tenancy.databases.ejson_io import FileStats, batched, file_stats, iter_jsonl, read_json_file
from tenancy.errors import AppError, ErrorCode

FORMAT = "tenancy-dump"
FORMAT_VERSION = 2
READABLE_VERSIONS = frozenset({1, 2})  # 1: JSON Lines files
DATA_SUFFIXES = (".bson", ".jsonl")
MANIFEST_NAME = "manifest.json"

_SAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def data_file_name(collection: str, taken: set[str]) -> str:
    """A portable file name for ``collection`` (unsafe characters %-escaped,
    unique even on case-insensitive file systems)."""
    stem = _SAFE_FILE_CHARS.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), collection)
    stem = "_" + stem if stem.startswith(".") else stem
    name, n = f"{stem}.bson", 1
    while name.casefold() in taken:
        n += 1
        name = f"{stem}~{n}.bson"
    taken.add(name.casefold())
    return name


def data_file_stats(path: Path) -> FileStats:
    """Documents, size and SHA-256 of a data file (``.bson``; ``.jsonl`` of version 1)."""
    return bson_file_stats(path) if path.suffix == ".bson" else file_stats(path)


def iter_data_file(path: Path) -> Iterator[dict[str, Any]]:
    """Documents of a data file, one at a time. Raises ``ValueError`` naming where it broke."""
    return iter_bson(path) if path.suffix == ".bson" else iter_jsonl(path)


def iter_data_batches(path: Path, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Documents of a data file in lists of at most ``batch_size``."""
    return batched(iter_data_file(path), batch_size)


def _invalid(directory: Path, problems: list[str]) -> AppError:
    listed = "; ".join(problems[:20]) + (
        f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
    )
    return AppError(
        ErrorCode.MANIFEST_INVALID,
        f"dump {directory} failed verification, nothing was written: {listed}",
    )


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check the structure of ``<directory>/manifest.json``.

    Returns:
        The manifest (see module docstring).
    Raises:
        AppError(MANIFEST_INVALID): missing, unparsable, another format or
            version, or malformed entries (unsafe file names included).
    """
    root = Path(directory)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise _invalid(root, [f"{MANIFEST_NAME} is missing"])
    try:
        manifest = read_json_file(path)
    except (ValueError, OSError) as exc:
        raise _invalid(root, [f"{MANIFEST_NAME} cannot be read: {exc}"]) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _invalid(root, [f"{MANIFEST_NAME} is not a {FORMAT} manifest"])
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise _invalid(
            root,
            [f"format_version {manifest.get('format_version')!r} is not one of 1, 2"],
        )
    entries = manifest.get("collections")
    if not isinstance(entries, list):
        raise _invalid(root, ["collections must be a list"])
    problems: list[str] = []
    names: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"collections[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(f"{where} has no name")
            continue
        name = entry["name"]
        if (problem := _collection_name_problem(name)) is not None:
            problems.append(problem)
        if name in names:
            problems.append(f"collection {name} is listed twice")
        names.add(name)
        if not isinstance(entry.get("options", {}), dict):
            problems.append(f"{name}: options must be an object")
        if entry.get("type", "collection") == "view":
            continue
        file_name = entry.get("file")
        if (
            not isinstance(file_name, str)
            or not file_name
            or file_name != Path(file_name).name
            or file_name in (".", "..", MANIFEST_NAME)
            or not file_name.endswith(DATA_SUFFIXES)
        ):
            problems.append(f"{name}: file {file_name!r} is not a plain file name")
        for key in ("count", "size"):
            if not isinstance(entry.get(key), int) or entry[key] < 0:
                problems.append(f"{name}: {key} must be a non-negative integer")
        for key in ("sha256", "content_hash"):
            if not re.fullmatch(r"[0-9a-f]{64}", str(entry.get(key, ""))):
                problems.append(f"{name}: {key} must be 64 hex digits")
        problems.extend(_index_problems(name, entry.get("indexes")))
    algorithm = manifest.get("content_hash_algorithm", CONTENT_HASH_ALGORITHM)
    if algorithm != CONTENT_HASH_ALGORITHM:
        problems.append(f"content_hash_algorithm {algorithm!r} is not the one this version uses")
    if problems:
        raise _invalid(root, problems)
    return manifest


#: Index key values a server accepts besides a non-zero number (1, -1).
_INDEX_KEY_TYPES = frozenset({"text", "2d", "2dsphere", "hashed", "geoHaystack"})
#: Index options whose value must have this type when present.
_INDEX_OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "unique": bool,
    "sparse": bool,
    "hidden": bool,
    "expireAfterSeconds": int,
    "partialFilterExpression": dict,
    "collation": dict,
    "weights": dict,
    "wildcardProjection": dict,
}


def _collection_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a collection name (MongoDB naming restrictions), or None."""
    if not name or "\0" in name or "$" in name:
        return f"collection name {name!r} is empty or contains '$' or NUL"
    if name.startswith("system."):
        return f"collection name {name!r} is reserved (system.*)"
    return None


def _index_problems(collection: str, indexes: Any) -> list[str]:
    """Sanity of a manifest's index list: shape, key values, unique names, option types."""
    if not isinstance(indexes, list):
        return [f"{collection}: indexes must be a list of {{key, name, ...}}"]
    problems: list[str] = []
    names: set[str] = set()
    for i, spec in enumerate(indexes):
        where = f"{collection}: index {i}"
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), dict) or not spec["key"]:
            problems.append(f"{where} must be an object with a non-empty key")
            continue
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{where} has no name")
            continue
        where = f"{collection}: index {name!r}"
        if name == "_id_":
            problems.append(f"{where} is the implicit _id index and must not be listed")
        if name in names:
            problems.append(f"{where} is listed twice")
        names.add(name)
        for field_name, kind in spec["key"].items():
            number = isinstance(kind, int | float) and not isinstance(kind, bool) and kind != 0
            if not (field_name and (number or kind in _INDEX_KEY_TYPES)):
                problems.append(f"{where}: key {field_name!r}: {kind!r} is not an index type")
        for option, expected in _INDEX_OPTION_TYPES.items():
            value = spec.get(option)
            wrong = not isinstance(value, expected) or (
                expected is int
                and isinstance(value, int)
                and (isinstance(value, bool) or value < 0)
            )
            if option in spec and wrong:
                problems.append(f"{where}: option {option} has an invalid value {value!r}")
    return problems


def check_dump(
    directory: str | os.PathLike[str],
    *,
    content: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Check a dump without writing anything.

    Always: the manifest (:func:`read_manifest`: structure, collection names,
    index definitions), and for every collection file that it exists, has
    ``count`` lines, ``size`` bytes and the recorded SHA-256, and that no
    other ``.jsonl`` file lies beside them. With ``content``: every document
    of every file is parsed (bounded memory: ``batch_size`` at a time); each
    must be a JSON object with an ``_id``, and each collection's document
    count and order-independent content hash (:class:`ContentDigest`) must
    equal the manifest's. File checksums alone can be recomputed after an
    edit; the content hash of the documents then still differs.

    Args:
        directory: the dump directory.
        content: also parse and hash every document (default).
        batch_size: documents hashed at a time (>= 1).
        on_progress: ``("check:<collection>", documents_done, count)``.
    Returns:
        The manifest.
    Raises:
        AppError(NOT_FOUND): ``directory`` does not exist or is not a directory.
        AppError(MANIFEST_INVALID) listing every problem found.
    """
    root = Path(directory)
    if not root.is_dir():
        state = "is not a directory" if root.exists() else "does not exist"
        raise AppError(ErrorCode.NOT_FOUND, f"dump directory {root} {state}")
    manifest = read_manifest(root)
    problems: list[str] = []
    intact: list[dict[str, Any]] = []
    for entry in manifest["collections"]:
        if entry.get("type", "collection") == "view":
            continue
        path = root / entry["file"]
        if not path.is_file():
            problems.append(f"{entry['file']} is missing")
            continue
        stats = data_file_stats(path)
        if stats.lines < 0:
            problems.append(f"{entry['file']}: not whole BSON documents (truncated or damaged)")
        elif stats.lines != entry["count"]:
            problems.append(
                f"{entry['file']}: {stats.lines} documents, the manifest says {entry['count']}"
            )
        elif stats.size != entry["size"] or stats.sha256 != entry["sha256"]:
            problems.append(f"{entry['file']}: checksum differs from the manifest (file changed)")
        else:
            intact.append(entry)
    listed = {entry.get("file") for entry in manifest["collections"]}
    strays = sorted(
        p.name for p in root.iterdir() if p.suffix in DATA_SUFFIXES and p.name not in listed
    )
    if strays:
        problems.append(f"files not in the manifest: {', '.join(strays)}")
    if content and not problems:
        for entry in intact:
            problems.extend(_content_problems(root, entry, batch_size, on_progress))
    if problems:
        raise _invalid(root, problems)
    return manifest


def _content_problems(
    root: Path, entry: dict[str, Any], batch_size: int, on_progress: ProgressCallback | None
) -> list[str]:
    """Parse one collection file; compare its documents' count and content hash
    with the manifest entry. Returns the problems found (empty: it checks out)."""
    file_name = entry["file"]
    label = f"check:{entry['name']}"
    digest = ContentDigest()
    batch: list[dict[str, Any]] = []
    try:
        for doc in iter_data_file(root / file_name):
            if "_id" not in doc:
                return [f"{file_name}: document {digest.count + len(batch) + 1} has no _id"]
            batch.append(doc)
            if len(batch) >= batch_size:
                digest.add_many(batch)
                batch = []
                if on_progress:
                    on_progress(label, digest.count, entry["count"])
        digest.add_many(batch)
    except ValueError as exc:  # names the file and line
        return [str(exc)]
    if on_progress:
        on_progress(label, digest.count, entry["count"])
    expected = ContentDigest(entry["count"], entry["content_hash"])
    mismatch = describe_mismatch(expected, digest, "the manifest", "the file")
    return [f"{file_name}: {mismatch}"] if mismatch else []
