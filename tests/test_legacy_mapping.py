"""The legacy importers' mapping layer (scripts.legacy.*_mapping) and module layout.

- Documents of collections that have a typed model in ``domain.documents`` are
  built through it: a mapped document is exactly the model's own serialisation.
- The mapping modules are pure: no async code, no database, source or engine imports.
- No scripts.legacy module is over 500 lines unless its first line says why.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import json_util
from pydantic import BaseModel

from domain.documents import (
    CustomerDocument,
    LocationDocument,
    ReferralCodeDocument,
    ServiceDocument,
)
from scripts.legacy import clinics_mapping, crm_mapping
from tests.test_architecture import imports_of

ROOT = Path(__file__).resolve().parents[1]
LEGACY = ROOT / "scripts" / "legacy"
FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
MAX_LINES = 500
REASON_MARKER = "# Over 500 lines:"
# What a pure mapping module must not import: databases, sources, the engine, the runtime.
NOT_IN_MAPPING = (
    "asyncio",
    "pymongo",
    "motor",
    "domain.slots",
    "tenancy.runtime",
    "scripts.legacy.engine",
    "scripts.legacy.sources",
    "scripts.legacy.checkpoints",
    "scripts.legacy.validation",
)


def first(database: str, collection: str, *, system: str = "legacy-clinics") -> dict[str, Any]:
    """The first document of a fixture collection (relaxed Extended JSON, as the importer reads)."""
    path = FIXTURES / system / database / f"{collection}.jsonl"
    options = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)
    line = next(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return json_util.loads(line, json_options=options)


MAPPED: dict[str, tuple[Callable[[], dict[str, Any]], type[BaseModel]]] = {
    "services": (
        lambda: clinics_mapping.service_from_test(
            first("omega_shared", "tests"), currency="TRY", duration_minutes=30, now=NOW
        ),
        ServiceDocument,
    ),
    "locations": (
        lambda: clinics_mapping.location_from_legacy(first("omega_shared", "locations")),
        LocationDocument,
    ),
    "referral_codes": (
        lambda: clinics_mapping.referral_code_from_legacy(first("omega_shared", "referral_codes")),
        ReferralCodeDocument,
    ),
    "referral_codes (healthcare provider)": (
        lambda: _provider_referral(first("omega_shared", "healthcare_providers")),
        ReferralCodeDocument,
    ),
    "customers (crm)": (
        lambda: crm_mapping.customer_from_legacy(
            first("vitingo_crm", "customers", system="legacy-crm")
        ),
        CustomerDocument,
    ),
}


def _provider_referral(doc: dict[str, Any]) -> dict[str, Any]:
    _provider, referral = clinics_mapping.provider_from_legacy(doc)
    assert referral is not None, "the fixture provider has a referral code"
    return referral


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_documents_with_a_model_are_built_through_it(name: str) -> None:
    build, model = MAPPED[name]
    mapped = build()
    again = model.model_validate(mapped).to_mongo()  # type: ignore[attr-defined]
    # Same fields, values and order as the model writes them (a raw dict differs in order).
    assert list(mapped.items()) == list(again.items())


def test_patient_customers_are_built_through_the_customer_model() -> None:
    booking = first("omega_shared", "bookings")
    customer = clinics_mapping.patient_customer(booking, "a@example.com", NOW, NOW)
    again = CustomerDocument.model_validate(customer).to_mongo(exclude={"created_at", "updated_at"})
    assert list(customer.items()) == list(again.items())


@pytest.mark.parametrize("module", ["clinics_mapping", "crm_mapping"])
def test_mapping_modules_are_pure(module: str) -> None:
    path = LEGACY / f"{module}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    asynchronous = [node.name for node in ast.walk(tree) if isinstance(node, ast.AsyncFunctionDef)]
    assert asynchronous == [], f"{module} has async code: {asynchronous}"
    forbidden = [
        str(found)
        for found in imports_of(path)
        if any(
            found.module == name or found.module.startswith(name + ".") for name in NOT_IN_MAPPING
        )
    ]
    assert forbidden == [], f"{module} imports I/O: {forbidden}"


def test_legacy_modules_are_small_or_say_why() -> None:
    too_long = []
    for path in sorted(LEGACY.glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_LINES and not lines[0].startswith(REASON_MARKER):
            too_long.append(f"{path.name}: {len(lines)} lines")
    assert too_long == [], f"split these or give a reason ({REASON_MARKER} ...): {too_long}"
