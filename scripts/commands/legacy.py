"""``tenantctl import-legacy``: the legacy CRM and clinic systems."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from scripts.commands.common import ACTOR, JsonOption, finish, refuse, run_with_progress
from scripts.output import ProgressReporter
from tenancy.runtime import Runtime

if TYPE_CHECKING:  # the importers load on use: other commands start faster
    from scripts.legacy.report import ImportReport
    from tenancy.mongo_types import Client


class LegacyKind(StrEnum):
    CRM = "legacy-crm"
    CLINICS = "legacy-clinics"


def register(app: typer.Typer) -> None:
    """Add ``import-legacy`` to ``app``."""
    app.command("import-legacy")(import_legacy_cmd)


def import_legacy_cmd(
    kind: LegacyKind = typer.Argument(..., help="Which legacy system."),
    source_dir: Path | None = typer.Option(
        None,
        "--dir",
        help="Directory of mongoexport JSON Lines: <dir>/<database>/<collection>.jsonl "
        "(e.g. ../shared/data/legacy-clinics).",
    ),
    source_url: str | None = typer.Option(
        None, "--url", help="A live legacy MongoDB server instead of --dir."
    ),
    plan: str = typer.Option("professional", help="Plan of the tenants it creates."),
    owner_password: str | None = typer.Option(
        None, help="Password of created owner users (default: a random one, shown once)."
    ),
    adopt_existing: bool = typer.Option(
        False,
        help="Import into an existing tenant of the same slug that this import did not create.",
    ),
    batch_size: int = typer.Option(
        500, min=1, max=10_000, help="Records per write batch and checkpoint."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Import a legacy database into the product.

    **legacy-crm**: crm_db -> platform (plans, feature flags, global reference
    data); vitingo_crm -> tenant quattro-stand (customers, products, leads,
    calendar events; stale countries/cities not carried).
    **legacy-clinics**: omega_shared split by tenant_id into one database per
    tenant (services, bookings with exact prices and UTC times, locations,
    referral codes, providers, notifications, lab results). Documents naming
    no tenant are reported with their ids.

    Re-running creates no duplicates; an interrupted run resumes. Exit code 1
    when anything was not accounted for or did not validate.

    Example: tenantctl import-legacy legacy-clinics --dir ../shared/data/legacy-clinics
    """
    from scripts.legacy import (
        DATABASES,
        ImportOptions,
        database_sources,
        directory_sources,
        import_legacy,
    )

    if (source_dir is None) == (source_url is None):
        refuse("give exactly one of --dir or --url", as_json)
    databases = DATABASES[kind.value]

    async def action(runtime: Runtime, bar: ProgressReporter) -> ImportReport:
        options = ImportOptions(
            plan_key=plan,
            owner_password=owner_password,
            adopt_existing=adopt_existing,
            batch_size=batch_size,
            actor=ACTOR,
            on_progress=bar,
        )
        if source_dir is not None:
            return await import_legacy(
                runtime, kind.value, directory_sources(source_dir, databases), options
            )
        from pymongo import AsyncMongoClient

        timeout_ms = round(runtime.settings.cli_server_selection_timeout_seconds * 1000)
        client: Client = AsyncMongoClient(
            source_url, tz_aware=True, serverSelectionTimeoutMS=timeout_ms
        )
        try:
            return await import_legacy(
                runtime, kind.value, database_sources(client, databases), options
            )
        finally:
            await client.close()

    finish(run_with_progress(action, as_json), as_json)
