"""``tenantctl persisted-queries ...``: the safelist of persisted queries (issue 12).

With ``APP_PERSISTED_QUERIES_SAFELIST=true`` the API runs only the documents
registered here (``graphql_api.persisted_queries``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from graphql_api.persisted_queries import parse_manifest
from scripts.commands.common import JsonOption, fail, run
from scripts.output import print_records
from tenancy.errors import AppError, ErrorCode
from tenancy.platform import PersistedQueryEntry
from tenancy.reports import Table
from tenancy.runtime import Runtime

persisted_queries_app = typer.Typer(
    help="Persisted queries: the operations a safelisted API runs.", no_args_is_help=True
)


def _read_manifest(path: Path) -> list[PersistedQueryEntry]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AppError(ErrorCode.NOT_FOUND, f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"{path} is not JSON: {exc}") from None
    return parse_manifest(data)


@persisted_queries_app.command("register")
def register(
    manifest: Path = typer.Argument(
        ..., help="The client's operation manifest (Apollo's persisted-query manifest JSON)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Register a client's operations (idempotent: known ones are kept). Every id is
    checked against its body first; one bad entry registers nothing.

    Example: tenantctl persisted-queries register persisted-query-manifest.json
    """
    try:
        entries = _read_manifest(manifest)
    except AppError as error:
        fail(error, as_json)

    async def action(runtime: Runtime) -> int:
        return await runtime.store.register_persisted_queries(entries, source=manifest.name)

    added = run(action, as_json)
    data = {"operations": len(entries), "added": added, "known": len(entries) - added}
    table = Table(
        f"persisted queries registered from {manifest.name}", list(data), [list(data.values())]
    )
    print_records(table, data, as_json)


@persisted_queries_app.command("list")
def list_registered(as_json: bool = JsonOption) -> None:
    """The registered operations: hash, name and type.

    Example: tenantctl persisted-queries list --json
    """

    async def action(runtime: Runtime) -> list[PersistedQueryEntry]:
        return await runtime.store.persisted_queries()

    entries = run(action, as_json)
    data = [
        {"sha256Hash": e.sha256_hash, "name": e.name, "type": e.operation_type} for e in entries
    ]
    rows: list[Sequence[Any]] = [[e.sha256_hash, e.name, e.operation_type] for e in entries]
    print_records(Table("persisted queries", ["sha256", "name", "type"], rows), data, as_json)
