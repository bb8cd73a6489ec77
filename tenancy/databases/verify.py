"""Verify that one database holds what another holds: per collection, the
document count, the order-independent content hash (each side hashed in one
streaming pass, :mod:`tenancy.databases.digests`), the index definitions and
the collection options. Read only."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tenancy.databases.batches import DEFAULT_BATCH_SIZE, ProgressCallback, check_batch_size
from tenancy.databases.digests import collection_digest, describe_mismatch
from tenancy.databases.ejson_io import stable_json
from tenancy.databases.indexes import compare_indexes, read_index_specs
from tenancy.databases.results import CollectionResult, OperationResult, describe
from tenancy.databases.specs import STATE_COLLECTION, list_collection_specs, select_specs
from tenancy.errors import ErrorCode
from tenancy.mongo_types import Database


async def verify_collection(
    source: Database,
    target: Database,
    name: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    check_indexes: bool = True,
    on_progress: ProgressCallback | None = None,
) -> CollectionResult:
    """Compare collection ``name`` in ``source`` and ``target``: document count
    and content hash (each side hashed in one streaming pass) and, when
    ``check_indexes``, the index definitions.

    Returns:
        A :class:`CollectionResult` with ``action="verify"``, both counts and
        hashes, ``checksum_match``, and ``status`` ``failed`` (code
        ``VERIFICATION_FAILED``) with the reason when they differ. Extra
        target indexes are warnings, not failures.
    """
    item = CollectionResult(name, action="verify")
    t0 = time.perf_counter()
    src, dst = source[name], target[name]
    if name not in await target.list_collection_names():
        item.fail(ErrorCode.VERIFICATION_FAILED, f"collection {name} is missing in the target")
        return item
    total = await src.estimated_document_count()
    label = f"verify:{name}"
    expected = await collection_digest(
        src, batch_size=batch_size, label=label, total=total * 2, on_progress=on_progress
    )
    actual = await collection_digest(
        dst,
        batch_size=batch_size,
        label=label,
        total=total * 2,
        on_progress=(lambda lbl, done, tot: on_progress(lbl, expected.count + done, tot))
        if on_progress
        else None,
    )
    item.source_count, item.target_count = expected.count, actual.count
    item.source_hash, item.target_hash = expected.hexdigest, actual.hexdigest
    item.checksum_match = expected == actual
    mismatch = describe_mismatch(expected, actual, "source", "target")
    if mismatch:
        item.fail(ErrorCode.VERIFICATION_FAILED, mismatch)
    if check_indexes:
        source_indexes = await read_index_specs(src)
        problems, extras = compare_indexes(source_indexes, await read_index_specs(dst))
        item.indexes = len(source_indexes)
        for problem in problems:
            item.fail(ErrorCode.VERIFICATION_FAILED, problem)
        item.warnings.extend(extras)
    item.seconds = time.perf_counter() - t0
    return item


async def verify_database(
    source: Database,
    target: Database,
    *,
    collections: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    check_indexes: bool = True,
    state_collection: str = STATE_COLLECTION,
    on_progress: ProgressCallback | None = None,
) -> OperationResult:
    """Verify that ``target`` holds the same collections, documents and indexes
    as ``source`` (read only, both sides streamed; see :func:`verify_collection`).

    Args:
        source / target: the two databases (any clients).
        collections: names to verify (default: every source collection).
        batch_size: cursor batch size (documents).
        check_indexes: also compare index definitions.
        state_collection: checkpoint collection name, ignored on both sides.
        on_progress: ``("verify:<name>", done, total)`` callback.
    Returns:
        ``OperationResult(operation="verify")``; ``ok`` is False when any
        collection differs. Collections only the target has are warnings;
        collection options are compared when both servers list them.
    Raises:
        AppError(VALIDATION_FAILED): bad ``batch_size``.
        AppError(NOT_FOUND): a name in ``collections`` is not in the source.
    """
    started = time.perf_counter()
    check_batch_size(batch_size)
    result = OperationResult("verify", describe(source), describe(target))
    source_specs = select_specs(
        await list_collection_specs(source, state_collection=state_collection),
        collections,
        f"source database {source.name}",
    )
    target_specs = {
        spec.name: spec
        for spec in await list_collection_specs(target, state_collection=state_collection)
    }
    for spec in source_specs:
        if spec.kind == "view":
            item = CollectionResult(spec.name, action="verify")
            if spec.name not in target_specs:
                item.fail(ErrorCode.VERIFICATION_FAILED, "view is missing in the target")
        else:
            item = await verify_collection(
                source,
                target,
                spec.name,
                batch_size=batch_size,
                check_indexes=check_indexes,
                on_progress=on_progress,
            )
        other = target_specs.get(spec.name)
        if (
            other is not None
            and spec.options_known
            and other.options_known
            and stable_json(spec.options) != stable_json(other.options)
        ):
            item.fail(
                ErrorCode.VERIFICATION_FAILED,
                f"collection options differ: source {stable_json(spec.options)}, "
                f"target {stable_json(other.options)}",
            )
        result.collections.append(item)
    if collections is None:
        extra = sorted(set(target_specs) - {spec.name for spec in source_specs})
        if extra:
            result.warnings.append(f"collections only in the target: {', '.join(extra)}")
    result.seconds = time.perf_counter() - started
    return result
