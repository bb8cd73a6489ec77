"""Tenants of the ``legacy-clinics`` import: provisioning, routing, references.

Each record of ``omega_shared.tenants`` becomes a product tenant
(:func:`scripts.legacy.tenants.ensure_tenant`); every other legacy document is
routed to its tenant by ``tenant_id`` (:meth:`ClinicTenants.route`), and one
that names no tenant is skipped and listed as an orphan (:func:`orphans_of`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from domain.collections import LOCATIONS, REFERRAL_CODES, SERVICES
from scripts.legacy.clinics_mapping import tenant_spec
from scripts.legacy.clinics_spec import HEALTHCARE_PROVIDERS, ClinicsOptions
from scripts.legacy.convert import confirmation_parts, text_or_none
from scripts.legacy.report import CollectionReport, ImportReport
from scripts.legacy.sources import Source
from scripts.legacy.tenants import TenantSpec, ensure_tenant
from scripts.legacy.writes import Skip, source_id
from tenancy.models import Tenant
from tenancy.mongo_types import Database
from tenancy.runtime import Runtime

ORPHAN_REASON = "tenant_id {tenant_id!r} names no tenant in omega_shared.tenants"
NO_TENANT_REASON = "document has no tenant_id"
_ORPHAN_RE = re.compile(r"^tenant_id (?P<tenant>.+) names no tenant in ")


def orphans_of(report: ImportReport) -> dict[str, list[str]]:
    """Documents whose ``tenant_id`` names no tenant, from the skipped records of every
    collection: ``{legacy tenant_id: ["<collection>:<id>", ...]}`` (``"<none>"`` without one)."""
    found: dict[str, set[str]] = defaultdict(set)
    for entry in report.collections:
        collection = entry.source.split(".", 1)[-1]
        for issue in entry.skipped:
            match = _ORPHAN_RE.match(issue.reason)
            if match:
                found[match.group("tenant").strip("'\"")].add(f"{collection}:{issue.id}")
            elif issue.reason == NO_TENANT_REASON:
                found["<none>"].add(f"{collection}:{issue.id}")
    return {tenant: sorted(ids) for tenant, ids in sorted(found.items())}


@dataclass
class ClinicTenant:
    """A legacy tenant that is imported, with the references its bookings need."""

    legacy_id: str
    slug: str
    tenant: Tenant
    db: Database
    services: dict[Any, dict[str, Any]] = field(default_factory=dict)
    locations: set[Any] = field(default_factory=set)
    referrals: dict[Any, tuple[str, int]] = field(default_factory=dict)

    @property
    def timezone(self) -> str:
        return self.tenant.settings.timezone

    @property
    def currency(self) -> str:
        return self.tenant.settings.currency


@dataclass
class ClinicTenants:
    """The tenants of one run: those imported (by legacy ``tenant_id``) and those
    that could not be (with why); iterating yields the imported ones in import order."""

    imported: dict[str, ClinicTenant] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[ClinicTenant]:
        return iter(self.imported.values())

    def __len__(self) -> int:
        return len(self.imported)

    def route(self, doc: dict[str, Any], collection: str) -> ClinicTenant:
        """The tenant of a legacy document.

        Raises:
            Skip: no ``tenant_id``, a tenant that was not imported, or one that
            names no tenant (recorded as an orphan).
        """
        legacy_tenant = doc.get("tenant_id")
        tenant = self.imported.get(legacy_tenant) if isinstance(legacy_tenant, str) else None
        if tenant is not None:
            return tenant
        if legacy_tenant in self.unusable:
            raise Skip(f"tenant {legacy_tenant!r} was not imported: {self.unusable[legacy_tenant]}")
        if legacy_tenant in (None, ""):
            raise Skip(NO_TENANT_REASON)
        raise Skip(ORPHAN_REASON.format(tenant_id=legacy_tenant))

    async def provision(
        self,
        runtime: Runtime,
        source: Source,
        options: ClinicsOptions,
        report: ImportReport,
        entry: CollectionReport,
        *,
        with_bookings: bool,
    ) -> None:
        """Make (or find) the product tenant of every ``tenants`` record.

        Counts the records in ``entry`` (one per tenant: ``written`` when
        provisioned, else ``already_present``; duplicates and unusable tenants
        skipped) and appends each outcome to ``report.tenants``. A new tenant's
        confirmation prefix is taken from its first booking when ``with_bookings``.
        """
        entry.source_count = await source.count("tenants")
        records: list[tuple[dict[str, Any], TenantSpec]] = []
        seen: set[str] = set()
        async for doc in source.iterate("tenants", on_error=entry.skip):
            entry.read += 1
            legacy_tenant = text_or_none(doc.get("tenant_id"))
            if legacy_tenant is None:
                entry.skip(source_id(doc), "tenant record has no tenant_id")
            elif legacy_tenant in seen:
                entry.skip(source_id(doc), f"second tenant record for {legacy_tenant!r}")
            else:
                seen.add(legacy_tenant)
                records.append((doc, tenant_spec(doc, legacy_tenant, options)))
        if not records:
            entry.notes.append("no tenants: every other document will be reported as an orphan")
        missing = {
            spec.legacy_id
            for _, spec in records
            if await runtime.store.tenant_by_slug(spec.slug) is None
        }
        prefixes = await confirmation_prefixes(source, missing) if with_bookings else {}
        for doc, spec in records:
            spec.confirmation_prefix = prefixes.get(spec.legacy_id)
            outcome, tenant = await ensure_tenant(
                runtime,
                spec,
                owner_password=options.owner_password,
                adopt_existing=options.adopt_existing,
                activate=options.activate,
                actor=options.actor,
            )
            report.tenants.append(outcome)
            if tenant is None:
                message = outcome.message or outcome.action
                entry.skip(source_id(doc), f"tenant {spec.slug!r} {outcome.action}: {message}")
                self.unusable[spec.legacy_id] = message
                continue
            created = outcome.action == "provisioned"
            entry.tally(spec.slug, "written" if created else "already_present")
            self.imported[spec.legacy_id] = ClinicTenant(
                legacy_id=spec.legacy_id,
                slug=spec.slug,
                tenant=tenant,
                db=runtime.tenant_database(tenant),
            )

    async def load_references(self) -> None:
        """Services, locations and referral codes of each tenant, read from its database
        (so they are complete after a resumed run too)."""
        for tenant in self:
            db = tenant.db
            tenant.services = {
                d["_id"]: d
                async for d in db[SERVICES].find({}, {"duration_minutes": 1, "currency": 1})
            }
            tenant.locations = {d["_id"] async for d in db[LOCATIONS].find({}, {"_id": 1})}
            referrals = {
                d["_id"]: (d["code"], int(d.get("discount_basis_points") or 0))
                async for d in db[REFERRAL_CODES].find({}, {"code": 1, "discount_basis_points": 1})
            }
            async for d in db[HEALTHCARE_PROVIDERS].find(
                {"referral_code": {"$type": "string"}},
                {"referral_code": 1, "discount_basis_points": 1},
            ):
                referrals.setdefault(
                    d["_id"], (d["referral_code"], int(d.get("discount_basis_points") or 0))
                )
            tenant.referrals = referrals


async def confirmation_prefixes(source: Source, wanted: set[str]) -> dict[str, str]:
    """Each wanted legacy tenant's confirmation-number prefix (``"WE"``), from its first
    booking in ``source``: ``{legacy tenant_id: prefix}``; tenants without bookings are absent."""
    found: dict[str, str] = {}
    if not wanted:
        return found
    iterator = source.iterate("bookings", on_error=lambda rid, msg: None)
    try:
        async for doc in iterator:
            legacy_tenant = doc.get("tenant_id")
            if legacy_tenant in wanted and legacy_tenant not in found:
                parts = confirmation_parts(doc.get("confirmation_number"))
                if parts:
                    found[legacy_tenant] = parts[0]
                    if len(found) == len(wanted):
                        break
    finally:
        await iterator.aclose()
    return found


__all__ = [
    "NO_TENANT_REASON",
    "ORPHAN_REASON",
    "ClinicTenant",
    "ClinicTenants",
    "confirmation_prefixes",
    "orphans_of",
]
