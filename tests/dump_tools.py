"""Helpers for tests that tamper with dumps (``tenancy.dump`` format version 2, BSON files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bson

from tenancy.databases.bson_files import DECODE_OPTIONS, bson_file_stats
from tenancy.databases.dump_format import MANIFEST_NAME
from tenancy.databases.ejson_io import read_json_file, write_json_file

Docs = list[dict[str, Any]]


def read_docs(path: Path) -> Docs:
    """Every document of a ``.bson`` data file."""
    return bson.decode_all(path.read_bytes(), codec_options=DECODE_OPTIONS)


def write_docs(path: Path, docs: Docs) -> None:
    """Replace a ``.bson`` data file with ``docs``."""
    path.write_bytes(b"".join(bson.encode(doc) for doc in docs))


def edit_manifest(directory: Path, collection: str, **changes: Any) -> None:
    """Change fields of one collection's manifest entry."""
    manifest = read_json_file(directory / MANIFEST_NAME)
    for entry in manifest["collections"]:
        if entry["name"] == collection:
            entry.update(changes)
    write_json_file(directory / MANIFEST_NAME, manifest)


def rewrite_collection(
    directory: Path,
    collection: str,
    transform: Callable[[Docs], Docs],
    *,
    cover_tracks: bool = True,
    fix_count: bool = False,
) -> None:
    """Rewrite one collection file's documents; with ``cover_tracks`` the
    manifest's SHA-256 and size are recomputed (and the count with ``fix_count``),
    as someone hiding an edit would."""
    path = directory / f"{collection}.bson"
    write_docs(path, transform(read_docs(path)))
    if cover_tracks:
        recompute_file_checksums(directory, collection, fix_count=fix_count)


def recompute_file_checksums(directory: Path, collection: str, *, fix_count: bool = False) -> None:
    """Make the manifest's size and SHA-256 (and count) match the file as it now is."""
    stats = bson_file_stats(directory / f"{collection}.bson")
    changes: dict[str, Any] = {"sha256": stats.sha256, "size": stats.size}
    if fix_count:
        changes["count"] = stats.lines
    edit_manifest(directory, collection, **changes)


def to_version_1(directory: Path) -> None:
    """Rewrite a format-2 dump as format 1 (relaxed Extended JSON Lines), as older versions did."""
    from tenancy.databases.ejson_io import document_line, file_stats

    manifest = read_json_file(directory / MANIFEST_NAME)
    manifest["format_version"] = 1
    for entry in manifest["collections"]:
        if entry.get("type") == "view":
            continue
        bson_path = directory / entry["file"]
        jsonl = bson_path.with_suffix(".jsonl")
        jsonl.write_bytes(b"".join(document_line(d) for d in read_docs(bson_path)))
        bson_path.unlink()
        stats = file_stats(jsonl)
        entry.update(file=jsonl.name, sha256=stats.sha256, size=stats.size)
    write_json_file(directory / MANIFEST_NAME, manifest)
