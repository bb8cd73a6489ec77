"""Legacy data imports (``import-legacy``): the two legacy systems of the seeds into this product.

- ``legacy-crm``: ``crm_db`` -> platform database; ``vitingo_crm`` -> tenant
  ``quattro-stand`` (:func:`import_legacy_crm`).
- ``legacy-clinics``: ``omega_shared`` split by ``tenant_id`` into one tenant
  database per tenant (:func:`import_legacy_clinics`).

Sources are a directory of mongoexport JSON Lines files
(:func:`directory_sources`) or a live MongoDB server (:func:`database_sources`).
A source is checked before anything is written (:mod:`scripts.legacy.preflight`:
missing files, unreadable lines, fields of the wrong type raise
:class:`SourceError`, a coded ``AppError``). Every run returns an
:class:`ImportReport` (per collection: source count, written, already present,
merged with the list of merges, skipped with reasons and ids, validation).
Runs are idempotent and resumable. Typical use from an operator command::

    platform = build_runtime(get_settings()); await platform.start()
    sources = directory_sources("../shared/data/legacy-clinics", DATABASES["legacy-clinics"])
    report = await import_legacy(platform, "legacy-clinics", sources)
    print(json.dumps(report.to_dict(), default=str))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scripts.legacy.checkpoints import STATE_COLLECTION
from scripts.legacy.clinics import ClinicsOptions, import_legacy_clinics
from scripts.legacy.common import ImportOptions
from scripts.legacy.crm import CrmOptions, import_legacy_crm
from scripts.legacy.report import (
    CollectionReport,
    ImportReport,
    Issue,
    Merge,
    TargetCounts,
    TenantOutcome,
    Validation,
)
from scripts.legacy.sources import (
    DatabaseSource,
    DirectorySource,
    Source,
    SourceError,
    database_sources,
    directory_sources,
)
from tenancy.runtime import Runtime

# Legacy source name -> the legacy databases it needs.
DATABASES: dict[str, tuple[str, ...]] = {
    "legacy-crm": ("crm_db", "vitingo_crm"),
    "legacy-clinics": ("omega_shared",),
}


async def import_legacy(
    runtime: Runtime,
    kind: str,
    sources: Mapping[str, Source],
    options: ImportOptions | None = None,
) -> ImportReport:
    """Run the import named ``kind`` (``"legacy-crm"`` or ``"legacy-clinics"``).

    Args:
        runtime: the target runtime, started.
        sources: legacy database name -> source (see :data:`DATABASES`).
        options: :class:`CrmOptions` / :class:`ClinicsOptions`; a plain
            :class:`ImportOptions` is widened with the defaults of the import.

    Raises:
        ValueError: unknown ``kind``.
        KeyError: a needed source is missing.
    """
    if kind == "legacy-crm":
        crm = options if isinstance(options, CrmOptions) else CrmOptions(**_common(options))
        return await import_legacy_crm(runtime, sources, crm)
    if kind == "legacy-clinics":
        clinics = (
            options if isinstance(options, ClinicsOptions) else ClinicsOptions(**_common(options))
        )
        return await import_legacy_clinics(runtime, sources, clinics)
    raise ValueError(f"unknown legacy source {kind!r}; choose one of {', '.join(DATABASES)}")


def _common(options: ImportOptions | None) -> dict[str, Any]:
    if options is None:
        return {}
    return {name: getattr(options, name) for name in ImportOptions.__dataclass_fields__}


__all__ = [
    "DATABASES",
    "STATE_COLLECTION",
    "ClinicsOptions",
    "CollectionReport",
    "CrmOptions",
    "DatabaseSource",
    "DirectorySource",
    "ImportOptions",
    "ImportReport",
    "Issue",
    "Merge",
    "Source",
    "SourceError",
    "TargetCounts",
    "TenantOutcome",
    "Validation",
    "database_sources",
    "directory_sources",
    "import_legacy",
    "import_legacy_clinics",
    "import_legacy_crm",
]
