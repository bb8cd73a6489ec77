"""Import ``legacy-crm``: ``crm_db`` into the platform, ``vitingo_crm`` into tenant quattro-stand.

``crm_db`` (platform-level data):

=================  ===========================  ===============================
legacy             platform collection          written as
=================  ===========================  ===============================
packages           plans                        upsert by ``key`` (kept in sync:
                                                the platform's default plans
                                                come from these packages)
feature_flags      feature_flags                inserted once, by ``key``
countries          global_countries             inserted once, by ``code``
currencies         global_currencies            inserted once, by ``code``
languages          global_languages             inserted once, by ``code``
cities             global_cities                inserted once, by name + country
=================  ===========================  ===============================

``vitingo_crm`` (the first tenant's data) goes to the tenant ``quattro-stand``
(provisioned if missing): customers (legacy field names mapped to the
product's: ``companyName`` -> ``name``, ``companyTitle`` -> ``company``,
``passive`` -> ``inactive``; other fields kept in snake_case), products
(``unitPrice`` -> ``unit_price_minor``), leads and calendar events. Its stale
copies of ``countries`` and ``cities`` (and the empty ``positions``) are not
carried into the tenant database; they are reported as skipped.
Customers whose emails differ only by letter case are merged into one
(:mod:`scripts.legacy.customer_merge`: the oldest wins), never dropped.

This module runs the import (:class:`CrmImport`); the legacy -> product
document mapping is in :mod:`scripts.legacy.crm_mapping`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.collections import CUSTOMERS
from scripts.legacy.common import ImportOptions, update_counters
from scripts.legacy.crm_mapping import (
    CUSTOMER_CHECK_FIELDS,
    PLATFORM_DATABASE,
    TENANT_DATABASE,
    customer_from_legacy,
    event_from_legacy,
    lead_from_legacy,
    legacy_source,
    money_problems,
    plan_from_package,
    product_from_legacy,
    reference_from_legacy,
)
from scripts.legacy.customer_merge import CustomerMerges
from scripts.legacy.engine import Engine
from scripts.legacy.preflight import Expected, check_sources
from scripts.legacy.report import CollectionReport, ImportReport
from scripts.legacy.sources import Source, require_sources
from scripts.legacy.tenants import TenantSpec, ensure_tenant
from scripts.legacy.writes import (
    BatchMapper,
    Mapped,
    MapResult,
    Skip,
    insert_once,
    per_doc,
    source_id,
)
from tenancy.models import Tenant, utcnow
from tenancy.platform import PLANS
from tenancy.runtime import Runtime

SOURCE_NAME = "legacy-crm"
DATABASES = (PLATFORM_DATABASE, TENANT_DATABASE)

FEATURE_FLAGS = "feature_flags"
# crm_db collection -> (platform collection, natural key fields)
PLATFORM_COLLECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "packages": (PLANS, ("key",)),
    "feature_flags": (FEATURE_FLAGS, ("key",)),
    "countries": ("global_countries", ("code",)),
    "currencies": ("global_currencies", ("code",)),
    "languages": ("global_languages", ("code",)),
    "cities": ("global_cities", ("name", "country")),
}
TENANT_COLLECTIONS: dict[str, str] = {
    "customers": CUSTOMERS,
    "products": "products",
    "leads": "leads",
    "calendar_events": "calendar_events",
}
NOT_CARRIED: dict[str, str] = {
    "countries": "stale copy of reference data, not carried into the tenant database "
    "(the platform's global_countries comes from crm_db.countries)",
    "cities": "stale copy of reference data, not carried into the tenant database "
    "(the platform's global_cities comes from crm_db.cities)",
    "positions": "not part of the product's model; not carried over",
}

# The collections this import needs and the types of the fields its mappers read
# (checked before anything is written: scripts.legacy.preflight).
_TEXT, _NUMBER, _INT, _DATE, _BOOL = "string", "number", "integer", "datetime", "bool"
EXPECTED: Expected = {
    PLATFORM_DATABASE: {
        "packages": {
            "key": _TEXT,
            "name": _TEXT,
            "description": _TEXT,
            "currency": _TEXT,
            "price_monthly": _NUMBER,
            "price_yearly": _NUMBER,
            "features": "dict",
            "features.max_users": _INT,
            "features.max_customers": _INT,
            "features.feature_flags": "list",
            "is_active": _BOOL,
            "sort_order": _INT,
            "stripe_price_id_monthly": _TEXT,
            "stripe_price_id_yearly": _TEXT,
        },
        "feature_flags": {"key": _TEXT, "created_at": _DATE, "updated_at": _DATE},
        "countries": {"code": _TEXT},
        "currencies": {"code": _TEXT},
        "languages": {"code": _TEXT},
        "cities": {"name": _TEXT, "country": _TEXT},
    },
    TENANT_DATABASE: {
        "customers": {
            "id": _TEXT,
            "companyName": _TEXT,
            "companyTitle": _TEXT,
            "contactPerson": _TEXT,
            "email": _TEXT,
            "phone": _TEXT,
            "status": _TEXT,
            "notes": _TEXT,
            "tags": "list",
            "currency": _TEXT,
            "totalRevenue": _NUMBER,
            "customerSince": _DATE,
            "created_at": _DATE,
            "updated_at": _DATE,
        },
        "products": {
            "id": _TEXT,
            "name": _TEXT,
            "currency": _TEXT,
            "unitPrice": _NUMBER,
            "isActive": _BOOL,
            "created_at": _DATE,
        },
        "leads": {"id": _TEXT, "created_at": _DATE},
        "calendar_events": {"id": _TEXT, "start": _DATE, "end": _DATE, "created_at": _DATE},
    },
}


@dataclass
class CrmOptions(ImportOptions):
    """Options of the CRM import (see :class:`ImportOptions` for the common ones).

    Attributes describe the tenant ``vitingo_crm`` becomes (seed 001's
    quattro-stand record: professional plan, Europe/Istanbul, TRY, owner
    Murat Bucak). ``owner_email`` is the owner admin's login.
    """

    tenant_slug: str = "quattro-stand"
    tenant_name: str = "Quattro Stand"
    owner_email: str = "owner@quattro.com"
    owner_name: str = "Murat Bucak"
    timezone: str = "Europe/Istanbul"
    language: str = "tr"
    currency: str = "TRY"
    confirmation_prefix: str = "QS"
    domains: list[str] = field(default_factory=list)
    email_sender: str | None = None


# -- the import ----------------------------------------------------------------------


class CrmImport:
    """One run of the CRM import; use :func:`import_legacy_crm`."""

    def __init__(
        self, runtime: Runtime, sources: Mapping[str, Source], options: CrmOptions
    ) -> None:
        self.runtime = runtime
        self.crm_db = sources[PLATFORM_DATABASE]
        self.tenant_db = sources[TENANT_DATABASE]
        self.options = options
        self.now = options.now or utcnow()
        self.report = ImportReport(source=SOURCE_NAME, started_at=utcnow())
        self.engine = Engine(
            runtime,
            SOURCE_NAME,
            self.report,
            batch_size=options.batch_size,
            now=self.now,
            on_progress=options.on_progress,
        )
        self.tenant: Tenant | None = None
        self.tenant_problem = ""
        self.merges: CustomerMerges | None = None
        self.validating = False

    async def run(self) -> ImportReport:
        platform_names = await self.crm_db.collection_names()
        platform_jobs = []
        for collection, (target, _key) in PLATFORM_COLLECTIONS.items():
            entry = self.report.add(
                CollectionReport(legacy_source(PLATFORM_DATABASE, collection), f"platform.{target}")
            )
            mapper = self._platform_mapper(collection)
            platform_jobs.append((collection, entry, mapper))
            if collection in platform_names:
                await self.engine.run_collection(self.crm_db, collection, entry, mapper)
            else:
                entry.notes.append("collection not present in the source")
        for collection in platform_names:
            if collection not in PLATFORM_COLLECTIONS:
                entry = self.report.add(
                    CollectionReport(legacy_source(PLATFORM_DATABASE, collection), "-")
                )
                await self.engine.skip_collection(
                    self.crm_db, collection, entry, "no mapping to the product for this collection"
                )

        await self._ensure_tenant()
        tenant_names = await self.tenant_db.collection_names()
        tenant_jobs = []
        for collection, target in TENANT_COLLECTIONS.items():
            entry = self.report.add(
                CollectionReport(legacy_source(TENANT_DATABASE, collection), target)
            )
            mapper = self._tenant_mapper(collection, entry)
            tenant_jobs.append((collection, entry, mapper))
            if collection in tenant_names:
                if collection == "customers" and self.tenant is not None:
                    await self._prepare_merges(entry)
                await self.engine.run_collection(self.tenant_db, collection, entry, mapper)
                if collection == "customers" and self.merges is not None:
                    entry.merges.extend(self.merges.merges())
            else:
                entry.notes.append("collection not present in the source")
        for collection in tenant_names:
            if collection in TENANT_COLLECTIONS:
                continue
            entry = self.report.add(
                CollectionReport(legacy_source(TENANT_DATABASE, collection), "-")
            )
            reason = NOT_CARRIED.get(collection, "no mapping to the product for this collection")
            await self.engine.skip_collection(self.tenant_db, collection, entry, reason)

        if self.tenant is not None:
            tenant_db = self.runtime.tenant_database(self.tenant)
            record = await self.runtime.store.tenant_by_slug(self.tenant.slug)
            assert record is not None
            counters, warnings = await update_counters(
                tenant_db, record.settings.confirmation_prefix, record.limits
            )
            self.report.counters[self.tenant.slug] = counters
            self.report.notes.extend(f"{self.tenant.slug}: {w}" for w in warnings)
        if self.options.validate:
            self.validating = True
            extra = {}
            for collection, entry, mapper in platform_jobs:
                if collection in platform_names:
                    await self.engine.validate_collection(self.crm_db, collection, entry, mapper)
            for collection, entry, mapper in tenant_jobs:
                if collection == "customers":
                    extra = {id(entry): money_problems("totalRevenue", "total_revenue_minor")}
                elif collection == "products":
                    extra = {id(entry): money_problems("unitPrice", "unit_price_minor")}
                else:
                    extra = {}
                if collection in tenant_names:
                    await self.engine.validate_collection(
                        self.tenant_db, collection, entry, mapper, extra_checks=extra
                    )
        self.report.finished_at = utcnow()
        return self.report

    async def _ensure_tenant(self) -> None:
        options = self.options
        spec = TenantSpec(
            slug=options.tenant_slug,
            name=options.tenant_name,
            legacy_id=TENANT_DATABASE,
            owner_email=options.owner_email,
            owner_name=options.owner_name,
            plan_key=options.plan_key,
            timezone=options.timezone,
            language=options.language,
            currency=options.currency,
            confirmation_prefix=options.confirmation_prefix,
            domains=list(options.domains),
            email_sender=options.email_sender,
            cluster=options.cluster,
        )
        outcome, tenant = await ensure_tenant(
            self.runtime,
            spec,
            owner_password=options.owner_password,
            adopt_existing=options.adopt_existing,
            activate=options.activate,
            actor=options.actor,
        )
        self.report.tenants.append(outcome)
        self.tenant = tenant
        if tenant is None:
            self.tenant_problem = f"tenant {spec.slug!r} {outcome.action}: {outcome.message}"

    def _platform_mapper(self, collection: str) -> Any:
        db = self.runtime.store.db
        target, natural = PLATFORM_COLLECTIONS[collection]

        def packages(doc: dict[str, Any], warn: Any) -> list[Mapped]:
            key, to_set, on_insert = plan_from_package(doc)
            check = {k: v for k, v in to_set.items() if k != "legacy"}
            return [
                Mapped(
                    db=db,
                    target="platform",
                    collection=PLANS,
                    key={"key": key},
                    update={"$set": to_set, "$setOnInsert": on_insert},
                    check=check,
                    marker=to_set["legacy_source"],
                )
            ]

        def reference(doc: dict[str, Any], warn: Any) -> list[Mapped]:
            out = reference_from_legacy(doc, collection)
            key = {name: out.get(name) for name in natural}
            if any(v is None or v == "" for v in key.values()):
                warn(f"no {'/'.join(natural)}; matched by _id instead")
                key = {"_id": out["_id"]}
            return [
                Mapped(
                    db=db,
                    target="platform",
                    collection=target,
                    key=key,
                    update={"$setOnInsert": out},
                    check={k: v for k, v in out.items() if k != "_id"},
                    marker=out["legacy_source"],
                )
            ]

        return per_doc(packages if collection == "packages" else reference)

    async def _prepare_merges(self, entry: CollectionReport) -> None:
        """Plan and write the customers whose emails differ only by case (before the stream)."""
        assert self.tenant is not None
        self.merges = CustomerMerges(
            db=self.runtime.tenant_database(self.tenant),
            target=self.tenant.slug,
            build=customer_from_legacy,
            marker=legacy_source(TENANT_DATABASE, "customers"),
            check_fields=CUSTOMER_CHECK_FIELDS,
        )
        await self.merges.prepare(self.tenant_db, "customers")
        if self.merges.groups:
            entry.notes.append(
                f"{len(self.merges.groups)} email address(es) shared by several customers "
                "(letter case aside) or held by an existing customer: merged, see merges"
            )

    def _customers_mapper(self, inner: BatchMapper, entry: CollectionReport) -> BatchMapper:
        """Customers: records of an email group are counted by the group's fate (its write
        ran in :meth:`_prepare_merges`); the validation checks each group's target once."""

        async def run(docs: list[dict[str, Any]]) -> list[MapResult]:
            results = await inner(docs)
            merges = self.merges
            if merges is None:
                return results
            for result in results:
                group = merges.group_of(result.source_id)
                if group is None or result.skip is not None:
                    continue
                result.writes = []
                if self.validating:
                    if group.kept == result.source_id and group.write is not None:
                        result.writes = [group.write]
                    continue
                outcome, reason = group.fate(result.source_id)
                if reason is not None:
                    result.skip = reason
                elif outcome is not None:
                    result.tallies = [(entry, merges.target, outcome)]
            return results

        return run

    def _tenant_mapper(self, collection: str, entry: CollectionReport) -> BatchMapper:
        builders: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
            "customers": customer_from_legacy,
            "products": lambda doc, warn: product_from_legacy(doc),
            "leads": lambda doc, warn: lead_from_legacy(doc),
            "calendar_events": lambda doc, warn: event_from_legacy(doc),
        }
        build = builders[collection]
        target = TENANT_COLLECTIONS[collection]
        checks: dict[str, tuple[str, ...] | None] = {"customers": CUSTOMER_CHECK_FIELDS}

        def fn(doc: dict[str, Any], warn: Any) -> list[Mapped]:
            if self.tenant is None:
                raise Skip(self.tenant_problem or "the tenant could not be provisioned")
            tenant_db = self.runtime.tenant_database(self.tenant)
            out = build(doc, warn)
            if self.merges is not None and self.merges.group_of(source_id(doc)) is not None:
                return []  # counted (and validated) by its email group
            return [insert_once(tenant_db, self.tenant.slug, target, out, checks.get(collection))]

        if collection == "customers":
            return self._customers_mapper(per_doc(fn), entry)
        return per_doc(fn)


async def import_legacy_crm(
    runtime: Runtime,
    sources: Mapping[str, Source],
    options: CrmOptions | None = None,
) -> ImportReport:
    """Import ``legacy-crm``: ``crm_db`` -> platform, ``vitingo_crm`` -> tenant quattro-stand.

    Args:
        runtime: the target runtime, started (indexes and default plans exist).
        sources: ``{"crm_db": Source, "vitingo_crm": Source}`` (directories under
            ``data/legacy-crm`` or databases of a live server).
        options: see :class:`CrmOptions`.

    Returns:
        The report (tenant outcome with a generated owner password, once; one
        entry per collection; counters; validation). Safe to run again.

    Raises:
        KeyError: a source is missing.
        SourceError: the source is refused before anything is written (a missing
            file, an unreadable line, a field of the wrong type, no records at all;
            see :func:`scripts.legacy.preflight.check_sources`).
        Exception: errors of the source or target propagate (checkpoints keep progress).
    """
    require_sources(sources, DATABASES)
    await check_sources(SOURCE_NAME, sources, EXPECTED)
    return await CrmImport(runtime, sources, options or CrmOptions()).run()


__all__ = [
    "DATABASES",
    "SOURCE_NAME",
    "CrmImport",
    "CrmOptions",
    "import_legacy_crm",
]
